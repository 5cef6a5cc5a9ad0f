//! rpm versions, as rpm 4.18's `rpmverParse` splits them and `rpmverCmp` orders them.
//!
//! The segment comparison (`rpmvercmp`, with `~` and `^`) comes from the `rpm-version` crate,
//! whose algorithm is rpm's. Its own EVR parsing is not: it splits the release at the *first*
//! `-` where rpm splits at the last, takes anything before a `:` as the epoch where rpm takes
//! only digits, and compares a missing release as an empty one, where rpm's `rpmverCmp` (what
//! `rpm.vercmp` and `rpmdev-vercmp` use) sorts a missing release below every release, even an
//! empty one (`1.0 < 1.0-`). So the splitting and the
//! epoch/release rules are done here, and `rpm_version` only compares the parts.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evr {
    /// `None` when the string has no `N:` prefix (compared as `0`).
    epoch: Option<String>,
    version: String,
    /// `None` when the string has no `-`.
    release: Option<String>,
}

impl Evr {
    /// Splits like rpm's `parseEVR`: the epoch is the leading digits when a `:` follows them,
    /// the release is what follows the last `-` after the epoch.
    pub(crate) fn parse(input: &str) -> Result<Evr, String> {
        if input.is_empty() {
            return Err("version string is empty".into());
        }
        if input.contains('\0') {
            return Err("contains a NUL byte".into());
        }
        let digits = input.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = if input.as_bytes().get(digits) == Some(&b':') {
            let e = &input[..digits];
            (
                Some(if e.is_empty() { "0" } else { e }.to_string()),
                &input[digits + 1..],
            )
        } else {
            (None, input)
        };
        // rpm searches for the release separator from the end of the epoch digits, which is
        // the start of `rest` when there is an epoch and otherwise may be inside the version.
        let search_from = if epoch.is_some() { 0 } else { digits };
        let (version, release) = match rest[search_from..].rfind('-') {
            Some(h) => (
                rest[..search_from + h].to_string(),
                Some(rest[search_from + h + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        Ok(Evr {
            epoch,
            version,
            release,
        })
    }

    /// `rpmverCmp`: epochs (missing = `0`), versions, then releases, where a missing release
    /// sorts below any release, even an empty one (`compare_values` in rpm's `rpmver.c`).
    pub(crate) fn compare(&self, other: &Evr) -> Ordering {
        fn ev(e: &Evr) -> rpm_version::Evr<'_> {
            rpm_version::Evr::new(e.epoch.as_deref().unwrap_or("0"), e.version.as_str(), "")
        }
        ev(self)
            .cmp(&ev(other))
            .then_with(|| match (&self.release, &other.release) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(a), Some(b)) => rpmvercmp(a, b),
            })
    }
}

/// rpm's `rpmvercmp` on one string, through `rpm_version` (whose EVR comparison applies it to
/// each part in turn).
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    rpm_version::Evr::new("0", a, "").cmp(&rpm_version::Evr::new("0", b, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_splits_like_rpm() {
        let e = Evr::parse("2:1.0-rc1-3.el9").unwrap();
        assert_eq!(e.epoch.as_deref(), Some("2"));
        assert_eq!(e.version, "1.0-rc1");
        assert_eq!(e.release.as_deref(), Some("3.el9"));
        let e = Evr::parse("a:1.0").unwrap();
        assert_eq!(e.epoch, None);
        assert_eq!(e.version, "a:1.0");
        let e = Evr::parse(":1.0-1").unwrap();
        assert_eq!(e.epoch.as_deref(), Some("0"));
        assert!(Evr::parse("").is_err());
    }

    #[test]
    fn a_missing_release_sorts_below_any_release() {
        let a = Evr::parse("1.0").unwrap();
        assert_eq!(a.compare(&Evr::parse("1.0-3").unwrap()), Ordering::Less);
        assert_eq!(a.compare(&Evr::parse("1.0-").unwrap()), Ordering::Less);
        assert_eq!(a.compare(&Evr::parse("0:1.0").unwrap()), Ordering::Equal);
    }
}
