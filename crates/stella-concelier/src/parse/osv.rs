//! OSV records (<https://ossf.github.io/osv-schema/>): one record per document, JSON or
//! YAML (PyPA, RustSec's source and the R Consortium publish YAML). Zips of records
//! (osv.dev's `<Ecosystem>/all.zip`) are unpacked by the container layer.
//!
//! OSV is Stella's normalized shape, so the mapping is nearly one to one. Ecosystems are
//! kept verbatim, known or not: the matcher skips ecosystems it cannot order versions for,
//! and a feed that adds an ecosystem must not lose its records here.

use super::fields::{
    FieldError, Path, lenient_strings, object, opt_array, opt_object, opt_str, opt_string, req_str,
    string, string_list,
};
use super::{Format, ParseError, ParsedRecord, Sink};
use serde_json::{Map, Value};
use stella_model::{
    Advisory, Affected, AffectedRange, FeedSource, Normalized, RangeEvent, RangeKind, SeverityKind,
    SeverityStatement,
};

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    if sink.oversized(location, bytes.len()) {
        return Ok(());
    }
    let document = super::load_value(location, format, bytes, sink.limits())?;
    if !document.is_object() {
        return Err(ParseError::Shape {
            name: location.to_string(),
            feed: FeedSource::Osv,
            message: "expected one OSV record (a JSON or YAML object)".to_string(),
        });
    }
    match normalize(&document) {
        Ok(advisory) => sink.record(
            location,
            ParsedRecord {
                upstream_id: advisory.id.clone(),
                document,
                normalized: Normalized::Advisory(Box::new(advisory)),
            },
        ),
        Err(e) => sink.error(location, e.to_string()),
    }
    Ok(())
}

/// Who states the severities of a record, from its id prefix.
fn severity_source(id: &str) -> String {
    let prefix = id.split('-').next().unwrap_or(id);
    match prefix {
        "GHSA" => "GitHub",
        "PYSEC" => "PyPA",
        "RUSTSEC" => "RustSec",
        "GO" => "Go",
        other => other,
    }
    .to_string()
}

/// Maps one OSV record.
pub(crate) fn normalize(record: &Value) -> Result<Advisory, FieldError> {
    let root = Path::Root;
    let r = object(record, root)?;
    let id = req_str(r, "id", root)?;
    if id.trim().is_empty() {
        return Err(FieldError::new(root.key("id"), "empty"));
    }
    let source = severity_source(id);

    let mut related = string_list(r, "related", root)?;
    // `upstream` names the records this one derives from (a library's CVE for a package
    // that bundles the library): other vulnerabilities, so related, never aliases.
    related.extend(string_list(r, "upstream", root)?);

    let mut severity = severities(r, root, &source)?;
    let database_specific = r.get("database_specific").and_then(Value::as_object);
    // GHSA (and Bitnami) state their own rating as a word beside the vectors.
    if let Some(word) = database_specific
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str)
        .filter(|w| !w.trim().is_empty())
    {
        severity.push(SeverityStatement {
            kind: SeverityKind::Label,
            value: word.to_string(),
            score: None,
            source: source.clone(),
        });
    }
    let mut cwes = lenient_strings(database_specific.and_then(|d| d.get("cwe_ids")));
    super::dedup_in_order(&mut cwes);

    let at_affected = root.key("affected");
    let affected = opt_array(r, "affected", root)?
        .iter()
        .enumerate()
        .map(|(i, a)| affected(a, at_affected.index(i), &source))
        .collect::<Result<Vec<_>, _>>()?;

    let at_refs = root.key("references");
    let mut references = Vec::new();
    for (i, reference) in opt_array(r, "references", root)?.iter().enumerate() {
        let at = at_refs.index(i);
        if let Some(url) = opt_str(object(reference, at)?, "url", at)? {
            references.push(url.to_string());
        }
    }

    Ok(Advisory {
        id: id.to_string(),
        aliases: super::id_list(string_list(r, "aliases", root)?, id),
        related: super::id_list(related, id),
        summary: opt_string(r, "summary", root)?,
        details: opt_string(r, "details", root)?,
        published: opt_string(r, "published", root)?,
        modified: opt_string(r, "modified", root)?,
        withdrawn: opt_string(r, "withdrawn", root)?,
        severity,
        affected,
        references,
        cwes,
        cpe_matches: Vec::new(),
    })
}

/// `severity[]` of a record or of one affected package.
fn severities(
    m: &Map<String, Value>,
    at: Path<'_>,
    source: &str,
) -> Result<Vec<SeverityStatement>, FieldError> {
    let at_sev = at.key("severity");
    let mut out = Vec::new();
    for (i, s) in opt_array(m, "severity", at)?.iter().enumerate() {
        let at = at_sev.index(i);
        let s = object(s, at)?;
        let kind = match req_str(s, "type", at)? {
            "CVSS_V2" => SeverityKind::CvssV2,
            "CVSS_V3" => SeverityKind::CvssV3,
            "CVSS_V4" => SeverityKind::CvssV4,
            // Ubuntu's priority is a word ("medium"), not a vector.
            "Ubuntu" => SeverityKind::Label,
            other => {
                tracing::debug!(kind = other, "OSV severity type not understood; skipped");
                continue;
            }
        };
        out.push(SeverityStatement {
            kind,
            value: req_str(s, "score", at)?.to_string(),
            score: None,
            source: source.to_string(),
        });
    }
    Ok(out)
}

fn affected(a: &Value, at: Path<'_>, source: &str) -> Result<Affected, FieldError> {
    let a = object(a, at)?;
    let (mut ecosystem, mut name, mut purl) = (String::new(), String::new(), None);
    // `package` may be absent when the ranges are GIT ranges of a repository.
    if let Some(package) = opt_object(a, "package", at)? {
        let at = at.key("package");
        ecosystem = opt_str(package, "ecosystem", at)?
            .unwrap_or_default()
            .to_string();
        name = opt_str(package, "name", at)?
            .unwrap_or_default()
            .to_string();
        purl = opt_string(package, "purl", at)?;
    }
    let at_ranges = at.key("ranges");
    let ranges = opt_array(a, "ranges", at)?
        .iter()
        .enumerate()
        .map(|(i, r)| range(r, at_ranges.index(i)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Affected {
        ecosystem,
        name,
        purl,
        ranges,
        versions: string_list(a, "versions", at)?,
        distro_state: None,
        severity: severities(a, at, source)?,
    })
}

fn range(r: &Value, at: Path<'_>) -> Result<AffectedRange, FieldError> {
    let r = object(r, at)?;
    // A range the matcher cannot interpret fails the record rather than being dropped:
    // dropping it would silently narrow what the record says is affected.
    let kind = match req_str(r, "type", at)? {
        "ECOSYSTEM" => RangeKind::Ecosystem,
        "SEMVER" => RangeKind::Semver,
        "GIT" => RangeKind::Git,
        other => {
            return Err(FieldError::new(
                at.key("type"),
                format!("unknown range type {other:?}"),
            ));
        }
    };
    let at_events = at.key("events");
    let mut events = Vec::new();
    for (i, e) in opt_array(r, "events", at)?.iter().enumerate() {
        let at = at_events.index(i);
        let e = object(e, at)?;
        let before = events.len();
        for (key, value) in e {
            let v = string(value, at.key(key))?.to_string();
            events.push(match key.as_str() {
                "introduced" => RangeEvent::Introduced(v),
                "fixed" => RangeEvent::Fixed(v),
                "last_affected" => RangeEvent::LastAffected(v),
                "limit" => RangeEvent::Limit(v),
                other => {
                    return Err(FieldError::new(
                        at.key(other),
                        "unknown range event (expected introduced, fixed, last_affected or limit)",
                    ));
                }
            });
        }
        if events.len() == before {
            return Err(FieldError::new(at, "empty range event"));
        }
    }
    Ok(AffectedRange {
        kind,
        events,
        repo: opt_string(r, "repo", at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_a_ghsa_record() {
        let record = json!({
            "id": "GHSA-aaaa-bbbb-cccc",
            "aliases": ["CVE-2024-2", "CVE-2024-1", "GHSA-aaaa-bbbb-cccc", "CVE-2024-1"],
            "summary": "s",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "npm", "name": "left-pad", "purl": "pkg:npm/left-pad"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]}]
            }],
            "references": [{"type": "WEB", "url": "https://example.com/a"}],
            "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-79", "CWE-79"]}
        });
        let a = normalize(&record).unwrap();
        assert_eq!(a.aliases, ["CVE-2024-1", "CVE-2024-2"]);
        assert_eq!(a.severity.len(), 2);
        assert_eq!(a.severity[0].source, "GitHub");
        assert_eq!(a.severity[1].kind, SeverityKind::Label);
        assert_eq!(a.severity[1].value, "HIGH");
        assert_eq!(a.cwes, ["CWE-79"]);
        assert_eq!(
            a.affected[0].ranges[0].events,
            [
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("1.2.3".into())
            ]
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = normalize(&json!({"id": "X-1", "affected": "x"})).unwrap_err();
        assert_eq!(e.to_string(), "affected: expected an array, found a string");
        let e = normalize(&json!({"id": "X-1", "affected": [{"ranges": 5}]})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "affected[0].ranges: expected an array, found a number"
        );
    }

    #[test]
    fn unknown_range_types_fail_the_record() {
        let r = json!({"id": "X-1", "affected": [{"ranges": [{"type": "DATE", "events": []}]}]});
        assert!(
            normalize(&r)
                .unwrap_err()
                .to_string()
                .contains("unknown range type")
        );
    }
}
