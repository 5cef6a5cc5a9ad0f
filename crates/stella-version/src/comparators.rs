//! Comparator lists for the ecosystems whose tools compare one version at a time (dpkg, apk,
//! rpm, Go): `>= 1.2-3, << 2.0`, `>=v1.2.0 <v1.4.0`, alternatives joined by `||`.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
    /// apk's `~`: the version starts with the bound, token by token.
    Fuzzy,
}

impl Op {
    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Eq | Op::Fuzzy => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Ge => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
        }
    }
}

/// An ecosystem's operators, longest first so that `<<` wins over `<`, and what to say when an
/// operator is not one of them.
pub(crate) struct OpTable {
    ops: &'static [(&'static str, Op)],
    hint: &'static str,
}

pub(crate) const DPKG_OPS: OpTable = OpTable {
    ops: &[
        ("<<", Op::Lt),
        ("<=", Op::Le),
        (">=", Op::Ge),
        (">>", Op::Gt),
        ("=", Op::Eq),
    ],
    hint: "dpkg's relations are <<, <=, =, >=, >> (a bare < or > is the deprecated spelling \
           of <= or >=, refused to avoid the confusion)",
};

pub(crate) const APK_OPS: OpTable = OpTable {
    ops: &[
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
        ("~", Op::Fuzzy),
    ],
    hint: "apk's operators are <, <=, =, >=, >, ~",
};

pub(crate) const RPM_OPS: OpTable = OpTable {
    ops: &[
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ],
    hint: "rpm's operators are <, <=, =, >=, >",
};

pub(crate) const GO_OPS: OpTable = OpTable {
    ops: &[
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ],
    hint: "the operators are <, <=, =, ==, !=, >=, >",
};

/// Alternatives (`||`), each a list of comparators that must all hold.
pub(crate) struct ComparatorSet<T> {
    alternatives: Vec<Vec<(Op, T)>>,
}

impl<T> ComparatorSet<T> {
    pub(crate) fn matches(&self, mut holds: impl FnMut(Op, &T) -> bool) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|(op, bound)| holds(*op, bound)))
    }
}

const OP_CHARS: &[char] = &['<', '>', '=', '!', '~'];

pub(crate) fn parse<T>(
    range: &str,
    table: OpTable,
    mut parse_version: impl FnMut(&str) -> Result<T, String>,
) -> Result<ComparatorSet<T>, String> {
    if range.trim().is_empty() {
        return Err("empty range".into());
    }
    let mut alternatives = Vec::new();
    for alternative in range.split("||") {
        let mut comparators = Vec::new();
        for part in alternative.split(',') {
            let mut tokens = part.split_whitespace().peekable();
            if tokens.peek().is_none() {
                return Err("empty comparator (a stray `,` or `||`?)".into());
            }
            while let Some(token) = tokens.next() {
                let (op, rest) = split_op(token, &table)?;
                let version = if rest.is_empty() {
                    // "op version" with a space between.
                    match tokens.next() {
                        Some(v) if !v.starts_with(OP_CHARS) => v,
                        _ => return Err(format!("operator {token:?} has no version after it")),
                    }
                } else {
                    rest
                };
                comparators.push((op, parse_version(version)?));
            }
        }
        alternatives.push(comparators);
    }
    Ok(ComparatorSet { alternatives })
}

fn split_op<'a>(token: &'a str, table: &OpTable) -> Result<(Op, &'a str), String> {
    for (text, op) in table.ops {
        if let Some(rest) = token.strip_prefix(text) {
            if rest.starts_with(OP_CHARS) {
                break;
            }
            return Ok((*op, rest));
        }
    }
    if token.starts_with(OP_CHARS) {
        let end = token
            .find(|c| !OP_CHARS.contains(&c))
            .unwrap_or(token.len());
        return Err(format!(
            "unknown operator {:?}: {}",
            &token[..end],
            table.hint
        ));
    }
    // A bare version means equality.
    Ok((Op::Eq, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(range: &str) -> Result<ComparatorSet<i32>, String> {
        parse(range, RPM_OPS, |s| {
            s.parse::<i32>().map_err(|e| e.to_string())
        })
    }

    fn check(range: &str, v: i32) -> bool {
        ints(range).unwrap().matches(|op, b| op.holds(v.cmp(b)))
    }

    #[test]
    fn comparators_accept_commas_spaces_and_alternatives() {
        assert!(check(">= 1, < 3", 2));
        assert!(!check(">= 1, < 3", 3));
        assert!(check(">=1 <3", 1));
        assert!(check("< 1 || > 5", 6));
        assert!(!check("< 1 || > 5", 3));
        assert!(check("4", 4));
        assert!(check("= 4", 4));
    }

    #[test]
    fn malformed_comparator_lists_are_refused() {
        assert!(ints("").is_err());
        assert!(ints(">=").is_err());
        assert!(ints(">= 1,").is_err());
        assert!(ints(">= 1 ||").is_err());
        assert!(ints("=> 1").is_err());
        assert!(ints("<< 1").is_err());
        let e = parse("< 2", DPKG_OPS, |s| Ok::<_, String>(s.to_string()))
            .err()
            .unwrap();
        assert!(e.contains("deprecated"), "{e}");
    }
}
