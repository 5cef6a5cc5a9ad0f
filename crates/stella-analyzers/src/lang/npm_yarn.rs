//! `yarn.lock` of a project directory: yarn 1 (its own indented format) and Berry (yarn 2+,
//! YAML with a `__metadata` entry). See [`super::npm`] for how these packages relate to the
//! installed ones.
//!
//! Only packages resolved from the npm registry are reported, as Trivy does: workspace
//! members, `patch:`, `file:`, `link:`, `portal:`, git and tarball-URL entries carry no
//! registry version an advisory could name (the installed `package.json` reports what they
//! really are). A yarn lockfile does not say which packages are dev-only (only the project's
//! `package.json` does), so none is marked `dev` here.

use super::npm::{EVIDENCE_LOCKFILE, LockPackages, lockfile_project_root, npm_package};
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::Value;
use std::collections::BTreeMap;
use stella_model::Dependency;

pub struct YarnLockAnalyzer;

impl Analyzer for YarnLockAnalyzer {
    fn name(&self) -> &'static str {
        "yarn-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        lockfile_project_root(path, &["yarn.lock"]).is_some()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let berry = text
            .lines()
            .any(|l| l.starts_with("__metadata:") || l.starts_with("\"__metadata\":"));
        let mut out = LockPackages::default();
        if berry {
            parse_berry(path, text, &mut out)?;
        } else {
            parse_v1(path, text, &mut out)?;
        }
        Ok(out.into_facts())
    }
}

/// Splits `name@range` (`@scope/name@range`) at the `@` that ends the name.
fn split_descriptor(d: &str) -> Option<(&str, &str)> {
    let from = usize::from(d.starts_with('@'));
    let at = d[from..].find('@')? + from;
    let (name, range) = (&d[..at], &d[at + 1..]);
    (!name.is_empty()).then_some((name, range))
}

/// The registry package a yarn 1 pattern installs: its own name, or the aliased one of
/// `alias@npm:real@range`. `None` for patterns that do not come from the registry.
fn registry_name_v1(pattern: &str) -> Option<&str> {
    let (name, range) = split_descriptor(pattern)?;
    if let Some(rest) = range.strip_prefix("npm:") {
        return Some(match split_descriptor(rest) {
            Some((real, _)) if !rest.starts_with(|c: char| c.is_ascii_digit()) => real,
            _ => name,
        });
    }
    // Protocols (`file:`, `link:`, `git+https:`, `https:`), GitHub shorthands (`user/repo`)
    // and commit-ish suffixes are not registry ranges.
    if range.contains(':') || range.contains('/') || range.contains('#') {
        return None;
    }
    Some(name)
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

struct V1Entry {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    depends: Vec<String>,
}

fn parse_v1(path: &str, text: &str, out: &mut LockPackages) -> Result<(), AnalyzerError> {
    let mut entries: Vec<V1Entry> = Vec::new();
    let mut section: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let err = |m: &str| AnalyzerError::new(path, format!("line {}: {m}", i + 1));
        if indent == 0 {
            let header = line
                .strip_suffix(':')
                .ok_or_else(|| err("expected an entry header ending in ':'"))?;
            let first = header.split(", ").next().map(unquote).unwrap_or_default();
            if split_descriptor(first).is_none() {
                return Err(err("entry header is not name@range"));
            }
            entries.push(V1Entry {
                line: i + 1,
                name: registry_name_v1(first).map(String::from),
                version: None,
                depends: Vec::new(),
            });
            section = None;
            continue;
        }
        let entry = entries
            .last_mut()
            .ok_or_else(|| err("indented line outside an entry"))?;
        let body = line.trim_start();
        if indent <= 2 {
            if let Some(key) = body.strip_suffix(':') {
                section = Some(unquote(key).to_string());
                continue;
            }
            section = None;
            let (key, value) = split_key_value(body).ok_or_else(|| err("expected key value"))?;
            if key == "version" {
                entry.version = Some(value.to_string());
            }
        } else if matches!(
            section.as_deref(),
            Some("dependencies" | "optionalDependencies")
        ) && let Some((dep, _)) = split_key_value(body)
        {
            entry.depends.push(dep.to_string());
        }
    }
    for e in entries {
        let Some(name) = e.name else { continue };
        let version = e.version.ok_or_else(|| {
            AnalyzerError::new(
                path,
                format!("line {}: entry {name:?} has no version", e.line),
            )
        })?;
        let mut pkg = npm_package(&name, &version, path, EVIDENCE_LOCKFILE);
        pkg.depends = e
            .depends
            .into_iter()
            .map(|name| Dependency { name })
            .collect();
        pkg.depends.sort();
        pkg.depends.dedup();
        out.add(pkg);
    }
    Ok(())
}

/// `key value`, `"key" "value"` or `key: value` (with optional quotes).
fn split_key_value(body: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(rest) = body.strip_prefix('"') {
        let end = rest.find('"')?;
        (&rest[..end], &rest[end + 1..])
    } else {
        let end = body.find([' ', ':'])?;
        (&body[..end], &body[end..])
    };
    let rest = rest.trim_start_matches(':').trim();
    Some((key, unquote(rest)))
}

fn parse_berry(path: &str, text: &str, out: &mut LockPackages) -> Result<(), AnalyzerError> {
    let doc: BTreeMap<String, Value> = serde_saphyr::from_str(text)
        .map_err(|e| AnalyzerError::new(path, format!("invalid YAML: {e}")))?;
    for (key, entry) in &doc {
        if key == "__metadata" {
            continue;
        }
        let Some(entry) = entry.as_object() else {
            return Err(AnalyzerError::new(
                path,
                format!("entry {key:?} is not a mapping"),
            ));
        };
        let Some(resolution) = entry.get("resolution").and_then(Value::as_str) else {
            return Err(AnalyzerError::new(
                path,
                format!("entry {key:?} has no resolution"),
            ));
        };
        let Some((name, reference)) = split_descriptor(resolution) else {
            return Err(AnalyzerError::new(
                path,
                format!("entry {key:?}: resolution {resolution:?} is not name@reference"),
            ));
        };
        if !reference.starts_with("npm:") {
            continue;
        }
        let version = match entry.get("version") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(AnalyzerError::new(
                    path,
                    format!("entry {key:?} has no version"),
                ));
            }
        };
        let mut pkg = npm_package(name, &version, path, EVIDENCE_LOCKFILE);
        pkg.depends = ["dependencies", "optionalDependencies"]
            .iter()
            .filter_map(|f| entry.get(*f).and_then(Value::as_object))
            .flat_map(|m| m.keys())
            .map(|n| Dependency { name: n.clone() })
            .collect();
        pkg.depends.sort();
        pkg.depends.dedup();
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
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect()
    }

    #[test]
    fn v1_entries_with_scopes_multiple_patterns_aliases_and_deps() {
        let lock = "# yarn lockfile v1\n\n\"@babel/x@^7.0.0\", \"@babel/x@^7.4.4\":\n  version \"7.4.4\"\n  dependencies:\n    lodash \"^4.17.11\"\n    \"@s/y\" \"1\"\n\nlodash@^4.17.11:\n  version \"4.17.21\"\n\n\"sw-cjs@npm:string-width@^4.2.0\":\n  version \"4.2.3\"\n\nlocal@file:./local:\n  version \"0.0.1\"\n\ngh@user/repo#abc:\n  version \"1.0.0\"\n";
        let f = YarnLockAnalyzer
            .analyze("app/yarn.lock", lock.as_bytes())
            .unwrap();
        assert_eq!(
            ids(&f),
            vec!["@babel/x@7.4.4", "lodash@4.17.21", "string-width@4.2.3"]
        );
        let deps: Vec<&str> = f.packages[0]
            .depends
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(deps, vec!["@s/y", "lodash"]);
        assert_eq!(f.packages[0].purl, "pkg:npm/%40babel/x@7.4.4");
    }

    #[test]
    fn berry_entries_skip_workspaces_and_patches() {
        let lock = "__metadata:\n  version: 6\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n\n\"ms@npm:^2.1.1, ms@npm:2.1.2\":\n  version: 2.1.2\n  resolution: \"ms@npm:2.1.2\"\n  dependencies:\n    \"@s/x\": ^1\n\n\"fsevents@patch:fsevents@~2.1.2#builtin<compat/fsevents>\":\n  version: 2.1.3\n  resolution: \"fsevents@patch:fsevents@npm%3A2.1.3#builtin<compat/fsevents>::version=2.1.3\"\n";
        let f = YarnLockAnalyzer
            .analyze("yarn.lock", lock.as_bytes())
            .unwrap();
        assert_eq!(ids(&f), vec!["ms@2.1.2"]);
        assert_eq!(f.packages[0].depends[0].name, "@s/x");
    }

    #[test]
    fn wants_project_yarn_locks_only() {
        assert!(YarnLockAnalyzer.wants("srv/app/yarn.lock"));
        assert!(!YarnLockAnalyzer.wants("srv/app/node_modules/x/yarn.lock"));
    }

    #[test]
    fn malformed_yarn_locks_are_errors_naming_the_file() {
        for bad in [
            &b"not a lockfile at all\n"[..],
            b"a@^1:\n  resolved \"x\"\n",
            b"  version \"1\"\n",
            b"__metadata:\n  version: 6\n\"a@npm:1\":\n  version: [\n",
            b"__metadata:\n  version: 6\n\"a@npm:1\": 3\n",
            b"\xff\xfe",
        ] {
            let err = YarnLockAnalyzer.analyze("app/yarn.lock", bad).unwrap_err();
            assert_eq!(err.path, "app/yarn.lock", "{err}");
        }
    }
}
