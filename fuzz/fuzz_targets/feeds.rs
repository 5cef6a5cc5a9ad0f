//! Advisory feed parsing and matching: hostile feed documents must give errors, never panics,
//! and whatever parses must be safe to index and match (hostile versions, odd ranges).
//!
//! Input: one byte picking the feed (`FeedSource::ALL[byte % 8]`), then the document bytes.
//! Every advisory that parses is indexed, and a package is made from each affected entry (its
//! name, and each range bound and listed version as the installed version) and matched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_concelier::parse::{Limits, parse_document};
use stella_match::{AdvisoryIndex, IndexedAdvisory, MatchOptions, match_package};
use stella_model::{Distro, FeedSource, Normalized, Package, PackageKind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let source = FeedSource::ALL[selector as usize % FeedSource::ALL.len()];
    // Small bounds keep each run fast; the limits themselves are what is being exercised.
    let limits = Limits {
        max_document_bytes: 1 << 20,
        max_record_bytes: 256 << 10,
        max_archive_entries: 1000,
        max_archive_bytes: 4 << 20,
        max_json_depth: 64,
    };
    let Ok(outcome) = parse_document(source, "fuzz-input", doc, &limits) else {
        return;
    };
    let mut advisories = Vec::new();
    for rec in outcome.records {
        if let Normalized::Advisory(a) = rec.normalized {
            advisories.push(IndexedAdvisory {
                source,
                upstream_id: rec.upstream_id,
                observation: "sha256:0".into(),
                advisory: *a,
            });
        }
    }
    let mut probes = Vec::new();
    for a in &advisories {
        for af in a.advisory.affected.iter().take(4) {
            let kind = match af.ecosystem.split(':').next().unwrap_or("") {
                "Debian" => PackageKind::Deb,
                "Alpine" => PackageKind::Apk,
                "PyPI" => PackageKind::Python,
                "npm" => PackageKind::Npm,
                "Maven" => PackageKind::Maven,
                "Go" => PackageKind::Go,
                "crates.io" => PackageKind::Cargo,
                "RubyGems" => PackageKind::Gem,
                _ => PackageKind::Npm,
            };
            let versions = af
                .ranges
                .iter()
                .flat_map(|r| r.events.iter().map(|e| e.version().to_string()))
                .chain(af.versions.iter().cloned())
                .take(8);
            for v in versions {
                let mut p = Package::new(kind, af.name.clone(), v, "fuzz");
                p.purl = format!("pkg:fuzz/{}", af.name);
                probes.push(p);
            }
        }
    }
    let index = AdvisoryIndex::build("sha256:0".into(), advisories, Vec::new(), Vec::new());
    let debian = Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        codename: Some("bookworm".into()),
        source_file: "fuzz".into(),
        ..Default::default()
    };
    let opts = MatchOptions { cpe: true };
    for p in probes.iter().take(64) {
        let distro = p.kind.is_os().then_some(&debian);
        let _ = match_package(&index, p, distro, &opts);
    }
});
