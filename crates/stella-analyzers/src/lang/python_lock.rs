//! Python lockfiles and pinned requirements: `poetry.lock`, `Pipfile.lock`, `uv.lock`,
//! `requirements*.txt`.
//!
//! # What a lockfile proves
//!
//! A lockfile says what a project *would* install, not what the image holds: the project may
//! never have been installed, installed without its dev group, or installed into a
//! virtualenv that a later build stage dropped. Stella reports what is really installed, so
//! every package read here carries `properties["stella:evidence"] = "lockfile"`; packages read
//! from installed metadata (`*.dist-info`, `*.egg-info`, by [`super::python`]) carry no such
//! mark. A consumer that wants the installed set keeps only unmarked packages; a lockfile
//! package with the same name and version as an installed one adds nothing but the lockfile's
//! own view (dev group, dependency edges). This is what the peers do by default for images:
//! Syft's image catalogers read only installed metadata (its lockfile catalogers run only on
//! directory scans), and Trivy's image scans analyze `*.dist-info`/`*.egg-info` and leave
//! `poetry.lock`/`Pipfile.lock`/`uv.lock`/`requirements.txt` to filesystem and repository
//! scans.
//!
//! # Rules
//! - `requirements*.txt`: only exact pins (`name==1.2.3`, `name===1.2.3`, extras and markers
//!   allowed); ranges, wildcards (`==2.0.*`), URLs, editable and option lines are ignored.
//!   UTF-8 and UTF-16 (with a byte-order mark) are read. A line that is not a valid
//!   requirement (a template, say) is skipped, not an error.
//! - `Pipfile.lock`: `default` and `develop` (dev); entries without a `==` version (VCS and
//!   path dependencies) are skipped.
//! - `poetry.lock`: every `[[package]]`; dev when its v1 `category` is `dev`, or its v2
//!   `groups` do not include `main`.
//! - `uv.lock`: every `[[package]]` with a version except the workspace members themselves
//!   (`source = { virtual | editable }`: the project, not a dependency); dev when reachable
//!   from a member only through its `dev-dependencies`.
//! - Lockfiles inside `site-packages`/`dist-packages` are data of an installed package (test
//!   requirements shipped in a wheel), not the image's, and are not read.

use super::python::{is_valid_name, normalize_name, python_package};
use crate::{Analyzer, AnalyzerError, Facts};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use stella_model::{Dependency, Package};

/// The property that marks a package known only from a lockfile.
pub const EVIDENCE: &str = "stella:evidence";

/// Python lockfiles and pinned requirements files.
pub struct PythonLockfileAnalyzer;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Poetry,
    Pipfile,
    Uv,
    Requirements,
}

fn format_of(path: &str) -> Option<Format> {
    if path.contains("/site-packages/") || path.contains("/dist-packages/") {
        return None;
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    match file {
        "poetry.lock" => Some(Format::Poetry),
        "Pipfile.lock" => Some(Format::Pipfile),
        "uv.lock" => Some(Format::Uv),
        f if f.starts_with("requirements") && f.ends_with(".txt") => Some(Format::Requirements),
        _ => None,
    }
}

impl Analyzer for PythonLockfileAnalyzer {
    fn name(&self) -> &'static str {
        "python-lockfile"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        format_of(path).is_some()
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let Some(format) = format_of(path) else {
            return Ok(Facts::default());
        };
        let mut packages = match format {
            Format::Requirements => parse_requirements(path, content)?,
            Format::Pipfile => parse_pipfile_lock(path, content)?,
            Format::Poetry => parse_poetry_lock(path, utf8(path, content)?)?,
            Format::Uv => parse_uv_lock(path, utf8(path, content)?)?,
        };
        for p in &mut packages {
            p.properties
                .insert(EVIDENCE.to_string(), "lockfile".to_string());
            p.normalize();
        }
        // One entry per name and version; a package in both a main and a dev group is not dev.
        packages.sort_by(|a, b| (&a.name, &a.version, a.dev).cmp(&(&b.name, &b.version, b.dev)));
        packages.dedup_by(|b, a| a.name == b.name && a.version == b.version);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

fn utf8<'a>(path: &str, content: &'a [u8]) -> Result<&'a str, AnalyzerError> {
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    crate::utf8_text(path, content)
}

/// Text of a requirements file: UTF-8, or UTF-16 with a byte-order mark (what PowerShell's
/// `pip freeze > requirements.txt` writes).
fn decode_text(path: &str, content: &[u8]) -> Result<String, AnalyzerError> {
    let utf16 = |bytes: &[u8], le: bool| {
        if !bytes.len().is_multiple_of(2) {
            return Err(AnalyzerError::new(path, "UTF-16 text of odd length"));
        }
        let units = bytes.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| AnalyzerError::new(path, format!("invalid UTF-16 text: {e}")))
    };
    if let Some(rest) = content.strip_prefix(b"\xff\xfe") {
        utf16(rest, true)
    } else if let Some(rest) = content.strip_prefix(b"\xfe\xff") {
        utf16(rest, false)
    } else {
        utf8(path, content).map(str::to_string)
    }
}

fn lockfile_package(
    path: &str,
    name: &str,
    version: &str,
    dev: bool,
) -> Result<Package, AnalyzerError> {
    let mut p = python_package(path, name, version)?;
    p.dev = dev;
    Ok(p)
}

/// Whether `v` is one exact version (no wildcard, no list, no quotes or template syntax).
fn is_exact_version(v: &str) -> bool {
    !v.is_empty()
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+' | b'!'))
}

/// Pinned requirements of a `requirements*.txt`.
pub fn parse_requirements(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let text = decode_text(path, content)?;
    // Backslash-newline continues a line.
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let raw = raw.trim_end_matches('\r');
        if let Some(head) = raw.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(raw);
            lines.push(std::mem::take(&mut current));
        }
    }
    lines.push(current);

    let mut out = Vec::new();
    for line in &lines {
        // `#` starts a comment: it cannot occur in a name or a pinned version.
        let line = line.split('#').next().unwrap_or("");
        // Markers, then per-requirement options (`--hash=…`).
        let line = line.split(';').next().unwrap_or("");
        let line = line.split(" -").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        if let Some((name, version)) = pinned_requirement(line) {
            out.push(lockfile_package(path, name, version, false)?);
        }
    }
    Ok(out)
}

/// `name[extras] == version` (or `===`) → `(name, version)`; anything else → `None`.
fn pinned_requirement(line: &str) -> Option<(&str, &str)> {
    let (spec, version) = if let Some((s, v)) = line.split_once("===") {
        (s, v)
    } else {
        line.split_once("==")?
    };
    // Extras (`celery[redis, pytest]`) may hold commas and spaces; nothing may follow them.
    let (name, after_extras) = match spec.split_once('[') {
        Some((name, rest)) => (name, rest.split_once(']')?.1),
        None => (spec, ""),
    };
    let name = name.trim();
    let version = version.trim();
    if !after_extras.trim().is_empty() {
        return None;
    }
    (is_valid_name(name) && is_exact_version(version)).then_some((name, version))
}

#[derive(Deserialize)]
struct PipfileLock {
    #[serde(default)]
    default: BTreeMap<String, PipfileEntry>,
    #[serde(default)]
    develop: BTreeMap<String, PipfileEntry>,
}

#[derive(Deserialize)]
struct PipfileEntry {
    #[serde(default)]
    version: Option<String>,
}

/// `Pipfile.lock` (JSON): `default` and `develop` sections.
pub fn parse_pipfile_lock(path: &str, content: &[u8]) -> Result<Vec<Package>, AnalyzerError> {
    let lock: PipfileLock = serde_json::from_slice(content)
        .map_err(|e| AnalyzerError::new(path, format!("invalid Pipfile.lock: {e}")))?;
    let mut out = Vec::new();
    for (section, dev) in [(&lock.default, false), (&lock.develop, true)] {
        for (name, entry) in section {
            let Some(version) = entry.version.as_deref().and_then(|v| v.strip_prefix("==")) else {
                continue;
            };
            out.push(lockfile_package(path, name, version, dev)?);
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

/// `poetry.lock` (lock versions 1.x and 2.x).
pub fn parse_poetry_lock(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let lock: PoetryLock = toml::from_str(text)
        .map_err(|e| AnalyzerError::new(path, format!("invalid poetry.lock: {e}")))?;
    let mut out = Vec::new();
    for pkg in &lock.package {
        let dev = match (&pkg.groups, &pkg.category) {
            (Some(groups), _) => !groups.is_empty() && !groups.iter().any(|g| g == "main"),
            (None, Some(category)) => category == "dev",
            (None, None) => false,
        };
        let mut p = lockfile_package(path, &pkg.name, &pkg.version, dev)?;
        p.depends = dependency_names(pkg.dependencies.keys().map(String::as_str));
        out.push(p);
    }
    Ok(out)
}

fn dependency_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<Dependency> {
    names
        .filter(|n| is_valid_name(n))
        .map(|n| Dependency {
            name: normalize_name(n),
        })
        .collect()
}

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies: Vec<UvDep>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<UvDep>>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, Vec<UvDep>>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
}

impl UvPackage {
    /// A workspace member: the project itself, not a dependency.
    fn is_member(&self) -> bool {
        self.source.contains_key("virtual") || self.source.contains_key("editable")
    }
}

/// `uv.lock`.
pub fn parse_uv_lock(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let lock: UvLock = toml::from_str(text)
        .map_err(|e| AnalyzerError::new(path, format!("invalid uv.lock: {e}")))?;
    let pkgs = &lock.package;
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        by_name.entry(normalize_name(&p.name)).or_default().push(i);
    }
    let targets = |d: &UvDep| -> Vec<usize> {
        by_name
            .get(&normalize_name(&d.name))
            .map(|ix| {
                ix.iter()
                    .copied()
                    .filter(|&i| d.version.is_none() || pkgs[i].version == d.version)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Everything reachable from `start` through dependencies and the extras each edge asks for.
    let reach = |start: Vec<&UvDep>| -> BTreeSet<usize> {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        let mut seen_extra: BTreeSet<(usize, &str)> = BTreeSet::new();
        let mut queue: Vec<&UvDep> = start;
        while let Some(dep) = queue.pop() {
            for i in targets(dep) {
                if seen.insert(i) {
                    queue.extend(&pkgs[i].dependencies);
                }
                for extra in &dep.extra {
                    if seen_extra.insert((i, extra.as_str()))
                        && let Some(deps) = pkgs[i].optional_dependencies.get(extra)
                    {
                        queue.extend(deps);
                    }
                }
            }
        }
        seen
    };
    let members: Vec<&UvPackage> = pkgs.iter().filter(|p| p.is_member()).collect();
    // A member's own extras are installable with it: they count as production.
    let prod = reach(
        members
            .iter()
            .flat_map(|m| {
                m.dependencies
                    .iter()
                    .chain(m.optional_dependencies.values().flatten())
            })
            .collect(),
    );
    let dev_reach = reach(
        members
            .iter()
            .flat_map(|m| m.dev_dependencies.values().flatten())
            .collect(),
    );
    let mut out = Vec::new();
    for (i, pkg) in pkgs.iter().enumerate() {
        if pkg.is_member() {
            continue;
        }
        let Some(version) = &pkg.version else {
            continue;
        };
        let dev = !prod.contains(&i) && dev_reach.contains(&i);
        let mut p = lockfile_package(path, &pkg.name, version, dev)?;
        p.depends = dependency_names(pkg.dependencies.iter().map(|d| d.name.as_str()));
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PythonLockfileAnalyzer = PythonLockfileAnalyzer;

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
    fn wants_lockfiles_outside_site_packages() {
        for p in [
            "app/poetry.lock",
            "Pipfile.lock",
            "srv/uv.lock",
            "app/requirements.txt",
            "app/requirements-dev.txt",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "app/requirements.in",
            "app/Pipfile",
            "usr/lib/python3/dist-packages/foo/requirements.txt",
            "usr/local/lib/python3.11/site-packages/x/poetry.lock",
            "app/dev-requirements.txt",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn requirements_keep_exact_pins_only() {
        let text = "# c\n-r base.txt\n-e git+https://x/y#egg=z\n--index-url https://x\n\
Flask==2.0.0 # web\nrequests[socks]>=2\nDjango == 4.2.1 ; python_version >= '3.8'\n\
pkg===1.0+local\nwild==2.0.*\nrng==1.*,>=1.2\nurl @ https://x/y.whl\n\
hashed==1.2 \\\n    --hash=sha256:abc\nJinja2==3.0.0#c\n{{ cookiecutter }}==1\n";
        let f = A.analyze("app/requirements.txt", text.as_bytes()).unwrap();
        assert_eq!(
            ids(&f),
            [
                "django@4.2.1",
                "flask@2.0.0",
                "hashed@1.2",
                "jinja2@3.0.0",
                "pkg@1.0+local"
            ]
        );
        let p = &f.packages[0];
        assert_eq!(p.purl, "pkg:pypi/django@4.2.1");
        assert_eq!(p.properties[EVIDENCE], "lockfile");
        assert_eq!(p.found_in, "app/requirements.txt");
    }

    #[test]
    fn requirements_in_utf16() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "attrs==20.3.0\r\n".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        let f = A.analyze("requirements.txt", &bytes).unwrap();
        assert_eq!(ids(&f), ["attrs@20.3.0"]);
    }

    #[test]
    fn pipfile_lock_sections() {
        let json = br#"{"_meta": {}, "default": {"Requests": {"version": "==2.31.0"},
            "local": {"path": "."}, "six": {"version": "==1.16.0"}},
            "develop": {"pytest": {"version": "==7.0.0"}, "six": {"version": "==1.16.0"}}}"#;
        let f = A.analyze("Pipfile.lock", json).unwrap();
        assert_eq!(
            ids(&f),
            ["pytest@7.0.0 dev", "requests@2.31.0", "six@1.16.0"]
        );
    }

    #[test]
    fn poetry_groups_and_categories() {
        let v2 = r#"
[[package]]
name = "Flask"
version = "3.0.0"
groups = ["main"]
[package.dependencies]
Jinja2 = ">=3"
click = {version = "*", markers = "x"}
[[package]]
name = "pytest"
version = "8.0.0"
groups = ["dev", "test"]
[[package]]
name = "colorama"
version = "0.4.6"
groups = ["main", "dev"]
"#;
        let f = A.analyze("poetry.lock", v2.as_bytes()).unwrap();
        assert_eq!(
            ids(&f),
            ["colorama@0.4.6", "flask@3.0.0", "pytest@8.0.0 dev"]
        );
        let deps: Vec<&str> = f.packages[1]
            .depends
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(deps, ["click", "jinja2"]);
        let v1 = "[[package]]\nname = \"a\"\nversion = \"1\"\ncategory = \"dev\"\n\
[[package]]\nname = \"b\"\nversion = \"2\"\ncategory = \"main\"\n";
        let f = A.analyze("poetry.lock", v1.as_bytes()).unwrap();
        assert_eq!(ids(&f), ["a@1 dev", "b@2"]);
    }

    #[test]
    fn uv_dev_by_reachability() {
        let lock = r#"
version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "httpx", extra = ["socks"] }]
[package.optional-dependencies]
json = [{ name = "orjson" }]
[package.dev-dependencies]
dev = [{ name = "pytest" }]
[[package]]
name = "httpx"
version = "1.0"
dependencies = [{ name = "idna" }]
[package.optional-dependencies]
socks = [{ name = "socksio" }]
brotli = [{ name = "brotli" }]
[[package]]
name = "pytest"
version = "8.0"
dependencies = [{ name = "idna" }, { name = "pluggy" }]
[[package]]
name = "idna"
version = "3.0"
[[package]]
name = "pluggy"
version = "1.0"
[[package]]
name = "socksio"
version = "1.0"
[[package]]
name = "brotli"
version = "1.0"
[[package]]
name = "orjson"
version = "3.0"
"#;
        let f = A.analyze("uv.lock", lock.as_bytes()).unwrap();
        assert_eq!(
            ids(&f),
            [
                "brotli@1.0",
                "httpx@1.0",
                "idna@3.0",
                "orjson@3.0",
                "pluggy@1.0 dev",
                "pytest@8.0 dev",
                "socksio@1.0",
            ]
        );
    }

    #[test]
    fn malformed_lockfiles_are_errors_naming_the_file() {
        for (path, bad) in [
            ("app/poetry.lock", &b"[[package]]\nname = 1"[..]),
            ("app/poetry.lock", b"[[package]]\nname = \"x\"\n"),
            ("app/uv.lock", b"[[package]\n"),
            ("app/Pipfile.lock", b"{\"default\": ["),
            (
                "app/Pipfile.lock",
                b"{\"default\": {\"bad name\": {\"version\": \"==1\"}}}",
            ),
            ("app/requirements.txt", b"\xff\xfe\x00"),
            ("app/requirements.txt", b"\xc3\x28"),
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path, "{e}");
        }
    }
}
