//! Ecosystem families and package-name normalization: the two halves of the index key.
//!
//! OSV writes ecosystems as `Family[:release]` (`PyPI`, `Debian:12`, `Alpine:v3.20`,
//! `AlmaLinux:8`, `Maven:https://maven.google.com/`). The family decides which installed
//! packages an affected entry can speak of and how versions order; the release (for
//! distributions) decides which distro release it speaks of.

use std::borrow::Cow;

use stella_model::PackageKind;
use stella_version::Ecosystem;

/// The ecosystems the matcher indexes. Anything else is ignored silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Family {
    PyPI,
    Npm,
    Maven,
    Go,
    CratesIo,
    RubyGems,
    Packagist,
    NuGet,
    Debian,
    Alpine,
    Wolfi,
    Chainguard,
    AlmaLinux,
    RockyLinux,
}

impl Family {
    /// The family of an OSV ecosystem string and its release part (`Debian:12` → `12`).
    /// Language ecosystems have no release; a suffix there (Maven's repository URL) is
    /// dropped.
    pub(crate) fn parse(ecosystem: &str) -> Option<(Family, Option<&str>)> {
        let (prefix, rest) = match ecosystem.split_once(':') {
            Some((p, r)) => (p, Some(r.trim()).filter(|r| !r.is_empty())),
            None => (ecosystem, None),
        };
        let family = match prefix.trim().to_ascii_lowercase().as_str() {
            "pypi" => Family::PyPI,
            "npm" => Family::Npm,
            "maven" => Family::Maven,
            "go" => Family::Go,
            "crates.io" => Family::CratesIo,
            "rubygems" => Family::RubyGems,
            "packagist" => Family::Packagist,
            "nuget" => Family::NuGet,
            "debian" => Family::Debian,
            "alpine" => Family::Alpine,
            // Wolfi's secdb has no `distroversion`, and Concelier's secdb parser names the
            // ecosystem after its `reponame`, which for Wolfi is `os`.
            "wolfi" | "os" => Family::Wolfi,
            "chainguard" => Family::Chainguard,
            "almalinux" => Family::AlmaLinux,
            "rocky linux" => Family::RockyLinux,
            _ => return None,
        };
        let release = if family.is_distro() { rest } else { None };
        Some((family, release))
    }

    /// The family a language package belongs to; `None` for OS packages (their family
    /// depends on the distro) and binaries.
    pub(crate) fn of_language(kind: PackageKind) -> Option<Family> {
        Some(match kind {
            PackageKind::Npm => Family::Npm,
            PackageKind::Python => Family::PyPI,
            PackageKind::Maven => Family::Maven,
            PackageKind::Go => Family::Go,
            PackageKind::Cargo => Family::CratesIo,
            PackageKind::Gem => Family::RubyGems,
            PackageKind::Composer => Family::Packagist,
            PackageKind::Nuget => Family::NuGet,
            PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm | PackageKind::Binary => {
                return None;
            }
        })
    }

    pub(crate) fn is_distro(self) -> bool {
        matches!(
            self,
            Family::Debian
                | Family::Alpine
                | Family::Wolfi
                | Family::Chainguard
                | Family::AlmaLinux
                | Family::RockyLinux
        )
    }

    /// The version ordering of the family.
    pub(crate) fn ordering(self) -> Ecosystem {
        match self {
            Family::PyPI => Ecosystem::PyPI,
            Family::Npm => Ecosystem::Npm,
            Family::Maven => Ecosystem::Maven,
            Family::Go => Ecosystem::Go,
            Family::CratesIo => Ecosystem::CratesIo,
            Family::RubyGems => Ecosystem::RubyGems,
            Family::Packagist => Ecosystem::Packagist,
            Family::NuGet => Ecosystem::NuGet,
            Family::Debian => Ecosystem::Debian,
            Family::Alpine | Family::Wolfi | Family::Chainguard => Ecosystem::Alpine,
            Family::AlmaLinux | Family::RockyLinux => Ecosystem::Rpm,
        }
    }

    /// The name as the index stores it: PyPI names PEP 503-normalized, NuGet and Packagist
    /// lowercased (both registries are case-insensitive), every other name exact.
    pub(crate) fn normalize_name(self, name: &str) -> Cow<'_, str> {
        match self {
            Family::PyPI => Cow::Owned(pep503(name)),
            Family::NuGet | Family::Packagist => {
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(name.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(name)
                }
            }
            _ => Cow::Borrowed(name.trim()),
        }
    }
}

/// PEP 503 normalization: lowercase, runs of `-`, `_` and `.` become one `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The family and the name of a language package from its package URL, for affected entries
/// that carry only a purl (CSAF product trees). `None` for OS purls and unknown types.
pub(crate) fn from_purl(purl: &str) -> Option<(Family, String)> {
    let rest = purl.strip_prefix("pkg:")?.trim_start_matches('/');
    let rest = rest.split(['#', '?']).next()?;
    let rest = match rest.rfind('@') {
        // A scoped npm name starts with an encoded `%40`, never a raw `@`, so the last `@`
        // introduces the version.
        Some(at) => &rest[..at],
        None => rest,
    };
    let (ty, path) = rest.split_once('/')?;
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let (name, namespace) = segments.split_last()?;
    let joined = |sep: &str| {
        if namespace.is_empty() {
            name.clone()
        } else {
            format!("{}{sep}{name}", namespace.join("/"))
        }
    };
    let family = match ty.to_ascii_lowercase().as_str() {
        "pypi" => Family::PyPI,
        "npm" => Family::Npm,
        "maven" => Family::Maven,
        "golang" => Family::Go,
        "cargo" => Family::CratesIo,
        "gem" => Family::RubyGems,
        "composer" => Family::Packagist,
        "nuget" => Family::NuGet,
        _ => return None,
    };
    let name = match family {
        Family::Maven => joined(":"),
        Family::Npm | Family::Go | Family::Packagist => joined("/"),
        _ => name.clone(),
    };
    Some((family, name))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_folds_case_and_separator_runs() {
        for (raw, norm) in [
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("Foo__Bar-.baz", "foo-bar-baz"),
            ("ruamel.yaml.clib", "ruamel-yaml-clib"),
        ] {
            assert_eq!(pep503(raw), norm, "{raw}");
        }
    }

    #[test]
    fn ecosystems_split_into_family_and_release() {
        assert_eq!(Family::parse("PyPI"), Some((Family::PyPI, None)));
        assert_eq!(
            Family::parse("Debian:12"),
            Some((Family::Debian, Some("12")))
        );
        assert_eq!(
            Family::parse("Alpine:v3.20"),
            Some((Family::Alpine, Some("v3.20")))
        );
        assert_eq!(
            Family::parse("Maven:https://maven.google.com/"),
            Some((Family::Maven, None))
        );
        assert_eq!(Family::parse("Hackage"), None);
        assert_eq!(Family::parse("Ubuntu:22.04:LTS"), None);
    }

    #[test]
    fn purls_name_language_packages_as_osv_does() {
        assert_eq!(
            from_purl("pkg:npm/%40babel/traverse@7.1.0"),
            Some((Family::Npm, "@babel/traverse".into()))
        );
        assert_eq!(
            from_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"),
            Some((Family::Maven, "org.apache.logging.log4j:log4j-core".into()))
        );
        assert_eq!(
            from_purl("pkg:golang/golang.org/x/net"),
            Some((Family::Go, "golang.org/x/net".into()))
        );
        assert_eq!(
            from_purl("pkg:pypi/django@4.2"),
            Some((Family::PyPI, "django".into()))
        );
        assert_eq!(from_purl("pkg:rpm/redhat/openssl@1.1"), None);
        assert_eq!(from_purl("not a purl"), None);
    }
}
