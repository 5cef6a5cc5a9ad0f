//! PHP packages installed by Composer: `<vendor-dir>/composer/installed.json`, which Composer
//! rewrites on every install. Composer 1 writes a JSON array of packages; Composer 2 an object
//! `{"packages": [...], "dev": bool, "dev-package-names": [...]}`, whose named packages are
//! dev-only (installed because `--no-dev` was not given).
//!
//! Each package: `name` (`vendor/project`), `version` exactly as written (`v1.27.0`,
//! `6.5.8`, `dev-main`), licenses (a list or one string), authors as the supplier, and the
//! `require`d packages as dependencies (platform requirements such as `php`, `ext-json`,
//! `lib-icu`, `composer-plugin-api` have no `/` and are not packages). The purl is
//! `pkg:composer/VENDOR/PROJECT@VERSION`.
//!
//! The package objects of `composer.lock` have the same shape: [`super::php_lock`] reads
//! them with [`composer_package`].

use super::npm::{EVIDENCE, EVIDENCE_INSTALLED};
use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::Value;
use std::collections::BTreeSet;
use stella_model::{Dependency, Package, PackageKind};

/// Composer's `installed.json`.
pub struct ComposerInstalledAnalyzer;

impl Analyzer for ComposerInstalledAnalyzer {
    fn name(&self) -> &'static str {
        "php-composer-installed"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        // `vendor/composer/installed.json`; the vendor directory may be renamed (`vendor-dir`).
        path.strip_suffix("composer/installed.json")
            .is_some_and(|d| d.is_empty() || d.ends_with('/'))
            && path.len() > "composer/installed.json".len()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut packages = parse_installed_json(path, content)?;
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

/// Reads a Composer 1 or Composer 2 `installed.json`.
pub fn parse_installed_json(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let root: Value = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid JSON: {e}")))?;
    let (list, dev_names): (&Vec<Value>, BTreeSet<String>) = match &root {
        Value::Array(list) => (list, BTreeSet::new()),
        Value::Object(o) => {
            let list = o.get("packages").and_then(Value::as_array).ok_or_else(|| {
                AnalyzerError::new(path, "installed.json has no \"packages\" array")
            })?;
            let dev = o
                .get("dev-package-names")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            (list, dev)
        }
        _ => {
            return Err(AnalyzerError::new(
                path,
                "installed.json is neither an array nor an object",
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let mut p = composer_package(path, entry)?;
        p.dev = dev_names.contains(&p.name);
        out.push(p);
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(out)
}

/// Whether `name` is a Composer package name `vendor/project`.
fn is_valid_name(name: &str) -> bool {
    let Some((vendor, project)) = name.split_once('/') else {
        return false;
    };
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    part_ok(vendor) && part_ok(project)
}

/// One package object of `installed.json` or `composer.lock`.
pub(crate) fn composer_package(path: &str, entry: &Value) -> Result<Package, AnalyzerError> {
    let obj = entry
        .as_object()
        .ok_or_else(|| AnalyzerError::new(path, "a package entry is not an object"))?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| AnalyzerError::new(path, "a package has no name"))?
        .trim();
    if !is_valid_name(name) {
        return Err(AnalyzerError::new(
            path,
            format!("invalid package name {name:?}"),
        ));
    }
    // Composer names are case-insensitive and written in lower case.
    let name = name.to_ascii_lowercase();
    let version = obj
        .get("version")
        .and_then(Value::as_str)
        .map(str::trim)
        .ok_or_else(|| AnalyzerError::new(path, format!("package {name:?} has no version")))?;
    if version.is_empty() || version.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AnalyzerError::new(
            path,
            format!("package {name:?} has an invalid version {version:?}"),
        ));
    }
    let (vendor, project) = name.split_once('/').unwrap_or(("", &name));
    let err = |e: packageurl::Error| AnalyzerError::new(path, format!("package {name:?}: {e}"));
    let mut purl = packageurl::PackageUrl::new("composer", project).map_err(err)?;
    purl.with_namespace(vendor).map_err(err)?;
    purl.with_version(version).map_err(err)?;
    let mut p = Package::new(PackageKind::Composer, name.clone(), version, path);
    p.purl = purl.to_string();

    p.licenses = match obj.get("license") {
        Some(Value::String(s)) => vec![s.trim().to_string()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    p.licenses.retain(|l| !l.is_empty());
    let authors: Vec<String> = obj
        .get("authors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let name = a.get("name").and_then(Value::as_str).map(str::trim);
            let email = a.get("email").and_then(Value::as_str).map(str::trim);
            match (name, email) {
                (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => Some(format!("{n} <{e}>")),
                (Some(n), _) if !n.is_empty() => Some(n.to_string()),
                (_, Some(e)) if !e.is_empty() => Some(e.to_string()),
                _ => None,
            }
        })
        .collect();
    if !authors.is_empty() {
        p.supplier = Some(authors.join(", "));
    }
    if let Some(require) = obj.get("require").and_then(Value::as_object) {
        p.depends = require
            .keys()
            .filter(|k| is_valid_name(k))
            .map(|k| Dependency {
                name: k.to_ascii_lowercase(),
            })
            .collect();
    }
    p.normalize();
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ComposerInstalledAnalyzer = ComposerInstalledAnalyzer;

    #[test]
    fn wants_installed_json() {
        for p in [
            "var/www/html/vendor/composer/installed.json",
            "vendor/composer/installed.json",
            "app/lib/composer/installed.json",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "composer/installed.json",
            "app/vendor/composer/installed.php",
            "app/vendor/mycomposer/installed.json",
            "app/composer.json",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    const PKG: &str = r#"{"name": "Symfony/Polyfill-Php72", "version": "v1.27.0",
        "license": ["MIT"], "authors": [{"name": "Nicolas Grekas", "email": "p@tchwork.com"},
        {"name": "Symfony Community"}],
        "require": {"php": ">=7.1", "ext-json": "*", "symfony/polyfill-intl-idn": "^1.10"},
        "require-dev": {"phpunit/phpunit": "^9"}}"#;

    #[test]
    fn composer_2_with_dev_packages() {
        let json = format!(
            r#"{{"packages": [{PKG}, {{"name": "pear/log", "version": "1.13.3", "license": "MIT"}}],
            "dev": true, "dev-package-names": ["pear/log"]}}"#
        );
        let path = "app/vendor/composer/installed.json";
        let facts = A.analyze(path, json.as_bytes()).unwrap();
        let [log, sym] = &facts.packages[..] else {
            panic!("{:?}", facts.packages)
        };
        assert_eq!(
            (log.name.as_str(), log.version.as_str(), log.dev),
            ("pear/log", "1.13.3", true)
        );
        assert_eq!(log.licenses, ["MIT"]);
        assert_eq!(log.purl, "pkg:composer/pear/log@1.13.3");
        assert_eq!(sym.name, "symfony/polyfill-php72");
        assert_eq!(sym.purl, "pkg:composer/symfony/polyfill-php72@v1.27.0");
        assert!(!sym.dev);
        assert_eq!(sym.found_in, path);
        assert_eq!(
            sym.supplier.as_deref(),
            Some("Nicolas Grekas <p@tchwork.com>, Symfony Community")
        );
        assert_eq!(
            sym.depends,
            [Dependency {
                name: "symfony/polyfill-intl-idn".into()
            }]
        );
        assert_eq!(sym.properties[EVIDENCE], EVIDENCE_INSTALLED);
    }

    #[test]
    fn composer_1_array() {
        let json = format!("[{PKG}]");
        let facts = A
            .analyze("vendor/composer/installed.json", json.as_bytes())
            .unwrap();
        assert_eq!(facts.packages.len(), 1);
        assert_eq!(facts.packages[0].version, "v1.27.0");
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_file() {
        let path = "app/vendor/composer/installed.json";
        for bad in [
            &b""[..],
            b"{",
            b"42",
            b"{\"dev\": true}",
            b"[1]",
            b"[{\"name\": \"noslash\", \"version\": \"1\"}]",
            b"[{\"name\": \"a/b\"}]",
            b"[{\"name\": \"a/b\", \"version\": \"1 2\"}]",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
