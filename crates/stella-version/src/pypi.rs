//! Python versions (PEP 440) and specifier sets, as pypa `packaging` 26 orders and matches them.
//!
//! PEP 440 versions are parsed and ordered by `pep440_rs` (uv's implementation, which follows
//! `packaging`'s `_cmpkey`). Strings that are not PEP 440 versions are ordered the way osv.dev
//! orders PyPI versions (`packaging_legacy.version.parse`): as `LegacyVersion`s, below every valid
//! version, by setuptools' old key. Specifier matching is written here from `packaging`'s rules
//! rather than taken from `pep440_rs`, whose `VersionSpecifier::contains` follows uv's resolver
//! (it truncates `==1.0.1.*` to the candidate's length, so `1.0` matches it), and packaging 26
//! redefined the operators as intervals on the version order (`>1.0a1` now admits `1.0.post1`,
//! `<V` is `< V.dev0`); the intervals of its `_ranges.bounds_for_spec` are what is tested here.

use pep440_rs::Version;
use regex::Regex;
use std::cmp::Ordering;
use std::str::FromStr;
use std::sync::LazyLock;

/// A PyPI version: PEP 440, or a legacy string ordered below every PEP 440 version.
#[derive(Debug, Clone)]
pub(crate) enum AnyVersion {
    Legacy(Vec<String>),
    Pep440(Version),
}

impl AnyVersion {
    pub(crate) fn parse(s: &str) -> Result<AnyVersion, String> {
        if s.trim().is_empty() {
            return Err("version string is empty".into());
        }
        match parse_pep440(s) {
            Ok(v) => Ok(AnyVersion::Pep440(v)),
            Err(PepError::TooLarge) => Err(TOO_LARGE.into()),
            Err(PepError::Invalid) => Ok(AnyVersion::Legacy(legacy_key(s))),
        }
    }
}

impl PartialEq for AnyVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for AnyVersion {}

impl PartialOrd for AnyVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AnyVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (AnyVersion::Legacy(a), AnyVersion::Legacy(b)) => a.cmp(b),
            (AnyVersion::Legacy(_), AnyVersion::Pep440(_)) => Ordering::Less,
            (AnyVersion::Pep440(_), AnyVersion::Legacy(_)) => Ordering::Greater,
            (AnyVersion::Pep440(a), AnyVersion::Pep440(b)) => a.cmp(b),
        }
    }
}

const TOO_LARGE: &str =
    "a number in this version is too large to compare exactly (more than 19 digits)";

enum PepError {
    Invalid,
    TooLarge,
}

/// `packaging.version.Version(s)`: surrounding whitespace is allowed.
fn parse_pep440(s: &str) -> Result<Version, PepError> {
    let t = s.trim();
    match Version::from_str(t) {
        Ok(v) => Ok(v),
        // Python's integers have no limit, pep440_rs's are u64: a version packaging accepts
        // would otherwise silently become a legacy version.
        Err(_) if has_long_number(t) => Err(PepError::TooLarge),
        Err(_) => Err(PepError::Invalid),
    }
}

fn has_long_number(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.trim_start_matches('0').len() > 19)
}

/// `packaging_legacy`'s `_legacy_cmpkey`, without the `-1` epoch (the enum order does that).
fn legacy_key(version: &str) -> Vec<String> {
    static COMPONENT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\d+|[a-z]+|\.|-)").expect("legacy regex"));
    let lower = version.to_lowercase();
    // re.split with a capturing group yields the text between matches and the matches.
    let mut pieces = Vec::new();
    let mut last = 0;
    for m in COMPONENT.find_iter(&lower) {
        pieces.push(&lower[last..m.start()]);
        pieces.push(m.as_str());
        last = m.end();
    }
    pieces.push(&lower[last..]);

    let mut parts: Vec<String> = Vec::new();
    let push = |part: String, parts: &mut Vec<String>| {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    };
    for piece in pieces {
        let piece = match piece {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        };
        if piece.is_empty() || piece == "." {
            continue;
        }
        let part = if piece.starts_with(|c: char| c.is_ascii_digit()) {
            // str.zfill(8)
            format!("{piece:0>8}")
        } else {
            format!("*{piece}")
        };
        push(part, &mut parts);
    }
    push("*final".to_string(), &mut parts);
    parts
}

pub(crate) enum SpecError {
    Version(String),
    Range(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpecOp {
    Compatible,
    Equal,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Less,
    Greater,
    Arbitrary,
}

struct Specifier {
    op: SpecOp,
    /// The version, for every operator but `===`.
    version: Option<Version>,
    /// `==1.2.*` / `!=1.2.*`.
    wildcard: bool,
    /// The text after the operator (what `===` compares).
    text: String,
}

static SPEC: LazyLock<Regex> = LazyLock::new(|| {
    let release_tail = r"(?:[-_\.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_\.]?[0-9]*)?(?:(?:-[0-9]+)|(?:[-_\.]?(?:post|rev|r)[-_\.]?[0-9]*))?(?:[-_\.]?dev[-_\.]?[0-9]*)?";
    let local = r"(?:\+[a-z0-9]+(?:[-_\.][a-z0-9]+)*)?";
    let src = format!(
        r"(?i)^\s*(?:(?P<arb>===)\s*(?P<arbv>[^\s;)]+)|(?P<eq>==|!=)\s*(?P<eqv>v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:\.\*|{release_tail}{local}))|(?P<ce>~=)\s*(?P<cev>v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+{release_tail})|(?P<cmp><=|>=|<|>)\s*(?P<cmpv>v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*{release_tail}))\s*$"
    );
    Regex::new(&src).expect("specifier regex")
});

fn parse_specifier(s: &str) -> Result<Specifier, String> {
    let c = SPEC
        .captures(s)
        .ok_or_else(|| format!("invalid specifier {s:?}"))?;
    let (op, text) = if let Some(v) = c.name("arbv") {
        (SpecOp::Arbitrary, v.as_str())
    } else if let Some(v) = c.name("eqv") {
        let op = if &c["eq"] == "==" {
            SpecOp::Equal
        } else {
            SpecOp::NotEqual
        };
        (op, v.as_str())
    } else if let Some(v) = c.name("cev") {
        (SpecOp::Compatible, v.as_str())
    } else {
        let op = match &c["cmp"] {
            "<=" => SpecOp::LessEqual,
            ">=" => SpecOp::GreaterEqual,
            "<" => SpecOp::Less,
            _ => SpecOp::Greater,
        };
        (op, c.name("cmpv").map_or("", |m| m.as_str()))
    };
    if op == SpecOp::Arbitrary {
        return Ok(Specifier {
            op,
            version: None,
            wildcard: false,
            text: text.to_string(),
        });
    }
    let (body, wildcard) = match text.strip_suffix(".*") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let version = match parse_pep440(body) {
        Ok(v) => v,
        Err(PepError::TooLarge) => return Err(format!("specifier {s:?}: {TOO_LARGE}")),
        Err(PepError::Invalid) => return Err(format!("invalid specifier {s:?}")),
    };
    Ok(Specifier {
        op,
        version: Some(version),
        wildcard,
        text: text.to_string(),
    })
}

fn is_prerelease(v: &Version) -> bool {
    v.pre().is_some() || v.dev().is_some()
}

fn public(v: &Version) -> Version {
    v.clone().without_local()
}

/// `_base_dev0`: `1.2` -> `1.2.dev0`.
fn base_dev0(v: &Version) -> Version {
    v.only_release().with_epoch(v.epoch()).with_dev(Some(0))
}

/// `_next_prefix_dev0`: `1.2` -> `1.3.dev0`.
fn next_prefix_dev0(epoch: u64, release: &[u64]) -> Version {
    let mut r = release.to_vec();
    if let Some(last) = r.last_mut() {
        *last = last.saturating_add(1);
    }
    Version::new(r).with_epoch(epoch).with_dev(Some(0))
}

/// Epoch and release with trailing zeros trimmed (the first two items of packaging's key).
fn family(v: &Version) -> (u64, Vec<u64>) {
    let r = v.release();
    let end = r.iter().rposition(|&n| n != 0).map_or(0, |p| p + 1);
    (v.epoch(), r[..end].to_vec())
}

impl Specifier {
    /// packaging 26's `bounds_for_spec` intervals, tested for membership.
    fn contains(&self, raw: &str, candidate: Option<&Version>) -> bool {
        if self.op == SpecOp::Arbitrary {
            return raw.to_lowercase() == self.text.to_lowercase();
        }
        let (Some(v), Some(spec)) = (candidate, self.version.as_ref()) else {
            return false;
        };
        if self.wildcard {
            let inside =
                *v >= base_dev0(spec) && *v < next_prefix_dev0(spec.epoch(), spec.release());
            return if self.op == SpecOp::Equal {
                inside
            } else {
                !inside
            };
        }
        match self.op {
            SpecOp::GreaterEqual => v >= spec,
            // Up to and including every local version of V.
            SpecOp::LessEqual => public(v) <= *spec,
            SpecOp::Greater => {
                if let Some(dev) = spec.dev() {
                    // >V.devN: the next real version is V.dev(N+1).
                    *v >= spec
                        .clone()
                        .without_local()
                        .with_dev(Some(dev.saturating_add(1)))
                } else if let Some(post) = spec.post() {
                    // >V.postN: the next real version is V.post(N+1).dev0.
                    *v >= spec
                        .clone()
                        .without_local()
                        .with_post(Some(post.saturating_add(1)))
                        .with_dev(Some(0))
                } else {
                    // >V excludes V, V+local and every V.postN.
                    v > spec && !(family(v) == family(spec) && v.pre() == spec.pre())
                }
            }
            SpecOp::Less => {
                // <V excludes V's pre-releases unless V is one: the bound is V.dev0.
                let bound = if is_prerelease(spec) {
                    spec.clone()
                } else {
                    spec.clone().without_local().with_dev(Some(0))
                };
                *v < bound
            }
            SpecOp::Compatible => {
                let release = spec.release();
                v >= spec && *v < next_prefix_dev0(spec.epoch(), &release[..release.len() - 1])
            }
            SpecOp::Equal | SpecOp::NotEqual => {
                // ==V includes every local version of V unless V names one.
                let equal = if self.text.contains('+') {
                    v == spec
                } else {
                    public(v) == *spec
                };
                equal == (self.op == SpecOp::Equal)
            }
            SpecOp::Arbitrary => unreachable!("handled above"),
        }
    }
}

/// `SpecifierSet(range).contains(version)` with packaging 26's defaults: pre-releases match
/// (a single version has no alternatives, PEP 440's rule for that case).
pub(crate) fn satisfies(version: &str, range: &str) -> Result<bool, SpecError> {
    let specs = range
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_specifier)
        .collect::<Result<Vec<_>, _>>()
        .map_err(SpecError::Range)?;
    if version.trim().is_empty() {
        return Err(SpecError::Version("version string is empty".into()));
    }
    let parsed = match parse_pep440(version) {
        Ok(v) => Some(v),
        Err(PepError::TooLarge) => return Err(SpecError::Version(TOO_LARGE.into())),
        Err(PepError::Invalid) => None,
    };
    if parsed.is_none() && specs.iter().any(|s| s.op != SpecOp::Arbitrary) {
        // packaging answers False here; an error says why instead of a silent no.
        return Err(SpecError::Version(
            "not a PEP 440 version; only `===` specifiers can match it".into(),
        ));
    }
    Ok(specs.iter().all(|s| s.contains(version, parsed.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Vec<String> {
        legacy_key(s)
    }

    #[test]
    fn legacy_keys_follow_setuptools_old_rules() {
        assert_eq!(key("1.0"), key("1"));
        assert_eq!(
            key("1.0-rc1")[..2],
            ["00000001".to_string(), "*c".to_string()][..]
        );
        assert!(key("1.0-dev") < key("1.0"));
        assert!(key("foo") < key("foo1"));
    }

    #[test]
    fn legacy_versions_sort_below_every_pep440_version() {
        let legacy = AnyVersion::parse("1.0-foo-bar").unwrap();
        let valid = AnyVersion::parse("0.0.dev0").unwrap();
        assert!(matches!(legacy, AnyVersion::Legacy(_)));
        assert!(legacy < valid);
    }

    #[test]
    fn huge_numbers_are_refused_rather_than_misordered() {
        assert!(AnyVersion::parse("1.123456789012345678901").is_err());
    }
}
