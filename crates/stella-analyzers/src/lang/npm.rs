//! npm packages installed in `node_modules`, and the rule that relates them to lockfiles.
//!
//! The ground truth of what an image holds is the `package.json` at the top of each package
//! directory under `node_modules` (nested `node_modules/a/node_modules/b`, scoped
//! `node_modules/@scope/name`, pnpm's store `node_modules/.pnpm/<id>/node_modules/<name>`).
//! Manifests deeper inside a package (`node_modules/x/lib/package.json`, test fixtures under
//! `node_modules/x/test/…`) are not packages and are never read.
//!
//! Lockfiles (`package-lock.json`, `npm-shrinkwrap.json`, `yarn.lock`, `pnpm-lock.yaml`) are
//! read by their own analyzers ([`super::npm_lock`], [`super::npm_yarn`], [`super::npm_pnpm`])
//! only where they sit in a project directory: never inside `node_modules`, where a lockfile is
//! part of a published package and says nothing about what was installed. Their packages carry
//! `properties["stella:evidence"] = "lockfile"`; installed ones carry `"installed"`.
//!
//! # Lockfiles versus installed packages
//!
//! An analyzer sees one file, so the rule is applied after the layers are merged, by
//! [`reconcile`]:
//! - A project directory that has an installed `node_modules` is described by what is
//!   installed. Its lockfile packages are dropped (a lockfile also lists packages that were
//!   never installed: optional packages for other platforms, dev dependencies pruned by
//!   `npm ci --omit=dev`). The lockfile still contributes what `package.json` cannot say: an
//!   installed package whose name and version the lockfile marks as dev-only (in every place
//!   it appears) is marked `dev`.
//! - A lockfile whose project has nothing installed describes code that is not in the image.
//!   For container images Stella does what Trivy (its npm/yarn/pnpm lockfile analyzers run for
//!   `fs`/`repo` targets, `node-pkg` for images) and Syft (`javascript-lock-cataloger` for
//!   directories, `javascript-package-cataloger` for images) both do: such packages are not
//!   reported. For a source-tree scan (a checkout, not a root filesystem) the caller keeps
//!   them, with their `lockfile` evidence, as those tools do for directories.

use crate::{Analyzer, AnalyzerError, Facts};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{Dependency, Package, PackageKind};

/// The property naming how a package is known: `installed` or `lockfile`.
pub const EVIDENCE: &str = "stella:evidence";
pub const EVIDENCE_INSTALLED: &str = "installed";
pub const EVIDENCE_LOCKFILE: &str = "lockfile";

/// Installed npm packages: `**/node_modules/**/package.json` at the top of a package dir.
pub struct NpmInstalledAnalyzer;

impl Analyzer for NpmInstalledAnalyzer {
    fn name(&self) -> &'static str {
        "npm-installed"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        installed_project_root(path).is_some()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let manifest = parse_json_object(path, content)?;
        let mut facts = Facts::default();
        if let Some(pkg) = installed_package(path, &manifest)? {
            facts.packages.push(pkg);
        }
        Ok(facts)
    }
}

/// The project directory of an installed manifest (the path before its first `node_modules`,
/// `""` for `node_modules` at the root), or `None` when `path` is not the `package.json` at the
/// top of an installed package directory.
pub fn installed_project_root(path: &str) -> Option<&str> {
    let segs: Vec<&str> = path.split('/').collect();
    if segs.last() != Some(&"package.json") {
        return None;
    }
    let first = segs.iter().position(|s| *s == "node_modules")?;
    let last = segs.len() - 1;
    let mut j = first;
    loop {
        // segs[j] == "node_modules"
        j += 1;
        let seg = *segs.get(j)?;
        if seg == ".pnpm" {
            // pnpm's virtual store: node_modules/.pnpm/<name@version>/node_modules/<name>
            let id = *segs.get(j + 1)?;
            if id.is_empty() || j + 1 >= last || segs.get(j + 2) != Some(&"node_modules") {
                return None;
            }
            j += 2;
            continue;
        }
        if seg.is_empty() || seg.starts_with('.') || j >= last {
            return None;
        }
        if seg.starts_with('@') {
            let name = *segs.get(j + 1)?;
            if j + 1 >= last || name.is_empty() || name.starts_with('.') {
                return None;
            }
            j += 2;
        } else {
            j += 1;
        }
        if j == last {
            break;
        }
        if segs[j] != "node_modules" {
            return None;
        }
    }
    let root_len = segs[..first].iter().map(|s| s.len() + 1).sum::<usize>();
    Some(path[..root_len].trim_end_matches('/'))
}

/// The project directory of a lockfile: its parent directory, when the lockfile is named
/// `one of names` and is not inside `node_modules`.
pub(crate) fn lockfile_project_root<'a>(path: &'a str, names: &[&str]) -> Option<&'a str> {
    let (dir, file) = match path.rsplit_once('/') {
        Some((d, f)) => (d, f),
        None => ("", path),
    };
    if !names.contains(&file) || path.split('/').any(|s| s == "node_modules") {
        return None;
    }
    Some(dir)
}

pub(crate) fn parse_json_object(
    path: &str,
    content: &[u8],
) -> Result<serde_json::Map<String, Value>, AnalyzerError> {
    let value: Value = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid JSON: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(AnalyzerError::new(path, "not a JSON object")),
    }
}

fn installed_package(
    path: &str,
    manifest: &serde_json::Map<String, Value>,
) -> Result<Option<Package>, AnalyzerError> {
    // A manifest without a name or a version is not a published package (a stub, a
    // workspace placeholder): nothing to report, and not an error.
    let (Some(name), Some(version)) = (
        manifest.get("name").and_then(Value::as_str),
        manifest.get("version").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    let (name, version) = (name.trim(), version.trim());
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    if !valid_name(name) {
        return Err(AnalyzerError::new(
            path,
            format!("invalid package name {name:?}"),
        ));
    }
    let mut pkg = npm_package(name, version, path, EVIDENCE_INSTALLED);
    pkg.licenses = licenses_of(manifest);
    pkg.supplier = manifest.get("author").and_then(person);
    pkg.depends = dependency_names(
        manifest,
        &["dependencies", "optionalDependencies", "peerDependencies"],
    );
    // npm 5 and 6 recorded how a package got installed in its manifest.
    pkg.dev = manifest.get("_development").and_then(Value::as_bool) == Some(true);
    Ok(Some(pkg))
}

/// npm's rules for a name, loosely: at most one scope, no whitespace or path tricks.
pub(crate) fn valid_name(name: &str) -> bool {
    let bare = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, n)) if !scope.is_empty() && !n.is_empty() && !n.contains('/') => n,
            _ => return false,
        },
        None if !name.contains('/') => name,
        None => return false,
    };
    !bare.starts_with('.')
        && !bare.starts_with('_')
        && name.len() <= 214
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\\' | '"' | '<' | '>'))
}

/// A new npm package with its purl and evidence property.
pub(crate) fn npm_package(name: &str, version: &str, found_in: &str, evidence: &str) -> Package {
    let mut pkg = Package::new(PackageKind::Npm, name, version, found_in);
    pkg.purl = npm_purl(name, version);
    pkg.properties
        .insert(EVIDENCE.to_string(), evidence.to_string());
    pkg
}

/// `pkg:npm/%40scope/name@version`, encoded by the `packageurl` crate.
pub fn npm_purl(name: &str, version: &str) -> String {
    let (namespace, bare) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    };
    let Ok(mut purl) = packageurl::PackageUrl::new("npm", bare) else {
        return String::new();
    };
    if let Some(ns) = namespace
        && purl.with_namespace(ns).is_err()
    {
        return String::new();
    }
    if purl.with_version(version).is_err() {
        return String::new();
    }
    purl.to_string()
}

/// Declared licenses: `license` or the legacy `licenses`, each a string, a `{type}` object or
/// an array of those.
pub(crate) fn licenses_of(obj: &serde_json::Map<String, Value>) -> Vec<String> {
    let one = |v: &Value| -> Option<String> {
        let s = match v {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("type").and_then(Value::as_str)?,
            _ => return None,
        };
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    let mut out: Vec<String> = Vec::new();
    for field in ["license", "licenses"] {
        match obj.get(field) {
            Some(Value::Array(list)) => out.extend(list.iter().filter_map(one)),
            Some(v) => out.extend(one(v)),
            None => {}
        }
    }
    out.dedup();
    out
}

/// A person field (`author`): `"Name <mail> (url)"` as written, or `{name, email}`.
fn person(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Object(o) => {
            let name = o.get("name").and_then(Value::as_str)?.trim();
            match o.get("email").and_then(Value::as_str) {
                Some(mail) if !mail.trim().is_empty() => format!("{name} <{}>", mail.trim()),
                _ => name.to_string(),
            }
        }
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// The keys of the named dependency maps, deduplicated and sorted.
pub(crate) fn dependency_names(
    obj: &serde_json::Map<String, Value>,
    fields: &[&str],
) -> Vec<Dependency> {
    let names: BTreeSet<&str> = fields
        .iter()
        .filter_map(|f| obj.get(*f).and_then(Value::as_object))
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    names
        .into_iter()
        .map(|name| Dependency {
            name: name.to_string(),
        })
        .collect()
}

/// Packages of one lockfile, deduplicated by name and version: a package that appears at
/// several places is dev only when it is dev everywhere; dependency names are united.
#[derive(Default)]
pub(crate) struct LockPackages {
    by_id: BTreeMap<(String, String), Package>,
}

impl LockPackages {
    pub fn add(&mut self, pkg: Package) {
        match self.by_id.get_mut(&(pkg.name.clone(), pkg.version.clone())) {
            Some(seen) => {
                seen.dev &= pkg.dev;
                seen.depends.extend(pkg.depends);
                seen.depends.sort();
                seen.depends.dedup();
                if seen.licenses.is_empty() {
                    seen.licenses = pkg.licenses;
                }
            }
            None => {
                self.by_id
                    .insert((pkg.name.clone(), pkg.version.clone()), pkg);
            }
        }
    }
    pub fn into_facts(self) -> Facts {
        Facts {
            packages: self.by_id.into_values().collect(),
            ..Facts::default()
        }
    }
}

/// Applies the lockfile rule of this module's documentation to an image's merged packages.
/// `keep_uninstalled_lockfiles` is `false` for images (nothing that is not installed is
/// reported) and `true` for a source-tree scan. Packages of other kinds pass through.
pub fn reconcile(packages: Vec<Package>, keep_uninstalled_lockfiles: bool) -> Vec<Package> {
    let is_lock = |p: &Package| {
        p.kind == PackageKind::Npm
            && p.properties.get(EVIDENCE).map(String::as_str) == Some(EVIDENCE_LOCKFILE)
    };
    let lock_root = |p: &Package| -> String {
        p.found_in
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    };
    // Projects with something installed, and the dev flag every lockfile of a project gives
    // each name@version (dev only if dev in all of them).
    let installed_roots: BTreeSet<String> = packages
        .iter()
        .filter(|p| p.kind == PackageKind::Npm && !is_lock(p))
        .filter_map(|p| installed_project_root(&p.found_in).map(str::to_string))
        .collect();
    let mut lock_dev: BTreeMap<(String, String, String), bool> = BTreeMap::new();
    for p in packages.iter().filter(|p| is_lock(p)) {
        let key = (lock_root(p), p.name.clone(), p.version.clone());
        let dev = lock_dev.entry(key).or_insert(true);
        *dev &= p.dev;
    }
    packages
        .into_iter()
        .filter_map(|mut p| {
            if is_lock(&p) {
                let keep = !installed_roots.contains(&lock_root(&p)) && keep_uninstalled_lockfiles;
                return keep.then_some(p);
            }
            if p.kind == PackageKind::Npm
                && !p.dev
                && let Some(root) = installed_project_root(&p.found_in)
                && lock_dev
                    .get(&(root.to_string(), p.name.clone(), p.version.clone()))
                    .copied()
                    == Some(true)
            {
                p.dev = true;
            }
            Some(p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_top_level_manifests_of_installed_packages_only() {
        let a = NpmInstalledAnalyzer;
        for yes in [
            "app/node_modules/express/package.json",
            "node_modules/@babel/core/package.json",
            "usr/local/lib/node_modules/npm/package.json",
            "usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json",
            "app/node_modules/a/node_modules/b/node_modules/@s/c/package.json",
            "app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json",
            "app/node_modules/.pnpm/@types+node@20.0.0/node_modules/@types/node/package.json",
        ] {
            assert!(a.wants(yes), "{yes}");
        }
        for no in [
            "app/package.json",
            "package.json",
            "app/node_modules/package.json",
            "app/node_modules/x/lib/package.json",
            "app/node_modules/x/test/fixtures/node_modules/y/package.json",
            "app/node_modules/@scope/package.json",
            "app/node_modules/.bin/package.json",
            "app/node_modules/.pnpm/node_modules/x/package.json",
            "app/node_modules/x/package.json.bak",
            "app/node_modules/.package-lock.json",
        ] {
            assert!(!a.wants(no), "{no}");
        }
        assert_eq!(
            installed_project_root("srv/app/node_modules/a/node_modules/b/package.json"),
            Some("srv/app")
        );
        assert_eq!(
            installed_project_root("node_modules/a/package.json"),
            Some("")
        );
    }

    #[test]
    fn reads_an_installed_manifest() {
        let json = br#"{"name":"@babel/core","version":"7.24.0","license":"MIT",
            "author":{"name":"The Babel Team","email":"team@babeljs.io"},
            "dependencies":{"debug":"^4","@babel/types":"^7"},
            "optionalDependencies":{"fsevents":"*"},
            "devDependencies":{"jest":"*"}}"#;
        let path = "app/node_modules/@babel/core/package.json";
        let facts = NpmInstalledAnalyzer.analyze(path, json).unwrap();
        let [p] = facts.packages.as_slice() else {
            panic!("one package")
        };
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("@babel/core", "7.24.0")
        );
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(p.licenses, vec!["MIT"]);
        assert_eq!(
            p.supplier.as_deref(),
            Some("The Babel Team <team@babeljs.io>")
        );
        let deps: Vec<&str> = p.depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, vec!["@babel/types", "debug", "fsevents"]);
        assert_eq!(p.found_in, path);
        assert!(!p.dev);
        assert_eq!(p.properties[EVIDENCE], EVIDENCE_INSTALLED);
    }

    #[test]
    fn legacy_licenses_and_string_author() {
        let json =
            br#"{"name":"old","version":"0.1.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}],
            "author":"Jane <j@x.org>","_development":true}"#;
        let facts = NpmInstalledAnalyzer
            .analyze("node_modules/old/package.json", json)
            .unwrap();
        let p = &facts.packages[0];
        assert_eq!(p.licenses, vec!["MIT", "Apache-2.0"]);
        assert_eq!(p.supplier.as_deref(), Some("Jane <j@x.org>"));
        assert!(p.dev, "npm 6 marked dev installs with _development");
        assert_eq!(p.purl, "pkg:npm/old@0.1.0");
    }

    #[test]
    fn manifest_without_version_is_no_package() {
        let facts = NpmInstalledAnalyzer
            .analyze("node_modules/x/package.json", br#"{"name":"x"}"#)
            .unwrap();
        assert!(facts.packages.is_empty());
    }

    #[test]
    fn malformed_manifest_is_an_error_naming_the_file() {
        let path = "app/node_modules/x/package.json";
        for bad in [
            &b"{\"name\": \"x\", "[..],
            b"[1,2]",
            b"\xff\xfe",
            &[b'['; 100_000][..],
        ] {
            let err = NpmInstalledAnalyzer.analyze(path, bad).unwrap_err();
            assert_eq!(err.path, path);
        }
        let err = NpmInstalledAnalyzer
            .analyze(path, br#"{"name":"../../etc","version":"1.0.0"}"#)
            .unwrap_err();
        assert!(err.message.contains("invalid package name"), "{err}");
    }

    #[test]
    fn purls_encode_scopes() {
        assert_eq!(
            npm_purl("@types/node", "20.1.0"),
            "pkg:npm/%40types/node@20.1.0"
        );
        assert_eq!(npm_purl("lodash", "4.17.21"), "pkg:npm/lodash@4.17.21");
    }

    fn pkg(name: &str, version: &str, path: &str, evidence: &str, dev: bool) -> Package {
        let mut p = npm_package(name, version, path, evidence);
        p.dev = dev;
        p
    }

    #[test]
    fn reconcile_prefers_installed_and_takes_dev_from_lockfile() {
        let pkgs = vec![
            pkg(
                "a",
                "1.0.0",
                "app/node_modules/a/package.json",
                "installed",
                false,
            ),
            pkg(
                "jest",
                "29.0.0",
                "app/node_modules/jest/package.json",
                "installed",
                false,
            ),
            pkg("a", "1.0.0", "app/package-lock.json", "lockfile", false),
            pkg("jest", "29.0.0", "app/package-lock.json", "lockfile", true),
            // listed but never installed (another platform's optional package)
            pkg(
                "@esbuild/darwin-arm64",
                "0.20.0",
                "app/package-lock.json",
                "lockfile",
                false,
            ),
            // a project with nothing installed
            pkg("left-pad", "1.3.0", "other/yarn.lock", "lockfile", false),
        ];
        let image = reconcile(pkgs.clone(), false);
        let got: Vec<(&str, bool)> = image.iter().map(|p| (p.name.as_str(), p.dev)).collect();
        assert_eq!(got, vec![("a", false), ("jest", true)]);
        let tree = reconcile(pkgs, true);
        let got: Vec<&str> = tree.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, vec!["a", "jest", "left-pad"]);
    }
}
