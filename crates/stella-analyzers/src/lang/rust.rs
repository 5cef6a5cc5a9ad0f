//! Rust binaries built with `cargo auditable`: the `.dep-v0` section (ELF, PE; `__DATA,.dep-v0`
//! in Mach-O) holds zlib-compressed JSON listing every crate compiled in, with its source,
//! its `kind` (`runtime`, or `build` for build-time-only crates) and its dependencies as indices.
//!
//! Which files: the same path rule as Go binaries ([`super::golang::wants_executable`]).

use super::golang::{is_native_executable, wants_executable};
use crate::{Analyzer, AnalyzerError, Facts};
use object::{Object, ObjectSection};
use serde::Deserialize;
use std::io::Read;
use stella_model::{Dependency, Package, PackageKind};

/// Largest decompressed dependency list accepted.
const MAX_JSON: u64 = 16 << 20;

pub struct RustBinaryAnalyzer;

impl Analyzer for RustBinaryAnalyzer {
    fn name(&self) -> &'static str {
        "rust-binary"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        wants_executable(path)
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        if !is_native_executable(content) {
            return Ok(Facts::default());
        }
        // A binary `object` cannot parse is not a Rust binary this analyzer can read; the Go
        // analyzer reports files it needed and could not read.
        let Ok(file) = object::File::parse(content) else {
            return Ok(Facts::default());
        };
        let Some(section) = file.section_by_name(".dep-v0") else {
            return Ok(Facts::default());
        };
        let compressed = section
            .data()
            .map_err(|e| AnalyzerError::new(path, format!("unreadable .dep-v0 section: {e}")))?;
        let json = inflate(compressed).map_err(|e| AnalyzerError::new(path, e))?;
        let packages = auditable_packages(path, &json).map_err(|e| AnalyzerError::new(path, e))?;
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// Decompresses the zlib stream of a `.dep-v0` section.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!(".dep-v0 is not zlib data: {e}"))?;
    if out.len() as u64 > MAX_JSON {
        return Err(format!(".dep-v0 inflates past {MAX_JSON} bytes"));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<AuditablePackage>,
}

#[derive(Deserialize)]
struct AuditablePackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dependencies: Vec<usize>,
    #[serde(default)]
    root: bool,
}

/// A crate: `pkg:cargo/<name>@<version>`.
pub fn cargo_package(found_in: &str, name: &str, version: &str) -> Package {
    let mut p = Package::new(PackageKind::Cargo, name, version, found_in);
    p.purl = packageurl::PackageUrl::new("cargo", name)
        .and_then(|mut u| u.with_version(version).map(|u| u.to_string()))
        .unwrap_or_default();
    p
}

/// The packages of a cargo-auditable dependency list (the decompressed JSON).
pub fn auditable_packages(found_in: &str, json: &[u8]) -> Result<Vec<Package>, String> {
    let info: VersionInfo = serde_json::from_slice(json)
        .map_err(|e| format!("bad cargo-auditable dependency list: {e}"))?;
    let mut out = Vec::with_capacity(info.packages.len());
    for pkg in &info.packages {
        let mut p = cargo_package(found_in, &pkg.name, &pkg.version);
        if let Some(s) = &pkg.source {
            p.properties.insert("cargo.source".to_string(), s.clone());
        }
        let kind = pkg.kind.as_deref().unwrap_or("runtime");
        p.properties
            .insert("cargo.kind".to_string(), kind.to_string());
        if pkg.root {
            p.properties
                .insert("cargo.root".to_string(), "true".to_string());
        }
        for &i in &pkg.dependencies {
            let dep = info.packages.get(i).ok_or_else(|| {
                format!("package {} depends on index {i}, out of range", pkg.name)
            })?;
            p.depends.push(Dependency {
                name: dep.name.clone(),
            });
        }
        p.normalize();
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str = r#"{"packages":[
        {"name":"adler","version":"1.0.2","source":"crates.io"},
        {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
        {"name":"hello","version":"0.1.0","source":"local","dependencies":[0,1],"root":true}
    ]}"#;

    #[test]
    fn dependency_list() {
        let pkgs = auditable_packages("usr/bin/hello", JSON.as_bytes()).unwrap();
        assert_eq!(pkgs.len(), 3);
        assert_eq!(pkgs[0].purl, "pkg:cargo/adler@1.0.2");
        assert_eq!(pkgs[1].properties["cargo.kind"], "build");
        assert_eq!(pkgs[2].properties["cargo.root"], "true");
        assert_eq!(pkgs[2].properties["cargo.source"], "local");
        let deps: Vec<_> = pkgs[2].depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["adler", "cc"]);
        assert!(
            auditable_packages(
                "x",
                br#"{"packages":[{"name":"a","version":"1","dependencies":[5]}]}"#
            )
            .is_err()
        );
        assert!(auditable_packages("x", b"{").is_err());
    }

    #[test]
    fn compressed_section_payload() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(JSON.as_bytes()).unwrap();
        let compressed = z.finish().unwrap();
        assert_eq!(inflate(&compressed).unwrap(), JSON.as_bytes());
        assert!(inflate(b"not zlib").is_err());
    }

    /// A minimal ELF64 whose only real section is `.dep-v0` (plus the section-name table).
    fn elf_with_dep_v0(payload: &[u8]) -> Vec<u8> {
        let shstrtab = b"\0.dep-v0\0.shstrtab\0";
        let mut d = vec![0u8; 64];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2;
        d[5] = 1;
        d[6] = 1;
        d[16..18].copy_from_slice(&2u16.to_le_bytes());
        d[18..20].copy_from_slice(&62u16.to_le_bytes());
        d[20..24].copy_from_slice(&1u32.to_le_bytes());
        d[52..54].copy_from_slice(&64u16.to_le_bytes());
        d[54..56].copy_from_slice(&56u16.to_le_bytes());
        d[58..60].copy_from_slice(&64u16.to_le_bytes());
        let payload_off = d.len();
        d.extend_from_slice(payload);
        let str_off = d.len();
        d.extend_from_slice(shstrtab);
        while !d.len().is_multiple_of(8) {
            d.push(0);
        }
        let shoff = d.len();
        let section = |name: u32, ty: u32, off: usize, size: usize| {
            let mut s = vec![0u8; 64];
            s[0..4].copy_from_slice(&name.to_le_bytes());
            s[4..8].copy_from_slice(&ty.to_le_bytes());
            s[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            s[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            s[48..56].copy_from_slice(&1u64.to_le_bytes());
            s
        };
        d.extend(vec![0u8; 64]);
        d.extend(section(1, 1, payload_off, payload.len()));
        d.extend(section(9, 3, str_off, shstrtab.len()));
        d[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        d[60..62].copy_from_slice(&3u16.to_le_bytes());
        d[62..64].copy_from_slice(&2u16.to_le_bytes());
        d
    }

    #[test]
    fn section_in_a_synthesized_elf() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(JSON.as_bytes()).unwrap();
        let elf = elf_with_dep_v0(&z.finish().unwrap());
        let facts = RustBinaryAnalyzer
            .analyze("usr/local/bin/hello", &elf)
            .unwrap();
        let purls: Vec<_> = facts.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:cargo/adler@1.0.2",
                "pkg:cargo/cc@1.0.83",
                "pkg:cargo/hello@0.1.0"
            ]
        );
        assert_eq!(facts.packages[0].found_in, "usr/local/bin/hello");
        // Corrupt payload: an error naming the file.
        let elf = elf_with_dep_v0(b"garbage");
        let err = RustBinaryAnalyzer.analyze("usr/bin/x", &elf).unwrap_err();
        assert_eq!(err.path, "usr/bin/x");
        // Plain binaries without the section, and every truncation: no panic.
        assert!(
            RustBinaryAnalyzer
                .analyze("usr/bin/sh", b"\x7fELF")
                .unwrap()
                .packages
                .is_empty()
        );
        for n in 0..elf.len() {
            let _ = RustBinaryAnalyzer.analyze("usr/bin/x", &elf[..n]);
        }
    }
}
