//! NuGet versions and version ranges, as NuGet.Versioning (`NuGetVersion.TryParse`,
//! `VersionComparer.Default`, `VersionRange.Parse`) reads and orders them.
//!
//! Own code: no crate implements NuGet's rules, which differ from SemVer 2.0: up to four numeric
//! parts (`1.0.0.1`, with `1` meaning `1.0.0`), leading zeros allowed in them, pre-release labels
//! compared case-insensitively, and a label counts as numeric only when it fits an `Int32`.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub(crate) struct NuGetVersion {
    parts: [u32; 4],
    labels: Vec<String>,
}

/// `IsLetterOrDigitOrDash` over a label; `allow_leading_zeros` false refuses `01`.
fn valid_part(s: &str, allow_leading_zeros: bool) -> bool {
    if s.is_empty() {
        return false;
    }
    if !allow_leading_zeros
        && s.len() > 1
        && s.starts_with('0')
        && s.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl NuGetVersion {
    pub(crate) fn parse(input: &str) -> Result<NuGetVersion, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("version string is empty".into());
        }
        let (rest, metadata) = match s.find('+') {
            Some(p) => (&s[..p], Some(&s[p + 1..])),
            None => (s, None),
        };
        let (numbers, labels) = match rest.find('-') {
            Some(p) => (&rest[..p], Some(&rest[p + 1..])),
            None => (rest, None),
        };
        let nums: Vec<&str> = numbers.split('.').collect();
        if nums.len() > 4 {
            return Err("more than four numeric parts".into());
        }
        let mut parts = [0u32; 4];
        for (i, n) in nums.iter().enumerate() {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("numeric part {n:?} is not a number"));
            }
            // System.Version parts are Int32.
            parts[i] = n
                .parse::<i32>()
                .map_err(|_| format!("numeric part {n} does not fit in an Int32"))?
                as u32;
        }
        let labels = match labels {
            None => Vec::new(),
            Some(l) => {
                let labels: Vec<String> = l.split('.').map(str::to_string).collect();
                if !labels.iter().all(|l| valid_part(l, false)) {
                    return Err(format!("invalid pre-release label {l:?}"));
                }
                labels
            }
        };
        if let Some(m) = metadata
            && !m.split('.').all(|p| valid_part(p, true))
        {
            return Err(format!("invalid build metadata {m:?}"));
        }
        Ok(NuGetVersion { parts, labels })
    }

    /// `VersionComparer.Default`: numbers, then release above pre-release, then labels.
    pub(crate) fn compare(&self, o: &NuGetVersion) -> Ordering {
        self.parts
            .cmp(&o.parts)
            .then_with(|| match (self.labels.is_empty(), o.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_labels(&self.labels, &o.labels),
            })
    }
}

fn compare_labels(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let r = compare_label(x, y);
        if r != Ordering::Equal {
            return r;
        }
    }
    a.len().cmp(&b.len())
}

/// `CompareRelease`: numeric when `Int32.TryParse` succeeds (so `-5` is numeric and
/// `99999999999` is not), numbers before text, text compared `OrdinalIgnoreCase`.
fn compare_label(a: &str, b: &str) -> Ordering {
    match (a.parse::<i32>(), b.parse::<i32>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

/// A NuGet `VersionRange`.
pub(crate) struct VersionRange {
    min: Option<(NuGetVersion, bool)>,
    max: Option<(NuGetVersion, bool)>,
}

impl VersionRange {
    pub(crate) fn parse(input: &str) -> Result<VersionRange, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty range".into());
        }
        let version = |t: &str| NuGetVersion::parse(t).map_err(|e| format!("{t:?}: {e}"));
        if !s.starts_with('[') && !s.starts_with('(') {
            // A bare version is a minimum; `1.*` a floating minimum.
            return Ok(VersionRange {
                min: Some((floating_min(s).map_or_else(|| version(s), Ok)?, true)),
                max: None,
            });
        }
        let lower_inclusive = s.starts_with('[');
        let upper_inclusive = match s.chars().last() {
            Some(']') => true,
            Some(')') => false,
            _ => return Err("interval must end with `]` or `)`".into()),
        };
        let inner = s[1..s.len() - 1].trim();
        let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        let (min, max) = match parts.as_slice() {
            [single] => {
                if !lower_inclusive || !upper_inclusive {
                    return Err("a single version must be written [1.0]".into());
                }
                if single.is_empty() {
                    return Err("empty interval".into());
                }
                let v = version(single)?;
                (Some((v.clone(), true)), Some((v, true)))
            }
            [lo, hi] => {
                if lo.is_empty() && hi.is_empty() {
                    return Err("an interval needs at least one bound".into());
                }
                let lo = (!lo.is_empty())
                    .then(|| version(lo))
                    .transpose()?
                    .map(|v| (v, lower_inclusive));
                let hi = (!hi.is_empty())
                    .then(|| version(hi))
                    .transpose()?
                    .map(|v| (v, upper_inclusive));
                if let (Some((l, li)), Some((h, hi_inc))) = (&lo, &hi) {
                    let ord = l.compare(h);
                    if ord == Ordering::Greater || (ord == Ordering::Equal && !(*li && *hi_inc)) {
                        return Err("the lower bound is above the upper bound".into());
                    }
                }
                (lo, hi)
            }
            _ => return Err("an interval has at most two bounds".into()),
        };
        Ok(VersionRange { min, max })
    }

    /// `VersionRange.Satisfies` with `VersionComparer.Default`.
    pub(crate) fn satisfies(&self, v: &NuGetVersion) -> bool {
        if let Some((min, inclusive)) = &self.min {
            match v.compare(min) {
                Ordering::Less => return false,
                Ordering::Equal if !inclusive => return false,
                _ => {}
            }
        }
        if let Some((max, inclusive)) = &self.max {
            match v.compare(max) {
                Ordering::Greater => return false,
                Ordering::Equal if !inclusive => return false,
                _ => {}
            }
        }
        true
    }
}

/// The minimum of a numeric floating range (`*`, `1.*`, `1.2.*`, `1.2.3.*`): the stated parts,
/// zeros after them. NuGet floats pre-release labels too (`1.0.0-beta*`); those are refused.
fn floating_min(s: &str) -> Option<NuGetVersion> {
    let stem = if s == "*" { "" } else { s.strip_suffix(".*")? };
    if stem.contains(['-', '+', '*']) {
        return None;
    }
    if stem.is_empty() {
        return NuGetVersion::parse("0.0.0").ok();
    }
    NuGetVersion::parse(stem).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        NuGetVersion::parse(a)
            .unwrap()
            .compare(&NuGetVersion::parse(b).unwrap())
    }

    #[test]
    fn nuget_orderings() {
        assert_eq!(c("1.0.0-Beta", "1.0.0-beta"), Ordering::Equal);
        assert_eq!(c("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(c("1.0.0.1", "1.0.0"), Ordering::Greater);
        assert_eq!(c("1.0.0-alpha.2", "1.0.0-alpha.10"), Ordering::Less);
        assert_eq!(c("1.0.0-1", "1.0.0-a"), Ordering::Less);
        assert_eq!(c("1.0.0+build", "1.0.0"), Ordering::Equal);
        assert_eq!(c("01.0", "1.0"), Ordering::Equal);
        for bad in [
            "",
            "1.0.0.0.0",
            "1.0.0-01",
            "1.0.0-",
            "a.b",
            "1.0.0-a..b",
            "3000000000.0",
        ] {
            assert!(NuGetVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nuget_ranges() {
        let v = |s| NuGetVersion::parse(s).unwrap();
        let r = VersionRange::parse("[1.0,2.0)").unwrap();
        assert!(r.satisfies(&v("1.0")) && r.satisfies(&v("1.9")) && !r.satisfies(&v("2.0")));
        assert!(VersionRange::parse("1.0").unwrap().satisfies(&v("5.0")));
        assert!(
            !VersionRange::parse("(,1.0]")
                .unwrap()
                .satisfies(&v("1.0.1"))
        );
        assert!(VersionRange::parse("[1.0]").unwrap().satisfies(&v("1.0.0")));
        assert!(VersionRange::parse("1.*").unwrap().satisfies(&v("1.5")));
        for bad in [
            "[1.0",
            "(1.0)",
            "[2.0,1.0]",
            "(1.0,1.0)",
            "[,]",
            "1.0-beta*",
        ] {
            assert!(VersionRange::parse(bad).is_err(), "{bad}");
        }
    }
}
