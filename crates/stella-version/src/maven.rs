//! Maven versions and version ranges, as maven-artifact 3.8's `ComparableVersion` and
//! `VersionRange` parse, order and test them.
//!
//! Own code: no crate implements `ComparableVersion`. This is a transcription of Maven 3.8.7's
//! (the version Debian ships, so the tests can cross-check it): items are numbers, qualifiers
//! and nested lists; `-` opens a sub-list, a digit/letter transition is a separator, trailing
//! "null" items (`0`, `ga`, `final`, `release`, empty) are dropped, and qualifiers order as
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`, unknown
//! ones after those, lexically; a `.X` qualifier reads as `-X`. Maven 3.9 added a
//! "combination item" that changes the order of the rare `1.0.X1` versus `1.0-X2` forms in the
//! middle of a version; that is not followed here.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Numbers of any size, without leading zeros (Maven's Int, Long and BigInteger items order
    /// the same way as numbers do).
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_INDEX: &str = "5";

fn alias(q: &str) -> &str {
    match q {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    }
}

/// `StringItem.comparableQualifier`: known qualifiers by index, unknown ones after all of them.
fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

/// Java's `String.compareTo`: UTF-16 code units.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n == "0",
            Item::Str(s) => comparable_qualifier(s) == RELEASE_INDEX,
            Item::List(l) => l.is_empty(),
        }
    }

    /// `Item.compareTo(item)`; `None` is Java's `null` (a missing item).
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(n), None) => {
                if n == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => cmp_num(a, b),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(s), None) => java_cmp(&comparable_qualifier(s), RELEASE_INDEX),
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => {
                java_cmp(&comparable_qualifier(a), &comparable_qualifier(b))
            }
            (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
            (Item::List(l), None) => {
                for i in l {
                    let r = i.compare(None);
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => {
                let n = a.len().max(b.len());
                for i in 0..n {
                    let r = match (a.get(i), b.get(i)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(r)) => r.compare(None).reverse(),
                        (Some(l), r) => l.compare(r),
                    };
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        let stripped = buf.trim_start_matches('0');
        Item::Int(if stripped.is_empty() { "0" } else { stripped }.to_string())
    } else {
        Item::Str(alias(buf).to_string())
    }
}

/// `new StringItem(value, followedByDigit = true)`.
fn string_item_before_digit(value: &str) -> Item {
    let v = match value {
        "a" => "alpha",
        "b" => "beta",
        "m" => "milestone",
        other => other,
    };
    Item::Str(alias(v).to_string())
}

/// `ListItem.normalize`: drop trailing null items, stopping at the first non-null non-list.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// A Maven version, parsed into `ComparableVersion`'s item tree.
#[derive(Debug, Clone)]
pub(crate) struct ComparableVersion {
    items: Item,
}

/// Builder for the nested lists: Maven keeps a stack of open lists; each new list is appended
/// to the current one and becomes current.
struct Builder {
    /// Path of open lists; `stack[0]` is the root.
    stack: Vec<Vec<Item>>,
}

impl Builder {
    fn current(&mut self) -> &mut Vec<Item> {
        self.stack.last_mut().expect("root list")
    }

    fn open_list(&mut self) {
        self.stack.push(Vec::new());
    }

    /// Closes every list from the innermost outwards, normalizing each, as Maven does when it
    /// pops its stack at the end.
    fn finish(mut self) -> Item {
        while self.stack.len() > 1 {
            let mut inner = self.stack.pop().expect("inner list");
            normalize(&mut inner);
            self.current().push(Item::List(inner));
        }
        let mut root = self.stack.pop().expect("root list");
        normalize(&mut root);
        Item::List(root)
    }
}

impl ComparableVersion {
    pub(crate) fn parse(version: &str) -> Result<ComparableVersion, String> {
        if version.is_empty() {
            return Err("version string is empty".into());
        }
        if version
            .chars()
            .any(|c| !c.is_ascii() && c.is_numeric() && c.to_digit(10).is_none())
        {
            // Java's Character.isDigit/Integer.parseInt accept non-ASCII decimal digits with
            // their numeric value; rather than half-imitate that, refuse them.
            return Err("contains non-ASCII digits".into());
        }
        let lower = version.to_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        let mut b = Builder {
            stack: vec![Vec::new()],
        };
        let mut is_digit = false;
        let mut start = 0usize;
        let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
        for (i, &c) in chars.iter().enumerate() {
            if c == '.' {
                let item = if i == start {
                    Item::Int("0".into())
                } else {
                    parse_item(is_digit, &text(start, i))
                };
                b.current().push(item);
                start = i + 1;
            } else if c == '-' {
                let item = if i == start {
                    Item::Int("0".into())
                } else {
                    parse_item(is_digit, &text(start, i))
                };
                b.current().push(item);
                start = i + 1;
                b.open_list();
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // Likewise a `.X` qualifier before a number: `1.0.0.a1` is `1-a-1`.
                    if !b.current().is_empty() {
                        b.open_list();
                    }
                    let item = string_item_before_digit(&text(start, i));
                    b.current().push(item);
                    start = i;
                    b.open_list();
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    let item = parse_item(true, &text(start, i));
                    b.current().push(item);
                    start = i;
                    b.open_list();
                }
                is_digit = false;
            }
        }
        if chars.len() > start {
            // 1.0.0.X1 < 1.0.0-X2: a trailing `.X` qualifier is read as `-X`.
            if !is_digit && !b.current().is_empty() {
                b.open_list();
            }
            let item = parse_item(is_digit, &text(start, chars.len()));
            b.current().push(item);
        }
        Ok(ComparableVersion { items: b.finish() })
    }

    pub(crate) fn compare(&self, other: &ComparableVersion) -> Ordering {
        self.items.compare(Some(&other.items))
    }
}

struct Restriction {
    lower: Option<(ComparableVersion, bool)>,
    upper: Option<(ComparableVersion, bool)>,
}

impl Restriction {
    fn contains(&self, v: &ComparableVersion) -> bool {
        if let Some((lower, inclusive)) = &self.lower {
            let c = lower.compare(v);
            if c == Ordering::Greater || (c == Ordering::Equal && !inclusive) {
                return false;
            }
        }
        if let Some((upper, inclusive)) = &self.upper {
            let c = upper.compare(v);
            if c == Ordering::Less || (c == Ordering::Equal && !inclusive) {
                return false;
            }
        }
        true
    }
}

/// `VersionRange.createFromVersionSpec`, restricted to fully qualified ranges.
pub(crate) struct VersionRange {
    restrictions: Vec<Restriction>,
}

fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

impl VersionRange {
    pub(crate) fn parse(spec: &str) -> Result<VersionRange, String> {
        let mut process = java_trim(spec);
        if process.is_empty() {
            return Err("empty range".into());
        }
        let mut restrictions: Vec<Restriction> = Vec::new();
        while process.starts_with('[') || process.starts_with('(') {
            let close_paren = process.find(')');
            let close_bracket = process.find(']');
            let index = match (close_paren, close_bracket) {
                (Some(p), Some(b)) => p.min(b),
                (Some(p), None) => p,
                (None, Some(b)) => b,
                (None, None) => return Err("unbounded range (no closing `]` or `)`)".into()),
            };
            let restriction = parse_restriction(&process[..=index])?;
            if let Some(previous) = restrictions.last() {
                let overlaps = match (&previous.upper, &restriction.lower) {
                    (Some((upper, _)), Some((lower, _))) => lower.compare(upper) == Ordering::Less,
                    (Some(_), None) => true,
                    // Maven only checks when the previous range had an upper bound.
                    (None, _) => false,
                };
                if overlaps {
                    return Err("ranges overlap".into());
                }
            }
            restrictions.push(restriction);
            process = java_trim(&process[index + 1..]);
            if let Some(rest) = process.strip_prefix(',') {
                process = java_trim(rest);
            }
        }
        if !process.is_empty() {
            if restrictions.is_empty() {
                return Err(
                    "a bare version is a Maven soft requirement, which every version satisfies; \
                     write [V] for exactly V or [V,) for V and later"
                        .into(),
                );
            }
            return Err("only fully-qualified sets are allowed in a multiple set".into());
        }
        Ok(VersionRange { restrictions })
    }

    pub(crate) fn contains(&self, v: &ComparableVersion) -> bool {
        self.restrictions.iter().any(|r| r.contains(v))
    }
}

fn parse_restriction(spec: &str) -> Result<Restriction, String> {
    let lower_inclusive = spec.starts_with('[');
    let upper_inclusive = spec.ends_with(']');
    let process = java_trim(&spec[1..spec.len() - 1]);
    let version = |s: &str| ComparableVersion::parse(s).map_err(|e| format!("{s:?}: {e}"));
    match process.find(',') {
        None => {
            if !lower_inclusive || !upper_inclusive {
                return Err(format!("single version must be surrounded by []: {spec}"));
            }
            let v = version(process)?;
            Ok(Restriction {
                lower: Some((v.clone(), true)),
                upper: Some((v, true)),
            })
        }
        Some(comma) => {
            let lower = java_trim(&process[..comma]);
            let upper = java_trim(&process[comma + 1..]);
            if lower == upper {
                return Err(format!("range cannot have identical boundaries: {spec}"));
            }
            let lower = if lower.is_empty() {
                None
            } else {
                Some(version(lower)?)
            };
            let upper = if upper.is_empty() {
                None
            } else {
                Some(version(upper)?)
            };
            if let (Some(l), Some(u)) = (&lower, &upper)
                && u.compare(l) == Ordering::Less
            {
                return Err(format!("range defies version ordering: {spec}"));
            }
            Ok(Restriction {
                lower: lower.map(|v| (v, lower_inclusive)),
                upper: upper.map(|v| (v, upper_inclusive)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        ComparableVersion::parse(a)
            .unwrap()
            .compare(&ComparableVersion::parse(b).unwrap())
    }

    #[test]
    fn maven_documented_orderings() {
        assert_eq!(c("1", "1.0"), Ordering::Equal);
        assert_eq!(c("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(c("1-ga", "1"), Ordering::Equal);
        assert_eq!(c("1.0-final", "1"), Ordering::Equal);
        assert_eq!(c("1.0-RC1", "1.0-cr1"), Ordering::Equal);
        assert_eq!(c("1.0-alpha", "1.0"), Ordering::Less);
        assert_eq!(c("1.0", "1.0-sp"), Ordering::Less);
        assert_eq!(c("1.0a1", "1.0-alpha-1"), Ordering::Equal);
        assert_eq!(c("1-snapshot", "1"), Ordering::Less);
        assert_eq!(c("1-xyz", "1-sp"), Ordering::Greater);
        assert_eq!(c("1.1", "1-sp"), Ordering::Greater);
        assert_eq!(c("1-1", "1.1"), Ordering::Less);
    }

    #[test]
    fn maven_ranges() {
        let r = VersionRange::parse("[1.0,2.0)").unwrap();
        let v = |s| ComparableVersion::parse(s).unwrap();
        assert!(r.contains(&v("1.0")));
        assert!(r.contains(&v("1.9.9")));
        assert!(!r.contains(&v("2.0")));
        assert!(r.contains(&v("2.0-alpha")));
        let r = VersionRange::parse("(,1.0],[1.2,)").unwrap();
        assert!(r.contains(&v("0.1")));
        assert!(!r.contains(&v("1.1")));
        assert!(r.contains(&v("1.2")));
        assert!(VersionRange::parse("[1.5]").unwrap().contains(&v("1.5.0")));
        for bad in [
            "1.0",
            "[1.0",
            "(1.0)",
            "[2.0,1.0]",
            "[1.0,1.0]",
            "[1.0,2.0],[1.5,3.0]",
        ] {
            assert!(VersionRange::parse(bad).is_err(), "{bad}");
        }
    }
}
