//! Findings: an installed package matched to an advisory, with everything needed to explain
//! the match and to rank it.

use crate::{Digest, EpssScore, FeedSource, PackageKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Qualitative severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The CVSS v3/v4 qualitative rating of a base score (FIRST's table: 0 none, 0.1-3.9 low,
    /// 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical). A score of 0 maps to negligible.
    pub fn from_cvss_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Negligible
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}; expected one of unknown, negligible, low, medium, high, critical")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// One severity rating of a finding, as one source gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Who rated: `nvd@nist.gov`, `GitHub`, `debian`, ….
    pub source: String,
    /// `CVSSv2`, `CVSSv31`, `CVSSv4` (CycloneDX's method names) or `other` for a word.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// Base score computed from the vector (not copied from upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub severity: Severity,
}

/// Whether a fix exists for the installed package's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    /// A fixed version exists; `fixed_versions` lists it.
    Fixed,
    /// No fix is known.
    NotFixed,
    /// The distribution decided not to fix (Debian `no-dsa` / `ignored`, `end-of-life`).
    WontFix,
}

/// The package a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPackage {
    pub kind: PackageKind,
    pub name: String,
    /// The installed version, as the package database wrote it.
    pub version: String,
    pub purl: String,
    /// The source (Debian) or origin (Alpine) package the advisory names, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
}

/// One upstream record that contributed to a match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MatchedRecord {
    pub source: FeedSource,
    /// The upstream id of the record (`GHSA-…`, `CVE-…`).
    pub upstream_id: String,
    /// Content hash of the raw observation (`sha256:…`), so the exact record can be shown.
    pub observation: String,
    /// Ecosystem and package as the record names them.
    pub ecosystem: String,
    pub package: String,
}

/// One version comparison made while matching: `installed op bound` evaluated to `holds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub installed: String,
    /// `>=`, `<`, `<=`, `==`.
    pub op: String,
    pub bound: String,
    pub holds: bool,
}

/// Why a package matched: the records, the ranges and each comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MatchEvidence {
    /// `osv-range`, `osv-versions`, `debian-tracker`, `alpine-secdb`, `nvd-cpe`.
    pub method: String,
    pub records: Vec<MatchedRecord>,
    /// Each range that matched, written out (`ECOSYSTEM: introduced 0, fixed 2.0.1`,
    /// `bookworm: open`).
    pub ranges: Vec<String>,
    pub comparisons: Vec<Comparison>,
}

/// A vulnerability found in an installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `VULNERABILITY@PURL`: what `stella explain` takes.
    pub id: String,
    /// The preferred id: the CVE when there is one, else the advisory's id.
    pub vulnerability: String,
    /// Every other id of the linkset (GHSA, DSA, PYSEC, …), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub package: FindingPackage,
    pub fix_state: FixState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_versions: Vec<String>,
    /// The severity used for `--severity` and `--fail-on`.
    pub severity: Severity,
    /// Who gave `severity`.
    pub severity_source: String,
    /// Every rating known for the vulnerability, one per source and method, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<Rating>,
    /// Listed in CISA's Known Exploited Vulnerabilities catalog.
    pub kev: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssScore>,
    /// The layer that introduced the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Digest>,
    /// Where the package was found (its database or manifest) and the files it owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The advisory snapshot the match was made against.
    pub snapshot: String,
    pub evidence: MatchEvidence,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

impl Finding {
    /// The id `stella explain` takes for a vulnerability in a package.
    pub fn make_id(vulnerability: &str, purl: &str) -> String {
        format!("{vulnerability}@{purl}")
    }

    /// Sort key that makes finding lists deterministic: package, then vulnerability.
    pub fn sort_key(&self) -> (&str, &str) {
        (&self.package.purl, &self.vulnerability)
    }
}

/// The findings of one scan and the advisory snapshot they were matched against.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScanFindings {
    /// Snapshot id of the advisory store (`sha256:…`), recorded in every output.
    pub snapshot: String,
    /// Findings sorted by [`Finding::sort_key`].
    pub findings: Vec<Finding>,
}
