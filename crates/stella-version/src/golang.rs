//! Go module versions, as `golang.org/x/mod/semver` parses and orders them: SemVer 2.0 with a
//! `v` prefix (optional here, because OSV writes Go versions without it), the shorthands `v1`
//! and `v1.2`, build metadata ignored (so `v2.0.0+incompatible` equals `v2.0.0`), and
//! pseudo-versions ordered as the pre-releases they are. Own code: the Go rules differ from the
//! `semver` crate's (shorthands, arbitrary-size numbers).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoVersion {
    major: String,
    minor: String,
    patch: String,
    prerelease: Vec<String>,
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A number without leading zeros (x/mod/semver's `parseInt`).
fn parse_int(s: &str) -> Result<(&str, &str), String> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return Err("expected a number".into());
    }
    if n > 1 && s.starts_with('0') {
        return Err("numbers must not have leading zeros".into());
    }
    Ok((&s[..n], &s[n..]))
}

fn ident_ok(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl GoVersion {
    pub(crate) fn parse(input: &str) -> Result<GoVersion, String> {
        let v = input.strip_prefix('v').unwrap_or(input);
        let (major, rest) = parse_int(v)?;
        let (minor, patch, rest) = if rest.is_empty() {
            // "v1" is short for v1.0.0.
            return Ok(GoVersion::short(major, "0"));
        } else if let Some(r) = rest.strip_prefix('.') {
            let (minor, rest) = parse_int(r)?;
            if rest.is_empty() {
                return Ok(GoVersion::short(major, minor));
            }
            let Some(r) = rest.strip_prefix('.') else {
                return Err(
                    "shorthand versions (v1, v1.2) cannot carry a pre-release or build".into(),
                );
            };
            let (patch, rest) = parse_int(r)?;
            (minor, patch, rest)
        } else {
            return Err("expected MAJOR[.MINOR[.PATCH]]".into());
        };
        let (pre, build) = match rest.find('+') {
            Some(p) => (&rest[..p], Some(&rest[p + 1..])),
            None => (rest, None),
        };
        let mut prerelease = Vec::new();
        if !pre.is_empty() {
            let Some(pre) = pre.strip_prefix('-') else {
                return Err("expected `-` before the pre-release".into());
            };
            for id in pre.split('.') {
                if !ident_ok(id) {
                    return Err(format!("bad pre-release identifier {id:?}"));
                }
                if is_num(id) && id.len() > 1 && id.starts_with('0') {
                    return Err(format!(
                        "numeric pre-release identifier {id:?} has a leading zero"
                    ));
                }
                prerelease.push(id.to_string());
            }
        }
        if let Some(build) = build
            && !build.split('.').all(ident_ok)
        {
            return Err("bad build metadata".into());
        }
        Ok(GoVersion {
            major: major.into(),
            minor: minor.into(),
            patch: patch.into(),
            prerelease,
        })
    }

    fn short(major: &str, minor: &str) -> GoVersion {
        GoVersion {
            major: major.into(),
            minor: minor.into(),
            patch: "0".into(),
            prerelease: Vec::new(),
        }
    }

    pub(crate) fn compare(&self, other: &GoVersion) -> Ordering {
        cmp_int(&self.major, &other.major)
            .then_with(|| cmp_int(&self.minor, &other.minor))
            .then_with(|| cmp_int(&self.patch, &other.patch))
            .then_with(|| cmp_prerelease(&self.prerelease, &other.prerelease))
    }
}

/// Numbers of any size, without leading zeros: longer is larger.
fn cmp_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_prerelease(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let ord = match (is_num(x), is_num(y)) {
            (true, true) => cmp_int(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.as_bytes().cmp(y.as_bytes()),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_accepts_shorthands_and_refuses_what_x_mod_semver_refuses() {
        for ok in [
            "v1",
            "v1.2",
            "1.2.3",
            "v1.2.3-pre.1+build",
            "v0.0.0-20191109021931-daa7c04131f5",
        ] {
            assert!(GoVersion::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "v",
            "v01.2.3",
            "v1.2-pre",
            "v1.2.3-01",
            "v1.2.3-",
            "v1.2.3+",
            "v1.2.3.4",
            "vv1",
        ] {
            assert!(GoVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
