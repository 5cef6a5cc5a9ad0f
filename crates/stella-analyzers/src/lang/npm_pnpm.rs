//! `pnpm-lock.yaml` of a project directory, lockfile versions 5.x, 6.x and 9.x (several YAML
//! documents in one file, as pnpm 11 writes, are read one after the other). See
//! [`super::npm`] for how these packages relate to the installed ones.
//!
//! - 5.x and 6.x: every entry of `packages` (keys `/name/1.0.0_peer@2` and
//!   `/name@1.0.0(peer@2)`), dev from the entry's own `dev` flag (absent means used by both).
//! - 9.x: `packages` no longer says dev or prod, so the packages are those reachable from the
//!   importers through `snapshots`, as pnpm installs them: reachable from `dependencies` or
//!   `optionalDependencies` is prod, reachable only from `devDependencies` is dev. Packages
//!   reachable from nothing (pnpm's own `packageManagerDependencies`) are not reported.
//!
//! Entries without a version (a local directory `file:dir`, a `link:`) are skipped: they are
//! the project's own code, with no registry version (Trivy lists them without a version).

use super::npm::{EVIDENCE_LOCKFILE, LockPackages, lockfile_project_root, npm_package};
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use stella_model::Dependency;

pub struct PnpmLockAnalyzer;

impl Analyzer for PnpmLockAnalyzer {
    fn name(&self) -> &'static str {
        "pnpm-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        lockfile_project_root(path, &["pnpm-lock.yaml"]).is_some()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let docs: Vec<Value> = serde_saphyr::from_multiple(text)
            .map_err(|e| AnalyzerError::new(path, format!("invalid YAML: {e}")))?;
        let mut out = LockPackages::default();
        for doc in &docs {
            let Some(doc) = doc.as_object() else {
                return Err(AnalyzerError::new(path, "a document is not a mapping"));
            };
            let major = lockfile_major(doc).ok_or_else(|| {
                AnalyzerError::new(path, "no lockfileVersion: not a pnpm lockfile")
            })?;
            if major >= 9 {
                parse_v9(path, doc, &mut out)?;
            } else {
                parse_v5_v6(path, doc, &mut out)?;
            }
        }
        Ok(out.into_facts())
    }
}

fn lockfile_major(doc: &Map<String, Value>) -> Option<u64> {
    match doc.get("lockfileVersion")? {
        Value::Number(n) => n.as_f64().map(|f| f as u64),
        Value::String(s) => s.split('.').next()?.trim().parse().ok(),
        _ => None,
    }
}

fn object<'a>(
    path: &str,
    doc: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, AnalyzerError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(AnalyzerError::new(
            path,
            format!("\"{key}\" is not a mapping"),
        )),
    }
}

/// Splits `name@ref` (`@scope/name@ref`) at the `@` that ends the name.
fn split_name(key: &str) -> Option<(&str, &str)> {
    let from = usize::from(key.starts_with('@'));
    let at = key[from..].find('@')? + from;
    (at > 0).then(|| (&key[..at], &key[at + 1..]))
}

fn is_version(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_digit())
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn dep_names(entry: &Map<String, Value>) -> Vec<Dependency> {
    let mut deps: Vec<Dependency> = ["dependencies", "optionalDependencies"]
        .iter()
        .filter_map(|f| entry.get(*f).and_then(Value::as_object))
        .flat_map(|m| m.keys())
        .map(|n| Dependency { name: n.clone() })
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

/// Name and version of a 5.x/6.x `packages` key: `/name/1.0.0_peer`, `/@s/name/1.0.0`,
/// `/name@1.0.0(peer@1)`, `/@s/name@1.0.0`.
fn v5_v6_key(key: &str) -> Option<(String, String)> {
    let key = key.strip_prefix('/')?;
    let key = key.split('(').next()?;
    if let Some((name, version)) = split_name(key)
        && name.matches('/').count() == usize::from(name.starts_with('@'))
        && is_version(version)
    {
        return Some((name.to_string(), version.to_string()));
    }
    let segs: Vec<&str> = key.split('/').collect();
    let (name, version) = match segs.as_slice() {
        [scope, n, v] if scope.starts_with('@') => (format!("{scope}/{n}"), *v),
        [n, v] => (n.to_string(), *v),
        _ => return None,
    };
    let version = version.split('_').next()?;
    is_version(version).then(|| (name, version.to_string()))
}

fn parse_v5_v6(
    path: &str,
    doc: &Map<String, Value>,
    out: &mut LockPackages,
) -> Result<(), AnalyzerError> {
    let Some(packages) = object(path, doc, "packages")? else {
        return Ok(());
    };
    for (key, entry) in packages {
        let Some(entry) = entry.as_object() else {
            return Err(AnalyzerError::new(
                path,
                format!("package {key:?} is not a mapping"),
            ));
        };
        // Tarball and git entries carry their name and version as fields.
        let fields = (
            entry.get("name").and_then(scalar),
            entry.get("version").and_then(scalar),
        );
        let (name, version) = match (fields, v5_v6_key(key)) {
            ((Some(n), Some(v)), _) => (n, v),
            ((None, Some(v)), Some((n, _))) => (n, v),
            (_, Some(id)) => id,
            _ => continue,
        };
        if !is_version(&version) {
            continue;
        }
        let mut pkg = npm_package(&name, &version, path, EVIDENCE_LOCKFILE);
        pkg.dev = entry.get("dev").and_then(Value::as_bool) == Some(true);
        pkg.depends = dep_names(entry);
        out.add(pkg);
    }
    Ok(())
}

fn parse_v9(
    path: &str,
    doc: &Map<String, Value>,
    out: &mut LockPackages,
) -> Result<(), AnalyzerError> {
    let empty = Map::new();
    let packages = object(path, doc, "packages")?.unwrap_or(&empty);
    let snapshots = object(path, doc, "snapshots")?.unwrap_or(&empty);
    let importers = object(path, doc, "importers")?.unwrap_or(&empty);

    // The snapshot a dependency (`name: ref`) points to: `name@ref`, or `ref` itself for an
    // alias (`alias: real@1.0.0`); `link:` refs are workspace members, not packages.
    let resolve = |name: &str, reference: &str| -> Option<String> {
        if reference.starts_with("link:") {
            return None;
        }
        let direct = format!("{name}@{reference}");
        if snapshots.contains_key(&direct) {
            return Some(direct);
        }
        snapshots
            .contains_key(reference)
            .then(|| reference.to_string())
    };

    // Breadth-first from the importers, prod roots first; `reached[key]` is true for prod.
    let mut reached: BTreeMap<String, bool> = BTreeMap::new();
    let mut queue: VecDeque<(String, bool)> = VecDeque::new();
    for prod in [true, false] {
        let fields: &[&str] = if prod {
            &["dependencies", "optionalDependencies"]
        } else {
            &["devDependencies"]
        };
        for importer in importers.values().filter_map(Value::as_object) {
            for field in fields {
                let Some(deps) = importer.get(*field).and_then(Value::as_object) else {
                    continue;
                };
                for (name, spec) in deps {
                    let reference = match spec {
                        Value::Object(o) => o.get("version").and_then(scalar),
                        other => scalar(other),
                    };
                    if let Some(key) = reference.and_then(|r| resolve(name, &r)) {
                        queue.push_back((key, prod));
                    }
                }
            }
        }
        while let Some((key, prod)) = queue.pop_front() {
            match reached.get(&key) {
                Some(true) => continue,
                Some(false) if !prod => continue,
                _ => {}
            }
            reached.insert(key.clone(), prod);
            if let Some(snap) = snapshots.get(&key).and_then(Value::as_object) {
                for field in ["dependencies", "optionalDependencies"] {
                    for (name, r) in snap
                        .get(field)
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(next) = scalar(r).and_then(|r| resolve(name, &r)) {
                            queue.push_back((next, prod));
                        }
                    }
                }
            }
        }
    }

    for (key, prod) in reached {
        // `debug@4.3.4(supports-color@8.1.1)` is the package `debug@4.3.4` with its peers.
        let base = key.split('(').next().unwrap_or(&key);
        let Some((name, reference)) = split_name(base) else {
            continue;
        };
        let info = packages.get(base).and_then(Value::as_object);
        let version = match info.and_then(|i| i.get("version")).and_then(scalar) {
            Some(v) => v,
            None if is_version(reference) => reference.to_string(),
            None => continue,
        };
        let mut pkg = npm_package(name, &version, path, EVIDENCE_LOCKFILE);
        pkg.dev = !prod;
        if let Some(snap) = snapshots.get(&key).and_then(Value::as_object) {
            pkg.depends = dep_names(snap);
        }
        out.add(pkg);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(f: &Facts) -> Vec<String> {
        f.packages
            .iter()
            .map(|p| {
                format!(
                    "{}@{}{}",
                    p.name,
                    p.version,
                    if p.dev { " dev" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn v5_and_v6_keys() {
        assert_eq!(v5_v6_key("/a/1.0.0"), Some(("a".into(), "1.0.0".into())));
        assert_eq!(
            v5_v6_key("/@s/a/1.0.0_react@18.0.0"),
            Some(("@s/a".into(), "1.0.0".into()))
        );
        assert_eq!(
            v5_v6_key("/@s/a@1.0.0(react@18.0.0)"),
            Some(("@s/a".into(), "1.0.0".into()))
        );
        assert_eq!(v5_v6_key("/a@2.0.0"), Some(("a".into(), "2.0.0".into())));
        assert_eq!(v5_v6_key("github.com/u/r/abc"), None);
    }

    #[test]
    fn v6_packages_with_dev_flags() {
        let lock = "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dependencies:\n      b: 2.0.0\n    dev: false\n  /b@2.0.0:\n    dev: false\n  /mocha@10.0.0(x@1.0.0):\n    dev: true\n  /both@1.0.0: {}\n";
        let f = PnpmLockAnalyzer
            .analyze("app/pnpm-lock.yaml", lock.as_bytes())
            .unwrap();
        assert_eq!(
            ids(&f),
            vec!["a@1.0.0", "b@2.0.0", "both@1.0.0", "mocha@10.0.0 dev"]
        );
        assert_eq!(f.packages[0].depends[0].name, "b");
    }

    #[test]
    fn v9_reachability_decides_dev() {
        let lock = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0(p@1.0.0)\n      ws:\n        specifier: workspace:*\n        version: link:packages/ws\n    devDependencies:\n      t:\n        specifier: ^1\n        version: 1.0.0\n      s:\n        specifier: ^1\n        version: sw@1.0.0\npackages:\n  a@1.0.0: {}\n  c@1.0.0: {}\n  t@1.0.0: {}\n  sw@1.0.0: {}\n  unused@1.0.0: {}\nsnapshots:\n  a@1.0.0(p@1.0.0):\n    dependencies:\n      c: 1.0.0\n  c@1.0.0: {}\n  t@1.0.0:\n    dependencies:\n      c: 1.0.0\n  sw@1.0.0: {}\n  unused@1.0.0: {}\n";
        let f = PnpmLockAnalyzer
            .analyze("pnpm-lock.yaml", lock.as_bytes())
            .unwrap();
        assert_eq!(
            ids(&f),
            vec!["a@1.0.0", "c@1.0.0", "sw@1.0.0 dev", "t@1.0.0 dev"]
        );
    }

    #[test]
    fn malformed_pnpm_locks_are_errors_naming_the_file() {
        for bad in [
            &b"lockfileVersion: '9.0'\npackages: [\n"[..],
            b"- just\n- a list\n",
            b"packages: {}\n",
            b"lockfileVersion: '6.0'\npackages: 3\n",
            b"lockfileVersion: 5.4\npackages:\n  /a/1.0.0: 7\n",
            b"\xff",
        ] {
            let err = PnpmLockAnalyzer
                .analyze("app/pnpm-lock.yaml", bad)
                .unwrap_err();
            assert_eq!(err.path, "app/pnpm-lock.yaml", "{err}");
        }
    }
}
