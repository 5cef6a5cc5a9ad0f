//! Classification of declared license strings against the SPDX license list.
//!
//! Package databases write licenses in many ways: SPDX ids (`MIT`), SPDX expressions
//! (`GPL-2.0-or-later OR MIT`), Debian copyright short names (`GPL-2+`) or free text. SBOM formats
//! want to know which is which: CycloneDX has `license.id` for ids on the list, `expression` for
//! expressions and `license.name` for anything else; SPDX accepts only expressions and needs a
//! `LicenseRef-` with extracted text for the rest.

use spdx::ParseMode;
use spdx::lexer::{Lexer, Token};

/// A declared license, classified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum License {
    /// An id on the SPDX license list, in the list's spelling (ids match case-insensitively).
    Id(String),
    /// A valid SPDX license expression that is more than one id (operators, `+`, `WITH`,
    /// `LicenseRef-`), re-spelled canonically: operators upper case, single spaces.
    Expression {
        text: String,
        /// `LicenseRef-…` ids the expression uses; SPDX needs each declared in the document.
        license_refs: Vec<String>,
    },
    /// Anything else, trimmed but otherwise as written.
    Name(String),
}

/// Strict SPDX parsing, except that deprecated ids (`GPL-2.0`, still on the list and accepted by
/// both formats' schemas) are accepted.
const MODE: ParseMode = ParseMode {
    allow_deprecated: true,
    ..ParseMode::STRICT
};

/// Classifies one declared license string; `None` for a blank one.
pub(crate) fn classify(raw: &str) -> Option<License> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(id) = spdx_license_id(s) {
        return Some(License::Id(id.to_string()));
    }
    if spdx::Expression::parse_mode(s, MODE).is_err() {
        return Some(License::Name(s.to_string()));
    }
    match canonical_expression(s) {
        Some((text, license_refs)) => Some(License::Expression { text, license_refs }),
        None => Some(License::Name(s.to_string())),
    }
}

/// Classifies a package's licenses, sorted and without duplicates.
pub(crate) fn classify_all(raw: &[String]) -> Vec<License> {
    let mut out: Vec<License> = raw.iter().filter_map(|r| classify(r)).collect();
    out.sort();
    out.dedup();
    out
}

/// The SPDX license-list id that `s` names, matched case-insensitively as the SPDX spec asks.
fn spdx_license_id(s: &str) -> Option<&'static str> {
    spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(s))
        .map(|l| l.name)
}

/// Re-spells a valid expression from its tokens, and lists its `LicenseRef-`s. `None` when the
/// expression uses something SPDX 2.3 documents cannot carry on their own (`DocumentRef-`
/// needs an external document reference, `AdditionRef-` is SPDX 3).
fn canonical_expression(s: &str) -> Option<(String, Vec<String>)> {
    let mut text = String::new();
    let mut refs = Vec::new();
    let mut after_open = true;
    for token in Lexer::new_mode(s, MODE) {
        let token = token.ok()?.token;
        let word: String = match token {
            Token::Spdx(id) => id.name.to_string(),
            Token::Exception(e) => e.name.to_string(),
            Token::LicenseRef {
                doc_ref: None,
                lic_ref,
            } => {
                let r = format!("LicenseRef-{lic_ref}");
                refs.push(r.clone());
                r
            }
            Token::LicenseRef {
                doc_ref: Some(_), ..
            }
            | Token::AdditionRef { .. }
            | Token::Unknown(_) => {
                return None;
            }
            Token::Plus => {
                text.push('+');
                continue;
            }
            Token::CloseParen => {
                text.push(')');
                continue;
            }
            Token::OpenParen => {
                if !after_open {
                    text.push(' ');
                }
                text.push('(');
                after_open = true;
                continue;
            }
            Token::With => "WITH".to_string(),
            Token::And => "AND".to_string(),
            Token::Or => "OR".to_string(),
        };
        if !after_open {
            text.push(' ');
        }
        text.push_str(&word);
        after_open = false;
    }
    refs.sort();
    refs.dedup();
    Some((text, refs))
}

/// Whether `expression` must be parenthesised to be one operand of `AND`.
pub(crate) fn needs_parens(expression: &str) -> bool {
    expression.contains(" OR ") || expression.contains(" AND ")
}

/// `operands` joined with `AND`, each compound operand parenthesised.
pub(crate) fn and_all(operands: &[String]) -> String {
    if operands.len() == 1 {
        return operands[0].clone();
    }
    operands
        .iter()
        .map(|o| {
            if needs_parens(o) {
                format!("({o})")
            } else {
                o.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> License {
        License::Expression {
            text: text.to_string(),
            license_refs: Vec::new(),
        }
    }

    #[test]
    fn known_ids_are_ids_in_the_lists_spelling() {
        assert_eq!(classify("MIT"), Some(License::Id("MIT".into())));
        assert_eq!(
            classify(" bsd-3-clause "),
            Some(License::Id("BSD-3-Clause".into()))
        );
        assert_eq!(
            classify("GPL-2.0-only"),
            Some(License::Id("GPL-2.0-only".into()))
        );
        // Deprecated, but still an id on the list.
        assert_eq!(classify("GPL-2.0"), Some(License::Id("GPL-2.0".into())));
    }

    #[test]
    fn valid_expressions_are_respelled_canonically() {
        assert_eq!(
            classify("GPL-2.0-or-later OR MIT"),
            Some(expr("GPL-2.0-or-later OR MIT"))
        );
        assert_eq!(
            classify("(MIT  or Apache-2.0) and  BSD-2-Clause"),
            Some(expr("(MIT OR Apache-2.0) AND BSD-2-Clause"))
        );
        assert_eq!(
            classify("GPL-3.0-only with Classpath-exception-2.0"),
            Some(expr("GPL-3.0-only WITH Classpath-exception-2.0"))
        );
        assert_eq!(classify("MPL-1.1+"), Some(expr("MPL-1.1+")));
        assert_eq!(
            classify("MIT AND LicenseRef-Custom.1"),
            Some(License::Expression {
                text: "MIT AND LicenseRef-Custom.1".into(),
                license_refs: vec!["LicenseRef-Custom.1".into()],
            })
        );
    }

    #[test]
    fn everything_else_is_a_name() {
        // Debian copyright short names are not SPDX ids.
        assert_eq!(classify("GPL-2+"), Some(License::Name("GPL-2+".into())));
        assert_eq!(
            classify("public-domain"),
            Some(License::Name("public-domain".into()))
        );
        assert_eq!(
            classify("Artistic or GPL-1+"),
            Some(License::Name("Artistic or GPL-1+".into()))
        );
        assert_eq!(classify("MIT AND"), Some(License::Name("MIT AND".into())));
        assert_eq!(
            classify("Classpath-exception-2.0"),
            Some(License::Name("Classpath-exception-2.0".into()))
        );
        assert_eq!(
            classify("DocumentRef-other:LicenseRef-x"),
            Some(License::Name("DocumentRef-other:LicenseRef-x".into()))
        );
        assert_eq!(classify("   "), None);
    }

    #[test]
    fn classify_all_sorts_and_dedups() {
        let got = classify_all(&[
            "Zlib".into(),
            "mit".into(),
            "MIT".into(),
            "GPL-2+".into(),
            "".into(),
        ]);
        assert_eq!(
            got,
            vec![
                License::Id("MIT".into()),
                License::Id("Zlib".into()),
                License::Name("GPL-2+".into())
            ]
        );
    }

    #[test]
    fn and_all_parenthesises_compound_operands() {
        assert_eq!(and_all(&["MIT OR Apache-2.0".into()]), "MIT OR Apache-2.0");
        assert_eq!(
            and_all(&[
                "MIT OR Apache-2.0".into(),
                "Zlib".into(),
                "GPL-2.0-only WITH Classpath-exception-2.0".into()
            ]),
            "(MIT OR Apache-2.0) AND Zlib AND GPL-2.0-only WITH Classpath-exception-2.0"
        );
        let joined = and_all(&[
            "MIT OR Apache-2.0".into(),
            "(Zlib AND BSD-2-Clause) OR ISC".into(),
            "MPL-1.1+".into(),
        ]);
        assert_eq!(
            joined,
            "(MIT OR Apache-2.0) AND ((Zlib AND BSD-2-Clause) OR ISC) AND MPL-1.1+"
        );
        assert!(
            spdx::Expression::parse_mode(&joined, MODE).is_ok(),
            "{joined}"
        );
    }
}
