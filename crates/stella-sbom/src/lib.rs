//! SBOM and report encoders: turn a scan [`Inventory`] into CycloneDX 1.6 JSON, SPDX 2.3 JSON
//! or Stella's own JSON report.
//!
//! The encoders are pure functions: they take an inventory and [`EncodeOptions`] and return
//! bytes, with no I/O, no clock and no randomness. The same inventory and options always give the
//! same bytes: every collection is sorted, identifiers (CycloneDX `serialNumber`, SPDX
//! `documentNamespace`, `bom-ref`s, `SPDXID`s) are derived from content, and the only timestamp
//! is the one the caller passes in (the image's `created` time or `SOURCE_DATE_EPOCH`).
//!
//! All three outputs describe the same picture:
//! - the image is the root: CycloneDX `metadata.component` (type `container`), SPDX package
//!   `SPDXRef-Image` with `primaryPackagePurpose: CONTAINER` that the document `DESCRIBES`;
//! - the distro is an `operating-system` component / `OPERATING_SYSTEM` package;
//! - each installed package is a component / package identified by its purl, with supplier,
//!   licenses (classified against the SPDX license list), the layer that introduced it and the
//!   database it was read from;
//! - `Package::depends` is resolved to packages of the same kind in the same image, directly by
//!   name or through another package's `provides`; names nothing installed satisfies are dropped.
//!
//! ```text
//! cyclonedx_json(&inventory, &opts)?  -> CycloneDX 1.6 JSON
//! spdx_json(&inventory, &opts)?       -> SPDX 2.3 JSON
//! report_json(&inventory, &opts)?     -> stella.report/v1 JSON (docs/report.md)
//! ```
//!
//! Property and annotation names used in the SBOMs (`stella:image:*`, `stella:package:*`) are
//! listed in `docs/report.md`.

mod cyclonedx;
mod ids;
mod license;
mod prepared;
mod report;
mod spdx;

use stella_model::Inventory;

/// What the caller decides about an encoding, rather than the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Creation time of the document, RFC 3339 (e.g. `2024-06-01T12:00:00Z`). Chosen by the
    /// caller so that output is reproducible: the image's `created` time or `SOURCE_DATE_EPOCH`.
    /// It is converted to UTC and truncated to whole seconds, the form SPDX requires.
    pub timestamp: String,
    /// Name of the tool that produced the inventory, e.g. `stella`.
    pub tool_name: String,
    /// Version of that tool, e.g. `0.1.0`.
    pub tool_version: String,
}

/// Why an inventory could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("timestamp {value:?} is not an RFC 3339 date-time: {reason}")]
    InvalidTimestamp { value: String, reason: String },
    #[error("tool name is empty")]
    EmptyToolName,
    #[error("cannot serialise the document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("two packages in the inventory map to the same identifier {0:?}")]
    IdCollision(String),
}

/// CycloneDX 1.6 JSON of the inventory, pretty-printed with a trailing newline.
pub fn cyclonedx_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let bom = cyclonedx::encode(&prepared)?;
    to_pretty(&bom)
}

/// SPDX 2.3 JSON of the inventory, pretty-printed with a trailing newline.
pub fn spdx_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let doc = spdx::encode(&prepared)?;
    to_pretty(&doc)
}

/// Stella's own report (`schemaVersion: stella.report/v1`, see `docs/report.md` and
/// `docs/report.schema.json`), pretty-printed with a trailing newline.
pub fn report_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let report = report::encode(&prepared);
    to_pretty(&report)
}

fn to_pretty<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SbomError> {
    let mut out = serde_json::to_vec_pretty(value)?;
    out.push(b'\n');
    Ok(out)
}
