//! Version ordering and range checks per package ecosystem, agreeing with each ecosystem's own tool.
//!
//! A vulnerability matcher is only as good as its version comparisons: `1.0~rc1` is older than
//! `1.0` for dpkg, `1.0^git1` is newer than `1.0` for rpm, `1.0-alpha` is older than `1.0` for
//! Maven and `1.0+local` is newer than `1.0` for pip. This crate answers two questions, and
//! answers them the way the ecosystem's own tool does:
//!
//! - [`compare`]: how two versions order (`<`, `=`, `>`);
//! - [`satisfies`]: whether a version is inside a range written in the ecosystem's own syntax.
//!
//! | [`Ecosystem`] | OSV names | reference implementation followed |
//! |---|---|---|
//! | `Debian` | Debian, Ubuntu | dpkg 1.21 `parseversion`/`verrevcmp` |
//! | `Alpine` | Alpine, Wolfi, Chainguard | apk-tools 2.14/3.x `version.c` |
//! | `Rpm` | Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE, … | rpm 4.18 `rpmverCmp`/`rpmvercmp` |
//! | `Npm` | npm | node-semver 7 (`includePrerelease` off, `loose` off) |
//! | `PyPI` | PyPI | `packaging` 26 (PEP 440); non-PEP 440 versions as `packaging_legacy` `LegacyVersion`, as osv.dev orders them |
//! | `Maven` | Maven | maven-artifact 3.8 `ComparableVersion` and `VersionRange` |
//! | `RubyGems` | RubyGems | RubyGems 3.3 `Gem::Version`/`Gem::Requirement` |
//! | `Go` | Go | `golang.org/x/mod/semver` |
//! | `NuGet` | NuGet | NuGet.Versioning `NuGetVersion`/`VersionRange` |
//! | `Packagist` | Packagist | composer/semver 3.3 (`VersionParser::normalize`, PHP `version_compare`) |
//! | `CratesIo` | crates.io | the `semver` crate Cargo itself uses |
//!
//! Range syntax per ecosystem, as accepted by [`satisfies`]:
//!
//! - Debian: comparator lists with dpkg's relation operators, `>= 1.2-3, << 2.0` (`<<`, `<=`, `=`,
//!   `>=`, `>>`; the deprecated bare `<` and `>` are refused because dpkg reads them as `<=`/`>=`).
//! - Alpine: comparator lists with apk's operators `<`, `<=`, `=`, `>=`, `>`, `~` (fuzzy prefix).
//! - Red Hat: comparator lists with rpm's operators `<`, `<=`, `=`, `>=`, `>`, each decided by
//!   [`compare`] (so `1.0` is below `1.0-1`, as `rpm.vercmp` says; rpm's *dependency* matching
//!   would instead let a bound without a release match any release).
//! - npm: node-semver ranges (`^1.2`, `~1.2.3`, `1.x`, `>=1 <2 || 3`, `1.0 - 2.0`).
//! - PyPI: PEP 440 specifier sets (`>=1.0,!=1.3.*,<2`, `~=1.4.5`, `===foo`).
//! - Maven: version ranges (`[1.0,2.0)`, `(,1.0],[1.2,)`, `[1.5]`). A bare version is a *soft
//!   requirement* that Maven lets every version satisfy; it is refused here as a likely mistake.
//! - RubyGems: requirements, comma separated (`~> 1.2, >= 1.2.3`).
//! - Go: comparator lists (`>= 1.2.0, < 1.4.0` or `>=v1.2.0 <v1.4.0`).
//! - NuGet: interval notation (`[1.0,2.0)`, `(,1.0]`, `[1.0]`), a bare version meaning `>=`, and
//!   numeric floating versions (`1.*`).
//! - Packagist: Composer constraints (`^1.2`, `~1.2`, `1.2.*`, `>=1.0 <2.0 || ^3`, `1.0 - 2.0`).
//! - crates.io: Cargo version requirements (`^1.2`, `~1.2`, `>=1, <2`, `1.*`).
//!
//! Comparator lists (Debian, Alpine, Red Hat, Go) are comma- or space-separated and all must hold;
//! `||` separates alternatives.
//!
//! Invalid versions and ranges are errors ([`VersionError`]) naming the ecosystem, the input and
//! the reason, never a guess. Everything here is pure: no I/O, no global state.

mod apk;
mod cargo;
mod comparators;
mod composer;
mod dpkg;
mod golang;
mod maven;
mod npm;
mod nuget;
mod pypi;
mod rpm;
mod rubygems;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A package ecosystem, as far as version ordering goes.
///
/// Several OSV ecosystems share one ordering: `Ubuntu` orders like `Debian`, every rpm-based
/// distribution (`Red Hat`, `AlmaLinux`, `Rocky Linux`, `SUSE`, …) like [`Ecosystem::Rpm`].
/// [`FromStr`] accepts the OSV names case-insensitively, with or without a `:release` suffix
/// (`Debian:12`, `Alpine:v3.20`); [`fmt::Display`] gives the OSV name of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    Debian,
    Alpine,
    Rpm,
    Npm,
    PyPI,
    Maven,
    RubyGems,
    Go,
    NuGet,
    Packagist,
    CratesIo,
}

impl Ecosystem {
    /// Every ecosystem, in declaration order.
    pub const ALL: [Ecosystem; 11] = [
        Ecosystem::Debian,
        Ecosystem::Alpine,
        Ecosystem::Rpm,
        Ecosystem::Npm,
        Ecosystem::PyPI,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::Go,
        Ecosystem::NuGet,
        Ecosystem::Packagist,
        Ecosystem::CratesIo,
    ];

    /// The OSV name of this ecosystem (of the family's reference distribution for `Rpm`).
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Rpm => "Red Hat",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Go => "Go",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::CratesIo => "crates.io",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// OSV ecosystem names (lowercased) and the ordering each one uses.
const NAMES: &[(&str, Ecosystem)] = &[
    ("debian", Ecosystem::Debian),
    ("ubuntu", Ecosystem::Debian),
    ("deb", Ecosystem::Debian),
    ("alpine", Ecosystem::Alpine),
    ("wolfi", Ecosystem::Alpine),
    ("chainguard", Ecosystem::Alpine),
    ("apk", Ecosystem::Alpine),
    ("red hat", Ecosystem::Rpm),
    ("almalinux", Ecosystem::Rpm),
    ("rocky linux", Ecosystem::Rpm),
    ("suse", Ecosystem::Rpm),
    ("opensuse", Ecosystem::Rpm),
    ("openeuler", Ecosystem::Rpm),
    ("mageia", Ecosystem::Rpm),
    ("photon os", Ecosystem::Rpm),
    ("azure linux", Ecosystem::Rpm),
    ("rpm", Ecosystem::Rpm),
    ("npm", Ecosystem::Npm),
    ("pypi", Ecosystem::PyPI),
    ("maven", Ecosystem::Maven),
    ("rubygems", Ecosystem::RubyGems),
    ("go", Ecosystem::Go),
    ("nuget", Ecosystem::NuGet),
    ("packagist", Ecosystem::Packagist),
    ("crates.io", Ecosystem::CratesIo),
];

impl FromStr for Ecosystem {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // OSV qualifies distribution ecosystems with a release: "Debian:12", "Alpine:v3.20",
        // "Ubuntu:22.04:LTS". The ordering does not depend on it.
        let family = s.split(':').next().unwrap_or("").trim().to_lowercase();
        NAMES
            .iter()
            .find(|(name, _)| *name == family)
            .map(|(_, eco)| *eco)
            .ok_or_else(|| VersionError::UnknownEcosystem(s.to_string()))
    }
}

/// Why a version or a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The ecosystem name is not one this crate orders.
    #[error(
        "unknown ecosystem {0:?} (expected one of Debian, Ubuntu, Alpine, Red Hat, AlmaLinux, \
         Rocky Linux, SUSE, npm, PyPI, Maven, RubyGems, Go, NuGet, Packagist, crates.io)"
    )]
    UnknownEcosystem(String),
    /// A version string the ecosystem's tool refuses.
    #[error("{ecosystem}: invalid version {input:?}: {reason}")]
    InvalidVersion {
        ecosystem: Ecosystem,
        input: String,
        reason: String,
    },
    /// A range the ecosystem's tool refuses.
    #[error("{ecosystem}: invalid range {input:?}: {reason}")]
    InvalidRange {
        ecosystem: Ecosystem,
        input: String,
        reason: String,
    },
}

impl VersionError {
    fn version(ecosystem: Ecosystem, input: &str, reason: impl Into<String>) -> Self {
        VersionError::InvalidVersion {
            ecosystem,
            input: input.to_string(),
            reason: reason.into(),
        }
    }

    fn range(ecosystem: Ecosystem, input: &str, reason: impl Into<String>) -> Self {
        VersionError::InvalidRange {
            ecosystem,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// Orders two versions of `eco` the way the ecosystem's own tool does.
///
/// Build metadata is ignored where the ecosystem's precedence ignores it (SemVer, NuGet, Go), so
/// `Equal` means "same precedence", not "same string".
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let v = |s: &str, r: String| VersionError::version(eco, s, r);
    match eco {
        Ecosystem::Debian => {
            let a = dpkg::Version::parse(a).map_err(|r| v(a, r))?;
            let b = dpkg::Version::parse(b).map_err(|r| v(b, r))?;
            Ok(a.cmp(&b))
        }
        Ecosystem::Alpine => {
            apk::validate(a).map_err(|r| v(a, r))?;
            apk::validate(b).map_err(|r| v(b, r))?;
            Ok(apk::compare(a, b))
        }
        Ecosystem::Rpm => {
            let a = rpm::Evr::parse(a).map_err(|r| v(a, r))?;
            let b = rpm::Evr::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::Npm => {
            let a = npm::SemVer::parse(a).map_err(|r| v(a, r))?;
            let b = npm::SemVer::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::PyPI => {
            let a = pypi::AnyVersion::parse(a).map_err(|r| v(a, r))?;
            let b = pypi::AnyVersion::parse(b).map_err(|r| v(b, r))?;
            Ok(a.cmp(&b))
        }
        Ecosystem::Maven => {
            let a = maven::ComparableVersion::parse(a).map_err(|r| v(a, r))?;
            let b = maven::ComparableVersion::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::RubyGems => {
            let a = rubygems::GemVersion::parse(a).map_err(|r| v(a, r))?;
            let b = rubygems::GemVersion::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::Go => {
            let a = golang::GoVersion::parse(a).map_err(|r| v(a, r))?;
            let b = golang::GoVersion::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::NuGet => {
            let a = nuget::NuGetVersion::parse(a).map_err(|r| v(a, r))?;
            let b = nuget::NuGetVersion::parse(b).map_err(|r| v(b, r))?;
            Ok(a.compare(&b))
        }
        Ecosystem::Packagist => {
            let na = composer::normalize_for_sort(a).map_err(|r| v(a, r))?;
            let nb = composer::normalize_for_sort(b).map_err(|r| v(b, r))?;
            composer::compare_normalized(&na, &nb)
                .map_err(|r| VersionError::version(eco, &format!("{a}\t{b}"), r))
        }
        Ecosystem::CratesIo => {
            let a = cargo::parse_version(a).map_err(|r| v(a, r))?;
            let b = cargo::parse_version(b).map_err(|r| v(b, r))?;
            Ok(a.cmp_precedence(&b))
        }
    }
}

/// Whether `version` is inside `range`, written in the ecosystem's own range syntax (see the
/// crate documentation for each syntax).
pub fn satisfies(eco: Ecosystem, version: &str, range: &str) -> Result<bool, VersionError> {
    let v = |r: String| VersionError::version(eco, version, r);
    let rg = |r: String| VersionError::range(eco, range, r);
    match eco {
        Ecosystem::Debian => {
            let ver = dpkg::Version::parse(version).map_err(v)?;
            let set = comparators::parse(range, comparators::DPKG_OPS, |s| {
                dpkg::Version::parse(s).map_err(|r| format!("version {s:?}: {r}"))
            })
            .map_err(rg)?;
            Ok(set.matches(|op, bound| op.holds(ver.cmp(bound))))
        }
        Ecosystem::Alpine => {
            apk::validate(version).map_err(v)?;
            let set = comparators::parse(range, comparators::APK_OPS, |s| {
                apk::validate(s)
                    .map(|()| s.to_string())
                    .map_err(|r| format!("version {s:?}: {r}"))
            })
            .map_err(rg)?;
            Ok(set.matches(|op, bound| match op {
                comparators::Op::Fuzzy => apk::fuzzy_match(version, bound),
                _ => op.holds(apk::compare(version, bound)),
            }))
        }
        Ecosystem::Rpm => {
            let ver = rpm::Evr::parse(version).map_err(v)?;
            let set = comparators::parse(range, comparators::RPM_OPS, |s| {
                rpm::Evr::parse(s).map_err(|r| format!("version {s:?}: {r}"))
            })
            .map_err(rg)?;
            Ok(set.matches(|op, bound| op.holds(ver.compare(bound))))
        }
        Ecosystem::Npm => {
            let ver = npm::SemVer::parse(version).map_err(v)?;
            let range = npm::Range::parse(range).map_err(rg)?;
            Ok(range.test(&ver))
        }
        Ecosystem::PyPI => pypi::satisfies(version, range).map_err(|e| match e {
            pypi::SpecError::Version(r) => v(r),
            pypi::SpecError::Range(r) => rg(r),
        }),
        Ecosystem::Maven => {
            let ver = maven::ComparableVersion::parse(version).map_err(v)?;
            let range = maven::VersionRange::parse(range).map_err(rg)?;
            Ok(range.contains(&ver))
        }
        Ecosystem::RubyGems => {
            let ver = rubygems::GemVersion::parse(version).map_err(v)?;
            let req = rubygems::Requirement::parse(range).map_err(rg)?;
            Ok(req.satisfied_by(&ver))
        }
        Ecosystem::Go => {
            let ver = golang::GoVersion::parse(version).map_err(v)?;
            let set = comparators::parse(range, comparators::GO_OPS, |s| {
                golang::GoVersion::parse(s).map_err(|r| format!("version {s:?}: {r}"))
            })
            .map_err(rg)?;
            Ok(set.matches(|op, bound| op.holds(ver.compare(bound))))
        }
        Ecosystem::NuGet => {
            let ver = nuget::NuGetVersion::parse(version).map_err(v)?;
            let range = nuget::VersionRange::parse(range).map_err(rg)?;
            Ok(range.satisfies(&ver))
        }
        Ecosystem::Packagist => {
            let ver = composer::normalize(version).map_err(v)?;
            let constraint = composer::parse_constraints(range).map_err(rg)?;
            Ok(constraint.matches(&ver))
        }
        Ecosystem::CratesIo => {
            let ver = cargo::parse_version(version).map_err(v)?;
            let req = cargo::parse_req(range).map_err(rg)?;
            Ok(req.matches(&ver))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_names_parse_case_insensitively_and_print_the_osv_name() {
        for (name, eco) in [
            ("Debian", Ecosystem::Debian),
            ("ubuntu", Ecosystem::Debian),
            ("Debian:12", Ecosystem::Debian),
            ("Ubuntu:22.04:LTS", Ecosystem::Debian),
            ("Alpine:v3.20", Ecosystem::Alpine),
            ("Red Hat", Ecosystem::Rpm),
            ("red hat:enterprise_linux:9", Ecosystem::Rpm),
            ("Rocky Linux", Ecosystem::Rpm),
            ("AlmaLinux:9", Ecosystem::Rpm),
            ("SUSE", Ecosystem::Rpm),
            ("NPM", Ecosystem::Npm),
            ("pypi", Ecosystem::PyPI),
            ("Maven", Ecosystem::Maven),
            ("RubyGems", Ecosystem::RubyGems),
            ("Go", Ecosystem::Go),
            ("NuGet", Ecosystem::NuGet),
            ("Packagist", Ecosystem::Packagist),
            ("crates.io", Ecosystem::CratesIo),
        ] {
            assert_eq!(name.parse::<Ecosystem>().unwrap(), eco, "{name}");
        }
        for eco in Ecosystem::ALL {
            assert_eq!(eco.to_string().parse::<Ecosystem>().unwrap(), eco);
        }
        assert_eq!(Ecosystem::Rpm.to_string(), "Red Hat");
        assert_eq!(Ecosystem::CratesIo.to_string(), "crates.io");
        assert!(matches!(
            "Hackage".parse::<Ecosystem>(),
            Err(VersionError::UnknownEcosystem(_))
        ));
    }

    #[test]
    fn errors_name_the_ecosystem_the_input_and_the_reason() {
        let e = compare(Ecosystem::Npm, "1.2", "1.2.3").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("npm: invalid version \"1.2\""), "{msg}");
        let e = satisfies(Ecosystem::Maven, "1.0", "[1.0,").unwrap_err();
        assert!(matches!(e, VersionError::InvalidRange { .. }), "{e}");
        assert!(e.to_string().contains("[1.0,"), "{e}");
    }
}
