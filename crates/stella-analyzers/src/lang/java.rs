//! Java archives: `.jar .war .ear .par .jpi .hpi`, and the archives nested in them at any depth
//! (Spring Boot `BOOT-INF/lib`, `WEB-INF/lib`, EARs holding WARs), all read from the bytes in
//! memory, without temporary files.
//!
//! Packages come from `META-INF/maven/<group>/<artifact>/pom.properties`: each one is a package
//! (a shaded jar carries one per library it absorbed). The archive's own package is the one
//! whose artifactId names the file (`wagon-http-shaded-3.5.3.jar` → `wagon-http`), or the only
//! one (unless the manifest names another version); it gets the archive's `sha1`, the others
//! are marked `java.embedded`. When no pom.properties describes the archive itself (none at
//! all, or only those of shaded libraries), the manifest's `Implementation-*` / `Bundle-*` headers give the package
//! (`java.metadata = manifest`): group from `Implementation-Vendor-Id` only, never guessed from
//! vendor names or file names.
//!
//! Limits: nested archives deeper than [`MAX_DEPTH`], larger than [`MAX_NESTED_SIZE`] or with
//! more than [`MAX_ENTRIES`] entries, nested archives that are not valid zips, and metadata
//! entries that cannot be read are skipped, not fatal; the skips are listed in the
//! `java.skipped` property of the outermost archive's first package (or returned as the error
//! when nothing at all was found). A top-level file that is not a zip is an error.

use crate::{Analyzer, AnalyzerError, Facts};
use sha1::{Digest, Sha1};
use std::io::{Cursor, Read};
use stella_model::{Package, PackageKind};

/// Nesting depth below the file itself (`a.jar!/b.jar` is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Largest nested archive inflated into memory.
pub const MAX_NESTED_SIZE: u64 = 256 << 20;
/// Most entries read from one archive.
pub const MAX_ENTRIES: usize = 200_000;
/// Total bytes inflated for one top-level file (nested archives and metadata together).
pub const MAX_INFLATED: u64 = 1 << 30;
/// Largest metadata entry (pom.properties, MANIFEST.MF) read.
const MAX_METADATA: u64 = 1 << 20;

const EXTENSIONS: [&str; 6] = ["jar", "war", "ear", "par", "jpi", "hpi"];

pub struct JavaArchiveAnalyzer;

impl Analyzer for JavaArchiveAnalyzer {
    fn name(&self) -> &'static str {
        "java-archive"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        is_java_archive(path)
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut walk = Walk {
            packages: Vec::new(),
            skipped: Vec::new(),
            budget: MAX_INFLATED,
        };
        walk.archive(path, content, 0)
            .map_err(|e| AnalyzerError::new(path, e))?;
        let Walk {
            mut packages,
            skipped,
            ..
        } = walk;
        if !skipped.is_empty() {
            if packages.is_empty() {
                return Err(AnalyzerError::new(path, skipped.join("; ")));
            }
            let at = packages
                .iter()
                .position(|p| p.found_in == path)
                .unwrap_or(0);
            packages[at]
                .properties
                .insert("java.skipped".to_string(), skipped.join("; "));
        }
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

/// Whether a name ends with one of the Java archive extensions (any case).
pub fn is_java_archive(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && !stem.ends_with('/')
            && EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

struct Walk {
    packages: Vec<Package>,
    skipped: Vec<String>,
    budget: u64,
}

/// What one archive holds that matters here.
#[derive(Default)]
struct Contents {
    poms: Vec<(String, Vec<u8>)>,
    manifest: Option<Vec<u8>>,
    nested: Vec<(usize, String, u64)>,
}

impl Walk {
    fn skip(&mut self, what: &str, why: impl std::fmt::Display) {
        self.skipped.push(format!("{what}: {why}"));
    }

    /// Reads one archive at `location` (`outer.jar!/inner.jar`); errors mean "not a zip".
    fn archive(&mut self, location: &str, bytes: &[u8], depth: usize) -> Result<(), String> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| format!("not a readable zip archive: {e}"))?;
        if zip.len() > MAX_ENTRIES {
            self.skip(
                location,
                format!("{} entries, more than {MAX_ENTRIES}", zip.len()),
            );
            return Ok(());
        }
        let sha1 = hex::encode(Sha1::digest(bytes));
        let mut contents = Contents::default();
        let names: Vec<String> = zip
            .file_names_raw()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        for (i, name) in names.iter().enumerate() {
            if name.ends_with('/') {
                continue;
            }
            if is_pom_properties(name) || name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
                match self.read_entry(&mut zip, i, MAX_METADATA) {
                    Ok(data) if is_pom_properties(name) => contents.poms.push((name.clone(), data)),
                    Ok(data) => contents.manifest = Some(data),
                    Err(e) => self.skip(&format!("{location}!/{name}"), e),
                }
            } else if is_java_archive(name) {
                let size = zip.by_index_raw(i).map(|f| f.size()).unwrap_or(0);
                contents.nested.push((i, name.clone(), size));
            }
        }
        self.packages_of(location, &sha1, &contents);
        for (i, name, size) in contents.nested {
            let inner = format!("{location}!/{name}");
            if depth + 1 > MAX_DEPTH {
                self.skip(&inner, format!("nested deeper than {MAX_DEPTH}"));
                continue;
            }
            if size > MAX_NESTED_SIZE {
                self.skip(&inner, format!("{size} bytes, more than {MAX_NESTED_SIZE}"));
                continue;
            }
            let data = match self.read_entry(&mut zip, i, MAX_NESTED_SIZE) {
                Ok(d) => d,
                Err(e) => {
                    self.skip(&inner, e);
                    continue;
                }
            };
            if let Err(e) = self.archive(&inner, &data, depth + 1) {
                self.skip(&inner, e);
            }
        }
        Ok(())
    }

    /// Inflates entry `i`, at most `limit` bytes and within the overall budget.
    fn read_entry(
        &mut self,
        zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
        i: usize,
        limit: u64,
    ) -> Result<Vec<u8>, String> {
        let limit = limit.min(self.budget);
        let file = zip.by_index(i).map_err(|e| e.to_string())?;
        let declared = file.size();
        if declared > limit {
            return Err(format!("{declared} bytes, over the inflation limit"));
        }
        let mut data = Vec::with_capacity(declared as usize);
        file.take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if data.len() as u64 > limit {
            return Err("inflates past the limit".to_string());
        }
        self.budget -= data.len() as u64;
        Ok(data)
    }

    fn packages_of(&mut self, location: &str, sha1: &str, c: &Contents) {
        let mut found: Vec<Package> = Vec::new();
        for (entry, data) in &c.poms {
            match pom_properties_package(location, entry, data) {
                Some(p) => found.push(p),
                None => self.skip(&format!("{location}!/{entry}"), "no artifactId or version"),
            }
        }
        let manifest = c
            .manifest
            .as_deref()
            .and_then(|m| manifest_package(location, m));
        let own = own_package(location, &found, manifest.as_ref());
        // No pom.properties describes the archive itself (none at all, or only those of
        // libraries shaded into it): the manifest does, when it names something.
        let mut identified = own.is_some();
        if own.is_none()
            && let Some(mut p) = manifest
        {
            p.properties.insert("sha1".to_string(), sha1.to_string());
            self.packages.push(p);
            identified = true;
        }
        for (i, mut p) in found.into_iter().enumerate() {
            if Some(i) == own {
                p.properties.insert("sha1".to_string(), sha1.to_string());
            } else if identified {
                p.properties
                    .insert("java.embedded".to_string(), "true".to_string());
            }
            self.packages.push(p);
        }
    }
}

/// `META-INF/maven/<group>/<artifact>/pom.properties`.
fn is_pom_properties(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 5
        && parts[0].eq_ignore_ascii_case("META-INF")
        && parts[1] == "maven"
        && parts[4] == "pom.properties"
}

/// `key=value` / `key: value` pairs of a Java properties file (comments and continuations
/// handled enough for pom.properties).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let cut = line.find(['=', ':']).unwrap_or(line.len());
        let key = line[..cut].trim();
        let value = line.get(cut + 1..).unwrap_or_default().trim();
        out.push((key.to_string(), value.to_string()));
    }
    out
}

fn pom_properties_package(location: &str, entry: &str, data: &[u8]) -> Option<Package> {
    let props = parse_properties(&String::from_utf8_lossy(data));
    let get = |k: &str| {
        props
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // The directory names are the coordinates Maven wrote the file under.
    let mut parts = entry.split('/').skip(2);
    let dir_group = parts.next().unwrap_or_default();
    let dir_artifact = parts.next().unwrap_or_default();
    let group = get("groupId").unwrap_or(dir_group);
    let artifact = get("artifactId").unwrap_or(dir_artifact);
    let version = get("version")?;
    if artifact.is_empty() {
        return None;
    }
    let mut p = maven_package(location, Some(group), artifact, version);
    p.properties
        .insert("java.pom_properties".to_string(), entry.to_string());
    Some(p)
}

/// A Maven package: name `group:artifact`, purl `pkg:maven/group/artifact@version`.
pub fn maven_package(
    location: &str,
    group: Option<&str>,
    artifact: &str,
    version: &str,
) -> Package {
    let group = group.filter(|g| !g.is_empty());
    let name = match group {
        Some(g) => format!("{g}:{artifact}"),
        None => artifact.to_string(),
    };
    let mut p = Package::new(PackageKind::Maven, name, version, location);
    p.purl = maven_purl(group, artifact, version);
    p
}

pub fn maven_purl(group: Option<&str>, artifact: &str, version: &str) -> String {
    let Ok(mut purl) = packageurl::PackageUrl::new("maven", artifact) else {
        return String::new();
    };
    if let Some(g) = group
        && purl.with_namespace(g).is_err()
    {
        return String::new();
    }
    if purl.with_version(version).is_err() {
        return String::new();
    }
    purl.to_string()
}

/// The file name of the innermost archive at `location`, without its extension.
fn archive_stem(location: &str) -> String {
    let last = location.rsplit("!/").next().unwrap_or(location);
    let file = last.rsplit('/').next().unwrap_or(last);
    file.rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(file)
        .to_ascii_lowercase()
}

/// Which of the archive's pom.properties packages is the archive itself: the one whose
/// artifactId names the file (the longest such), else the only one unless the manifest names
/// a different version (a jar whose only pom.properties is a shaded library's, as Debian's
/// guice jar with cglib inside).
fn own_package(location: &str, found: &[Package], manifest: Option<&Package>) -> Option<usize> {
    let stem = archive_stem(location);
    let artifact = |p: &Package| {
        p.name
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let best = found
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let a = artifact(p);
            stem == a || stem.starts_with(&format!("{a}-"))
        })
        .max_by_key(|(_, p)| artifact(p).len())
        .map(|(i, _)| i);
    best.or_else(|| {
        (found.len() == 1 && manifest.is_none_or(|m| m.version == found[0].version)).then_some(0)
    })
}

/// The main section of a manifest: `Name: value` headers with continuation lines joined.
pub fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn manifest_package(location: &str, data: &[u8]) -> Option<Package> {
    let headers = parse_manifest(&String::from_utf8_lossy(data));
    let get = |k: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let no_space = |v: &&str| !v.contains(char::is_whitespace);
    let symbolic = get("Bundle-SymbolicName").map(|v| v.split(';').next().unwrap_or(v).trim());
    let artifact = get("Implementation-Title")
        .filter(no_space)
        .or(symbolic.filter(|s| !s.is_empty()))
        .or(get("Specification-Title").filter(no_space))?;
    let version = get("Implementation-Version")
        .or(get("Bundle-Version"))
        .or(get("Specification-Version"))?;
    let group = get("Implementation-Vendor-Id");
    let mut p = maven_package(location, group, artifact, version);
    p.properties
        .insert("java.metadata".to_string(), "manifest".to_string());
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn pom(g: &str, a: &str, v: &str) -> (String, Vec<u8>) {
        (
            format!("META-INF/maven/{g}/{a}/pom.properties"),
            format!("#Generated by Maven\ngroupId={g}\nartifactId={a}\nversion={v}\n").into_bytes(),
        )
    }

    #[test]
    fn wants_by_extension() {
        let a = JavaArchiveAnalyzer;
        for p in [
            "app/x.jar",
            "a/B.WAR",
            "x.ear",
            "p.par",
            "plugins/x.jpi",
            "x.hpi",
        ] {
            assert!(a.wants(p), "{p}");
        }
        for p in ["x.jar.sha1", "jar", "a/.jar", "x.zip"] {
            assert!(!a.wants(p), "{p}");
        }
    }

    #[test]
    fn shaded_and_nested() {
        let (n1, d1) = pom("org.slf4j", "slf4j-api", "1.7.30");
        let inner = jar(&[(&n1, &d1), ("org/slf4j/Logger.class", b"\xca\xfe")]);
        let innermost = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: tiny\r\nImplementation-Version: 0.1\r\nImplementation-Vendor-Id: org.ex\r\n\r\n",
        )]);
        let middle = jar(&[("lib/tiny-0.1.jar", &innermost)]);
        let (n2, d2) = pom("com.ex", "app", "2.0");
        let (n3, d3) = pom("com.google.guava", "guava", "31.1-jre");
        let outer = jar(&[
            (&n2, &d2),
            (&n3, &d3),
            ("BOOT-INF/lib/slf4j-api-1.7.30.jar", &inner),
            ("BOOT-INF/lib/middle.jar", &middle),
        ]);
        let facts = JavaArchiveAnalyzer
            .analyze("app/app-2.0.jar", &outer)
            .unwrap();
        let got: Vec<(&str, &str, &str)> = facts
            .packages
            .iter()
            .map(|p| {
                (
                    p.purl.as_str(),
                    p.found_in.as_str(),
                    p.properties.get("sha1").map_or("", |s| s.as_str()),
                )
            })
            .collect();
        let sha = |b: &[u8]| hex::encode(Sha1::digest(b));
        let (so, si, sm) = (sha(&outer), sha(&inner), sha(&innermost));
        assert_eq!(
            got,
            [
                ("pkg:maven/com.ex/app@2.0", "app/app-2.0.jar", so.as_str()),
                (
                    "pkg:maven/com.google.guava/guava@31.1-jre",
                    "app/app-2.0.jar",
                    ""
                ),
                (
                    "pkg:maven/org.slf4j/slf4j-api@1.7.30",
                    "app/app-2.0.jar!/BOOT-INF/lib/slf4j-api-1.7.30.jar",
                    si.as_str()
                ),
                (
                    "pkg:maven/org.ex/tiny@0.1",
                    "app/app-2.0.jar!/BOOT-INF/lib/middle.jar!/lib/tiny-0.1.jar",
                    sm.as_str()
                ),
            ]
        );
        assert_eq!(facts.packages[1].properties["java.embedded"], "true");
        assert_eq!(facts.packages[3].properties["java.metadata"], "manifest");
        assert_eq!(facts.packages[0].name, "com.ex:app");
    }

    #[test]
    fn manifest_only_when_no_pom_properties() {
        let (n, d) = pom("g", "a", "1");
        let j = jar(&[
            (
                "META-INF/MANIFEST.MF",
                b"Implementation-Title: other\nImplementation-Version: 9\n",
            ),
            (&n, &d),
        ]);
        let facts = JavaArchiveAnalyzer.analyze("a-1.jar", &j).unwrap();
        assert_eq!(facts.packages.len(), 1);
        assert_eq!(facts.packages[0].purl, "pkg:maven/g/a@1");
        // Bundle headers with directives and continuation lines.
        let m = parse_manifest(
            "Bundle-SymbolicName: com.ex.bun\n dle;singleton:=true\nBundle-Version: 1.2.3\n\nName: x\nImplementation-Version: 7\n",
        );
        assert_eq!(m.len(), 2);
        let j = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Bundle-SymbolicName: com.ex.bun\n dle;singleton:=true\nBundle-Version: 1.2.3\n",
        )]);
        let p = &JavaArchiveAnalyzer.analyze("x.jar", &j).unwrap().packages[0];
        assert_eq!(
            (p.name.as_str(), p.purl.as_str()),
            ("com.ex.bundle", "pkg:maven/com.ex.bundle@1.2.3")
        );
        // No metadata at all: nothing, and no guess from the file name.
        let j = jar(&[("a/B.class", b"x")]);
        assert!(
            JavaArchiveAnalyzer
                .analyze("commons-io-2.11.0.jar", &j)
                .unwrap()
                .packages
                .is_empty()
        );
    }

    #[test]
    fn limits_and_malformed_input() {
        let err = JavaArchiveAnalyzer
            .analyze("x/bad.jar", b"PK\x03\x04garbage")
            .unwrap_err();
        assert_eq!(err.path, "x/bad.jar");
        // A corrupt nested jar is skipped and reported on the outer package.
        let (n, d) = pom("g", "outer", "1");
        let j = jar(&[(&n, &d), ("lib/broken.jar", b"not a zip")]);
        let facts = JavaArchiveAnalyzer.analyze("outer-1.jar", &j).unwrap();
        assert_eq!(facts.packages.len(), 1);
        assert!(
            facts.packages[0].properties["java.skipped"].contains("outer-1.jar!/lib/broken.jar")
        );
        // Nesting deeper than the limit.
        let (n, d) = pom("g", "deep", "1");
        let mut j = jar(&[(&n, &d)]);
        for _ in 0..MAX_DEPTH + 1 {
            j = jar(&[("n.jar", &j)]);
        }
        let err = JavaArchiveAnalyzer.analyze("top.jar", &j).unwrap_err();
        assert!(err.message.contains("nested deeper than 8"), "{err}");
        // Every truncation of a valid jar: an error or packages, never a panic.
        let j = jar(&[(&n, &d), ("lib/x.jar", &jar(&[(&n, &d)]))]);
        for len in 0..j.len() {
            let _ = JavaArchiveAnalyzer.analyze("t.jar", &j[..len]);
        }
    }
}
