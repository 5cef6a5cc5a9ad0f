//! Findings on the real test images: PyPI, Go and crates.io advisories from the real OSV data
//! sets, imported with `stella feeds import`; Debian tracker states on the Debian base image;
//! `stella explain` for every finding; SARIF and CycloneDX validated with the official schemas.

mod common;

use common::{run, shared_data, test_images, validate_sbom, write_osv_zip};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A data directory with the PyPI, Go and RustSec OSV databases imported.
fn osv_store() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let zips = tempfile::tempdir().unwrap();
    for (eco, src) in [
        ("PyPI", "osv-pypa/osv.ndjson.zst"),
        ("Go", "osv-golang-vulndb/osv.ndjson.zst"),
        ("crates.io", "osv-rustsec/osv.ndjson.zst"),
    ] {
        let zip = zips.path().join(eco).join("all.zip");
        write_osv_zip(&zip, src);
        let out = run(
            data.path(),
            &["feeds", "import", "osv", zip.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    data
}

fn scan_json(data: &Path, target: &str, extra: &[&str]) -> (Value, std::process::Output) {
    let mut args = vec!["scan", target, "--format", "json", "-q"];
    args.extend_from_slice(extra);
    let out = run(data, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (v, out)
}

/// vulnerability ids found per `name version` of PyPI packages.
fn pypi_findings(report: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in report["findings"]
        .as_array()
        .expect("findings in the report")
    {
        if f["package"]["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:pypi/")
        {
            m.entry(format!(
                "{} {}",
                f["package"]["name"].as_str().unwrap(),
                f["package"]["version"].as_str().unwrap()
            ))
            .or_default()
            .insert(f["vulnerability"].as_str().unwrap().to_string());
        }
    }
    m
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn old_python_packages_in_the_apps_image_get_the_advisories_that_name_them() {
    let Some(img) = test_images() else { return };
    let data = osv_store();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]);
    let (report, out) = scan_json(data.path(), &target, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report["advisories"]["snapshot"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let found = pypi_findings(&report);
    // Read off the PyPA records by hand: urllib3 1.24.1 is below the fix of each of these, …
    assert_eq!(
        found["urllib3 1.24.1"],
        set(&[
            "CVE-2018-25091",
            "CVE-2019-11236",
            "CVE-2019-11324",
            "CVE-2020-26137",
            "CVE-2021-33503",
            "CVE-2023-43804",
            "CVE-2023-45803",
        ])
    );
    // … while 1.26.4 is the fixed version of CVE-2021-28363 and above the others' fixes.
    assert_eq!(
        found["urllib3 1.26.4"],
        set(&["CVE-2021-33503", "CVE-2023-43804", "CVE-2023-45803"])
    );
    assert!(found["requests 2.25.1"].contains("CVE-2023-32681"));
    assert!(found["sqlparse 0.4.1"].contains("CVE-2021-32839"));
    assert!(found["sqlparse 0.4.1"].contains("CVE-2023-30608"));
    // PyYAML 6.0.1 and certifi 2020.12.5 … certifi is below 2022.12.7: affected; PyYAML is not.
    assert!(
        !found
            .keys()
            .any(|k| k.starts_with("pyyaml ") || k.starts_with("PyYAML "))
    );
    // Every finding carries its evidence and the snapshot.
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["snapshot"], report["advisories"]["snapshot"]);
        assert!(
            !f["evidence"]["records"].as_array().unwrap().is_empty(),
            "{f}"
        );
    }
}

#[test]
fn explain_shows_the_range_of_every_python_finding_and_refuses_fixed_versions() {
    let Some(img) = test_images() else { return };
    let data = osv_store();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]);
    let (report, _) = scan_json(data.path(), &target, &[]);
    let mut explained = 0;
    for f in report["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        if !id.contains("@pkg:pypi/") {
            continue;
        }
        let out = run(data.path(), &["explain", id, "--format", "json"]);
        assert!(
            out.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let e: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(e["id"], id);
        let ranges = e["evidence"]["ranges"].as_array().unwrap();
        assert!(!ranges.is_empty(), "{id}: no range in {e}");
        assert!(!e["evidence"]["comparisons"].as_array().unwrap().is_empty());
        explained += 1;
    }
    assert!(explained >= 10, "only {explained} python findings");
    // The table form names the range and the comparison that decided it.
    let out = run(
        data.path(),
        &["explain", "CVE-2021-28363@pkg:pypi/urllib3@1.26.3"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PYSEC-2021-59"), "{text}");
    assert!(text.contains("1.26.3 < 1.26.4"), "{text}");
    // The same package at its fixed version: not affected, exit code 1.
    let out = run(
        data.path(),
        &["explain", "CVE-2021-28363@pkg:pypi/urllib3@1.26.4"],
    );
    assert_eq!(out.status.code(), Some(1));
    for fixed in [
        "CVE-2019-11324@pkg:pypi/urllib3@1.24.2",
        "CVE-2023-32681@pkg:pypi/requests@2.31.0",
        "CVE-2021-32839@pkg:pypi/sqlparse@0.4.2",
    ] {
        let out = run(data.path(), &["explain", fixed]);
        assert_eq!(out.status.code(), Some(1), "{fixed} is fixed");
    }
    let out = run(data.path(), &["explain", "no-at-sign"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn filters_and_fail_on_gate_the_exit_code() {
    let Some(img) = test_images() else { return };
    let data = osv_store();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]);
    let (all, _) = scan_json(data.path(), &target, &[]);
    let all = all["findings"].as_array().unwrap().clone();
    let (high, _) = scan_json(data.path(), &target, &["--severity", "high,critical"]);
    let high = high["findings"].as_array().unwrap();
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(
        high.iter()
            .all(|f| f["severity"] == "high" || f["severity"] == "critical")
    );
    let (fixed, _) = scan_json(data.path(), &target, &["--ignore-unfixed"]);
    assert!(
        fixed["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fixedVersions"].as_array().is_some_and(|v| !v.is_empty()))
    );
    let (_, gate) = scan_json(data.path(), &target, &["--fail-on", "critical"]);
    let any_critical = all.iter().any(|f| f["severity"] == "critical");
    assert_eq!(gate.status.code(), Some(if any_critical { 1 } else { 0 }));
    let (_, gate) = scan_json(data.path(), &target, &["--fail-on", "low"]);
    assert_eq!(gate.status.code(), Some(1));
    // A gate on an empty store is an error, never a pass.
    let empty = tempfile::tempdir().unwrap();
    let (_, out) = (
        Value::Null,
        run(empty.path(), &["scan", &target, "--fail-on", "high", "-q"]),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stella feeds sync"));
}

#[test]
fn sarif_and_cyclonedx_findings_validate_against_the_official_schemas() {
    let Some(img) = test_images() else { return };
    let data = osv_store();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_APPS"]);
    let out_dir = tempfile::tempdir().unwrap();
    let sarif = out_dir.path().join("scan.sarif");
    let cdx = out_dir.path().join("scan.cdx.json");
    for (fmt, path) in [("sarif", &sarif), ("cyclonedx", &cdx)] {
        let out = run(
            data.path(),
            &[
                "scan",
                &target,
                "--format",
                fmt,
                "-o",
                path.to_str().unwrap(),
                "-q",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    validate_sbom("cyclonedx", &cdx);
    let bom: Value = serde_json::from_slice(&std::fs::read(&cdx).unwrap()).unwrap();
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    assert!(vulns.iter().any(|v| v["id"] == "CVE-2019-11324"));
    let refs: BTreeSet<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            assert!(refs.contains(a["ref"].as_str().unwrap()), "{a}");
        }
    }
    // The JSON report with findings against its documented, versioned schema.
    let report = out_dir.path().join("scan.json");
    let out = run(
        data.path(),
        &[
            "scan",
            &target,
            "--format",
            "json",
            "-o",
            report.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::check_jsonschema(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json"),
        &report,
    );
    let schema = shared_data("schemas-sarif/sarif-2.1/schema/sarif-schema-2.1.0.json");
    common::check_jsonschema(&schema, &sarif);
    let s: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    assert!(!s["runs"][0]["results"].as_array().unwrap().is_empty());
}

/// The Debian tracker's states on the Debian base image: a backported fix is honoured.
#[test]
fn debian_tracker_states_decide_findings_on_the_base_image() {
    let Some(img) = test_images() else { return };
    let data = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:{}", img["OCI_LAYOUT"], img["OCI_TAG_BASE"]);
    let (inv, _) = scan_json(data.path(), &target, &["--no-vulns"]);
    let libc = inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .expect("libc6 in the base image");
    let installed = libc["version"].as_str().unwrap().to_string();
    // The tracker's real entry for CVE-2023-4911 ("Looney Tunables"): fixed in bookworm by the
    // backport 2.36-9+deb12u3, in sid by 2.37-12. The image has a later bookworm update.
    let cmp = run(
        data.path(),
        &["version", "compare", "Debian", &installed, "2.36-9+deb12u3"],
    );
    assert_ne!(
        String::from_utf8_lossy(&cmp.stdout).trim(),
        "<",
        "{installed}"
    );
    let release = |status: &str, fixed: Option<&str>, urgency: &str| {
        let mut r = serde_json::json!({"status": status, "repositories": {"bookworm": installed}, "urgency": urgency});
        if let Some(f) = fixed {
            r["fixed_version"] = f.into();
        }
        r
    };
    let tracker = serde_json::json!({
        "glibc": {
            "CVE-2023-4911": {
                "description": "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so while processing the GLIBC_TUNABLES environment variable.",
                "scope": "local",
                "releases": {
                    "bookworm": release("resolved", Some("2.36-9+deb12u3"), "not yet assigned"),
                    "sid": {"status": "resolved", "repositories": {"sid": "2.37-12"}, "fixed_version": "2.37-12", "urgency": "not yet assigned"}
                }
            },
            // The other documented states, on the same installed package.
            "CVE-2099-0001": {"description": "open", "releases": {"bookworm": release("open", None, "low")}},
            "CVE-2099-0002": {"description": "not affected", "releases": {"bookworm": release("resolved", Some("0"), "not yet assigned")}},
            "CVE-2099-0003": {"description": "unimportant", "releases": {"bookworm": release("open", None, "unimportant")}},
            "CVE-2099-0004": {"description": "no-dsa", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": installed}, "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"}}},
            "CVE-2099-0005": {"description": "fixed later", "releases": {"bookworm": release("resolved", Some(&format!("{installed}.1")), "medium")}},
            "CVE-2099-0006": {"description": "end of life", "releases": {"bookworm": release("open", None, "end-of-life")}},
            "CVE-2099-0007": {"description": "other release only", "releases": {"bullseye": release("open", None, "high")}}
        }
    });
    let file = data.path().join("tracker.json");
    std::fs::write(&file, serde_json::to_vec(&tracker).unwrap()).unwrap();
    let out = run(
        data.path(),
        &["feeds", "import", "debian", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (report, _) = scan_json(data.path(), &target, &[]);
    let mut got: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        if f["package"]["name"] == "libc6" {
            got.insert(
                f["vulnerability"].as_str().unwrap().to_string(),
                (
                    f["fixState"].as_str().unwrap().to_string(),
                    f["fixedVersions"].clone(),
                ),
            );
        }
    }
    let ids: BTreeSet<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "CVE-2099-0001",
            "CVE-2099-0004",
            "CVE-2099-0005",
            "CVE-2099-0006"
        ]),
        "{got:?}"
    );
    assert_eq!(got["CVE-2099-0001"].0, "not-fixed");
    assert_eq!(got["CVE-2099-0004"].0, "wont-fix");
    assert_eq!(got["CVE-2099-0005"].0, "fixed");
    assert_eq!(got["CVE-2099-0006"].0, "wont-fix");
    // Every binary of the glibc source is matched (libc-bin as well as libc6).
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["package"]["name"] == "libc-bin" && f["vulnerability"] == "CVE-2099-0001")
    );
    // explain of the backported one: not affected.
    let purl = libc["purl"].as_str().unwrap();
    let out = run(data.path(), &["explain", &format!("CVE-2023-4911@{purl}")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(data.path(), &["explain", &format!("CVE-2099-0005@{purl}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bookworm"));
}
