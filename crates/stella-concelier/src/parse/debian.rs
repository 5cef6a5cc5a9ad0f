//! The Debian security tracker's JSON export (`/tracker/data/json`, about 70 MB):
//! `{ "<source package>": { "<CVE or TEMP id>": { description, scope, debianbug,
//! releases: { "<codename>": { status, repositories, fixed_version, urgency, nodsa,
//! nodsa_reason } } } } }`.
//!
//! The document is keyed by package, the records by vulnerability: one record per id,
//! whose document is `{ "<package>": { "<id>": <entry> } }` for every package the id
//! appears under (packages sorted). Entries are first held as raw JSON slices of the input
//! and read one at a time, so that no second copy of the whole tracker is built and a
//! malformed entry costs only itself.

use super::{Format, ParseError, ParsedRecord, RawEntries, Sink};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use stella_model::{
    Advisory, Affected, AffectedRange, DistroState, FeedSource, Normalized, RangeEvent, RangeKind,
    SeverityKind, SeverityStatement,
};

/// Debian codenames to release numbers, as OSV's `Debian:<N>` ecosystems spell them.
const RELEASES: &[(&str, &str)] = &[
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// The OSV ecosystem of a tracker release: `Debian:12`, `Debian:sid`, and
/// `Debian:<codename>` for a codename this table does not know yet.
pub(crate) fn ecosystem(codename: &str) -> String {
    match RELEASES.iter().find(|(c, _)| *c == codename) {
        Some((_, number)) => format!("Debian:{number}"),
        None => format!("Debian:{codename}"),
    }
}

/// One tracker entry, as far as the normalized record needs it.
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "releases")]
    releases: Vec<(String, Release)>,
}

#[derive(Deserialize)]
struct Release {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// `releases` is an object, except that the tracker writes an entry with no releases as
/// `[]` (PHP-style empty array).
fn releases<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Release)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, Release)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of releases")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, Release>()? {
                out.push(entry);
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            match seq.next_element::<de::IgnoredAny>()? {
                None => Ok(Vec::new()),
                Some(_) => Err(de::Error::invalid_type(de::Unexpected::Seq, &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    super::require_json(FeedSource::Debian, location, format)?;
    let packages = super::raw_entries(FeedSource::Debian, location, bytes, sink.limits())?;

    // id → package → raw entry; BTreeMaps give the sorted order records and documents need.
    let mut by_id: BTreeMap<String, BTreeMap<String, &RawValue>> = BTreeMap::new();
    for (package, raw) in packages.0 {
        let entries: RawEntries = match serde_json::from_str(raw.get()) {
            Ok(entries) => entries,
            Err(e) => {
                sink.error(
                    format!("{location}: package {package}"),
                    format!("expected an object of vulnerability ids: {e}"),
                );
                continue;
            }
        };
        for (id, entry) in entries.0 {
            let place = format!("{location}: {id} in package {package}");
            if sink.oversized(&place, entry.get().len()) {
                continue;
            }
            if by_id
                .entry(id)
                .or_default()
                .insert(package.clone(), entry)
                .is_some()
            {
                sink.error(place, "listed twice; keeping the last one");
            }
        }
    }

    for (id, packages) in by_id {
        let mut document = Map::new();
        let mut advisory = Advisory {
            id: id.clone(),
            ..Advisory::default()
        };
        for (package, raw) in packages {
            let place = format!("{location}: {id} in package {package}");
            let entry: Entry = match serde_json::from_str(raw.get()) {
                Ok(entry) => entry,
                Err(e) => {
                    // The rest of the id's packages still make a record; this package is
                    // left out of both its document and its meaning.
                    sink.error(place, e.to_string());
                    continue;
                }
            };
            let value: Value = match serde_json::from_str(raw.get()) {
                Ok(value) => value,
                Err(e) => {
                    sink.error(place, e.to_string());
                    continue;
                }
            };
            if advisory.summary.is_none() {
                advisory.summary = entry.description.filter(|d| !d.trim().is_empty());
            }
            let mut releases = entry.releases;
            releases.sort_by(|a, b| a.0.cmp(&b.0));
            for (codename, release) in releases {
                advisory
                    .affected
                    .push(affected(&package, codename, release));
            }
            let mut slice = Map::new();
            slice.insert(id.clone(), value);
            document.insert(package, Value::Object(slice));
        }
        if document.is_empty() {
            continue;
        }
        sink.record(
            location,
            ParsedRecord {
                upstream_id: id,
                document: Value::Object(document),
                normalized: Normalized::Advisory(Box::new(advisory)),
            },
        );
    }
    Ok(())
}

/// The tracker's state of one package in one release.
fn affected(package: &str, codename: String, release: Release) -> Affected {
    let ranges = match (release.status.as_str(), release.fixed_version.as_deref()) {
        // Fixed version "0": the release never had the vulnerable code.
        ("resolved", Some("0")) => Vec::new(),
        ("resolved", Some(fixed)) => vec![range(vec![
            RangeEvent::Introduced("0".into()),
            RangeEvent::Fixed(fixed.to_string()),
        ])],
        ("open" | "undetermined", _) => vec![range(vec![RangeEvent::Introduced("0".into())])],
        // Resolved without a version, or a status this parser does not know: the state says
        // what the tracker said, and no range claims more.
        _ => Vec::new(),
    };
    let severity = release
        .urgency
        .as_deref()
        .filter(|u| !u.trim().is_empty() && *u != "not yet assigned")
        .map(|u| SeverityStatement {
            kind: SeverityKind::Label,
            value: u.to_string(),
            score: None,
            source: "debian".to_string(),
        })
        .into_iter()
        .collect();
    Affected {
        ecosystem: ecosystem(&codename),
        name: package.to_string(),
        purl: None,
        ranges,
        versions: Vec::new(),
        distro_state: Some(DistroState {
            release: codename,
            status: release.status,
            urgency: release.urgency,
            fixed_version: release.fixed_version,
            nodsa: release.nodsa,
            nodsa_reason: release.nodsa_reason,
        }),
        severity,
    }
}

fn range(events: Vec<RangeEvent>) -> AffectedRange {
    AffectedRange {
        kind: RangeKind::Ecosystem,
        events,
        repo: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codenames_map_to_osv_ecosystems() {
        assert_eq!(ecosystem("bookworm"), "Debian:12");
        assert_eq!(ecosystem("buzz"), "Debian:1.1");
        assert_eq!(ecosystem("sid"), "Debian:sid");
        assert_eq!(ecosystem("zebra"), "Debian:zebra");
    }

    #[test]
    fn empty_release_arrays_read_as_no_releases() {
        let e: Entry = serde_json::from_str(r#"{"releases": []}"#).unwrap();
        assert!(e.releases.is_empty());
        assert!(serde_json::from_str::<Entry>(r#"{"releases": [1]}"#).is_err());
    }
}
