//! CISA KEV against the catalog snapshot and vunnel's fixtures.

use serde_json::Value;
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, parse_document};
use stella_model::{FeedSource, Normalized};

fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

#[test]
fn catalog_gives_one_record_per_cve_and_its_count_matches() {
    let bytes = std::fs::read(data("cisa-kev/known_exploited_vulnerabilities.json")).unwrap();
    let catalog: Value = serde_json::from_slice(&bytes).unwrap();
    let outcome = parse_document(
        FeedSource::Kev,
        "known_exploited_vulnerabilities.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        outcome.records.len() as u64,
        catalog["count"].as_u64().unwrap()
    );
    assert_eq!(outcome.records.len(), 1404);

    let entry = outcome
        .records
        .iter()
        .find(|r| r.upstream_id == "CVE-2025-48384")
        .unwrap();
    let original = catalog["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["cveID"] == "CVE-2025-48384")
        .unwrap();
    assert_eq!(&entry.document, original);
    let Normalized::Kev(kev) = &entry.normalized else {
        panic!()
    };
    assert_eq!(kev.date_added, "2025-08-25");
    assert_eq!(kev.due_date.as_deref(), Some("2025-09-15"));
    assert_eq!(kev.vendor_project, "Git");
    assert_eq!(kev.product, "Git");
    assert_eq!(kev.name, "Git Link Following Vulnerability");
    assert_eq!(
        kev.known_ransomware_campaign_use.as_deref(),
        Some("Unknown")
    );

    // Ransomware use as the catalog states it, counted without the parser.
    let known = catalog["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["knownRansomwareCampaignUse"] == "Known")
        .count();
    let parsed_known = outcome
        .records
        .iter()
        .filter(|r| matches!(&r.normalized, Normalized::Kev(k) if k.known_ransomware_campaign_use.as_deref() == Some("Known")))
        .count();
    assert_eq!(parsed_known, known);
}

#[test]
fn vunnel_catalog_excerpt_and_single_entry_parse() {
    let dir = "vunnel-provider-fixtures/tests/unit/providers/kev/test-fixtures";
    let bytes = std::fs::read(data(&format!("{dir}/valid-catalog-1.json"))).unwrap();
    let catalog: Value = serde_json::from_slice(&bytes).unwrap();
    let outcome = parse_document(
        FeedSource::Kev,
        "valid-catalog-1.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty());
    // An excerpt: `count` is the full catalog's, the list holds three.
    assert_eq!(
        outcome.records.len(),
        catalog["vulnerabilities"].as_array().unwrap().len()
    );

    let bytes = std::fs::read(data(&format!("{dir}/single-entry/example1.json"))).unwrap();
    let outcome =
        parse_document(FeedSource::Kev, "example1.json", &bytes, &Limits::default()).unwrap();
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.records[0].upstream_id, "CVE-2025-0108");
    let Normalized::Kev(kev) = &outcome.records[0].normalized else {
        panic!()
    };
    assert_eq!(kev.date_added, "2025-02-18");
}

#[test]
fn a_bad_entry_and_a_duplicate_are_reported() {
    let catalog = serde_json::json!({"count": 3, "vulnerabilities": [
        {"cveID": "CVE-2024-1", "vendorProject": "V", "product": "P", "vulnerabilityName": "N", "dateAdded": "2024-01-01"},
        {"cveID": "CVE-2024-2", "vendorProject": "V", "product": "P", "vulnerabilityName": "N", "dateAdded": 20240101},
        {"cveID": "CVE-2024-1", "vendorProject": "V2", "product": "P", "vulnerabilityName": "N", "dateAdded": "2024-01-02"}
    ]});
    let bytes = serde_json::to_vec(&catalog).unwrap();
    let outcome = parse_document(FeedSource::Kev, "kev.json", &bytes, &Limits::default()).unwrap();
    assert_eq!(outcome.records.len(), 1);
    let Normalized::Kev(kev) = &outcome.records[0].normalized else {
        panic!()
    };
    assert_eq!(kev.vendor_project, "V2", "the last entry for an id wins");
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "kev.json: vulnerabilities[1]: dateAdded: expected a string, found a number",
            "kev.json: vulnerabilities[2]: duplicate record \"CVE-2024-1\" in this document; keeping the last one",
        ]
    );
}
