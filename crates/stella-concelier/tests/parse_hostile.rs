//! Hostile and broken inputs: every one is a clear error naming the document and place, one
//! bad record never takes the rest with it, and no input can exhaust memory or the stack.

use serde_json::json;
use std::io::{Cursor, Write};
use stella_concelier::parse::{Limits, ParseError, parse_document, parse_reader};
use stella_model::{FeedSource, Normalized};

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn osv(id: &str, ecosystem: &str) -> serde_json::Value {
    json!({
        "id": id, "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": ecosystem, "name": "pkg"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]
    })
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn malformed_json_names_the_document_line_and_column() {
    let doc = b"{\"id\": \"GHSA-1\",\n  \"affected\": [}\n";
    let e = parse_document(FeedSource::Osv, "GHSA-1.json", doc, &Limits::default()).unwrap_err();
    match &e {
        ParseError::Json {
            name, line, column, ..
        } => {
            assert_eq!(name, "GHSA-1.json");
            assert_eq!((*line, *column), (2, 16));
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .starts_with("GHSA-1.json: invalid JSON at line 2, column 16: "),
        "{e}"
    );

    let e = parse_document(
        FeedSource::Kev,
        "kev.json",
        b"<html>rate limited</html>",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("kev.json: invalid JSON at line 1, column 1"),
        "{e}"
    );
}

#[test]
fn malformed_yaml_names_the_document_line_and_column() {
    let doc = b"id: PYSEC-1\naffected:\n  - package: {name: x\n";
    let e = parse_document(FeedSource::Osv, "PYSEC-1.yaml", doc, &Limits::default()).unwrap_err();
    assert!(matches!(e, ParseError::Yaml { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("PYSEC-1.yaml: invalid YAML at line "),
        "{text}"
    );
    // libyaml's own words, with the place of the construct it was in.
    assert!(
        text.contains("while parsing a flow mapping at line 3 column 14"),
        "{text}"
    );
}

#[test]
fn bad_records_in_a_zip_are_record_errors_and_the_rest_parses() {
    let mut wrong_affected = osv("GHSA-0002", "npm");
    wrong_affected["affected"] = json!("x");
    let mut wrong_ranges = osv("GHSA-0003", "npm");
    wrong_ranges["affected"][0]["ranges"] = json!(5);
    let archive = zip_of(&[
        ("GHSA-0001.json", bytes(&osv("GHSA-0001", "npm"))),
        ("GHSA-0002.json", bytes(&wrong_affected)),
        ("GHSA-0003.json", bytes(&wrong_ranges)),
        ("GHSA-0004.json", b"{\"id\": \"GHSA-0004\", ".to_vec()),
        (
            "GHSA-0005.json",
            bytes(&osv("GHSA-0005", "Ecosystem-Nobody-Knows")),
        ),
        (
            "GHSA-0006.yaml",
            b"id: GHSA-0006\naffected:\n  - package: {ecosystem: PyPI, name: x}\n".to_vec(),
        ),
    ]);
    let outcome =
        parse_document(FeedSource::Osv, "npm/all.zip", &archive, &Limits::default()).unwrap();
    let ids: Vec<&str> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(ids, ["GHSA-0001", "GHSA-0005", "GHSA-0006"]);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(
        errors[0],
        "npm/all.zip!GHSA-0002.json: affected: expected an array, found a string"
    );
    assert_eq!(
        errors[1],
        "npm/all.zip!GHSA-0003.json: affected[0].ranges: expected an array, found a number"
    );
    assert!(
        errors[2].starts_with("npm/all.zip!GHSA-0004.json: invalid JSON at line 1, column 20: "),
        "{}",
        errors[2]
    );
    // The unknown ecosystem is kept as written; the matcher skips what it does not know.
    let Normalized::Advisory(a) = &outcome.records[1].normalized else {
        panic!()
    };
    assert_eq!(a.affected[0].ecosystem, "Ecosystem-Nobody-Knows");
}

#[test]
fn duplicate_ids_keep_the_last_and_say_so() {
    let mut later = osv("GHSA-0001", "npm");
    later["modified"] = json!("2025-01-01T00:00:00Z");
    let archive = zip_of(&[
        ("a/GHSA-0001.json", bytes(&osv("GHSA-0001", "npm"))),
        ("b/GHSA-0001.json", bytes(&later)),
    ]);
    let outcome = parse_document(FeedSource::Osv, "all.zip", &archive, &Limits::default()).unwrap();
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(
        outcome.records[0].document["modified"],
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].location, "all.zip!b/GHSA-0001.json");
    assert!(outcome.errors[0].message.contains("keeping the last one"));
}

#[test]
fn entries_named_out_of_the_archive_are_reported_and_skipped() {
    let archive = zip_of(&[
        ("../GHSA-0001.json", bytes(&osv("GHSA-0001", "npm"))),
        ("/etc/GHSA-0002.json", bytes(&osv("GHSA-0002", "npm"))),
        ("GHSA-0003.json", bytes(&osv("GHSA-0003", "npm"))),
    ]);
    let outcome = parse_document(FeedSource::Osv, "all.zip", &archive, &Limits::default()).unwrap();
    let ids: Vec<&str> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(ids, ["GHSA-0003"]);
    let locations: Vec<&str> = outcome.errors.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        ["all.zip!../GHSA-0001.json", "all.zip!/etc/GHSA-0002.json"]
    );
    assert!(
        outcome
            .errors
            .iter()
            .all(|e| e.message.contains("climbs out of the archive"))
    );
}

#[test]
fn a_record_over_the_record_limit_is_a_record_error() {
    let limits = Limits {
        max_record_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let mut big = osv("GHSA-BIG", "npm");
    big["details"] = json!("x".repeat(2 * 1024 * 1024));
    let big = bytes(&big);
    let archive = zip_of(&[
        ("GHSA-BIG.json", big.clone()),
        ("GHSA-0001.json", bytes(&osv("GHSA-0001", "npm"))),
    ]);
    let outcome = parse_document(FeedSource::Osv, "all.zip", &archive, &limits).unwrap();
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].location, "all.zip!GHSA-BIG.json");
    assert!(
        outcome.errors[0].message.contains("limit of 1048576 bytes"),
        "{}",
        outcome.errors[0]
    );

    // The same record as a document of its own.
    let outcome = parse_document(FeedSource::Osv, "GHSA-BIG.json", &big, &limits).unwrap();
    assert!(outcome.records.is_empty());
    assert_eq!(outcome.errors[0].location, "GHSA-BIG.json");

    // And as one entry of a whole-document feed.
    let mut catalog = json!({"vulnerabilities": [
        {"cveID": "CVE-2024-1", "vendorProject": "V", "product": "P", "vulnerabilityName": "N", "dateAdded": "2024-01-01"},
        {"cveID": "CVE-2024-2", "vendorProject": "V", "product": "P", "vulnerabilityName": "N", "dateAdded": "2024-01-01"}
    ]});
    catalog["vulnerabilities"][0]["notes"] = json!("x".repeat(2 * 1024 * 1024));
    let outcome = parse_document(FeedSource::Kev, "kev.json", &bytes(&catalog), &limits).unwrap();
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.errors[0].location, "kev.json: vulnerabilities[0]");
}

#[test]
fn an_endless_reader_stops_at_the_document_limit() {
    let limits = Limits {
        max_document_bytes: 4 * 1024 * 1024,
        ..Limits::default()
    };
    let e = parse_reader(
        FeedSource::Nvd,
        "https://nvd.example/rest/json/cves/2.0",
        std::io::repeat(b' '),
        &limits,
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::TooLarge { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "https://nvd.example/rest/json/cves/2.0: document is larger than the limit of 4194304 bytes"
    );
    // parse_document applies the same limit to bytes in hand.
    let e = parse_document(
        FeedSource::Nvd,
        "big.json",
        &vec![b' '; 4 * 1024 * 1024 + 1],
        &limits,
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::TooLarge { .. }), "{e}");
}

#[test]
fn a_gzip_bomb_stops_at_the_document_limit() {
    let limits = Limits {
        max_document_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..16 {
        e.write_all(&chunk).unwrap();
    }
    let bomb = e.finish().unwrap();
    let err = parse_document(FeedSource::Epss, "epss.csv.gz", &bomb, &limits).unwrap_err();
    assert!(matches!(err, ParseError::TooLarge { .. }), "{err}");
    assert!(err.to_string().starts_with("epss.csv.gz: "), "{err}");
}

#[test]
fn too_many_zip_entries_fail_before_reading_them() {
    let entries: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| {
            (
                format!("GHSA-{i:04}.json"),
                bytes(&osv(&format!("GHSA-{i:04}"), "npm")),
            )
        })
        .collect();
    let entries: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let archive = zip_of(&entries);
    let limits = Limits {
        max_archive_entries: 5,
        ..Limits::default()
    };
    let e = parse_document(FeedSource::Osv, "all.zip", &archive, &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        "all.zip: zip archive has 10 entries, more than the limit of 5"
    );
}

#[test]
fn truncated_and_garbled_containers_are_document_errors() {
    let archive = zip_of(&[("GHSA-0001.json", bytes(&osv("GHSA-0001", "npm")))]);
    let e = parse_document(
        FeedSource::Osv,
        "all.zip",
        &archive[..archive.len() - 30],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Zip { .. }), "{e}");
    assert!(
        e.to_string().starts_with("all.zip: invalid zip archive: "),
        "{e}"
    );

    let compressed = zstd::encode_all(&bytes(&osv("GHSA-0001", "npm"))[..], 3).unwrap();
    let outcome = parse_document(
        FeedSource::Osv,
        "GHSA-0001.json.zst",
        &compressed,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(outcome.records.len(), 1);
    let e = parse_document(
        FeedSource::Osv,
        "GHSA-0001.json.zst",
        &compressed[..compressed.len() - 8],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ParseError::Decompress { format: "zstd", .. }),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep_arrays = "[".repeat(100_000);
    let deep_objects = "{\"a\":".repeat(100_000);
    for source in [
        FeedSource::Osv,
        FeedSource::Debian,
        FeedSource::Alpine,
        FeedSource::Nvd,
        FeedSource::Cve5,
        FeedSource::Csaf,
        FeedSource::Kev,
    ] {
        for deep in [&deep_arrays, &deep_objects] {
            match parse_document(source, "deep.json", deep.as_bytes(), &Limits::default()) {
                Err(e @ ParseError::TooDeep { .. }) => {
                    assert!(
                        e.to_string()
                            .starts_with("deep.json: nesting deeper than 128 levels at line 1"),
                        "{e}"
                    );
                }
                // Feeds whose documents are objects refuse an array before looking inside.
                Err(e @ ParseError::Shape { .. }) => {
                    assert!(deep.starts_with('['), "{source}: {e}")
                }
                other => panic!("{source}: {other:?}"),
            }
        }
    }
    // Objects inside a whole-document feed's entry.
    let deep_entry = format!("{{\"pkg\": {{\"CVE-1\": {}}}}}", "{\"a\":".repeat(100_000));
    let e = parse_document(
        FeedSource::Debian,
        "debian.json",
        deep_entry.as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::TooDeep { .. }), "{e}");

    // YAML, flow and block style.
    let flow = format!("id: X\naffected: {}", "[".repeat(100_000));
    let e = parse_document(
        FeedSource::Osv,
        "deep.yaml",
        flow.as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ParseError::TooDeep { .. } | ParseError::Yaml { .. }),
        "{e}"
    );
    let mut block = String::from("id: X\n");
    for depth in 0..1_000 {
        block.push_str(&" ".repeat(depth));
        block.push_str("a:\n");
    }
    let e = parse_document(
        FeedSource::Osv,
        "deep.yaml",
        block.as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::TooDeep { .. }), "{e}");
}

#[test]
fn a_lower_depth_limit_is_honoured() {
    let limits = Limits {
        max_json_depth: 8,
        ..Limits::default()
    };
    let mut record = osv("GHSA-0001", "npm");
    record["database_specific"] = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": [1]}}}}}}});
    let e =
        parse_document(FeedSource::Osv, "GHSA-0001.json", &bytes(&record), &limits).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("GHSA-0001.json: nesting deeper than 8 levels at line 1"),
        "{e}"
    );
    let yaml = "id: X\na: {b: {c: {d: {e: {f: {g: {h: {i: 1}}}}}}}}\n";
    let e = parse_document(FeedSource::Osv, "X.yaml", yaml.as_bytes(), &limits).unwrap_err();
    assert!(matches!(e, ParseError::TooDeep { limit: 8, .. }), "{e}");
    // Within the limit, parses.
    let ok = parse_document(
        FeedSource::Osv,
        "GHSA-0002.json",
        &bytes(&osv("GHSA-0002", "npm")),
        &limits,
    )
    .unwrap();
    assert_eq!(ok.records.len(), 1);
}

#[test]
fn yaml_alias_expansion_is_bounded() {
    // "Billion laughs": each level doubles the references of the one before.
    let mut yaml = String::from("a0: &a0 [x, x]\n");
    for i in 1..40 {
        yaml.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}]\n", p = i - 1));
    }
    yaml.push_str("id: X\n");
    let e = parse_document(
        FeedSource::Osv,
        "laughs.yaml",
        yaml.as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Yaml { .. }), "{e}");
    assert!(
        e.to_string().starts_with("laughs.yaml: invalid YAML"),
        "{e}"
    );
}

#[test]
fn parsing_is_deterministic_and_sorted() {
    let archive = zip_of(&[
        ("c.json", bytes(&osv("GHSA-cccc", "npm"))),
        ("a.json", bytes(&osv("GHSA-aaaa", "npm"))),
        ("b.json", bytes(&osv("GHSA-bbbb", "npm"))),
    ]);
    let first = parse_document(FeedSource::Osv, "all.zip", &archive, &Limits::default()).unwrap();
    let second = parse_document(FeedSource::Osv, "all.zip", &archive, &Limits::default()).unwrap();
    assert_eq!(first, second);
    let ids: Vec<&str> = first
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(ids, ["GHSA-aaaa", "GHSA-bbbb", "GHSA-cccc"]);
}

#[test]
fn formats_a_feed_never_uses_are_refused() {
    let e = parse_document(
        FeedSource::Nvd,
        "cves.yaml",
        b"id: CVE-1",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ParseError::Unsupported { .. }), "{e}");
    let e = parse_document(FeedSource::Osv, "all.csv", b"a,b", &Limits::default()).unwrap_err();
    assert!(matches!(e, ParseError::Unsupported { .. }), "{e}");
}
