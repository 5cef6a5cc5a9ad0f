//! Properties: hostile versions never panic, and upstream event order never changes the
//! answer for a total order.

mod common;

use common::*;
use proptest::prelude::*;
use stella_match::{MatchOptions, match_package};
use stella_model::{AffectedRange, FeedSource, PackageKind, RangeEvent, RangeKind};

const ECOSYSTEMS: &[(&str, PackageKind)] = &[
    ("Maven", PackageKind::Maven),
    ("npm", PackageKind::Npm),
    ("PyPI", PackageKind::Python),
    ("Go", PackageKind::Go),
    ("NuGet", PackageKind::Nuget),
    ("RubyGems", PackageKind::Gem),
    ("Packagist", PackageKind::Composer),
    ("crates.io", PackageKind::Cargo),
];

fn version_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
        "[0-9]{1,2}\\.[0-9]{1,2}(-|\\.|_)?(alpha|beta|rc|sp|SNAPSHOT|RELEASE|final|ga|a|b)?[0-9]{0,2}",
        "v?[0-9]\\.[0-9]\\.[0-9](-[a-z0-9.]{1,6})?(\\+[a-z0-9]{1,4})?",
        ".{0,12}",
        Just("0".to_string()),
    ]
}

fn event() -> impl Strategy<Value = RangeEvent> {
    (0..4u8, version_like()).prop_map(|(k, v)| match k {
        0 => RangeEvent::Introduced(v),
        1 => RangeEvent::Fixed(v),
        2 => RangeEvent::LastAffected(v),
        _ => RangeEvent::Limit(v),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn hostile_versions_never_panic(
        eco in 0..ECOSYSTEMS.len(),
        semver in any::<bool>(),
        events in prop::collection::vec(event(), 0..8),
        versions in prop::collection::vec(version_like(), 0..4),
        installed in version_like(),
    ) {
        let (ecosystem, kind) = ECOSYSTEMS[eco];
        let mut entry = osv_entry(ecosystem, "pkg", RangeKind::Ecosystem, &[]);
        entry.ranges = vec![AffectedRange {
            kind: if semver { RangeKind::Semver } else { RangeKind::Ecosystem },
            events,
            repo: None,
        }];
        entry.versions = versions;
        let idx = index(vec![record(FeedSource::Osv, advisory("OSV-1", &[], vec![entry]))]);
        let _ = match_package(&idx, &package(kind, "pkg", &installed), None, &MatchOptions { cpe: true });
    }

    #[test]
    fn event_order_does_not_change_the_answer(
        mut bounds in prop::collection::btree_set((0..6u32, 0..6u32, 0..6u32), 1..7),
        open_end in any::<bool>(),
        shuffle in prop::collection::vec(any::<prop::sample::Index>(), 8),
        probe in (0..7u32, 0..7u32, 0..7u32),
    ) {
        // Sorted distinct versions, alternately introduced and fixed.
        let sorted: Vec<(u32, u32, u32)> = std::mem::take(&mut bounds).into_iter().collect();
        let ver = |(a, b, c): (u32, u32, u32)| format!("{a}.{b}.{c}");
        let mut events: Vec<RangeEvent> = sorted
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 2 == 0 { RangeEvent::Introduced(ver(*v)) } else { RangeEvent::Fixed(ver(*v)) })
            .collect();
        if !open_end && events.len() % 2 == 1 {
            events.pop();
        }
        prop_assume!(!events.is_empty());
        // The spec's answer: walk the sorted events.
        let mut want = false;
        for (i, v) in sorted.iter().take(events.len()).enumerate() {
            if probe >= *v {
                want = i % 2 == 0;
            }
        }
        let n = events.len();
        for (i, ix) in shuffle.iter().enumerate() {
            events.swap(i % n, ix.index(n));
        }
        let entry = stella_model::Affected {
            ecosystem: s("npm"),
            name: s("pkg"),
            ranges: vec![AffectedRange { kind: RangeKind::Semver, events, repo: None }],
            ..Default::default()
        };
        let idx = index(vec![record(FeedSource::Osv, advisory("OSV-1", &[], vec![entry]))]);
        let got = !match_package(&idx, &package(PackageKind::Npm, "pkg", &ver(probe)), None, &MatchOptions::default()).is_empty();
        prop_assert_eq!(got, want);
    }
}
