//! Alpine secdb (legacy YAML v3.3 to v3.11, vunnel's v3.15 excerpt) and the secdb JSON of
//! Wolfi, Chainguard, MinimOS and SecureOS.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use stella_concelier::parse::{Limits, ParseOutcome, parse_document};
use stella_model::{Advisory, FeedSource, Normalized, RangeEvent};

fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

fn parse(rel: &str) -> ParseOutcome {
    let bytes = std::fs::read(data(rel)).unwrap();
    parse_document(FeedSource::Alpine, rel, &bytes, &Limits::default()).unwrap()
}

fn advisory<'o>(o: &'o ParseOutcome, upstream_id: &str) -> &'o Advisory {
    let record = o.records.iter().find(|r| r.upstream_id == upstream_id);
    match &record
        .unwrap_or_else(|| panic!("no {upstream_id}"))
        .normalized
    {
        Normalized::Advisory(a) => a,
        other => panic!("{other:?}"),
    }
}

/// The CVE ids in a secfix entry: `CVE`, a separator (`-`, `_` or a space, all seen in
/// real secdbs), four digits, a separator, four or more digits.
fn cves_in(entry: &str) -> Vec<String> {
    let chars: Vec<char> = entry.chars().collect();
    let mut out = Vec::new();
    for start in 0..chars.len() {
        let word: String = chars[start..].iter().take(3).collect();
        if word != "CVE" || (start > 0 && chars[start - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let rest: String = chars[start + 3..].iter().collect();
        let rest = rest.replace(['_', ' '], "-");
        let mut parts = rest.splitn(4, '-').skip(1);
        let year = parts.next().unwrap_or_default();
        let number: String = parts
            .next()
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()) && number.len() >= 4 {
            out.push(format!("CVE-{year}-{number}"));
        }
    }
    out
}

/// Other ids (`XSA-207`, `GHSA-…`, `wnpa-sec-2017-21`) in an entry that names no CVE.
fn other_ids_in(entry: &str) -> Vec<String> {
    entry
        .split_whitespace()
        .filter(|w| {
            w.contains('-')
                && w.starts_with(|c: char| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && w.chars().any(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

/// (expected upstream ids, secfix entries that name no id), computed from the document.
fn expected(rel: &str) -> (BTreeSet<String>, usize) {
    let bytes = std::fs::read(data(rel)).unwrap();
    let doc: Value = if rel.ends_with(".json") {
        serde_json::from_slice(&bytes).unwrap()
    } else {
        serde_yaml_ng::from_slice(&bytes).unwrap()
    };
    let prefix: Vec<&str> = [&doc["distroversion"], &doc["reponame"]]
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let mut ids = BTreeSet::new();
    let mut unnamed = 0;
    // A repository with no fixes yet writes `packages:` with nothing after it.
    for package in doc["packages"].as_array().into_iter().flatten() {
        let Some(secfixes) = package["pkg"]["secfixes"].as_object() else {
            continue;
        };
        for entries in secfixes.values() {
            for entry in entries.as_array().into_iter().flatten() {
                let entry = entry.as_str().unwrap();
                let mut found = cves_in(entry);
                if found.is_empty() {
                    found = other_ids_in(entry);
                }
                if found.is_empty() {
                    unnamed += 1;
                }
                for id in found {
                    let mut parts = prefix.clone();
                    parts.push(&id);
                    ids.insert(parts.join("/"));
                }
            }
        }
    }
    (ids, unnamed)
}

fn assert_matches_expected(rel: &str) -> ParseOutcome {
    let outcome = parse(rel);
    let (ids, unnamed) = expected(rel);
    let got: BTreeSet<String> = outcome
        .records
        .iter()
        .map(|r| r.upstream_id.clone())
        .collect();
    let missing: Vec<_> = ids.difference(&got).collect();
    let extra: Vec<_> = got.difference(&ids).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{rel}: missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(outcome.records.len(), ids.len(), "{rel}");
    assert_eq!(
        outcome.errors.len(),
        unnamed,
        "{rel}: {:#?}",
        outcome.errors
    );
    outcome
}

#[test]
fn legacy_yaml_secdbs_give_one_record_per_release_repo_and_id() {
    let mut total = 0;
    for release in [
        "v3.3", "v3.4", "v3.5", "v3.6", "v3.7", "v3.8", "v3.9", "v3.10", "v3.11",
    ] {
        for repo in ["main", "community"] {
            let rel = format!("alpine-secdb/{release}/{repo}.yaml");
            let outcome = assert_matches_expected(&rel);
            assert!(
                outcome
                    .records
                    .iter()
                    .all(|r| r.upstream_id.starts_with(&format!("{release}/{repo}/")))
            );
            total += outcome.records.len();
        }
    }
    assert!(total > 1000, "{total}");
}

#[test]
fn a_secfix_becomes_a_fixed_range_and_a_document_slice() {
    let outcome = parse("alpine-secdb/v3.10/main.yaml");
    let record = outcome
        .records
        .iter()
        .find(|r| r.upstream_id == "v3.10/main/CVE-2019-10206")
        .unwrap();
    assert_eq!(
        record.document,
        json!({
            "distroversion": "v3.10",
            "reponame": "main",
            "urlprefix": "http://dl-cdn.alpinelinux.org/alpine",
            "packages": [{"pkg": {"name": "ansible", "secfixes": {"2.8.4-r0": ["CVE-2019-10206"]}}}]
        })
    );
    let a = advisory(&outcome, "v3.10/main/CVE-2019-10206");
    assert_eq!(a.id, "CVE-2019-10206");
    let p = &a.affected[0];
    assert_eq!(
        (p.ecosystem.as_str(), p.name.as_str()),
        ("Alpine:v3.10", "ansible")
    );
    assert_eq!(
        p.ranges[0].events,
        [
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed("2.8.4-r0".into())
        ]
    );
    let state = p.distro_state.as_ref().unwrap();
    assert_eq!(
        (state.release.as_str(), state.status.as_str()),
        ("v3.10", "resolved")
    );
    assert_eq!(state.fixed_version.as_deref(), Some("2.8.4-r0"));
}

#[test]
fn version_zero_means_never_affected() {
    // v3.8 main whitelists Oracle Berkeley DB issues under "0".
    let outcome = parse("alpine-secdb/v3.8/main.yaml");
    let a = advisory(&outcome, "v3.8/main/CVE-2016-0682");
    let db = a.affected.iter().find(|p| p.name == "db").unwrap();
    assert!(db.ranges.is_empty());
    let state = db.distro_state.as_ref().unwrap();
    assert_eq!(state.status, "not-affected");
    assert_eq!(state.fixed_version.as_deref(), Some("0"));
}

#[test]
fn xen_entries_name_the_cve_and_relate_the_xsa() {
    let outcome = parse("alpine-secdb/v3.10/main.yaml");
    // "CVE-2019-11091  XSA-297" (two spaces, as written).
    let a = advisory(&outcome, "v3.10/main/CVE-2019-11091");
    assert!(
        a.related.contains(&"XSA-297".to_string()),
        "{:?}",
        a.related
    );
    let record = outcome
        .records
        .iter()
        .find(|r| r.upstream_id == "v3.10/main/CVE-2019-11091")
        .unwrap();
    let entries = record.document["packages"][0]["pkg"]["secfixes"]
        .as_object()
        .unwrap();
    let texts: Vec<&str> = entries
        .values()
        .flat_map(|v| v.as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        texts.iter().all(|t| t.contains("CVE-2019-11091")),
        "{texts:?}"
    );
}

#[test]
fn vunnel_v3_15_excerpt_parses() {
    for repo in ["main", "community"] {
        assert_matches_expected(&format!(
            "vunnel-provider-fixtures/tests/unit/providers/alpine/test-fixtures/input/secdb/v3.15/{repo}.yaml"
        ));
    }
}

#[test]
fn wolfi_secdb_without_distroversion_is_named_by_its_package_host() {
    let outcome = assert_matches_expected(
        "vunnel-provider-fixtures/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json",
    );
    let a = advisory(&outcome, "os/CVE-2016-2781");
    let coreutils = &a.affected[0];
    assert_eq!(
        (coreutils.ecosystem.as_str(), coreutils.name.as_str()),
        ("Wolfi", "coreutils")
    );
    assert_eq!(
        coreutils.distro_state.as_ref().unwrap().status,
        "not-affected"
    );
    // Non-CVE ids are records of their own.
    let a = advisory(&outcome, "os/GHSA-jq35-85cj-fj4p");
    assert_eq!(a.id, "GHSA-jq35-85cj-fj4p");
}

#[test]
fn other_apk_distribution_secdbs_parse() {
    for provider in ["chainguard", "minimos"] {
        assert_matches_expected(&format!(
            "vunnel-provider-fixtures/tests/unit/providers/{provider}/test-fixtures/input/secdb/security.json"
        ));
    }
    let outcome = assert_matches_expected(
        "vunnel-provider-fixtures/tests/unit/providers/secureos/test-fixtures/input/secdb/secdb.json",
    );
    // SecureOS names a distroversion but no reponame.
    let a = advisory(&outcome, "v1/CVE-2025-46394");
    assert_eq!(a.affected[0].ecosystem, "Alpine:v1");
}

#[test]
fn bad_packages_and_entries_are_record_errors() {
    let doc = json!({
        "distroversion": "v3.20", "reponame": "main",
        "packages": [
            {"pkg": {"name": "ok", "secfixes": {"1.0-r0": ["CVE-2024-0001", 7, "no id here"]}}},
            {"pkg": {"secfixes": {}}},
            "junk",
            {"pkg": {"name": "also", "secfixes": {"2.0-r0": "CVE-2024-0002"}}}
        ]
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let outcome =
        parse_document(FeedSource::Alpine, "main.json", &bytes, &Limits::default()).unwrap();
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.records[0].upstream_id, "v3.20/main/CVE-2024-0001");
    let messages: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(
        messages[2] == "main.json: packages[1]: pkg.name: missing",
        "{messages:#?}"
    );
}

#[test]
fn unquoted_yaml_version_keys_stay_as_written() {
    // `0`, `1.10` and `2.0` are numbers to a YAML reader; as secfix keys they are versions.
    let yaml = "distroversion: v3.20\nreponame: main\npackages:\n- pkg:\n    name: db\n    secfixes:\n      0:\n      - CVE-2016-0682\n      1.10:\n      - CVE-2020-0001\n      2.0:\n      - CVE-2020-0002\n";
    let outcome = parse_document(
        FeedSource::Alpine,
        "main.yaml",
        yaml.as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let fixed: Vec<Option<String>> = outcome
        .records
        .iter()
        .map(|r| match &r.normalized {
            Normalized::Advisory(a) => a.affected[0]
                .distro_state
                .as_ref()
                .unwrap()
                .fixed_version
                .clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        fixed,
        [
            Some("0".to_string()),
            Some("1.10".to_string()),
            Some("2.0".to_string())
        ]
    );
}
