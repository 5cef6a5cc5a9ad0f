//! CSAF against the OASIS examples and validator test cases (CSAF 2.0 and 2.1) and real Red
//! Hat advisories.

use serde_json::Value;
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseError, ParseOutcome, parse_document};
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

const REDHAT: &str =
    "csaf-vex-examples/redhat-from-vunnel/tests/unit/providers/rhel/test-fixtures/csaf";

fn parse(rel: &str) -> ParseOutcome {
    parse_document(
        FeedSource::Csaf,
        rel,
        &std::fs::read(data(rel)).unwrap(),
        &Limits::default(),
    )
    .unwrap()
}

fn only_advisory(o: &ParseOutcome) -> &Advisory {
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.records.len(), 1);
    match &o.records[0].normalized {
        Normalized::Advisory(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_file_is_a_record_or_a_clear_error() {
    let mut files = Vec::new();
    json_files(&data("csaf-vex-examples"), &mut files);
    files.sort();
    let limits = Limits::default();
    let (mut records, mut record_errors, mut shape_errors, mut json_errors) = (0, 0, 0, 0);
    // Expected, from the files alone: an object with a `document` object is a CSAF document.
    let (mut csaf_like, mut other_json, mut not_json) = (0, 0, 0);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path
            .strip_prefix(data(""))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.get("document").is_some_and(Value::is_object) => csaf_like += 1,
            Ok(_) => other_json += 1,
            Err(_) => not_json += 1,
        }
        match parse_document(FeedSource::Csaf, &name, &bytes, &limits) {
            Ok(o) if o.records.len() == 1 && o.errors.is_empty() => {
                records += 1;
                let doc: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(o.records[0].document, doc);
                assert_eq!(
                    Some(o.records[0].upstream_id.as_str()),
                    doc["document"]["tracking"]["id"].as_str()
                );
            }
            Ok(o) if o.records.is_empty() && o.errors.len() == 1 => {
                record_errors += 1;
                assert_eq!(o.errors[0].location, name);
                eprintln!("record error: {}", o.errors[0]);
            }
            Ok(o) => panic!(
                "{name}: {} records and {} errors",
                o.records.len(),
                o.errors.len()
            ),
            Err(e @ ParseError::Shape { .. }) => {
                shape_errors += 1;
                assert!(
                    e.to_string()
                        .starts_with(&format!("{name}: unexpected csaf document shape")),
                    "{e}"
                );
            }
            Err(e @ ParseError::Json { .. }) => {
                json_errors += 1;
                assert!(
                    e.to_string()
                        .starts_with(&format!("{name}: invalid JSON at line")),
                    "{e}"
                );
            }
            Err(e) => panic!("{name}: unexpected error {e}"),
        }
    }
    eprintln!(
        "csaf: {} files: {records} records, {record_errors} record errors, {shape_errors} not CSAF, {json_errors} not JSON",
        files.len()
    );
    assert_eq!(records + record_errors, csaf_like);
    assert_eq!(shape_errors, other_json);
    assert_eq!(json_errors, not_json);
    assert!(files.len() > 1200);
}

#[test]
fn examples_and_red_hat_advisories_parse_cleanly() {
    let mut files = Vec::new();
    json_files(
        &data("csaf-vex-examples/csaf_2.0/examples/csaf"),
        &mut files,
    );
    json_files(
        &data("csaf-vex-examples/csaf_2.1/examples/csaf"),
        &mut files,
    );
    json_files(&data(&format!("{REDHAT}/advisories")), &mut files);
    json_files(&data(&format!("{REDHAT}/server")), &mut files);
    for path in &files {
        let name = path.to_string_lossy();
        let o = parse_document(
            FeedSource::Csaf,
            &name,
            &std::fs::read(path).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        only_advisory(&o);
    }
    // 6 + 14 (VEX) 2.0 examples, 10 + 4 + 14 in 2.1 (less READMEs), 8 Red Hat advisories.
    assert!(files.len() >= 50, "{}", files.len());
}

#[test]
fn red_hat_advisory_maps_fixed_rpms() {
    let o = parse(&format!("{REDHAT}/advisories/rhsa-2023_7025.json"));
    let a = only_advisory(&o);
    assert_eq!(a.id, "RHSA-2023:7025");
    assert_eq!(
        a.summary.as_deref(),
        Some("Red Hat Security Advisory: ruby:2.5 security update")
    );
    assert!(
        a.details
            .as_deref()
            .unwrap()
            .starts_with("An update for the ruby:2.5 module")
    );
    // Four CVEs fixed together: related, not aliases.
    assert!(a.aliases.is_empty());
    assert_eq!(
        a.related,
        [
            "CVE-2021-33621",
            "CVE-2022-28739",
            "CVE-2023-28755",
            "CVE-2023-28756"
        ]
    );
    assert_eq!(a.severity[0].kind, SeverityKind::Label);
    assert_eq!(a.severity[0].value, "Moderate");
    assert_eq!(a.severity[0].source, "Red Hat Product Security");
    assert!(
        a.severity[1..]
            .iter()
            .all(|s| s.kind == SeverityKind::CvssV3 && s.score.is_some())
    );
    let ruby = a
        .affected
        .iter()
        .find(|p| p.purl.as_deref() == Some("pkg:rpm/redhat/ruby"))
        .unwrap();
    assert_eq!(
        (ruby.ecosystem.as_str(), ruby.name.as_str()),
        ("Red Hat", "ruby")
    );
    assert_eq!(
        ruby.ranges[0].events,
        [
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed("2.5.9-111.module+el8.9.0+19193+435404ae".into())
        ]
    );
    // One entry per package however many architectures and repositories ship it.
    let mut purls: Vec<_> = a.affected.iter().map(|p| p.purl.clone()).collect();
    let n = purls.len();
    purls.dedup();
    assert_eq!(purls.len(), n);
}

#[test]
fn single_cve_advisory_aliases_its_cve() {
    let o = parse(&format!("{REDHAT}/advisories/2024/rhsa-2024_6163.json"));
    let a = only_advisory(&o);
    assert_eq!(a.aliases, ["CVE-2024-8088"]);
    assert!(a.related.is_empty());
    let python = a.affected.iter().find(|p| p.name == "python3.9").unwrap();
    // The source RPM's epoch 0 is not written into the version.
    assert_eq!(
        python.ranges[0].events,
        [
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed("3.9.18-3.el9_4.5".into())
        ]
    );
}

#[test]
fn red_hat_security_data_json_is_not_csaf() {
    let rel = format!("{REDHAT}/hydra/cve-2024-8088.json");
    let e = parse_document(
        FeedSource::Csaf,
        &rel,
        &std::fs::read(data(&rel)).unwrap(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Shape { .. }), "{e}");
}
