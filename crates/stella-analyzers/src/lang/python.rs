//! Python distributions installed in the image: `*.dist-info/METADATA` (wheels, pip, uv,
//! Poetry), `*.egg-info/PKG-INFO` (setuptools, `setup.py install`, distro packages) and the
//! single-file `*.egg-info` form (distutils), with their file lists `*.dist-info/RECORD` and
//! `*.egg-info/installed-files.txt`.
//!
//! Each package's name is normalised per PEP 503 (lower case, runs of `-_.` as one `-`), so
//! `PyYAML` is `pyyaml` and `zope.interface` is `zope-interface`; the purl is
//! `pkg:pypi/NAME@VERSION` with the version exactly as the metadata writes it.
//!
//! The file lists are separate files, read in their own calls: they become owned-file hints
//! keyed by the normalised name from the directory name (`Django-4.2.1.dist-info` →
//! `django`), which the scanner joins to the package of the same kind and name. RECORD paths
//! are relative to the directory that holds the `.dist-info` (site-packages) and may climb out
//! of it (`../../../bin/flask`); they are resolved to image-root-relative paths.

use crate::{Analyzer, AnalyzerError, Facts, PackageHint};
use packageurl::PackageUrl;
use stella_model::{Dependency, Package, PackageKind};

/// Installed Python distributions.
pub struct PythonInstalledAnalyzer;

impl Analyzer for PythonInstalledAnalyzer {
    fn name(&self) -> &'static str {
        "python"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let (dir, file) = split_parent(path);
        let dir_name = dir.rsplit('/').next().unwrap_or(dir);
        (dir_name.ends_with(".dist-info") && (file == "METADATA" || file == "RECORD"))
            || (dir_name.ends_with(".egg-info")
                && (file == "PKG-INFO" || file == "installed-files.txt"))
            || (file.ends_with(".egg-info")
                && file.len() > ".egg-info".len()
                // The interpreter's own `Python-X.Y.egg-info` (distutils) is not a
                // distribution from PyPI; the runtime analyzer reports the interpreter.
                && !dir.ends_with("/lib-dynload"))
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let (dir, file) = split_parent(path);
        let mut facts = Facts::default();
        match file {
            "RECORD" => facts.owned_files.push(PackageHint {
                kind: PackageKind::Python,
                package: name_from_dir(path, dir)?,
                values: record_files(path, parent_dir(dir), content)?,
            }),
            "installed-files.txt" => facts.owned_files.push(PackageHint {
                kind: PackageKind::Python,
                package: name_from_dir(path, dir)?,
                values: installed_files(path, dir, content)?,
            }),
            _ => facts.packages.push(parse_metadata(path, content)?),
        }
        Ok(facts)
    }
}

/// `(parent, file name)` of a root-relative path.
fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn parent_dir(dir: &str) -> &str {
    dir.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// PEP 503 normalised name: lower case, each run of `-`, `_`, `.` replaced by one `-`.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Whether `name` is a valid distribution name (PEP 508: ASCII letters and digits, with `-_.`
/// inside).
pub(crate) fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `pkg:pypi/NAME@VERSION` with the PEP 503 name.
pub(crate) fn pypi_purl(path: &str, name: &str, version: &str) -> Result<String, AnalyzerError> {
    let mut purl = PackageUrl::new("pypi", normalize_name(name))
        .map_err(|e| AnalyzerError::new(path, format!("package {name:?}: {e}")))?;
    purl.with_version(version)
        .map_err(|e| AnalyzerError::new(path, format!("package {name:?}: {e}")))?;
    Ok(purl.to_string())
}

/// A Python package with its normalised name and purl, found in `path`.
pub(crate) fn python_package(
    path: &str,
    name: &str,
    version: &str,
) -> Result<Package, AnalyzerError> {
    let name = name.trim();
    let version = version.trim();
    if !is_valid_name(name) {
        return Err(AnalyzerError::new(
            path,
            format!("invalid package name {name:?}"),
        ));
    }
    if version.is_empty() || version.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AnalyzerError::new(
            path,
            format!("package {name:?} has an invalid version {version:?}"),
        ));
    }
    let mut p = Package::new(PackageKind::Python, normalize_name(name), version, path);
    p.purl = pypi_purl(path, name, version)?;
    Ok(p)
}

/// The normalised distribution name from a `NAME-VERSION.dist-info` / `.egg-info` directory.
/// Names there have `-` escaped to `_`, so the name ends at the first `-` that starts a version
/// (a digit, or `v` and a digit); a directory without a version is all name.
fn name_from_dir(path: &str, dir: &str) -> Result<String, AnalyzerError> {
    let base = dir.rsplit('/').next().unwrap_or(dir);
    let stem = base
        .strip_suffix(".dist-info")
        .or_else(|| base.strip_suffix(".egg-info"))
        .unwrap_or(base);
    let bytes = stem.as_bytes();
    let cut = (0..bytes.len())
        .find(|&i| {
            bytes[i] == b'-'
                && match bytes.get(i + 1) {
                    Some(c) if c.is_ascii_digit() => true,
                    Some(b'v') => bytes.get(i + 2).is_some_and(u8::is_ascii_digit),
                    _ => false,
                }
        })
        .unwrap_or(bytes.len());
    let name = &stem[..cut];
    if !is_valid_name(name) {
        return Err(AnalyzerError::new(
            path,
            format!("cannot read a distribution name from {base:?}"),
        ));
    }
    Ok(normalize_name(name))
}

/// Joins `rel` to `base` (both `/`-separated, root-relative) and resolves `.` and `..`.
/// `None` when the result would leave the image root.
fn join_resolve(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let start = if rel.starts_with('/') { "" } else { base };
    for seg in start.split('/').chain(rel.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The first field of a RECORD line (CSV: a path with a comma in it is double-quoted, with
/// `""` for a quote).
fn csv_first_field(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        Some(line.split(',').next().unwrap_or("").to_string())
    }
}

fn utf8<'a>(path: &str, content: &'a [u8]) -> Result<&'a str, AnalyzerError> {
    crate::utf8_text(path, content)
}

/// The files of a RECORD, relative to the image root. `site_dir` holds the `.dist-info`.
fn record_files(path: &str, site_dir: &str, content: &[u8]) -> Result<Vec<String>, AnalyzerError> {
    let text = utf8(path, content)?;
    let mut files = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let field = csv_first_field(line).ok_or_else(|| {
            AnalyzerError::new(path, format!("line {}: unterminated quoted path", n + 1))
        })?;
        if field.is_empty() {
            continue;
        }
        // A path that climbs out of the image root is not a file in the image.
        if let Some(f) = join_resolve(site_dir, &field) {
            files.push(f);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The files of an `installed-files.txt` (pip's legacy record, relative to the `.egg-info`).
fn installed_files(
    path: &str,
    egg_dir: &str,
    content: &[u8],
) -> Result<Vec<String>, AnalyzerError> {
    let text = utf8(path, content)?;
    let mut files: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| join_resolve(egg_dir, l))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// The header fields of a core-metadata file (RFC 822 style: `Name: value`, continuation lines
/// start with white space; the body after the headers is the description).
fn metadata_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    for (i, &line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            // Old setuptools wrote multi-line `Description` fields whose blank lines lost their
            // indentation (and may end with one): a blank line ends the headers only when
            // neither a continuation line nor a core-metadata field follows.
            let next = lines[i..].iter().find(|l| !l.trim().is_empty());
            if next.is_some_and(|l| l.starts_with([' ', '\t']) || is_metadata_field(l)) {
                continue;
            }
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    fields
}

/// Whether `line` starts with a core-metadata field name (`Keywords: …`).
fn is_metadata_field(line: &str) -> bool {
    const FIELDS: &[&str] = &[
        "Metadata-Version",
        "Name",
        "Version",
        "Dynamic",
        "Platform",
        "Supported-Platform",
        "Summary",
        "Description",
        "Description-Content-Type",
        "Keywords",
        "Home-page",
        "Download-URL",
        "Author",
        "Author-email",
        "Maintainer",
        "Maintainer-email",
        "License",
        "License-Expression",
        "License-File",
        "Classifier",
        "Requires-Dist",
        "Requires-Python",
        "Requires-External",
        "Project-URL",
        "Provides-Extra",
        "Provides-Dist",
        "Obsoletes-Dist",
        "Requires",
        "Provides",
        "Obsoletes",
    ];
    line.split_once(':')
        .is_some_and(|(k, _)| FIELDS.iter().any(|f| f.eq_ignore_ascii_case(k)))
}

/// Parses a `METADATA`, `PKG-INFO` or single-file `.egg-info` (core metadata).
pub fn parse_metadata(path: &str, content: &[u8]) -> Result<Package, AnalyzerError> {
    // Core metadata is UTF-8; very old PKG-INFO files may hold Latin-1 in free-text fields,
    // which must not lose the package.
    let text = String::from_utf8_lossy(content);
    let fields = metadata_fields(&text);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, v)| f.eq_ignore_ascii_case(k) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let all = |k: &'static str| {
        fields
            .iter()
            .filter(move |(f, _)| f.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let name = get("Name").ok_or_else(|| AnalyzerError::new(path, "no Name field"))?;
    let version = get("Version")
        .ok_or_else(|| AnalyzerError::new(path, format!("package {name:?} has no Version")))?;
    let mut p = python_package(path, name, version)?;

    p.licenses = licenses(get("License-Expression"), get("License"), all("Classifier"));
    p.supplier = supplier(
        get("Author"),
        get("Author-email"),
        get("Maintainer"),
        get("Maintainer-email"),
    );
    p.depends = all("Requires-Dist")
        .filter_map(requirement_name)
        .map(|name| Dependency { name })
        .collect();
    p.normalize();
    Ok(p)
}

/// The normalised name of a `Requires-Dist` requirement, or `None` when it only applies with an
/// extra (`; extra == "socks"`), which the installation may not have.
fn requirement_name(req: &str) -> Option<String> {
    let (spec, marker) = req.split_once(';').unwrap_or((req, ""));
    if marker.contains("extra") {
        return None;
    }
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = spec[..end].trim();
    is_valid_name(name).then(|| normalize_name(name))
}

/// Declared licenses, in order of precedence: the PEP 639 `License-Expression`, the
/// `License ::` trove classifiers (chosen from a fixed list, so more exact than free text),
/// then a short one-line `License` field (some packages paste the whole license text there,
/// which is not a license name).
fn licenses<'a>(
    expression: Option<&str>,
    license: Option<&str>,
    classifiers: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    if let Some(e) = expression {
        return vec![e.to_string()];
    }
    let from_classifiers: Vec<String> = classifiers
        .filter_map(|c| {
            let parts: Vec<&str> = c.split("::").map(str::trim).collect();
            if parts.len() < 2 || parts[0] != "License" {
                return None;
            }
            let last = parts[parts.len() - 1];
            (last != "OSI Approved").then(|| classifier_to_spdx(last).to_string())
        })
        .collect();
    if !from_classifiers.is_empty() {
        return from_classifiers;
    }
    match license {
        Some(l) if !l.contains('\n') && l.len() <= 100 && !l.eq_ignore_ascii_case("UNKNOWN") => {
            vec![classifier_to_spdx(l).to_string()]
        }
        _ => Vec::new(),
    }
}

/// SPDX ids for the license classifiers (and `License` values) that name exactly one license.
/// Ambiguous ones (`BSD License`, `Apache Software License`) stay as written.
fn classifier_to_spdx(name: &str) -> &str {
    match name {
        "MIT License" | "MIT license" => "MIT",
        "ISC License (ISCL)" => "ISC",
        "Python Software Foundation License" => "PSF-2.0",
        "Mozilla Public License 1.1 (MPL 1.1)" => "MPL-1.1",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v2 or later (GPLv2+)" => "GPL-2.0-or-later",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
        "GNU Lesser General Public License v2 (LGPLv2)" => "LGPL-2.0-only",
        "GNU Lesser General Public License v2 or later (LGPLv2+)" => "LGPL-2.0-or-later",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "GNU Lesser General Public License v3 or later (LGPLv3+)" => "LGPL-3.0-or-later",
        "GNU Affero General Public License v3" => "AGPL-3.0-only",
        "GNU Affero General Public License v3 or later (AGPLv3+)" => "AGPL-3.0-or-later",
        "Eclipse Public License 2.0 (EPL-2.0)" => "EPL-2.0",
        "Boost Software License 1.0 (BSL-1.0)" => "BSL-1.0",
        "The Unlicense (Unlicense)" => "Unlicense",
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication" => "CC0-1.0",
        other => other,
    }
}

/// The author (`Name <email>`), else the maintainer.
fn supplier(
    author: Option<&str>,
    author_email: Option<&str>,
    maintainer: Option<&str>,
    maintainer_email: Option<&str>,
) -> Option<String> {
    let person = |name: Option<&str>, email: Option<&str>| match (name, email) {
        (Some(n), Some(e)) if !e.contains('<') && !n.eq_ignore_ascii_case("UNKNOWN") => {
            Some(format!("{n} <{e}>"))
        }
        (Some(n), _) if !n.eq_ignore_ascii_case("UNKNOWN") => Some(n.to_string()),
        (_, Some(e)) if !e.eq_ignore_ascii_case("UNKNOWN") => Some(e.to_string()),
        _ => None,
    };
    person(author, author_email).or_else(|| person(maintainer, maintainer_email))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PythonInstalledAnalyzer = PythonInstalledAnalyzer;

    #[test]
    fn normalizes_names_per_pep_503() {
        assert_eq!(normalize_name("Django"), "django");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
    }

    #[test]
    fn wants_metadata_record_and_egg_info() {
        for p in [
            "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
            "usr/local/lib/python3.11/site-packages/pip-23.0.1.dist-info/RECORD",
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info/installed-files.txt",
            "usr/lib/python3/dist-packages/distlib-0.3.1-py3.9.egg-info",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/LICENSE",
            "usr/lib/python3/dist-packages/requests/METADATA",
            "app/PKG-INFO",
            "usr/lib/python2.7/lib-dynload/Python-2.7.egg-info",
            ".egg-info",
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info/SOURCES.txt",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn reads_metadata() {
        let meta =
            b"Metadata-Version: 2.1\nName: Flask_Cors\nVersion: 4.0.0\nAuthor: Cory Dolphin\n\
Author-email: corydolphin@gmail.com\nLicense: MIT\n\
Classifier: License :: OSI Approved :: MIT License\n\
Requires-Dist: Flask (>=0.9)\nRequires-Dist: Six\n\
Requires-Dist: pytest ; extra == 'test'\n\
Requires-Dist: typing_extensions>=4; python_version < \"3.8\"\n\
\nLong: description\nName: not-a-field\n";
        let path = "usr/lib/python3.11/site-packages/Flask_Cors-4.0.0.dist-info/METADATA";
        let facts = A.analyze(path, meta).unwrap();
        let p = &facts.packages[0];
        assert_eq!(p.name, "flask-cors");
        assert_eq!(p.version, "4.0.0");
        assert_eq!(p.purl, "pkg:pypi/flask-cors@4.0.0");
        assert_eq!(p.kind, PackageKind::Python);
        assert_eq!(p.found_in, path);
        assert_eq!(p.licenses, ["MIT"]);
        assert_eq!(
            p.supplier.as_deref(),
            Some("Cory Dolphin <corydolphin@gmail.com>")
        );
        let deps: Vec<&str> = p.depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["flask", "six", "typing-extensions"]);
    }

    #[test]
    fn old_pkg_info_with_blank_lines_in_the_description() {
        let text = b"Metadata-Version: 1.1\nName: x\nVersion: 1\nDescription: a\n\n        b\n\n\
Classifier: License :: OSI Approved :: MIT License\n\nBody: not a field\nName: y\n";
        let p = parse_metadata("x.egg-info", text).unwrap();
        assert_eq!(
            (p.name.as_str(), p.licenses.as_slice()),
            ("x", &["MIT".to_string()][..])
        );
        let p = parse_metadata("x.egg-info", b"Name: x\nVersion: 1\n\nName: y\n").unwrap();
        assert_eq!(p.name, "x");
    }

    #[test]
    fn license_precedence() {
        let c = [
            "License :: OSI Approved",
            "License :: OSI Approved :: MIT License",
        ];
        assert_eq!(
            licenses(Some("Apache-2.0 OR MIT"), Some("x"), c.into_iter()),
            ["Apache-2.0 OR MIT"]
        );
        assert_eq!(licenses(None, Some("UNKNOWN"), c.into_iter()), ["MIT"]);
        assert_eq!(
            licenses(None, Some("line one\nline two"), c.into_iter()),
            ["MIT"]
        );
        assert_eq!(licenses(None, Some("BSD"), c.into_iter()), ["MIT"]);
        assert_eq!(licenses(None, Some("BSD"), [c[0]].into_iter()), ["BSD"]);
        assert!(licenses(None, Some("UNKNOWN"), [c[0]].into_iter()).is_empty());
        assert!(licenses(None, None, ["License :: OSI Approved"].into_iter()).is_empty());
    }

    #[test]
    fn record_paths_are_resolved_from_site_packages() {
        let record = b"flask/__init__.py,sha256=abc,2366\n\
Flask-3.0.0.dist-info/RECORD,,\n\
../../../bin/flask,sha256=def,238\n\
\"odd,name.py\",sha256=x,1\n\
../../../../../../escape,,\n";
        let path = "usr/local/lib/python3.11/site-packages/Flask-3.0.0.dist-info/RECORD";
        let facts = A.analyze(path, record).unwrap();
        assert!(facts.packages.is_empty());
        let h = &facts.owned_files[0];
        assert_eq!(h.kind, PackageKind::Python);
        assert_eq!(h.package, "flask");
        assert_eq!(
            h.values,
            [
                "usr/local/bin/flask",
                "usr/local/lib/python3.11/site-packages/Flask-3.0.0.dist-info/RECORD",
                "usr/local/lib/python3.11/site-packages/flask/__init__.py",
                "usr/local/lib/python3.11/site-packages/odd,name.py",
            ]
        );
    }

    #[test]
    fn installed_files_are_relative_to_the_egg_info() {
        let path = "usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/installed-files.txt";
        let facts = A.analyze(path, b"../yaml/__init__.py\nPKG-INFO\n").unwrap();
        let h = &facts.owned_files[0];
        assert_eq!(h.package, "pyyaml");
        assert_eq!(
            h.values,
            [
                "usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/PKG-INFO",
                "usr/lib/python3/dist-packages/yaml/__init__.py",
            ]
        );
    }

    #[test]
    fn names_from_directories() {
        for (dir, name) in [
            ("a/zope.interface-5.4.0.dist-info", "zope-interface"),
            ("a/python_dateutil-2.8.2.dist-info", "python-dateutil"),
            ("a/setuptools-51.3.3-py3.8.egg-info", "setuptools"),
            ("a/foo-v1.0.dist-info", "foo"),
            ("a/my-pkg-2.0.dist-info", "my-pkg"),
            ("a/noversion.egg-info", "noversion"),
        ] {
            assert_eq!(name_from_dir("p", dir).unwrap(), name, "{dir}");
        }
        assert!(name_from_dir("p", "a/-1.0.dist-info").is_err());
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_file() {
        let path = "x/site-packages/foo-1.0.dist-info/METADATA";
        for bad in [
            &b""[..],
            b"Name: foo\n",
            b"Version: 1.0\n",
            b"Name: foo bar\nVersion: 1\n",
            b"\xff\xfe\x00\x01garbage",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
        let e = A
            .analyze(
                "x/site-packages/foo-1.0.dist-info/RECORD",
                b"\"unterminated,,\n",
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x/site-packages/foo-1.0.dist-info/RECORD: ")
        );
        assert!(
            A.analyze("x/site-packages/foo-1.0.dist-info/RECORD", b"\xff\xff")
                .is_err()
        );
    }
}
