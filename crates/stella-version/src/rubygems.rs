//! RubyGems versions and requirements, as `Gem::Version` and `Gem::Requirement` (RubyGems 3.3)
//! parse, order and test them.
//!
//! Own code: no crate implements Gem::Version. A version is split into numeric and letter
//! segments (`-` reads as `.pre.`), trailing zeros are dropped from the release and from the
//! pre-release part, letters sort before numbers (so `1.0.a < 1.0`), letters compare bytewise.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Decimal digits without leading zeros ("0" for zero): Ruby integers have no size limit.
    Num(String),
    Str(String),
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Num(n) if n == "0")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GemVersion {
    /// `@version`: stripped, `-` replaced by `.pre.`.
    version: String,
    segments: Vec<Segment>,
}

/// Ruby's `\s` (ASCII whitespace) for `strip` and the version pattern.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// `Gem::Version::ANCHORED_VERSION_PATTERN` without the surrounding whitespace:
/// `[0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, or nothing.
fn is_correct(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let b = v.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if i == 0 {
        return false;
    }
    // (?>\.[0-9a-zA-Z]+)*
    while i < b.len() && b[i] == b'.' {
        let n = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if i == b.len() {
        return true;
    }
    if b[i] != b'-' {
        return false;
    }
    // -[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*
    i += 1;
    let is_part = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-';
    let n = b[i..].iter().take_while(|c| is_part(c)).count();
    if n == 0 {
        return false;
    }
    i += n;
    while i < b.len() && b[i] == b'.' {
        let n = b[i + 1..].iter().take_while(|c| is_part(c)).count();
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    i == b.len()
}

impl GemVersion {
    pub(crate) fn parse(input: &str) -> Result<GemVersion, String> {
        let stripped = input.trim_matches(is_ruby_space);
        if !is_correct(stripped) {
            return Err("malformed version number string".into());
        }
        // An empty (or blank) version is version 0.
        let version = if stripped.is_empty() {
            "0".to_string()
        } else {
            stripped.replace('-', ".pre.")
        };
        let mut segments = Vec::new();
        let b = version.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                let digits = version[i..i + n].trim_start_matches('0');
                segments.push(Segment::Num(
                    if digits.is_empty() { "0" } else { digits }.into(),
                ));
                i += n;
            } else if b[i].is_ascii_alphabetic() {
                let n = b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
                segments.push(Segment::Str(version[i..i + n].into()));
                i += n;
            } else {
                i += 1;
            }
        }
        Ok(GemVersion { version, segments })
    }

    fn from_segments(segments: Vec<Segment>) -> GemVersion {
        let text = segments
            .iter()
            .map(|s| match s {
                Segment::Num(n) => n.clone(),
                Segment::Str(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(".");
        GemVersion::parse(&text).expect("segments of a valid version form a valid version")
    }

    fn is_prerelease(&self) -> bool {
        self.version.bytes().any(|b| b.is_ascii_alphabetic())
    }

    /// Numeric segments before the first letter, and the rest, each without trailing zeros.
    fn canonical_segments(&self) -> Vec<Segment> {
        let split = self
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Str(_)))
            .unwrap_or(self.segments.len());
        let (numeric, rest) = self.segments.split_at(split);
        let trim = |s: &[Segment]| {
            let end = s.iter().rposition(|x| !x.is_zero()).map_or(0, |p| p + 1);
            s[..end].to_vec()
        };
        let mut out = trim(numeric);
        out.extend(trim(rest));
        out
    }

    /// `Gem::Version#<=>`.
    pub(crate) fn compare(&self, other: &GemVersion) -> Ordering {
        if self.version == other.version {
            return Ordering::Equal;
        }
        let l = self.canonical_segments();
        let r = other.canonical_segments();
        let zero = Segment::Num("0".into());
        for i in 0..l.len().max(r.len()) {
            let a = l.get(i).unwrap_or(&zero);
            let b = r.get(i).unwrap_or(&zero);
            if a == b {
                continue;
            }
            return match (a, b) {
                (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
                (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
                (Segment::Num(x), Segment::Num(y)) => cmp_num(x, y),
                (Segment::Str(x), Segment::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            };
        }
        Ordering::Equal
    }

    /// Segments before the first letter.
    fn numeric_prefix(&self) -> Vec<Segment> {
        self.segments
            .iter()
            .take_while(|s| matches!(s, Segment::Num(_)))
            .cloned()
            .collect()
    }

    /// `Gem::Version#release`: the version without its pre-release part.
    fn release(&self) -> GemVersion {
        if self.is_prerelease() {
            GemVersion::from_segments(self.numeric_prefix())
        } else {
            self.clone()
        }
    }

    /// `Gem::Version#bump`: drop the pre-release part and the last number, increment the new last.
    fn bump(&self) -> GemVersion {
        let mut segments = self.numeric_prefix();
        if segments.len() > 1 {
            segments.pop();
        }
        if let Some(Segment::Num(last)) = segments.last_mut() {
            *last = increment(last);
        }
        GemVersion::from_segments(segments)
    }
}

fn increment(n: &str) -> String {
    let mut digits: Vec<u8> = n.bytes().collect();
    let mut i = digits.len();
    loop {
        if i == 0 {
            digits.insert(0, b'1');
            break;
        }
        i -= 1;
        if digits[i] == b'9' {
            digits[i] = b'0';
        } else {
            digits[i] += 1;
            break;
        }
    }
    String::from_utf8(digits).expect("ascii digits")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReqOp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Pessimistic,
}

/// A `Gem::Requirement`: every requirement must hold.
pub(crate) struct Requirement {
    requirements: Vec<(ReqOp, GemVersion)>,
}

impl Requirement {
    /// Parses `"~> 1.2, >= 1.2.3"`: comma-separated `Gem::Requirement::PATTERN`s. An empty
    /// string is Ruby's default requirement, `>= 0`.
    pub(crate) fn parse(s: &str) -> Result<Requirement, String> {
        let mut requirements = Vec::new();
        if s.trim_matches(is_ruby_space).is_empty() {
            requirements.push((ReqOp::Ge, GemVersion::parse("0")?));
            return Ok(Requirement { requirements });
        }
        for part in s.split(',') {
            let p = part.trim_matches(is_ruby_space);
            let (op, rest) = [
                ("~>", ReqOp::Pessimistic),
                (">=", ReqOp::Ge),
                ("<=", ReqOp::Le),
                ("!=", ReqOp::Ne),
                ("=", ReqOp::Eq),
                (">", ReqOp::Gt),
                ("<", ReqOp::Lt),
            ]
            .iter()
            .find_map(|(t, op)| p.strip_prefix(t).map(|r| (*op, r)))
            .unwrap_or((ReqOp::Eq, p));
            let v = rest.trim_matches(is_ruby_space);
            if v.is_empty() || !is_correct(v) {
                return Err(format!("illformed requirement {:?}", part.trim()));
            }
            requirements.push((op, GemVersion::parse(v)?));
        }
        Ok(Requirement { requirements })
    }

    /// `Gem::Requirement#satisfied_by?`.
    pub(crate) fn satisfied_by(&self, v: &GemVersion) -> bool {
        self.requirements.iter().all(|(op, r)| {
            let c = v.compare(r);
            match op {
                ReqOp::Eq => c == Ordering::Equal,
                ReqOp::Ne => c != Ordering::Equal,
                ReqOp::Gt => c == Ordering::Greater,
                ReqOp::Lt => c == Ordering::Less,
                ReqOp::Ge => c != Ordering::Less,
                ReqOp::Le => c != Ordering::Greater,
                ReqOp::Pessimistic => {
                    c != Ordering::Less && v.release().compare(&r.bump()) == Ordering::Less
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        GemVersion::parse(a)
            .unwrap()
            .compare(&GemVersion::parse(b).unwrap())
    }

    #[test]
    fn gem_version_orderings() {
        assert_eq!(c("1.0.a", "1.0"), Ordering::Less);
        assert_eq!(c("1.0", "1"), Ordering::Equal);
        assert_eq!(c("1.0.0.a.0", "1.a"), Ordering::Equal);
        assert_eq!(c("1.0-rc1", "1.0.pre.rc1"), Ordering::Equal);
        assert_eq!(c("1.0.A", "1.0.a"), Ordering::Less);
        assert_eq!(c("", "0"), Ordering::Equal);
        assert!(GemVersion::parse("1..0").is_err());
        assert!(GemVersion::parse("junk").is_err());
    }

    #[test]
    fn pessimistic_operator_bumps_the_second_to_last_number() {
        let r = Requirement::parse("~> 1.2, >= 1.2.3").unwrap();
        let v = |s| GemVersion::parse(s).unwrap();
        assert!(r.satisfied_by(&v("1.2.3")));
        assert!(r.satisfied_by(&v("1.9")));
        assert!(!r.satisfied_by(&v("2.0")));
        assert!(!r.satisfied_by(&v("1.2.2")));
        assert!(!r.satisfied_by(&v("2.0.a")));
        let r = Requirement::parse("~> 1").unwrap();
        assert!(r.satisfied_by(&v("1.9")) && !r.satisfied_by(&v("2")));
    }
}
