//! The matching rules, one behaviour a test, through the public API.

mod common;

use common::*;
use stella_match::{AdvisoryIndex, IndexedAdvisory, MatchOptions, match_inventory, match_package};
use stella_model::{
    Advisory, Affected, CpeMatch, EpssScore, FeedSource, Finding, FixState, ImageInfo, Inventory,
    KevEntry, Package, PackageKind, RangeKind, Severity, SeverityKind,
};

const V31_CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const V31_MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N";
const V31_HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N";

fn matches(index: &AdvisoryIndex, p: &Package) -> Vec<Finding> {
    match_package(index, p, None, &MatchOptions::default())
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.vulnerability.as_str()).collect()
}

// ---------------------------------------------------------------- language packages

#[test]
fn language_names_compare_the_way_each_registry_does() {
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "PYSEC-1",
                &[],
                vec![osv_entry(
                    "PyPI",
                    "Zope.Interface",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "5.0")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-npm",
                &[],
                vec![osv_entry(
                    "npm",
                    "@babel/traverse",
                    RangeKind::Semver,
                    &[("introduced", "0"), ("fixed", "7.23.2")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-mvn",
                &[],
                vec![osv_entry(
                    "Maven",
                    "org.apache.logging.log4j:log4j-core",
                    RangeKind::Ecosystem,
                    &[("introduced", "2.0-beta9"), ("fixed", "2.15.0")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-nuget",
                &[],
                vec![osv_entry(
                    "NuGet",
                    "Newtonsoft.Json",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "13.0.1")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-php",
                &[],
                vec![osv_entry(
                    "Packagist",
                    "Symfony/Http-Kernel",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "5.4.20")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "RUSTSEC-1",
                &[],
                vec![osv_entry(
                    "crates.io",
                    "smallvec",
                    RangeKind::Semver,
                    &[("introduced", "0"), ("fixed", "1.6.1")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-gem",
                &[],
                vec![osv_entry(
                    "RubyGems",
                    "rack",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "2.2.6.4")],
                )],
            ),
        ),
    ]);
    let table: &[(PackageKind, &str, &str, Option<&str>)] = &[
        (
            PackageKind::Python,
            "zope_interface",
            "4.7",
            Some("PYSEC-1"),
        ),
        (
            PackageKind::Python,
            "ZOPE--interface",
            "4.7",
            Some("PYSEC-1"),
        ),
        (PackageKind::Python, "zope-interface", "5.0", None),
        (
            PackageKind::Npm,
            "@babel/traverse",
            "7.23.1",
            Some("GHSA-npm"),
        ),
        // npm names are case-sensitive.
        (PackageKind::Npm, "@Babel/traverse", "7.23.1", None),
        (
            PackageKind::Maven,
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            Some("GHSA-mvn"),
        ),
        (PackageKind::Maven, "log4j-core", "2.14.1", None),
        (
            PackageKind::Nuget,
            "newtonsoft.json",
            "12.0.3",
            Some("GHSA-nuget"),
        ),
        (
            PackageKind::Composer,
            "symfony/http-kernel",
            "5.4.19",
            Some("GHSA-php"),
        ),
        (PackageKind::Cargo, "smallvec", "1.6.0", Some("RUSTSEC-1")),
        (PackageKind::Cargo, "SmallVec", "1.6.0", None),
        (PackageKind::Gem, "rack", "2.2.6.3", Some("GHSA-gem")),
        (PackageKind::Gem, "rack", "2.2.6.4", None),
        // A PyPI advisory never speaks of an npm package of the same name.
        (PackageKind::Npm, "zope-interface", "4.7", None),
        (PackageKind::Binary, "smallvec", "1.6.0", None),
    ];
    for (kind, name, version, want) in table {
        let got = matches(&idx, &package(*kind, name, version));
        assert_eq!(
            ids(&got),
            want.iter().copied().collect::<Vec<_>>(),
            "{kind:?} {name} {version}"
        );
    }
}

#[test]
fn go_versions_match_with_or_without_v_and_stdlib_with_go_prefix() {
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "GO-2023-2185",
                &["CVE-2023-45284"],
                vec![osv_entry(
                    "Go",
                    "stdlib",
                    RangeKind::Semver,
                    &[
                        ("introduced", "0"),
                        ("fixed", "1.20.11"),
                        ("introduced", "1.21.0-0"),
                        ("fixed", "1.21.4"),
                    ],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GO-2022-0001",
                &[],
                vec![osv_entry(
                    "Go",
                    "golang.org/x/net",
                    RangeKind::Semver,
                    &[("introduced", "0"), ("fixed", "0.17.0")],
                )],
            ),
        ),
    ]);
    for (name, version, hit) in [
        ("stdlib", "1.21.3", true),
        ("stdlib", "v1.21.3", true),
        ("stdlib", "go1.21.3", true),
        ("stdlib", "1.21.4", false),
        ("stdlib", "1.20.10", true),
        ("golang.org/x/net", "v0.16.0", true),
        ("golang.org/x/net", "v0.17.0", false),
        (
            "golang.org/x/net",
            "v0.0.0-20220906165146-f3363e06e74c",
            true,
        ),
    ] {
        let got = matches(&idx, &package(PackageKind::Go, name, version));
        assert_eq!(!got.is_empty(), hit, "{name} {version}");
    }
    let f = &matches(&idx, &package(PackageKind::Go, "stdlib", "1.21.3"))[0];
    assert_eq!(f.vulnerability, "CVE-2023-45284");
    assert_eq!(f.fixed_versions, vec!["1.21.4"]);
}

#[test]
fn osv_last_affected_limit_and_versions_list() {
    let mut listed = osv_entry(
        "PyPI",
        "listed",
        RangeKind::Git,
        &[("introduced", "0"), ("fixed", "deadbeef")],
    );
    listed.versions = vec![s("1.0"), s("1.1")];
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "OSV-last",
                &[],
                vec![osv_entry(
                    "PyPI",
                    "last",
                    RangeKind::Ecosystem,
                    &[("introduced", "1.0"), ("last_affected", "1.4")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "OSV-limit",
                &[],
                vec![osv_entry(
                    "PyPI",
                    "limited",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("limit", "2.0")],
                )],
            ),
        ),
        record(FeedSource::Osv, advisory("OSV-listed", &[], vec![listed])),
    ]);
    for (name, version, hit) in [
        ("last", "0.9", false),
        ("last", "1.0", true),
        ("last", "1.4", true),
        ("last", "1.4.post1", false),
        ("last", "1.5", false),
        ("limited", "1.9", true),
        ("limited", "2.0", false),
        ("listed", "1.0", true),
        ("listed", "1.1.0", true),
        ("listed", "1.2", false),
    ] {
        let got = matches(&idx, &package(PackageKind::Python, name, version));
        assert_eq!(!got.is_empty(), hit, "{name} {version}");
    }
    let f = &matches(&idx, &package(PackageKind::Python, "last", "1.2"))[0];
    assert_eq!(f.fix_state, FixState::NotFixed);
    assert!(f.fixed_versions.is_empty());
    assert_eq!(f.evidence.method, "osv-range");
    let f = &matches(&idx, &package(PackageKind::Python, "listed", "1.0"))[0];
    assert_eq!(f.evidence.method, "osv-versions");
    assert_eq!(f.evidence.ranges, vec!["versions: 1.0"]);
}

#[test]
fn multiple_ranges_report_each_matching_range_and_the_fixes_above() {
    let idx = index(vec![record(
        FeedSource::Osv,
        advisory(
            "PYSEC-2021-335",
            &["CVE-2021-32807", "GHSA-qcx9-j53g-ccgf"],
            vec![osv_entry(
                "PyPI",
                "accesscontrol",
                RangeKind::Ecosystem,
                &[
                    ("introduced", "4.0"),
                    ("fixed", "4.3"),
                    ("introduced", "5.0"),
                    ("fixed", "5.2"),
                ],
            )],
        ),
    )]);
    let f = &matches(&idx, &package(PackageKind::Python, "AccessControl", "5.1"))[0];
    assert_eq!(f.vulnerability, "CVE-2021-32807");
    assert_eq!(f.aliases, vec!["GHSA-qcx9-j53g-ccgf", "PYSEC-2021-335"]);
    assert_eq!(f.fix_state, FixState::Fixed);
    assert_eq!(f.fixed_versions, vec!["5.2"]);
    assert_eq!(
        f.evidence.ranges,
        vec!["ECOSYSTEM: introduced 4.0, fixed 4.3, introduced 5.0, fixed 5.2"]
    );
    let cmp: Vec<String> = f
        .evidence
        .comparisons
        .iter()
        .map(|c| format!("{} {} {} {}", c.installed, c.op, c.bound, c.holds))
        .collect();
    assert_eq!(cmp, vec!["5.1 >= 5.0 true", "5.1 < 5.2 true"]);
    let f = &matches(&idx, &package(PackageKind::Python, "accesscontrol", "4.1"))[0];
    assert_eq!(f.fixed_versions, vec!["4.3", "5.2"]);
    assert!(matches(&idx, &package(PackageKind::Python, "accesscontrol", "4.5")).is_empty());
}

#[test]
fn withdrawn_unknown_ecosystems_and_invalid_versions_never_match() {
    let mut withdrawn = advisory(
        "GHSA-gone",
        &[],
        vec![osv_entry(
            "npm",
            "left-pad",
            RangeKind::Semver,
            &[("introduced", "0")],
        )],
    );
    withdrawn.withdrawn = Some(s("2024-01-01T00:00:00Z"));
    let idx = index(vec![
        record(FeedSource::Osv, withdrawn),
        record(
            FeedSource::Osv,
            advisory(
                "HSEC-1",
                &[],
                vec![osv_entry(
                    "Hackage",
                    "left-pad",
                    RangeKind::Ecosystem,
                    &[("introduced", "0")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-bad",
                &[],
                vec![osv_entry(
                    "npm",
                    "bad-bound",
                    RangeKind::Semver,
                    &[("introduced", "0"), ("fixed", "not.a.version")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-ok",
                &[],
                vec![osv_entry(
                    "npm",
                    "ok",
                    RangeKind::Semver,
                    &[("introduced", "0"), ("fixed", "2.0.0")],
                )],
            ),
        ),
    ]);
    assert!(matches(&idx, &package(PackageKind::Npm, "left-pad", "1.0.0")).is_empty());
    assert!(matches(&idx, &package(PackageKind::Npm, "bad-bound", "1.0.0")).is_empty());
    assert!(matches(&idx, &package(PackageKind::Npm, "ok", "garbage")).is_empty());
    assert!(matches(&idx, &package(PackageKind::Npm, "ok", "")).is_empty());
    assert_eq!(
        matches(&idx, &package(PackageKind::Npm, "ok", "1.9.9")).len(),
        1
    );
    // Still shown by `advisory show`.
    assert_eq!(idx.records_for("GHSA-gone").len(), 1);
}

#[test]
fn purl_only_entries_are_keyed_from_the_purl() {
    let mut entry = osv_entry(
        "",
        "",
        RangeKind::Ecosystem,
        &[("introduced", "0"), ("fixed", "3.1.3")],
    );
    entry.purl = Some(s("pkg:pypi/jinja2"));
    let idx = index(vec![record(
        FeedSource::Csaf,
        advisory("RHSA-2024:1", &["CVE-2024-22195"], vec![entry]),
    )]);
    let got = matches(&idx, &package(PackageKind::Python, "Jinja2", "2.11.3"));
    assert_eq!(ids(&got), vec!["CVE-2024-22195"]);
}

// ---------------------------------------------------------------- Debian

fn debian_state(
    name: &str,
    release: &str,
    status: &str,
    fixed: Option<&str>,
    urgency: Option<&str>,
    nodsa: Option<&str>,
) -> Affected {
    let mut a = tracker_entry(name, release, status);
    let st = a.distro_state.as_mut().unwrap();
    st.fixed_version = fixed.map(s);
    st.urgency = urgency.map(s);
    st.nodsa_reason = nodsa.map(s);
    st.nodsa = nodsa.map(|_| s("yes"));
    a
}

#[test]
fn debian_tracker_states_decide_per_release() {
    struct Case {
        what: &'static str,
        entry: Affected,
        installed: &'static str,
        want: Option<FixState>,
    }
    let cases = vec![
        Case {
            what: "backport: installed is the release's fixed version",
            entry: debian_state(
                "glibc",
                "bookworm",
                "resolved",
                Some("2.36-9+deb12u4"),
                Some("medium"),
                None,
            ),
            installed: "2.36-9+deb12u4",
            want: None,
        },
        Case {
            what: "below the backported fix",
            entry: debian_state(
                "glibc",
                "bookworm",
                "resolved",
                Some("2.36-9+deb12u4"),
                Some("medium"),
                None,
            ),
            installed: "2.36-9+deb12u3",
            want: Some(FixState::Fixed),
        },
        Case {
            what: "above the fix",
            entry: debian_state(
                "glibc",
                "bookworm",
                "resolved",
                Some("2.36-9+deb12u4"),
                None,
                None,
            ),
            installed: "2.36-9+deb12u7",
            want: None,
        },
        Case {
            what: "fixed_version 0: never affected",
            entry: debian_state(
                "glibc",
                "bookworm",
                "resolved",
                Some("0"),
                Some("unimportant"),
                None,
            ),
            installed: "2.36-9",
            want: None,
        },
        Case {
            what: "unimportant",
            entry: debian_state("glibc", "bookworm", "open", None, Some("unimportant"), None),
            installed: "2.36-9",
            want: None,
        },
        Case {
            what: "end-of-life",
            entry: debian_state("glibc", "bookworm", "open", None, Some("end-of-life"), None),
            installed: "2.36-9",
            want: Some(FixState::WontFix),
        },
        Case {
            what: "no-dsa ignored",
            entry: debian_state(
                "glibc",
                "bookworm",
                "open",
                None,
                Some("low"),
                Some("ignored"),
            ),
            installed: "2.36-9",
            want: Some(FixState::WontFix),
        },
        Case {
            what: "no-dsa postponed",
            entry: debian_state(
                "glibc",
                "bookworm",
                "open",
                None,
                Some("low"),
                Some("postponed"),
            ),
            installed: "2.36-9",
            want: Some(FixState::WontFix),
        },
        Case {
            what: "open",
            entry: debian_state(
                "glibc",
                "bookworm",
                "open",
                None,
                Some("not yet assigned"),
                None,
            ),
            installed: "2.36-9",
            want: Some(FixState::NotFixed),
        },
        Case {
            what: "undetermined",
            entry: debian_state("glibc", "bookworm", "undetermined", None, None, None),
            installed: "2.36-9",
            want: Some(FixState::NotFixed),
        },
        Case {
            what: "another release's state",
            entry: debian_state("glibc", "bullseye", "open", None, None, None),
            installed: "2.36-9",
            want: None,
        },
        Case {
            what: "release given by number",
            entry: debian_state("glibc", "12", "open", None, None, None),
            installed: "2.36-9",
            want: Some(FixState::NotFixed),
        },
        Case {
            what: "with epoch",
            entry: debian_state("glibc", "bookworm", "resolved", Some("1:2.0-1"), None, None),
            installed: "2.36-9",
            want: Some(FixState::Fixed),
        },
    ];
    for case in cases {
        let idx = index(vec![record(
            FeedSource::Debian,
            advisory("CVE-2023-4911", &[], vec![case.entry]),
        )]);
        let p = deb("libc6", case.installed, "glibc");
        let got = match_package(&idx, &p, Some(&bookworm()), &MatchOptions::default());
        assert_eq!(got.first().map(|f| f.fix_state), case.want, "{}", case.what);
        if let Some(f) = got.first() {
            assert_eq!(f.evidence.method, "debian-tracker", "{}", case.what);
            assert_eq!(f.package.source_name.as_deref(), Some("glibc"));
            assert_eq!(f.package.name, "libc6");
        }
    }
}

#[test]
fn debian_compares_the_source_version_so_binnmus_are_not_misjudged() {
    let idx = index(vec![record(
        FeedSource::Debian,
        advisory(
            "CVE-2024-1",
            &[],
            vec![debian_state(
                "gcc-defaults",
                "bookworm",
                "resolved",
                Some("1.203"),
                None,
                None,
            )],
        ),
    )]);
    // `cpp` 4:12.2.0-3 is built from gcc-defaults 1.203: compare 1.203, not 4:12.2.0-3.
    let mut p = deb("cpp", "4:12.2.0-3", "gcc-defaults");
    p.source_version = Some(s("1.202"));
    let got = match_package(&idx, &p, Some(&bookworm()), &MatchOptions::default());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].evidence.comparisons[0].installed, "1.202");
    p.source_version = Some(s("1.203"));
    assert!(match_package(&idx, &p, Some(&bookworm()), &MatchOptions::default()).is_empty());
}

#[test]
fn debian_tracker_overrules_osv_dsa_records_of_the_same_release() {
    let dsa = |release: &str| {
        record(
            FeedSource::Osv,
            advisory(
                &format!("DSA-5514-1-{release}"),
                &["CVE-2023-4911"],
                vec![osv_entry(
                    &format!("Debian:{release}"),
                    "glibc",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "2.36-9+deb12u3")],
                )],
            ),
        )
    };
    let tracker_fixed = record(
        FeedSource::Debian,
        advisory(
            "CVE-2023-4911",
            &[],
            vec![debian_state(
                "glibc",
                "bookworm",
                "resolved",
                Some("2.36-9+deb12u1"),
                Some("high"),
                None,
            )],
        ),
    );
    let p = deb("libc6", "2.36-9+deb12u2", "glibc");
    let opts = MatchOptions::default();
    // The DSA alone says affected.
    let got = match_package(&index(vec![dsa("12")]), &p, Some(&bookworm()), &opts);
    assert_eq!(ids(&got), vec!["CVE-2023-4911"]);
    assert_eq!(got[0].evidence.method, "osv-range");
    // The tracker, for bookworm, says fixed below the installed version: it decides.
    let got = match_package(
        &index(vec![dsa("12"), tracker_fixed.clone()]),
        &p,
        Some(&bookworm()),
        &opts,
    );
    assert!(got.is_empty(), "{got:#?}");
    // A DSA for another release never applied.
    let got = match_package(&index(vec![dsa("11")]), &p, Some(&bookworm()), &opts);
    assert!(got.is_empty());
    // Both say affected: one finding, both records.
    let tracker_open = record(
        FeedSource::Debian,
        advisory(
            "CVE-2023-4911",
            &[],
            vec![debian_state(
                "glibc",
                "bookworm",
                "open",
                None,
                Some("high"),
                None,
            )],
        ),
    );
    let got = match_package(
        &index(vec![dsa("12"), tracker_open]),
        &p,
        Some(&bookworm()),
        &opts,
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].evidence.records.len(), 2);
    assert_eq!(got[0].evidence.method, "osv-range+debian-tracker");
    assert_eq!(got[0].fix_state, FixState::Fixed);
    assert_eq!(got[0].fixed_versions, vec!["2.36-9+deb12u3"]);
}

#[test]
fn os_packages_need_their_distro() {
    let idx = index(vec![record(
        FeedSource::Debian,
        advisory(
            "CVE-2023-4911",
            &[],
            vec![debian_state("glibc", "bookworm", "open", None, None, None)],
        ),
    )]);
    let p = deb("libc6", "2.36-9", "glibc");
    let opts = MatchOptions::default();
    assert!(match_package(&idx, &p, None, &opts).is_empty());
    let ubuntu = distro("ubuntu", Some("22.04"), Some("jammy"));
    assert!(match_package(&idx, &p, Some(&ubuntu), &opts).is_empty());
    // os-release without a codename: the number finds bookworm.
    let numbered = distro("debian", Some("12"), None);
    assert_eq!(match_package(&idx, &p, Some(&numbered), &opts).len(), 1);
}

// ---------------------------------------------------------------- Alpine, Wolfi, rpm

fn secdb(id: &str, branch: &str, origin: &str, fixed: &str) -> IndexedAdvisory {
    let mut a = osv_entry(
        &format!("Alpine:{branch}"),
        origin,
        RangeKind::Ecosystem,
        &[("introduced", "0"), ("fixed", fixed)],
    );
    a.purl = None;
    record(FeedSource::Alpine, advisory(id, &[], vec![a]))
}

#[test]
fn alpine_matches_the_image_branch_by_origin() {
    let mut stated = tracker_entry("openssl", "v3.10", "resolved");
    stated.ecosystem = s("Alpine:v3.10");
    stated.distro_state.as_mut().unwrap().fixed_version = Some(s("1.1.1g-r0"));
    let idx = index(vec![
        secdb("CVE-2020-1967", "v3.10", "openssl", "1.1.1g-r0"),
        secdb("CVE-2020-1967", "v3.11", "openssl", "1.1.1g-r1"),
        secdb("CVE-2019-1547", "v3.10", "openssl", "0"),
        record(
            FeedSource::Alpine,
            advisory("CVE-2021-1", &[], vec![stated]),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "ALPINE-ALL",
                &[],
                vec![osv_entry(
                    "Alpine",
                    "openssl",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "9.0-r0")],
                )],
            ),
        ),
    ]);
    let p = apk("libssl1.1", "1.1.1d-r2", "openssl");
    let opts = MatchOptions::default();
    let v310 = distro("alpine", Some("3.10.4"), None);
    let got = match_package(&idx, &p, Some(&v310), &opts);
    assert_eq!(ids(&got), vec!["ALPINE-ALL", "CVE-2020-1967", "CVE-2021-1"]);
    let f = got
        .iter()
        .find(|f| f.vulnerability == "CVE-2020-1967")
        .unwrap();
    assert_eq!(f.fixed_versions, vec!["1.1.1g-r0"]);
    assert_eq!(f.evidence.method, "alpine-secdb");
    assert_eq!(f.evidence.records[0].ecosystem, "Alpine:v3.10");
    assert_eq!(f.package.source_name.as_deref(), Some("openssl"));
    // At the fix: nothing from v3.10's secdb.
    let fixed = apk("libssl1.1", "1.1.1g-r0", "openssl");
    assert_eq!(
        ids(&match_package(&idx, &fixed, Some(&v310), &opts)),
        vec!["ALPINE-ALL"]
    );
    // Edge: only the release-less record.
    let edge = distro("alpine", Some("3.21.0_alpha20240807"), None);
    assert_eq!(
        ids(&match_package(&idx, &p, Some(&edge), &opts)),
        vec!["ALPINE-ALL"]
    );
    // v3.1 is not v3.10.
    let v31 = distro("alpine", Some("3.1.0"), None);
    assert_eq!(
        ids(&match_package(&idx, &p, Some(&v31), &opts)),
        vec!["ALPINE-ALL"]
    );
}

#[test]
fn wolfi_matches_its_own_family_only() {
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "CGA-1",
                &["CVE-2024-2"],
                vec![osv_entry(
                    "Wolfi",
                    "curl",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "8.5.0-r0")],
                )],
            ),
        ),
        secdb("CVE-2024-2", "v3.19", "curl", "8.5.0-r0"),
        // Concelier's secdb parser names Wolfi's ecosystem after the repository (`os`).
        record(
            FeedSource::Alpine,
            advisory(
                "CVE-2024-3",
                &[],
                vec![osv_entry(
                    "os",
                    "curl",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "8.4.0-r1")],
                )],
            ),
        ),
    ]);
    let p = apk("curl", "8.4.0-r0", "curl");
    let got = match_package(
        &idx,
        &p,
        Some(&distro("wolfi", Some("20230201"), None)),
        &MatchOptions::default(),
    );
    assert_eq!(ids(&got), vec!["CVE-2024-2", "CVE-2024-3"]);
    assert_eq!(got[0].evidence.records.len(), 1);
    assert_eq!(got[1].evidence.method, "alpine-secdb");
    assert_eq!(got[0].evidence.records[0].upstream_id, "CGA-1");
}

#[test]
fn almalinux_matches_binary_rpms_of_the_major_release_with_epochs() {
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "ALSA-2023:1",
                &["CVE-2023-1"],
                vec![osv_entry(
                    "AlmaLinux:8",
                    "openssl-libs",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "1:1.1.1k-9.el8_7")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "ALBA-2023:2",
                &[],
                vec![osv_entry(
                    "AlmaLinux:8",
                    "openssl-libs",
                    RangeKind::Ecosystem,
                    &[("introduced", "0"), ("fixed", "1:1.1.1k-10.el8")],
                )],
            ),
        ),
    ]);
    let mut p = package(PackageKind::Rpm, "openssl-libs", "1.1.1k-7.el8_6");
    p.epoch = Some(1);
    let alma8 = distro("almalinux", Some("8.7"), None);
    let got = match_package(&idx, &p, Some(&alma8), &MatchOptions::default());
    assert_eq!(ids(&got), vec!["CVE-2023-1"]);
    assert_eq!(got[0].evidence.comparisons[0].installed, "1:1.1.1k-7.el8_6");
    let alma9 = distro("almalinux", Some("9.1"), None);
    assert!(match_package(&idx, &p, Some(&alma9), &MatchOptions::default()).is_empty());
}

// ---------------------------------------------------------------- CPE

fn nvd_with_cpe(
    id: &str,
    criteria: &str,
    start: Option<&str>,
    end_excl: Option<&str>,
) -> IndexedAdvisory {
    let mut a = advisory(id, &[], Vec::new());
    a.cpe_matches = vec![CpeMatch {
        criteria: s(criteria),
        version_start_including: start.map(s),
        version_start_excluding: None,
        version_end_including: None,
        version_end_excluding: end_excl.map(s),
    }];
    a.severity = vec![cvss(SeverityKind::CvssV3, V31_CRITICAL, "nvd@nist.gov")];
    record(FeedSource::Nvd, a)
}

#[test]
fn cpe_matching_is_off_by_default_and_on_with_the_flag() {
    let idx = index(vec![
        nvd_with_cpe(
            "CVE-2021-23337",
            "cpe:2.3:a:lodash:lodash:*:*:*:*:*:node.js:*:*",
            None,
            Some("4.17.21"),
        ),
        nvd_with_cpe(
            "CVE-2022-1",
            "cpe:2.3:a:python:python:3.11.2:*:*:*:*:*:*:*",
            None,
            None,
        ),
        nvd_with_cpe(
            "CVE-2022-2",
            "cpe:2.3:a:vendor:lodash:*:*:*:*:*:wordpress:*:*",
            None,
            None,
        ),
    ]);
    let lodash = package(PackageKind::Npm, "lodash", "4.17.20");
    assert!(matches(&idx, &lodash).is_empty());
    let on = MatchOptions { cpe: true };
    let got = match_package(&idx, &lodash, None, &on);
    assert_eq!(ids(&got), vec!["CVE-2021-23337"]);
    let f = &got[0];
    assert_eq!(f.evidence.method, "nvd-cpe");
    assert_eq!(f.fixed_versions, vec!["4.17.21"]);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.evidence.ranges,
        vec!["cpe:2.3:a:lodash:lodash:*:*:*:*:*:node.js:*:*, versionEndExcluding 4.17.21"]
    );
    assert!(
        match_package(
            &idx,
            &package(PackageKind::Npm, "lodash", "4.17.21"),
            None,
            &on
        )
        .is_empty()
    );
    // A binary known by its own version, exact version criterion.
    let python = package(PackageKind::Binary, "python", "3.11.2");
    assert_eq!(
        ids(&match_package(&idx, &python, None, &on)),
        vec!["CVE-2022-1"]
    );
    assert!(
        match_package(
            &idx,
            &package(PackageKind::Binary, "python", "3.11.3"),
            None,
            &on
        )
        .is_empty()
    );
    // A Debian package is never CPE-matched.
    let mut d = deb("python3.11", "3.11.2-6", "python3.11");
    d.name = s("python");
    assert!(match_package(&idx, &d, Some(&bookworm()), &on).is_empty());
}

#[test]
fn cpe_is_only_a_fallback_for_linksets_without_an_ecosystem_record() {
    let mut nvd = nvd_with_cpe(
        "CVE-2021-23337",
        "cpe:2.3:a:lodash:lodash:*:*:*:*:*:node.js:*:*",
        None,
        Some("4.17.21"),
    );
    nvd.advisory.id = s("CVE-2021-23337");
    let ghsa = record(
        FeedSource::Osv,
        advisory(
            "GHSA-35jh-r3h4-6jhm",
            &["CVE-2021-23337"],
            vec![osv_entry(
                "npm",
                "lodash",
                RangeKind::Semver,
                &[("introduced", "4.0.0"), ("fixed", "4.17.21")],
            )],
        ),
    );
    let idx = index(vec![nvd, ghsa]);
    let on = MatchOptions { cpe: true };
    // GHSA says 3.x is not affected; NVD's configuration would say it is.
    assert!(
        match_package(
            &idx,
            &package(PackageKind::Npm, "lodash", "3.10.1"),
            None,
            &on
        )
        .is_empty()
    );
    let got = match_package(
        &idx,
        &package(PackageKind::Npm, "lodash", "4.17.20"),
        None,
        &on,
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].evidence.method, "osv-range");
}

// ---------------------------------------------------------------- linksets, severity, enrichment

#[test]
fn ghsa_pysec_and_nvd_records_make_one_finding_with_nvds_rating() {
    let mut ghsa = advisory(
        "GHSA-jfhm-5ghh-2f97",
        &["CVE-2023-37920"],
        vec![osv_entry(
            "PyPI",
            "certifi",
            RangeKind::Ecosystem,
            &[("introduced", "2015.04.28"), ("fixed", "2023.7.22")],
        )],
    );
    ghsa.severity = vec![label("HIGH", "GitHub")];
    ghsa.summary = Some(s("Removal of e-Tugra root certificate"));
    ghsa.references = vec![
        s("https://github.com/advisories/GHSA-jfhm-5ghh-2f97"),
        s("https://example.org/shared"),
    ];
    let mut pysec = advisory(
        "PYSEC-2023-135",
        &["CVE-2023-37920", "GHSA-jfhm-5ghh-2f97"],
        vec![osv_entry(
            "PyPI",
            "certifi",
            RangeKind::Ecosystem,
            &[("introduced", "2015.4.28"), ("fixed", "2023.7.22")],
        )],
    );
    pysec.references = vec![s("https://example.org/shared")];
    let mut nvd = advisory("CVE-2023-37920", &[], Vec::new());
    nvd.severity = vec![
        cvss(
            SeverityKind::CvssV3,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "nvd@nist.gov",
        ),
        cvss(
            SeverityKind::CvssV3,
            V31_HIGH,
            "security-advisories@github.com",
        ),
    ];
    let mut cve5 = advisory("CVE-2023-37920", &[], Vec::new());
    cve5.severity = vec![cvss(
        SeverityKind::CvssV4,
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CISA-ADP",
    )];
    let idx = AdvisoryIndex::build(
        s("sha256:snap"),
        vec![
            record(FeedSource::Osv, ghsa),
            record(FeedSource::Osv, pysec),
            record(FeedSource::Nvd, nvd),
            record(FeedSource::Cve5, cve5),
        ],
        vec![KevEntry {
            cve: s("CVE-2023-37920"),
            vendor_project: s("certifi"),
            product: s("certifi"),
            name: s("x"),
            date_added: s("2024-01-01"),
            due_date: None,
            known_ransomware_campaign_use: None,
        }],
        vec![EpssScore {
            cve: s("CVE-2023-37920"),
            epss: 0.00123,
            percentile: 0.45,
            date: None,
            model_version: None,
        }],
    );
    let got = matches(&idx, &package(PackageKind::Python, "certifi", "2022.12.7"));
    assert_eq!(got.len(), 1, "{got:#?}");
    let f = &got[0];
    assert_eq!(f.vulnerability, "CVE-2023-37920");
    assert_eq!(f.aliases, vec!["GHSA-jfhm-5ghh-2f97", "PYSEC-2023-135"]);
    assert_eq!(f.id, "CVE-2023-37920@pkg:python/certifi@2022.12.7");
    let records: Vec<&str> = f
        .evidence
        .records
        .iter()
        .map(|r| r.upstream_id.as_str())
        .collect();
    assert_eq!(records, vec!["GHSA-jfhm-5ghh-2f97", "PYSEC-2023-135"]);
    assert_eq!(
        f.evidence.ranges,
        vec![
            "ECOSYSTEM: introduced 2015.04.28, fixed 2023.7.22",
            "ECOSYSTEM: introduced 2015.4.28, fixed 2023.7.22"
        ]
    );
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.severity_source, "nvd@nist.gov");
    let ratings: Vec<(&str, &str, Option<f64>, Severity)> = f
        .ratings
        .iter()
        .map(|r| (r.source.as_str(), r.method.as_str(), r.score, r.severity))
        .collect();
    assert_eq!(
        ratings,
        vec![
            ("CISA-ADP", "CVSSv4", Some(9.3), Severity::Critical),
            ("GitHub", "other", None, Severity::High),
            ("nvd@nist.gov", "CVSSv31", Some(9.8), Severity::Critical),
            (
                "security-advisories@github.com",
                "CVSSv31",
                Some(8.1),
                Severity::High
            ),
        ]
    );
    assert_eq!(
        f.summary.as_deref(),
        Some("Removal of e-Tugra root certificate")
    );
    assert_eq!(
        f.references,
        vec![
            "https://github.com/advisories/GHSA-jfhm-5ghh-2f97",
            "https://example.org/shared"
        ]
    );
    assert_eq!(f.fixed_versions, vec!["2023.7.22"]);
    assert!(f.kev);
    assert_eq!(f.epss.as_ref().map(|e| e.epss), Some(0.00123));
    assert_eq!(f.snapshot, "sha256:snap");
    assert_eq!(idx.records_for("PYSEC-2023-135").len(), 4);
    assert_eq!(idx.records_for("CVE-2023-37920").len(), 4);
    assert!(idx.records_for("CVE-1999-0001").is_empty());
}

#[test]
fn language_findings_prefer_the_matched_records_own_cvss() {
    let mut ghsa = advisory(
        "GHSA-1",
        &["CVE-2024-10"],
        vec![osv_entry(
            "npm",
            "x",
            RangeKind::Semver,
            &[("introduced", "0")],
        )],
    );
    ghsa.severity = vec![cvss(SeverityKind::CvssV3, V31_MEDIUM, "GitHub")];
    let mut nvd = advisory("CVE-2024-10", &[], Vec::new());
    nvd.severity = vec![cvss(SeverityKind::CvssV3, V31_CRITICAL, "nvd@nist.gov")];
    let idx = index(vec![
        record(FeedSource::Osv, ghsa),
        record(FeedSource::Nvd, nvd),
    ]);
    let f = &matches(&idx, &package(PackageKind::Npm, "x", "1.0.0"))[0];
    assert_eq!(
        (f.severity, f.severity_source.as_str()),
        (Severity::Medium, "GitHub")
    );
    assert!(!f.kev);
    assert!(f.epss.is_none());
}

#[test]
fn os_findings_prefer_the_distros_urgency_over_nvd() {
    let mut nvd = advisory("CVE-2023-4911", &[], Vec::new());
    nvd.severity = vec![cvss(
        SeverityKind::CvssV3,
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        "nvd@nist.gov",
    )];
    let urgent = |u: &str| {
        record(
            FeedSource::Debian,
            advisory(
                "CVE-2023-4911",
                &[],
                vec![debian_state(
                    "glibc",
                    "bookworm",
                    "open",
                    None,
                    Some(u),
                    None,
                )],
            ),
        )
    };
    let p = deb("libc6", "2.36-9", "glibc");
    let opts = MatchOptions::default();
    let f = &match_package(
        &index(vec![urgent("low**"), record(FeedSource::Nvd, nvd.clone())]),
        &p,
        Some(&bookworm()),
        &opts,
    )[0];
    assert_eq!(
        (f.severity, f.severity_source.as_str()),
        (Severity::Low, "debian")
    );
    assert!(
        f.ratings
            .iter()
            .any(|r| r.source == "debian" && r.method == "other")
    );
    // Not yet assigned: NVD's v3.1.
    let f = &match_package(
        &index(vec![
            urgent("not yet assigned"),
            record(FeedSource::Nvd, nvd),
        ]),
        &p,
        Some(&bookworm()),
        &opts,
    )[0];
    assert_eq!(
        (f.severity, f.severity_source.as_str()),
        (Severity::High, "nvd@nist.gov")
    );
    // Nothing at all: unknown.
    let f = &match_package(
        &index(vec![urgent("not yet assigned")]),
        &p,
        Some(&bookworm()),
        &opts,
    )[0];
    assert_eq!(
        (f.severity, f.severity_source.as_str()),
        (Severity::Unknown, "")
    );
}

#[test]
fn epss_falls_back_to_any_cve_of_the_linkset() {
    let a = advisory(
        "GHSA-2",
        &["CVE-2024-20", "CVE-2024-21"],
        vec![osv_entry(
            "npm",
            "y",
            RangeKind::Semver,
            &[("introduced", "0")],
        )],
    );
    let idx = AdvisoryIndex::build(
        s("snap"),
        vec![record(FeedSource::Osv, a)],
        vec![KevEntry {
            cve: s("CVE-2024-21"),
            vendor_project: s("v"),
            product: s("p"),
            name: s("n"),
            date_added: s("2024-01-01"),
            due_date: None,
            known_ransomware_campaign_use: None,
        }],
        vec![EpssScore {
            cve: s("CVE-2024-21"),
            epss: 0.5,
            percentile: 0.9,
            date: None,
            model_version: None,
        }],
    );
    let f = &matches(&idx, &package(PackageKind::Npm, "y", "1.0.0"))[0];
    assert_eq!(f.vulnerability, "CVE-2024-20");
    assert!(f.kev);
    assert_eq!(f.epss.as_ref().map(|e| e.cve.as_str()), Some("CVE-2024-21"));
}

// ---------------------------------------------------------------- inventory

fn inventory(packages: Vec<Package>, distro: Option<stella_model::Distro>) -> Inventory {
    Inventory {
        image: ImageInfo {
            reference: s("dir:/x"),
            transport: s("dir"),
            name: s("/x"),
            tag: None,
            manifest_digest: None,
            config_digest: None,
            created: None,
            os: s("linux"),
            architecture: s("amd64"),
            variant: None,
            layers: Vec::new(),
        },
        distro,
        packages,
        analyzers: Vec::new(),
        warnings: Vec::new(),
    }
}

#[test]
fn inventory_findings_are_sorted_and_identical_across_runs() {
    let idx = index(vec![
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-b",
                &["CVE-2024-2"],
                vec![osv_entry(
                    "npm",
                    "b",
                    RangeKind::Semver,
                    &[("introduced", "0")],
                )],
            ),
        ),
        record(
            FeedSource::Osv,
            advisory(
                "GHSA-a",
                &["CVE-2024-1"],
                vec![
                    osv_entry("npm", "b", RangeKind::Semver, &[("introduced", "0")]),
                    osv_entry("npm", "a", RangeKind::Semver, &[("introduced", "0")]),
                ],
            ),
        ),
        record(
            FeedSource::Debian,
            advisory(
                "CVE-2023-4911",
                &[],
                vec![debian_state("glibc", "bookworm", "open", None, None, None)],
            ),
        ),
    ]);
    let mut files = deb("libc6", "2.36-9", "glibc");
    files.files = (0..30).map(|i| format!("usr/lib/f{i}")).collect();
    let mut small = package(PackageKind::Npm, "a", "1.0.0");
    small.found_in = s("app/node_modules/a/package.json");
    small.files = vec![s("app/node_modules/a/index.js")];
    let inv = inventory(
        vec![package(PackageKind::Npm, "b", "1.0.0"), small, files],
        Some(bookworm()),
    );
    let one = match_inventory(&idx, &inv, &MatchOptions::default());
    let two = match_inventory(&idx, &inv, &MatchOptions::default());
    assert_eq!(
        serde_json::to_vec(&one).unwrap(),
        serde_json::to_vec(&two).unwrap()
    );
    let keys: Vec<(&str, &str)> = one.findings.iter().map(|f| f.sort_key()).collect();
    assert_eq!(
        keys,
        vec![
            (
                "pkg:deb/debian/libc6@2.36-9?distro=debian-12",
                "CVE-2023-4911"
            ),
            ("pkg:npm/a@1.0.0", "CVE-2024-1"),
            ("pkg:npm/b@1.0.0", "CVE-2024-1"),
            ("pkg:npm/b@1.0.0", "CVE-2024-2"),
        ]
    );
    assert_eq!(one.snapshot, "sha256:snapshot");
    assert_eq!(one.findings[0].paths, vec!["lib/db"]);
    assert_eq!(
        one.findings[1].paths,
        vec![
            "app/node_modules/a/package.json",
            "app/node_modules/a/index.js"
        ]
    );
}

#[test]
fn an_empty_index_finds_nothing() {
    let idx = index(Vec::new());
    assert!(idx.is_empty());
    assert_eq!(idx.len(), 0);
    let inv = inventory(vec![package(PackageKind::Npm, "b", "1.0.0")], None);
    assert!(
        match_inventory(&idx, &inv, &MatchOptions::default())
            .findings
            .is_empty()
    );
    let _ = Advisory::default();
}
