//! Real OSV databases (PyPA, Go, RustSec, AlmaLinux, from `../shared/data`): every record's
//! own boundaries must come out of the matcher as the record states them. An `introduced`
//! version is affected, a `fixed` version is not (unless the record also lists it), every
//! version of a `versions` list is affected.

mod common;

use std::io::Read;

use common::*;
use stella_match::{AdvisoryIndex, MatchOptions, match_package};
use stella_model::{
    Advisory, Affected, Distro, FeedSource, Package, PackageKind, RangeEvent, RangeKind,
};
use stella_version::{Ecosystem, compare};

const MAX_RECORDS_PER_PACKAGE: usize = 25;

/// Builds the installed package (and its distro) for an affected entry and a version.
type PackageOf = dyn Fn(&Affected, &str) -> (Package, Option<Distro>);

struct Checked {
    affected_ok: usize,
    unaffected_ok: usize,
    failures: Vec<String>,
}

fn affected_by(
    idx: &AdvisoryIndex,
    pkg: &Package,
    distro: Option<&Distro>,
    record_id: &str,
) -> bool {
    match_package(idx, pkg, distro, &MatchOptions::default())
        .iter()
        .any(|f| {
            f.evidence
                .records
                .iter()
                .any(|r| r.upstream_id == record_id)
        })
}

fn listed(aff: &Affected, eco: Ecosystem, v: &str) -> bool {
    aff.versions
        .iter()
        .any(|l| l == v || compare(eco, l, v) == Ok(std::cmp::Ordering::Equal))
}

/// Checks every record against the matcher. `package_of` builds the installed package (and
/// its distro) for an affected entry and a version.
fn check_boundaries(
    advisories: &[Advisory],
    eco: Ecosystem,
    lowest: Option<&str>,
    package_of: &PackageOf,
) -> Checked {
    let idx = AdvisoryIndex::build(
        s("sha256:real"),
        advisories
            .iter()
            .cloned()
            .map(|a| record(FeedSource::Osv, a))
            .collect(),
        Vec::new(),
        Vec::new(),
    );
    let mut out = Checked {
        affected_ok: 0,
        unaffected_ok: 0,
        failures: Vec::new(),
    };
    let valid = |v: &str| compare(eco, v, v).is_ok();
    // Each check matches every record of the package, so packages with hundreds of records
    // (TensorFlow) make the test quadratic: a sample of records per package is enough.
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for adv in advisories.iter().filter(|a| a.withdrawn.is_none()) {
        for aff in &adv.affected {
            let n = seen.entry(aff.name.as_str()).or_default();
            *n += 1;
            if *n > MAX_RECORDS_PER_PACKAGE {
                continue;
            }
            let same_package = adv.affected.iter().filter(|a| a.name == aff.name).count();
            let ranges: Vec<_> = aff
                .ranges
                .iter()
                .filter(|r| r.kind != RangeKind::Git)
                .collect();
            let mut expect = |v: &str, want: bool, why: &str| {
                let (pkg, distro) = package_of(aff, v);
                if affected_by(&idx, &pkg, distro.as_ref(), &adv.id) == want {
                    if want {
                        out.affected_ok += 1;
                    } else {
                        out.unaffected_ok += 1;
                    }
                } else {
                    out.failures.push(format!(
                        "{} {} {v}: expected {want} ({why})",
                        adv.id, aff.name
                    ));
                }
            };
            // Lists run to hundreds of versions (and TensorFlow to hundreds of records): a
            // spread of six per entry keeps the test quick.
            let step = aff.versions.len().div_ceil(4).max(1);
            for v in aff.versions.iter().step_by(step).filter(|v| valid(v)) {
                expect(v, true, "listed");
            }
            // Boundaries are only unambiguous with one range for the package.
            if ranges.len() != 1 || same_package != 1 {
                continue;
            }
            let all_valid = ranges[0]
                .events
                .iter()
                .all(|e| e.version() == "0" || valid(e.version()));
            if !all_valid {
                continue;
            }
            let events = &ranges[0].events;
            let eq =
                |a: &str, b: &str| a == b || compare(eco, a, b) == Ok(std::cmp::Ordering::Equal);
            // `introduced X` with `fixed X` is an empty interval (osv.dev's own enumeration of
            // `versions` agrees: PYSEC-2022-42972, PYSEC-2023-72, RUSTSEC-2022-0012).
            let closed_at = |x: &str| {
                events
                    .iter()
                    .any(|o| matches!(o, RangeEvent::Fixed(f) | RangeEvent::Limit(f) if eq(f, x)))
            };
            if let (
                Some(lowest),
                [
                    RangeEvent::Introduced(z),
                    RangeEvent::Fixed(_) | RangeEvent::LastAffected(_),
                ],
            ) = (lowest, events.as_slice())
                && z == "0"
                && events[1..]
                    .iter()
                    .all(|e| compare(eco, lowest, e.version()) == Ok(std::cmp::Ordering::Less))
            {
                expect(lowest, true, "below everything");
            }
            for e in events {
                match e {
                    RangeEvent::Introduced(x) if x != "0" && !closed_at(x) => {
                        expect(x, true, "introduced")
                    }
                    RangeEvent::LastAffected(x) => expect(x, true, "last_affected"),
                    RangeEvent::Fixed(y) if !listed(aff, eco, y) => {
                        // A fix that is also the start of a later interval is affected.
                        let reintroduced = events
                            .iter()
                            .any(|o| matches!(o, RangeEvent::Introduced(i) if eq(i, y)));
                        if !reintroduced {
                            expect(y, false, "fixed");
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

fn assert_clean(name: &str, c: &Checked, min: usize) {
    assert!(
        c.failures.is_empty(),
        "{name}: {} failures, first: {:#?}",
        c.failures.len(),
        &c.failures[..c.failures.len().min(20)]
    );
    assert!(
        c.affected_ok >= min && c.unaffected_ok >= min,
        "{name}: only {} affected and {} unaffected checks",
        c.affected_ok,
        c.unaffected_ok
    );
    eprintln!(
        "{name}: {} affected and {} unaffected boundaries as stated",
        c.affected_ok, c.unaffected_ok
    );
}

fn language(kind: PackageKind) -> impl Fn(&Affected, &str) -> (Package, Option<Distro>) {
    move |aff, v| (package(kind, &aff.name, v), None)
}

#[test]
fn pypa_records_match_at_their_boundaries() {
    let advisories: Vec<Advisory> = load_ndjson_zst(&data("osv-pypa/osv.ndjson.zst"))
        .iter()
        .map(from_osv)
        .collect();
    assert!(advisories.len() > 2000);
    let c = check_boundaries(
        &advisories,
        Ecosystem::PyPI,
        Some("0.dev0"),
        &language(PackageKind::Python),
    );
    assert_clean("PyPA", &c, 1000);
}

#[test]
fn go_vulndb_records_match_at_their_boundaries() {
    let advisories: Vec<Advisory> = load_ndjson_zst(&data("osv-golang-vulndb/osv.ndjson.zst"))
        .iter()
        .map(from_osv)
        .collect();
    assert!(advisories.len() > 4000);
    let c = check_boundaries(
        &advisories,
        Ecosystem::Go,
        Some("0.0.0-0"),
        &language(PackageKind::Go),
    );
    assert_clean("Go vulndb", &c, 1000);
}

#[test]
fn rustsec_records_match_at_their_boundaries() {
    let advisories: Vec<Advisory> = load_ndjson_zst(&data("osv-rustsec/osv.ndjson.zst"))
        .iter()
        .map(from_osv)
        .collect();
    assert!(advisories.len() > 1000);
    let c = check_boundaries(
        &advisories,
        Ecosystem::CratesIo,
        Some("0.0.0-0"),
        &language(PackageKind::Cargo),
    );
    assert_clean("RustSec", &c, 300);
}

#[test]
fn almalinux_records_match_at_their_boundaries() {
    let bytes = std::fs::read(data("osv-almalinux/advisories.tar.zst")).expect("AlmaLinux data");
    let tar_bytes = zstd::decode_all(&bytes[..]).expect("zstd");
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut advisories = Vec::new();
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        if !path.ends_with(".json") {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("utf-8");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        advisories.push(from_osv(&v));
    }
    // Bug-fix and enhancement advisories are not vulnerabilities: keep them out of the check.
    advisories.retain(|a| a.id.starts_with("ALSA-"));
    assert!(advisories.len() > 1000);
    let rpm = |aff: &Affected, v: &str| {
        let major = aff.ecosystem.split(':').nth(1).unwrap_or("8").to_string();
        let mut p = package(PackageKind::Rpm, &aff.name, v);
        p.purl = format!("pkg:rpm/almalinux/{}@{v}", aff.name);
        (
            p,
            Some(distro("almalinux", Some(&format!("{major}.4")), None)),
        )
    };
    let c = check_boundaries(&advisories, Ecosystem::Rpm, Some("0:0.1-1"), &rpm);
    assert_clean("AlmaLinux", &c, 1000);
    // And an AlmaLinux 8 advisory says nothing about AlmaLinux 9.
    let idx = AdvisoryIndex::build(
        s("x"),
        advisories
            .iter()
            .cloned()
            .map(|a| record(FeedSource::Osv, a))
            .collect(),
        Vec::new(),
        Vec::new(),
    );
    let adv = advisories
        .iter()
        .find(|a| a.affected.iter().all(|x| x.ecosystem == "AlmaLinux:8"))
        .expect("an AlmaLinux 8 advisory");
    let aff = &adv.affected[0];
    let p = package(PackageKind::Rpm, &aff.name, "0:0.1-1");
    let alma8 = distro("almalinux", Some("8.9"), None);
    let alma9 = distro("almalinux", Some("9.3"), None);
    assert!(affected_by(&idx, &p, Some(&alma8), &adv.id));
    assert!(!affected_by(&idx, &p, Some(&alma9), &adv.id));
}
