//! CPE 2.3 formatted strings (NISTIR 7695 §6.2), parsed by hand: the `cpe` crate does not
//! read 2.3 strings.
//!
//! `cpe:2.3:part:vendor:product:version:update:edition:language:sw_edition:target_sw:target_hw:other`.
//! A component is `*` (ANY), `-` (NA) or a value in which a backslash quotes the next
//! character (`\:`, `\.`, `\\`, `\*`); an unquoted `*` or run of `?` at the start or the end
//! of a value is a wildcard, which makes the component a [`Component::Pattern`].

use std::fmt;

/// One attribute of a CPE name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Component {
    /// `*`: any value.
    Any,
    /// `-`: not applicable.
    Na,
    /// A literal value with the quoting removed (`node.js`, `1.0:beta`).
    Value(String),
    /// A value with unquoted wildcards, kept in its quoted form.
    Pattern(String),
}

impl Component {
    /// The literal value, if this is one.
    pub fn value(&self) -> Option<&str> {
        match self {
            Component::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether a literal value `s` is inside this component (case-insensitive, as CPE
    /// matching is).
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Component::Any => true,
            Component::Na => false,
            Component::Value(v) => v.eq_ignore_ascii_case(s),
            Component::Pattern(p) => glob(p, s),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Component::Any => f.write_str("*"),
            Component::Na => f.write_str("-"),
            Component::Value(v) => {
                for c in v.chars() {
                    if !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Component::Pattern(p) => f.write_str(p),
        }
    }
}

/// A parsed CPE 2.3 name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpe23 {
    /// `a` (application), `o` (operating system), `h` (hardware) or ANY.
    pub part: Component,
    pub vendor: Component,
    pub product: Component,
    pub version: Component,
    pub update: Component,
    pub edition: Component,
    pub language: Component,
    pub sw_edition: Component,
    pub target_sw: Component,
    pub target_hw: Component,
    pub other: Component,
}

impl fmt::Display for Cpe23 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpe:2.3:{}:{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
            self.part,
            self.vendor,
            self.product,
            self.version,
            self.update,
            self.edition,
            self.language,
            self.sw_edition,
            self.target_sw,
            self.target_hw,
            self.other
        )
    }
}

/// Why a string is not a CPE 2.3 formatted string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpeError {
    #[error("{input:?} does not start with \"cpe:2.3:\"")]
    NotCpe23 { input: String },
    #[error("{input:?} has {found} components; CPE 2.3 has 11 after \"cpe:2.3:\"")]
    ComponentCount { input: String, found: usize },
    #[error("{input:?}: part {part:?} is not a, o, h or *")]
    Part { input: String, part: String },
    #[error("{input:?}: component {index} ({component:?}): {reason}")]
    Component {
        input: String,
        index: usize,
        component: String,
        reason: &'static str,
    },
}

/// Parses a CPE 2.3 formatted string.
pub fn parse(s: &str) -> Result<Cpe23, CpeError> {
    let input = s;
    let rest = s
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("cpe:2.3:"))
        .map(|_| &s[8..])
        .ok_or_else(|| CpeError::NotCpe23 {
            input: input.to_string(),
        })?;
    // Split on unquoted colons.
    let mut raw: Vec<String> = vec![String::new()];
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let index = raw.len() - 1;
                let last = raw.last_mut().expect("never empty");
                last.push('\\');
                match chars.next() {
                    Some(n) => last.push(n),
                    None => {
                        return Err(CpeError::Component {
                            input: input.to_string(),
                            index,
                            component: last.clone(),
                            reason: "ends with a lone backslash",
                        });
                    }
                }
            }
            ':' => raw.push(String::new()),
            c => raw.last_mut().expect("never empty").push(c),
        }
    }
    if raw.len() != 11 {
        return Err(CpeError::ComponentCount {
            input: input.to_string(),
            found: raw.len(),
        });
    }
    let mut comps = Vec::with_capacity(11);
    for (index, r) in raw.iter().enumerate() {
        comps.push(component(r).map_err(|reason| CpeError::Component {
            input: input.to_string(),
            index,
            component: r.clone(),
            reason,
        })?);
    }
    match &comps[0] {
        Component::Any => {}
        Component::Value(p) if matches!(p.as_str(), "a" | "o" | "h" | "A" | "O" | "H") => {}
        _ => {
            return Err(CpeError::Part {
                input: input.to_string(),
                part: raw[0].clone(),
            });
        }
    }
    let mut it = comps.into_iter();
    let mut next = || it.next().expect("eleven components");
    Ok(Cpe23 {
        part: next(),
        vendor: next(),
        product: next(),
        version: next(),
        update: next(),
        edition: next(),
        language: next(),
        sw_edition: next(),
        target_sw: next(),
        target_hw: next(),
        other: next(),
    })
}

fn component(raw: &str) -> Result<Component, &'static str> {
    match raw {
        "*" => return Ok(Component::Any),
        "-" => return Ok(Component::Na),
        "" => return Err("is empty"),
        _ => {}
    }
    let chars: Vec<char> = raw.chars().collect();
    let mut value = String::with_capacity(raw.len());
    let mut wildcard = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                // Always followed by a character: the splitter made sure.
                value.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '*' => {
                if i != 0 && i != chars.len() - 1 {
                    return Err("an unquoted * may only start or end a value");
                }
                wildcard = true;
            }
            '?' => {
                let at_start = chars[..i].iter().all(|&p| p == '?');
                let at_end = chars[i..].iter().all(|&p| p == '?')
                    || (chars[i..].iter().all(|&p| p == '?' || p == '*')
                        && chars.last() == Some(&'*'));
                if !at_start && !at_end {
                    return Err("an unquoted ? may only start or end a value");
                }
                wildcard = true;
            }
            c if c.is_whitespace() || c.is_control() => {
                return Err("contains whitespace");
            }
            c => value.push(c),
        }
        i += 1;
    }
    Ok(if wildcard {
        Component::Pattern(raw.to_string())
    } else {
        Component::Value(value)
    })
}

/// Matches a literal value against a quoted pattern with leading/trailing `*` (any run) and
/// `?` (one character), case-insensitively.
fn glob(pattern: &str, s: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Char(char),
        One,
        Many,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '\\' => Tok::Char(chars.next().unwrap_or('\\')),
            '*' => Tok::Many,
            '?' => Tok::One,
            c => Tok::Char(c),
        });
    }
    let s: Vec<char> = s.chars().flat_map(char::to_lowercase).collect();
    let toks: Vec<Tok> = toks
        .into_iter()
        .flat_map(|t| match t {
            Tok::Char(c) => c.to_lowercase().map(Tok::Char).collect::<Vec<_>>(),
            t => vec![t],
        })
        .collect();
    // Classic wildcard matching with backtracking over the last `*`.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match toks.get(p) {
            Some(Tok::Char(c)) if *c == s[i] => {
                p += 1;
                i += 1;
            }
            Some(Tok::One) => {
                p += 1;
                i += 1;
            }
            Some(Tok::Many) => {
                star = Some((p, i));
                p += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvd_criteria_with_escapes_any_and_na() {
        let c = parse("cpe:2.3:a:nodejs:node.js:*:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.part, Component::Value("a".into()));
        assert_eq!(c.vendor, Component::Value("nodejs".into()));
        assert_eq!(c.product, Component::Value("node.js".into()));
        assert_eq!(c.version, Component::Any);
        let c = parse(r"cpe:2.3:a:busybox:busybox:1.30.1:-:*:*:*:*:*:*").unwrap();
        assert_eq!(c.version, Component::Value("1.30.1".into()));
        assert_eq!(c.update, Component::Na);
        let c = parse(r"cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*")
            .unwrap();
        assert_eq!(c.target_hw, Component::Value("x64".into()));
        let c = parse(r"cpe:2.3:a:foo\:bar:baz\\qux:1.0\:beta:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.vendor, Component::Value("foo:bar".into()));
        assert_eq!(c.product, Component::Value(r"baz\qux".into()));
        assert_eq!(c.version, Component::Value("1.0:beta".into()));
        assert_eq!(
            c.to_string(),
            r"cpe:2.3:a:foo\:bar:baz\\qux:1.0\:beta:*:*:*:*:*:*:*"
        );
    }

    #[test]
    fn wildcards_make_patterns() {
        let c = parse("cpe:2.3:a:apache:http_server:2.4.*:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.version, Component::Pattern("2.4.*".into()));
        assert!(c.version.matches("2.4.49"));
        assert!(!c.version.matches("2.5.0"));
        let c = parse(r"cpe:2.3:a:x:y:??1\.0:*:*:*:*:*:*:*").unwrap();
        assert!(c.version.matches("ab1.0"));
        assert!(!c.version.matches("a1.0"));
        assert!(!c.version.matches("ab1x0"));
    }

    #[test]
    fn malformed_strings_are_errors_naming_the_input() {
        for bad in [
            "cpe:/a:apache:http_server:2.4",
            "cpe:2.3:a:apache",
            "cpe:2.3:x:apache:http_server:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*:extra",
            "cpe:2.3:a:apa*che:http_server:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:apache:http server:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:apache::*:*:*:*:*:*:*:*",
            "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:\\",
            "",
            "cpe:2.3",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
