//! NuGet's `packages.lock.json`: the packages a .NET project resolved, for each target
//! framework. A lockfile is not proof of installation (a published app's packages are in its
//! `*.deps.json`, read by [`super::dotnet`]), so its packages are marked with
//! [`super::mark_lockfile`].
//!
//! Every entry of every framework with a `resolved` version is a package (`Direct`,
//! `Transitive`, `CentralTransitive`), except `Project` entries (the solution's own
//! projects). A package resolved the same way for several frameworks is one package, with the
//! union of its dependency names.

use super::dotnet::nuget_package;
use super::mark_lockfile;
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::Value;
use std::collections::BTreeMap;
use stella_model::{Dependency, Package};

/// `packages.lock.json` files of .NET projects.
pub struct NugetLockAnalyzer;

impl Analyzer for NugetLockAnalyzer {
    fn name(&self) -> &'static str {
        "dotnet-nuget-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or(path);
        file == "packages.lock.json"
            && !path.contains("/.nuget/packages/")
            && !path.starts_with(".nuget/packages/")
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut packages = parse_packages_lock(path, content)?;
        mark_lockfile(&mut packages);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// The packages of a `packages.lock.json`, sorted.
pub fn parse_packages_lock(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    let root: Value = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid JSON: {e}")))?;
    let frameworks = root
        .get("dependencies")
        .and_then(Value::as_object)
        .ok_or_else(|| AnalyzerError::new(path, "no \"dependencies\" object"))?;
    let mut found: BTreeMap<(String, String), Package> = BTreeMap::new();
    for (framework, entries) in frameworks {
        let entries = entries.as_object().ok_or_else(|| {
            AnalyzerError::new(path, format!("framework {framework:?} is not an object"))
        })?;
        for (id, entry) in entries {
            if entry.get("type").and_then(Value::as_str) == Some("Project") {
                continue;
            }
            let Some(version) = entry.get("resolved").and_then(Value::as_str) else {
                continue;
            };
            let key = (id.clone(), version.to_string());
            if !found.contains_key(&key) {
                found.insert(key.clone(), nuget_package(path, id, version)?);
            }
            let p = found.get_mut(&key).expect("inserted above");
            if let Some(deps) = entry.get("dependencies").and_then(Value::as_object) {
                p.depends
                    .extend(deps.keys().map(|name| Dependency { name: name.clone() }));
            }
        }
    }
    let mut packages: Vec<Package> = found.into_values().collect();
    for p in &mut packages {
        p.normalize();
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NugetLockAnalyzer = NugetLockAnalyzer;

    #[test]
    fn wants_packages_lock_json() {
        assert!(A.wants("src/App/packages.lock.json"));
        assert!(A.wants("packages.lock.json"));
        assert!(!A.wants("root/.nuget/packages/foo/1.0.0/packages.lock.json"));
        assert!(!A.wants("src/App/package-lock.json"));
    }

    #[test]
    fn merges_frameworks_and_skips_projects() {
        let json = br#"{"version": 1, "dependencies": {
          "net6.0": {"A": {"type": "Direct", "resolved": "1.0.0", "dependencies": {"B": "2.0.0"}},
                     "B": {"type": "Transitive", "resolved": "2.0.0"},
                     "Lib": {"type": "Project", "dependencies": {"A": "1.0.0"}}},
          "net8.0": {"A": {"type": "Direct", "resolved": "1.0.0", "dependencies": {"C": "1"}},
                     "B": {"type": "CentralTransitive", "resolved": "2.1.0"}}}}"#;
        let facts = A.analyze("src/packages.lock.json", json).unwrap();
        let ids: Vec<String> = facts
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(ids, ["A@1.0.0", "B@2.0.0", "B@2.1.0"]);
        let deps: Vec<&str> = facts.packages[0]
            .depends
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(deps, ["B", "C"]);
        assert_eq!(facts.packages[0].purl, "pkg:nuget/A@1.0.0");
        assert_eq!(
            facts.packages[0].properties[super::super::EVIDENCE],
            "lockfile"
        );
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_file() {
        let path = "src/packages.lock.json";
        for bad in [
            &b""[..],
            b"{}",
            b"{\"dependencies\": []}",
            b"{\"dependencies\": {\"net6.0\": 1}}",
            b"{\"dependencies\": {\"net6.0\": {\"A B\": {\"resolved\": \"1\"}}}}",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
