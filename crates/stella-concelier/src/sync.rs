//! Syncs and imports: fetch each feed's documents, parse them, and commit every observation
//! of the run in one store transaction, which yields one snapshot and one delta.

use crate::fetch::{Base, FetchError, Fetched, Fetcher, read_file};
use crate::parse::{self, Limits, ParsedRecord};
use serde::Serialize;
use std::path::{Path, PathBuf};
use stella_model::{Digest, FeedSource, canonical_json};
use stella_store::{AdvisoryStore, AdvisorySync, Delta, ObservationInput, ScopeBatch, StoreError};

/// Public locations of each feed. A mirror replaces the base and keeps the relative paths.
pub fn default_base(source: FeedSource) -> &'static str {
    match source {
        FeedSource::Osv => "https://osv-vulnerabilities.storage.googleapis.com",
        FeedSource::Debian => "https://security-tracker.debian.org",
        FeedSource::Alpine => "https://secdb.alpinelinux.org",
        FeedSource::Nvd => "https://services.nvd.nist.gov",
        FeedSource::Cve5 => "https://github.com/CVEProject/cvelistV5",
        FeedSource::Csaf => "https://security.access.redhat.com/data/csaf/v2/advisories",
        FeedSource::Kev => "https://www.cisa.gov",
        FeedSource::Epss => "https://epss.cyentia.com",
    }
}

/// OSV ecosystems synced by default: the language ecosystems Stella matches with OSV ranges.
/// (Distributions are matched with their own trackers.)
pub const DEFAULT_OSV_ECOSYSTEMS: [&str; 8] = [
    "crates.io",
    "Go",
    "Maven",
    "npm",
    "NuGet",
    "Packagist",
    "PyPI",
    "RubyGems",
];

/// Alpine branches synced by default (secdb publishes `v3.N/main.json` and `community.json`).
pub const DEFAULT_ALPINE_BRANCHES: [&str; 14] = [
    "v3.10", "v3.11", "v3.12", "v3.13", "v3.14", "v3.15", "v3.16", "v3.17", "v3.18", "v3.19",
    "v3.20", "v3.21", "v3.22", "edge",
];

const DEBIAN_PATH: &str = "tracker/data/json";
const KEV_PATH: &str = "sites/default/files/feeds/known_exploited_vulnerabilities.json";
const EPSS_PATH: &str = "epss_scores-current.csv.gz";
const NVD_PATH: &str = "rest/json/cves/2.0";
const CVE5_PATH: &str = "archive/refs/heads/main.zip";
const NVD_PAGE: u64 = 2000;

/// What a sync reads.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub sources: Vec<FeedSource>,
    /// Replaces every source's public base (a folder or URL with the upstream layouts).
    pub mirror: Option<Base>,
    pub osv_ecosystems: Vec<String>,
    pub alpine_branches: Vec<String>,
    pub nvd_api_key: Option<String>,
    pub limits: Limits,
    /// The time recorded as fetch time and snapshot time (RFC 3339); injected for
    /// reproducible tests.
    pub now: String,
}

impl SyncOptions {
    pub fn new(now: String) -> SyncOptions {
        SyncOptions {
            sources: FeedSource::ALL.to_vec(),
            mirror: None,
            osv_ecosystems: DEFAULT_OSV_ECOSYSTEMS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            alpine_branches: DEFAULT_ALPINE_BRANCHES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            nvd_api_key: None,
            limits: Limits::default(),
            now,
        }
    }
}

/// What happened to one source in a sync.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    pub source: String,
    pub documents: usize,
    pub records: usize,
    pub new: usize,
    pub changed: usize,
    pub withdrawn: usize,
    /// Documents and records that could not be used, each naming where.
    pub errors: Vec<String>,
}

/// The outcome of a sync or import.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub snapshot: Option<String>,
    pub previous: Option<String>,
    pub rows_written: u64,
    pub sources: Vec<SourceReport>,
    #[serde(skip)]
    pub delta: Delta,
}

impl SyncReport {
    pub fn error_count(&self) -> usize {
        self.sources.iter().map(|s| s.errors.len()).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
}

/// Receives progress messages (one line each) during a sync.
pub trait SyncProgress {
    fn message(&self, _msg: &str) {}
}

/// Discards progress.
pub struct NoProgress;
impl SyncProgress for NoProgress {}

/// Fetches every selected source and commits the result as one snapshot.
///
/// A document that cannot be fetched or parsed is reported and skipped; its scope is then
/// treated as incomplete, so nothing it held is withdrawn. Store errors abort the whole sync,
/// and the transaction rolls back: the previous snapshot stays as it was.
pub fn sync(
    store: &dyn AdvisoryStore,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
) -> Result<SyncReport, SyncError> {
    let fetcher = Fetcher::new(&opts.limits)?;
    let mut txn = store.begin_sync()?;
    let mut reports = Vec::new();
    for &source in &opts.sources {
        let base = opts
            .mirror
            .clone()
            .unwrap_or_else(|| Base::parse(default_base(source)));
        let mut report = SourceReport {
            source: source.to_string(),
            ..Default::default()
        };
        for unit in plan(source, &base, opts) {
            progress.message(&format!("{source}: reading {}", base.locate(&unit.rel)));
            let mut scope = ScopeIngest::new(txn.as_mut(), source, &unit.scope, opts, &mut report);
            let fetched = match &unit.kind {
                UnitKind::Single => match fetcher.get(&base, &unit.rel).and_then(|d| match d {
                    None => match &unit.fallback {
                        Some(f) => fetcher.get(&base, f),
                        None => Ok(None),
                    },
                    found => Ok(found),
                }) {
                    Ok(Some(doc)) => scope.ingest(doc).map(|_| Ok(())),
                    Ok(None) if unit.optional => continue,
                    Ok(None) => Ok(Err(format!("{}: not found", base.locate(&unit.rel)))),
                    Err(e) => Ok(Err(e.to_string())),
                },
                UnitKind::NvdPages => {
                    fetch_nvd(&fetcher, &base, opts, progress, &mut |d| scope.ingest(d))
                }
                UnitKind::CsafIndex => {
                    fetch_csaf(&fetcher, &base, opts, progress, &mut |d| scope.ingest(d))
                }
            };
            // Store errors abort the sync (and roll it back); fetch errors are reported and
            // leave the scope incomplete, so nothing it held is withdrawn.
            if let Err(e) = fetched? {
                scope.fail(e);
            }
            scope.finish()?;
        }
        progress.message(&summary_line(&report));
        reports.push(report);
    }
    finish(txn, reports, &opts.now)
}

/// Loads a file or a folder of upstream documents with no network at all. Imports add and
/// change records; they never withdraw any (a folder need not hold a whole feed).
pub fn import(
    store: &dyn AdvisoryStore,
    source: FeedSource,
    path: &Path,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
) -> Result<SyncReport, SyncError> {
    let files = collect_files(path)?;
    let mut txn = store.begin_sync()?;
    let mut report = SourceReport {
        source: source.to_string(),
        ..Default::default()
    };
    progress.message(&format!(
        "{source}: importing {} document(s) from {}",
        files.len(),
        path.display()
    ));
    let scope_name = format!("import:{source}");
    let mut scope = ScopeIngest::new(txn.as_mut(), source, &scope_name, opts, &mut report);
    // Imports never withdraw: a folder need not hold a whole feed.
    scope.complete = false;
    for (n, file) in files.iter().enumerate() {
        match read_file(file, opts.limits.max_document_bytes) {
            Ok(Some(doc)) => scope.ingest(doc)?,
            Ok(None) => scope.fail(format!("{}: not found", file.display())),
            Err(e) => scope.fail(e.to_string()),
        }
        if (n + 1) % 5000 == 0 {
            progress.message(&format!("{source}: {} of {} documents", n + 1, files.len()));
        }
    }
    scope.finish()?;
    progress.message(&summary_line(&report));
    finish(txn, vec![report], &opts.now)
}

/// Applies one scope's documents as they arrive, one at a time, so that memory holds one
/// document however large the feed.
struct ScopeIngest<'a, 't> {
    txn: &'a mut (dyn AdvisorySync + 't),
    source: FeedSource,
    scope: &'a str,
    opts: &'a SyncOptions,
    report: &'a mut SourceReport,
    /// Read whole and without errors: records it no longer names are withdrawn.
    complete: bool,
    documents: usize,
}

impl<'a, 't> ScopeIngest<'a, 't> {
    fn new(
        txn: &'a mut (dyn AdvisorySync + 't),
        source: FeedSource,
        scope: &'a str,
        opts: &'a SyncOptions,
        report: &'a mut SourceReport,
    ) -> Self {
        ScopeIngest {
            txn,
            source,
            scope,
            opts,
            report,
            complete: true,
            documents: 0,
        }
    }

    fn fail(&mut self, error: String) {
        self.complete = false;
        self.report.errors.push(error);
    }

    /// Parses one document and applies its records.
    fn ingest(&mut self, doc: Fetched) -> Result<(), SyncError> {
        self.report.documents += 1;
        let raw_digest = Digest::sha256_of(&doc.bytes);
        let name = doc.location.clone();
        let outcome = match parse::parse_document(self.source, &name, &doc.bytes, &self.opts.limits)
        {
            Ok(o) => o,
            Err(e) => {
                self.fail(e.to_string());
                return Ok(());
            }
        };
        for e in outcome.errors {
            self.fail(format!("{}: {}", e.location, e.message));
        }
        let mut observations = Vec::with_capacity(outcome.records.len());
        for rec in &outcome.records {
            match observation(rec, &raw_digest) {
                Ok(o) => observations.push(o),
                Err(e) => self.fail(format!("{name}: {}: {e}", rec.upstream_id)),
            }
        }
        self.documents += 1;
        self.report.records += observations.len();
        let batch = ScopeBatch {
            source: self.source,
            scope: self.scope.to_string(),
            raw: vec![(doc.location, doc.bytes)],
            observations,
        };
        let delta = self.txn.apply(&batch, &self.opts.now)?;
        self.report.new += delta.new.len();
        self.report.changed += delta.changed.len();
        Ok(())
    }

    /// Withdraws what a complete scope no longer names.
    fn finish(self) -> Result<(), SyncError> {
        if self.complete && self.documents > 0 {
            let delta = self.txn.complete_scope(self.source, self.scope)?;
            self.report.withdrawn += delta.withdrawn.len();
        }
        Ok(())
    }
}

fn finish(
    txn: Box<dyn AdvisorySync + '_>,
    reports: Vec<SourceReport>,
    now: &str,
) -> Result<SyncReport, SyncError> {
    let committed = txn.commit(now)?;
    Ok(SyncReport {
        snapshot: committed.snapshot,
        previous: committed.previous,
        rows_written: committed.rows_written,
        sources: reports,
        delta: committed.delta,
    })
}

fn summary_line(r: &SourceReport) -> String {
    format!(
        "{}: {} document(s), {} record(s): {} new, {} changed, {} withdrawn, {} error(s)",
        r.source,
        r.documents,
        r.records,
        r.new,
        r.changed,
        r.withdrawn,
        r.errors.len()
    )
}

fn observation(rec: &ParsedRecord, raw: &Digest) -> Result<ObservationInput, serde_json::Error> {
    let document = canonical_json(&rec.document)?;
    Ok(ObservationInput {
        upstream_id: rec.upstream_id.clone(),
        content_hash: Digest::sha256_of(&document),
        document,
        normalized: serde_json::to_vec(&rec.normalized)?,
        raw_digest: Some(raw.clone()),
    })
}

enum UnitKind {
    Single,
    NvdPages,
    CsafIndex,
}

/// One scope of a feed and where its document is.
struct Unit {
    scope: String,
    rel: String,
    kind: UnitKind,
    /// Missing is normal (an Alpine branch without a community repository).
    optional: bool,
    /// Read when `rel` does not exist (Alpine's legacy `.yaml` beside the current `.json`).
    fallback: Option<String>,
}

fn single(scope: String, rel: String, optional: bool) -> Unit {
    Unit {
        scope,
        rel,
        kind: UnitKind::Single,
        optional,
        fallback: None,
    }
}

fn plan(source: FeedSource, base: &Base, opts: &SyncOptions) -> Vec<Unit> {
    match source {
        FeedSource::Osv => {
            let ecosystems = match base {
                // A folder mirror holds what it holds: every `<Ecosystem>/all.zip` in it.
                Base::Dir(d) => subdirs_with(d, &["all.zip"]),
                Base::Url(_) => opts.osv_ecosystems.clone(),
            };
            ecosystems
                .into_iter()
                .map(|e| single(format!("osv:{e}"), format!("{e}/all.zip"), false))
                .collect()
        }
        FeedSource::Debian => vec![single("debian".into(), DEBIAN_PATH.into(), false)],
        FeedSource::Alpine => {
            let mut units = Vec::new();
            let branches = match base {
                Base::Dir(d) => subdirs_with(
                    d,
                    &["main.json", "main.yaml", "community.json", "community.yaml"],
                ),
                Base::Url(_) => opts.alpine_branches.clone(),
            };
            for b in branches {
                for repo in ["main", "community"] {
                    let mut unit = single(
                        format!("alpine:{b}/{repo}"),
                        format!("{b}/{repo}.json"),
                        true,
                    );
                    unit.fallback = Some(format!("{b}/{repo}.yaml"));
                    units.push(unit);
                }
            }
            units
        }
        FeedSource::Nvd => vec![Unit {
            scope: "nvd".into(),
            rel: NVD_PATH.into(),
            kind: UnitKind::NvdPages,
            optional: false,
            fallback: None,
        }],
        FeedSource::Cve5 => vec![single("cve5".into(), CVE5_PATH.into(), false)],
        FeedSource::Csaf => vec![Unit {
            scope: "csaf".into(),
            rel: "index.txt".into(),
            kind: UnitKind::CsafIndex,
            optional: false,
            fallback: None,
        }],
        FeedSource::Kev => vec![single("kev".into(), KEV_PATH.into(), false)],
        FeedSource::Epss => vec![single("epss".into(), EPSS_PATH.into(), false)],
    }
}

/// Names of the subfolders of `dir` that hold one of `files`, sorted.
fn subdirs_with(dir: &Path, files: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| files.iter().any(|f| e.path().join(f).is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

/// What a fetcher hands each document to: the scope's ingest. Its error (a store failure)
/// stops the sync; a fetch failure is the inner `Err(String)`.
type OnDocument<'f> = dyn FnMut(Fetched) -> Result<(), SyncError> + 'f;
type Fetching = Result<Result<(), String>, SyncError>;

/// NVD CVE API 2.0 pages: `startIndex` steps by the page size until `totalResults`. A folder
/// mirror holds the pages as files under `rest/json/cves/2.0/`.
fn fetch_nvd(
    fetcher: &Fetcher,
    base: &Base,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    on_doc: &mut OnDocument<'_>,
) -> Fetching {
    match base {
        Base::Dir(d) => {
            let files = match collect_files(&d.join(NVD_PATH)) {
                Ok(f) => f,
                Err(e) => return Ok(Err(e.to_string())),
            };
            for f in files {
                match read_file(&f, opts.limits.max_document_bytes) {
                    Ok(Some(doc)) => on_doc(doc)?,
                    Ok(None) => {}
                    Err(e) => return Ok(Err(e.to_string())),
                }
            }
            Ok(Ok(()))
        }
        Base::Url(url) => {
            let headers: Vec<(&str, String)> = opts
                .nvd_api_key
                .iter()
                .map(|k| ("apiKey", k.clone()))
                .collect();
            let mut start = 0u64;
            loop {
                let loc = format!("{url}/{NVD_PATH}?startIndex={start}&resultsPerPage={NVD_PAGE}");
                let doc = match fetcher.get_url(&loc, &headers) {
                    Ok(Some(doc)) => doc,
                    Ok(None) => return Ok(Err(format!("{loc}: not found"))),
                    Err(e) => return Ok(Err(e.to_string())),
                };
                // Only the paging fields are read here; the parser reads the records.
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Paging {
                    total_results: u64,
                    #[serde(default)]
                    vulnerabilities: Vec<serde::de::IgnoredAny>,
                }
                let page: Paging = match serde_json::from_slice(&doc.bytes) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(format!("{loc}: not an NVD API response: {e}"))),
                };
                let got = page.vulnerabilities.len() as u64;
                on_doc(doc)?;
                start += got;
                progress.message(&format!("nvd: {start} of {} CVEs", page.total_results));
                if got == 0 || start >= page.total_results {
                    break;
                }
                // NVD asks clients without a key to keep to 5 requests in 30 seconds.
                if opts.nvd_api_key.is_none() && !url.contains("127.0.0.1") {
                    std::thread::sleep(std::time::Duration::from_secs(6));
                }
            }
            Ok(Ok(()))
        }
    }
}

/// A CSAF provider's directory: `index.txt` lists each advisory's path (CSAF 2.0 §7.1.15).
/// A folder without `index.txt` is read whole.
fn fetch_csaf(
    fetcher: &Fetcher,
    base: &Base,
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
    on_doc: &mut OnDocument<'_>,
) -> Fetching {
    let index = match fetcher.get(base, "index.txt") {
        Ok(i) => i,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let paths: Vec<String> = match (index, base) {
        (Some(idx), _) => String::from_utf8_lossy(&idx.bytes)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        (None, Base::Dir(d)) => match collect_files(d) {
            Ok(files) => files
                .into_iter()
                .filter_map(|p| {
                    p.strip_prefix(d)
                        .ok()
                        .map(|r| r.to_string_lossy().into_owned())
                })
                .collect(),
            Err(e) => return Ok(Err(e.to_string())),
        },
        (None, Base::Url(_)) => {
            return Ok(Err(format!("{}: not found", base.locate("index.txt"))));
        }
    };
    let _ = opts;
    for (n, p) in paths.iter().enumerate() {
        // index.txt is upstream data: refuse paths that would leave the provider directory.
        if p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains("://") {
            return Ok(Err(format!(
                "{}: line {}: path {p:?} leaves the provider directory",
                base.locate("index.txt"),
                n + 1
            )));
        }
        match fetcher.get(base, p) {
            Ok(Some(doc)) => on_doc(doc)?,
            Ok(None) => return Ok(Err(format!("{}: not found", base.locate(p)))),
            Err(e) => return Ok(Err(e.to_string())),
        }
        if (n + 1) % 500 == 0 {
            progress.message(&format!("csaf: {} of {} advisories", n + 1, paths.len()));
        }
    }
    Ok(Ok(()))
}

/// Every document under `path` (or `path` itself), sorted, skipping dot-files and files that
/// are not feed documents (README, LICENSE, SOURCE.md).
fn collect_files(path: &Path) -> Result<Vec<PathBuf>, SyncError> {
    let meta = std::fs::metadata(path).map_err(|e| SyncError::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| SyncError::Input {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // Symlinks are not followed: a folder import reads what is in the folder.
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && is_feed_document(&name) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_feed_document(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".json", ".yaml", ".yml", ".zip", ".csv", ".gz"]
        .iter()
        .any(|ext| lower.ends_with(ext))
        && !lower.ends_with("schema.json")
}
