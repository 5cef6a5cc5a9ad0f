//! npm lockfiles: `package-lock.json` (lockfile versions 1, 2 and 3) and
//! `npm-shrinkwrap.json`, in a project directory (not inside `node_modules`). See
//! [`super::npm`] for how their packages relate to installed ones.
//!
//! Version 2 and 3 files are read from `packages` (keyed by install path, the same tree
//! `npm ci` lays out); version 1 from the nested `dependencies`. Workspace links
//! (`"link": true`) name the workspace member they point at; links without a target are
//! skipped. Entries without a registry version (`file:` or git specs in version 1) are
//! skipped: their version is not one an advisory could name.

use super::npm::{
    EVIDENCE_LOCKFILE, LockPackages, dependency_names, licenses_of, lockfile_project_root,
    npm_package, parse_json_object,
};
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::{Map, Value};
use stella_model::Dependency;

pub struct NpmLockAnalyzer;

const NAMES: &[&str] = &["package-lock.json", "npm-shrinkwrap.json"];
/// Deeper `dependencies` nesting than this in a version 1 file is refused, not recursed.
const MAX_DEPTH: usize = 64;

impl Analyzer for NpmLockAnalyzer {
    fn name(&self) -> &'static str {
        "npm-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        lockfile_project_root(path, NAMES).is_some()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let lock = parse_json_object(path, content)?;
        let mut out = LockPackages::default();
        match lock.get("packages") {
            Some(Value::Object(packages)) => parse_packages(path, packages, &mut out),
            Some(_) => return Err(AnalyzerError::new(path, "\"packages\" is not an object")),
            None => match lock.get("dependencies") {
                Some(Value::Object(deps)) => parse_v1(path, deps, 0, &mut out)?,
                Some(_) => {
                    return Err(AnalyzerError::new(
                        path,
                        "\"dependencies\" is not an object",
                    ));
                }
                None => {
                    if lock.get("lockfileVersion").is_none() {
                        return Err(AnalyzerError::new(
                            path,
                            "no lockfileVersion, packages or dependencies: not an npm lockfile",
                        ));
                    }
                }
            },
        }
        Ok(out.into_facts())
    }
}

fn is_dev(entry: &Map<String, Value>) -> bool {
    let flag = |k: &str| entry.get(k).and_then(Value::as_bool) == Some(true);
    flag("dev") || flag("devOptional")
}

/// The package name of an install path: what follows its last `node_modules/`.
fn name_from_path(path: &str) -> Option<&str> {
    let i = path.rfind("node_modules/")?;
    let name = &path[i + "node_modules/".len()..];
    (!name.is_empty()).then_some(name)
}

fn parse_packages(path: &str, packages: &Map<String, Value>, out: &mut LockPackages) {
    for (key, entry) in packages {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        // The root project ("") and workspace members ("packages/a") are the project's own
        // code; members are reported through the `node_modules/<name>` link to them.
        let Some(dir_name) = name_from_path(key) else {
            continue;
        };
        let (target, name) = if entry.get("link").and_then(Value::as_bool) == Some(true) {
            let Some(target) = entry
                .get("resolved")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .and_then(|r| packages.get(r))
                .and_then(Value::as_object)
            else {
                continue;
            };
            (target, dir_name)
        } else {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(dir_name);
            (entry, name)
        };
        let Some(version) = target.get("version").and_then(Value::as_str) else {
            continue;
        };
        let mut pkg = npm_package(name, version, path, EVIDENCE_LOCKFILE);
        pkg.dev = is_dev(entry);
        pkg.licenses = licenses_of(target);
        pkg.depends = dependency_names(
            target,
            &["dependencies", "optionalDependencies", "peerDependencies"],
        );
        out.add(pkg);
    }
}

fn parse_v1(
    path: &str,
    deps: &Map<String, Value>,
    depth: usize,
    out: &mut LockPackages,
) -> Result<(), AnalyzerError> {
    if depth > MAX_DEPTH {
        return Err(AnalyzerError::new(
            path,
            format!("dependencies nested deeper than {MAX_DEPTH}"),
        ));
    }
    for (name, entry) in deps {
        let Some(entry) = entry.as_object() else {
            return Err(AnalyzerError::new(
                path,
                format!("dependency {name:?} is not an object"),
            ));
        };
        if let Some(version) = entry.get("version").and_then(Value::as_str)
            && !version.contains(':')
        {
            let mut pkg = npm_package(name, version, path, EVIDENCE_LOCKFILE);
            pkg.dev = is_dev(entry);
            if let Some(Value::Object(requires)) = entry.get("requires") {
                pkg.depends = requires
                    .keys()
                    .map(|n| Dependency { name: n.clone() })
                    .collect();
                pkg.depends.sort();
            }
            out.add(pkg);
        }
        if let Some(Value::Object(nested)) = entry.get("dependencies") {
            parse_v1(path, nested, depth + 1, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(f: &Facts) -> Vec<(String, String, bool)> {
        f.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.dev))
            .collect()
    }

    #[test]
    fn wants_project_lockfiles_only() {
        let a = NpmLockAnalyzer;
        assert!(a.wants("app/package-lock.json"));
        assert!(a.wants("package-lock.json"));
        assert!(a.wants("srv/app/npm-shrinkwrap.json"));
        assert!(!a.wants("app/node_modules/x/package-lock.json"));
        assert!(!a.wants("app/node_modules/.package-lock.json"));
        assert!(!a.wants("app/package-lock.json.orig"));
    }

    #[test]
    fn v3_packages_nested_scoped_aliased_and_dev() {
        let json = br#"{"lockfileVersion":3,"packages":{
            "":{"name":"app","dependencies":{"a":"^1"}},
            "node_modules/a":{"version":"1.0.0","dependencies":{"b":"^2"},"license":"MIT"},
            "node_modules/a/node_modules/b":{"version":"2.0.0"},
            "node_modules/b":{"version":"3.0.0","dev":true},
            "node_modules/@s/c":{"version":"0.1.0","devOptional":true},
            "node_modules/alias":{"name":"real","version":"5.0.0"},
            "node_modules/nover":{"optional":true}
        }}"#;
        let f = NpmLockAnalyzer
            .analyze("app/package-lock.json", json)
            .unwrap();
        let s = |n: &str, v: &str, d| (n.to_string(), v.to_string(), d);
        assert_eq!(
            ids(&f),
            vec![
                s("@s/c", "0.1.0", true),
                s("a", "1.0.0", false),
                s("b", "2.0.0", false),
                s("b", "3.0.0", true),
                s("real", "5.0.0", false),
            ]
        );
        let a = &f.packages[1];
        assert_eq!(a.licenses, vec!["MIT"]);
        assert_eq!(a.depends, vec![Dependency { name: "b".into() }]);
        assert_eq!(a.properties["stella:evidence"], "lockfile");
    }

    #[test]
    fn same_package_dev_only_when_dev_everywhere() {
        let json = br#"{"lockfileVersion":2,"packages":{
            "node_modules/x/node_modules/ms":{"version":"2.0.0","dev":true},
            "node_modules/y/node_modules/ms":{"version":"2.0.0"}
        }}"#;
        let f = NpmLockAnalyzer.analyze("package-lock.json", json).unwrap();
        assert_eq!(ids(&f), vec![("ms".into(), "2.0.0".into(), false)]);
    }

    #[test]
    fn v1_nested_dependencies_skip_non_registry_versions() {
        let json = br#"{"lockfileVersion":1,"dependencies":{
            "a":{"version":"1.0.0","requires":{"b":"^1"},"dependencies":{"b":{"version":"1.1.0"}}},
            "local":{"version":"file:packages/local"},
            "d":{"version":"4.0.0","dev":true}
        }}"#;
        let f = NpmLockAnalyzer.analyze("package-lock.json", json).unwrap();
        let names: Vec<_> = ids(&f);
        assert_eq!(
            names,
            vec![
                ("a".into(), "1.0.0".into(), false),
                ("b".into(), "1.1.0".into(), false),
                ("d".into(), "4.0.0".into(), true),
            ]
        );
    }

    #[test]
    fn malformed_lockfiles_are_errors_naming_the_file() {
        for bad in [
            &b"{\"lockfileVersion\": 3, \"packages\": {"[..],
            br#"{"packages": []}"#,
            br#"{"dependencies": {"a": 1}}"#,
            br#"{"hello": "world"}"#,
        ] {
            let err = NpmLockAnalyzer
                .analyze("app/package-lock.json", bad)
                .unwrap_err();
            assert_eq!(err.path, "app/package-lock.json");
        }
    }
}
