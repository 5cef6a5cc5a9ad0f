//! npm versions and ranges, as node-semver 7 (`loose` and `includePrerelease` off) parses,
//! orders and tests them.
//!
//! Own code: the `semver` crate implements Cargo's requirement syntax, not npm's (`1.2.3 - 2.3.4`,
//! `||`, `x`-ranges, `~>`, npm's desugaring of `^0.0.x`). node-semver turns a range into plain
//! comparators by a chain of regular-expression rewrites; the same regular expressions (with
//! node-semver's length caps, JavaScript's `\s` and ASCII `\d`) and the same rewrites are applied
//! here, in the same order, so odd inputs land where node-semver puts them.

use regex::{Captures, Regex, RegexBuilder};
use std::cmp::Ordering;
use std::sync::LazyLock;

const MAX_LENGTH: usize = 256;
/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;
const MAX_SAFE_BUILD_LENGTH: usize = MAX_LENGTH - 6;

/// JavaScript's `\s` (WhiteSpace and LineTerminator), which is not Rust's Unicode `\s`.
const JS_WS: &str = r"[\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]";

fn is_js_ws(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_ws)
}

/// `"a  b".split(/\s+/)`.
fn js_split_ws(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_js_ws(c) {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !is_js_ws(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            start = end;
        }
    }
    out.push(&s[start..]);
    out
}

const LETTERDASHNUMBER: &str = "[a-zA-Z0-9-]";

/// node-semver's `makeSafeRegex`, then JavaScript classes spelled for the `regex` crate.
fn safe(src: &str) -> String {
    let mut v = src.to_string();
    for (token, max) in [
        (r"\s", 1),
        (r"\d", MAX_LENGTH),
        (LETTERDASHNUMBER, MAX_SAFE_BUILD_LENGTH),
    ] {
        v = v
            .replace(&format!("{token}*"), &format!("{token}{{0,{max}}}"))
            .replace(&format!("{token}+"), &format!("{token}{{1,{max}}}"));
    }
    js_classes(&v)
}

fn js_classes(src: &str) -> String {
    src.replace(r"\s", JS_WS).replace(r"\d", "[0-9]")
}

fn compile(src: &str) -> Regex {
    RegexBuilder::new(src)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 24)
        .build()
        .expect("node-semver regex")
}

struct Res {
    full: Regex,
    comparator: Regex,
    comparator_trim: Regex,
    tilde_trim: Regex,
    caret_trim: Regex,
    tilde: Regex,
    caret: Regex,
    xrange: Regex,
    hyphen: Regex,
    star: Regex,
    gte0: Regex,
    build: Regex,
    build_strip: Regex,
}

static RE: LazyLock<Res> = LazyLock::new(|| {
    let numeric = r"0|[1-9]\d*";
    let numeric_loose = r"\d+";
    let nonnumeric = format!(r"\d*[a-zA-Z-]{LETTERDASHNUMBER}*");
    let main = format!(r"({numeric})\.({numeric})\.({numeric})");
    let main_loose = format!(r"({numeric_loose})\.({numeric_loose})\.({numeric_loose})");
    let pre_id = format!("(?:{nonnumeric}|{numeric})");
    let pre_id_loose = format!("(?:{nonnumeric}|{numeric_loose})");
    let pre = format!(r"(?:-({pre_id}(?:\.{pre_id})*))");
    let pre_loose = format!(r"(?:-?({pre_id_loose}(?:\.{pre_id_loose})*))");
    let build_id = format!("{LETTERDASHNUMBER}+");
    let build = format!(r"(?:\+({build_id}(?:\.{build_id})*))");
    let fullplain = format!("v?{main}{pre}?{build}?");
    let looseplain = format!(r"[v=\s]*{main_loose}{pre_loose}?{build}?");
    let gtlt = "((?:<|>)?=?)";
    let xrid = format!(r"{numeric}|x|X|\*");
    let xrangeplain = format!(r"[v=\s]*({xrid})(?:\.({xrid})(?:\.({xrid})(?:{pre})?{build}?)?)?");
    let lonetilde = "(?:~>?)";
    let lonecaret = r"(?:\^)";
    Res {
        full: compile(&safe(&format!("^{fullplain}$"))),
        comparator: compile(&safe(&format!(r"^{gtlt}\s*({fullplain})$|^$"))),
        comparator_trim: compile(&safe(&format!(
            r"(\s*){gtlt}\s*({looseplain}|{xrangeplain})"
        ))),
        tilde_trim: compile(&safe(&format!(r"(\s*){lonetilde}\s+"))),
        caret_trim: compile(&safe(&format!(r"(\s*){lonecaret}\s+"))),
        tilde: compile(&safe(&format!("^{lonetilde}{xrangeplain}$"))),
        caret: compile(&safe(&format!("^{lonecaret}{xrangeplain}$"))),
        xrange: compile(&safe(&format!(r"^{gtlt}\s*{xrangeplain}$"))),
        hyphen: compile(&safe(&format!(
            r"^\s*({xrangeplain})\s+-\s+({xrangeplain})\s*$"
        ))),
        star: compile(&safe(r"(<|>)?=?\s*\*")),
        gte0: compile(&safe(r"^\s*>=\s*0\.0\.0\s*$")),
        build: compile(&safe(&build)),
        // node-semver strips build metadata from ranges with the *unsafe* (uncapped) source.
        build_strip: compile(&js_classes(&build)),
    }
});

/// A pre-release identifier as node-semver stores it: a number when it is all digits and below
/// `MAX_SAFE_INTEGER`, the string otherwise.
#[derive(Debug, Clone, PartialEq)]
enum Ident {
    Num(u64),
    Str(String),
}

impl Ident {
    /// JavaScript `+x` of an all-digit identifier, for `compareIdentifiers`.
    fn numeric_value(&self) -> Option<f64> {
        match self {
            Ident::Num(n) => Some(*n as f64),
            Ident::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<f64>().ok()
            }
            Ident::Str(_) => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Ident::Num(n) => n.to_string(),
            Ident::Str(s) => s.clone(),
        }
    }

    /// `a === b`.
    fn strict_eq(&self, other: &Ident) -> bool {
        self == other
    }
}

/// node-semver's `compareIdentifiers`.
fn compare_identifiers(a: &Ident, b: &Ident) -> Ordering {
    let (an, bn) = (a.numeric_value(), b.numeric_value());
    match (an, bn) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        // Two strings: JavaScript compares UTF-16 code units; identifiers are ASCII.
        (None, None) => a.text().cmp(&b.text()),
    }
}

/// A version as node-semver's `SemVer` class holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SemVer {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: Vec<Ident>,
}

impl SemVer {
    pub(crate) fn parse(version: &str) -> Result<SemVer, String> {
        // JavaScript measures length in UTF-16 code units.
        if version.encode_utf16().count() > MAX_LENGTH {
            return Err(format!("version is longer than {MAX_LENGTH} characters"));
        }
        let caps = RE
            .full
            .captures(js_trim(version))
            .ok_or("not a SemVer 2.0 version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])")?;
        let num = |i: usize, what: &str| -> Result<u64, String> {
            let s = &caps[i];
            match s.parse::<u64>() {
                Ok(n) if n <= MAX_SAFE_INTEGER => Ok(n),
                _ => Err(format!(
                    "invalid {what} version: {s} is above {MAX_SAFE_INTEGER}"
                )),
            }
        };
        let prerelease = match caps.get(4) {
            None => Vec::new(),
            Some(m) if m.as_str().is_empty() => Vec::new(),
            Some(m) => m
                .as_str()
                .split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) && n < MAX_SAFE_INTEGER => {
                        Ident::Num(n)
                    }
                    _ => Ident::Str(id.to_string()),
                })
                .collect(),
        };
        Ok(SemVer {
            major: num(1, "major")?,
            minor: num(2, "minor")?,
            patch: num(3, "patch")?,
            prerelease,
        })
    }

    fn same_main(&self, o: &SemVer) -> bool {
        (self.major, self.minor, self.patch) == (o.major, o.minor, o.patch)
    }

    /// `SemVer.compare`: main version, then pre-release (build metadata ignored).
    pub(crate) fn compare(&self, o: &SemVer) -> Ordering {
        let main = (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch));
        if main != Ordering::Equal {
            return main;
        }
        match (self.prerelease.is_empty(), o.prerelease.is_empty()) {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            (true, true) => return Ordering::Equal,
            (false, false) => {}
        }
        let mut i = 0;
        loop {
            match (self.prerelease.get(i), o.prerelease.get(i)) {
                (None, None) => return Ordering::Equal,
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
                (Some(a), Some(b)) if a.strict_eq(b) => i += 1,
                // node-semver returns here even when the identifiers compare equal as numbers.
                (Some(a), Some(b)) => return compare_identifiers(a, b),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

#[derive(Debug, Clone)]
struct Comparator {
    /// `None` is node-semver's `ANY`.
    bound: Option<(CmpOp, SemVer)>,
}

impl Comparator {
    fn parse(comp: &str) -> Result<Comparator, String> {
        let comp = js_split_ws(js_trim(comp)).join(" ");
        let caps = RE
            .comparator
            .captures(&comp)
            .ok_or_else(|| format!("invalid comparator {comp:?}"))?;
        let Some(version) = caps.get(2) else {
            return Ok(Comparator { bound: None });
        };
        let op = match caps.get(1).map_or("", |m| m.as_str()) {
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => CmpOp::Eq,
        };
        let semver =
            SemVer::parse(version.as_str()).map_err(|e| format!("comparator {comp:?}: {e}"))?;
        Ok(Comparator {
            bound: Some((op, semver)),
        })
    }

    fn test(&self, v: &SemVer) -> bool {
        let Some((op, bound)) = &self.bound else {
            return true;
        };
        let ord = v.compare(bound);
        match op {
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ge => ord != Ordering::Less,
            CmpOp::Gt => ord == Ordering::Greater,
        }
    }
}

/// A node-semver `Range`: alternatives of comparator sets.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    set: Vec<Vec<Comparator>>,
}

fn is_x(id: Option<&str>) -> bool {
    match id {
        None => true,
        Some(s) => s.is_empty() || s.eq_ignore_ascii_case("x") || s == "*",
    }
}

/// JavaScript `+s + 1` printed back: exact below 2^53, and for anything larger a number that
/// node-semver then refuses, as here.
fn js_inc(s: &str) -> String {
    let n: f64 = s.parse().unwrap_or(f64::INFINITY);
    let r = n + 1.0;
    if r.is_finite() {
        format!("{r}")
    } else {
        "Infinity".into()
    }
}

fn cap<'a>(c: &'a Captures<'_>, i: usize) -> Option<&'a str> {
    c.get(i).map(|m| m.as_str())
}

fn replace_tilde(comp: &str) -> String {
    RE.tilde
        .replace(comp, |c: &Captures<'_>| {
            let (mj, mn, pa, pr) = (cap(c, 1), cap(c, 2), cap(c, 3), cap(c, 4));
            let (mjs, mns, pas) = (mj.unwrap_or(""), mn.unwrap_or(""), pa.unwrap_or(""));
            if is_x(mj) {
                String::new()
            } else if is_x(mn) {
                format!(">={mjs}.0.0 <{}.0.0-0", js_inc(mjs))
            } else if is_x(pa) {
                format!(">={mjs}.{mns}.0 <{mjs}.{}.0-0", js_inc(mns))
            } else if let Some(pr) = pr.filter(|p| !p.is_empty()) {
                format!(">={mjs}.{mns}.{pas}-{pr} <{mjs}.{}.0-0", js_inc(mns))
            } else {
                format!(">={mjs}.{mns}.{pas} <{mjs}.{}.0-0", js_inc(mns))
            }
        })
        .into_owned()
}

fn replace_caret(comp: &str) -> String {
    RE.caret
        .replace(comp, |c: &Captures<'_>| {
            let (mj, mn, pa, pr) = (cap(c, 1), cap(c, 2), cap(c, 3), cap(c, 4));
            let (mjs, mns, pas) = (mj.unwrap_or(""), mn.unwrap_or(""), pa.unwrap_or(""));
            let pr = pr.filter(|p| !p.is_empty());
            if is_x(mj) {
                String::new()
            } else if is_x(mn) {
                format!(">={mjs}.0.0 <{}.0.0-0", js_inc(mjs))
            } else if is_x(pa) {
                if mjs == "0" {
                    format!(">={mjs}.{mns}.0 <{mjs}.{}.0-0", js_inc(mns))
                } else {
                    format!(">={mjs}.{mns}.0 <{}.0.0-0", js_inc(mjs))
                }
            } else {
                let low = match pr {
                    Some(pr) => format!(">={mjs}.{mns}.{pas}-{pr}"),
                    None => format!(">={mjs}.{mns}.{pas}"),
                };
                let high = if mjs == "0" {
                    if mns == "0" {
                        format!("<{mjs}.{mns}.{}-0", js_inc(pas))
                    } else {
                        format!("<{mjs}.{}.0-0", js_inc(mns))
                    }
                } else {
                    format!("<{}.0.0-0", js_inc(mjs))
                };
                format!("{low} {high}")
            }
        })
        .into_owned()
}

fn replace_xrange(comp: &str) -> String {
    let comp = js_trim(comp);
    RE.xrange
        .replace(comp, |c: &Captures<'_>| {
            let whole = c.get(0).map_or("", |m| m.as_str()).to_string();
            let mut gtlt = cap(c, 1).unwrap_or("").to_string();
            let (mj, mn, pa) = (cap(c, 2), cap(c, 3), cap(c, 4));
            // invalidXRangeOrder: `1.x.2`-style ranges are left alone.
            if (is_x(mj) && !is_x(mn))
                || (is_x(mn) && pa.is_some_and(|p| !p.is_empty()) && !is_x(pa))
            {
                return comp.to_string();
            }
            let xmj = is_x(mj);
            let xmn = xmj || is_x(mn);
            let xpa = xmn || is_x(pa);
            let any_x = xpa;
            if gtlt == "=" && any_x {
                gtlt.clear();
            }
            let mut pr = "";
            let mut mjv = mj.unwrap_or("").to_string();
            let mut mnv = mn.unwrap_or("").to_string();
            let mut pav;
            if xmj {
                if gtlt == ">" || gtlt == "<" {
                    "<0.0.0-0".to_string()
                } else {
                    "*".to_string()
                }
            } else if !gtlt.is_empty() && any_x {
                if xmn {
                    mnv = "0".into();
                }
                pav = "0".to_string();
                if gtlt == ">" {
                    gtlt = ">=".into();
                    if xmn {
                        mjv = js_inc(&mjv);
                        mnv = "0".into();
                        pav = "0".into();
                    } else {
                        mnv = js_inc(&mnv);
                        pav = "0".into();
                    }
                } else if gtlt == "<=" {
                    gtlt = "<".into();
                    if xmn {
                        mjv = js_inc(&mjv);
                    } else {
                        mnv = js_inc(&mnv);
                    }
                }
                if gtlt == "<" {
                    pr = "-0";
                }
                format!("{gtlt}{mjv}.{mnv}.{pav}{pr}")
            } else if xmn {
                format!(">={mjv}.0.0 <{}.0.0-0", js_inc(&mjv))
            } else if xpa {
                format!(">={mjv}.{mnv}.0 <{mjv}.{}.0-0", js_inc(&mnv))
            } else {
                whole
            }
        })
        .into_owned()
}

fn parse_comparator(comp: &str) -> String {
    let comp = RE.build.replace(comp, "");
    let comp = js_split_ws(js_trim(&comp))
        .into_iter()
        .map(replace_caret)
        .collect::<Vec<_>>()
        .join(" ");
    let comp = js_split_ws(js_trim(&comp))
        .into_iter()
        .map(replace_tilde)
        .collect::<Vec<_>>()
        .join(" ");
    let comp = js_split_ws(&comp)
        .into_iter()
        .map(replace_xrange)
        .collect::<Vec<_>>()
        .join(" ");
    RE.star.replace(js_trim(&comp), "").into_owned()
}

fn hyphen_replace(c: &Captures<'_>) -> String {
    let from_all = cap(c, 1).unwrap_or("");
    let (fmj, fmn, fpa) = (cap(c, 2), cap(c, 3), cap(c, 4));
    let to_all = cap(c, 7).unwrap_or("");
    let (tmj, tmn, tpa, tpr) = (cap(c, 8), cap(c, 9), cap(c, 10), cap(c, 11));
    let from = if is_x(fmj) {
        String::new()
    } else if is_x(fmn) {
        format!(">={}.0.0", fmj.unwrap_or(""))
    } else if is_x(fpa) {
        format!(">={}.{}.0", fmj.unwrap_or(""), fmn.unwrap_or(""))
    } else {
        // With includePrerelease off, a pre-release and a release lower bound read the same.
        format!(">={from_all}")
    };
    let to = if is_x(tmj) {
        String::new()
    } else if is_x(tmn) {
        format!("<{}.0.0-0", js_inc(tmj.unwrap_or("")))
    } else if is_x(tpa) {
        format!("<{}.{}.0-0", tmj.unwrap_or(""), js_inc(tmn.unwrap_or("")))
    } else if let Some(tpr) = tpr.filter(|p| !p.is_empty()) {
        format!(
            "<={}.{}.{}-{tpr}",
            tmj.unwrap_or(""),
            tmn.unwrap_or(""),
            tpa.unwrap_or("")
        )
    } else {
        format!("<={to_all}")
    };
    js_trim(&format!("{from} {to}")).to_string()
}

impl Range {
    pub(crate) fn parse(range: &str) -> Result<Range, String> {
        let raw = js_split_ws(js_trim(range)).join(" ");
        let mut set = Vec::new();
        for part in raw.split("||") {
            set.push(Self::parse_range(js_trim(part))?);
        }
        Ok(Range { set })
    }

    fn parse_range(range: &str) -> Result<Vec<Comparator>, String> {
        let range = RE.build_strip.replace_all(range, "");
        let range = RE.hyphen.replace(&range, hyphen_replace);
        let range = RE.comparator_trim.replace_all(&range, "$1$2$3");
        let range = RE.tilde_trim.replace_all(&range, "$1~");
        let range = RE.caret_trim.replace_all(&range, "$1^");
        let rewritten = range
            .split(' ')
            .map(parse_comparator)
            .collect::<Vec<_>>()
            .join(" ");
        js_split_ws(&rewritten)
            .into_iter()
            .map(|comp| RE.gte0.replace(js_trim(comp), "").into_owned())
            .map(|comp| Comparator::parse(&comp))
            .collect()
    }

    /// `Range.test`, with node-semver's pre-release rule: a pre-release version only matches
    /// a comparator set in which some comparator names a pre-release of the same
    /// `MAJOR.MINOR.PATCH`.
    pub(crate) fn test(&self, v: &SemVer) -> bool {
        self.set.iter().any(|comparators| {
            if !comparators.iter().all(|c| c.test(v)) {
                return false;
            }
            if v.prerelease.is_empty() {
                return true;
            }
            comparators.iter().any(|c| match &c.bound {
                Some((_, b)) => !b.prerelease.is_empty() && b.same_main(v),
                None => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sat(v: &str, r: &str) -> bool {
        Range::parse(r).unwrap().test(&SemVer::parse(v).unwrap())
    }

    #[test]
    fn node_semver_documented_desugarings() {
        assert!(sat("1.2.3", "1.2.3 - 2.3.4"));
        assert!(sat("2.3.4", "1.2.3 - 2.3.4"));
        assert!(!sat("2.3.5", "1.2.3 - 2.3.4"));
        assert!(sat("2.3.9", "1.2 - 2.3"));
        assert!(!sat("2.4.0", "1.2 - 2.3"));
        assert!(sat("0.2.5", "^0.2.3"));
        assert!(!sat("0.3.0", "^0.2.3"));
        assert!(!sat("0.0.4", "^0.0.3"));
        assert!(sat("1.2.9", "~1.2.3"));
        assert!(!sat("1.3.0", "~1.2.3"));
        assert!(sat("1.9.0", "1.x"));
        assert!(sat("3.0.0", "*"));
        assert!(sat("3.0.0", ""));
        assert!(sat("1.2.4", ">1.2.3 <2 || 5"));
        assert!(sat("5.9.9", ">1.2.3 <2 || 5"));
        assert!(!sat("2.0.0", ">1.2.3 <2 || 5"));
        assert!(sat("1.2.3", "  >=  1.2.3  "));
        assert!(sat("1.2.3", "~> 1.2"));
        assert!(sat("1.2.3", "=1.2.3+build"));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for bad in [">=>1", "1.2.3 - ", "a.b.c", ">=01.2.3", "1.2.3 ||| 2"] {
            assert!(Range::parse(bad).is_err(), "{bad}");
        }
    }
}
