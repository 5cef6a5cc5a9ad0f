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
        let rpms = stella_rpmdb::read_packages(content).map_err(|e| AnalyzerError::new(path, e.to_string()))?;
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
                    files: r.files.into_iter().map(|f| f.trim_start_matches('/').to_string()).collect(),
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
                }
            })
            .collect();
        Ok(Facts {
            packages,
            ..Default::default()
        })
    }
}
