//! CVE JSON 5 against CISA vulnrichment (all 44 130 records of the snapshot) and the
//! cvelistV5 records in osv.dev's fixtures.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseError, ParseOutcome, parse_document, parse_reader};
use stella_model::{Advisory, FeedSource, Normalized, RangeEvent, SeverityKind};

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

fn only_advisory(o: &ParseOutcome) -> &Advisory {
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.records.len(), 1);
    match &o.records[0].normalized {
        Normalized::Advisory(a) => a,
        other => panic!("{other:?}"),
    }
}

fn parse_sample(rel: &str) -> ParseOutcome {
    let bytes = std::fs::read(data(&format!("cve5-vulnrichment/sample/{rel}"))).unwrap();
    parse_document(FeedSource::Cve5, rel, &bytes, &Limits::default()).unwrap()
}

#[test]
fn adp_scores_are_credited_to_the_adp() {
    let outcome = parse_sample("2023/38xxx/CVE-2023-38545.json");
    let a = only_advisory(&outcome);
    assert_eq!(a.id, "CVE-2023-38545");
    assert_eq!(a.published.as_deref(), Some("2023-10-18T03:52:00.816Z"));
    assert_eq!(a.modified.as_deref(), Some("2024-10-17T21:16:30.994Z"));
    assert!(a.details.as_deref().unwrap().contains("SOCKS5"));
    assert_eq!(a.severity.len(), 1);
    assert_eq!(a.severity[0].kind, SeverityKind::CvssV3);
    assert_eq!(
        a.severity[0].value,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
    );
    assert_eq!(a.severity[0].score, Some(8.8));
    assert_eq!(a.severity[0].source, "CISA-ADP");
    assert_eq!(a.cwes, ["CWE-787"]);
}

#[test]
fn cna_title_scores_and_cwes_are_mapped() {
    let outcome = parse_sample("2024/3xxx/CVE-2024-3094.json");
    let a = only_advisory(&outcome);
    assert_eq!(
        a.summary.as_deref(),
        Some("Xz: malicious code in distributed source")
    );
    assert_eq!(a.severity[0].source, "redhat");
    assert_eq!(a.severity[0].score, Some(10.0));
    assert_eq!(a.cwes, ["CWE-506"]);
    // Red Hat's package browser and a GitHub repository are not package registries.
    assert!(a.affected.is_empty());
    let outcome = parse_sample("2024/3xxx/CVE-2024-3400.json");
    assert_eq!(only_advisory(&outcome).cwes, ["CWE-77", "CWE-20"]);
}

#[test]
fn every_vulnrichment_record_parses() {
    let file = std::fs::File::open(data("cve5-vulnrichment/cve-records.tar.zst")).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let limits = Limits::default();
    let (mut files, mut records, mut errors) = (0, 0, 0);
    let (mut rejected, mut withdrawn) = (0, 0);
    let (mut registry_entries, mut mapped) = (0, 0);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if !path.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files += 1;
        let outcome = parse_document(FeedSource::Cve5, &path, &bytes, &limits).unwrap();
        records += outcome.records.len();
        errors += outcome.errors.len();
        for e in &outcome.errors {
            eprintln!("{e}");
        }
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let Some(record) = outcome.records.first() else {
            continue;
        };
        assert_eq!(record.document, original, "{path}");
        assert!(
            path.ends_with(&format!("/{}.json", record.upstream_id)),
            "{path}"
        );
        rejected += usize::from(original["cveMetadata"]["state"] == "REJECTED");
        let Normalized::Advisory(a) = &record.normalized else {
            panic!()
        };
        withdrawn += usize::from(a.withdrawn.is_some());
        // Entries naming a package of a registry with lessThan bounds: each one maps.
        for aff in original["containers"]["cna"]["affected"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let url = aff["collectionURL"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches('/');
            let registry = matches!(
                url,
                "https://pypi.org"
                    | "https://pypi.python.org"
                    | "https://pkg.go.dev"
                    | "https://repo.maven.apache.org/maven2"
                    | "https://packagist.org"
            );
            let bounded = aff["versions"].as_array().into_iter().flatten().any(|v| {
                v["status"] == "affected" && v["lessThan"].as_str().is_some_and(|l| l != "*")
            });
            if registry
                && aff["packageName"].is_string()
                && aff["defaultStatus"] != "affected"
                && bounded
            {
                registry_entries += 1;
            }
        }
        mapped += a
            .affected
            .iter()
            .filter(|p| {
                p.ranges
                    .iter()
                    .any(|r| matches!(r.events.last(), Some(RangeEvent::Fixed(_))))
            })
            .count();
    }
    eprintln!(
        "vulnrichment: {files} files, {records} records, {errors} record errors, {withdrawn} withdrawn, {mapped} registry packages mapped"
    );
    assert_eq!(files, 44130);
    assert_eq!(records, files);
    assert_eq!(errors, 0);
    assert_eq!(rejected, 104);
    assert_eq!(withdrawn, rejected);
    assert!(registry_entries > 0);
    assert!(mapped >= registry_entries, "{mapped} < {registry_entries}");
}

#[test]
fn osv_dev_cvelist_records_parse() {
    let mut files = Vec::new();
    json_files(
        &data("osv-dev-fixtures/vulnfeeds/test_data/cvelistV5"),
        &mut files,
    );
    json_files(
        &data("osv-dev-fixtures/vulnfeeds/test_data/cve5"),
        &mut files,
    );
    files.sort();
    assert_eq!(files.len(), 11 + 13);
    for path in &files {
        let name = path.to_string_lossy();
        let outcome = parse_document(
            FeedSource::Cve5,
            &name,
            &std::fs::read(path).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let a = only_advisory(&outcome);
        assert_eq!(a.id, path.file_stem().unwrap().to_string_lossy());
    }
    // Log4Shell: the CNA names Maven coordinates without a registry URL; no affected entry
    // is guessed.
    let log4j =
        data("osv-dev-fixtures/vulnfeeds/test_data/cvelistV5/cves/2021/44xxx/CVE-2021-44228.json");
    let outcome = parse_document(
        FeedSource::Cve5,
        "CVE-2021-44228.json",
        &std::fs::read(log4j).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        only_advisory(&outcome)
            .summary
            .as_deref()
            .map(|s| s.contains("Log4j2")),
        Some(true)
    );
}

#[test]
fn osv_records_are_not_cve_records() {
    let rel = "osv-dev-fixtures/vulnfeeds/test_data/combine-to-osv/cve5/CVE-2023-0001.json";
    let e = parse_document(
        FeedSource::Cve5,
        rel,
        &std::fs::read(data(rel)).unwrap(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Shape { .. }), "{e}");
}

#[test]
fn a_zip_of_records_parses() {
    let mut files = Vec::new();
    json_files(&data("cve5-vulnrichment/sample"), &mut files);
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("cves.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let mut expected = BTreeMap::new();
    for path in &files {
        let name = path
            .strip_prefix(data("cve5-vulnrichment/sample"))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(path).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        expected.insert(
            doc["cveMetadata"]["cveId"].as_str().unwrap().to_string(),
            doc,
        );
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap();
    let outcome = parse_reader(
        FeedSource::Cve5,
        "cves.zip",
        std::fs::File::open(&zip_path).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let got: BTreeMap<String, Value> = outcome
        .records
        .into_iter()
        .map(|r| (r.upstream_id, r.document))
        .collect();
    assert_eq!(got, expected);
}
