//! Scans of real images built from real Debian packages by tests/images/build-test-images.sh:
//! the inventory must equal what `dpkg-query` says of the same root filesystem, for every
//! transport; whiteouts must remove what the second layer deleted; SBOMs must pass the
//! ecosystems' own validators; two scans must give identical bytes.

mod common;

use common::*;
use std::path::Path;

fn scan_json(data: &Path, target: &str) -> Vec<u8> {
    let o = run(data, &["scan", target, "--format", "json", "-q"]);
    assert!(
        o.status.success(),
        "{target}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
fn base_image_inventory_equals_dpkg_query_of_its_rootfs() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let expected = read_tsv(&img["EXPECTED_BASE"]);
    assert!(
        expected.len() > 50,
        "a minbase system has dozens of packages"
    );
    for target in [
        format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_BASE"]),
        format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_ZSTD"]),
        format!("docker-archive:{}", img["DOCKER_ARCHIVE_BASE"]),
        format!("dir:{}", img["ROOTFS"]),
    ] {
        let got = inventory_tsv(&scan_json(data.path(), &target));
        assert_eq!(got, expected, "{target}");
    }
}

#[test]
fn whiteout_layer_removes_the_deleted_package_on_every_transport() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let expected = read_tsv(&img["EXPECTED_WHITEOUT"]);
    let removed = &img["REMOVED_PACKAGE_NAME"];
    assert!(
        !expected
            .iter()
            .any(|l| l.split('\t').next() == Some(removed.as_str()))
    );
    assert_eq!(read_tsv(&img["EXPECTED_BASE"]).len(), expected.len() + 1);
    let targets = [
        format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_WHITEOUT"]),
        format!("docker-archive:{}", img["DOCKER_ARCHIVE"]),
        format!("oci-archive:{}", img["OCI_ARCHIVE"]),
        format!("dir:{}", img["WHITEOUT_ROOTFS"]),
        // A third layer making etc/skel opaque (`.wh..wh..opq`) changes no package; the same
        // layer without tar's end-of-archive blocks (as umoci 0.4.7 writes it) reads too.
        format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_OPAQUE"]),
        format!(
            "oci:{}:{}",
            img["OCI_LAYOUT"], img["OCI_TAG_OPAQUE_NOTRAILER"]
        ),
        // Bare paths are recognised by their content.
        img["DOCKER_ARCHIVE"].clone(),
        img["OCI_ARCHIVE"].clone(),
    ];
    for target in &targets {
        let report = scan_json(data.path(), target);
        assert_eq!(inventory_tsv(&report), expected, "{target}");
        let v: serde_json::Value = serde_json::from_slice(&report).unwrap();
        assert_eq!(v["distro"]["id"], "debian", "{target}");
        assert_eq!(v["distro"]["versionId"], "12", "{target}");
    }
}

#[test]
fn packages_carry_the_layer_that_introduced_them_and_purls() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let report = scan_json(
        data.path(),
        &format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_WHITEOUT"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let layers = v["image"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let base_layer = layers[0]["digest"].as_str().unwrap();
    for p in v["packages"].as_array().unwrap() {
        assert_eq!(p["layer"].as_str(), Some(base_layer), "{}", p["name"]);
        assert_eq!(p["foundIn"], "var/lib/dpkg/status");
        let purl = p["purl"].as_str().unwrap();
        let encoded_name = p["name"].as_str().unwrap().replace('+', "%2B");
        assert!(
            purl.starts_with(&format!("pkg:deb/debian/{encoded_name}@")),
            "{purl}"
        );
        assert!(purl.contains("distro=debian-12"), "{purl}");
    }
    let libc = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    assert_eq!(libc["sourceName"], "glibc");
    assert!(!libc["supplier"].is_null());
    let bash = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bash")
        .unwrap();
    assert!(
        bash["licenses"].as_array().is_some_and(|l| !l.is_empty()),
        "licenses from the DEP-5 copyright file"
    );
}

#[test]
fn sboms_are_deterministic_and_pass_the_official_validators() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci-archive:{}", img["OCI_ARCHIVE"]);
    for (format, file) in [("cyclonedx", "bom.cdx.json"), ("spdx", "bom.spdx.json")] {
        let a = out.path().join(format!("a-{file}"));
        let b = out.path().join(format!("b-{file}"));
        for (path, cache) in [(&a, "--no-cache"), (&b, "-q")] {
            let o = run(
                data.path(),
                &[
                    "scan",
                    &target,
                    "--format",
                    format,
                    "-o",
                    path.to_str().unwrap(),
                    cache,
                ],
            );
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{format} differs between two scans"
        );
        validate_sbom(format, &a);
    }
    // --sbom-format is the seed's spelling of the same choice.
    let o = run(data.path(), &["scan", &target, "--sbom-format=spdx", "-q"]);
    assert!(o.status.success());
    assert_eq!(
        o.stdout,
        std::fs::read(out.path().join("a-bom.spdx.json")).unwrap()
    );
}

#[test]
fn source_date_epoch_pins_the_output_time() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let o = stella()
        .env("STELLA_DATA_DIR", data.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "scan",
            &format!("dir:{}", img["ROOTFS"]),
            "--format",
            "cyclonedx",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
}
