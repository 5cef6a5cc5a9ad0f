//! `Cargo.lock`, versions 1 to 4: every `[[package]]` is a crate with its source, checksum
//! (inline from v2, in `[metadata]` in v1) and the names of its dependencies.
//!
//! Wants: any file named `Cargo.lock`.

use super::rust::cargo_package;
use crate::{Analyzer, AnalyzerError, Facts};
use serde::Deserialize;
use std::collections::BTreeMap;
use stella_model::{Dependency, Package};

pub struct CargoLockAnalyzer;

impl Analyzer for CargoLockAnalyzer {
    fn name(&self) -> &'static str {
        "cargo-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        path == "Cargo.lock" || path.ends_with("/Cargo.lock")
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let mut packages = parse_cargo_lock(path, text)?;
        super::mark_lockfile(&mut packages);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    package: Vec<LockPackage>,
    #[serde(default)]
    metadata: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// The packages of a `Cargo.lock`, in file order.
pub fn parse_cargo_lock(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let lock: Lock = toml::from_str(text)
        .map_err(|e| AnalyzerError::new(path, format!("bad Cargo.lock: {e}")))?;
    let format = lock.version.unwrap_or(1);
    let mut out = Vec::with_capacity(lock.package.len());
    for pkg in lock.package {
        let mut p = cargo_package(path, &pkg.name, &pkg.version);
        let checksum = pkg.checksum.clone().or_else(|| {
            // v1: `"checksum <name> <version> (<source>)" = "<sha256>"` in [metadata].
            let source = pkg.source.as_deref()?;
            let key = format!("checksum {} {} ({source})", pkg.name, pkg.version);
            lock.metadata.get(&key)?.as_str().map(String::from)
        });
        if let Some(s) = pkg.source {
            p.properties.insert("cargo.source".to_string(), s);
        }
        if let Some(c) = checksum {
            p.properties.insert("cargo.checksum".to_string(), c);
        }
        p.properties
            .insert("cargo.lock_version".to_string(), format.to_string());
        // `name`, `name version` or `name version (source)`.
        p.depends = pkg
            .dependencies
            .iter()
            .filter_map(|d| d.split_whitespace().next())
            .map(|name| Dependency {
                name: name.to_string(),
            })
            .collect();
        p.normalize();
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_metadata_checksums_and_v3_inline() {
        let v1 = r#"
[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "serde 1.0.1 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "serde"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum serde 1.0.1 (registry+https://github.com/rust-lang/crates.io-index)" = "abc"
"#;
        let p = parse_cargo_lock("Cargo.lock", v1).unwrap();
        assert_eq!(p[0].depends[0].name, "serde");
        assert_eq!(p[1].purl, "pkg:cargo/serde@1.0.1");
        assert_eq!(p[1].properties["cargo.checksum"], "abc");
        assert_eq!(p[1].properties["cargo.lock_version"], "1");
        let v4 = "version = 4\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ff\"\ndependencies = [\"b\", \"c 2.0.0\"]\n";
        let p = parse_cargo_lock("x/Cargo.lock", v4).unwrap();
        assert_eq!(p[0].properties["cargo.checksum"], "ff");
        let deps: Vec<_> = p[0].depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["b", "c"]);
        assert!(parse_cargo_lock("x/Cargo.lock", "[[package]]\nname = 1\n").is_err());
    }
}
