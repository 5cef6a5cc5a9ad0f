//! Packagist versions and Composer constraints, as composer/semver 3.3 normalizes
//! (`VersionParser::normalize`), parses (`VersionParser::parseConstraints`) and matches them,
//! with PHP's own `version_compare` underneath.
//!
//! Own code: there is no Rust port of composer/semver. The regular expressions are Composer's
//! (PCRE, read as bytes: `\d` and `\s` are ASCII), the constraint rewrites are Composer's, and
//! `version_compare` is a transcription of PHP's `ext/standard/versioning.c`.

use regex::Regex;
use std::cmp::Ordering;
use std::sync::LazyLock;

/// PCRE's `\s` without the `u` modifier.
const WS: &str = r"[\t\n\x0B\x0C\r ]";

/// `VersionParser::$modifierRegex`; `ci` for the places Composer applies it with `/i`.
/// `stable` is kept ASCII-only under `/i` (Unicode folding would let `ſ` match `s`).
fn modifier(ci: bool) -> String {
    let inner =
        r"[._-]?(?:((?-u:stable)|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?[0-9]+)*)?)?([.-]?dev)?";
    if ci {
        format!("(?i:{inner})")
    } else {
        inner.to_string()
    }
}

fn version_regex() -> String {
    format!(
        r"(?i:v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:\.([0-9]+))?(?:{}|\.([xX*][.-]?dev))(?:\+[^{ws}]+)?)",
        modifier(true),
        ws = &WS[1..WS.len() - 1]
    )
}

struct Res {
    alias: Regex,
    stability_flag: Regex,
    build: Regex,
    classical: Regex,
    date: Regex,
    dev_suffix: Regex,
    branch: Regex,
    c_stability: Regex,
    c_dev_hash: Regex,
    c_any: Regex,
    c_tilde: Regex,
    c_caret: Regex,
    c_wildcard: Regex,
    c_hyphen: Regex,
    c_op: Regex,
    c_has_modifier: Regex,
    parse_stability: Regex,
    or_split: Regex,
}

fn re(s: &str) -> Regex {
    Regex::new(s).expect("composer regex")
}

static RE: LazyLock<Res> = LazyLock::new(|| {
    let nws = r"[^,\t\n\x0B\x0C\r ]";
    Res {
        alias: re(&format!(r"^({nws}+) +as +({nws}+)$")),
        stability_flag: re(r"(?i)@(?:(?-u:stable)|RC|beta|alpha|dev)$"),
        build: re(r"^([^,\t\n\x0B\x0C\r +]+)\+[^\t\n\x0B\x0C\r ]+$"),
        classical: re(&format!(
            r"(?i)^v?([0-9]{{1,5}})(\.[0-9]+)?(\.[0-9]+)?(\.[0-9]+)?{}$",
            modifier(true)
        )),
        date: re(&format!(
            r"(?i)^v?([0-9]{{4}}(?:[.:-]?[0-9]{{2}}){{1,6}}(?:[.:-]?[0-9]{{1,3}})?){}$",
            modifier(true)
        )),
        dev_suffix: re(r"(?i)^(.*?)[.-]?dev$"),
        branch: re(
            r"(?i)^v?([0-9]+)(\.(?:[0-9]+|[xX*]))?(\.(?:[0-9]+|[xX*]))?(\.(?:[0-9]+|[xX*]))?$",
        ),
        c_stability: re(&format!(
            r"(?i)^({nws}*?)@((?-u:stable)|RC|beta|alpha|dev)$"
        )),
        c_dev_hash: re(r"(?i)^(dev-[^,\t\n\x0B\x0C\r @]+?|[^,\t\n\x0B\x0C\r @]+?\.x-dev)#.+$"),
        c_any: re(r"(?i)^(v)?[xX*](\.[xX*])*$"),
        c_tilde: re(&format!(r"(?i)^~>?{}$", version_regex())),
        c_caret: re(&format!(r"(?i)^\^{}$", version_regex())),
        c_wildcard: re(r"^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:\.[xX*])+$"),
        c_hyphen: re(&format!(
            r"(?i)^(?P<from>{v}) +- +(?P<to>{v})$",
            v = version_regex()
        )),
        c_op: re(&format!(r"^(<>|!=|>=?|<=?|==?)?{WS}*(.*)")),
        c_has_modifier: re(&format!("-{}$", modifier(false))),
        parse_stability: re(&format!(r"(?i){}(?:\+.*)?$", modifier(true))),
        or_split: re(&format!(r"{WS}*\|\|?{WS}*")),
    }
});

/// PHP's `trim()` default characters.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

fn group<'a>(c: &'a regex::Captures<'_>, i: usize) -> &'a str {
    c.get(i).map_or("", |m| m.as_str())
}

/// PHP's `empty()` on a regex group: unset, `""` and `"0"` are empty.
fn php_empty(s: &str) -> bool {
    s.is_empty() || s == "0"
}

fn expand_stability(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        _ => lower,
    }
}

/// `VersionParser::normalize`.
pub(crate) fn normalize(input: &str) -> Result<String, String> {
    let mut version = php_trim(input).to_string();
    let invalid = || Err(format!("invalid version string {:?}", php_trim(input)));
    if let Some(c) = RE.alias.captures(&version) {
        version = c[1].to_string();
    }
    if let Some(m) = RE.stability_flag.find(&version) {
        version.truncate(m.start());
    }
    if matches!(version.as_str(), "master" | "trunk" | "default") {
        version = format!("dev-{version}");
    }
    if version.len() >= 4 && version.as_bytes()[..4].eq_ignore_ascii_case(b"dev-") {
        return Ok(format!("dev-{}", &version[4..]));
    }
    if let Some(c) = RE.build.captures(&version) {
        version = c[1].to_string();
    }
    let (base, stability, number, dev) = if let Some(c) = RE.classical.captures(&version) {
        let part = |i| {
            let g = group(&c, i);
            if php_empty(g) {
                ".0".to_string()
            } else {
                g.to_string()
            }
        };
        (
            format!("{}{}{}{}", &c[1], part(2), part(3), part(4)),
            group(&c, 5).to_string(),
            group(&c, 6).to_string(),
            group(&c, 7).to_string(),
        )
    } else if let Some(c) = RE.date.captures(&version) {
        (
            c[1].replace(|ch: char| !ch.is_ascii_digit(), "."),
            group(&c, 2).to_string(),
            group(&c, 3).to_string(),
            group(&c, 4).to_string(),
        )
    } else {
        if let Some(c) = RE.dev_suffix.captures(&version) {
            let branch = normalize_branch(&c[1]);
            if !branch.contains("dev-") {
                return Ok(branch);
            }
        }
        return invalid();
    };
    let mut out = base;
    if !php_empty(&stability) {
        if stability == "stable" {
            return Ok(out);
        }
        out.push('-');
        out.push_str(&expand_stability(&stability));
        out.push_str(number.trim_start_matches(['.', '-']));
    }
    if !php_empty(&dev) {
        out.push_str("-dev");
    }
    Ok(out)
}

/// `VersionParser::normalizeBranch`.
fn normalize_branch(name: &str) -> String {
    let name = php_trim(name);
    if let Some(c) = RE.branch.captures(name) {
        let mut version = c[1].to_string();
        for i in 2..5 {
            match c.get(i) {
                Some(m) => version.push_str(&m.as_str().replace(['*', 'X'], "x")),
                None => version.push_str(".x"),
            }
        }
        return format!("{}-dev", version.replace('x', "9999999"));
    }
    format!("dev-{name}")
}

/// `Semver::sort`'s key: normalized, with the default branches as `9999999-dev`.
pub(crate) fn normalize_for_sort(v: &str) -> Result<String, String> {
    let n = normalize(v)?;
    Ok(match n.as_str() {
        "dev-master" | "dev-default" | "dev-trunk" => "9999999-dev".to_string(),
        _ => n,
    })
}

/// Orders two normalized versions as `Semver::sort` does (`Comparator::lessThan` with branch
/// comparison on). Two different branch names have no order in Composer; that is an error.
pub(crate) fn compare_normalized(a: &str, b: &str) -> Result<Ordering, String> {
    if a == b {
        return Ok(Ordering::Equal);
    }
    if a.starts_with("dev-") && b.starts_with("dev-") {
        return Err("two different branch names have no order in Composer".into());
    }
    Ok(php_version_compare(a.as_bytes(), b.as_bytes()).cmp(&0))
}

// ---- PHP's version_compare -------------------------------------------------------------

fn isdig(c: u8) -> bool {
    c.is_ascii_digit()
}

fn isndig(c: u8) -> bool {
    !c.is_ascii_digit() && c != b'.'
}

/// `php_canonicalize_version`.
fn canonicalize(v: &[u8]) -> Vec<u8> {
    let mut q = Vec::with_capacity(v.len() * 2);
    let mut lp = v[0];
    q.push(lp);
    for &c in &v[1..] {
        let dot = |q: &mut Vec<u8>| {
            if q.last() != Some(&b'.') {
                q.push(b'.');
            }
        };
        if matches!(c, b'-' | b'_' | b'+') {
            dot(&mut q);
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            dot(&mut q);
            q.push(c);
        } else if !c.is_ascii_alphanumeric() {
            dot(&mut q);
        } else {
            q.push(c);
        }
        lp = c;
    }
    q
}

/// `compare_special_version_forms`: a form matches a name it starts with.
fn special_form_order(form: &[u8]) -> i32 {
    const FORMS: [(&[u8], i32); 10] = [
        (b"dev", 0),
        (b"alpha", 1),
        (b"a", 1),
        (b"beta", 2),
        (b"b", 2),
        (b"RC", 3),
        (b"rc", 3),
        (b"#", 4),
        (b"pl", 5),
        (b"p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, order)| *order)
}

fn compare_forms(a: &[u8], b: &[u8]) -> i32 {
    (special_form_order(a) - special_form_order(b)).signum()
}

/// `strtol` of a segment that starts with a digit, saturating like glibc.
fn strtol(seg: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for &c in seg.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    v
}

/// PHP's `version_compare($a, $b)`: -1, 0 or 1.
fn php_version_compare(o1: &[u8], o2: &[u8]) -> i32 {
    if o1.is_empty() || o2.is_empty() {
        return match (o1.is_empty(), o2.is_empty()) {
            (true, true) => 0,
            (false, true) => 1,
            _ => -1,
        };
    }
    let v1 = if o1[0] == b'#' {
        o1.to_vec()
    } else {
        canonicalize(o1)
    };
    let v2 = if o2[0] == b'#' {
        o2.to_vec()
    } else {
        canonicalize(o2)
    };
    let s1: Vec<&[u8]> = v1.split(|&c| c == b'.').collect();
    let s2: Vec<&[u8]> = v2.split(|&c| c == b'.').collect();
    let (mut i, mut j) = (0usize, 0usize);
    // n1/n2 in the C code: whether the segment last looked at had a `.` after it.
    let (mut n1, mut n2) = (true, true);
    let mut compare = 0;
    let at_end = |s: &[&[u8]], k: usize| k + 1 == s.len() && s[k].is_empty();
    while !at_end(&s1, i) && !at_end(&s2, j) && n1 && n2 {
        n1 = i + 1 < s1.len();
        n2 = j + 1 < s2.len();
        let (p1, p2) = (s1[i], s2[j]);
        let d1 = p1.first().is_some_and(|c| c.is_ascii_digit());
        let d2 = p2.first().is_some_and(|c| c.is_ascii_digit());
        compare = match (d1, d2) {
            (true, true) => strtol(p1).cmp(&strtol(p2)) as i32,
            (false, false) => compare_forms(p1, p2),
            (true, false) => compare_forms(b"#N#", p2),
            (false, true) => compare_forms(p1, b"#N#"),
        };
        if compare != 0 {
            break;
        }
        if n1 {
            i += 1;
        }
        if n2 {
            j += 1;
        }
    }
    if compare == 0 {
        if n1 {
            if s1[i].first().is_some_and(|c| c.is_ascii_digit()) {
                compare = 1;
            } else {
                compare = php_version_compare(&s1[i..].join(&b'.'), b"#N#");
            }
        } else if n2 {
            if s2[j].first().is_some_and(|c| c.is_ascii_digit()) {
                compare = -1;
            } else {
                compare = php_version_compare(b"#N#", &s2[j..].join(&b'.'));
            }
        }
    }
    compare
}

/// `version_compare($a, $b, $op)`.
fn php_version_compare_op(a: &str, b: &str, op: CmpOp) -> bool {
    let c = php_version_compare(a.as_bytes(), b.as_bytes());
    match op {
        CmpOp::Lt => c == -1,
        CmpOp::Le => c != 1,
        CmpOp::Gt => c == 1,
        CmpOp::Ge => c != -1,
        CmpOp::Eq => c == 0,
        CmpOp::Ne => c != 0,
    }
}

// ---- constraints ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone)]
pub(crate) enum Constraint {
    MatchAll,
    Single(CmpOp, String),
    All(Vec<Constraint>),
    Any(Vec<Constraint>),
}

impl Constraint {
    /// `ConstraintInterface::matches(new Constraint('==', $normalizedVersion))`.
    pub(crate) fn matches(&self, version: &str) -> bool {
        match self {
            Constraint::MatchAll => true,
            Constraint::All(cs) => cs.iter().all(|c| c.matches(version)),
            Constraint::Any(cs) => cs.iter().any(|c| c.matches(version)),
            Constraint::Single(op, bound) => version_compare_constraint(version, bound, *op),
        }
    }
}

/// `Constraint::versionCompare($a, $b, $op, $compareBranches = false)`.
fn version_compare_constraint(a: &str, b: &str, op: CmpOp) -> bool {
    let a_branch = a.starts_with("dev-");
    let b_branch = b.starts_with("dev-");
    if op == CmpOp::Ne && (a_branch || b_branch) {
        return a != b;
    }
    if a_branch && b_branch {
        return op == CmpOp::Eq && a == b;
    }
    if a_branch || b_branch {
        return false;
    }
    php_version_compare_op(a, b, op)
}

/// `VersionParser::parseConstraints`.
pub(crate) fn parse_constraints(input: &str) -> Result<Constraint, String> {
    let mut or_groups = Vec::new();
    for or_part in RE.or_split.split(php_trim(input)) {
        let and_parts = split_and(or_part);
        let mut objects = Vec::new();
        for part in &and_parts {
            objects.extend(parse_constraint(part)?);
        }
        or_groups.push(if objects.len() == 1 {
            objects.pop().expect("one constraint")
        } else {
            Constraint::All(objects)
        });
    }
    let mut or_groups = merge_contiguous(or_groups);
    Ok(if or_groups.len() == 1 {
        or_groups.pop().expect("one group")
    } else {
        Constraint::Any(or_groups)
    })
}

/// `MultiConstraint::optimizeConstraints` for disjunctions: `[>= a < b] || [>= b < c]` becomes
/// `[>= a < c]`. Composer joins on the bounds' text alone, so `[>= 2 < 1] || [>= 1 < 3]` also
/// becomes `[>= 2 < 3]`; that is Composer's answer, so it is ours.
fn merge_contiguous(groups: Vec<Constraint>) -> Vec<Constraint> {
    fn bounds(c: &Constraint) -> Option<(&Constraint, CmpOp, &str, &Constraint)> {
        match c {
            Constraint::All(cs) if cs.len() == 2 => match (&cs[0], &cs[1]) {
                (
                    Constraint::Single(CmpOp::Ge, low),
                    Constraint::Single(op @ (CmpOp::Lt | CmpOp::Le), high),
                ) => Some((&cs[0], *op, high.as_str(), &cs[1])).filter(|_| !low.is_empty()),
                _ => None,
            },
            _ => None,
        }
    }
    if groups.len() < 2 {
        return groups;
    }
    let mut iter = groups.into_iter();
    let mut left = iter.next().expect("two groups");
    let mut merged = Vec::new();
    for right in iter {
        let joined = match (bounds(&left), &right) {
            (Some((low, CmpOp::Lt, high, _)), Constraint::All(rs)) if bounds(&right).is_some() => {
                match &rs[0] {
                    Constraint::Single(CmpOp::Ge, right_low) if right_low == high => {
                        Some(Constraint::All(vec![low.clone(), rs[1].clone()]))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match joined {
            Some(j) => left = j,
            None => {
                merged.push(left);
                left = right;
            }
        }
    }
    merged.push(left);
    merged
}

/// `preg_split('{(?<!^|as|[=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)}', $constraints)`, by hand: the
/// `regex` crate has no look-around.
fn split_and(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut p = 0;
    'scan: while p < b.len() {
        let lookbehind_ok = p > 0
            && !(p >= 2 && &b[p - 2..p] == b"as")
            && !matches!(b[p - 1], b'=' | b'>' | b'<' | b' ' | b',');
        if lookbehind_ok {
            let spaces = b[p..].iter().take_while(|&&c| c == b' ').count();
            for k in (0..=spaces).rev() {
                let q = p + k;
                if q >= b.len() || !matches!(b[q], b',' | b' ') {
                    continue;
                }
                let before = if q == 0 { None } else { Some(b[q - 1]) };
                if before == Some(b'-') || b.get(q + 1) == Some(&b'-') {
                    continue;
                }
                let trailing = b[q + 1..].iter().take_while(|&&c| c == b' ').count();
                for m in (0..=trailing).rev() {
                    let r = q + 1 + m;
                    let rest = &b[r..];
                    if rest.is_empty() || rest.starts_with(b",") || rest.starts_with(b"as") {
                        continue;
                    }
                    out.push(s[piece_start..p].to_string());
                    piece_start = r;
                    p = r;
                    continue 'scan;
                }
            }
        }
        p += 1;
    }
    out.push(s[piece_start..].to_string());
    out
}

fn parse_op(op: &str) -> CmpOp {
    match op {
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "!=" | "<>" => CmpOp::Ne,
        _ => CmpOp::Eq,
    }
}

/// `manipulateVersionString` with a positive or zero increment.
fn manipulate(m: &[String; 5], position: usize, increment: u64) -> Result<String, String> {
    let mut m = m.clone();
    for i in (1..=4).rev() {
        if i > position {
            m[i] = "0".into();
        } else if i == position && increment > 0 {
            let n: u64 = m[i]
                .parse()
                .map_err(|_| format!("number {} is too large", m[i]))?;
            m[i] = n
                .checked_add(increment)
                .ok_or_else(|| format!("number {} is too large", m[i]))?
                .to_string();
        }
    }
    Ok(format!("{}.{}.{}.{}", m[1], m[2], m[3], m[4]))
}

fn parse_stability(version: &str) -> &'static str {
    let version = match version.find('#') {
        Some(h) if h + 1 < version.len() => &version[..h],
        _ => version,
    };
    if version.starts_with("dev-") || version.ends_with("-dev") {
        return "dev";
    }
    let lower = version.to_lowercase();
    if let Some(c) = RE.parse_stability.captures(&lower) {
        if !php_empty(group(&c, 3)) {
            return "dev";
        }
        match group(&c, 1) {
            "beta" | "b" => return "beta",
            "alpha" | "a" => return "alpha",
            "rc" => return "RC",
            _ => {}
        }
    }
    "stable"
}

/// `VersionParser::parseConstraint`.
fn parse_constraint(input: &str) -> Result<Vec<Constraint>, String> {
    let fail = |why: Option<String>| match why {
        Some(w) => format!("could not parse version constraint {input:?}: {w}"),
        None => format!("could not parse version constraint {input:?}"),
    };
    let mut constraint = input.to_string();
    if let Some(c) = RE.alias.captures(&constraint) {
        constraint = c[1].to_string();
    }
    let mut stability_modifier: Option<String> = None;
    if let Some(c) = RE.c_stability.captures(&constraint) {
        let stab = c[2].to_string();
        constraint = if c[1].is_empty() {
            "*".to_string()
        } else {
            c[1].to_string()
        };
        if stab != "stable" {
            stability_modifier = Some(stab);
        }
    }
    if let Some(c) = RE.c_dev_hash.captures(&constraint) {
        constraint = c[1].to_string();
    }
    if let Some(c) = RE.c_any.captures(&constraint) {
        if !group(&c, 1).is_empty() || !group(&c, 2).is_empty() {
            return Ok(vec![Constraint::Single(CmpOp::Ge, "0.0.0.0-dev".into())]);
        }
        return Ok(vec![Constraint::MatchAll]);
    }
    let numbers = |c: &regex::Captures<'_>, first: usize| -> [String; 5] {
        [
            String::new(),
            group(c, first).to_string(),
            group(c, first + 1).to_string(),
            group(c, first + 2).to_string(),
            group(c, first + 3).to_string(),
        ]
    };
    if let Some(c) = RE.c_tilde.captures(&constraint) {
        if constraint.starts_with("~>") {
            return Err(fail(Some(
                "invalid operator \"~>\", you probably meant to use the \"~\" operator".into(),
            )));
        }
        let m = numbers(&c, 1);
        let mut position = (1..=4).rev().find(|&i| !m[i].is_empty()).unwrap_or(1);
        if !php_empty(group(&c, 8)) {
            position += 1;
        }
        let suffix =
            if php_empty(group(&c, 5)) && php_empty(group(&c, 7)) && php_empty(group(&c, 8)) {
                "-dev"
            } else {
                ""
            };
        let low = normalize(&format!("{}{suffix}", &constraint[1..])).map_err(|e| fail(Some(e)))?;
        let high = format!("{}-dev", manipulate(&m, (position.max(2)) - 1, 1)?);
        return Ok(vec![
            Constraint::Single(CmpOp::Ge, low),
            Constraint::Single(CmpOp::Lt, high),
        ]);
    }
    if let Some(c) = RE.c_caret.captures(&constraint) {
        let m = numbers(&c, 1);
        let position = if m[1] != "0" || m[2].is_empty() {
            1
        } else if m[2] != "0" || m[3].is_empty() {
            2
        } else {
            3
        };
        let suffix =
            if php_empty(group(&c, 5)) && php_empty(group(&c, 7)) && php_empty(group(&c, 8)) {
                "-dev"
            } else {
                ""
            };
        let low = normalize(&format!("{}{suffix}", &constraint[1..])).map_err(|e| fail(Some(e)))?;
        let high = format!("{}-dev", manipulate(&m, position, 1)?);
        return Ok(vec![
            Constraint::Single(CmpOp::Ge, low),
            Constraint::Single(CmpOp::Lt, high),
        ]);
    }
    if let Some(c) = RE.c_wildcard.captures(&constraint) {
        let m = numbers(&c, 1);
        let position = (1..=3).rev().find(|&i| !m[i].is_empty()).unwrap_or(1);
        let low = format!("{}-dev", manipulate(&m, position, 0)?);
        let high = format!("{}-dev", manipulate(&m, position, 1)?);
        if low == "0.0.0.0-dev" {
            return Ok(vec![Constraint::Single(CmpOp::Lt, high)]);
        }
        return Ok(vec![
            Constraint::Single(CmpOp::Ge, low),
            Constraint::Single(CmpOp::Lt, high),
        ]);
    }
    if let Some(c) = RE.c_hyphen.captures(&constraint) {
        // Groups: from = 1, its numbers 2-5, stability 6, number 7, dev 8, x-dev 9;
        // to = 10, its numbers 11-14, stability 15, number 16, dev 17, x-dev 18.
        let low_suffix =
            if php_empty(group(&c, 6)) && php_empty(group(&c, 8)) && php_empty(group(&c, 9)) {
                "-dev"
            } else {
                ""
            };
        let low = normalize(&c["from"]).map_err(|e| fail(Some(e)))?;
        let lower = Constraint::Single(CmpOp::Ge, format!("{low}{low_suffix}"));
        // Composer's `$empty`: "0" counts as given here.
        let given = |i: usize| !group(&c, i).is_empty();
        let upper = if (given(12) && given(13))
            || !php_empty(group(&c, 15))
            || !php_empty(group(&c, 17))
            || !php_empty(group(&c, 18))
        {
            let high = normalize(&c["to"]).map_err(|e| fail(Some(e)))?;
            Constraint::Single(CmpOp::Le, high)
        } else {
            normalize(&c["to"]).map_err(|e| fail(Some(e)))?;
            let m = numbers(&c, 11);
            let high = manipulate(&m, if given(12) { 2 } else { 1 }, 1)?;
            Constraint::Single(CmpOp::Lt, format!("{high}-dev"))
        };
        return Ok(vec![lower, upper]);
    }
    if let Some(c) = RE.c_op.captures(&constraint) {
        let op_text = group(&c, 1);
        let text = group(&c, 2);
        let version = match normalize(text) {
            Ok(v) => Ok(v),
            Err(e) => {
                let is_dev_like = text.ends_with("-dev")
                    && !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'/'));
                if is_dev_like {
                    normalize(&format!("dev-{}", &text[..text.len() - 4]))
                } else {
                    Err(e)
                }
            }
        };
        let mut version = match version {
            Ok(v) => v,
            Err(e) => return Err(fail(Some(e))),
        };
        let op = if op_text.is_empty() { "=" } else { op_text };
        match &stability_modifier {
            Some(sm) if op != "==" && op != "=" && parse_stability(&version) == "stable" => {
                version.push('-');
                version.push_str(sm);
            }
            _ if (op == "<" || op == ">=")
                && !RE.c_has_modifier.is_match(&text.to_lowercase())
                && !text.starts_with("dev-") =>
            {
                version.push_str("-dev");
            }
            _ => {}
        }
        return Ok(vec![Constraint::Single(parse_op(op), version)]);
    }
    Err(fail(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_follows_composer() {
        for (input, want) in [
            ("1.0.0", "1.0.0.0"),
            ("v1.2", "1.2.0.0"),
            ("1.0.0-beta1", "1.0.0.0-beta1"),
            ("1.0.0-RC1", "1.0.0.0-RC1"),
            ("1.0.0-rc.2", "1.0.0.0-RC2"),
            ("1.0-p1", "1.0.0.0-patch1"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0.0-dev", "1.0.0.0-dev"),
            ("1.0.x-dev", "1.0.9999999.9999999-dev"),
            ("dev-master", "dev-master"),
            ("master", "dev-master"),
            ("20100102-203040", "20100102.203040"),
            ("1.0.0+build", "1.0.0.0"),
            ("1.0.0 as 2.0", "1.0.0.0"),
            ("1.0.0@beta", "1.0.0.0"),
        ] {
            assert_eq!(normalize(input).unwrap(), want, "{input}");
        }
        for bad in ["", "foo", "1.0.0-meh", "1.0.0.0.0", "a.b.c"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn php_version_compare_matches_php() {
        let c = |a: &str, b: &str| php_version_compare(a.as_bytes(), b.as_bytes());
        assert_eq!(c("1.0.0.0-beta1", "1.0.0.0-RC1"), -1);
        assert_eq!(c("1.0.0.0-RC1", "1.0.0.0"), -1);
        assert_eq!(c("1.0.0.0", "1.0.0.0-patch1"), -1);
        assert_eq!(c("1.0.0.0-dev", "1.0.0.0-alpha1"), -1);
        assert_eq!(c("1.0", "1.0.0"), -1);
        assert_eq!(c("1.10", "1.9"), 1);
        assert_eq!(c("1.0rc1", "1.0"), -1);
    }

    #[test]
    fn and_split_keeps_operators_with_their_versions() {
        assert_eq!(split_and(">= 1.0 < 2.0"), vec![">= 1.0", "< 2.0"]);
        assert_eq!(split_and(">=1.0,<2.0"), vec![">=1.0", "<2.0"]);
        assert_eq!(split_and("1.0 - 2.0"), vec!["1.0 - 2.0"]);
        assert_eq!(split_and("1.0.0 as 2.0"), vec!["1.0.0 as 2.0"]);
    }
}
