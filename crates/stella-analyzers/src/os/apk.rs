//! apk: `lib/apk/db/installed` (Alpine, Wolfi, Chainguard).

use super::control_paragraphs;
use crate::{Analyzer, AnalyzerError, Facts};
use stella_model::{Dependency, Package, PackageKind};

pub struct ApkAnalyzer;

const INSTALLED: &str = "lib/apk/db/installed";

impl Analyzer for ApkAnalyzer {
    fn name(&self) -> &'static str {
        "apk"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        path == INSTALLED || path == "usr/lib/apk/db/installed"
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = String::from_utf8_lossy(content);
        Ok(Facts {
            packages: parse_installed(path, &text),
            ..Default::default()
        })
    }
}

/// Strips an apk dependency's version constraint: `so:libc.musl-x86_64.so.1`, `musl>=1.2`,
/// `cmd:sh=1.36`. Conflicts (`!name`) are not dependencies.
fn dependency_name(raw: &str) -> Option<String> {
    if raw.starts_with('!') {
        return None;
    }
    let end = raw.find(['<', '>', '=', '~']).unwrap_or(raw.len());
    let n = &raw[..end];
    (!n.is_empty()).then(|| n.to_string())
}

/// Parses the installed database. Entries without a name or version are skipped (apk itself
/// ignores them).
pub fn parse_installed(path: &str, text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in control_paragraphs(text) {
        let mut pkg = Package {
            kind: PackageKind::Apk,
            name: String::new(),
            version: String::new(),
            epoch: None,
            arch: None,
            source_name: None,
            source_version: None,
            supplier: None,
            licenses: Vec::new(),
            files: Vec::new(),
            depends: Vec::new(),
            provides: Vec::new(),
            purl: String::new(),
            found_in: path.to_string(),
            layer: None,
            dev: false,
            properties: Default::default(),
        };
        let mut dir = String::new();
        for (k, v) in para {
            match k.as_str() {
                "P" => pkg.name = v,
                "V" => pkg.version = v,
                "A" => pkg.arch = Some(v),
                "o" => pkg.source_name = Some(v),
                "m" => pkg.supplier = Some(v),
                "L" if !v.is_empty() => pkg.licenses.push(v),
                "D" => pkg.depends.extend(
                    v.split_whitespace()
                        .filter_map(dependency_name)
                        .map(|name| Dependency { name }),
                ),
                "p" => pkg
                    .provides
                    .extend(v.split_whitespace().filter_map(dependency_name)),
                "F" => dir = v,
                "R" => pkg.files.push(if dir.is_empty() {
                    v
                } else {
                    format!("{dir}/{v}")
                }),
                _ => {}
            }
        }
        if pkg.name.is_empty() || pkg.version.is_empty() {
            continue;
        }
        if pkg.source_name.is_some() {
            pkg.source_version = Some(pkg.version.clone());
        }
        out.push(pkg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fixtures-trivy-parsers/src/pkg/fanal/analyzer/pkg/apk/testdata/apk");
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn reads_the_real_alpine_database_fixture() {
        let pkgs = parse_installed(INSTALLED, &fixture());
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert!(!names.contains(&"invalidPackageWithoutAVersion"));
        let musl = pkgs.iter().find(|p| p.name == "musl").unwrap();
        assert_eq!(musl.version, "1.1.14-r10");
        assert_eq!(musl.arch.as_deref(), Some("x86_64"));
        assert_eq!(musl.licenses, vec!["MIT"]);
        assert_eq!(musl.source_name.as_deref(), Some("musl"));
        assert_eq!(musl.provides, vec!["so:libc.musl-x86_64.so.1"]);
        assert!(
            musl.files
                .contains(&"lib/libc.musl-x86_64.so.1".to_string())
        );
        let busybox = pkgs.iter().find(|p| p.name == "busybox").unwrap();
        assert_eq!(busybox.version, "1.24.2-r9");
        assert_eq!(busybox.depends[0].name, "so:libc.musl-x86_64.so.1");
        // Every entry with a name and version in the file is read.
        let expected = fixture()
            .split("\n\n")
            .filter(|p| {
                p.lines().any(|l| l.starts_with("P:")) && p.lines().any(|l| l.starts_with("V:"))
            })
            .count();
        assert_eq!(pkgs.len(), expected);
    }

    #[test]
    fn strips_version_constraints_from_dependencies() {
        assert_eq!(dependency_name("musl>=1.2.3").as_deref(), Some("musl"));
        assert_eq!(dependency_name("cmd:sh=1.36").as_deref(), Some("cmd:sh"));
        assert_eq!(dependency_name("!conflict"), None);
    }
}
