//! rpm: the Berkeley DB, NDB and SQLite rpm databases, read by `stella-rpmdb`.

use crate::{Analyzer, AnalyzerError, Facts};
use stella_model::{Dependency, Package, PackageKind};

pub struct RpmAnalyzer;

/// Database files in the places rpm keeps them (`/var/lib/rpm`, and `/usr/lib/sysimage/rpm`
/// on newer Fedora and SUSE, where `/var/lib/rpm` is a symlink to it).
const DB_FILES: &[&str] = &[
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

impl Analyzer for RpmAnalyzer {
    fn name(&self) -> &'static str {
        "rpm"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        DB_FILES.contains(&path)
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let rpms = stella_rpmdb::read_packages(content)
            .map_err(|e| AnalyzerError::new(path, e.to_string()))?;
        let packages = rpms
            .into_iter()
            // gpg-pubkey entries are imported signing keys, not software.
            .filter(|r| r.name != "gpg-pubkey")
            .map(|r| {
                let (source_name, source_version) = r.source_name_version().unzip();
                let version = match r.epoch {
                    Some(e) => format!("{e}:{}-{}", r.version, r.release),
                    None => format!("{}-{}", r.version, r.release),
                };
                Package {
                    kind: PackageKind::Rpm,
                    name: r.name,
                    version,
                    epoch: r.epoch,
                    arch: r.arch,
                    source_name,
                    source_version,
                    supplier: r.vendor,
                    licenses: r.license.into_iter().collect(),
                    files: r
                        .files
                        .into_iter()
                        .map(|f| f.trim_start_matches('/').to_string())
                        .collect(),
                    depends: r
                        .requires
                        .into_iter()
                        .filter(|q| !q.starts_with("rpmlib("))
                        .map(|name| Dependency { name })
                        .collect(),
                    provides: r.provides,
                    purl: String::new(),
                    found_in: path.to_string(),
                    layer: None,
                    dev: false,
                    properties: Default::default(),
                }
            })
            .collect();
        Ok(Facts {
            packages,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fixtures-go-rpmdb/src/pkg/testdata")
            .join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn reads_a_real_sqlite_rpmdb_into_packages() {
        let facts = RpmAnalyzer
            .analyze(
                "var/lib/rpm/rpmdb.sqlite",
                &fixture("cbl-mariner-2.0/rpmdb.sqlite"),
            )
            .unwrap();
        let all = stella_rpmdb::read_packages(&fixture("cbl-mariner-2.0/rpmdb.sqlite")).unwrap();
        let keys = all.iter().filter(|p| p.name != "gpg-pubkey").count();
        assert_eq!(
            facts.packages.len(),
            keys,
            "every package but imported keys"
        );
        let curl = facts.packages.iter().find(|p| p.name == "curl").unwrap();
        assert_eq!(curl.kind, PackageKind::Rpm);
        assert!(curl.version.ends_with(".cm2"), "{}", curl.version);
        assert_eq!(curl.source_name.as_deref(), Some("curl"));
        assert!(curl.files.iter().all(|f| !f.starts_with('/')));
        assert!(curl.depends.iter().all(|d| !d.name.starts_with("rpmlib(")));
        let with_epoch = facts.packages.iter().find(|p| p.epoch.is_some()).unwrap();
        assert!(
            with_epoch
                .version
                .starts_with(&format!("{}:", with_epoch.epoch.unwrap()))
        );
    }

    #[test]
    fn reads_berkeley_db_and_ndb_databases() {
        let bdb = RpmAnalyzer
            .analyze("var/lib/rpm/Packages", &fixture("libuuid/Packages"))
            .unwrap();
        assert_eq!(bdb.packages.len(), 1);
        assert_eq!(bdb.packages[0].name, "libuuid");
        let ndb = RpmAnalyzer
            .analyze(
                "usr/lib/sysimage/rpm/Packages.db",
                &fixture("sle15-bci/Packages.db"),
            )
            .unwrap();
        assert_eq!(ndb.packages.len(), 35);
    }

    #[test]
    fn a_corrupt_database_is_an_analyzer_error_not_a_panic() {
        let err = RpmAnalyzer
            .analyze("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0garbage")
            .unwrap_err();
        assert_eq!(err.path, "var/lib/rpm/rpmdb.sqlite");
    }
}
