//! Alpine versions, as apk-tools (2.14 and 3.x, `src/version.c`) validates and orders them:
//! `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`.
//!
//! Own code: no crate implements the current apk rules (`~hash` commit suffixes, string
//! comparison of numbers with leading zeros). This is a transcription of apk's tokenizer.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

// Suffix values in apk's order; `NONE` is the pivot between pre- and post-release suffixes.
const SUFFIX_INVALID: u8 = 0;
const SUFFIX_NONE: u8 = 5;

fn suffix_value(s: &[u8]) -> u8 {
    match s {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => SUFFIX_INVALID,
    }
}

struct TokenState<'a> {
    token: Token,
    suffix: u8,
    number: u64,
    value: &'a [u8],
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// apk's `apk_blob_spn`: bytes of 128 and above count as members of every class.
    fn span(&mut self, member: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self
            .rest
            .iter()
            .position(|&c| c < 128 && !member(c))
            .unwrap_or(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }
}

fn parse_digits<'a>(t: &mut TokenState<'a>, c: &mut Cursor<'a>) {
    // apk_blob_pull_uint: stops at the first non-digit (or NUL), wraps on overflow.
    let n = c
        .rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(c.rest.len());
    let (digits, tail) = c.rest.split_at(n);
    t.number = digits.iter().fold(0u64, |v, d| {
        v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    });
    t.value = digits;
    c.rest = tail;
    if digits.is_empty() {
        t.token = Token::Invalid;
    }
}

fn token_first<'a>(c: &mut Cursor<'a>) -> TokenState<'a> {
    let mut t = TokenState {
        token: Token::InitialDigit,
        suffix: SUFFIX_INVALID,
        number: 0,
        value: &[],
    };
    parse_digits(&mut t, c);
    t
}

fn token_next<'a>(t: &mut TokenState<'a>, c: &mut Cursor<'a>) {
    let Some(&first) = c.rest.first() else {
        t.token = Token::End;
        return;
    };
    match first {
        b'a'..=b'z' => {
            if t.token > Token::Digit {
                t.token = Token::Invalid;
                return;
            }
            t.value = &c.rest[..1];
            t.token = Token::Letter;
            c.rest = &c.rest[1..];
        }
        b'.' | b'0'..=b'9' => {
            if first == b'.' {
                if t.token > Token::Digit {
                    t.token = Token::Invalid;
                    return;
                }
                c.rest = &c.rest[1..];
            }
            t.token = match t.token {
                Token::InitialDigit | Token::Digit => Token::Digit,
                Token::Suffix => Token::SuffixNo,
                _ => {
                    t.token = Token::Invalid;
                    return;
                }
            };
            parse_digits(t, c);
        }
        b'_' => {
            if t.token > Token::SuffixNo {
                t.token = Token::Invalid;
                return;
            }
            c.rest = &c.rest[1..];
            t.value = c.span(|b| b.is_ascii_lowercase());
            t.suffix = suffix_value(t.value);
            t.token = if t.suffix == SUFFIX_INVALID {
                Token::Invalid
            } else {
                Token::Suffix
            };
        }
        b'~' => {
            if t.token >= Token::CommitHash {
                t.token = Token::Invalid;
                return;
            }
            c.rest = &c.rest[1..];
            t.value = c.span(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            t.token = if t.value.is_empty() {
                Token::Invalid
            } else {
                Token::CommitHash
            };
        }
        b'-' => {
            if t.token >= Token::RevisionNo || !c.rest.starts_with(b"-r") {
                t.token = Token::Invalid;
                return;
            }
            c.rest = &c.rest[2..];
            t.token = Token::RevisionNo;
            parse_digits(t, c);
        }
        _ => t.token = Token::Invalid,
    }
}

fn token_cmp(a: &TokenState<'_>, b: &TokenState<'_>) -> Ordering {
    match a.token {
        // A leading zero makes apk compare the digits as strings, like Gentoo.
        Token::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Token::Letter => a.value[0].cmp(&b.value[0]),
        Token::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// `apk_version_validate`.
pub(crate) fn validate(v: &str) -> Result<(), String> {
    let mut c = Cursor { rest: v.as_bytes() };
    // apk reads versions as C strings: a NUL ends them.
    if v.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    let mut t = token_first(&mut c);
    while t.token < Token::End {
        token_next(&mut t, &mut c);
    }
    if t.token == Token::End {
        Ok(())
    } else {
        let at = v.len() - c.rest.len();
        Err(format!(
            "not an apk version (digit{{.digit}}...{{letter}}{{_suffix{{#}}}}...{{~hash}}{{-r#}}); \
             invalid at byte {at}"
        ))
    }
}

fn compare_fuzzy(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ca = Cursor { rest: a.as_bytes() };
    let mut cb = Cursor { rest: b.as_bytes() };
    let mut ta = token_first(&mut ca);
    let mut tb = token_first(&mut cb);
    while ta.token == tb.token && ta.token < Token::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        token_next(&mut ta, &mut ca);
        token_next(&mut tb, &mut cb);
    }
    if ta.token == tb.token || (tb.token == Token::End && fuzzy) {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is newer unless what follows is a pre-release suffix.
    if ta.token == Token::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == Token::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.token.cmp(&ta.token)
}

/// `apk_version_compare` (both versions already validated).
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    compare_fuzzy(a, b, false)
}

/// apk's `~` operator: `version` starts with `bound`, token by token (`3.6.9 ~ 3.6`).
pub(crate) fn fuzzy_match(version: &str, bound: &str) -> bool {
    compare_fuzzy(version, bound, true) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apk_validity_follows_apk_tools() {
        for ok in [
            "1.2",
            "0.1_pre2",
            "0.1_pre2~1234abcd",
            "0.1_p1_pre2",
            "0.1_alpha1_pre2",
            "0.1_git20240101_pre1",
            "1.0-r0",
            "2.3.0b-r1",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0.1bc",
            "0.1bc1",
            "0.1a1",
            "0.1a.1",
            "0.1_pre2~",
            "0.1_pre2~1234xbcd",
            "0.1_pre2~1234abcd_pre1",
            "0.1_pre2-r1~1234xbcd",
            "0.1_foobar",
            "0.1_foobar1",
            "0.1-pre1.1",
            "0.1-r",
            "0.1-r2_pre1",
            "0.1-r2_p3_pre1",
            "0.1-r2-r3",
            "0.1-r2.1",
            ".1",
            "a",
            "_pre1",
            "-r1",
            "0.1_",
            "0.1_-r0",
            "0.1__alpha",
            "0.1_1_alpha",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fuzzy_matches_by_token_prefix() {
        for (v, b) in [
            ("3.6.0", "3.6"),
            ("3.6.9", "3.6"),
            ("3.6_pre1", "3.6"),
            ("3.6.0", "3.6.0"),
        ] {
            assert!(fuzzy_match(v, b), "{v} ~ {b}");
        }
        for (v, b) in [("3.6.0", "3.8"), ("3.8", "3.8.1"), ("3.8.0.1", "3.8.1")] {
            assert!(!fuzzy_match(v, b), "{v} !~ {b}");
        }
    }
}
