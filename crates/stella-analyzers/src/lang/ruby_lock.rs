//! Bundler's `Gemfile.lock`: the gems a Ruby project resolved, not proof that they are
//! installed (the installed ones are their gemspecs, read by [`super::ruby`]). Every package
//! read here is marked with [`super::mark_lockfile`].
//!
//! # Format and rules
//! Sections start at column 0 (`GEM`, `GIT`, `PATH`, `PLUGIN SOURCE`, `PLATFORMS`,
//! `DEPENDENCIES`, `RUBY VERSION`, `BUNDLED WITH`, `CHECKSUMS`). In the source sections
//! (`GEM`, `GIT`, `PATH`) the lines under `  specs:` are `    NAME (VERSION[-PLATFORM])` with
//! the spec's dependencies below them at six spaces; the version ends at the first `-`, as in
//! Bundler's own parser. A gem listed once per platform is one package.
//! - `PATH` specs whose `remote` is `.` are the project itself, not a dependency: skipped.
//!   `PLUGIN SOURCE` (Bundler plugins) is not read.
//! - A lockfile inside an installed gem (`…/gems/foo-1.0/Gemfile.lock`, shipped with the gem's
//!   sources) says nothing about the image and is not read.
//! - A non-indented line that is not a section name makes the file malformed.

use super::mark_lockfile;
use super::ruby::gem_package;
use crate::{Analyzer, AnalyzerError, Facts};
use std::collections::BTreeMap;
use stella_model::{Dependency, Package};

/// `Gemfile.lock` files of Ruby projects.
pub struct GemfileLockAnalyzer;

impl Analyzer for GemfileLockAnalyzer {
    fn name(&self) -> &'static str {
        "ruby-gemfile-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        if file != "Gemfile.lock" && file != "gems.locked" {
            return false;
        }
        // Not inside an installed gem: `gems/NAME-VERSION/…` (or Bundler's `bundler/gems/…`).
        let dirs: Vec<&str> = dir.split('/').collect();
        !dirs
            .iter()
            .enumerate()
            .any(|(i, d)| *d == "gems" && i + 1 < dirs.len())
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut packages = parse_gemfile_lock(path, content)?;
        mark_lockfile(&mut packages);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// The packages of a `Gemfile.lock`, sorted by name and version.
pub fn parse_gemfile_lock(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    let text = crate::utf8_text(path, content)?;
    let mut section = String::new();
    let mut remote = String::new();
    let mut in_specs = false;
    let mut seen_section = false;
    // (name, version) → package; the spec a dependency line belongs to.
    let mut found: BTreeMap<(String, String), Package> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;

    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        if indent == 0 {
            if !body.bytes().all(|c| c.is_ascii_uppercase() || c == b' ') {
                return Err(AnalyzerError::new(
                    path,
                    format!("line {}: {body:?} is not a Gemfile.lock section", n + 1),
                ));
            }
            seen_section = true;
            section = body.to_string();
            remote.clear();
            in_specs = false;
            current = None;
            continue;
        }
        if !matches!(section.as_str(), "GEM" | "GIT" | "PATH") {
            continue;
        }
        match indent {
            2 => {
                current = None;
                in_specs = body == "specs:";
                if let Some(r) = body.strip_prefix("remote:") {
                    remote = r.trim().to_string();
                }
            }
            4 if in_specs => {
                current = None;
                if section == "PATH" && remote == "." {
                    continue;
                }
                let (name, inner) = spec_line(body).ok_or_else(|| {
                    AnalyzerError::new(path, format!("line {}: invalid spec {body:?}", n + 1))
                })?;
                let inner = inner.ok_or_else(|| {
                    AnalyzerError::new(
                        path,
                        format!("line {}: spec {name:?} has no version", n + 1),
                    )
                })?;
                // Bundler: the version is everything before the first `-`; the rest is the
                // platform.
                let version = inner.split('-').next().unwrap_or(inner);
                let key = (name.to_string(), version.to_string());
                if !found.contains_key(&key) {
                    let p = gem_package(path, name, version).map_err(|e| {
                        AnalyzerError::new(path, format!("line {}: {}", n + 1, e.message))
                    })?;
                    found.insert(key.clone(), p);
                }
                current = Some(key);
            }
            6 if in_specs => {
                if let (Some(key), Some((dep, _))) = (&current, spec_line(body))
                    && let Some(p) = found.get_mut(key)
                {
                    p.depends.push(Dependency {
                        name: dep.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    if !seen_section {
        return Err(AnalyzerError::new(path, "no Gemfile.lock section"));
    }
    let mut packages: Vec<Package> = found.into_values().collect();
    for p in &mut packages {
        p.normalize();
    }
    Ok(packages)
}

/// `NAME` or `NAME (TEXT)` (a trailing `!` on the name is dropped) → `(NAME, TEXT)`.
fn spec_line(body: &str) -> Option<(&str, Option<&str>)> {
    let (name, rest) = match body.split_once(' ') {
        Some((n, r)) => (n, Some(r.trim())),
        None => (body, None),
    };
    let name = name.trim_end_matches('!');
    if !super::ruby::is_valid_gem_name(name) {
        return None;
    }
    match rest {
        None => Some((name, None)),
        Some(r) => {
            let inner = r.strip_prefix('(')?.strip_suffix(')')?.trim();
            Some((name, Some(inner)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: GemfileLockAnalyzer = GemfileLockAnalyzer;

    #[test]
    fn wants_project_lockfiles_only() {
        for p in [
            "app/Gemfile.lock",
            "Gemfile.lock",
            "srv/gems.locked",
            "srv/gems/Gemfile.lock",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "usr/local/bundle/gems/rack-2.2.4/Gemfile.lock",
            "usr/local/bundle/bundler/gems/foo-abc123/Gemfile.lock",
            "app/Gemfile",
            "app/Gemfile.lock.bak",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn reads_sources_platforms_and_dependencies() {
        let lock = "GIT\n  remote: https://github.com/x/y.git\n  revision: abc\n  specs:\n    \
y (0.1.0)\n      rack\n\nPATH\n  remote: .\n  specs:\n    myapp (1.0.0)\n      rails (~> 7.0)\n\n\
PATH\n  remote: ../shared\n  specs:\n    shared (0.2.0)\n\n\
GEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.13.6-x86_64-linux)\n      \
racc (~> 1.4)\n    nokogiri (1.13.6-arm64-darwin)\n      racc (~> 1.4)\n    racc (1.6.0)\n    \
rack (2.2.4)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  myapp!\n  y!\n\n\
CHECKSUMS\n  rack (2.2.4) sha256=abc\n\nBUNDLED WITH\n   2.5.3\n";
        let facts = A.analyze("app/Gemfile.lock", lock.as_bytes()).unwrap();
        let ids: Vec<String> = facts
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            ids,
            [
                "nokogiri@1.13.6",
                "racc@1.6.0",
                "rack@2.2.4",
                "shared@0.2.0",
                "y@0.1.0"
            ]
        );
        let n = &facts.packages[0];
        assert_eq!(n.purl, "pkg:gem/nokogiri@1.13.6");
        assert_eq!(
            n.depends,
            [Dependency {
                name: "racc".into()
            }]
        );
        assert_eq!(n.properties[super::super::EVIDENCE], "lockfile");
    }

    #[test]
    fn malformed_lockfiles_are_errors_naming_the_file() {
        let path = "app/Gemfile.lock";
        for bad in [
            &b"malformed"[..],
            b"",
            b"GEM\n  specs:\n    rack\n",
            b"GEM\n  specs:\n    rack (2.2.4\n",
            b"GEM\n  specs:\n    ra ck (1)\n",
            b"\xff\xfe",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path, "{bad:?}");
        }
    }
}
