//! Java archives from Debian's Java packages on this machine. Debian installs each jar into
//! `/usr/share/maven-repo/<group path>/<artifact>/<version>/<artifact>-<version>.jar`: that path
//! is the second source of the coordinates the analyzer reads from the jar's own
//! pom.properties (Debian also links version aliases, `debian` and `3.x`: those are skipped).

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use stella_analyzers::Analyzer;
use stella_analyzers::lang::java::JavaArchiveAnalyzer;
use stella_analyzers::lang::java_runtime::JavaRuntimeAnalyzer;

const REPO: &str = "/usr/share/maven-repo";

fn jars(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            jars(&p, out);
        } else if p.extension().is_some_and(|x| x == "jar") {
            out.push(p);
        }
    }
}

#[test]
fn debian_maven_repo_jars_match_their_repository_paths() {
    let mut all = Vec::new();
    jars(std::path::Path::new(REPO), &mut all);
    all.sort();
    if all.is_empty() {
        eprintln!("{REPO} absent; skipped");
        return;
    }
    let (mut matched, mut manifest_only) = (0, 0);
    for jar in &all {
        let rel = jar.strip_prefix(REPO).unwrap().to_str().unwrap();
        let parts: Vec<&str> = rel.split('/').collect();
        let n = parts.len();
        let (version, artifact) = (parts[n - 2], parts[n - 3]);
        let group = parts[..n - 3].join(".");
        if version == "debian" || version.ends_with(".x") {
            continue;
        }
        let data = std::fs::read(jar).unwrap();
        let path = jar.to_str().unwrap().trim_start_matches('/');
        let facts = JavaArchiveAnalyzer
            .analyze(path, &data)
            .unwrap_or_else(|e| panic!("{e}"));
        // The archive's own package carries its sha1.
        let own: Vec<_> = facts
            .packages
            .iter()
            .filter(|p| p.properties.contains_key("sha1"))
            .collect();
        assert!(own.len() <= 1, "{rel}");
        let Some(own) = own.first() else { continue };
        assert_eq!(own.found_in, path);
        if own.properties.contains_key("java.pom_properties") {
            assert_eq!(own.name, format!("{group}:{artifact}"), "{rel}");
            assert_eq!(own.version, version, "{rel}");
            assert_eq!(
                own.purl,
                format!("pkg:maven/{group}/{artifact}@{version}"),
                "{rel}"
            );
            matched += 1;
        } else {
            // Identified by its manifest (no pom.properties of its own): the version agrees.
            assert_eq!(own.properties["java.metadata"], "manifest", "{rel}");
            assert_eq!(
                own.version.trim_end_matches(".0"),
                version.trim_end_matches(".0"),
                "{rel}"
            );
            manifest_only += 1;
        }
    }
    eprintln!("{matched} jars matched by pom.properties, {manifest_only} by manifest only");
    assert!(matched >= 10, "{matched}");
}

#[test]
fn debian_shaded_jar() {
    let Ok(data) = std::fs::read("/usr/share/java/wagon-http-shaded-3.5.3.jar") else {
        eprintln!("wagon-http-shaded absent; skipped");
        return;
    };
    let facts = JavaArchiveAnalyzer
        .analyze("usr/share/java/wagon-http-shaded-3.5.3.jar", &data)
        .unwrap();
    let got: BTreeSet<(&str, bool)> = facts
        .packages
        .iter()
        .map(|p| (p.purl.as_str(), p.properties.contains_key("sha1")))
        .collect();
    let want: BTreeSet<(&str, bool)> = [
        ("pkg:maven/commons-codec/commons-codec@1.15", false),
        (
            "pkg:maven/org.apache.httpcomponents/httpclient@4.5.14",
            false,
        ),
        ("pkg:maven/org.apache.httpcomponents/httpcore@4.4.16", false),
        (
            "pkg:maven/org.apache.maven.wagon/wagon-http-shared@3.5.3",
            false,
        ),
        ("pkg:maven/org.apache.maven.wagon/wagon-http@3.5.3", true),
    ]
    .into();
    assert_eq!(got, want);
}

/// A WAR holding a real Debian jar and a Spring-Boot-style jar holding the WAR: the nested
/// packages are the same as the jar read on its own, with the nested location.
#[test]
fn real_jar_nested_twice() {
    let Ok(inner) = std::fs::read("/usr/share/java/commons-io.jar") else {
        eprintln!("commons-io absent; skipped");
        return;
    };
    let alone = JavaArchiveAnalyzer
        .analyze("commons-io.jar", &inner)
        .unwrap();
    let zip = |name: &str, data: &[u8]| {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().into_inner()
    };
    let war = zip("WEB-INF/lib/commons-io.jar", &inner);
    let boot = zip("BOOT-INF/lib/app.war", &war);
    let facts = JavaArchiveAnalyzer.analyze("app/boot.jar", &boot).unwrap();
    assert_eq!(facts.packages.len(), alone.packages.len());
    for (a, b) in alone.packages.iter().zip(&facts.packages) {
        assert_eq!(a.purl, b.purl);
        assert_eq!(a.properties.get("sha1"), b.properties.get("sha1"));
        assert_eq!(
            b.found_in,
            "app/boot.jar!/BOOT-INF/lib/app.war!/WEB-INF/lib/commons-io.jar"
        );
    }
}

#[test]
fn installed_jdk_release_files() {
    let Ok(dirs) = std::fs::read_dir("/usr/lib/jvm") else {
        return;
    };
    for d in dirs.flatten() {
        let release = d.path().join("release");
        let Ok(text) = std::fs::read_to_string(&release) else {
            continue;
        };
        let path = release.to_str().unwrap().trim_start_matches('/');
        assert!(JavaRuntimeAnalyzer.wants(path));
        let facts = JavaRuntimeAnalyzer.analyze(path, text.as_bytes()).unwrap();
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("JAVA_VERSION="))
            .unwrap()
            .trim_matches('"');
        assert_eq!(
            facts.packages[0].purl,
            format!("pkg:generic/openjdk@{version}")
        );
    }
}
