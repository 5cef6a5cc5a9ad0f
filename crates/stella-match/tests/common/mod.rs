//! Builders shared by the integration tests.
#![allow(dead_code)]

use stella_match::{AdvisoryIndex, IndexedAdvisory};
use stella_model::{
    Advisory, Affected, AffectedRange, Distro, DistroState, FeedSource, Package, PackageKind,
    RangeEvent, RangeKind, SeverityKind, SeverityStatement,
};

pub fn s(v: &str) -> String {
    v.to_string()
}

pub fn record(source: FeedSource, advisory: Advisory) -> IndexedAdvisory {
    IndexedAdvisory {
        source,
        upstream_id: advisory.id.clone(),
        observation: format!("sha256:{:0>64}", advisory.id.len()),
        advisory,
    }
}

pub fn index(records: Vec<IndexedAdvisory>) -> AdvisoryIndex {
    AdvisoryIndex::build(s("sha256:snapshot"), records, Vec::new(), Vec::new())
}

pub fn advisory(id: &str, aliases: &[&str], affected: Vec<Affected>) -> Advisory {
    Advisory {
        id: s(id),
        aliases: aliases.iter().map(|a| s(a)).collect(),
        affected,
        ..Default::default()
    }
}

/// An OSV-shaped entry with one range of alternating introduced/fixed events.
pub fn osv_entry(
    ecosystem: &str,
    name: &str,
    kind: RangeKind,
    events: &[(&str, &str)],
) -> Affected {
    Affected {
        ecosystem: s(ecosystem),
        name: s(name),
        ranges: vec![range(kind, events)],
        ..Default::default()
    }
}

pub fn range(kind: RangeKind, events: &[(&str, &str)]) -> AffectedRange {
    AffectedRange {
        kind,
        events: events
            .iter()
            .map(|(k, v)| match *k {
                "introduced" => RangeEvent::Introduced(s(v)),
                "fixed" => RangeEvent::Fixed(s(v)),
                "last_affected" => RangeEvent::LastAffected(s(v)),
                "limit" => RangeEvent::Limit(s(v)),
                other => panic!("unknown event {other}"),
            })
            .collect(),
        repo: None,
    }
}

pub fn tracker_entry(name: &str, release: &str, status: &str) -> Affected {
    Affected {
        ecosystem: s("Debian"),
        name: s(name),
        distro_state: Some(DistroState {
            release: s(release),
            status: s(status),
            urgency: None,
            fixed_version: None,
            nodsa: None,
            nodsa_reason: None,
        }),
        ..Default::default()
    }
}

pub fn cvss(kind: SeverityKind, vector: &str, source: &str) -> SeverityStatement {
    SeverityStatement {
        kind,
        value: s(vector),
        score: None,
        source: s(source),
    }
}

pub fn label(word: &str, source: &str) -> SeverityStatement {
    SeverityStatement {
        kind: SeverityKind::Label,
        value: s(word),
        score: None,
        source: s(source),
    }
}

pub fn package(kind: PackageKind, name: &str, version: &str) -> Package {
    let mut p = Package::new(kind, name, version, "lib/db");
    p.purl = format!("pkg:{}/{}@{}", kind.as_str(), name, version);
    p
}

pub fn deb(name: &str, version: &str, source: &str) -> Package {
    let mut p = package(PackageKind::Deb, name, version);
    p.source_name = Some(s(source));
    p.source_version = Some(s(version));
    p.purl = format!("pkg:deb/debian/{name}@{version}?distro=debian-12");
    p
}

pub fn apk(name: &str, version: &str, origin: &str) -> Package {
    let mut p = package(PackageKind::Apk, name, version);
    p.source_name = Some(s(origin));
    p.purl = format!("pkg:apk/alpine/{name}@{version}");
    p
}

pub fn distro(id: &str, version: Option<&str>, codename: Option<&str>) -> Distro {
    Distro {
        id: s(id),
        version_id: version.map(s),
        codename: codename.map(s),
        source_file: s("etc/os-release"),
        ..Default::default()
    }
}

pub fn bookworm() -> Distro {
    distro("debian", Some("12"), Some("bookworm"))
}

/// Converts an OSV JSON record (as osv.dev publishes it) into the normalized [`Advisory`], for
/// tests with real records. Only what the matcher reads.
pub fn from_osv(v: &serde_json::Value) -> Advisory {
    let str_of = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let severity = |v: Option<&serde_json::Value>| -> Vec<SeverityStatement> {
        v.and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|sev| {
                        let kind = match sev.get("type")?.as_str()? {
                            "CVSS_V2" => SeverityKind::CvssV2,
                            "CVSS_V3" => SeverityKind::CvssV3,
                            "CVSS_V4" => SeverityKind::CvssV4,
                            _ => return None,
                        };
                        Some(cvss(kind, sev.get("score")?.as_str()?, "osv"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let affected = v
        .get("affected")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .map(|aff| {
                    let pkg = aff.get("package");
                    let field = |k: &str| pkg.and_then(|p| p.get(k)).and_then(str_of);
                    Affected {
                        ecosystem: field("ecosystem").unwrap_or_default(),
                        name: field("name").unwrap_or_default(),
                        purl: field("purl"),
                        ranges: aff
                            .get("ranges")
                            .and_then(|r| r.as_array())
                            .map(|rs| {
                                rs.iter()
                                    .filter_map(|r| {
                                        let kind = match r.get("type")?.as_str()? {
                                            "ECOSYSTEM" => RangeKind::Ecosystem,
                                            "SEMVER" => RangeKind::Semver,
                                            "GIT" => RangeKind::Git,
                                            _ => return None,
                                        };
                                        let events = r
                                            .get("events")?
                                            .as_array()?
                                            .iter()
                                            .filter_map(|e| {
                                                let o = e.as_object()?;
                                                let (k, v) = o.iter().next()?;
                                                let v = v.as_str()?.to_string();
                                                Some(match k.as_str() {
                                                    "introduced" => RangeEvent::Introduced(v),
                                                    "fixed" => RangeEvent::Fixed(v),
                                                    "last_affected" => RangeEvent::LastAffected(v),
                                                    "limit" => RangeEvent::Limit(v),
                                                    _ => return None,
                                                })
                                            })
                                            .collect();
                                        Some(AffectedRange {
                                            kind,
                                            events,
                                            repo: r.get("repo").and_then(str_of),
                                        })
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        versions: strings(aff.get("versions")),
                        severity: severity(aff.get("severity")),
                        distro_state: None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Advisory {
        id: v.get("id").and_then(str_of).unwrap_or_default(),
        aliases: strings(v.get("aliases")),
        summary: v.get("summary").and_then(str_of),
        withdrawn: v.get("withdrawn").and_then(str_of),
        severity: severity(v.get("severity")),
        affected,
        references: v
            .get("references")
            .and_then(|r| r.as_array())
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.get("url").and_then(str_of))
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// The records of a `{"path", "record"}` ndjson.zst data set.
pub fn load_ndjson_zst(path: &str) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{path}: {e}"));
    String::from_utf8(text)
        .expect("utf-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v.get("record").cloned().expect("record")
        })
        .collect()
}

pub fn data(rel: &str) -> String {
    format!("{}/../../../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}
