//! Composer's `composer.lock`: what a PHP project resolved (`packages`) and its dev
//! requirements (`packages-dev`, marked `dev`). A lockfile is not proof of installation (the
//! installed packages are in `vendor/composer/installed.json`, read by [`super::php`]), so its
//! packages are marked with [`super::mark_lockfile`].
//!
//! A `composer.lock` inside an installed package (`vendor/VENDOR/PROJECT/composer.lock`,
//! shipped with that package's sources) says nothing about the image and is not read.

use super::mark_lockfile;
use super::php::composer_package;
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::Value;
use stella_model::Package;

/// `composer.lock` files of PHP projects.
pub struct ComposerLockAnalyzer;

impl Analyzer for ComposerLockAnalyzer {
    fn name(&self) -> &'static str {
        "php-composer-lock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        if file != "composer.lock" {
            return false;
        }
        // Not `…/vendor/VENDOR/PROJECT/…`.
        let dirs: Vec<&str> = dir.split('/').collect();
        !dirs
            .iter()
            .enumerate()
            .any(|(i, d)| *d == "vendor" && i + 2 < dirs.len())
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut packages = parse_composer_lock(path, content)?;
        mark_lockfile(&mut packages);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// The packages of a `composer.lock`, sorted.
pub fn parse_composer_lock(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let root: Value = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| AnalyzerError::new(path, "composer.lock is not a JSON object"))?;
    if !obj.contains_key("packages") && !obj.contains_key("packages-dev") {
        return Err(AnalyzerError::new(
            path,
            "composer.lock has neither \"packages\" nor \"packages-dev\"",
        ));
    }
    let mut out: Vec<Package> = Vec::new();
    for (key, dev) in [("packages", false), ("packages-dev", true)] {
        let list = match obj.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(AnalyzerError::new(
                    path,
                    format!("\"{key}\" is not an array"),
                ));
            }
        };
        for entry in list {
            let mut p = composer_package(path, entry)?;
            p.dev = dev;
            out.push(p);
        }
    }
    // A package in both lists is not dev-only.
    out.sort_by(|a, b| (a.sort_key(), a.dev).cmp(&(b.sort_key(), b.dev)));
    out.dedup_by(|b, a| a.name == b.name && a.version == b.version);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ComposerLockAnalyzer = ComposerLockAnalyzer;

    #[test]
    fn wants_project_lockfiles_only() {
        for p in [
            "var/www/html/composer.lock",
            "composer.lock",
            "srv/vendor/composer.lock",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "var/www/html/vendor/guzzlehttp/guzzle/composer.lock",
            "var/www/html/composer.json",
            "var/www/html/composer.lock.orig",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn packages_and_dev_packages() {
        let lock = br#"{"packages": [{"name": "a/b", "version": "1.0.0", "require": {"c/d": "*"}},
            {"name": "c/d", "version": "2.0.0"}],
            "packages-dev": [{"name": "c/d", "version": "2.0.0"}, {"name": "e/f", "version": "3"}]}"#;
        let facts = A.analyze("app/composer.lock", lock).unwrap();
        let ids: Vec<String> = facts
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{}@{}{}",
                    p.name,
                    p.version,
                    if p.dev { " dev" } else { "" }
                )
            })
            .collect();
        assert_eq!(ids, ["a/b@1.0.0", "c/d@2.0.0", "e/f@3 dev"]);
        for p in &facts.packages {
            assert_eq!(p.properties[super::super::EVIDENCE], "lockfile");
        }
        assert_eq!(facts.packages[0].depends[0].name, "c/d");
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_file() {
        let path = "app/composer.lock";
        for bad in [
            &b""[..],
            b"[]",
            b"{}",
            b"{\"packages\": {}}",
            b"{\"packages\": [{\"version\": \"1\"}]}",
            b"\xff",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
