//! Advisories in Stella's normalized shape, which is the OSV schema's shape.
//!
//! Connectors turn each upstream document (an OSV record, one CVE of the Debian tracker, one
//! package of an Alpine secdb, an NVD CVE, a CSAF advisory, …) into an [`Advisory`]. Facts that
//! only some feeds have (the Debian tracker's per-release states, NVD's CPE configurations)
//! live in optional fields so that nothing the matcher needs is lost in translation. Exploit
//! intelligence that is not an advisory (CISA KEV entries, FIRST EPSS scores) has its own
//! types, [`KevEntry`] and [`EpssScore`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The upstream feeds Concelier reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedSource {
    /// OSV records (osv.dev's per-ecosystem `all.zip`, or single records).
    Osv,
    /// The Debian security tracker's JSON export.
    Debian,
    /// Alpine secdb (`v3.N/main.json`, `community.json`).
    Alpine,
    /// NVD CVE API 2.0.
    Nvd,
    /// CVE JSON 5 records (cvelistV5, vulnrichment).
    Cve5,
    /// CSAF 2.0 advisories.
    Csaf,
    /// CISA Known Exploited Vulnerabilities catalog.
    Kev,
    /// FIRST EPSS scores.
    Epss,
}

impl FeedSource {
    pub const ALL: [FeedSource; 8] = [
        FeedSource::Osv,
        FeedSource::Debian,
        FeedSource::Alpine,
        FeedSource::Nvd,
        FeedSource::Cve5,
        FeedSource::Csaf,
        FeedSource::Kev,
        FeedSource::Epss,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedSource::Osv => "osv",
            FeedSource::Debian => "debian",
            FeedSource::Alpine => "alpine",
            FeedSource::Nvd => "nvd",
            FeedSource::Cve5 => "cve5",
            FeedSource::Csaf => "csaf",
            FeedSource::Kev => "kev",
            FeedSource::Epss => "epss",
        }
    }
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown feed source {0:?}; known sources: osv, debian, alpine, nvd, cve5, csaf, kev, epss"
)]
pub struct UnknownFeedSource(pub String);

impl FromStr for FeedSource {
    type Err = UnknownFeedSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FeedSource::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFeedSource(s.to_string()))
    }
}

/// One advisory in the normalized (OSV-shaped) form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The upstream id: `GHSA-…`, `PYSEC-…`, `CVE-…` (Debian tracker, NVD, CVE5), `DSA-…`,
    /// `RHSA-…` (CSAF). Alpine secdb and the Debian tracker are keyed by CVE.
    pub id: String,
    /// Other ids for the same vulnerability (OSV `aliases`; the CVE of a single-vulnerability
    /// CSAF advisory). Sorted, without `id` itself. Linksets are joined through these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids this record mentions that are *not* the same vulnerability (OSV `related`, the CVEs
    /// of a CSAF advisory or DSA that fixes several). Never joined into a linkset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// RFC 3339 times as upstream wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Set when upstream withdrew the record; withdrawn advisories never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Severities the record states, each with who said it. Never merged across sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityStatement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// Reference URLs, in upstream order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// CWE ids (`CWE-79`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
    /// NVD CPE match criteria; used only when CPE matching is asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpe_matches: Vec<CpeMatch>,
}

/// A severity as one source states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityStatement {
    pub kind: SeverityKind,
    /// A CVSS vector (`CVSS:3.1/AV:N/…`) for CVSS kinds, or the upstream's word for
    /// [`SeverityKind::Label`] (`high`, `Important`, `unimportant`, …).
    pub value: String,
    /// The base score when upstream states one (NVD, CSAF, CVE5); for vectors, the matcher
    /// computes it again from the vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Who said it: `nvd@nist.gov`, `GitHub`, `debian`, `CISA-ADP`, the CNA, ….
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SeverityKind {
    #[serde(rename = "CVSS_V2")]
    CvssV2,
    #[serde(rename = "CVSS_V3")]
    CvssV3,
    #[serde(rename = "CVSS_V4")]
    CvssV4,
    /// A word, not a vector (Debian urgency, GHSA database_specific severity, CSAF
    /// aggregate severity).
    #[serde(rename = "LABEL")]
    Label,
}

/// One affected package of an advisory (OSV `affected[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem, with the release for distributions: `PyPI`, `npm`, `Debian:12`,
    /// `Alpine:v3.20`.
    pub ecosystem: String,
    /// Package name as the ecosystem spells it; for Debian the source package, for Alpine the
    /// origin package.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<AffectedRange>,
    /// Explicitly listed affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Distribution tracker state for this package and release, when the feed has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro_state: Option<DistroState>,
    /// Per-package severities (OSV `affected[].severity`, Debian urgency).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityStatement>,
}

/// OSV `ranges[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedRange {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    pub events: Vec<RangeEvent>,
    /// Git ranges name a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    Ecosystem,
    Semver,
    Git,
}

/// OSV range events, in upstream order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl RangeEvent {
    pub fn version(&self) -> &str {
        match self {
            RangeEvent::Introduced(v)
            | RangeEvent::Fixed(v)
            | RangeEvent::LastAffected(v)
            | RangeEvent::Limit(v) => v,
        }
    }
}

/// The Debian security tracker's view of one CVE in one source package in one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistroState {
    /// Release codename: `bookworm`.
    pub release: String,
    /// Tracker `status`: `resolved`, `open`, `undetermined`.
    pub status: String,
    /// Tracker `urgency`: `low`, `medium`, `high`, `unimportant`, `not yet assigned`,
    /// `end-of-life`, with `*` suffixes kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// `fixed_version`; `0` means the release was never affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// `nodsa` / `nodsa_reason` when set (`postponed`, `ignored`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodsa: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodsa_reason: Option<String>,
}

/// One NVD CPE match criterion (`configurations[].nodes[].cpeMatch[]`) that is vulnerable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpeMatch {
    /// CPE 2.3 formatted string.
    pub criteria: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_start_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_start_excluding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_excluding: Option<String>,
}

/// One entry of the CISA Known Exploited Vulnerabilities catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve: String,
    pub vendor_project: String,
    pub product: String,
    pub name: String,
    pub date_added: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// `Known` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_ransomware_campaign_use: Option<String>,
}

/// One FIRST EPSS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    pub cve: String,
    /// Probability of exploitation activity in the next 30 days, 0 to 1.
    pub epss: f64,
    /// Percentile among all scored CVEs, 0 to 1.
    pub percentile: f64,
    /// `score_date` from the file header (RFC 3339), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

/// What one upstream record normalizes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Normalized {
    Advisory(Box<Advisory>),
    Kev(KevEntry),
    Epss(EpssScore),
}

impl Normalized {
    /// The id this record is about (advisory id, or the CVE for KEV and EPSS).
    pub fn id(&self) -> &str {
        match self {
            Normalized::Advisory(a) => &a.id,
            Normalized::Kev(k) => &k.cve,
            Normalized::Epss(e) => &e.cve,
        }
    }
}
