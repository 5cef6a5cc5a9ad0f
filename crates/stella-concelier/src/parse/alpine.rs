//! Alpine secdb (`https://secdb.alpinelinux.org/v3.N/{main,community}.json`, and the
//! legacy YAML of the same schema), also used by Wolfi and other apk distributions:
//! `{distroversion, reponame, urlprefix, packages: [{pkg: {name, secfixes: {version:
//! [ids]}}}]}`.
//!
//! One record per (distroversion, reponame, vulnerability id). Its document is the secdb
//! cut down to the packages and versions whose secfix entries name that id, with those
//! entries as written. Secfix entries are free text in practice (`CVE-2019-1234`,
//! `CVE-2017-8904 XSA-214`, `CVE-2019-15167 (VRRP)`, `XSA-207`, `CVE-2017-17434-1`): ids
//! are picked out word by word. When an entry names a CVE, its CVEs are the
//! vulnerabilities and its other ids (XSA, TALOS advisories) are `related` to them;
//! otherwise each id it names is a vulnerability of its own.
//!
//! A secdb without a `distroversion` (Wolfi's, Chainguard's) gets `Wolfi` or `Chainguard` as
//! its ecosystem when its `urlprefix` names that host, else its `reponame`; its upstream id is
//! `<reponame>/<id>`.

use super::fields::{FieldError, Path, object, opt_object, opt_str, req_str};
use super::{Format, ParseError, ParsedRecord, Sink};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{
    Advisory, Affected, AffectedRange, DistroState, FeedSource, Normalized, RangeEvent, RangeKind,
};

/// One secfix entry's mention of a vulnerability.
struct Mention {
    package_index: usize,
    package: String,
    version: String,
    entry: String,
    related: Vec<String>,
}

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    let value = super::load_value(location, format, bytes, sink.limits())?;
    let shape = |message: String| ParseError::Shape {
        name: location.to_string(),
        feed: FeedSource::Alpine,
        message,
    };
    let root = Path::Root;
    let top = object(&value, root).map_err(|e| shape(e.to_string()))?;
    let header = |key: &str| opt_str(top, key, root).map_err(|e| shape(e.to_string()));
    let distroversion = header("distroversion")?.unwrap_or_default().to_string();
    let reponame = header("reponame")?.unwrap_or_default().to_string();
    // Copied into each record's document as written; read here for its host only.
    let urlprefix = header("urlprefix")?
        .unwrap_or_default()
        .to_ascii_lowercase();
    let packages = match top.get("packages") {
        Some(Value::Array(packages)) => packages,
        Some(Value::Null) => return Ok(()),
        _ => return Err(shape("expected a `packages` array".to_string())),
    };

    // id → its mentions in document order; sorted ids make the records' order.
    let mut mentions: BTreeMap<String, Vec<Mention>> = BTreeMap::new();
    for (index, package) in packages.iter().enumerate() {
        // The location names the package item; paths in messages are relative to it.
        let PackageFixes { name, secfixes } = match package_secfixes(package, root) {
            Ok(found) => found,
            Err(e) => {
                sink.error(format!("{location}: packages[{index}]"), e.to_string());
                continue;
            }
        };
        for (version, entries) in secfixes.into_iter().flatten() {
            let place = || format!("{location}: package {name}, secfix {version}");
            let entries = match entries {
                Value::Array(entries) => entries.as_slice(),
                Value::Null => &[],
                other => {
                    sink.error(place(), format!("expected a list of ids, found {other}"));
                    continue;
                }
            };
            for entry in entries {
                let Some(text) = entry.as_str() else {
                    sink.error(place(), format!("secfix entry {entry} is not a string"));
                    continue;
                };
                let (vulnerabilities, related) = split_ids(text);
                if vulnerabilities.is_empty() {
                    sink.error(
                        place(),
                        format!("no vulnerability id in secfix entry {text:?}"),
                    );
                    continue;
                }
                for id in vulnerabilities {
                    mentions.entry(id).or_default().push(Mention {
                        package_index: index,
                        package: name.to_string(),
                        version: version.clone(),
                        entry: text.to_string(),
                        related: related.clone(),
                    });
                }
            }
        }
    }

    let ecosystem = if distroversion.is_empty() {
        // Wolfi and Chainguard publish one rolling secdb without a distroversion; the
        // package host says which distribution it is (OSV names them `Wolfi`, `Chainguard`).
        if urlprefix.contains("wolfi") {
            "Wolfi".to_string()
        } else if urlprefix.contains("chainguard") {
            "Chainguard".to_string()
        } else {
            reponame.clone()
        }
    } else {
        format!("Alpine:{distroversion}")
    };
    for (id, mentions) in mentions {
        let upstream_id = [distroversion.as_str(), reponame.as_str(), id.as_str()]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let document = slice_document(top, &mentions);
        let mut related = Vec::new();
        // (package item, version) → its affected entry; ordered as the secdb lists them.
        let mut affected: Vec<((usize, String), Affected)> = Vec::new();
        for m in &mentions {
            related.extend(m.related.iter().cloned());
            let key = (m.package_index, m.version.clone());
            if affected.iter().any(|(k, _)| *k == key) {
                continue;
            }
            affected.push((key, package_state(&ecosystem, &distroversion, &reponame, m)));
        }
        let advisory = Advisory {
            related: super::id_list(related, &id),
            affected: affected.into_iter().map(|(_, a)| a).collect(),
            id,
            ..Advisory::default()
        };
        sink.record(
            location,
            ParsedRecord {
                upstream_id,
                document,
                normalized: Normalized::Advisory(Box::new(advisory)),
            },
        );
    }
    Ok(())
}

/// One `packages[]` item: the package name and its secfixes (version → entries).
struct PackageFixes<'v> {
    name: &'v str,
    secfixes: Option<&'v Map<String, Value>>,
}

fn package_secfixes<'v>(package: &'v Value, at: Path<'_>) -> Result<PackageFixes<'v>, FieldError> {
    let package = object(package, at)?;
    let at_pkg = at.key("pkg");
    let pkg = opt_object(package, "pkg", at)?.ok_or_else(|| FieldError::new(at_pkg, "missing"))?;
    let name = req_str(pkg, "name", at_pkg)?;
    Ok(PackageFixes {
        name,
        secfixes: opt_object(pkg, "secfixes", at_pkg)?,
    })
}

/// What one secfix says about one package: fixed in `version`, or never affected (`0`).
fn package_state(ecosystem: &str, distroversion: &str, reponame: &str, m: &Mention) -> Affected {
    let release = if distroversion.is_empty() {
        reponame
    } else {
        distroversion
    };
    let never_affected = m.version == "0";
    let ranges = if never_affected {
        Vec::new()
    } else {
        vec![AffectedRange {
            kind: RangeKind::Ecosystem,
            events: vec![
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed(m.version.clone()),
            ],
            repo: None,
        }]
    };
    Affected {
        ecosystem: ecosystem.to_string(),
        name: m.package.clone(),
        purl: None,
        ranges,
        versions: Vec::new(),
        distro_state: Some(DistroState {
            release: release.to_string(),
            status: if never_affected {
                "not-affected"
            } else {
                "resolved"
            }
            .to_string(),
            urgency: None,
            fixed_version: Some(m.version.clone()),
            nodsa: None,
            nodsa_reason: None,
        }),
        severity: Vec::new(),
    }
}

/// The secdb with only what names one id: header fields as upstream has them, and for each
/// package item that names it, the versions whose entries do.
fn slice_document(top: &Map<String, Value>, mentions: &[Mention]) -> Value {
    let mut document = Map::new();
    for key in ["distroversion", "reponame", "urlprefix"] {
        if let Some(v) = top.get(key) {
            document.insert(key.to_string(), v.clone());
        }
    }
    let mut packages: Vec<(usize, String, Map<String, Value>)> = Vec::new();
    for m in mentions {
        if packages.last().map(|p| p.0) != Some(m.package_index) {
            packages.push((m.package_index, m.package.clone(), Map::new()));
        }
        let Some((_, _, secfixes)) = packages.last_mut() else {
            continue;
        };
        let entries = secfixes
            .entry(m.version.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(entries) = entries {
            let entry = Value::String(m.entry.clone());
            // An entry naming the id twice (`CVE-2017-17434-1`, `-2`) is one entry each.
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
    }
    let packages = packages
        .into_iter()
        .map(|(_, name, secfixes)| {
            let mut pkg = Map::new();
            pkg.insert("name".into(), Value::String(name));
            pkg.insert("secfixes".into(), Value::Object(secfixes));
            let mut item = Map::new();
            item.insert("pkg".into(), Value::Object(pkg));
            Value::Object(item)
        })
        .collect();
    document.insert("packages".into(), Value::Array(packages));
    Value::Object(document)
}

/// Splits a secfix entry into the vulnerabilities it names and the other ids beside them.
pub(crate) fn split_ids(entry: &str) -> (Vec<String>, Vec<String>) {
    let mut cves = cves_in(entry);
    let mut seen = BTreeSet::new();
    cves.retain(|c| seen.insert(c.clone()));
    let mut others: Vec<String> = entry
        .split_whitespace()
        .filter(|w| !w.to_ascii_uppercase().contains("CVE"))
        .filter_map(other_id)
        .collect();
    others.retain(|o| seen.insert(o.clone()));
    if cves.is_empty() {
        (others, Vec::new())
    } else {
        (cves, others)
    }
}

/// The CVE ids written anywhere in an entry, as `CVE-YYYY-NNNN…`. Secdbs spell them
/// loosely: `CVE-2017-8073.patch`, `CVE-2017-17434-1` (one of two patches for a CVE),
/// `CVE_2019-2426`, `CVE 2018-16859`; `CVE-????-?????` is no id.
fn cves_in(entry: &str) -> Vec<String> {
    let bytes = entry.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        if !bytes[i..i + 3].eq_ignore_ascii_case(b"CVE") {
            i += 1;
            continue;
        }
        let separator = |at: usize| matches!(bytes.get(at), Some(b'-' | b'_' | b' '));
        let digits = |from: usize| {
            bytes[from.min(bytes.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let year_at = i + 4;
        if separator(i + 3) && digits(year_at) == 4 && separator(year_at + 4) {
            let number_at = year_at + 5;
            let number_len = digits(number_at);
            if number_len >= 4 {
                found.push(format!(
                    "CVE-{}-{}",
                    &entry[year_at..year_at + 4],
                    &entry[number_at..number_at + number_len]
                ));
                i = number_at + number_len;
                continue;
            }
        }
        i += 3;
    }
    found
}

/// A word that is a vulnerability id other than a CVE: `XSA-207`, `ZBX-11023`,
/// `GHSA-jq35-85cj-fj4p`, `wnpa-sec-2017-21`, `TALOS-2017-0499`. It starts with a letter,
/// has a dash and a digit, and nothing but letters, digits and dashes; punctuation around
/// it (`(…)`, `,`) is not part of it.
fn other_id(word: &str) -> Option<String> {
    let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let is_id = word.starts_with(|c: char| c.is_ascii_alphabetic())
        && word.contains('-')
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    is_id.then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(entry: &str) -> (Vec<String>, Vec<String>) {
        split_ids(entry)
    }

    #[test]
    fn secfix_entries_are_read_word_by_word() {
        assert_eq!(
            split("CVE-2019-1234"),
            (vec!["CVE-2019-1234".into()], vec![])
        );
        assert_eq!(
            split("CVE-2019-1234 CVE-2019-5678"),
            (vec!["CVE-2019-1234".into(), "CVE-2019-5678".into()], vec![])
        );
        assert_eq!(
            split("CVE-2017-8904 XSA-214"),
            (vec!["CVE-2017-8904".into()], vec!["XSA-214".into()])
        );
        assert_eq!(
            split("CVE-2019-15167 (VRRP)"),
            (vec!["CVE-2019-15167".into()], vec![])
        );
        assert_eq!(split("XSA-207"), (vec!["XSA-207".into()], vec![]));
        assert_eq!(
            split("CVE-2017-17434-1"),
            (vec!["CVE-2017-17434".into()], vec![])
        );
        assert_eq!(
            split("CVE-????-?????  XSA-295"),
            (vec!["XSA-295".into()], vec![])
        );
        assert_eq!(
            split("GHSA-jq35-85cj-fj4p"),
            (vec!["GHSA-jq35-85cj-fj4p".into()], vec![])
        );
        assert_eq!(split("fixed upstream"), (vec![], vec![]));
        assert_eq!(
            split("CVE-2017-8073.patch"),
            (vec!["CVE-2017-8073".into()], vec![])
        );
        assert_eq!(
            split("CVE_2019-2426"),
            (vec!["CVE-2019-2426".into()], vec![])
        );
        assert_eq!(
            split("CVE 2018-16859"),
            (vec!["CVE-2018-16859".into()], vec![])
        );
        assert_eq!(
            split("wnpa-sec-2017-21"),
            (vec!["wnpa-sec-2017-21".into()], vec![])
        );
        assert_eq!(
            split("CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI"),
            (
                vec![
                    "CVE-2017-5753".into(),
                    "CVE-2017-5715".into(),
                    "CVE-2017-5754".into()
                ],
                vec!["XSA-254".into()]
            )
        );
        assert_eq!(
            split("CVE-2018-10105 (SMB - too unreliably reproduced, SMB printing disabled)"),
            (vec!["CVE-2018-10105".into()], vec![])
        );
    }
}
