//! Stella's own JSON report, `stella.report/v1`: everything the inventory holds, in a stable
//! shape (every key always present, `null` when unknown). Documented in `docs/report.md`, with a
//! JSON Schema in `docs/report.schema.json`.

use crate::license::{License, classify};
use crate::prepared::Prepared;
use serde::Serialize;

pub(crate) const SCHEMA_VERSION: &str = "stella.report/v1";

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

pub(crate) fn encode(p: &Prepared) -> Report<'_> {
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
    }
}
