//! Debian versions, as dpkg 1.21 parses (`parseversion`) and orders (`verrevcmp`) them.
//!
//! Own code rather than the `debversion` crate: that crate validates with a regex stricter than
//! dpkg (it refuses `1.0_1`, which dpkg accepts with a warning), accepts what dpkg refuses (`a:1`,
//! a colon without a numeric epoch; epochs above `INT_MAX`), compares non-ASCII text by code point
//! where dpkg compares bytes, and pulls in regex, chrono and num-bigint for thirty lines of C.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    epoch: i64,
    upstream: String,
    revision: String,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// C `isspace` in the C locale, which `strtol` skips.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

impl Version {
    /// Parses like dpkg's `parseversion`. Its hard errors are errors here; its warnings
    /// (a version not starting with a digit, characters outside `[A-Za-z0-9.+~:-]`) are
    /// accepted, as `dpkg --compare-versions` accepts them.
    pub(crate) fn parse(input: &str) -> Result<Version, String> {
        if input.contains('\0') {
            return Err("contains a NUL byte".into());
        }
        let bytes = input.as_bytes();
        let mut start = 0;
        while start < bytes.len() && is_blank(bytes[start]) {
            start += 1;
        }
        if start == bytes.len() {
            return Err("version string is empty".into());
        }
        let mut end = start;
        while end < bytes.len() && !is_blank(bytes[end]) {
            end += 1;
        }
        if bytes[end..].iter().any(|&b| !is_blank(b)) {
            return Err("version string has embedded spaces".into());
        }
        let s = &input[start..end];
        let (epoch, rest) = match s.find(':') {
            Some(colon) => (parse_epoch(&s[..colon])?, &s[colon + 1..]),
            None => (0, s),
        };
        if s.contains(':') && rest.is_empty() {
            return Err("nothing after colon in version number".into());
        }
        let (upstream, revision) = match rest.rfind('-') {
            Some(h) => {
                if h + 1 == rest.len() {
                    return Err("revision number is empty".into());
                }
                (&rest[..h], &rest[h + 1..])
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err("version number is empty".into());
        }
        Ok(Version {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

/// The epoch as `strtol` reads it, with dpkg's checks.
fn parse_epoch(text: &str) -> Result<i64, String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        value = match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b[i] - b'0')))
        {
            Some(v) => v,
            None => {
                overflow = true;
                i64::MAX
            }
        };
        i += 1;
    }
    if i == digits_start {
        return Err("epoch in version is empty".into());
    }
    if i != b.len() {
        return Err("epoch in version is not number".into());
    }
    if negative && value != 0 {
        return Err("epoch in version is negative".into());
    }
    if overflow || value > i64::from(i32::MAX) {
        return Err("epoch in version is too big".into());
    }
    Ok(value)
}

/// dpkg's `order()`: `~` sorts before everything, even the end of the string; letters before
/// other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(at(a, i));
            let bc = order(at(b, j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == Some(b'0') {
            i += 1;
        }
        while at(b, j) == Some(b'0') {
            j += 1;
        }
        while digit(at(a, i)) && digit(at(b, j)) {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(at(a, i)) {
            return Ordering::Greater;
        }
        if digit(at(b, j)) {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_hard_errors_are_errors_and_warnings_are_accepted() {
        for bad in [
            "",
            "  ",
            "1 2",
            "a:1",
            ":1",
            "1:",
            "-1:1",
            "1.0-",
            "1:-1",
            "99999999999:1",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for ok in [
            "a1.0",
            "1.0_1",
            "1.0-1_1",
            " 1.0 ",
            "+1:1.0",
            "2147483647:1",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn a_version_parses_into_epoch_upstream_and_revision() {
        let v = Version::parse("2:1.0-rc1-3").unwrap();
        assert_eq!(
            (v.epoch, v.upstream.as_str(), v.revision.as_str()),
            (2, "1.0-rc1", "3")
        );
    }
}
