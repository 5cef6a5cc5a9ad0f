//! Operating-system packages: which distro release an affected entry speaks of, and what a
//! distribution tracker's state (Debian security tracker, Alpine secdb) says about an
//! installed version.

use std::cmp::Ordering;

use stella_model::{Affected, Distro, DistroState, FixState};
use stella_version::{Ecosystem, compare};

use crate::family::Family;
use crate::osv::{Hit, Verdict, comparison};

/// Debian releases by number and codename, for images whose os-release lacks one of them
/// (testing and sid have no `VERSION_ID`; old images have no `VERSION_CODENAME`).
const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
    ("15", "duke"),
];

/// The releases of a distro an affected entry may name to speak of this image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReleaseFilter {
    /// Rolling distributions (Wolfi, Chainguard): every release name applies.
    Any,
    /// Release names, normalized with [`normalize_release`]. Empty when the release is unknown
    /// (Alpine edge): only entries without a release apply.
    OneOf(Vec<String>),
}

impl ReleaseFilter {
    /// Whether an entry naming `release` (or none: every release) applies.
    pub(crate) fn accepts(&self, release: Option<&str>) -> bool {
        match (self, release) {
            (_, None) | (ReleaseFilter::Any, _) => true,
            (ReleaseFilter::OneOf(names), Some(r)) => {
                let r = normalize_release(r);
                names.contains(&r)
            }
        }
    }
}

/// Lowercase, without a `v` before a digit (`v3.20` and `3.20` are one Alpine branch).
fn normalize_release(r: &str) -> String {
    let r = r.trim().to_ascii_lowercase();
    match r.strip_prefix('v') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
        _ => r,
    }
}

/// The family whose OS advisories apply to packages of `kind` on `distro`, and the releases
/// that apply. `None` when the matcher has no advisories for that distro.
pub(crate) fn os_target(
    kind: stella_model::PackageKind,
    distro: &Distro,
) -> Option<(Family, ReleaseFilter)> {
    use stella_model::PackageKind::{Apk, Deb, Rpm};
    let id = distro.id.to_ascii_lowercase();
    let version = distro.version_id.as_deref().map(str::trim).unwrap_or("");
    let major = version.split('.').next().unwrap_or("");
    match (kind, id.as_str()) {
        (Deb, "debian") => {
            let mut names = Vec::new();
            let mut add = |n: &str| {
                let n = normalize_release(n);
                if !n.is_empty() && !names.contains(&n) {
                    names.push(n);
                }
            };
            if let Some(code) = &distro.codename {
                add(code);
                if let Some((num, _)) = DEBIAN_RELEASES
                    .iter()
                    .find(|(_, c)| c.eq_ignore_ascii_case(code))
                {
                    add(num);
                }
            }
            if !major.is_empty() {
                add(major);
                if let Some((_, code)) = DEBIAN_RELEASES.iter().find(|(n, _)| *n == major) {
                    add(code);
                }
            }
            Some((Family::Debian, ReleaseFilter::OneOf(names)))
        }
        (Apk, "alpine") => Some((
            Family::Alpine,
            ReleaseFilter::OneOf(alpine_branch(version).into_iter().collect()),
        )),
        (Apk, "wolfi") => Some((Family::Wolfi, ReleaseFilter::Any)),
        (Apk, "chainguard") => Some((Family::Chainguard, ReleaseFilter::Any)),
        (Rpm, "almalinux") if !major.is_empty() => Some((
            Family::AlmaLinux,
            ReleaseFilter::OneOf(vec![major.to_string()]),
        )),
        (Rpm, "rocky") if !major.is_empty() => Some((
            Family::RockyLinux,
            ReleaseFilter::OneOf(vec![major.to_string()]),
        )),
        _ => None,
    }
}

/// The secdb branch of an Alpine `VERSION_ID`: `3.10.4` → `3.10` (normalized `v3.10`);
/// `None` for edge (`3.21.0_alpha20240807`) and anything else that is not `N.N[.N]`.
pub(crate) fn alpine_branch(version_id: &str) -> Option<String> {
    let parts: Vec<&str> = version_id.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| numeric(p)) {
        return None;
    }
    Some(format!("{}.{}", parts[0], parts[1]))
}

/// The release an affected entry speaks of: the tracker state's release, else the
/// ecosystem's (`Debian:12`), else none (every release).
pub(crate) fn entry_release<'a>(
    aff: &'a Affected,
    eco_release: Option<&'a str>,
) -> Option<&'a str> {
    aff.distro_state
        .as_ref()
        .map(|s| s.release.as_str())
        .filter(|r| !r.trim().is_empty())
        .or(eco_release)
}

/// Evaluates a tracker state for the installed version (see the crate documentation for the
/// rules).
pub(crate) fn eval_state(
    state: &DistroState,
    order: Ecosystem,
    installed: &str,
    method: &'static str,
) -> Verdict {
    let status = state.status.trim().to_ascii_lowercase();
    let urgency = state
        .urgency
        .as_deref()
        .map(|u| u.trim().trim_end_matches('*').trim().to_ascii_lowercase());
    let fixed = state
        .fixed_version
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    if fixed == Some("0")
        || matches!(
            status.as_str(),
            "not-affected" | "not_affected" | "not affected"
        )
    {
        return Verdict::NotAffected;
    }
    if urgency.as_deref() == Some("unimportant") {
        // Debian: "not a security problem in Debian"; never reported.
        return Verdict::NotAffected;
    }
    let mut describe = format!("{}: {}", state.release, state.status);
    if let Some(f) = fixed {
        describe.push_str(&format!(", fixed {f}"));
    }
    if let Some(u) = &state.urgency {
        describe.push_str(&format!(", urgency {u}"));
    }
    let nodsa = state.nodsa.is_some() || state.nodsa_reason.is_some();
    if nodsa {
        match state.nodsa_reason.as_deref() {
            Some(r) if !r.is_empty() => describe.push_str(&format!(", no-dsa ({r})")),
            _ => describe.push_str(", no-dsa"),
        }
    }
    if let Some(f) = fixed {
        return match compare(order, installed, f) {
            Ok(Ordering::Less) => Verdict::Affected(Hit {
                method,
                fix_state: FixState::Fixed,
                fixed: vec![f.to_string()],
                ranges: vec![describe],
                comparisons: vec![comparison(installed, "<", f, true)],
            }),
            Ok(_) => Verdict::NotAffected,
            Err(_) => Verdict::Undecided,
        };
    }
    if status == "resolved" {
        // Resolved without a version to compare with: the tracker says fixed, and there is
        // nothing to show the installed package is older.
        return Verdict::NotAffected;
    }
    let fix_state = if urgency.as_deref() == Some("end-of-life") || nodsa {
        FixState::WontFix
    } else {
        FixState::NotFixed
    };
    Verdict::Affected(Hit {
        method,
        fix_state,
        fixed: Vec::new(),
        ranges: vec![describe],
        comparisons: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stella_model::PackageKind;

    fn distro(id: &str, version: Option<&str>, codename: Option<&str>) -> Distro {
        Distro {
            id: id.into(),
            version_id: version.map(Into::into),
            codename: codename.map(Into::into),
            source_file: "etc/os-release".into(),
            ..Default::default()
        }
    }

    #[test]
    fn alpine_branches_come_from_version_id() {
        assert_eq!(alpine_branch("3.10.4").as_deref(), Some("3.10"));
        assert_eq!(alpine_branch("3.20").as_deref(), Some("3.20"));
        assert_eq!(alpine_branch("3.21.0_alpha20240807"), None);
        assert_eq!(alpine_branch("edge"), None);
        let (_, filter) =
            os_target(PackageKind::Apk, &distro("alpine", Some("3.10.4"), None)).unwrap();
        assert!(filter.accepts(Some("v3.10")));
        assert!(!filter.accepts(Some("v3.1")));
        assert!(!filter.accepts(Some("v3.11")));
        assert!(filter.accepts(None));
        let (_, edge) = os_target(
            PackageKind::Apk,
            &distro("alpine", Some("3.21.0_alpha20240807"), None),
        )
        .unwrap();
        assert!(!edge.accepts(Some("v3.21")));
        assert!(edge.accepts(None));
    }

    #[test]
    fn debian_releases_match_by_codename_or_number() {
        let (_, f) = os_target(
            PackageKind::Deb,
            &distro("debian", Some("12"), Some("bookworm")),
        )
        .unwrap();
        assert!(f.accepts(Some("bookworm")));
        assert!(f.accepts(Some("12")));
        assert!(!f.accepts(Some("bullseye")));
        assert!(!f.accepts(Some("11")));
        // No VERSION_ID (testing): the codename finds the number.
        let (_, f) = os_target(PackageKind::Deb, &distro("debian", None, Some("trixie"))).unwrap();
        assert!(f.accepts(Some("13")));
        // No codename: the number finds it.
        let (_, f) = os_target(PackageKind::Deb, &distro("debian", Some("11"), None)).unwrap();
        assert!(f.accepts(Some("bullseye")));
        assert!(
            os_target(
                PackageKind::Deb,
                &distro("ubuntu", Some("22.04"), Some("jammy"))
            )
            .is_none()
        );
        assert!(os_target(PackageKind::Apk, &distro("debian", Some("12"), None)).is_none());
    }
}
