//! Stella's own JSON report, `stella.report/v2`: everything the inventory holds and, when
//! advisories were matched, every finding, in a stable shape (every key always present, `null`
//! when unknown; the findings keys present exactly when matching was done). Documented in
//! `docs/report.md`, with a JSON Schema in `docs/report.schema.json`.

use crate::findings::{PreparedFindings, fix_state_str};
use crate::license::{License, classify};
use crate::prepared::Prepared;
use serde::Serialize;
use stella_model::Severity;

pub(crate) const SCHEMA_VERSION: &str = "stella.report/v2";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report<'a> {
    schema_version: &'static str,
    tool: Tool<'a>,
    created_at: &'a str,
    image: Image<'a>,
    distro: Option<Distro<'a>>,
    analyzers: Vec<Analyzer<'a>>,
    packages: Vec<Package<'a>>,
    warnings: &'a [String],
    /// The three keys below are present exactly when advisories were matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    advisories: Option<Advisories<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<Vec<Finding<'a>>>,
}

#[derive(Serialize)]
struct Advisories<'a> {
    snapshot: &'a str,
}

#[derive(Serialize)]
struct Summary {
    findings: FindingCounts,
}

/// How many findings there are, and how many of each severity.
#[derive(Serialize, Default)]
struct FindingCounts {
    total: usize,
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    negligible: usize,
    unknown: usize,
}

impl FindingCounts {
    fn of(f: &PreparedFindings) -> FindingCounts {
        let mut c = FindingCounts {
            total: f.entries.len(),
            ..Default::default()
        };
        for e in &f.entries {
            *match e.finding.severity {
                Severity::Critical => &mut c.critical,
                Severity::High => &mut c.high,
                Severity::Medium => &mut c.medium,
                Severity::Low => &mut c.low,
                Severity::Negligible => &mut c.negligible,
                Severity::Unknown => &mut c.unknown,
            } += 1;
        }
        c
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Finding<'a> {
    id: &'a str,
    vulnerability: &'a str,
    aliases: &'a [String],
    summary: Option<&'a str>,
    package: FindingPackage<'a>,
    fix_state: &'static str,
    fixed_versions: &'a [String],
    severity: &'static str,
    severity_source: &'a str,
    ratings: Vec<Rating<'a>>,
    kev: bool,
    epss: Option<Epss<'a>>,
    layer: Option<String>,
    paths: &'a [String],
    snapshot: &'a str,
    evidence: Evidence<'a>,
    references: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingPackage<'a> {
    /// The `bomRef` of the package in `packages`.
    bom_ref: &'a str,
    kind: &'static str,
    name: &'a str,
    version: &'a str,
    purl: &'a str,
    source_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Rating<'a> {
    source: &'a str,
    method: &'a str,
    vector: Option<&'a str>,
    score: Option<f64>,
    severity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Epss<'a> {
    cve: &'a str,
    epss: f64,
    percentile: f64,
    date: Option<&'a str>,
    model_version: Option<&'a str>,
}

#[derive(Serialize)]
struct Evidence<'a> {
    method: &'a str,
    records: Vec<Record<'a>>,
    ranges: &'a [String],
    comparisons: Vec<Comparison<'a>>,
}

#[derive(Serialize)]
struct Comparison<'a> {
    installed: &'a str,
    op: &'a str,
    bound: &'a str,
    holds: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    source: &'static str,
    upstream_id: &'a str,
    observation: &'a str,
    ecosystem: &'a str,
    package: &'a str,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Image<'a> {
    reference: &'a str,
    transport: &'a str,
    name: &'a str,
    tag: Option<&'a str>,
    manifest_digest: Option<String>,
    config_digest: Option<String>,
    created: Option<&'a str>,
    os: Option<&'a str>,
    architecture: Option<&'a str>,
    variant: Option<&'a str>,
    purl: Option<&'a str>,
    layers: Vec<Layer<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Layer<'a> {
    index: u32,
    digest: String,
    diff_id: Option<String>,
    media_type: Option<&'a str>,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Distro<'a> {
    id: &'a str,
    version_id: Option<&'a str>,
    codename: Option<&'a str>,
    pretty_name: Option<&'a str>,
    id_like: &'a [String],
    source_file: &'a str,
}

#[derive(Serialize)]
struct Analyzer<'a> {
    name: &'a str,
    version: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    bom_ref: &'a str,
    kind: &'static str,
    name: &'a str,
    version: &'a str,
    epoch: Option<u64>,
    arch: Option<&'a str>,
    source_name: Option<&'a str>,
    source_version: Option<&'a str>,
    supplier: Option<&'a str>,
    licenses: Vec<LicenseEntry<'a>>,
    purl: Option<&'a str>,
    found_in: &'a str,
    layer: Option<String>,
    layer_index: Option<u32>,
    depends: Vec<&'a str>,
    depends_on: Vec<&'a str>,
    provides: &'a [String],
    files: &'a [String],
    dev: bool,
    properties: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct LicenseEntry<'a> {
    /// As the package database wrote it, trimmed.
    value: &'a str,
    /// `spdx-id`, `spdx-expression` or `name`.
    kind: &'static str,
    /// The SPDX id or expression in canonical spelling; `null` for names.
    spdx: Option<String>,
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

fn finding<'a>(p: &'a Prepared, e: &'a crate::findings::FindingEntry) -> Finding<'a> {
    let f = &e.finding;
    Finding {
        id: &f.id,
        vulnerability: &f.vulnerability,
        aliases: &f.aliases,
        summary: f.summary.as_deref(),
        package: FindingPackage {
            bom_ref: &p.entries[e.package].bom_ref,
            kind: f.package.kind.as_str(),
            name: &f.package.name,
            version: &f.package.version,
            purl: &f.package.purl,
            source_name: f.package.source_name.as_deref(),
        },
        fix_state: fix_state_str(f.fix_state),
        fixed_versions: &f.fixed_versions,
        severity: f.severity.as_str(),
        severity_source: &f.severity_source,
        ratings: f
            .ratings
            .iter()
            .map(|r| Rating {
                source: &r.source,
                method: &r.method,
                vector: r.vector.as_deref(),
                score: r.score.filter(|s| s.is_finite()),
                severity: r.severity.as_str(),
            })
            .collect(),
        kev: f.kev,
        epss: f
            .epss
            .as_ref()
            .filter(|e| e.epss.is_finite() && e.percentile.is_finite())
            .map(|e| Epss {
                cve: &e.cve,
                epss: e.epss,
                percentile: e.percentile,
                date: e.date.as_deref(),
                model_version: e.model_version.as_deref(),
            }),
        layer: f.layer.as_ref().map(|d| d.to_string()),
        paths: &f.paths,
        snapshot: &f.snapshot,
        evidence: Evidence {
            method: &f.evidence.method,
            records: f
                .evidence
                .records
                .iter()
                .map(|r| Record {
                    source: r.source.as_str(),
                    upstream_id: &r.upstream_id,
                    observation: &r.observation,
                    ecosystem: &r.ecosystem,
                    package: &r.package,
                })
                .collect(),
            ranges: &f.evidence.ranges,
            comparisons: f
                .evidence
                .comparisons
                .iter()
                .map(|c| Comparison {
                    installed: &c.installed,
                    op: &c.op,
                    bound: &c.bound,
                    holds: c.holds,
                })
                .collect(),
        },
        references: &f.references,
    }
}

pub(crate) fn encode<'a>(p: &'a Prepared, findings: Option<&'a PreparedFindings>) -> Report<'a> {
    let img = &p.inv.image;
    let image = Image {
        reference: &img.reference,
        transport: &img.transport,
        name: &img.name,
        tag: img.tag.as_deref(),
        manifest_digest: img.manifest_digest.as_ref().map(|d| d.to_string()),
        config_digest: img.config_digest.as_ref().map(|d| d.to_string()),
        created: img.created.as_deref(),
        os: non_empty(&img.os),
        architecture: non_empty(&img.architecture),
        variant: img.variant.as_deref(),
        purl: p.image_purl.as_deref(),
        layers: img
            .layers
            .iter()
            .map(|l| Layer {
                index: l.index,
                digest: l.digest.to_string(),
                diff_id: l.diff_id.as_ref().map(|d| d.to_string()),
                media_type: non_empty(&l.media_type),
                size: l.size,
            })
            .collect(),
    };
    let distro = p.inv.distro.as_ref().map(|d| Distro {
        id: &d.id,
        version_id: d.version_id.as_deref(),
        codename: d.codename.as_deref(),
        pretty_name: d.pretty_name.as_deref(),
        id_like: &d.id_like,
        source_file: &d.source_file,
    });
    let packages = p
        .packages()
        .map(|(pkg, e)| {
            let mut depends_on: Vec<&str> = e
                .depends_on
                .iter()
                .map(|&j| p.entries[j].bom_ref.as_str())
                .collect();
            depends_on.sort_unstable();
            Package {
                bom_ref: &e.bom_ref,
                kind: pkg.kind.as_str(),
                name: &pkg.name,
                version: &pkg.version,
                epoch: pkg.epoch,
                arch: pkg.arch.as_deref(),
                source_name: pkg.source_name.as_deref(),
                source_version: pkg.source_version.as_deref(),
                supplier: pkg.supplier.as_deref(),
                licenses: pkg
                    .licenses
                    .iter()
                    .filter_map(|raw| {
                        let (kind, spdx) = match classify(raw)? {
                            License::Id(id) => ("spdx-id", Some(id)),
                            License::Expression { text, .. } => ("spdx-expression", Some(text)),
                            License::Name(_) => ("name", None),
                        };
                        Some(LicenseEntry {
                            value: raw.trim(),
                            kind,
                            spdx,
                        })
                    })
                    .collect(),
                purl: non_empty(&pkg.purl),
                found_in: &pkg.found_in,
                layer: pkg.layer.as_ref().map(|d| d.to_string()),
                layer_index: pkg
                    .layer
                    .as_ref()
                    .and_then(|d| img.layers.iter().find(|l| &l.digest == d).map(|l| l.index)),
                depends: pkg.depends.iter().map(|d| d.name.as_str()).collect(),
                depends_on,
                provides: &pkg.provides,
                files: &pkg.files,
                dev: pkg.dev,
                properties: &pkg.properties,
            }
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: &p.tool_name,
            version: &p.tool_version,
        },
        created_at: &p.timestamp,
        image,
        distro,
        analyzers: p
            .inv
            .analyzers
            .iter()
            .map(|a| Analyzer {
                name: &a.name,
                version: a.version,
            })
            .collect(),
        packages,
        warnings: &p.inv.warnings,
        advisories: findings.map(|f| Advisories {
            snapshot: &f.snapshot,
        }),
        summary: findings.map(|f| Summary {
            findings: FindingCounts::of(f),
        }),
        findings: findings.map(|f| f.entries.iter().map(|e| finding(p, e)).collect()),
    }
}
