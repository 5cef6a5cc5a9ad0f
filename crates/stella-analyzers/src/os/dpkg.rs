//! dpkg: `var/lib/dpkg/status`, distroless `var/lib/dpkg/status.d/*`, the `info/*.list` and
//! `status.d/*.md5sums` file lists, and DEP-5 `usr/share/doc/*/copyright` licenses.

use super::{control_paragraphs, epoch_of};
use crate::{Analyzer, AnalyzerError, Facts, PackageHint};
use stella_model::{Dependency, Package, PackageKind};

pub struct DpkgAnalyzer;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d/";
const INFO: &str = "var/lib/dpkg/info/";
const DOC: &str = "usr/share/doc/";

impl Analyzer for DpkgAnalyzer {
    fn name(&self) -> &'static str {
        "dpkg"
    }
    fn version(&self) -> u32 {
        // 2: DEP-5 license names mapped to SPDX ids.
        2
    }
    fn wants(&self, path: &str) -> bool {
        if path == STATUS {
            return true;
        }
        if let Some(rest) = path.strip_prefix(STATUS_D) {
            return !rest.contains('/');
        }
        if let Some(rest) = path.strip_prefix(INFO) {
            return !rest.contains('/') && rest.ends_with(".list");
        }
        if let Some(rest) = path.strip_prefix(DOC) {
            return rest.split_once('/').is_some_and(|(_, f)| f == "copyright");
        }
        false
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let mut facts = Facts::default();
        if let Some(rest) = path.strip_prefix(INFO) {
            let package = rest.trim_end_matches(".list").to_string();
            facts.owned_files.push(PackageHint {
                kind: PackageKind::Deb,
                package,
                values: file_list(text.lines()),
            });
        } else if let Some(rest) = path.strip_prefix(DOC) {
            let package = rest
                .split_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default();
            let licenses: Vec<String> = copyright_licenses(text)
                .iter()
                .map(|l| debian_license_to_spdx(l))
                .collect();
            if !licenses.is_empty() {
                facts.licenses.push(PackageHint {
                    kind: PackageKind::Deb,
                    package,
                    values: licenses,
                });
            }
        } else if let Some(name) = path.strip_prefix(STATUS_D)
            && name.ends_with(".md5sums")
        {
            let package = name.trim_end_matches(".md5sums").to_string();
            let files = text
                .lines()
                .filter_map(|l| l.split_once("  ").map(|(_, f)| f));
            facts.owned_files.push(PackageHint {
                kind: PackageKind::Deb,
                package,
                values: file_list(files),
            });
        } else {
            facts.packages = parse_status(path, text)?;
        }
        Ok(facts)
    }
}

fn file_list<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .map(|l| l.trim().trim_start_matches('/'))
        .filter(|l| !l.is_empty() && *l != ".")
        .map(String::from)
        .collect()
}

/// States in which a package's files are on disk (`dpkg-query` lists these too). Packages
/// that are `not-installed` or left as `config-files` are not installed software.
fn is_installed(status: &str) -> bool {
    matches!(
        status.split_whitespace().nth(2),
        Some(
            "installed"
                | "unpacked"
                | "half-configured"
                | "triggers-awaited"
                | "triggers-pending"
                | "half-installed"
        )
    )
}

/// Parses a status file (or one `status.d` entry).
pub fn parse_status(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let mut out = Vec::new();
    for para in control_paragraphs(text) {
        let get = |k: &str| {
            para.iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let Some(name) = get("Package") else { continue };
        // status.d entries of distroless images carry no Status field: present means installed.
        if let Some(status) = get("Status")
            && !is_installed(status)
        {
            continue;
        }
        let Some(version) = get("Version") else {
            return Err(AnalyzerError::new(
                path,
                format!("package {name:?} has no Version"),
            ));
        };
        let (source_name, source_version) = match get("Source") {
            Some(src) => match src.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_string(),
                    v.trim_end_matches(')').trim().to_string(),
                ),
                None => (src.trim().to_string(), version.to_string()),
            },
            None => (name.to_string(), version.to_string()),
        };
        let mut depends = Vec::new();
        for field in ["Depends", "Pre-Depends"] {
            if let Some(d) = get(field) {
                depends.extend(
                    relation_names(d)
                        .into_iter()
                        .map(|name| Dependency { name }),
                );
            }
        }
        let provides = get("Provides").map(relation_names).unwrap_or_default();
        out.push(Package {
            kind: PackageKind::Deb,
            name: name.to_string(),
            version: version.to_string(),
            epoch: epoch_of(version),
            arch: get("Architecture").map(String::from),
            source_name: Some(source_name),
            source_version: Some(source_version),
            supplier: get("Maintainer").map(String::from),
            licenses: Vec::new(),
            files: Vec::new(),
            depends,
            provides,
            purl: String::new(),
            found_in: path.to_string(),
            layer: None,
            dev: false,
            properties: Default::default(),
        });
    }
    Ok(out)
}

/// Names in a dpkg relation field: `libc6 (>= 2.34), debconf | debconf-2.0, perl:any`.
/// Every alternative is kept; the SBOM writer links only those present in the image.
fn relation_names(field: &str) -> Vec<String> {
    field
        .split([',', '|'])
        .filter_map(|alt| {
            let name = alt.trim().split([' ', '(', '[', '<']).next()?.trim();
            let name = name.split(':').next()?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// License short names from a DEP-5 machine-readable copyright file (`License:` fields), in
/// order of first appearance. Free-form copyright files yield nothing: guessing licenses from
/// prose is how scanners get them wrong.
pub fn copyright_licenses(text: &str) -> Vec<String> {
    if !text
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("Format:"))
    {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// A DEP-5 short license name in SPDX spelling where the mapping is exact (`GPL-2+` is
/// `GPL-2.0-or-later`, `Expat` is `MIT`); other names (`public-domain`, `Artistic`, …) are kept
/// as written. A name combining licenses (`GPL-2+ or Artistic`) is left alone too: SBOM
/// writers classify what is not an SPDX id.
pub fn debian_license_to_spdx(name: &str) -> String {
    let (base, or_later) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, false),
    };
    let gnu = |id: &str| format!("{id}-{}", if or_later { "or-later" } else { "only" });
    match base {
        "GPL-1" => gnu("GPL-1.0"),
        "GPL-2" => gnu("GPL-2.0"),
        "GPL-3" => gnu("GPL-3.0"),
        "LGPL-2" => gnu("LGPL-2.0"),
        "LGPL-2.1" => gnu("LGPL-2.1"),
        "LGPL-3" => gnu("LGPL-3.0"),
        "AGPL-3" => gnu("AGPL-3.0"),
        "GFDL-1.2" => gnu("GFDL-1.2"),
        "GFDL-1.3" => gnu("GFDL-1.3"),
        _ if or_later => name.to_string(),
        "Expat" => "MIT".to_string(),
        "BSD-2-clause" => "BSD-2-Clause".to_string(),
        "BSD-3-clause" => "BSD-3-Clause".to_string(),
        "BSD-4-clause" => "BSD-4-Clause".to_string(),
        "Apache-2.0" | "Zlib" | "ISC" | "MPL-2.0" | "MPL-1.1" | "CC0-1.0" | "BSL-1.0" => {
            base.to_string()
        }
        "zlib" => "Zlib".to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_SAMPLE: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 12345\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u4\nDepends: libgcc-s1\nDescription: GNU C Library\n foo\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5)\nVersion: 1:2.38.1-5+deb12u1\nPre-Depends: libc6 (>= 2.34), libsystemd0 | foo:any\n";

    #[test]
    fn parses_installed_packages_with_source_and_epoch() {
        let pkgs = parse_status("var/lib/dpkg/status", STATUS_SAMPLE).unwrap();
        assert_eq!(pkgs.len(), 2, "config-files packages are not installed");
        let libc = &pkgs[0];
        assert_eq!(
            (libc.name.as_str(), libc.version.as_str()),
            ("libc6", "2.36-9+deb12u4")
        );
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert_eq!(libc.source_version.as_deref(), Some("2.36-9+deb12u4"));
        assert_eq!(libc.arch.as_deref(), Some("amd64"));
        let bsd = &pkgs[1];
        assert_eq!(bsd.epoch, Some(1));
        assert_eq!(bsd.source_name.as_deref(), Some("util-linux"));
        assert_eq!(bsd.source_version.as_deref(), Some("2.38.1-5"));
        let deps: Vec<&str> = bsd.depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, vec!["libc6", "libsystemd0", "foo"]);
    }

    #[test]
    fn wants_only_dpkg_paths() {
        let a = DpkgAnalyzer;
        assert!(a.wants("var/lib/dpkg/status"));
        assert!(a.wants("var/lib/dpkg/status.d/base"));
        assert!(a.wants("var/lib/dpkg/info/libc6:amd64.list"));
        assert!(a.wants("usr/share/doc/libc6/copyright"));
        assert!(!a.wants("var/lib/dpkg/status-old"));
        assert!(!a.wants("var/lib/dpkg/info/libc6.md5sums"));
        assert!(!a.wants("usr/share/doc/libc6/changelog.gz"));
    }

    #[test]
    fn debian_license_names_map_to_spdx_ids_only_when_exact() {
        assert_eq!(debian_license_to_spdx("GPL-2+"), "GPL-2.0-or-later");
        assert_eq!(debian_license_to_spdx("LGPL-2.1"), "LGPL-2.1-only");
        assert_eq!(debian_license_to_spdx("Expat"), "MIT");
        assert_eq!(debian_license_to_spdx("BSD-3-clause"), "BSD-3-Clause");
        assert_eq!(debian_license_to_spdx("public-domain"), "public-domain");
        assert_eq!(
            debian_license_to_spdx("GPL-2+ or Artistic"),
            "GPL-2+ or Artistic"
        );
    }

    #[test]
    fn reads_dep5_licenses_and_ignores_prose() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: x\nLicense: BSD-3-clause\n\nLicense: GPL-2+\n text\n";
        assert_eq!(copyright_licenses(dep5), vec!["GPL-2+", "BSD-3-clause"]);
        assert!(copyright_licenses("This is free software under the GPL.").is_empty());
    }
}
