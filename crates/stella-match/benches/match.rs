//! `match_inventory` over 10,000 packages, against 5,000 synthetic advisories across
//! ecosystems and against the real PyPA, Go and RustSec databases (about 8,000 records).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use stella_match::{AdvisoryIndex, IndexedAdvisory, MatchOptions, match_inventory};
use stella_model::{
    Advisory, Affected, FeedSource, ImageInfo, Inventory, Package, PackageKind, RangeKind,
    SeverityKind,
};

/// A deterministic generator (64-bit LCG): the same index and inventory on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LANGS: &[(&str, PackageKind)] = &[
    ("npm", PackageKind::Npm),
    ("PyPI", PackageKind::Python),
    ("Maven", PackageKind::Maven),
    ("Go", PackageKind::Go),
    ("crates.io", PackageKind::Cargo),
];

fn lang_name(kind: PackageKind, n: u64) -> String {
    match kind {
        PackageKind::Maven => format!("org.example{}:artifact-{n}", n % 7),
        PackageKind::Go => format!("github.com/example/mod-{n}"),
        _ => format!("package-{n}"),
    }
}

fn synthetic() -> (Vec<IndexedAdvisory>, Inventory) {
    let mut rng = Lcg(42);
    let mut records = Vec::new();
    for i in 0..5_000u64 {
        let cve = format!("CVE-2024-{:05}", i);
        let pkg = rng.below(1_500);
        let mut adv = if i % 5 == 4 {
            // A Debian tracker record.
            let mut a = tracker_entry(&format!("src-{pkg}"), "bookworm", "resolved");
            let st = a.distro_state.as_mut().unwrap();
            st.fixed_version = Some(format!(
                "{}.{}-{}+deb12u1",
                rng.below(5),
                rng.below(10),
                rng.below(3) + 1
            ));
            st.urgency = Some(s("medium"));
            let mut adv = advisory(&cve, &[], vec![a]);
            adv.severity = vec![cvss(
                SeverityKind::CvssV3,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "nvd@nist.gov",
            )];
            records.push(record(FeedSource::Debian, adv));
            continue;
        } else {
            let (eco, kind) = LANGS[(i % 4) as usize + usize::from(i % 9 == 0)];
            let range_kind = if matches!(
                kind,
                PackageKind::Npm | PackageKind::Go | PackageKind::Cargo
            ) {
                RangeKind::Semver
            } else {
                RangeKind::Ecosystem
            };
            let major = rng.below(4);
            let intro = format!("{major}.0.0");
            let fixed = format!("{major}.{}.{}", rng.below(10), rng.below(10) + 1);
            let mut entry: Affected = osv_entry(
                eco,
                &lang_name(kind, pkg),
                range_kind,
                &[("introduced", &intro), ("fixed", &fixed)],
            );
            if i % 3 == 0 {
                entry.versions = (0..20).map(|p| format!("{major}.0.{p}")).collect();
            }
            advisory(&format!("GHSA-{i:04x}-bench"), &[&cve], vec![entry])
        };
        adv.summary = Some(format!("synthetic advisory {i}"));
        adv.severity.push(cvss(
            SeverityKind::CvssV3,
            "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
            "GitHub",
        ));
        records.push(record(FeedSource::Osv, adv));
    }
    let mut packages: Vec<Package> = Vec::with_capacity(10_000);
    for i in 0..10_000u64 {
        let version = format!("{}.{}.{}", rng.below(4), rng.below(10), rng.below(10));
        let p = if i % 5 == 0 {
            let n = rng.below(2_000);
            let v = format!(
                "{}.{}-{}+deb12u{}",
                rng.below(5),
                rng.below(10),
                rng.below(3) + 1,
                rng.below(2)
            );
            deb(&format!("bin-{n}"), &v, &format!("src-{n}"))
        } else {
            let (_, kind) = LANGS[rng.below(LANGS.len() as u64) as usize];
            // Two in three name a package that has advisories.
            let n = rng.below(2_250);
            package(kind, &lang_name(kind, n), &version)
        };
        packages.push(p);
    }
    (records, inventory(packages))
}

fn inventory(packages: Vec<Package>) -> Inventory {
    Inventory {
        image: ImageInfo {
            reference: s("dir:/bench"),
            transport: s("dir"),
            name: s("/bench"),
            tag: None,
            manifest_digest: None,
            config_digest: None,
            created: None,
            os: s("linux"),
            architecture: s("amd64"),
            variant: None,
            layers: Vec::new(),
        },
        distro: Some(bookworm()),
        packages,
        analyzers: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The real databases, and an inventory of 10,000 of their packages at versions taken from
/// the records (so most are affected by something) or just past them.
fn real_sampled() -> (Vec<IndexedAdvisory>, Inventory) {
    let mut advisories: Vec<Advisory> = Vec::new();
    for set in [
        "osv-pypa/osv.ndjson.zst",
        "osv-golang-vulndb/osv.ndjson.zst",
        "osv-rustsec/osv.ndjson.zst",
    ] {
        advisories.extend(load_ndjson_zst(&data(set)).iter().map(from_osv));
    }
    let mut rng = Lcg(7);
    let mut packages = Vec::with_capacity(10_000);
    while packages.len() < 10_000 {
        let adv = &advisories[rng.below(advisories.len() as u64) as usize];
        let Some(aff) = adv.affected.first() else {
            continue;
        };
        let kind = match aff.ecosystem.as_str() {
            "PyPI" => PackageKind::Python,
            "Go" => PackageKind::Go,
            "crates.io" => PackageKind::Cargo,
            _ => continue,
        };
        let bounds: Vec<&str> = aff
            .ranges
            .iter()
            .flat_map(|r| r.events.iter().map(|e| e.version()))
            .filter(|v| *v != "0" && v.len() < 40)
            .collect();
        let Some(v) = bounds.get(rng.below(bounds.len().max(1) as u64) as usize) else {
            continue;
        };
        packages.push(package(kind, &aff.name, v));
    }
    let records = advisories
        .into_iter()
        .map(|a| record(FeedSource::Osv, a))
        .collect();
    (records, inventory(packages))
}

/// See [`real_sampled`].
fn real() -> (Vec<IndexedAdvisory>, Inventory) {
    real_sampled()
}

/// The sampling of [`real`] with only `share` of the packages at a range bound; the others
/// are at a version past every fix (`9999.0.0`). Many packages share a name (Go's `stdlib` is
/// named by hundreds of records), so this is a worst case for range evaluation.
fn real_with(share: f64) -> (Vec<IndexedAdvisory>, Inventory) {
    let (records, inv) = real_sampled();
    let mut rng = Lcg(11);
    let packages = inv
        .packages
        .into_iter()
        .map(|mut p| {
            if (rng.below(10_000) as f64) >= share * 10_000.0 {
                p.version = "9999.0.0".into();
            }
            p
        })
        .collect();
    (records, inventory(packages))
}

/// An image-like inventory: 10,000 distinct packages, each name once. Every (ecosystem, name)
/// the databases know appears (about a third of the inventory), 5% of those at a range bound
/// and the rest past every fix; the remaining packages are names no advisory mentions, as
/// most packages of a real image are.
fn image_like() -> (Vec<IndexedAdvisory>, Inventory) {
    let (records, sampled) = real_sampled();
    let mut bound_of: std::collections::BTreeMap<(PackageKind, String), String> =
        Default::default();
    for p in sampled.packages {
        bound_of
            .entry((p.kind, p.name.clone()))
            .or_insert(p.version);
    }
    for r in &records {
        for aff in &r.advisory.affected {
            let kind = match aff.ecosystem.as_str() {
                "PyPI" => PackageKind::Python,
                "Go" => PackageKind::Go,
                "crates.io" => PackageKind::Cargo,
                _ => continue,
            };
            bound_of
                .entry((kind, aff.name.clone()))
                .or_insert_with(|| "9999.0.0".into());
        }
    }
    let mut rng = Lcg(13);
    let mut packages: Vec<Package> = bound_of
        .into_iter()
        .take(10_000)
        .map(|((kind, name), bound)| {
            let v = if rng.below(100) < 5 {
                bound.as_str()
            } else {
                "9999.0.0"
            };
            package(kind, &name, v)
        })
        .collect();
    let mut n = 0;
    while packages.len() < 10_000 {
        let kind = [PackageKind::Python, PackageKind::Go, PackageKind::Cargo][n % 3];
        packages.push(package(kind, &format!("unadvised-package-{n}"), "1.0.0"));
        n += 1;
    }
    (records, inventory(packages))
}

/// Indexes `records`, prints what matching `inv` finds, and benchmarks `match_inventory`.
fn bench_match(c: &mut Criterion, name: &str, records: Vec<IndexedAdvisory>, inv: &Inventory) {
    let opts = MatchOptions::default();
    let idx = AdvisoryIndex::build(s("sha256:bench"), records, Vec::new(), Vec::new());
    let found = match_inventory(&idx, inv, &opts).findings.len();
    eprintln!(
        "{name}: {} advisories, {} packages, {found} findings",
        idx.len(),
        inv.packages.len()
    );
    c.bench_function(&format!("match_inventory/{name}"), |b| {
        b.iter(|| black_box(match_inventory(&idx, black_box(inv), &opts)))
    });
}

fn bench(c: &mut Criterion) {
    let (records, inv) = synthetic();
    bench_match(
        c,
        "synthetic 5k advisories x 10k packages",
        records.clone(),
        &inv,
    );
    c.bench_function("AdvisoryIndex::build/synthetic 5k advisories", |b| {
        b.iter(|| {
            black_box(AdvisoryIndex::build(
                s("x"),
                records.clone(),
                Vec::new(),
                Vec::new(),
            ))
        })
    });
    let (records, inv) = real();
    bench_match(c, "real PyPA+Go+RustSec x 10k packages", records, &inv);
    let (records, inv) = real_with(0.05);
    bench_match(
        c,
        "real PyPA+Go+RustSec x 10k packages, 5% at a range bound",
        records,
        &inv,
    );
    let (records, inv) = image_like();
    bench_match(
        c,
        "real PyPA+Go+RustSec x 10k distinct packages (image-like)",
        records,
        &inv,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
