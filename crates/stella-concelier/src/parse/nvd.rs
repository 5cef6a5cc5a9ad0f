//! NVD CVE API 2.0 (<https://nvd.nist.gov/developers/vulnerabilities>): a response page
//! `{resultsPerPage, startIndex, totalResults, format, version, timestamp,
//! vulnerabilities: [{cve: {...}}]}`, a single `{cve: {...}}`, or the bare `cve` object
//! (as mirrors such as vuln-list-nvd store it). One record per CVE; its document is the
//! `cve` object as given.
//!
//! NVD is used for enrichment: its CVSS metrics (each with the source that scored it), its
//! CWEs and, when CPE matching is asked for, its vulnerable CPE criteria. Retired NVD 1.1
//! feeds (`CVE_Items`) are refused with a message that says so.

use super::fields::{
    FieldError, Path, object, opt_array, opt_bool, opt_f64, opt_object, opt_str, opt_string,
    req_str,
};
use super::{Format, ParseError, ParsedRecord, Sink};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use stella_model::{Advisory, CpeMatch, FeedSource, Normalized, SeverityKind, SeverityStatement};

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    super::require_json(FeedSource::Nvd, location, format)?;
    let top = super::raw_entries(FeedSource::Nvd, location, bytes, sink.limits())?;
    let shape = |message: &str| ParseError::Shape {
        name: location.to_string(),
        feed: FeedSource::Nvd,
        message: message.to_string(),
    };
    if let Some(vulnerabilities) = top.get("vulnerabilities") {
        let items: Vec<&RawValue> = serde_json::from_str(vulnerabilities.get())
            .map_err(|_| shape("`vulnerabilities` is not an array"))?;
        for (i, item) in items.into_iter().enumerate() {
            let place = format!("{location}: vulnerabilities[{i}]");
            if sink.oversized(&place, item.get().len()) {
                continue;
            }
            let cve = serde_json::from_str::<Value>(item.get())
                .ok()
                .and_then(|mut v| v.as_object_mut().and_then(|m| m.remove("cve")));
            match cve {
                Some(cve) => record(sink, &place, cve),
                None => sink.error(place, "expected an object with a `cve` object"),
            }
        }
    } else if let Some(cve) = top.get("cve") {
        if sink.oversized(location, cve.get().len()) {
            return Ok(());
        }
        let cve = serde_json::from_str(cve.get())
            .map_err(|e| super::json_error(location, sink.limits().max_json_depth, e))?;
        record(sink, location, cve);
    } else if top.get("id").is_some() {
        if sink.oversized(location, bytes.len()) {
            return Ok(());
        }
        let cve = serde_json::from_slice(bytes)
            .map_err(|e| super::json_error(location, sink.limits().max_json_depth, e))?;
        record(sink, location, cve);
    } else if top.get("CVE_Items").is_some() {
        return Err(ParseError::Unsupported {
            name: location.to_string(),
            message: "this is an NVD 1.1 JSON feed, retired by NVD; use the CVE API 2.0"
                .to_string(),
        });
    } else {
        return Err(shape(
            "expected an API 2.0 response (`vulnerabilities`), a `{cve: …}` object or a cve object",
        ));
    }
    Ok(())
}

fn record(sink: &mut Sink, place: &str, cve: Value) {
    match normalize(&cve) {
        Ok(advisory) => sink.record(
            place,
            ParsedRecord {
                upstream_id: advisory.id.clone(),
                document: cve,
                normalized: Normalized::Advisory(Box::new(advisory)),
            },
        ),
        Err(e) => {
            let place = match cve.get("id").and_then(Value::as_str) {
                Some(id) if !place.ends_with(id) => format!("{place} ({id})"),
                _ => place.to_string(),
            };
            sink.error(place, e.to_string());
        }
    }
}

/// The metric arrays of `cve.metrics`, newest CVSS version first.
const METRICS: &[(&str, SeverityKind)] = &[
    ("cvssMetricV40", SeverityKind::CvssV4),
    ("cvssMetricV31", SeverityKind::CvssV3),
    ("cvssMetricV30", SeverityKind::CvssV3),
    ("cvssMetricV2", SeverityKind::CvssV2),
];

pub(crate) fn normalize(cve: &Value) -> Result<Advisory, FieldError> {
    let root = Path::Root;
    let c = object(cve, root)?;
    let id = req_str(c, "id", root)?;
    if id.trim().is_empty() {
        return Err(FieldError::new(root.key("id"), "empty"));
    }
    let published = opt_string(c, "published", root)?;
    let modified = opt_string(c, "lastModified", root)?;
    let withdrawn = match opt_str(c, "vulnStatus", root)? {
        Some("Rejected") => modified.clone().or_else(|| published.clone()),
        _ => None,
    };

    Ok(Advisory {
        id: id.to_string(),
        details: english(c, "descriptions", root)?,
        published,
        modified,
        withdrawn,
        severity: severities(c, root)?,
        references: references(c, root)?,
        cwes: cwes(c, root)?,
        cpe_matches: cpe_matches(c, root)?,
        ..Advisory::default()
    })
}

/// The first English `{lang, value}` of a list.
fn english(m: &Map<String, Value>, key: &str, at: Path<'_>) -> Result<Option<String>, FieldError> {
    let at_list = at.key(key);
    for (i, d) in opt_array(m, key, at)?.iter().enumerate() {
        let at = at_list.index(i);
        let d = object(d, at)?;
        if opt_str(d, "lang", at)?.is_some_and(|l| l.starts_with("en")) {
            return opt_string(d, "value", at);
        }
    }
    Ok(None)
}

fn severities(
    c: &Map<String, Value>,
    root: Path<'_>,
) -> Result<Vec<SeverityStatement>, FieldError> {
    let mut out = Vec::new();
    let Some(metrics) = opt_object(c, "metrics", root)? else {
        return Ok(out);
    };
    let at_metrics = root.key("metrics");
    for (key, kind) in METRICS {
        let at_list = at_metrics.key(key);
        for (i, metric) in opt_array(metrics, key, at_metrics)?.iter().enumerate() {
            let at = at_list.index(i);
            let metric = object(metric, at)?;
            let source = opt_str(metric, "source", at)?.unwrap_or("nvd").to_string();
            let Some(data) = opt_object(metric, "cvssData", at)? else {
                continue;
            };
            let at_data = at.key("cvssData");
            let Some(vector) = opt_str(data, "vectorString", at_data)? else {
                continue;
            };
            out.push(SeverityStatement {
                kind: *kind,
                value: vector.to_string(),
                score: opt_f64(data, "baseScore", at_data)?,
                source,
            });
        }
    }
    Ok(out)
}

fn references(c: &Map<String, Value>, root: Path<'_>) -> Result<Vec<String>, FieldError> {
    let at_refs = root.key("references");
    let mut out = Vec::new();
    for (i, r) in opt_array(c, "references", root)?.iter().enumerate() {
        let at = at_refs.index(i);
        if let Some(url) = opt_str(object(r, at)?, "url", at)? {
            out.push(url.to_string());
        }
    }
    super::dedup_in_order(&mut out);
    Ok(out)
}

/// `CWE-…` values of `weaknesses[].description[]`; NVD's `NVD-CWE-Other` and
/// `NVD-CWE-noinfo` say there is none.
fn cwes(c: &Map<String, Value>, root: Path<'_>) -> Result<Vec<String>, FieldError> {
    let at_weak = root.key("weaknesses");
    let mut out = Vec::new();
    for (i, w) in opt_array(c, "weaknesses", root)?.iter().enumerate() {
        let at = at_weak.index(i);
        let w = object(w, at)?;
        let at_desc = at.key("description");
        for (j, d) in opt_array(w, "description", at)?.iter().enumerate() {
            let at = at_desc.index(j);
            if let Some(value) = opt_str(object(d, at)?, "value", at)?
                && value.starts_with("CWE-")
            {
                out.push(value.to_string());
            }
        }
    }
    super::dedup_in_order(&mut out);
    Ok(out)
}

/// Vulnerable CPE criteria of `configurations[].nodes[].cpeMatch[]`. Non-vulnerable
/// entries are the platforms of AND configurations ("running on"), not affected products.
fn cpe_matches(c: &Map<String, Value>, root: Path<'_>) -> Result<Vec<CpeMatch>, FieldError> {
    let at_conf = root.key("configurations");
    let mut out: Vec<CpeMatch> = Vec::new();
    for (i, conf) in opt_array(c, "configurations", root)?.iter().enumerate() {
        let at = at_conf.index(i);
        let conf = object(conf, at)?;
        let at_nodes = at.key("nodes");
        for (j, node) in opt_array(conf, "nodes", at)?.iter().enumerate() {
            let at = at_nodes.index(j);
            let node = object(node, at)?;
            let at_matches = at.key("cpeMatch");
            for (k, m) in opt_array(node, "cpeMatch", at)?.iter().enumerate() {
                let at = at_matches.index(k);
                let m = object(m, at)?;
                if opt_bool(m, "vulnerable", at)? != Some(true) {
                    continue;
                }
                let cpe = CpeMatch {
                    criteria: req_str(m, "criteria", at)?.to_string(),
                    version_start_including: opt_string(m, "versionStartIncluding", at)?,
                    version_start_excluding: opt_string(m, "versionStartExcluding", at)?,
                    version_end_including: opt_string(m, "versionEndIncluding", at)?,
                    version_end_excluding: opt_string(m, "versionEndExcluding", at)?,
                };
                if !out.contains(&cpe) {
                    out.push(cpe);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejected_cves_are_withdrawn_at_their_last_modification() {
        let cve = json!({
            "id": "CVE-2020-0001", "vulnStatus": "Rejected",
            "published": "2020-01-01T00:00:00.000", "lastModified": "2021-01-01T00:00:00.000",
            "descriptions": [{"lang": "es", "value": "no"}, {"lang": "en", "value": "yes"}]
        });
        let a = normalize(&cve).unwrap();
        assert_eq!(a.withdrawn.as_deref(), Some("2021-01-01T00:00:00.000"));
        assert_eq!(a.details.as_deref(), Some("yes"));
        assert_eq!(a.summary, None);
    }

    #[test]
    fn only_vulnerable_cpe_criteria_are_kept() {
        let cve = json!({"id": "CVE-1", "configurations": [{"nodes": [{"cpeMatch": [
            {"vulnerable": true, "criteria": "cpe:2.3:a:x:y:*:*:*:*:*:*:*:*", "versionEndExcluding": "2"},
            {"vulnerable": false, "criteria": "cpe:2.3:o:x:os:-:*:*:*:*:*:*:*"}
        ]}]}]});
        let a = normalize(&cve).unwrap();
        assert_eq!(a.cpe_matches.len(), 1);
        assert_eq!(a.cpe_matches[0].version_end_excluding.as_deref(), Some("2"));
    }
}
