//! apk and rpm images end to end: real package databases (Alpine's installed db from Trivy's
//! fixtures, go-rpmdb's SQLite, Berkeley DB and NDB rpm databases) placed in image layers, scanned
//! by the real binary, reported with the right purls and distro.

mod common;

use common::*;
use std::path::Path;

fn shared(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn scan_layer(entries: &[Entry]) -> serde_json::Value {
    let img = tempfile::tempdir().unwrap();
    oci_layout(img.path(), &[gzip(&tar_layer(entries))]);
    let data = tempfile::tempdir().unwrap();
    let o = run(
        data.path(),
        &[
            "scan",
            &format!("oci:{}", img.path().display()),
            "--format",
            "json",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn purls(v: &serde_json::Value) -> Vec<String> {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purl"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn alpine_image_reports_apk_packages() {
    let db = shared("fixtures-trivy-parsers/src/pkg/fanal/analyzer/pkg/apk/testdata/apk");
    let v = scan_layer(&[
        Entry::File("etc/alpine-release", b"3.4.6\n"),
        Entry::File("lib/apk/db/installed", &db),
    ]);
    assert_eq!(v["distro"]["id"], "alpine");
    let p = purls(&v);
    assert!(
        p.contains(&"pkg:apk/alpine/musl@1.1.14-r10?arch=x86_64&distro=alpine-3.4.6".to_string()),
        "{p:?}"
    );
    assert!(p.iter().all(|p| p.starts_with("pkg:apk/alpine/")));
}

#[test]
fn rpm_databases_of_every_format_are_reported() {
    let os_release = b"NAME=\"Common Base Linux Mariner\"\nVERSION=\"2.0.20220527\"\nID=mariner\nVERSION_ID=\"2.0\"\n";
    let sqlite = shared("fixtures-go-rpmdb/src/pkg/testdata/cbl-mariner-2.0/rpmdb.sqlite");
    let v = scan_layer(&[
        Entry::File("etc/os-release", os_release),
        Entry::File("var/lib/rpm/rpmdb.sqlite", &sqlite),
    ]);
    let p = purls(&v);
    assert!(p.len() > 100, "{}", p.len());
    assert!(
        p.iter()
            .any(|p| p.starts_with("pkg:rpm/mariner/curl@") && p.contains("distro=mariner-2.0")),
        "{p:?}"
    );

    let bdb = shared("fixtures-go-rpmdb/src/pkg/testdata/libuuid/Packages");
    let v = scan_layer(&[
        Entry::File(
            "etc/redhat-release",
            b"CentOS Linux release 7.9.2009 (Core)\n",
        ),
        Entry::File("var/lib/rpm/Packages", &bdb),
    ]);
    let p = purls(&v);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("pkg:rpm/centos/libuuid@"), "{p:?}");

    let ndb = shared("fixtures-go-rpmdb/src/pkg/testdata/sle15-bci/Packages.db");
    let v = scan_layer(&[
        Entry::File(
            "usr/lib/os-release",
            b"NAME=\"SLES\"\nVERSION=\"15-SP3\"\nVERSION_ID=\"15.3\"\nID=\"sles\"\nID_LIKE=\"suse\"\n",
        ),
        Entry::Symlink("etc/os-release", "../usr/lib/os-release"),
        Entry::File("usr/lib/sysimage/rpm/Packages.db", &ndb),
    ]);
    assert_eq!(v["distro"]["id"], "sles", "os-release through a symlink");
    let p = purls(&v);
    assert!(
        p.iter()
            .all(|p| p.starts_with("pkg:rpm/opensuse/") && p.contains("distro=sles-15.3")),
        "{p:?}"
    );
}
