//! .NET applications: the `APP.deps.json` the SDK writes beside a published application. It
//! lists the libraries the app was published with, and the publish step copies their
//! assemblies beside it, so it describes what is installed.
//!
//! # Rules
//! - Packages are the `libraries` of `"type": "package"` (NuGet packages). `project` (the app
//!   and its own projects), `reference` and `runtimepack` (the .NET runtime of a
//!   self-contained app) entries are not NuGet packages.
//! - The target the app runs on is `targets[runtimeTarget.name]` (or the only target). A
//!   package whose entry there has no deployed assets (`runtime`, `native`, `runtimeTargets`,
//!   `resources`) ships no file with the app: a meta-package (`Microsoft.NETCore.App`,
//!   `NETStandard.Library`), or a package whose assemblies the shared framework provides. It
//!   is not installed and is not reported. When no target can be chosen, every package is
//!   reported.
//! - Dependencies are the names under the package's target entry `dependencies`.
//! - The purl is `pkg:nuget/ID@VERSION` with the id as written; the library `sha512` is the
//!   `nuget.sha512` property.

use super::npm::{EVIDENCE, EVIDENCE_INSTALLED};
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::{Map, Value};
use stella_model::{Dependency, Package, PackageKind};

/// `*.deps.json` of published .NET applications.
pub struct DotnetDepsAnalyzer;

impl Analyzer for DotnetDepsAnalyzer {
    fn name(&self) -> &'static str {
        "dotnet-deps"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.len() > ".deps.json".len() && file.ends_with(".deps.json")
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut packages = parse_deps_json(path, content)?;
        for p in &mut packages {
            p.properties
                .insert(EVIDENCE.to_string(), EVIDENCE_INSTALLED.to_string());
        }
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// Whether `id` is a NuGet package id.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// A NuGet package with its purl.
pub(crate) fn nuget_package(path: &str, id: &str, version: &str) -> Result<Package, AnalyzerError> {
    if !is_valid_id(id) {
        return Err(AnalyzerError::new(
            path,
            format!("invalid NuGet package id {id:?}"),
        ));
    }
    if version.is_empty()
        || !version
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+'))
    {
        return Err(AnalyzerError::new(
            path,
            format!("package {id:?} has an invalid version {version:?}"),
        ));
    }
    let err = |e: packageurl::Error| AnalyzerError::new(path, format!("package {id:?}: {e}"));
    let mut purl = packageurl::PackageUrl::new("nuget", id).map_err(err)?;
    purl.with_version(version).map_err(err)?;
    let mut p = Package::new(PackageKind::Nuget, id, version, path);
    p.purl = purl.to_string();
    Ok(p)
}

fn has_assets(entry: &Value) -> bool {
    ["runtime", "native", "runtimeTargets", "resources"]
        .iter()
        .any(|k| {
            entry
                .get(k)
                .and_then(Value::as_object)
                .is_some_and(|o| !o.is_empty())
        })
}

/// The packages of a `.deps.json`, sorted.
pub fn parse_deps_json(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    let root: Value = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| AnalyzerError::new(path, "deps.json is not a JSON object"))?;
    let libraries = match obj.get("libraries") {
        Some(Value::Object(l)) => l,
        None => return Ok(Vec::new()),
        Some(_) => return Err(AnalyzerError::new(path, "\"libraries\" is not an object")),
    };
    let targets: Option<&Map<String, Value>> = obj.get("targets").and_then(Value::as_object);
    let target: Option<&Map<String, Value>> = targets.and_then(|t| {
        obj.get("runtimeTarget")
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .and_then(|name| t.get(name))
            .or_else(|| (t.len() == 1).then(|| t.values().next()).flatten())
            .and_then(Value::as_object)
    });

    let mut out = Vec::new();
    for (key, lib) in libraries {
        if lib.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        let (id, version) = key.split_once('/').ok_or_else(|| {
            AnalyzerError::new(path, format!("library {key:?} is not NAME/VERSION"))
        })?;
        let entry = target.map(|t| t.get(key));
        if entry.is_some_and(|e| !e.is_some_and(has_assets)) {
            continue;
        }
        let mut p = nuget_package(path, id, version)?;
        if let Some(sha) = lib
            .get("sha512")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            p.properties
                .insert("nuget.sha512".to_string(), sha.to_string());
        }
        if let Some(deps) = entry
            .flatten()
            .and_then(|e| e.get("dependencies"))
            .and_then(Value::as_object)
        {
            p.depends = deps
                .keys()
                .map(|name| Dependency { name: name.clone() })
                .collect();
        }
        p.normalize();
        out.push(p);
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: DotnetDepsAnalyzer = DotnetDepsAnalyzer;

    #[test]
    fn wants_deps_json() {
        assert!(A.wants("app/MyApp.deps.json"));
        assert!(A.wants("MyApp.deps.json"));
        assert!(!A.wants("app/.deps.json"));
        assert!(!A.wants("app/MyApp.runtimeconfig.json"));
        assert!(!A.wants("app/deps.json"));
    }

    #[test]
    fn only_packages_with_deployed_assets() {
        let json = br#"{"runtimeTarget": {"name": "t"},
          "targets": {"t": {
            "App/1.0.0": {"dependencies": {"A": "1.0.0"}, "runtime": {"App.dll": {}}},
            "A/1.0.0": {"dependencies": {"B": "2.0.0", "Meta": "1"}, "runtime": {"lib/A.dll": {}}},
            "B/2.0.0": {"native": {"runtimes/linux-x64/native/b.so": {}}},
            "Meta/1": {"dependencies": {"A": "1.0.0"}},
            "Compile/1": {"compile": {"ref/C.dll": {}}}
          }, "other": {"Other/1": {"runtime": {"o.dll": {}}}}},
          "libraries": {
            "App/1.0.0": {"type": "project"},
            "A/1.0.0": {"type": "package", "sha512": "sha512-abc"},
            "B/2.0.0": {"type": "package", "sha512": ""},
            "Meta/1": {"type": "package"},
            "Compile/1": {"type": "package"},
            "Missing/1": {"type": "package"},
            "Other/1": {"type": "package"},
            "runtimepack.X/8.0.0": {"type": "runtimepack"}
          }}"#;
        let path = "app/App.deps.json";
        let facts = A.analyze(path, json).unwrap();
        let ids: Vec<String> = facts
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(ids, ["A@1.0.0", "B@2.0.0"]);
        let a = &facts.packages[0];
        assert_eq!(a.purl, "pkg:nuget/A@1.0.0");
        assert_eq!(a.kind, PackageKind::Nuget);
        assert_eq!(a.properties["nuget.sha512"], "sha512-abc");
        assert_eq!(a.properties[EVIDENCE], EVIDENCE_INSTALLED);
        let deps: Vec<&str> = a.depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["B", "Meta"]);
        assert!(!facts.packages[1].properties.contains_key("nuget.sha512"));
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_file() {
        let path = "app/App.deps.json";
        for bad in [
            &b""[..],
            b"[]",
            b"{\"libraries\": []}",
            b"{\"libraries\": {\"NoVersion\": {\"type\": \"package\"}}}",
            b"{\"libraries\": {\"Bad Id/1.0\": {\"type\": \"package\"}}}",
            b"{\"libraries\": {\"A/1 0\": {\"type\": \"package\"}}}",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
