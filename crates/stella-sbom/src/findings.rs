//! What every encoder needs to write findings, computed once: the findings in a total order,
//! each tied to the inventory package it is about, grouped by vulnerability.

use crate::SbomError;
use crate::ids::sha256_hex;
use crate::prepared::Prepared;
use std::collections::BTreeMap;
use stella_model::{Finding, FixState, Rating, ScanFindings, Severity};

/// The findings of a scan, ready to encode.
pub(crate) struct PreparedFindings {
    /// Snapshot id of the advisory store the findings were matched against.
    pub snapshot: String,
    /// Findings in output order: [`Finding::sort_key`], then canonical JSON; exact duplicates
    /// removed, aliases and paths sorted.
    pub entries: Vec<FindingEntry>,
    /// Vulnerabilities in id order, each with the indices of its findings in `entries`.
    pub groups: Vec<VulnerabilityGroup>,
    /// sha256 hex of the canonical JSON of the snapshot and the normalised findings.
    pub content_hex: String,
}

/// One finding and the inventory package it is about.
pub(crate) struct FindingEntry {
    pub finding: Finding,
    /// Index into `Prepared::inv.packages` / `Prepared::entries`.
    pub package: usize,
}

/// Every finding of one vulnerability id.
pub(crate) struct VulnerabilityGroup {
    pub id: String,
    /// Indices into `PreparedFindings::entries`, ascending.
    pub members: Vec<usize>,
}

impl VulnerabilityGroup {
    /// The most severe severity of the group's findings.
    pub(crate) fn severity(&self, f: &PreparedFindings) -> Severity {
        self.members
            .iter()
            .map(|&i| f.entries[i].finding.severity)
            .max()
            .unwrap_or_default()
    }

    /// The group's findings, in output order.
    pub(crate) fn findings<'a>(
        &'a self,
        f: &'a PreparedFindings,
    ) -> impl Iterator<Item = &'a FindingEntry> + 'a {
        self.members.iter().map(move |&i| &f.entries[i])
    }

    /// The first summary any of the group's findings has.
    pub(crate) fn summary<'a>(&'a self, f: &'a PreparedFindings) -> Option<&'a str> {
        self.findings(f)
            .filter_map(|e| e.finding.summary.as_deref())
            .map(str::trim)
            .find(|s| !s.is_empty())
    }

    /// Every rating of the group's findings, without duplicates, sorted by source, method,
    /// vector and score. Ratings without a finite score keep no score.
    pub(crate) fn ratings(&self, f: &PreparedFindings) -> Vec<Rating> {
        let mut out: Vec<Rating> = Vec::new();
        for e in self.findings(f) {
            for r in &e.finding.ratings {
                let r = Rating {
                    score: finite(r.score),
                    ..r.clone()
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.source, &a.method, &a.vector, a.severity)
                .cmp(&(&b.source, &b.method, &b.vector, b.severity))
                .then_with(|| a.score.unwrap_or(-1.0).total_cmp(&b.score.unwrap_or(-1.0)))
        });
        out
    }

    /// The highest CVSS base score among the group's ratings.
    pub(crate) fn max_cvss_score(&self, f: &PreparedFindings) -> Option<f64> {
        self.ratings(f)
            .iter()
            .filter(|r| r.method.starts_with("CVSS"))
            .filter_map(|r| r.score)
            .max_by(f64::total_cmp)
    }

    /// The aliases of the group's findings, sorted, without the id itself.
    pub(crate) fn aliases(&self, f: &PreparedFindings) -> Vec<String> {
        let mut out: Vec<String> = self
            .findings(f)
            .flat_map(|e| e.finding.aliases.iter().cloned())
            .filter(|a| a != &self.id && !a.trim().is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Reference URLs of the group's findings, in the order first seen, without duplicates.
    pub(crate) fn references(&self, f: &PreparedFindings) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.findings(f).flat_map(|e| &e.finding.references) {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }

    /// Whether any finding of the group is in CISA's KEV catalog (KEV is per CVE, so all agree).
    pub(crate) fn kev(&self, f: &PreparedFindings) -> bool {
        self.findings(f).any(|e| e.finding.kev)
    }

    /// The EPSS score of the vulnerability (per CVE: the first finding that has one).
    pub(crate) fn epss<'a>(
        &'a self,
        f: &'a PreparedFindings,
    ) -> Option<&'a stella_model::EpssScore> {
        self.findings(f).find_map(|e| e.finding.epss.as_ref())
    }
}

impl PreparedFindings {
    pub(crate) fn new(p: &Prepared, sf: &ScanFindings) -> Result<PreparedFindings, SbomError> {
        // A total order, so that findings equal under `sort_key` come out the same way whatever
        // order the caller gave them in.
        let mut keyed: Vec<(Vec<u8>, Finding)> = sf
            .findings
            .iter()
            .cloned()
            .map(|mut f| {
                f.aliases.sort();
                f.aliases.dedup();
                f.paths.sort();
                f.paths.dedup();
                Ok((stella_model::canonical_json(&f)?, f))
            })
            .collect::<Result<_, serde_json::Error>>()?;
        keyed.sort_by(|(ka, a), (kb, b)| a.sort_key().cmp(&b.sort_key()).then_with(|| ka.cmp(kb)));
        keyed.dedup_by(|(ka, _), (kb, _)| ka == kb);

        let content = serde_json::json!({
            "snapshot": sf.snapshot,
            "findings": keyed.iter().map(|(_, f)| f).collect::<Vec<_>>(),
        });
        let content_hex = sha256_hex(&stella_model::canonical_json(&content)?);

        let index = PackageIndex::new(p);
        let entries = keyed
            .into_iter()
            .map(|(_, finding)| {
                let package =
                    index
                        .resolve(p, &finding)
                        .ok_or_else(|| SbomError::UnknownFindingPackage {
                            finding: finding.id.clone(),
                            purl: finding.package.purl.clone(),
                        })?;
                Ok(FindingEntry { finding, package })
            })
            .collect::<Result<Vec<_>, SbomError>>()?;

        let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_id
                .entry(e.finding.vulnerability.as_str())
                .or_default()
                .push(i);
        }
        let groups = by_id
            .into_iter()
            .map(|(id, members)| VulnerabilityGroup {
                id: id.to_string(),
                members,
            })
            .collect();
        Ok(PreparedFindings {
            snapshot: sf.snapshot.clone(),
            entries,
            groups,
            content_hex,
        })
    }
}

/// Inventory packages by purl, to tie findings to them.
struct PackageIndex<'a> {
    by_purl: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> PackageIndex<'a> {
    fn new(p: &'a Prepared) -> PackageIndex<'a> {
        let mut by_purl: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, pkg) in p.inv.packages.iter().enumerate() {
            by_purl.entry(pkg.purl.as_str()).or_default().push(i);
        }
        PackageIndex { by_purl }
    }

    /// The package a finding is about: the one with its purl (kind, name and version too when
    /// the purl is empty). When several packages share the purl, the one whose database is
    /// among the finding's paths and whose layer is the finding's layer wins; a tie goes to the
    /// first in output order.
    fn resolve(&self, p: &Prepared, f: &Finding) -> Option<usize> {
        let pkgs = &p.inv.packages;
        let candidates = self.by_purl.get(f.package.purl.as_str())?;
        candidates
            .iter()
            .copied()
            .filter(|&i| {
                !f.package.purl.is_empty()
                    || (pkgs[i].kind == f.package.kind
                        && pkgs[i].name == f.package.name
                        && pkgs[i].version == f.package.version)
            })
            .map(|i| {
                let pkg = &pkgs[i];
                let in_paths = f.paths.iter().any(|x| x == &pkg.found_in);
                let same_layer = f.layer.is_some() && f.layer == pkg.layer;
                (u8::from(in_paths) + u8::from(same_layer), i)
            })
            // Highest score; among equals the lowest index.
            .min_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)))
            .map(|(_, i)| i)
    }
}

fn finite(score: Option<f64>) -> Option<f64> {
    score.filter(|s| s.is_finite())
}

/// Who publishes a vulnerability id, and where to read it: NVD for CVEs, GitHub for GHSAs,
/// OSV (which mirrors the other databases: PYSEC, RUSTSEC, GO, DSA, …) for the rest.
pub(crate) fn id_source(id: &str) -> (&'static str, String) {
    let upper = id.to_ascii_uppercase();
    if upper.starts_with("CVE-") {
        ("NVD", format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if upper.starts_with("GHSA-") {
        ("GitHub", format!("https://github.com/advisories/{id}"))
    } else {
        ("OSV", format!("https://osv.dev/vulnerability/{id}"))
    }
}

/// One sentence on how to fix a finding.
pub(crate) fn fix_sentence(f: &Finding) -> String {
    let pkg = &f.package;
    match f.fix_state {
        FixState::Fixed if !f.fixed_versions.is_empty() => format!(
            "Upgrade {} {} to {}.",
            pkg.name,
            pkg.version,
            or_list(&f.fixed_versions)
        ),
        FixState::Fixed => format!("A fix exists for {} {}; upgrade it.", pkg.name, pkg.version),
        FixState::NotFixed => format!("No fix is known for {} {}.", pkg.name, pkg.version),
        FixState::WontFix => format!(
            "The distribution will not fix {} {}.",
            pkg.name, pkg.version
        ),
    }
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The wire name of a fix state (`fixed`, `not-fixed`, `wont-fix`).
pub(crate) fn fix_state_str(s: FixState) -> &'static str {
    match s {
        FixState::Fixed => "fixed",
        FixState::NotFixed => "not-fixed",
        FixState::WontFix => "wont-fix",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_attributed_to_their_publishers() {
        assert_eq!(
            id_source("CVE-2024-1234"),
            (
                "NVD",
                "https://nvd.nist.gov/vuln/detail/CVE-2024-1234".to_string()
            )
        );
        assert_eq!(
            id_source("GHSA-abcd-efgh-ijkl").1,
            "https://github.com/advisories/GHSA-abcd-efgh-ijkl"
        );
        assert_eq!(
            id_source("PYSEC-2024-1"),
            (
                "OSV",
                "https://osv.dev/vulnerability/PYSEC-2024-1".to_string()
            )
        );
    }

    #[test]
    fn versions_are_listed_with_or() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(or_list(&v(&[])), "");
        assert_eq!(or_list(&v(&["1.0"])), "1.0");
        assert_eq!(or_list(&v(&["1.0", "2.0"])), "1.0 or 2.0");
        assert_eq!(or_list(&v(&["1.0", "2.0", "3.0"])), "1.0, 2.0 or 3.0");
    }

    #[test]
    fn fix_state_names_match_the_model_serialisation() {
        for s in [FixState::Fixed, FixState::NotFixed, FixState::WontFix] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(fix_state_str(s))
            );
        }
    }
}
