//! CISA Known Exploited Vulnerabilities catalog
//! (`known_exploited_vulnerabilities.json`): `{title, catalogVersion, dateReleased, count,
//! vulnerabilities: [{cveID, vendorProject, product, vulnerabilityName, dateAdded,
//! shortDescription, requiredAction, dueDate, knownRansomwareCampaignUse, notes, cwes}]}`.
//! One record per CVE; its document is the catalog entry. A lone entry (one file per CVE,
//! as vunnel stores them) is read too.

use super::fields::{FieldError, Path, object, opt_string, req_str};
use super::{Format, ParseError, ParsedRecord, Sink};
use serde_json::Value;
use serde_json::value::RawValue;
use stella_model::{FeedSource, KevEntry, Normalized};

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    super::require_json(FeedSource::Kev, location, format)?;
    let top = super::raw_entries(FeedSource::Kev, location, bytes, sink.limits())?;
    // A single catalog entry, as mirrors that store one file per CVE keep it.
    if top.get("vulnerabilities").is_none() && top.get("cveID").is_some() {
        if !sink.oversized(location, bytes.len()) {
            let document = serde_json::from_slice(bytes)
                .map_err(|e| super::json_error(location, sink.limits().max_json_depth, e))?;
            record(sink, location, document);
        }
        return Ok(());
    }
    let items: Vec<&RawValue> = top
        .get("vulnerabilities")
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .ok_or_else(|| ParseError::Shape {
            name: location.to_string(),
            feed: FeedSource::Kev,
            message: "expected a catalog with a `vulnerabilities` array, or one catalog entry"
                .to_string(),
        })?;
    for (i, item) in items.into_iter().enumerate() {
        let place = format!("{location}: vulnerabilities[{i}]");
        if sink.oversized(&place, item.get().len()) {
            continue;
        }
        let document: Value = match serde_json::from_str(item.get()) {
            Ok(v) => v,
            Err(e) => {
                sink.error(place, e.to_string());
                continue;
            }
        };
        record(sink, &place, document);
    }
    Ok(())
}

fn record(sink: &mut Sink, place: &str, document: Value) {
    match normalize(&document) {
        Ok(entry) => sink.record(
            place,
            ParsedRecord {
                upstream_id: entry.cve.clone(),
                document,
                normalized: Normalized::Kev(entry),
            },
        ),
        Err(e) => sink.error(place, e.to_string()),
    }
}

pub(crate) fn normalize(entry: &Value) -> Result<KevEntry, FieldError> {
    let root = Path::Root;
    let e = object(entry, root)?;
    let cve = req_str(e, "cveID", root)?;
    if cve.trim().is_empty() {
        return Err(FieldError::new(root.key("cveID"), "empty"));
    }
    Ok(KevEntry {
        cve: cve.to_string(),
        vendor_project: req_str(e, "vendorProject", root)?.to_string(),
        product: req_str(e, "product", root)?.to_string(),
        name: req_str(e, "vulnerabilityName", root)?.to_string(),
        date_added: req_str(e, "dateAdded", root)?.to_string(),
        due_date: opt_string(e, "dueDate", root)?,
        known_ransomware_campaign_use: opt_string(e, "knownRansomwareCampaignUse", root)?,
    })
}
