//! NVD CVE API 2.0 against the real samples (response pages from osv.dev's and vunnel's
//! tests, bare cve objects from trivy-db's vuln-list-nvd layout), and the shapes that are
//! not API 2.0 records: Anchore's configuration overrides and the retired 1.1 feed.

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseError, ParseOutcome, parse_document};
use stella_model::{Advisory, FeedSource, Normalized, SeverityKind};

fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// The cve objects of a document, found without the parser.
fn cves_of(doc: &Value) -> Vec<Value> {
    match doc.get("vulnerabilities") {
        Some(list) => list
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["cve"].clone())
            .collect(),
        None => vec![doc.clone()],
    }
}

fn advisory<'o>(o: &'o ParseOutcome, id: &str) -> &'o Advisory {
    match &o
        .records
        .iter()
        .find(|r| r.upstream_id == id)
        .unwrap()
        .normalized
    {
        Normalized::Advisory(a) => a,
        other => panic!("{other:?}"),
    }
}

fn parse_file(rel: &str) -> ParseOutcome {
    let bytes = std::fs::read(data(rel)).unwrap();
    parse_document(FeedSource::Nvd, rel, &bytes, &Limits::default()).unwrap()
}

#[test]
fn every_sample_gives_its_cves_with_documents_as_given() {
    let mut files = Vec::new();
    json_files(&data("nvd-api2-samples"), &mut files);
    files.sort();
    assert_eq!(files.len(), 29);
    let mut total = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.to_string_lossy();
        let outcome = parse_document(FeedSource::Nvd, &name, &bytes, &Limits::default()).unwrap();
        assert!(outcome.errors.is_empty(), "{name}: {:?}", outcome.errors);
        let mut expected = cves_of(&serde_json::from_slice(&bytes).unwrap());
        expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        assert_eq!(outcome.records.len(), expected.len(), "{name}");
        for (record, cve) in outcome.records.iter().zip(&expected) {
            assert_eq!(record.upstream_id, cve["id"].as_str().unwrap());
            assert_eq!(&record.document, cve);
            // Every vulnerable CPE criterion, once.
            let mut vulnerable: Vec<&str> = Vec::new();
            for conf in cve["configurations"].as_array().into_iter().flatten() {
                for node in conf["nodes"].as_array().unwrap() {
                    for m in node["cpeMatch"].as_array().unwrap() {
                        if m["vulnerable"] == true {
                            vulnerable.push(m["criteria"].as_str().unwrap());
                        }
                    }
                }
            }
            let Normalized::Advisory(a) = &record.normalized else {
                panic!()
            };
            let got: Vec<&str> = a.cpe_matches.iter().map(|m| m.criteria.as_str()).collect();
            assert!(
                got.iter().all(|c| vulnerable.contains(c)),
                "{}",
                record.upstream_id
            );
            assert!(
                vulnerable.iter().all(|c| got.contains(c)),
                "{}",
                record.upstream_id
            );
        }
        total += outcome.records.len();
    }
    // 23 single-CVE pages, vunnel's single entry and 38-CVE page, 4 bare cve objects.
    assert_eq!(total, 23 + 1 + 38 + 4);
}

#[test]
fn libwebp_cve_maps_metrics_weaknesses_and_cpes() {
    let outcome =
        parse_file("nvd-api2-samples/osv.dev/vulnfeeds/test_data/nvdcve-2.0/CVE-2023-4863.json");
    let a = advisory(&outcome, "CVE-2023-4863");
    assert!(
        a.details
            .as_deref()
            .unwrap()
            .starts_with("Heap buffer overflow in libwebp")
    );
    assert_eq!(a.summary, None);
    assert_eq!(a.published.as_deref(), Some("2023-09-12T15:15:24.327"));
    assert_eq!(a.modified.as_deref(), Some("2023-10-28T19:15:38.643"));
    assert_eq!(a.withdrawn, None);
    assert_eq!(a.severity.len(), 1);
    assert_eq!(a.severity[0].kind, SeverityKind::CvssV3);
    assert_eq!(
        a.severity[0].value,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
    );
    assert_eq!(a.severity[0].score, Some(8.8));
    assert_eq!(a.severity[0].source, "nvd@nist.gov");
    assert_eq!(a.cwes, ["CWE-787"]);
    let chrome = &a.cpe_matches[0];
    assert_eq!(chrome.criteria, "cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*");
    assert_eq!(
        chrome.version_end_excluding.as_deref(),
        Some("116.0.5845.187")
    );
    let esr = a
        .cpe_matches
        .iter()
        .find(|m| m.version_start_including.as_deref() == Some("115.0"))
        .unwrap();
    assert_eq!(esr.version_end_excluding.as_deref(), Some("115.2.1"));
    assert!(!a.references.is_empty());
}

#[test]
fn rejected_cves_are_withdrawn_and_cvss4_comes_first() {
    let dir = "nvd-api2-samples/trivy-db/pkg/vulnsrc/nvd/testdata/happy/vuln-list-nvd/api/2024";
    let outcome = parse_file(&format!("{dir}/CVE-2024-0069.json"));
    let a = advisory(&outcome, "CVE-2024-0069");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(data(&format!("{dir}/CVE-2024-0069.json"))).unwrap())
            .unwrap();
    assert_eq!(doc["vulnStatus"], "Rejected");
    assert_eq!(a.withdrawn.as_deref(), doc["lastModified"].as_str());

    let outcome = parse_file(&format!("{dir}/CVE-2024-5732.json"));
    let a = advisory(&outcome, "CVE-2024-5732");
    let kinds: Vec<SeverityKind> = a.severity.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SeverityKind::CvssV4,
            SeverityKind::CvssV3,
            SeverityKind::CvssV3,
            SeverityKind::CvssV2
        ]
    );
    assert!(a.severity[0].value.starts_with("CVSS:4.0/"));
}

#[test]
fn anchore_overrides_are_not_nvd_records() {
    // `{"_annotation": …, "cve": {"configurations": …}}`: NVD-shaped configurations without a
    // CVE record around them. Each file is one clear record error, none a crash.
    let file = std::fs::File::open(data("nvd-data-overrides-anchore/data.tar.zst")).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let limits = Limits::default();
    let mut files = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if !path.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let outcome = parse_document(FeedSource::Nvd, &path, &bytes, &limits).unwrap();
        assert!(outcome.records.is_empty(), "{path}");
        assert_eq!(outcome.errors.len(), 1, "{path}");
        assert_eq!(
            outcome.errors[0].to_string(),
            format!("{path}: id: missing")
        );
        files += 1;
    }
    assert_eq!(files, 32184);
}

#[test]
fn the_retired_1_1_feed_is_refused_by_name() {
    let rel = "osv-dev-fixtures/vulnfeeds/test_data/nvdcve-1.1-test-data.json";
    let bytes = std::fs::read(data(rel)).unwrap();
    let e = parse_document(FeedSource::Nvd, rel, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(e, ParseError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("NVD 1.1"), "{e}");
}

#[test]
fn a_bad_entry_of_a_page_costs_only_itself() {
    let page = serde_json::json!({
        "resultsPerPage": 3, "startIndex": 0, "totalResults": 3, "format": "NVD_CVE", "version": "2.0",
        "vulnerabilities": [
            {"cve": {"id": "CVE-2024-0001", "metrics": {"cvssMetricV31": "high"}}},
            {"cve": {"id": "CVE-2024-0002"}},
            {"nope": 1}
        ]
    });
    let bytes = serde_json::to_vec(&page).unwrap();
    let outcome =
        parse_document(FeedSource::Nvd, "page-0.json", &bytes, &Limits::default()).unwrap();
    assert_eq!(outcome.records.len(), 1);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "page-0.json: vulnerabilities[0] (CVE-2024-0001): metrics.cvssMetricV31: expected an array, found a string",
            "page-0.json: vulnerabilities[2]: expected an object with a `cve` object",
        ]
    );
}
