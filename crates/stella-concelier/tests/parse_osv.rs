//! OSV parsing against the real OSV databases under `shared/data`: PyPA (YAML originals and
//! their JSON conversion), the Go vulnerability database, RustSec, AlmaLinux, Bitnami, the R
//! Consortium (YAML), OSV records found in scanner test data, and osv.dev's fixtures.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseOutcome, parse_document, parse_reader};
use stella_model::{FeedSource, Normalized, RangeEvent, RangeKind, SeverityKind};

fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

/// The `record` (or other `field`) of each line of an ndjson(.zst) file.
fn ndjson(rel: &str, field: &str) -> Vec<Value> {
    let bytes = std::fs::read(data(rel)).unwrap();
    let text = if rel.ends_with(".zst") {
        zstd::decode_all(&bytes[..]).unwrap()
    } else {
        bytes
    };
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v[field].take()
        })
        .collect()
}

/// (path, bytes) of every regular file of a .tar.zst.
fn tar_zst(rel: &str) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(data(rel)).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((path, bytes));
    }
    out
}

/// Writes records into `dir/all.zip` as osv.dev does (`<ID>.json`, deflated) and returns its
/// path.
fn write_all_zip(dir: &Path, entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = dir.join("all.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    path
}

fn parse_zip_of(records: &[Value], name_of: impl Fn(usize, &Value) -> String) -> ParseOutcome {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<(String, Vec<u8>)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (name_of(i, r), serde_json::to_vec(r).unwrap()))
        .collect();
    let path = write_all_zip(dir.path(), &entries);
    let file = std::fs::File::open(path).unwrap();
    parse_reader(FeedSource::Osv, "PyPI/all.zip", file, &Limits::default()).unwrap()
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().unwrap().to_string()
}

fn advisory(o: &ParseOutcome, id: &str) -> stella_model::Advisory {
    let r = o.records.iter().find(|r| r.upstream_id == id).unwrap();
    match &r.normalized {
        Normalized::Advisory(a) => (**a).clone(),
        other => panic!("{id}: not an advisory: {other:?}"),
    }
}

/// Parses a zip of the records and checks count, order, zero errors and that every
/// document is the record exactly.
fn assert_zip_round_trip(records: &[Value]) -> ParseOutcome {
    let outcome = parse_zip_of(records, |_, r| format!("{}.json", id_of(r)));
    assert!(
        outcome.errors.is_empty(),
        "{:#?}",
        &outcome.errors[..outcome.errors.len().min(5)]
    );
    let expected: BTreeMap<String, &Value> = records.iter().map(|r| (id_of(r), r)).collect();
    assert_eq!(outcome.records.len(), expected.len());
    for (record, (id, source)) in outcome.records.iter().zip(&expected) {
        assert_eq!(&record.upstream_id, id);
        assert_eq!(
            &&record.document, source,
            "{id}: document differs from the record"
        );
        assert_eq!(record.normalized.id(), id);
    }
    outcome
}

#[test]
fn pypa_zip_parses_every_record_with_its_fixed_versions() {
    let records = ndjson("osv-pypa/osv.ndjson.zst", "record");
    assert_eq!(records.len(), 2661);
    let outcome = assert_zip_round_trip(&records);

    let a = advisory(&outcome, "PYSEC-2021-335");
    assert_eq!(a.aliases, ["CVE-2021-32807", "GHSA-qcx9-j53g-ccgf"]);
    assert_eq!(a.published.as_deref(), Some("2021-07-30T22:15:00Z"));
    let pkg = &a.affected[0];
    assert_eq!(
        (pkg.ecosystem.as_str(), pkg.name.as_str()),
        ("PyPI", "accesscontrol")
    );
    assert_eq!(pkg.purl.as_deref(), Some("pkg:pypi/accesscontrol"));
    assert_eq!(pkg.ranges[0].kind, RangeKind::Git);
    assert_eq!(
        pkg.ranges[0].repo.as_deref(),
        Some("https://github.com/zopefoundation/AccessControl")
    );
    assert_eq!(pkg.ranges[1].kind, RangeKind::Ecosystem);
    assert_eq!(
        pkg.ranges[1].events,
        [
            RangeEvent::Introduced("4.0".into()),
            RangeEvent::Fixed("4.3".into()),
            RangeEvent::Introduced("5.0".into()),
            RangeEvent::Fixed("5.2".into()),
        ]
    );
    assert_eq!(pkg.versions, ["4.0", "4.1", "4.2", "5.0", "5.1"]);
    assert_eq!(a.references.len(), 3);

    // Every record's aliases, independently of the parser: sorted, unique, without the id.
    for record in &records {
        let id = id_of(record);
        let mut expected: Vec<String> = record["aliases"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        expected.retain(|a| *a != id);
        expected.sort();
        expected.dedup();
        assert_eq!(advisory(&outcome, &id).aliases, expected, "{id}");
    }
}

#[test]
fn pypa_yaml_originals_read_as_their_json_conversion() {
    let expected: BTreeMap<String, Value> = ndjson("osv-pypa/osv.ndjson.zst", "record")
        .into_iter()
        .map(|r| (id_of(&r), r))
        .collect();
    let files = tar_zst("osv-pypa/vulns-yaml.tar.zst");
    assert_eq!(files.len(), 2661);
    let limits = Limits::default();
    for (path, bytes) in &files {
        let outcome = parse_document(FeedSource::Osv, path, bytes, &limits).unwrap();
        assert!(outcome.errors.is_empty(), "{path}: {:?}", outcome.errors);
        assert_eq!(outcome.records.len(), 1, "{path}");
        let record = &outcome.records[0];
        assert_eq!(
            Some(&record.document),
            expected.get(&record.upstream_id),
            "{path}: YAML read differently from its JSON conversion"
        );
    }
}

#[test]
fn go_vulndb_files_parse_byte_for_byte() {
    let files = tar_zst("osv-golang-vulndb/osv.tar.zst");
    assert_eq!(files.len(), 4291);
    let limits = Limits::default();
    let mut withdrawn = 0;
    for (path, bytes) in &files {
        let outcome = parse_document(FeedSource::Osv, path, bytes, &limits).unwrap();
        assert!(outcome.errors.is_empty(), "{path}: {:?}", outcome.errors);
        let record = &outcome.records[0];
        let original: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(record.document, original, "{path}");
        // The file is named for its id.
        assert!(
            path.ends_with(&format!("/{}.json", record.upstream_id)),
            "{path}"
        );
        if let Normalized::Advisory(a) = &record.normalized {
            withdrawn += usize::from(a.withdrawn.is_some());
        }
    }
    let expected_withdrawn = files
        .iter()
        .filter(|(_, b)| {
            serde_json::from_slice::<Value>(b)
                .unwrap()
                .get("withdrawn")
                .is_some()
        })
        .count();
    assert_eq!(withdrawn, expected_withdrawn);
}

#[test]
fn go_vulndb_zip_keeps_go_ecosystem_and_sources() {
    let records = ndjson("osv-golang-vulndb/osv.ndjson.zst", "record");
    assert_eq!(records.len(), 4291);
    let outcome = assert_zip_round_trip(&records);
    for record in &outcome.records {
        let Normalized::Advisory(a) = &record.normalized else {
            panic!()
        };
        assert!(a.affected.iter().all(|p| p.ecosystem == "Go"), "{}", a.id);
        assert!(a.severity.iter().all(|s| s.source == "Go"), "{}", a.id);
    }
}

#[test]
fn rustsec_zip_parses_with_cvss_vectors() {
    let records = ndjson("osv-rustsec/osv.ndjson.zst", "record");
    assert_eq!(records.len(), 1206);
    let outcome = assert_zip_round_trip(&records);
    let with_cvss = records
        .iter()
        .filter(|r| r["severity"].as_array().is_some_and(|s| !s.is_empty()))
        .count();
    let normalized_with_cvss = outcome
        .records
        .iter()
        .filter(|r| match &r.normalized {
            Normalized::Advisory(a) => a
                .severity
                .iter()
                .any(|s| s.source == "RustSec" && s.kind != SeverityKind::Label),
            _ => false,
        })
        .count();
    assert_eq!(with_cvss, normalized_with_cvss);
}

/// Parses every JSON file of a tar.zst singly; returns outcomes by path.
fn parse_tar_files(rel: &str, expected_files: usize) -> Vec<(String, ParseOutcome)> {
    let files = tar_zst(rel);
    let jsons: Vec<_> = files.iter().filter(|(p, _)| p.ends_with(".json")).collect();
    assert_eq!(jsons.len(), expected_files);
    let limits = Limits::default();
    jsons
        .into_iter()
        .map(|(path, bytes)| {
            let outcome = parse_document(FeedSource::Osv, path, bytes, &limits).unwrap();
            assert!(outcome.errors.is_empty(), "{path}: {:?}", outcome.errors);
            assert_eq!(outcome.records.len(), 1);
            assert_eq!(
                outcome.records[0].document,
                serde_json::from_slice::<Value>(bytes).unwrap()
            );
            (path.clone(), outcome)
        })
        .collect()
}

#[test]
fn almalinux_records_keep_their_release_ecosystems() {
    let outcomes = parse_tar_files("osv-almalinux/advisories.tar.zst", 5680);
    for (path, outcome) in &outcomes {
        // advisories/almalinux9/ALSA-….json has packages in AlmaLinux:9 (and a few in
        // other AlmaLinux releases too), ecosystems kept as written.
        let release = path
            .split('/')
            .nth(1)
            .unwrap()
            .trim_start_matches("almalinux");
        let Normalized::Advisory(a) = &outcome.records[0].normalized else {
            panic!()
        };
        let ecosystem = format!("AlmaLinux:{release}");
        assert!(
            a.affected.iter().any(|p| p.ecosystem == ecosystem),
            "{path}"
        );
        assert!(
            a.affected
                .iter()
                .all(|p| p.ecosystem.starts_with("AlmaLinux:")),
            "{path}"
        );
    }
}

#[test]
fn bitnami_records_keep_their_severity_words() {
    let outcomes = parse_tar_files("osv-bitnami/data.tar.zst", 7444);
    let labelled = outcomes
        .iter()
        .filter(|(_, o)| match &o.records[0].normalized {
            Normalized::Advisory(a) => a
                .severity
                .iter()
                .any(|s| s.kind == SeverityKind::Label && s.source == "BIT"),
            _ => false,
        })
        .count();
    let expected = tar_zst("osv-bitnami/data.tar.zst")
        .iter()
        .filter(|(p, _)| p.ends_with(".json"))
        .filter(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["database_specific"]["severity"].is_string()
        })
        .count();
    assert_eq!(labelled, expected);
}

#[test]
fn cran_yaml_records_parse() {
    let dir = data("osv-cran-r/vulns");
    let mut files = Vec::new();
    for package in std::fs::read_dir(&dir).unwrap() {
        let package = package.unwrap().path();
        if package.is_dir() {
            for f in std::fs::read_dir(&package).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 14);
    let limits = Limits::default();
    for path in &files {
        let name = path.to_string_lossy();
        let outcome = parse_document(
            FeedSource::Osv,
            &name,
            &std::fs::read(path).unwrap(),
            &limits,
        )
        .unwrap();
        assert!(outcome.errors.is_empty(), "{name}: {:?}", outcome.errors);
        let stem = path.file_stem().unwrap().to_string_lossy();
        assert_eq!(outcome.records[0].upstream_id, stem);
    }
    let png = parse_document(
        FeedSource::Osv,
        "RSEC-2026-1.yaml",
        &std::fs::read(dir.join("png/RSEC-2026-1.yaml")).unwrap(),
        &limits,
    )
    .unwrap();
    let Normalized::Advisory(a) = &png.records[0].normalized else {
        panic!()
    };
    assert_eq!(a.affected[0].ecosystem, "CRAN");
    assert_eq!(
        a.affected[0].ranges[0].events,
        [
            RangeEvent::Introduced("0.1-3".into()),
            RangeEvent::Fixed("0.1-9".into())
        ]
    );
    // `upstream` names the libpng CVE this advisory derives from: related, not an alias.
    assert_eq!(a.related, ["CVE-2026-25646"]);
    assert!(a.aliases.is_empty());
}

#[test]
fn scanner_testdata_records_parse_except_the_broken_ones() {
    let records = ndjson(
        "osv-records-from-scanner-testdata/osv-records.ndjson",
        "record",
    );
    assert_eq!(records.len(), 470);
    // Independently of the parser: a record is usable when it has an id and every range has
    // a type OSV defines. Two of the test records are not (one has an empty id, one a
    // range without a type).
    let usable = |r: &Value| {
        r["id"].as_str().is_some_and(|id| !id.is_empty())
            && r["affected"].as_array().into_iter().flatten().all(|a| {
                a["ranges"].as_array().into_iter().flatten().all(|range| {
                    matches!(range["type"].as_str(), Some("ECOSYSTEM" | "SEMVER" | "GIT"))
                })
            })
    };
    let mut last: BTreeMap<String, &Value> = BTreeMap::new();
    let mut occurrences: BTreeMap<String, usize> = BTreeMap::new();
    let mut unusable = 0;
    for r in &records {
        if usable(r) {
            last.insert(id_of(r), r);
            *occurrences.entry(id_of(r)).or_default() += 1;
        } else {
            unusable += 1;
        }
    }
    assert_eq!(unusable, 2);
    let duplicates: usize = occurrences.values().map(|n| n - 1).sum();

    // The same id appears with several `modified` dates, so entries are numbered.
    let outcome = parse_zip_of(&records, |i, _| format!("{i:04}.json"));
    assert_eq!(outcome.records.len(), last.len());
    assert_eq!(
        outcome.errors.len(),
        unusable + duplicates,
        "{:#?}",
        outcome.errors
    );
    for (record, (id, source)) in outcome.records.iter().zip(&last) {
        assert_eq!(&record.upstream_id, id);
        assert_eq!(
            &&record.document, source,
            "{id}: the last occurrence is kept"
        );
    }
    let messages: Vec<String> = outcome.errors.iter().map(|e| e.to_string()).collect();
    assert!(
        messages.iter().any(|m| m.contains("id: empty")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("affected[0].ranges[0].type: missing")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().all(|m| m.starts_with("PyPI/all.zip!")),
        "{messages:#?}"
    );
    // Ecosystems nobody knows are kept as written.
    let ecosystems: BTreeSet<String> = outcome
        .records
        .iter()
        .flat_map(|r| match &r.normalized {
            Normalized::Advisory(a) => a.affected.iter().map(|p| p.ecosystem.clone()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(ecosystems.contains("EcosystemC"));
    assert!(
        ecosystems
            .iter()
            .any(|e| e.starts_with("SUSE Linux Enterprise Server:"))
    );
}

#[test]
fn osv_dev_fixture_records_parse() {
    let limits = Limits::default();
    let (mut files, mut parsed) = (0, 0);
    for dir in [
        "osv-dev-fixtures/gcp/website/testdata/osv",
        "osv-dev-fixtures/gcp/workers/oss_fuzz_worker/testdata",
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(data(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
            })
            .collect();
        paths.sort();
        files += paths.len();
        for path in paths {
            let name = path.to_string_lossy().into_owned();
            let outcome = parse_document(
                FeedSource::Osv,
                &name,
                &std::fs::read(&path).unwrap(),
                &limits,
            )
            .unwrap();
            assert!(outcome.errors.is_empty(), "{name}: {:?}", outcome.errors);
            assert_eq!(outcome.records.len(), 1, "{name}");
            // Files are named for their id (with `_` for the `:` file systems dislike).
            assert_eq!(
                outcome.records[0].upstream_id.replace(':', "_"),
                path.file_stem().unwrap().to_string_lossy(),
                "{name}"
            );
            parsed += 1;
        }
    }
    assert_eq!(parsed, files);
    assert!(files > 40);
}

#[test]
fn ubuntu_priority_is_a_label() {
    let name =
        data("osv-dev-fixtures/gcp/workers/oss_fuzz_worker/testdata/UBUNTU-CVE-2025-38094.json");
    let bytes = std::fs::read(&name).unwrap();
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let outcome = parse_document(
        FeedSource::Osv,
        "UBUNTU-CVE-2025-38094.json",
        &bytes,
        &Limits::default(),
    )
    .unwrap();
    let Normalized::Advisory(a) = &outcome.records[0].normalized else {
        panic!()
    };
    let expected: Vec<&str> = original["severity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == "Ubuntu")
        .map(|s| s["score"].as_str().unwrap())
        .collect();
    let labels: Vec<&str> = a
        .severity
        .iter()
        .filter(|s| s.kind == SeverityKind::Label)
        .map(|s| s.value.as_str())
        .collect();
    assert_eq!(labels, expected);
    assert!(a.severity.iter().all(|s| s.source == "UBUNTU"));
}
