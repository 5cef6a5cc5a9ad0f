//! SBOM, report and findings encoders: turn a scan [`Inventory`] (and, when advisories were
//! matched, its [`ScanFindings`]) into CycloneDX 1.6 JSON, SPDX 2.3 JSON, SARIF 2.1.0 or Stella's
//! own JSON report.
//!
//! The encoders are pure functions: they take an inventory (and findings) and [`EncodeOptions`]
//! and return bytes, with no I/O, no clock and no randomness. The same inputs always give the
//! same bytes, whatever order their lists come in: every collection is sorted, identifiers (CycloneDX `serialNumber`, SPDX
//! `documentNamespace`, `bom-ref`s, `SPDXID`s) are derived from content, and the only timestamp
//! is the one the caller passes in (the image's `created` time or `SOURCE_DATE_EPOCH`).
//!
//! The SBOMs and the report describe the same picture:
//! - the image is the root: CycloneDX `metadata.component` (type `container`), SPDX package
//!   `SPDXRef-Image` with `primaryPackagePurpose: CONTAINER` that the document `DESCRIBES`;
//! - the distro is an `operating-system` component / `OPERATING_SYSTEM` package;
//! - each installed package is a component / package identified by its purl, with supplier,
//!   licenses (classified against the SPDX license list), the layer that introduced it and the
//!   database it was read from;
//! - `Package::depends` is resolved to packages of the same kind in the same image, directly by
//!   name or through another package's `provides`; names nothing installed satisfies are dropped.
//!
//! Findings, when given, are tied to the inventory's packages by purl, so that every output names
//! a vulnerable package by the same identifier as its SBOM component:
//! - CycloneDX: `vulnerabilities[]`, one per vulnerability id, whose `affects[]` are the
//!   components' `bom-ref`s;
//! - SARIF: one rule per vulnerability id, one result per finding, located at the package's
//!   database;
//! - the report: `findings[]` with every field of each finding, `advisories` and `summary`.
//!
//! SPDX 2.3 has no place for vulnerabilities; its output is the same with or without findings.
//!
//! ```text
//! cyclonedx_json(&inventory, &opts)?                                -> CycloneDX 1.6 JSON
//! cyclonedx_json_with_findings(&inventory, Some(&findings), &opts)? -> … with vulnerabilities
//! spdx_json(&inventory, &opts)?                                     -> SPDX 2.3 JSON
//! report_json(&inventory, &opts)?                                   -> stella.report/v2 JSON
//! report_json_with_findings(&inventory, Some(&findings), &opts)?    -> … with findings
//! sarif_json(&inventory, &findings, &opts)?                         -> SARIF 2.1.0 JSON
//! ```
//!
//! Property and annotation names used in the SBOMs (`stella:image:*`, `stella:package:*`,
//! `stella:finding:*`) are listed in `docs/report.md`; the findings in each format are described
//! in `docs/findings.md`.

mod cyclonedx;
mod findings;
mod ids;
mod license;
mod prepared;
mod report;
mod sarif;
mod spdx;

use stella_model::{Inventory, ScanFindings};

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
    #[error("finding {finding:?} is about package {purl:?}, which is not in the inventory")]
    UnknownFindingPackage { finding: String, purl: String },
}

/// CycloneDX 1.6 JSON of the inventory, pretty-printed with a trailing newline.
pub fn cyclonedx_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    cyclonedx_json_with_findings(inv, None, opts)
}

/// CycloneDX 1.6 JSON of the inventory and, when advisories were matched, its findings as
/// `vulnerabilities` (an empty list when nothing matched), pretty-printed with a trailing
/// newline. With `None` the output is that of [`cyclonedx_json`].
///
/// Every finding must be about a package of the inventory (same purl): the findings of another
/// scan are an error, [`SbomError::UnknownFindingPackage`].
pub fn cyclonedx_json_with_findings(
    inv: &Inventory,
    findings: Option<&ScanFindings>,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let findings = findings
        .map(|f| findings::PreparedFindings::new(&prepared, f))
        .transpose()?;
    let bom = cyclonedx::encode(&prepared, findings.as_ref())?;
    to_pretty(&bom)
}

/// SPDX 2.3 JSON of the inventory, pretty-printed with a trailing newline.
pub fn spdx_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let doc = spdx::encode(&prepared)?;
    to_pretty(&doc)
}

/// Stella's own report (`schemaVersion: stella.report/v2`, see `docs/report.md` and
/// `docs/report.schema.json`) of an inventory for which no advisories were matched: no
/// `advisories`, `findings` or `summary` keys. Pretty-printed with a trailing newline.
pub fn report_json(inv: &Inventory, opts: &EncodeOptions) -> Result<Vec<u8>, SbomError> {
    report_json_with_findings(inv, None, opts)
}

/// Stella's own report of the inventory and, when advisories were matched (`Some`, even with no
/// findings), the `advisories` snapshot, every `findings` entry and a `summary` of them.
pub fn report_json_with_findings(
    inv: &Inventory,
    findings: Option<&ScanFindings>,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let findings = findings
        .map(|f| findings::PreparedFindings::new(&prepared, f))
        .transpose()?;
    let report = report::encode(&prepared, findings.as_ref());
    to_pretty(&report)
}

/// SARIF 2.1.0 log of the findings: one run, one rule per vulnerability id, one result per
/// finding, located at the database the package was read from. Pretty-printed with a trailing
/// newline. Holds no times, so the same scan gives the same bytes.
pub fn sarif_json(
    inv: &Inventory,
    findings: &ScanFindings,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, SbomError> {
    let prepared = prepared::Prepared::new(inv, opts)?;
    let findings = findings::PreparedFindings::new(&prepared, findings)?;
    let log = sarif::encode(&prepared, &findings)?;
    to_pretty(&log)
}

fn to_pretty<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SbomError> {
    let mut out = serde_json::to_vec_pretty(value)?;
    out.push(b'\n');
    Ok(out)
}
