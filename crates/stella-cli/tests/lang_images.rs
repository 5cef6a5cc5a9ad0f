//! Application packages in a real image built with the real tools (pip, npm, Debian's Java
//! and Go packages, cargo auditable; tests/images/apps/apps.sh): the packages Stella reports
//! must be exactly the ones those tools say are installed, on every transport.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

type Rows = BTreeSet<Vec<String>>;

fn scan(data: &Path, target: &str) -> serde_json::Value {
    let o = run(data, &["scan", target, "--format", "json", "-q"]);
    assert!(
        o.status.success(),
        "{target}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn packages<'a>(v: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .collect()
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn tsv(path: &str, columns: &[usize]) -> Rows {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            columns
                .iter()
                .map(|&c| cells.get(c).unwrap_or(&"").to_string())
                .collect()
        })
        .collect()
}

/// PEP 503 normalisation, as pip and Stella name distributions.
fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn dir_of(found_in: &str, levels: usize) -> String {
    let mut p = Path::new(found_in);
    for _ in 0..levels {
        p = p.parent().unwrap_or(Path::new(""));
    }
    format!("/{}", p.display())
}

fn check_apps(
    target: &str,
    img: &std::collections::BTreeMap<String, String>,
    v: &serde_json::Value,
) {
    // Python: `pip list --path` of each site-packages dir (name, version, dir).
    let expected: Rows = tsv(&img["EXPECTED_APPS_PYTHON_TSV"], &[0, 1, 2])
        .into_iter()
        .map(|r| vec![pep503(&r[0]), r[1].clone(), r[2].clone()])
        .collect();
    let got: Rows = packages(v, "python")
        .iter()
        .map(|p| {
            vec![
                s(&p["name"]),
                s(&p["version"]),
                dir_of(&s(&p["foundIn"]), 2),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{target}: python");
    assert!(
        packages(v, "python")
            .iter()
            .all(|p| s(&p["purl"]).starts_with("pkg:pypi/")),
        "{target}"
    );

    // npm: `npm ls --all --parseable --long` (name, version, dir, dev flag).
    let expected: Rows = tsv(&img["EXPECTED_APPS_NPM_TSV"], &[0, 1, 2, 3])
        .into_iter()
        .map(|r| {
            vec![
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
                (r[3] == "dev").to_string(),
            ]
        })
        .collect();
    let got: Rows = packages(v, "npm")
        .iter()
        .map(|p| {
            vec![
                s(&p["name"]),
                s(&p["version"]),
                dir_of(&s(&p["foundIn"]), 1),
                p["dev"].as_bool().unwrap().to_string(),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{target}: npm");

    // Java: each archive's own pom.properties (group, artifact, version, path, sha1).
    let expected = tsv(&img["EXPECTED_APPS_JAVA"], &[0, 1, 2, 3, 4]);
    let got: Rows = packages(v, "maven")
        .iter()
        .map(|p| {
            let name = s(&p["name"]);
            let (g, a) = name.split_once(':').unwrap_or(("", &name));
            vec![
                g.to_string(),
                a.to_string(),
                s(&p["version"]),
                format!("/{}", s(&p["foundIn"])),
                s(&p["properties"]["sha1"]),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{target}: java");

    // Go: `go version -m` of each binary: toolchain as stdlib, main module, deps.
    let mut expected = Rows::new();
    for r in tsv(&img["EXPECTED_APPS_GO"], &[0, 1, 2, 3]) {
        match r[1].as_str() {
            "go" => expected.insert(vec![
                r[0].clone(),
                "stdlib".into(),
                r[3].trim_start_matches("go").into(),
            ]),
            "mod" | "dep" => expected.insert(vec![r[0].clone(), r[2].clone(), r[3].clone()]),
            _ => false,
        };
    }
    let got: Rows = packages(v, "go")
        .iter()
        .map(|p| {
            vec![
                format!("/{}", s(&p["foundIn"])),
                s(&p["name"]),
                s(&p["version"]),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{target}: go");

    // Rust: the crate's Cargo.lock against the cargo-auditable data in the binary.
    let expected: Rows = tsv(&img["EXPECTED_APPS_RUST"], &[0, 1, 3]);
    let got: Rows = packages(v, "cargo")
        .iter()
        .map(|p| {
            vec![
                s(&p["name"]),
                s(&p["version"]),
                format!("/{}", s(&p["foundIn"])),
            ]
        })
        .collect();
    assert_eq!(got, expected, "{target}: rust");

    // The OS inventory is the base image's.
    assert_eq!(
        inventory_tsv_of_kind(v, "deb"),
        read_tsv(&img["EXPECTED_BASE"]),
        "{target}: deb"
    );
}

fn inventory_tsv_of_kind(v: &serde_json::Value, kind: &str) -> Vec<String> {
    let mut l: Vec<String> = packages(v, kind)
        .iter()
        .map(|p| format!("{}\t{}\t{}", s(&p["name"]), s(&p["version"]), s(&p["arch"])))
        .collect();
    l.sort();
    l
}

#[test]
fn apps_image_reports_exactly_the_installed_application_packages() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    for target in [
        format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]),
        format!("docker-archive:{}", img["APPS_DOCKER_ARCHIVE"]),
        format!("dir:{}", img["APPS_ROOTFS"]),
    ] {
        let v = scan(data.path(), &target);
        check_apps(&target, img, &v);
    }
}

#[test]
fn apps_image_packages_carry_the_layer_that_installed_them() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let v = scan(
        data.path(),
        &format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]),
    );
    let layers: Vec<String> = v["image"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| s(&l["digest"]))
        .collect();
    assert_eq!(layers.len(), 7);
    let layer_of = |kind: &str| -> BTreeSet<String> {
        packages(&v, kind).iter().map(|p| s(&p["layer"])).collect()
    };
    assert_eq!(layer_of("deb"), BTreeSet::from([layers[0].clone()]));
    assert_eq!(layer_of("npm"), BTreeSet::from([layers[3].clone()]));
    assert_eq!(layer_of("maven"), BTreeSet::from([layers[4].clone()]));
    assert_eq!(layer_of("cargo"), BTreeSet::from([layers[6].clone()]));
    // Two site-packages dirs, two layers; the second copy of urllib3 is its own package.
    assert_eq!(
        layer_of("python"),
        BTreeSet::from([layers[1].clone(), layers[2].clone()])
    );
    let urllib3: Vec<String> = packages(&v, "python")
        .iter()
        .filter(|p| p["name"] == "urllib3")
        .map(|p| s(&p["version"]))
        .collect();
    assert_eq!(urllib3.len(), 2, "{urllib3:?}");
    // Owned files from RECORD stay with their own install.
    let requests = packages(&v, "python")
        .into_iter()
        .find(|p| p["name"] == "requests")
        .unwrap();
    let files: Vec<String> = requests["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f == "opt/pyapp/site-packages/requests/__init__.py"),
        "{files:?}"
    );
}

#[test]
fn apps_sboms_validate_and_carry_application_packages() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]);
    for (format, file) in [("cyclonedx", "apps.cdx.json"), ("spdx", "apps.spdx.json")] {
        let path = out.path().join(file);
        let o = run(
            data.path(),
            &[
                "scan",
                &target,
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
                "-q",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&path).unwrap();
        // Determinism: an uncached scan gives the same bytes as the cached one above.
        let again = run(
            data.path(),
            &["scan", &target, "--format", format, "--no-cache", "-q"],
        );
        assert!(again.status.success());
        assert_eq!(again.stdout, text.as_bytes(), "{format}: two scans differ");
        for purl in [
            "pkg:pypi/requests@2.25.1",
            "pkg:npm/express@4.17.1",
            "pkg:cargo/itoa@1.0.1",
        ] {
            assert!(text.contains(purl), "{format} lacks {purl}");
        }
        // A jar's sha1 goes where each format keeps hashes.
        let hash_field = match format {
            "spdx" => "\"algorithm\": \"SHA1\"",
            _ => "\"alg\": \"SHA-1\"",
        };
        assert!(
            text.contains(hash_field),
            "{format} lacks the jar sha1 as a hash"
        );
        validate_sbom(format, &path);
    }
}
