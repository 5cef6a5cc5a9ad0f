//! Linksets: the groups of advisory ids that name one vulnerability.
//!
//! A GHSA record lists its CVE as an alias, a PYSEC record lists both, the Debian tracker and
//! NVD are keyed by the CVE: all of them speak of the same vulnerability, and a finding should
//! be reported once with every record behind it. Ids are joined only through `aliases` (same
//! vulnerability), never through `related` (mentions), so an advisory that fixes ten CVEs does
//! not fuse them into one. Nothing is decided about which record is right: a linkset only
//! says which records to read together.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One group of ids for the same vulnerability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linkset {
    /// The preferred id: the lowest CVE id if there is one, else the lowest id.
    pub id: String,
    /// Every id of the group, `id` included, sorted.
    pub ids: Vec<String>,
}

/// All linksets of a set of advisories.
#[derive(Debug, Clone, Default)]
pub struct Linksets {
    sets: Vec<Linkset>,
    by_id: HashMap<String, usize>,
}

impl Linksets {
    /// Groups ids: each item is an advisory id and its aliases.
    pub fn build<'a, I, A>(items: I) -> Linksets
    where
        I: IntoIterator<Item = (&'a str, A)>,
        A: IntoIterator<Item = &'a String>,
    {
        // Union-find over interned ids; small enough that a hand-rolled one (a dozen lines)
        // beats a dependency.
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        let mut names: Vec<&'a str> = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        fn intern<'a>(
            id: &'a str,
            index: &mut HashMap<&'a str, usize>,
            names: &mut Vec<&'a str>,
            parent: &mut Vec<usize>,
        ) -> usize {
            *index.entry(id).or_insert_with(|| {
                names.push(id);
                parent.push(parent.len());
                parent.len() - 1
            })
        }
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for (id, aliases) in items {
            let a = intern(id, &mut index, &mut names, &mut parent);
            for alias in aliases {
                if alias.is_empty() {
                    continue;
                }
                let b = intern(alias, &mut index, &mut names, &mut parent);
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
        let mut groups: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let root = find(&mut parent, i);
            groups.entry(root).or_default().insert(name);
        }
        let mut sets: Vec<Linkset> = groups
            .into_values()
            .map(|ids| {
                let id = ids
                    .iter()
                    .filter(|i| i.starts_with("CVE-"))
                    .min_by(|a, b| cve_order(a).cmp(&cve_order(b)))
                    .or_else(|| ids.iter().next())
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Linkset {
                    id,
                    ids: ids.into_iter().map(str::to_string).collect(),
                }
            })
            .collect();
        sets.sort_by(|a, b| a.id.cmp(&b.id));
        let mut by_id = HashMap::new();
        for (n, set) in sets.iter().enumerate() {
            for id in &set.ids {
                by_id.insert(id.clone(), n);
            }
        }
        Linksets { sets, by_id }
    }

    /// The linkset an id belongs to.
    pub fn get(&self, id: &str) -> Option<&Linkset> {
        self.by_id.get(id).map(|&n| &self.sets[n])
    }

    /// Every linkset, sorted by preferred id.
    pub fn iter(&self) -> impl Iterator<Item = &Linkset> {
        self.sets.iter()
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// CVE ids ordered by year then number (`CVE-2021-9999` before `CVE-2021-10000`).
fn cve_order(id: &str) -> (u32, u64, &str) {
    let mut parts = id.splitn(3, '-').skip(1);
    let year = parts
        .next()
        .and_then(|y| y.parse().ok())
        .unwrap_or(u32::MAX);
    let num = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    (year, num, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn aliases_join_transitively_and_prefer_the_lowest_cve() {
        let ghsa = s(&["CVE-2022-10000"]);
        let pysec = s(&["GHSA-aaaa", "CVE-2022-9999"]);
        let other = s(&[]);
        let sets = Linksets::build([
            ("GHSA-aaaa", ghsa.iter()),
            ("PYSEC-1", pysec.iter()),
            ("GHSA-zzzz", other.iter()),
        ]);
        assert_eq!(sets.len(), 2);
        let set = sets.get("CVE-2022-10000").unwrap();
        assert_eq!(set.id, "CVE-2022-9999");
        assert_eq!(
            set.ids,
            s(&["CVE-2022-10000", "CVE-2022-9999", "GHSA-aaaa", "PYSEC-1"])
        );
        assert_eq!(sets.get("GHSA-zzzz").unwrap().id, "GHSA-zzzz");
        assert!(sets.get("CVE-1999-0001").is_none());
    }
}
