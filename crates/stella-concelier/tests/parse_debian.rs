//! Debian security tracker JSON against the excerpts in vunnel's and osv.dev's fixtures.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use stella_concelier::parse::{Limits, ParseOutcome, parse_document};
use stella_model::{Advisory, FeedSource, Normalized, RangeEvent, SeverityKind};

fn read(rel: &str) -> Vec<u8> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    std::fs::read(path).unwrap()
}

const VUNNEL: &str =
    "vunnel-provider-fixtures/tests/unit/providers/debian/test-fixtures/input/debian.json";
const OSV_MOCK: &str =
    "osv-dev-fixtures/vulnfeeds/test_data/debian/debian_security_tracker_mock.json";

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

/// id → { package → entry }, computed from the document without the parser.
fn expected_records(bytes: &[u8]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let doc: Value = serde_json::from_slice(bytes).unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (package, entries) in doc.as_object().unwrap() {
        for (id, entry) in entries.as_object().unwrap() {
            out.entry(id.clone())
                .or_default()
                .insert(package.clone(), entry.clone());
        }
    }
    out
}

fn assert_documents_are_slices(bytes: &[u8], outcome: &ParseOutcome) {
    let expected = expected_records(bytes);
    assert_eq!(outcome.records.len(), expected.len());
    for (record, (id, packages)) in outcome.records.iter().zip(&expected) {
        assert_eq!(&record.upstream_id, id);
        let document = record.document.as_object().unwrap();
        assert_eq!(
            document.keys().collect::<Vec<_>>(),
            packages.keys().collect::<Vec<_>>()
        );
        for (package, entry) in packages {
            assert_eq!(&document[package][id], entry, "{id} in {package}");
        }
    }
}

#[test]
fn vunnel_excerpt_gives_one_record_per_cve() {
    let bytes = read(VUNNEL);
    let outcome = parse_document(
        FeedSource::Debian,
        "debian.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_documents_are_slices(&bytes, &outcome);

    // A backport: bullseye's fix is its own version, not sid's.
    let a = advisory(&outcome, "CVE-2022-0456");
    let bullseye = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:11")
        .unwrap();
    assert_eq!(bullseye.name, "chromium");
    let state = bullseye.distro_state.as_ref().unwrap();
    assert_eq!(state.release, "bullseye");
    assert_eq!(state.status, "resolved");
    assert_eq!(
        state.fixed_version.as_deref(),
        Some("98.0.4758.80-1~deb11u1")
    );
    assert_eq!(
        bullseye.ranges[0].events,
        [
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed("98.0.4758.80-1~deb11u1".into())
        ]
    );
    // "not yet assigned" is no severity.
    assert!(bullseye.severity.is_empty());
    // An open issue in an end-of-life release: affected from the start, urgency kept.
    let buster = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:10")
        .unwrap();
    assert_eq!(
        buster.ranges[0].events,
        [RangeEvent::Introduced("0".into())]
    );
    assert_eq!(buster.distro_state.as_ref().unwrap().status, "open");
    assert_eq!(buster.severity[0].value, "end-of-life");
    let sid = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:sid")
        .unwrap();
    assert_eq!(sid.distro_state.as_ref().unwrap().release, "sid");

    // fixed_version "0": never affected, so no range, and the state says so.
    let a = advisory(&outcome, "CVE-2007-2383");
    assert_eq!(a.affected.len(), 4);
    for p in &a.affected {
        assert!(p.ranges.is_empty());
        assert_eq!(
            p.distro_state.as_ref().unwrap().fixed_version.as_deref(),
            Some("0")
        );
        assert_eq!(p.severity[0].kind, SeverityKind::Label);
        assert_eq!(p.severity[0].value, "unimportant");
        assert_eq!(p.severity[0].source, "debian");
    }
    assert!(
        a.summary
            .as_deref()
            .unwrap()
            .starts_with("The Prototype (prototypejs) framework")
    );

    // Urgency is kept as written, `**` and all.
    let a = advisory(&outcome, "CVE-2008-7220");
    assert_eq!(
        a.affected
            .iter()
            .find(|p| p.ecosystem == "Debian:9")
            .unwrap()
            .severity[0]
            .value,
        "high**"
    );
    let jessie = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:8")
        .unwrap();
    assert_eq!(jessie.distro_state.as_ref().unwrap().release, "jessie");

    // `"releases": []` (the tracker's way to write no releases) is an empty record, not
    // an error.
    let a = advisory(&outcome, "CVE-2022-0358");
    assert!(a.affected.is_empty());
}

#[test]
fn osv_dev_mock_parses() {
    let bytes = read(OSV_MOCK);
    let outcome = parse_document(
        FeedSource::Debian,
        "debian_security_tracker_mock.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_documents_are_slices(&bytes, &outcome);
    let a = advisory(&outcome, "CVE-2016-1585");
    let trixie = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:13")
        .unwrap();
    assert_eq!(
        trixie.ranges[0].events,
        [
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed("3.0.12-1".into())
        ]
    );
    let bookworm = a
        .affected
        .iter()
        .find(|p| p.ecosystem == "Debian:12")
        .unwrap();
    assert_eq!(
        bookworm.ranges[0].events,
        [RangeEvent::Introduced("0".into())]
    );
}

#[test]
fn a_cve_in_several_packages_is_one_record_with_sorted_packages() {
    let doc = json!({
        "zlib": {"CVE-2022-37434": {"description": "zlib", "releases": {
            "bookworm": {"status": "resolved", "repositories": {}, "fixed_version": "1:1.2.13.dfsg-1", "urgency": "medium"}}}},
        "minizip": {"CVE-2022-37434": {"releases": {
            "bookworm": {"status": "open", "repositories": {}, "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"}}}}
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let outcome = parse_document(
        FeedSource::Debian,
        "debian.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(outcome.records.len(), 1);
    let record = &outcome.records[0];
    assert_eq!(
        record
            .document
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["minizip", "zlib"]
    );
    let Normalized::Advisory(a) = &record.normalized else {
        panic!()
    };
    assert_eq!(a.summary.as_deref(), Some("zlib"));
    assert_eq!(a.affected[0].name, "minizip");
    let state = a.affected[0].distro_state.as_ref().unwrap();
    assert_eq!(state.nodsa.as_deref(), Some("Minor issue"));
    assert_eq!(state.nodsa_reason.as_deref(), Some("postponed"));
    assert_eq!(a.affected[1].name, "zlib");
}

#[test]
fn a_malformed_entry_costs_only_itself() {
    let doc = json!({
        "foo": {"CVE-2020-1234": {"releases": {"sid": {"status": 5}}},
                "CVE-2020-0001": {"releases": {"sid": {"status": "open"}}}},
        "bar": {"CVE-2020-1234": {"releases": {"sid": {"status": "open"}}}},
        "baz": "not an object"
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let outcome = parse_document(
        FeedSource::Debian,
        "debian.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    let ids: Vec<&str> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(ids, ["CVE-2020-0001", "CVE-2020-1234"]);
    // CVE-2020-1234 keeps bar, leaves out foo's broken entry.
    let cve = &outcome.records[1];
    assert_eq!(
        cve.document.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["bar"]
    );
    let locations: Vec<&str> = outcome.errors.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "debian.json: package baz",
            "debian.json: CVE-2020-1234 in package foo"
        ]
    );
}

#[test]
fn not_an_object_of_packages_is_a_document_error() {
    let e = parse_document(
        FeedSource::Debian,
        "debian.json",
        b"[1, 2]",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("debian.json: unexpected debian document shape"),
        "{e}"
    );
    let e = parse_document(
        FeedSource::Debian,
        "debian.json",
        b"{\"a\": {\n\"b\": ",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("debian.json: invalid JSON at line 2"),
        "{e}"
    );
}
