//! CVE JSON 5 records (cvelistV5, CISA vulnrichment): `{dataType: "CVE_RECORD",
//! dataVersion, cveMetadata: {cveId, state, datePublished, dateUpdated}, containers: {cna,
//! adp: [...]}}`, one per file (zips of them are unpacked by the container layer).
//!
//! CVE records are for enrichment: titles, descriptions, CVSS from the CNA and from ADPs
//! (CISA-ADP scores many CVEs the CNA did not), CWEs and references. The `affected` list of
//! a CNA names products in its own words; it becomes an OSV `affected` entry only when the
//! entry names a package unambiguously (a CVE 5.2 `packageURL`, or a `packageName` with the
//! `collectionURL` of PyPI, npm, Maven Central, the Go proxy, crates.io, Packagist,
//! RubyGems or NuGet) and states versions in the `version`/`lessThan` form.

use super::fields::{
    FieldError, Path, object, opt_array, opt_f64, opt_object, opt_str, opt_string, req_str,
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
    super::require_json(FeedSource::Cve5, location, format)?;
    if sink.oversized(location, bytes.len()) {
        return Ok(());
    }
    let document = super::load_value(location, format, bytes, sink.limits())?;
    if document.get("cveMetadata").is_none() {
        return Err(ParseError::Shape {
            name: location.to_string(),
            feed: FeedSource::Cve5,
            message: "expected a CVE record object with `cveMetadata`".to_string(),
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

/// The CVSS objects of a `metrics[]` entry, newest version first.
const CVSS: &[(&str, SeverityKind)] = &[
    ("cvssV4_0", SeverityKind::CvssV4),
    ("cvssV3_1", SeverityKind::CvssV3),
    ("cvssV3_0", SeverityKind::CvssV3),
    ("cvssV2_0", SeverityKind::CvssV2),
];

pub(crate) fn normalize(record: &Value) -> Result<Advisory, FieldError> {
    let root = Path::Root;
    let r = object(record, root)?;
    let at_meta = root.key("cveMetadata");
    let meta =
        opt_object(r, "cveMetadata", root)?.ok_or_else(|| FieldError::new(at_meta, "missing"))?;
    let id = req_str(meta, "cveId", at_meta)?;
    if id.trim().is_empty() {
        return Err(FieldError::new(at_meta.key("cveId"), "empty"));
    }
    let published = opt_string(meta, "datePublished", at_meta)?;
    let modified = opt_string(meta, "dateUpdated", at_meta)?;
    let withdrawn = match opt_str(meta, "state", at_meta)? {
        Some("REJECTED") => modified
            .clone()
            .or(opt_string(meta, "dateRejected", at_meta)?)
            .or_else(|| published.clone()),
        _ => None,
    };

    let at_containers = root.key("containers");
    let containers = opt_object(r, "containers", root)?;
    let empty = Map::new();
    let containers = containers.unwrap_or(&empty);
    let at_cna = at_containers.key("cna");
    let cna = opt_object(containers, "cna", at_containers)?.unwrap_or(&empty);
    let at_adps = at_containers.key("adp");
    let adps = opt_array(containers, "adp", at_containers)?;

    let mut advisory = Advisory {
        id: id.to_string(),
        summary: opt_string(cna, "title", at_cna)?,
        details: match english(cna, "descriptions", at_cna)? {
            Some(d) => Some(d),
            None => english(cna, "rejectedReasons", at_cna)?,
        },
        published,
        modified,
        withdrawn,
        ..Advisory::default()
    };
    container(&mut advisory, cna, at_cna, "cna")?;
    for (i, adp) in adps.iter().enumerate() {
        let at = at_adps.index(i);
        container(&mut advisory, object(adp, at)?, at, "adp")?;
    }
    super::dedup_in_order(&mut advisory.cwes);
    super::dedup_in_order(&mut advisory.references);
    advisory.severity.dedup();

    let at_affected = at_cna.key("affected");
    for (i, a) in opt_array(cna, "affected", at_cna)?.iter().enumerate() {
        if let Some(a) = affected(a, at_affected.index(i))? {
            advisory.affected.push(a);
        }
    }
    Ok(advisory)
}

/// The first English `{lang, value}` of a list (`en`, `en-US`, …).
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

/// Severities, CWEs and references of one container (the CNA's or an ADP's), each
/// severity credited to the container's provider.
fn container(
    advisory: &mut Advisory,
    c: &Map<String, Value>,
    at: Path<'_>,
    fallback_source: &str,
) -> Result<(), FieldError> {
    let source = match opt_object(c, "providerMetadata", at)? {
        Some(p) => {
            let at = at.key("providerMetadata");
            opt_str(p, "shortName", at)?
                .or(opt_str(p, "orgId", at)?)
                .unwrap_or(fallback_source)
                .to_string()
        }
        None => fallback_source.to_string(),
    };
    let at_metrics = at.key("metrics");
    for (i, metric) in opt_array(c, "metrics", at)?.iter().enumerate() {
        let at = at_metrics.index(i);
        let metric = object(metric, at)?;
        for (key, kind) in CVSS {
            let Some(cvss) = opt_object(metric, key, at)? else {
                continue;
            };
            let at = at.key(key);
            let Some(vector) = opt_str(cvss, "vectorString", at)? else {
                continue;
            };
            advisory.severity.push(SeverityStatement {
                kind: *kind,
                value: vector.to_string(),
                score: opt_f64(cvss, "baseScore", at)?,
                source: source.clone(),
            });
        }
    }
    let at_types = at.key("problemTypes");
    for (i, problem) in opt_array(c, "problemTypes", at)?.iter().enumerate() {
        let at = at_types.index(i);
        let problem = object(problem, at)?;
        let at_desc = at.key("descriptions");
        for (j, d) in opt_array(problem, "descriptions", at)?.iter().enumerate() {
            let at = at_desc.index(j);
            let d = object(d, at)?;
            let cwe = match opt_str(d, "cweId", at)? {
                Some(cwe) => Some(cwe.to_string()),
                // Older records put the CWE only in the text: "CWE-79 Cross-site Scripting".
                None => opt_str(d, "description", at)?
                    .and_then(|text| text.split_whitespace().next())
                    .map(|w| w.trim_end_matches([':', ',']).to_string())
                    .filter(|w| {
                        w.strip_prefix("CWE-")
                            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                    }),
            };
            advisory.cwes.extend(cwe);
        }
    }
    let at_refs = at.key("references");
    for (i, r) in opt_array(c, "references", at)?.iter().enumerate() {
        let at = at_refs.index(i);
        if let Some(url) = opt_str(object(r, at)?, "url", at)? {
            advisory.references.push(url.to_string());
        }
    }
    Ok(())
}

/// The OSV ecosystem of a package registry named by `collectionURL`.
fn registry_ecosystem(url: &str) -> Option<&'static str> {
    let host_path = url
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    Some(match host_path.as_str() {
        "pypi.org" | "pypi.python.org" | "pypi.org/simple" | "pypi.python.org/simple" => "PyPI",
        "registry.npmjs.org" | "www.npmjs.com" | "npmjs.com" => "npm",
        "repo.maven.apache.org/maven2" | "repo1.maven.org/maven2" | "central.sonatype.com" => {
            "Maven"
        }
        "pkg.go.dev" | "proxy.golang.org" => "Go",
        "crates.io" | "crates.io/crates" => "crates.io",
        "packagist.org" => "Packagist",
        "rubygems.org" | "rubygems.org/gems" => "RubyGems",
        "www.nuget.org" | "nuget.org" | "api.nuget.org/v3/index.json" => "NuGet",
        _ => return None,
    })
}

/// Version words that mean "from the beginning" or "unknown" rather than a version.
fn unbounded(v: &str) -> bool {
    matches!(
        v.trim(),
        "" | "0" | "*" | "n/a" | "N/A" | "unspecified" | "-"
    )
}

/// One CNA `affected[]` entry as an OSV affected package, when it can be read as one.
fn affected(a: &Value, at: Path<'_>) -> Result<Option<Affected>, FieldError> {
    let a = object(a, at)?;
    // CVE 5.2's `packageURL` names the package outright; before it, a registry URL and a
    // package name together do.
    let (ecosystem, name, purl) = match opt_str(a, "packageURL", at)? {
        Some(purl) => match super::csaf::purl_package(purl) {
            Some(p) => (p.ecosystem, p.name, Some(p.purl)),
            None => return Ok(None),
        },
        None => {
            let (Some(url), Some(name)) = (
                opt_str(a, "collectionURL", at)?,
                opt_str(a, "packageName", at)?,
            ) else {
                return Ok(None);
            };
            match registry_ecosystem(url) {
                Some(ecosystem) => (ecosystem.to_string(), name.to_string(), None),
                None => return Ok(None),
            }
        }
    };
    // With defaultStatus "affected", the list says which versions are *not* affected, a
    // shape OSV ranges can only express by inverting it; such entries are left out.
    if opt_str(a, "defaultStatus", at)? == Some("affected") {
        return Ok(None);
    }
    let mut ranges = Vec::new();
    let mut versions = Vec::new();
    let at_versions = at.key("versions");
    for (i, v) in opt_array(a, "versions", at)?.iter().enumerate() {
        let at = at_versions.index(i);
        let v = object(v, at)?;
        if opt_str(v, "status", at)? != Some("affected") {
            continue;
        }
        let version = opt_str(v, "version", at)?.unwrap_or("0");
        let introduced = if unbounded(version) { "0" } else { version };
        let end = match (
            opt_str(v, "lessThan", at)?,
            opt_str(v, "lessThanOrEqual", at)?,
        ) {
            (Some(lt), _) if !unbounded(lt) => Some(RangeEvent::Fixed(lt.to_string())),
            (_, Some(le)) if !unbounded(le) => Some(RangeEvent::LastAffected(le.to_string())),
            (Some(_), _) | (_, Some(_)) => None,
            (None, None) => {
                if !unbounded(version) {
                    versions.push(version.to_string());
                }
                continue;
            }
        };
        let mut events = vec![RangeEvent::Introduced(introduced.to_string())];
        events.extend(end);
        ranges.push(AffectedRange {
            kind: RangeKind::Ecosystem,
            events,
            repo: None,
        });
    }
    if ranges.is_empty() && versions.is_empty() {
        return Ok(None);
    }
    Ok(Some(Affected {
        ecosystem,
        name,
        purl,
        ranges,
        versions,
        ..Affected::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_packages_become_affected_entries() {
        let record = json!({
            "dataType": "CVE_RECORD",
            "cveMetadata": {"cveId": "CVE-2023-47037", "state": "PUBLISHED"},
            "containers": {"cna": {
                "providerMetadata": {"shortName": "apache"},
                "affected": [
                    {"vendor": "Apache", "product": "Airflow", "packageName": "apache-airflow",
                     "collectionURL": "https://pypi.python.org", "defaultStatus": "unaffected",
                     "versions": [{"status": "affected", "version": "0", "lessThan": "2.7.3", "versionType": "semver"}]},
                    {"vendor": "X", "product": "Y", "versions": [{"status": "affected", "version": "1"}]}
                ]
            }}
        });
        let a = normalize(&record).unwrap();
        assert_eq!(a.affected.len(), 1);
        assert_eq!(a.affected[0].ecosystem, "PyPI");
        assert_eq!(
            a.affected[0].ranges[0].events,
            [
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("2.7.3".into())
            ]
        );
    }

    #[test]
    fn package_urls_name_the_package() {
        let record = json!({
            "cveMetadata": {"cveId": "CVE-2025-1"},
            "containers": {"cna": {"affected": [{
                "packageURL": "pkg:maven/org.example/lib", "defaultStatus": "unaffected",
                "versions": [{"status": "affected", "version": "1.0", "lessThanOrEqual": "1.4"}]
            }]}}
        });
        let a = normalize(&record).unwrap();
        assert_eq!(a.affected[0].ecosystem, "Maven");
        assert_eq!(a.affected[0].name, "org.example:lib");
        assert_eq!(
            a.affected[0].purl.as_deref(),
            Some("pkg:maven/org.example/lib")
        );
        assert_eq!(
            a.affected[0].ranges[0].events,
            [
                RangeEvent::Introduced("1.0".into()),
                RangeEvent::LastAffected("1.4".into())
            ]
        );
    }

    #[test]
    fn rejected_records_are_withdrawn() {
        let record = json!({
            "cveMetadata": {"cveId": "CVE-1", "state": "REJECTED", "dateUpdated": "2024-01-02"},
            "containers": {"cna": {"rejectedReasons": [{"lang": "en", "value": "dup"}]}}
        });
        let a = normalize(&record).unwrap();
        assert_eq!(a.withdrawn.as_deref(), Some("2024-01-02"));
        assert_eq!(a.details.as_deref(), Some("dup"));
    }
}
