//! FIRST EPSS CSV against vunnel's fixtures, plain and gzip.

use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseError, parse_document};
use stella_model::{FeedSource, Normalized};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/vunnel-provider-fixtures/tests/unit/providers/epss/test-fixtures"
    ))
    .join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn example_scores_parse_with_model_and_date() {
    let bytes = std::fs::read(fixture("example-1.csv")).unwrap();
    // Rows counted from the file: everything after the comment and header lines.
    let rows = String::from_utf8(bytes.clone())
        .unwrap()
        .lines()
        .skip(2)
        .filter(|l| !l.is_empty())
        .count();
    let outcome = parse_document(
        FeedSource::Epss,
        "example-1.csv",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.records.len(), rows);
    assert_eq!(rows, 5);
    let ids: Vec<&str> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "CVE-1999-0001",
            "CVE-1999-0002",
            "CVE-1999-0003",
            "CVE-1999-0004",
            "CVE-1999-0005"
        ]
    );

    // vunnel's expectation for this row: epss 0.04409, percentile 0.9244 ("0.92440").
    let r = &outcome.records[2];
    assert_eq!(
        r.document,
        json!({"cve": "CVE-1999-0003", "epss": 0.04409, "percentile": 0.9244})
    );
    let Normalized::Epss(s) = &r.normalized else {
        panic!()
    };
    assert_eq!(s.epss, 0.04409);
    assert_eq!(s.percentile, 0.9244);
    assert_eq!(s.model_version.as_deref(), Some("v2023.03.01"));
    assert_eq!(s.date.as_deref(), Some("2025-02-20T00:00:00Z"));
}

#[test]
fn gzip_is_detected_from_the_content() {
    let bytes = gzip(&std::fs::read(fixture("example-1.csv")).unwrap());
    for name in ["epss_scores-2025-02-20.csv.gz", "epss_scores-current"] {
        let outcome = parse_document(FeedSource::Epss, name, &bytes, &Limits::default()).unwrap();
        assert_eq!(outcome.records.len(), 5, "{name}");
    }
}

#[test]
fn a_missing_date_or_a_wrong_header_fails_the_file_as_vunnel_does() {
    let bytes = std::fs::read(fixture("missing-date.csv")).unwrap();
    let e = parse_document(
        FeedSource::Epss,
        "missing-date.csv",
        &bytes,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Shape { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "missing-date.csv: unexpected epss document shape: the `#` line has no score_date"
    );

    let bytes = std::fs::read(fixture("invalid-header.csv")).unwrap();
    let e = parse_document(
        FeedSource::Epss,
        "invalid-header.csv",
        &bytes,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("expected the header `cve,epss,percentile` on line 2"),
        "{e}"
    );

    let e = parse_document(
        FeedSource::Epss,
        "x.csv",
        b"cve,epss,percentile\n",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("#model_version"), "{e}");
}

#[test]
fn bad_rows_are_record_errors_with_their_line() {
    let csv = "#model_version:v2025.03.14,score_date:2025-03-20T00:00:00+0000\n\
               cve,epss,percentile\n\
               CVE-2024-0001,0.1,0.5\n\
               CVE-2024-0002,high,0.5\n\
               CVE-2024-0003,0.2\n\
               CVE-2024-0004,1.5,0.5\n\
               CVE-2024-0005,0.3,0.6\n";
    let outcome = parse_document(
        FeedSource::Epss,
        "epss.csv",
        csv.as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let ids: Vec<&str> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(ids, ["CVE-2024-0001", "CVE-2024-0005"]);
    let locations: Vec<&str> = outcome.errors.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        ["epss.csv: line 4", "epss.csv: line 5", "epss.csv: line 6"]
    );
}

#[test]
fn truncated_gzip_is_a_document_error() {
    let bytes = gzip(&std::fs::read(fixture("example-1.csv")).unwrap());
    let e = parse_document(
        FeedSource::Epss,
        "epss.csv.gz",
        &bytes[..bytes.len() / 2],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Decompress { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("epss.csv.gz: corrupt or truncated gzip stream"),
        "{e}"
    );
}
