//! `stella feeds sync|status|import`: keep the embedded advisory store up to date.

use crate::exit::{self, CliError};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use stella_concelier::{Base, SyncOptions, SyncProgress, SyncReport};
use stella_model::FeedSource;
use stella_store::{AdvisoryStore, DataDir, SqliteAdvisoryStore};

#[derive(Args)]
pub struct FeedsArgs {
    #[command(subcommand)]
    command: FeedsCommand,
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Fetch advisories from the feeds' public URLs (or a mirror) into the local store.
    Sync(SyncArgs),
    /// Show the current snapshot and what each source holds.
    Status(StatusArgs),
    /// Load a file or folder of upstream documents, with no network at all.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args)]
#[command(
    after_long_help = "Sources and where they are read from (a mirror keeps the same layout):
  osv      <base>/<Ecosystem>/all.zip           https://osv-vulnerabilities.storage.googleapis.com
  debian   <base>/tracker/data/json             https://security-tracker.debian.org
  alpine   <base>/<branch>/{main,community}.json https://secdb.alpinelinux.org
  nvd      <base>/rest/json/cves/2.0?startIndex=N (pages; NVD_API_KEY is sent when set)
  cve5     <base>/archive/refs/heads/main.zip   https://github.com/CVEProject/cvelistV5
  csaf     <base>/index.txt and the files it lists (a CSAF provider directory)
  kev      <base>/sites/default/files/feeds/known_exploited_vulnerabilities.json
  epss     <base>/epss_scores-current.csv.gz    https://epss.cyentia.com

A folder mirror holds what it holds: every <Ecosystem>/all.zip and every Alpine branch
folder in it is read. A sync commits everything it read in one transaction and prints the
new snapshot id; a sync of unchanged data writes nothing. A document that cannot be fetched
or parsed is reported and skipped (exit code 3), and nothing it held is withdrawn.

Examples:
  stella feeds sync
  stella feeds sync --source osv --source kev --mirror /srv/mirror
  stella feeds sync --source osv --osv-ecosystem PyPI --osv-ecosystem npm"
)]
struct SyncArgs {
    /// Sources to sync (repeatable; default: all).
    #[arg(long = "source", value_name = "SOURCE", value_parser = parse_source)]
    sources: Vec<FeedSource>,
    /// Read every source from this folder or HTTP base instead of its public URL.
    #[arg(long, value_name = "DIR|URL", env = "STELLA_FEEDS_MIRROR")]
    mirror: Option<String>,
    /// OSV ecosystems to fetch (repeatable; default: the language ecosystems).
    #[arg(long = "osv-ecosystem", value_name = "ECOSYSTEM")]
    osv_ecosystems: Vec<String>,
    /// Alpine secdb branches to fetch (repeatable; default: v3.10 to v3.22 and edge).
    #[arg(long = "alpine-branch", value_name = "BRANCH")]
    alpine_branches: Vec<String>,
    /// Largest upstream document to accept (K, M, G suffixes).
    #[arg(long, value_name = "SIZE", value_parser = crate::scan::parse_size)]
    max_document_size: Option<u64>,
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Print nothing but the result and errors.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
struct StatusArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
#[command(after_long_help = "Examples:
  stella feeds import osv PyPI/all.zip
  stella feeds import osv ./advisory-database/vulns
  stella feeds import debian tracker.json
  stella feeds import kev known_exploited_vulnerabilities.json")]
struct ImportArgs {
    /// The format of the documents: osv, debian, alpine, nvd, cve5, csaf, kev, epss.
    #[arg(value_parser = parse_source)]
    source: FeedSource,
    /// A file, or a folder read recursively (.json, .yaml, .zip, .csv, .gz files).
    path: PathBuf,
    /// Largest document to accept (K, M, G suffixes).
    #[arg(long, value_name = "SIZE", value_parser = crate::scan::parse_size)]
    max_document_size: Option<u64>,
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_source(s: &str) -> Result<FeedSource, String> {
    s.parse::<FeedSource>().map_err(|e| e.to_string())
}

/// Opens the embedded advisory store in the data directory.
pub fn open_store() -> Result<SqliteAdvisoryStore, CliError> {
    let data = DataDir::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    SqliteAdvisoryStore::open(data.root()).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))
}

/// The advisory store when one exists; `None` before the first sync, without creating
/// anything (a scan must not write into the data directory just to learn it is empty).
pub fn open_existing_store() -> Result<Option<SqliteAdvisoryStore>, CliError> {
    let data = DataDir::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    if !data.root().join("advisories.sqlite").is_file() {
        return Ok(None);
    }
    SqliteAdvisoryStore::open(data.root())
        .map(Some)
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))
}

/// Now as RFC 3339 UTC, whole seconds (`SOURCE_DATE_EPOCH` pins it, for reproducible stores).
pub fn now_rfc3339() -> String {
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

struct StderrProgress {
    quiet: bool,
}

impl SyncProgress for StderrProgress {
    fn message(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
}

pub fn run(args: FeedsArgs) -> Result<ExitCode, CliError> {
    match args.command {
        FeedsCommand::Sync(a) => run_sync(a),
        FeedsCommand::Status(a) => run_status(a),
        FeedsCommand::Import(a) => run_import(a),
    }
}

fn run_sync(args: SyncArgs) -> Result<ExitCode, CliError> {
    let store = open_store()?;
    let mut opts = SyncOptions::new(now_rfc3339());
    if !args.sources.is_empty() {
        let mut s = args.sources.clone();
        s.sort();
        s.dedup();
        opts.sources = s;
    }
    opts.mirror = args.mirror.as_deref().map(Base::parse);
    if let Some(Base::Dir(d)) = &opts.mirror
        && !d.is_dir()
    {
        return Err(CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!("mirror {}: not a folder", d.display()),
        ));
    }
    if !args.osv_ecosystems.is_empty() {
        opts.osv_ecosystems = args.osv_ecosystems.clone();
    }
    if !args.alpine_branches.is_empty() {
        opts.alpine_branches = args.alpine_branches.clone();
    }
    opts.nvd_api_key = std::env::var("NVD_API_KEY").ok().filter(|k| !k.is_empty());
    if let Some(max) = args.max_document_size {
        opts.limits.max_document_bytes = max;
    }
    let progress = StderrProgress { quiet: args.quiet };
    let report = stella_concelier::sync(&store, &opts, &progress)
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    print_report(&report, args.format)
}

fn run_import(args: ImportArgs) -> Result<ExitCode, CliError> {
    if !args.path.exists() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!("{}: no such file or folder", args.path.display()),
        ));
    }
    let store = open_store()?;
    let mut opts = SyncOptions::new(now_rfc3339());
    if let Some(max) = args.max_document_size {
        opts.limits.max_document_bytes = max;
    }
    let progress = StderrProgress { quiet: args.quiet };
    let report = stella_concelier::import(&store, args.source, &args.path, &opts, &progress)
        .map_err(|e| match e {
            stella_concelier::SyncError::Input { .. } => CliError::new(exit::BAD_INPUT, e),
            other => CliError::new(exit::OUTPUT_FAILED, other),
        })?;
    print_report(&report, args.format)
}

fn print_report(report: &SyncReport, format: OutputFormat) -> Result<ExitCode, CliError> {
    match format {
        OutputFormat::Json => {
            let s = serde_json::to_string_pretty(report)
                .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
            println!("{s}");
        }
        OutputFormat::Table => {
            for s in &report.sources {
                println!(
                    "{:<7} {:>6} document(s) {:>8} record(s) {:>7} new {:>7} changed {:>7} withdrawn {:>5} error(s)",
                    s.source,
                    s.documents,
                    s.records,
                    s.new,
                    s.changed,
                    s.withdrawn,
                    s.errors.len()
                );
            }
            match (&report.snapshot, &report.previous) {
                (Some(now), Some(prev)) if now == prev => {
                    println!("snapshot {now} (unchanged)")
                }
                (Some(now), _) => println!("snapshot {now}"),
                (None, _) => println!("no snapshot"),
            }
        }
    }
    let errors: Vec<&String> = report.sources.iter().flat_map(|s| &s.errors).collect();
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(ExitCode::from(if errors.is_empty() {
        exit::OK
    } else {
        exit::BAD_INPUT
    }))
}

fn run_status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let store = open_store()?;
    let fail = |e: stella_store::StoreError| CliError::new(exit::OUTPUT_FAILED, e);
    let snapshot = store.current_snapshot().map_err(fail)?;
    let sources = store.sources().map_err(fail)?;
    match args.format {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "store": store.path().display().to_string(),
                "snapshot": snapshot,
                "sources": sources,
            });
            let text = serde_json::to_string_pretty(&v)
                .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
            println!("{text}");
        }
        OutputFormat::Table => {
            println!("Store:    {}", store.path().display());
            match &snapshot {
                Some(s) => {
                    println!(
                        "Snapshot: {} ({} records, {})",
                        s.id, s.records, s.created_at
                    );
                    println!(
                        "Last delta: {} new, {} changed, {} withdrawn",
                        s.delta.new.len(),
                        s.delta.changed.len(),
                        s.delta.withdrawn.len()
                    );
                }
                None => {
                    println!("Snapshot: none (run `stella feeds sync` or `stella feeds import`)")
                }
            }
            println!();
            println!(
                "{:<8} {:>9}  {:<20}  SCOPES",
                "SOURCE", "RECORDS", "LAST CHANGED"
            );
            for s in &sources {
                println!(
                    "{:<8} {:>9}  {:<20}  {}",
                    s.source.as_str(),
                    s.records,
                    s.last_changed.as_deref().unwrap_or("-"),
                    s.scopes.join(" ")
                );
            }
        }
    }
    Ok(ExitCode::from(exit::OK))
}
