//! Matching one package: the index lookup, each record's verdict, the merge of a linkset's
//! verdicts into one finding.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use stella_model::{
    Comparison, CpeMatch, Distro, FeedSource, Finding, FindingPackage, FixState, Inventory,
    MatchEvidence, MatchedRecord, Package, PackageKind, ScanFindings, SeverityKind,
    SeverityStatement,
};
use stella_version::{Ecosystem, compare};

use crate::MatchOptions;
use crate::cpe::{Component, Cpe23};
use crate::distro::{ReleaseFilter, eval_state, os_target};
use crate::family::Family;
use crate::index::AdvisoryIndex;
use crate::osv::{Hit, Verdict, comparison, eval_affected};
use crate::severity::{Candidate, Rated, choose, rate, rating_cmp};

/// At most this many reference URLs per finding.
const MAX_REFERENCES: usize = 20;
/// A package's files are listed in a finding only when it owns at most this many.
const MAX_FILES: usize = 20;

/// Where to look a package up.
struct Lookup {
    family: Family,
    key: String,
    /// The version compared with the advisories.
    installed: String,
    release: ReleaseFilter,
    /// The source (Debian) or origin (Alpine) name, when it was used and differs.
    source_name: Option<String>,
}

fn lookup_for(p: &Package, distro: Option<&Distro>) -> Option<Lookup> {
    if let Some(family) = Family::of_language(p.kind) {
        let mut installed = p.version.trim().to_string();
        if family == Family::Go
            && matches!(p.name.as_str(), "stdlib" | "toolchain")
            && let Some(v) = installed.strip_prefix("go")
        {
            installed = v.to_string();
        }
        return Some(Lookup {
            family,
            key: family.normalize_name(&p.name).into_owned(),
            installed,
            release: ReleaseFilter::Any,
            source_name: None,
        });
    }
    let (family, release) = os_target(p.kind, distro?)?;
    let source = p
        .source_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (name, installed) = match p.kind {
        // Tracker and DSA versions are source versions; a binNMU (`+b1`) or a binary with its
        // own version (gcc-defaults) would otherwise compare wrongly.
        PackageKind::Deb => (
            source.unwrap_or(&p.name),
            p.source_version
                .as_deref()
                .filter(|v| source.is_some() && !v.trim().is_empty())
                .unwrap_or(&p.version)
                .trim()
                .to_string(),
        ),
        PackageKind::Apk => (source.unwrap_or(&p.name), p.version.trim().to_string()),
        // rpm advisories name binary packages, with the epoch in the version.
        _ => (
            p.name.as_str(),
            match p.epoch {
                Some(e) if !p.version.contains(':') => format!("{e}:{}", p.version.trim()),
                _ => p.version.trim().to_string(),
            },
        ),
    };
    Some(Lookup {
        family,
        key: family.normalize_name(name).into_owned(),
        installed,
        release,
        source_name: (name != p.name).then(|| name.to_string()),
    })
}

/// One record's verdict on the package.
struct RecordVerdict {
    record: usize,
    /// The affected entry, or `None` for a CPE match.
    affected: Option<usize>,
    ecosystem: String,
    package: String,
    verdict: Verdict,
    /// From the distribution's own feed (tracker state, secdb) for the matched release.
    distro_owned: bool,
    cpe: bool,
}

/// The method name of a distribution feed, which replaces `osv-range` for its records.
fn distro_method(source: FeedSource) -> Option<&'static str> {
    match source {
        FeedSource::Debian => Some("debian-tracker"),
        FeedSource::Alpine => Some("alpine-secdb"),
        _ => None,
    }
}

/// Matches one package (see the crate documentation for the rules).
pub fn match_package(
    index: &AdvisoryIndex,
    package: &Package,
    distro: Option<&Distro>,
    opts: &MatchOptions,
) -> Vec<Finding> {
    let mut by_linkset: BTreeMap<usize, Vec<RecordVerdict>> = BTreeMap::new();
    let lookup = lookup_for(package, distro);
    if let Some(lk) = &lookup
        && let Some(entries) = index.packages.get(&(lk.family, lk.key.clone()))
    {
        for e in entries {
            if !lk.release.accepts(e.release.as_deref()) {
                continue;
            }
            let rec = &index.records[e.record];
            let aff = &rec.advisory.affected[e.affected];
            let os_family = e.family.is_distro();
            let owned_method = distro_method(rec.source).filter(|_| os_family);
            let distro_owned = os_family && (aff.distro_state.is_some() || owned_method.is_some());
            let verdict = match &aff.distro_state {
                Some(state) if os_family => eval_state(
                    state,
                    e.family.ordering(),
                    &lk.installed,
                    owned_method.unwrap_or("distro-tracker"),
                ),
                _ => match eval_affected(aff, &e.listed, e.family, &lk.installed) {
                    Verdict::Affected(mut hit) => {
                        if let Some(m) = owned_method {
                            hit.method = m;
                        }
                        Verdict::Affected(hit)
                    }
                    v => v,
                },
            };
            by_linkset
                .entry(index.linkset_of[e.record])
                .or_default()
                .push(RecordVerdict {
                    record: e.record,
                    affected: Some(e.affected),
                    ecosystem: aff.ecosystem.clone(),
                    package: e.name.clone(),
                    verdict,
                    distro_owned,
                    cpe: false,
                });
        }
    }

    if opts.cpe && !package.kind.is_os() {
        let order = Family::of_language(package.kind).map(Family::ordering);
        let installed = lookup.as_ref().map_or_else(
            || package.version.trim().to_string(),
            |l| l.installed.clone(),
        );
        for product in cpe_products(package) {
            let Some(refs) = index.cpes.get(&product) else {
                continue;
            };
            for c in refs {
                let rec = &index.records[c.record];
                let ls = index.linkset_of[c.record];
                // CPE is a fallback: a linkset that names the package in its own ecosystem
                // has decided already, whatever NVD's configurations say.
                if by_linkset
                    .get(&ls)
                    .is_some_and(|v| v.iter().any(|m| !m.cpe))
                {
                    continue;
                }
                let cm = &rec.advisory.cpe_matches[c.cpe_match];
                let Some(hit) = eval_cpe(cm, &c.cpe, package.kind, order, &installed) else {
                    continue;
                };
                by_linkset.entry(ls).or_default().push(RecordVerdict {
                    record: c.record,
                    affected: None,
                    ecosystem: "cpe".to_string(),
                    package: cm.criteria.trim().to_string(),
                    verdict: Verdict::Affected(hit),
                    distro_owned: false,
                    cpe: true,
                });
            }
        }
    }

    let source_name = lookup.as_ref().and_then(|l| l.source_name.clone());
    by_linkset
        .into_iter()
        .filter_map(|(ls, verdicts)| finding(index, package, source_name.as_deref(), ls, verdicts))
        .collect()
}

/// Merges one linkset's verdicts into a finding, or none.
fn finding(
    index: &AdvisoryIndex,
    package: &Package,
    source_name: Option<&str>,
    ls: usize,
    verdicts: Vec<RecordVerdict>,
) -> Option<Finding> {
    let os = package.kind.is_os();
    if os {
        // The distribution's own feed decides for its packages: when it gave a verdict for
        // this release and none says affected, other records (OSV `Debian:12` DSAs) are
        // overruled.
        let mut owned = verdicts
            .iter()
            .filter(|v| v.distro_owned && !matches!(v.verdict, Verdict::Undecided))
            .peekable();
        if owned.peek().is_some() && !owned.any(|v| matches!(v.verdict, Verdict::Affected(_))) {
            return None;
        }
    }
    let mut hits: Vec<(MatchedRecord, &RecordVerdict, &Hit)> = verdicts
        .iter()
        .filter_map(|v| match &v.verdict {
            Verdict::Affected(hit) => {
                let rec = &index.records[v.record];
                Some((
                    MatchedRecord {
                        source: rec.source,
                        upstream_id: rec.upstream_id.clone(),
                        observation: rec.observation.clone(),
                        ecosystem: v.ecosystem.clone(),
                        package: v.package.clone(),
                    },
                    v,
                    hit,
                ))
            }
            _ => None,
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    // Stable: entries of one record stay in upstream order.
    hits.sort_by(|a, b| a.0.cmp(&b.0));

    let info = &index.infos[ls];
    let mut evidence = MatchEvidence::default();
    let mut methods: Vec<&str> = Vec::new();
    let mut fixed_versions: Vec<String> = Vec::new();
    let mut any_fixed = false;
    let mut any_wontfix = false;
    for (record, _, hit) in &hits {
        if !methods.contains(&hit.method) {
            methods.push(hit.method);
        }
        if evidence.records.last() != Some(record) {
            evidence.records.push(record.clone());
        }
        for r in &hit.ranges {
            if !evidence.ranges.contains(r) {
                evidence.ranges.push(r.clone());
            }
        }
        for c in &hit.comparisons {
            if !evidence.comparisons.contains(c) {
                evidence.comparisons.push(c.clone());
            }
        }
        for f in &hit.fixed {
            if !fixed_versions.contains(f) {
                fixed_versions.push(f.clone());
            }
        }
        match hit.fix_state {
            FixState::Fixed => any_fixed = true,
            FixState::WontFix => any_wontfix = true,
            FixState::NotFixed => {}
        }
    }
    evidence.records.dedup();
    evidence.method = methods.join("+");
    let fix_state = if any_fixed && !fixed_versions.is_empty() {
        FixState::Fixed
    } else if any_wontfix {
        FixState::WontFix
    } else {
        FixState::NotFixed
    };

    // Ratings: the linkset's record-level statements and the matched entries' own.
    let matched: Vec<usize> = hits.iter().map(|h| h.1.record).collect();
    let owned: Vec<usize> = hits
        .iter()
        .filter(|h| h.1.distro_owned)
        .map(|h| h.1.record)
        .collect();
    let mut entry_ratings: Vec<(usize, Rated)> = Vec::new();
    for (_, v, _) in &hits {
        let Some(a) = v.affected else { continue };
        let rec = &index.records[v.record];
        let aff = &rec.advisory.affected[a];
        for stmt in &aff.severity {
            if let Some(r) = rate(stmt, rec.source) {
                entry_ratings.push((v.record, r));
            }
        }
        // The tracker's urgency, when the feed kept it only in the state.
        if let Some(urgency) = aff.distro_state.as_ref().and_then(|s| s.urgency.as_ref())
            && !aff.severity.iter().any(|s| s.kind == SeverityKind::Label)
        {
            let stmt = SeverityStatement {
                kind: SeverityKind::Label,
                value: urgency.clone(),
                score: None,
                source: rec.source.as_str().to_string(),
            };
            if let Some(r) = rate(&stmt, rec.source) {
                entry_ratings.push((v.record, r));
            }
        }
    }
    let mut candidates: Vec<Candidate> = info
        .ratings
        .iter()
        .chain(entry_ratings.iter())
        .map(|(r, rated)| Candidate {
            rated,
            matched: matched.contains(r),
            distro: owned.contains(r),
        })
        .collect();
    candidates.sort_by(|a, b| rating_cmp(&a.rated.rating, &b.rated.rating));
    let chosen = choose(&candidates, os);
    let mut ratings: Vec<_> = candidates.iter().map(|c| c.rated.rating.clone()).collect();
    ratings.dedup();

    let summary = hits
        .iter()
        .map(|h| h.1.record)
        .chain(info.records.iter().copied())
        .find_map(|r| {
            index.records[r]
                .advisory
                .summary
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
        })
        .map(str::to_string);
    let mut references: Vec<String> = Vec::new();
    'refs: for (_, v, _) in &hits {
        for url in &index.records[v.record].advisory.references {
            if references.len() >= MAX_REFERENCES {
                break 'refs;
            }
            if !references.contains(url) {
                references.push(url.clone());
            }
        }
    }
    let mut paths = Vec::new();
    if !package.found_in.is_empty() {
        paths.push(package.found_in.clone());
    }
    if package.files.len() <= MAX_FILES {
        paths.extend(package.files.iter().cloned());
    }

    Some(Finding {
        id: Finding::make_id(&info.id, &package.purl),
        vulnerability: info.id.clone(),
        aliases: info.aliases.clone(),
        summary,
        package: FindingPackage {
            kind: package.kind,
            name: package.name.clone(),
            version: package.version.clone(),
            purl: package.purl.clone(),
            source_name: source_name.map(str::to_string),
        },
        fix_state,
        fixed_versions: if fix_state == FixState::Fixed {
            fixed_versions
        } else {
            Vec::new()
        },
        severity: chosen.map(|r| r.severity).unwrap_or_default(),
        severity_source: chosen.map(|r| r.source.clone()).unwrap_or_default(),
        ratings,
        kev: info.kev,
        epss: info.epss.clone(),
        layer: package.layer.clone(),
        paths,
        snapshot: index.snapshot.clone(),
        evidence,
        references,
    })
}

/// Matches every package of an inventory; findings sorted by [`Finding::sort_key`] (then
/// by path, for the same package found twice).
pub fn match_inventory(
    index: &AdvisoryIndex,
    inventory: &Inventory,
    opts: &MatchOptions,
) -> ScanFindings {
    let mut findings: Vec<Finding> = inventory
        .packages
        .iter()
        .flat_map(|p| match_package(index, p, inventory.distro.as_ref(), opts))
        .collect();
    findings.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.paths.cmp(&b.paths))
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.package.version.cmp(&b.package.version))
    });
    ScanFindings {
        snapshot: index.snapshot.clone(),
        findings,
    }
}

/// The CPE product names a package may go by: its name, or the last part of a Maven, npm,
/// Go or Composer name; each also with `-` as `_` (NVD's habit). Lowercase.
fn cpe_products(p: &Package) -> Vec<String> {
    let name = p.name.trim();
    let base = match p.kind {
        PackageKind::Maven => name.rsplit(':').next().unwrap_or(name),
        PackageKind::Npm | PackageKind::Composer => name.rsplit('/').next().unwrap_or(name),
        PackageKind::Go => {
            let mut parts = name.rsplit('/');
            let last = parts.next().unwrap_or(name);
            // `example.com/mod/v2`: the major-version suffix is not the product.
            let is_major = last.len() > 1
                && last.starts_with('v')
                && last[1..].bytes().all(|b| b.is_ascii_digit());
            if is_major {
                parts.next().unwrap_or(last)
            } else {
                last
            }
        }
        _ => name,
    };
    let base = base.to_ascii_lowercase();
    let mut out = vec![base.clone()];
    let underscored = base.replace('-', "_");
    if underscored != base {
        out.push(underscored);
    }
    out
}

/// Platforms (`target_sw`) that name a language ecosystem: a criterion for one of them
/// only fits packages of that ecosystem. Other platforms fit every package.
const TARGET_SW: &[(&str, &[PackageKind])] = &[
    ("node.js", &[PackageKind::Npm]),
    ("nodejs", &[PackageKind::Npm]),
    ("npm", &[PackageKind::Npm]),
    ("python", &[PackageKind::Python]),
    ("pypi", &[PackageKind::Python]),
    ("ruby", &[PackageKind::Gem]),
    ("rails", &[PackageKind::Gem]),
    ("rubygems", &[PackageKind::Gem]),
    ("java", &[PackageKind::Maven]),
    ("maven", &[PackageKind::Maven]),
    ("jenkins", &[PackageKind::Maven]),
    ("php", &[PackageKind::Composer]),
    ("composer", &[PackageKind::Composer]),
    ("rust", &[PackageKind::Cargo]),
    ("go", &[PackageKind::Go]),
    ("golang", &[PackageKind::Go]),
    (".net", &[PackageKind::Nuget]),
    ("asp.net", &[PackageKind::Nuget]),
    ("nuget", &[PackageKind::Nuget]),
    ("wordpress", &[]),
    ("drupal", &[]),
    ("joomla\\!", &[]),
    ("joomla!", &[]),
];

fn target_sw_fits(target: &Component, kind: PackageKind) -> bool {
    let Some(t) = target.value() else {
        return true;
    };
    let t = t.to_ascii_lowercase();
    match TARGET_SW.iter().find(|(name, _)| *name == t) {
        Some((_, kinds)) => kinds.contains(&kind),
        None => true,
    }
}

/// Orders versions for CPE bounds: the package's ecosystem ordering when both versions are
/// valid there, else a natural numeric-dotted order (total, never fails).
fn generic_cmp(order: Option<Ecosystem>, a: &str, b: &str) -> Ordering {
    order
        .and_then(|eco| compare(eco, a, b).ok())
        .unwrap_or_else(|| natural_cmp(a, b))
}

/// Splits on `.`, `-`, `_`, `+`, `~` and digit/letter boundaries; numbers compare by
/// value, words case-insensitively, a number above a word; trailing zero numbers are
/// dropped (`1.0` = `1.0.0`).
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    #[derive(PartialEq, Eq)]
    enum Tok<'a> {
        Num(&'a str),
        Word(String),
    }
    fn tokens(s: &str) -> Vec<Tok<'_>> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = s[start..i].trim_start_matches('0');
                out.push(Tok::Num(digits));
            } else if c.is_ascii_alphabetic() || !c.is_ascii() {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_digit() && !is_sep(bytes[i]) {
                    i += 1;
                }
                out.push(Tok::Word(s[start..i].to_lowercase()));
            } else {
                i += 1;
            }
        }
        while matches!(out.last(), Some(Tok::Num(""))) {
            out.pop();
        }
        out
    }
    fn is_sep(b: u8) -> bool {
        matches!(b, b'.' | b'-' | b'_' | b'+' | b'~' | b':')
    }
    let (ta, tb) = (tokens(a), tokens(b));
    for (x, y) in ta.iter().zip(tb.iter()) {
        let o = match (x, y) {
            (Tok::Num(x), Tok::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            (Tok::Word(x), Tok::Word(y)) => x.cmp(y),
            (Tok::Num(_), Tok::Word(_)) => Ordering::Greater,
            (Tok::Word(_), Tok::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ta.len().cmp(&tb.len())
}

/// Evaluates one NVD criterion for a package whose product name already matched.
fn eval_cpe(
    cm: &CpeMatch,
    cpe: &Cpe23,
    kind: PackageKind,
    order: Option<Ecosystem>,
    installed: &str,
) -> Option<Hit> {
    if installed.is_empty() || !target_sw_fits(&cpe.target_sw, kind) {
        return None;
    }
    // A criterion for one update (`1.0:rc1`) names a pre-release the package's version
    // cannot be told apart from.
    if matches!(cpe.update, Component::Value(_) | Component::Pattern(_)) {
        return None;
    }
    let mut comparisons: Vec<Comparison> = Vec::new();
    match &cpe.version {
        Component::Na => return None,
        Component::Any => {}
        Component::Value(v) => {
            let holds = v == installed || generic_cmp(order, installed, v) == Ordering::Equal;
            if !holds {
                return None;
            }
            comparisons.push(comparison(installed, "==", v, true));
        }
        Component::Pattern(p) => {
            if !cpe.version.matches(installed) {
                return None;
            }
            comparisons.push(comparison(installed, "matches", p, true));
        }
    }
    // NVD's bound fields, the operator each stands for, and the orderings that satisfy it.
    let bounds = [
        (
            &cm.version_start_including,
            ">=",
            "versionStartIncluding",
            &[Ordering::Greater, Ordering::Equal][..],
        ),
        (
            &cm.version_start_excluding,
            ">",
            "versionStartExcluding",
            &[Ordering::Greater][..],
        ),
        (
            &cm.version_end_including,
            "<=",
            "versionEndIncluding",
            &[Ordering::Less, Ordering::Equal][..],
        ),
        (
            &cm.version_end_excluding,
            "<",
            "versionEndExcluding",
            &[Ordering::Less][..],
        ),
    ];
    let mut described = cm.criteria.trim().to_string();
    for (bound, op, name, holds) in bounds {
        let Some(b) = bound.as_deref().map(str::trim).filter(|b| !b.is_empty()) else {
            continue;
        };
        if !holds.contains(&generic_cmp(order, installed, b)) {
            return None;
        }
        comparisons.push(comparison(installed, op, b, true));
        described.push_str(&format!(", {name} {b}"));
    }
    let fixed: Vec<String> = cm
        .version_end_excluding
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    Some(Hit {
        method: "nvd-cpe",
        fix_state: if fixed.is_empty() {
            FixState::NotFixed
        } else {
            FixState::Fixed
        },
        fixed,
        ranges: vec![described],
        comparisons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_is_numeric_per_part() {
        for (a, b, want) in [
            ("1.10", "1.9", Ordering::Greater),
            ("1.0", "1.0.0", Ordering::Equal),
            ("2.4.49", "2.4.5", Ordering::Greater),
            ("1.0rc1", "1.0", Ordering::Greater),
            ("01.2", "1.2", Ordering::Equal),
            ("1.2a", "1.2b", Ordering::Less),
            ("17.0.2+8", "17.0.10", Ordering::Less),
        ] {
            assert_eq!(natural_cmp(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn cpe_products_come_from_the_last_name_part() {
        let mut p = Package::new(
            PackageKind::Maven,
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            "x",
        );
        assert_eq!(cpe_products(&p), vec!["log4j-core", "log4j_core"]);
        p.kind = PackageKind::Go;
        p.name = "github.com/gin-gonic/gin/v2".into();
        assert_eq!(cpe_products(&p), vec!["gin"]);
        p.kind = PackageKind::Npm;
        p.name = "@angular/Core".into();
        assert_eq!(cpe_products(&p), vec!["core"]);
    }
}
