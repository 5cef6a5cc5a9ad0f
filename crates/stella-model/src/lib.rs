//! Stella's domain types, shared by every other crate.
//!
//! This crate holds the nouns of the system and nothing that does I/O: content digests
//! ([`Digest`]), the description of a scanned image ([`ImageInfo`], [`LayerInfo`]), the
//! operating system found in it ([`Distro`]), the packages found in it ([`Package`]) and the
//! whole result of an inventory scan ([`Inventory`]), advisories in their normalized OSV shape
//! ([`Advisory`]) and the findings that match them to packages ([`Finding`]). It also owns canonical JSON (RFC 8785)
//! and the content hashing built on it, so that every crate derives identifiers the same way.
//!
//! Collections in these types are kept sorted by the code that builds them (see
//! [`Inventory::normalize`]) so that serialising the same inventory twice gives the same bytes.

mod advisory;
mod digest;
mod distro;
mod finding;
mod linkset;
mod package;
mod purl;

pub use advisory::{
    Advisory, Affected, AffectedRange, CpeMatch, DistroState, EpssScore, FeedSource, KevEntry,
    Normalized, RangeEvent, RangeKind, SeverityKind, SeverityStatement, UnknownFeedSource,
};
pub use digest::{Algorithm, Digest, DigestError, DigestHasher};
pub use distro::Distro;
pub use finding::{
    Comparison, Finding, FindingPackage, FixState, MatchEvidence, MatchedRecord, Rating,
    ScanFindings, Severity, UnknownSeverity,
};
pub use linkset::{Linkset, Linksets};
pub use package::{Dependency, Package, PackageKind};
pub use purl::{PurlError, os_package_purl};

use serde::{Deserialize, Serialize};

/// Canonical JSON (RFC 8785, JCS) of any serialisable value.
///
/// Used wherever bytes must not depend on field order or number formatting: content ids,
/// cache keys and signed payloads.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// sha256 of the canonical JSON of `value`, as a [`Digest`].
pub fn content_digest<T: Serialize>(value: &T) -> Result<Digest, serde_json::Error> {
    Ok(Digest::sha256_of(&canonical_json(value)?))
}

/// One layer of an image, in manifest order (index 0 is the base layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Position in the manifest, from 0.
    pub index: u32,
    /// Digest of the layer blob as stored (compressed for registries and archives).
    pub digest: Digest,
    /// Digest of the uncompressed tar (`rootfs.diff_ids` in the image config), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
    /// Media type of the blob as the manifest gives it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// Size of the blob in bytes, as the manifest gives it (0 for `dir:` sources).
    pub size: u64,
}

/// What was scanned: the image (or directory) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The target as the user wrote it, e.g. `docker://alpine:3.20` or `dir:/`.
    pub reference: String,
    /// Transport: `docker`, `docker-archive`, `oci`, `oci-archive` or `dir`.
    pub transport: String,
    /// Repository name without tag or digest (e.g. `library/alpine`), or the path for files.
    pub name: String,
    /// Tag when the reference named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Digest of the image manifest (the platform-specific one), when the source has manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<Digest>,
    /// Digest of the image configuration blob; the image id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<Digest>,
    /// `created` from the image configuration (RFC 3339), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Platform from the image configuration.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Layers in manifest order.
    pub layers: Vec<LayerInfo>,
}

/// Name and version of an analyzer that contributed to a result; part of every cache key and
/// of every report, so a result can be traced to the code that produced it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AnalyzerInfo {
    pub name: String,
    pub version: u32,
}

/// The result of an inventory scan: what the image is and what is installed in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub image: ImageInfo,
    /// The operating system, from `etc/os-release` or its fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Installed packages, sorted by [`Package::sort_key`].
    pub packages: Vec<Package>,
    /// Analyzers that ran, sorted.
    pub analyzers: Vec<AnalyzerInfo>,
    /// Problems that did not stop the scan (a package database that could not be parsed, …),
    /// sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Inventory {
    /// Sorts every collection so that serialisation is deterministic.
    pub fn normalize(&mut self) {
        for p in &mut self.packages {
            p.normalize();
        }
        self.packages
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.analyzers.sort();
        self.analyzers.dedup();
        self.warnings.sort();
        self.warnings.dedup();
    }
}
