//! The advisory index: records grouped into linksets, affected entries keyed by
//! (ecosystem family, normalized package name), NVD CPE criteria keyed by product, and the
//! per-linkset enrichment (ratings, KEV, EPSS) computed once.

use std::collections::{HashMap, HashSet};

use stella_model::{Advisory, EpssScore, FeedSource, KevEntry, Linksets};

use crate::cpe::{self, Cpe23};
use crate::distro::entry_release;
use crate::family::{self, Family};
use crate::osv::ListedVersions;
use crate::severity::{Rated, rate, rating_cmp};

/// One normalized advisory and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedAdvisory {
    pub source: FeedSource,
    /// The id the feed gave the record (usually `advisory.id`).
    pub upstream_id: String,
    /// "sha256:…" content hash of the raw observation
    pub observation: String,
    pub advisory: Advisory,
}

impl IndexedAdvisory {
    /// The id the record joins linksets with.
    pub(crate) fn id(&self) -> &str {
        if self.advisory.id.is_empty() {
            &self.upstream_id
        } else {
            &self.advisory.id
        }
    }
}

/// One affected entry of one record, under its index key.
#[derive(Debug, Clone)]
pub(crate) struct EntryRef {
    pub(crate) record: usize,
    pub(crate) affected: usize,
    pub(crate) family: Family,
    /// The name the entry gives the package (from the purl when the entry has only one).
    pub(crate) name: String,
    /// The distro release the entry speaks of; `None` for every release.
    pub(crate) release: Option<String>,
    pub(crate) listed: ListedVersions,
}

/// One vulnerable NVD CPE criterion.
#[derive(Debug, Clone)]
pub(crate) struct CpeRef {
    pub(crate) record: usize,
    pub(crate) cpe_match: usize,
    pub(crate) cpe: Cpe23,
}

/// What the index knows about one linkset.
#[derive(Debug, Clone)]
pub(crate) struct LinksetInfo {
    pub(crate) id: String,
    /// Every other id of the linkset, sorted.
    pub(crate) aliases: Vec<String>,
    /// Records, sorted by (source, upstream id, observation).
    pub(crate) records: Vec<usize>,
    /// Record-level ratings of the linkset's records that are not withdrawn, in rating
    /// order, with the record that stated each.
    pub(crate) ratings: Vec<(usize, Rated)>,
    pub(crate) kev: bool,
    pub(crate) epss: Option<EpssScore>,
}

/// Advisories indexed for matching (see the crate documentation).
#[derive(Debug, Clone)]
pub struct AdvisoryIndex {
    pub(crate) snapshot: String,
    pub(crate) records: Vec<IndexedAdvisory>,
    pub(crate) linksets: Linksets,
    /// Record → position in `infos`.
    pub(crate) linkset_of: Vec<usize>,
    pub(crate) infos: Vec<LinksetInfo>,
    pub(crate) packages: HashMap<(Family, String), Vec<EntryRef>>,
    pub(crate) cpes: HashMap<String, Vec<CpeRef>>,
}

/// Bug-fix and enhancement advisories of rpm distributions (AlmaLinux `ALBA`/`ALEA`, Rocky
/// `RLBA`/`RLEA`) are not vulnerabilities.
fn is_non_security(id: &str) -> bool {
    ["ALBA-", "ALEA-", "RLBA-", "RLEA-"]
        .iter()
        .any(|p| id.starts_with(p))
}

impl AdvisoryIndex {
    /// Builds the index. Linksets are joined over every record (withdrawn ones too: their
    /// aliases still say which ids name one vulnerability); withdrawn records are kept for
    /// [`AdvisoryIndex::records_for`] but never matched and never rated.
    pub fn build(
        snapshot: String,
        advisories: Vec<IndexedAdvisory>,
        kev: Vec<KevEntry>,
        epss: Vec<EpssScore>,
    ) -> AdvisoryIndex {
        let records = advisories;
        let linksets = Linksets::build(records.iter().map(|r| (r.id(), r.advisory.aliases.iter())));
        let kev: HashSet<&str> = kev.iter().map(|k| k.cve.trim()).collect();
        let mut epss_by_cve: HashMap<String, EpssScore> = HashMap::new();
        for score in epss {
            epss_by_cve
                .entry(score.cve.trim().to_string())
                .or_insert(score);
        }

        let mut position: HashMap<&str, usize> = HashMap::new();
        let mut infos: Vec<LinksetInfo> = Vec::with_capacity(linksets.len());
        for (n, set) in linksets.iter().enumerate() {
            position.insert(set.id.as_str(), n);
            let epss = std::iter::once(&set.id)
                .chain(set.ids.iter())
                .filter(|id| id.starts_with("CVE-"))
                .find_map(|id| epss_by_cve.get(id.as_str()))
                .cloned();
            infos.push(LinksetInfo {
                id: set.id.clone(),
                aliases: set.ids.iter().filter(|i| **i != set.id).cloned().collect(),
                records: Vec::new(),
                ratings: Vec::new(),
                kev: set.ids.iter().any(|id| kev.contains(id.as_str())),
                epss,
            });
        }
        let mut linkset_of = Vec::with_capacity(records.len());
        for (r, rec) in records.iter().enumerate() {
            let n = linksets
                .get(rec.id())
                .and_then(|set| position.get(set.id.as_str()).copied())
                .expect("every record id is in a linkset");
            linkset_of.push(n);
            infos[n].records.push(r);
        }
        for info in &mut infos {
            info.records.sort_by(|&a, &b| {
                let (a, b) = (&records[a], &records[b]);
                (a.source, &a.upstream_id, &a.observation).cmp(&(
                    b.source,
                    &b.upstream_id,
                    &b.observation,
                ))
            });
            for &r in &info.records {
                let rec = &records[r];
                if rec.advisory.withdrawn.is_some() {
                    continue;
                }
                for stmt in &rec.advisory.severity {
                    if let Some(rated) = rate(stmt, rec.source) {
                        info.ratings.push((r, rated));
                    }
                }
            }
            info.ratings
                .sort_by(|a, b| rating_cmp(&a.1.rating, &b.1.rating).then(a.0.cmp(&b.0)));
        }

        let mut packages: HashMap<(Family, String), Vec<EntryRef>> = HashMap::new();
        let mut cpes: HashMap<String, Vec<CpeRef>> = HashMap::new();
        for (r, rec) in records.iter().enumerate() {
            if rec.advisory.withdrawn.is_some() {
                continue;
            }
            for (a, aff) in rec.advisory.affected.iter().enumerate() {
                let (fam, eco_release, name) = match Family::parse(&aff.ecosystem) {
                    Some((fam, release)) => (fam, release, aff.name.trim().to_string()),
                    None if aff.ecosystem.trim().is_empty() => {
                        match aff.purl.as_deref().and_then(family::from_purl) {
                            Some((fam, name)) => (fam, None, name),
                            None => continue,
                        }
                    }
                    // An ecosystem the matcher has no packages for.
                    None => continue,
                };
                if name.is_empty() || (fam.is_distro() && is_non_security(rec.id())) {
                    continue;
                }
                let release = if fam.is_distro() {
                    entry_release(aff, eco_release).map(str::to_string)
                } else {
                    None
                };
                let key = (fam, fam.normalize_name(&name).into_owned());
                packages.entry(key).or_default().push(EntryRef {
                    record: r,
                    affected: a,
                    family: fam,
                    name,
                    release,
                    listed: ListedVersions::new(&aff.versions),
                });
            }
            for (m, cm) in rec.advisory.cpe_matches.iter().enumerate() {
                let Ok(cpe) = cpe::parse(cm.criteria.trim()) else {
                    continue;
                };
                let Some(product) = cpe.product.value() else {
                    continue;
                };
                cpes.entry(product.to_ascii_lowercase())
                    .or_default()
                    .push(CpeRef {
                        record: r,
                        cpe_match: m,
                        cpe,
                    });
            }
        }
        AdvisoryIndex {
            snapshot,
            records,
            linksets,
            linkset_of,
            infos,
            packages,
            cpes,
        }
    }

    /// The snapshot id of the advisories (recorded in every finding).
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// The linksets of every indexed record.
    pub fn linksets(&self) -> &Linksets {
        &self.linksets
    }

    /// The number of advisories.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record of the linkset that contains `id` (any alias), for `stella advisory show`;
    /// sorted by source, upstream id and observation. Empty for an unknown id.
    pub fn records_for(&self, id: &str) -> Vec<&IndexedAdvisory> {
        let Some(set) = self.linksets.get(id.trim()) else {
            return Vec::new();
        };
        // `infos` is in linkset order, which is sorted by preferred id.
        let Ok(n) = self
            .infos
            .binary_search_by(|i| i.id.as_str().cmp(set.id.as_str()))
        else {
            return Vec::new();
        };
        let info = &self.infos[n];
        info.records.iter().map(|&r| &self.records[r]).collect()
    }
}
