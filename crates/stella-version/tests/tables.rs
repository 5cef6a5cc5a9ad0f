//! Table tests per ecosystem, from each tool's documented rules and known tricky pairs.

use std::cmp::Ordering::{self, Equal, Greater, Less};
use stella_version::{Ecosystem, VersionError, compare, satisfies};

fn check_order(eco: Ecosystem, rows: &[(&str, Ordering, &str)]) {
    for &(a, want, b) in rows {
        let got = compare(eco, a, b).unwrap_or_else(|e| panic!("{eco}: {a} vs {b}: {e}"));
        assert_eq!(got, want, "{eco}: {a} vs {b}");
        let back = compare(eco, b, a).unwrap();
        assert_eq!(back, want.reverse(), "{eco}: {b} vs {a} (reversed)");
    }
}

/// A chain that must be strictly increasing, every pair of it.
fn check_chain(eco: Ecosystem, chain: &[&str]) {
    for (i, a) in chain.iter().enumerate() {
        for (j, b) in chain.iter().enumerate() {
            let got = compare(eco, a, b).unwrap_or_else(|e| panic!("{eco}: {a} vs {b}: {e}"));
            assert_eq!(got, i.cmp(&j), "{eco}: {a} vs {b}");
        }
    }
}

fn check_satisfies(eco: Ecosystem, rows: &[(&str, &str, bool)]) {
    for &(v, range, want) in rows {
        let got = satisfies(eco, v, range).unwrap_or_else(|e| panic!("{eco}: {v} in {range}: {e}"));
        assert_eq!(got, want, "{eco}: {v} in {range:?}");
    }
}

fn check_invalid_versions(eco: Ecosystem, bad: &[&str]) {
    for v in bad {
        match compare(eco, v, v) {
            Err(VersionError::InvalidVersion {
                ecosystem, input, ..
            }) => {
                assert_eq!(ecosystem, eco);
                assert_eq!(&input, v);
            }
            other => panic!("{eco}: {v:?} should be an invalid version, got {other:?}"),
        }
    }
}

fn check_invalid_ranges(eco: Ecosystem, version: &str, bad: &[&str]) {
    for r in bad {
        match satisfies(eco, version, r) {
            Err(VersionError::InvalidRange {
                ecosystem, input, ..
            }) => {
                assert_eq!(ecosystem, eco);
                assert_eq!(&input, r);
            }
            other => panic!("{eco}: {r:?} should be an invalid range, got {other:?}"),
        }
    }
}

#[test]
fn debian_orders_like_dpkg() {
    let eco = Ecosystem::Debian;
    check_order(
        eco,
        &[
            ("1.0~rc1", Less, "1.0"),
            ("1:0.1", Greater, "2.0"),
            ("1.0", Equal, "1.0-0"),
            ("1.0", Equal, "0:1.0"),
            ("1.0", Less, "1.0.0"),
            ("1.0", Less, "1.0+b1"),
            ("1.0a", Less, "1.0+"),
            ("1.0-1", Less, "1.0-1ubuntu1"),
            ("1.0-1ubuntu1", Less, "1.0-2"),
            ("2.30-1+deb12u1", Greater, "2.30-1"),
            ("1.01", Equal, "1.1"),
            ("1.0~~", Less, "1.0~"),
            ("1.0~~a", Less, "1.0~"),
            ("7.88.1-10+deb12u5", Less, "7.88.1-10+deb12u12"),
            ("1:1.2.13.dfsg-1", Greater, "1.3"),
        ],
    );
    check_chain(
        eco,
        &[
            "1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1", "1:0.1",
        ],
    );
    check_invalid_versions(eco, &["", "1.0 1", "a:1.0", "1:", "1.0-", "-1:1.0"]);
    check_satisfies(
        eco,
        &[
            ("1.2-3", ">= 1.2-3, << 2.0", true),
            ("2.0", ">= 1.2-3, << 2.0", false),
            ("2.0~rc1", ">= 1.2-3, << 2.0", true),
            ("1.5", "<< 1.0 || >> 1.4", true),
            ("1.5", "= 1.5-0", true),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["< 2.0", "> 1.0", "", ">= 1.0,", ">= a:1"]);
}

#[test]
fn rpm_orders_like_rpmvercmp() {
    let eco = Ecosystem::Rpm;
    check_order(
        eco,
        &[
            ("1.0^git1", Greater, "1.0"),
            ("1.0~rc1", Less, "1.0"),
            ("1.0^git1", Less, "1.0.1"),
            ("1.0~rc1^git1", Greater, "1.0~rc1"),
            ("1.0~rc1^git1", Less, "1.0"),
            ("1:1.0", Greater, "2.0"),
            ("0:1.0-1", Equal, "1.0-1"),
            ("1.0a", Less, "1.0.1"),
            ("1.0", Equal, "1_0"),
            ("1.01", Equal, "1.1"),
            ("1.0-1.el9", Less, "1.0-2.el9"),
            ("1.0", Less, "1.0-1"),
            ("2.4.57-5.el9", Greater, "2.4.51-7.el9_2"),
        ],
    );
    check_chain(
        eco,
        &[
            "1.0~~", "1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0.1", "1:0.1",
        ],
    );
    check_invalid_versions(eco, &[""]);
    check_satisfies(
        eco,
        &[
            ("1.0-1.el9", ">= 1.0, < 2.0", true),
            ("2.0~beta", "< 2.0", true),
            ("2.0^git1", "<= 2.0", false),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["<< 2.0", "", "!= 1.0"]);
}

#[test]
fn alpine_orders_like_apk() {
    let eco = Ecosystem::Alpine;
    check_order(
        eco,
        &[
            ("1.2.3_rc1", Less, "1.2.3"),
            ("1.2.3", Less, "1.2.3_p1"),
            ("1.0-r1", Less, "1.0-r2"),
            // From apk-tools' test/version.data.
            ("2.34", Greater, "0.1.0_alpha"),
            ("0.1.0_alpha2", Greater, "0.1.0_alpha"),
            ("1.1", Greater, "1.1_alpha1"),
            ("2.3.0b-r1", Less, "2.3.0b-r2"),
            ("1.06-r6", Less, "006"),
            ("0.1.0_alpha_pre2", Less, "0.1.0_alpha"),
            ("8.2.0", Less, "8.2.001"),
            ("8.2.0015", Less, "8.2.002"),
            ("1.0~1234", Less, "1.0~2345"),
            ("1.0~1234-r1", Less, "1.0~2345-r0"),
            ("1.0~1234-r1", Greater, "1.0~1234-r0"),
            ("6.0_pre1", Less, "6.0"),
            ("6.1_p1", Greater, "6.1"),
            ("20050718-r1", Less, "20050718-r2"),
            ("3.0.20060720", Less, "20060720"),
            (
                "1.0.0_pre20191002222144-r0",
                Less,
                "1.0.0_pre20210530193627-r0",
            ),
            ("2.12r-r4", Less, "2.12r-r5"),
            ("1.0.4-r3", Equal, "1.0.4-r3"),
        ],
    );
    check_chain(
        eco,
        &[
            "1.0_alpha",
            "1.0_beta",
            "1.0_pre",
            "1.0_rc",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p",
            "1.0a",
            "1.0.1",
        ],
    );
    check_invalid_versions(
        eco,
        &[
            "",
            "a",
            "1.0bc",
            "0.1a1",
            "0.1_foobar",
            "0.1-r",
            "0.1-r2_pre1",
            ".1",
            "1.0-1",
        ],
    );
    check_satisfies(
        eco,
        &[
            ("3.6.9", "~3.6", true),
            ("3.8.0", "~3.6", false),
            ("1.2.3-r4", ">=1.2.3-r1 <1.2.4", true),
            ("1.2.4_rc1", "<1.2.4", true),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["<< 2.0", "", ">= 1.0-1"]);
}

#[test]
fn npm_orders_and_matches_like_node_semver() {
    let eco = Ecosystem::Npm;
    check_chain(
        eco,
        &[
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
        ],
    );
    check_order(
        eco,
        &[
            ("1.0.0+build.1", Equal, "1.0.0+build.2"),
            ("v1.2.3", Equal, "1.2.3"),
        ],
    );
    check_invalid_versions(eco, &["1.2", "01.2.3", "1.2.3-01", "1.2.3.4", "", "x"]);
    check_satisfies(
        eco,
        &[
            ("1.2.3-beta.2", ">1.2.3-alpha.1", true),
            ("3.4.5-alpha", ">1.2.3-alpha", false),
            ("1.2.3-alpha.7", ">1.2.3-alpha.3", true),
            ("1.2.4", "^1.2.3", true),
            ("2.0.0", "^1.2.3", false),
            ("0.2.4", "^0.2.3", true),
            ("0.3.0", "^0.2.3", false),
            ("0.0.4", "^0.0.3", false),
            ("1.2.9", "~1.2.3", true),
            ("1.3.0", "~1.2.3", false),
            ("1.9.9", "1.x", true),
            ("2.3.4", "1.2.3 - 2.3.4", true),
            ("2.3.5", "1.2.3 - 2.3.4", false),
            ("2.3.9", "1.2 - 2.3", true),
            ("5.0.0", "<1.0.0 || >=5.0.0", true),
            ("1.0.0-rc.1", "*", false),
            ("1.0.0", "", true),
        ],
    );
    check_invalid_ranges(eco, "1.0.0", &[">=>1", "1.2.3 -", "a.b.c"]);
}

#[test]
fn pypi_orders_and_matches_like_packaging() {
    let eco = Ecosystem::PyPI;
    check_chain(
        eco,
        &[
            "1.0-foo",
            "1.0.dev0",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.1",
            "1!0.1",
        ],
    );
    check_order(
        eco,
        &[
            ("1.0", Equal, "1.0.0"),
            ("1.0c1", Equal, "1.0rc1"),
            ("1.0-1", Equal, "1.0.post1"),
            ("v1.0", Equal, "1.0"),
            ("1.0+local", Greater, "1.0"),
            ("1.0+abc", Less, "1.0+1"),
            ("not-pep-440", Less, "0.0.dev0"),
            ("1.0-SNAPSHOT", Less, "0.1"),
        ],
    );
    check_satisfies(
        eco,
        &[
            ("1.4.9", "~=1.4.5", true),
            ("1.5.0", "~=1.4.5", false),
            ("1.0+local", "==1.0", true),
            ("1.0.post1", ">1.0", false),
            ("1.1.post1", ">1.0", true),
            ("2.0a1", "<2.0", false),
            ("1.9", ">=1.0,!=1.5.*,<2", true),
            ("1.5.3", ">=1.0,!=1.5.*,<2", false),
            ("foo-bar", "===foo-bar", true),
            ("1.5a1", ">=1.0", true),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["~=1", "==1.0.*+local", "=>1.0", ">=1.0.*"]);
}

#[test]
fn maven_orders_like_comparable_version() {
    let eco = Ecosystem::Maven;
    check_chain(
        eco,
        &[
            "1.0-alpha",
            "1.0-alpha-1",
            "1.0-beta",
            "1.0-milestone-1",
            "1.0-rc1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-sp",
            "1.0-foo",
            "1.0-1",
            "1.0.1",
        ],
    );
    check_order(
        eco,
        &[
            ("1", Equal, "1.0"),
            ("1.0", Equal, "1.0.0"),
            ("1.0-RC1", Equal, "1.0-cr1"),
            ("1.0-ga", Equal, "1.0"),
            ("1.0-final", Equal, "1.0.release"),
            ("1.0a1", Equal, "1.0-alpha-1"),
            ("1.0.0.a", Equal, "1-a"),
        ],
    );
    check_satisfies(
        eco,
        &[
            ("1.5", "[1.0,2.0)", true),
            ("2.0", "[1.0,2.0)", false),
            ("2.0", "[1.0,2.0]", true),
            ("0.9", "(,1.0],[1.2,)", true),
            ("1.1", "(,1.0],[1.2,)", false),
            ("1.5.0", "[1.5]", true),
        ],
    );
    check_invalid_ranges(
        eco,
        "1.0",
        &["1.0", "[1.0", "(1.0)", "[2.0,1.0]", "[1.0,2.0],[1.5,3.0]"],
    );
}

#[test]
fn rubygems_orders_like_gem_version() {
    let eco = Ecosystem::RubyGems;
    check_chain(
        eco,
        &[
            "1.0.a", "1.0.a.1", "1.0.b", "1.0.rc1", "1.0", "1.0.1", "1.1",
        ],
    );
    check_order(
        eco,
        &[
            ("1.0", Equal, "1"),
            ("1.0-rc1", Equal, "1.0.pre.rc1"),
            ("1.0.A", Less, "1.0.a"),
        ],
    );
    check_invalid_versions(eco, &["junk", "1..0", "1.0-"]);
    check_satisfies(
        eco,
        &[
            ("1.2.3", "~> 1.2, >= 1.2.3", true),
            ("1.9", "~> 1.2, >= 1.2.3", true),
            ("2.0", "~> 1.2, >= 1.2.3", false),
            ("1.2.2", "~> 1.2, >= 1.2.3", false),
            ("2.0.a", "~> 1.2", false),
            ("1.3", "~> 1.2.0", false),
            ("1.0", "!= 1.0.0", false),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["~>", ">= junk", "=> 1.0"]);
}

#[test]
fn go_orders_like_x_mod_semver() {
    let eco = Ecosystem::Go;
    check_chain(
        eco,
        &[
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.1.0",
            "v1.2.3",
            "v1.2.4-0.20200101000000-abcdefabcdef",
            "v1.2.4",
            "v2.0.0",
        ],
    );
    check_order(
        eco,
        &[
            ("v1.2.3+incompatible", Equal, "v1.2.3"),
            ("v2.0.0+incompatible", Less, "v2.0.1"),
            ("1.2.3", Equal, "v1.2.3"),
            ("v1", Equal, "v1.0.0"),
            ("v1.2", Equal, "v1.2.0"),
            ("v1.0.0-alpha.10", Greater, "v1.0.0-alpha.9"),
        ],
    );
    check_invalid_versions(eco, &["v1.2.3.4", "v01.2.3", "latest", ""]);
    check_satisfies(
        eco,
        &[
            ("v1.3.0", ">= 1.2.0, < 1.4.0", true),
            ("v1.4.0", ">=v1.2.0 <v1.4.0", false),
        ],
    );
}

#[test]
fn nuget_orders_like_nuget_versioning() {
    let eco = Ecosystem::NuGet;
    check_chain(
        eco,
        &[
            "1.0.0-alpha",
            "1.0.0-alpha.2",
            "1.0.0-alpha.10",
            "1.0.0-beta",
            "1.0.0",
            "1.0.0.1",
            "1.0.1",
        ],
    );
    check_order(
        eco,
        &[
            ("1.0.0-Beta", Equal, "1.0.0-beta"),
            ("1.0", Equal, "1.0.0.0"),
            ("1.0.0+git.abc", Equal, "1.0.0"),
        ],
    );
    check_invalid_versions(eco, &["1.0.0.0.0", "1.0.0-01", "x"]);
    check_satisfies(
        eco,
        &[
            ("1.5.0", "[1.0,2.0)", true),
            ("2.0.0", "[1.0,2.0)", false),
            ("3.0.0", "1.0", true),
            ("0.9.0", "1.0", false),
            ("1.0.0", "(,1.0]", true),
            ("1.0.0", "[1.0]", true),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["[1.0", "(1.0)", "[2.0,1.0]", ""]);
}

#[test]
fn packagist_orders_like_composer() {
    let eco = Ecosystem::Packagist;
    check_chain(
        eco,
        &[
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-beta1",
            "1.0.0-RC1",
            "1.0.0",
            "1.0.0-patch1",
            "1.0.1",
            "dev-master",
        ],
    );
    check_order(
        eco,
        &[
            ("1.0", Equal, "1.0.0"),
            ("v1.0.0", Equal, "1.0.0.0"),
            ("1.0.0-rc1", Equal, "1.0.0-RC1"),
        ],
    );
    check_invalid_versions(eco, &["foo", "1.0.0-meh", ""]);
    check_satisfies(
        eco,
        &[
            ("1.2.5", "^1.2", true),
            ("2.0.0", "^1.2", false),
            ("1.2.5", "~1.2", true),
            ("1.3.0", "~1.2.0", false),
            ("1.2.99", "1.2.*", true),
            ("1.5.0", ">=1.0 <2.0 || ^3", true),
            ("3.1.0", ">=1.0 <2.0 || ^3", true),
            ("2.5.0", "1.0 - 2.0", false),
            ("2.0.5", "1.0 - 2.0", true),
            ("1.5.0-beta1", "^1.2", true),
        ],
    );
    check_invalid_ranges(eco, "1.0", &["~>1.0", "foo bar", ""]);
}

#[test]
fn crates_io_orders_and_matches_like_cargo() {
    let eco = Ecosystem::CratesIo;
    check_chain(
        eco,
        &[
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0",
            "1.0.1",
            "1.1.0",
        ],
    );
    check_order(eco, &[("1.0.0+a", Equal, "1.0.0+b")]);
    check_invalid_versions(eco, &["1.0", "v1.0.0", "01.0.0"]);
    check_satisfies(
        eco,
        &[
            ("1.9.0", "^1.2", true),
            ("2.0.0", "^1.2", false),
            ("1.1.0-alpha", ">=1.0.0", false),
            ("1.2.3", ">=1, <2", true),
            ("1.2.9", "~1.2", true),
        ],
    );
    check_invalid_ranges(eco, "1.0.0", &[">=>1", "^^1"]);
}
