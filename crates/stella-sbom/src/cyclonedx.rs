//! CycloneDX 1.6 JSON.
//!
//! The document types are our own serde structs rather than `serde-cyclonedx` 0.10 (which
//! STACK.md suggests): that crate generates its types at build time from the schema with
//! schemafy, so every enum (component type, hash algorithm, …) is a bare `String`, every field
//! an `Option` behind a `derive_builder` builder; it leans on the `derive` feature of serde
//! without declaring it (it fails to build on its own), and brings thiserror 1 and a syn-based
//! build script. We write a small subset of the format, so a few plain structs are clearer,
//! and the tests check the output against the official 1.6 JSON schema.

use crate::SbomError;
use crate::findings::{PreparedFindings, fix_sentence, fix_state_str, id_source};
use crate::ids::{document_uuid, sha256_hex};
use crate::license::{License, and_all};
use crate::prepared::package_sha1;
use crate::prepared::{Prepared, split_contact};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{Digest, Rating, Severity};

const SCHEMA: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";

#[derive(Serialize)]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    #[serde(rename = "serialNumber")]
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
    /// Present when advisories were matched, empty when nothing matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerabilities: Option<Vec<Vulnerability>>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<OrganizationalEntity>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct OrganizationalEntity {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contact: Vec<Contact>,
}

#[derive(Serialize)]
struct Contact {
    email: String,
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

/// One element of `licenses`: the schema allows either a list of `license` objects or a list of
/// exactly one `expression`, never both.
#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: LicenseObject },
    Expression { expression: String },
}

#[derive(Serialize)]
struct LicenseObject {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize)]
struct Evidence {
    occurrences: Vec<Occurrence>,
}

#[derive(Serialize)]
struct Occurrence {
    location: String,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

#[derive(Serialize)]
struct Vulnerability {
    id: String,
    source: VulnerabilitySource,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<VulnerabilityReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ratings: Vec<VulnerabilityRating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    recommendation: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    advisories: Vec<Advisory>,
    affects: Vec<Affects>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct VulnerabilitySource {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct VulnerabilityReference {
    id: String,
    source: VulnerabilitySource,
}

#[derive(Serialize)]
struct VulnerabilityRating {
    source: VulnerabilitySource,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    severity: &'static str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<String>,
}

#[derive(Serialize)]
struct Advisory {
    url: String,
}

#[derive(Serialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
    versions: Vec<AffectedVersion>,
}

#[derive(Serialize, PartialEq)]
struct AffectedVersion {
    version: String,
    status: &'static str,
}

fn properties(pairs: Vec<(String, String)>) -> Vec<Property> {
    pairs
        .into_iter()
        .map(|(name, value)| Property { name, value })
        .collect()
}

fn hash_of(d: &Digest) -> Hash {
    Hash {
        alg: match d.algorithm_name() {
            "sha512" => "SHA-512",
            _ => "SHA-256",
        },
        content: d.hex().to_string(),
    }
}

/// CycloneDX `licenses` for a package's classified licenses.
///
/// Ids and names go out as a list of `license` objects. When there is an expression the whole
/// set must be one expression: ids and expressions are joined with `AND`. Expressions cannot be
/// listed beside names, so when both occur each expression becomes a `license.name`.
fn licenses(classified: &[License]) -> Vec<LicenseChoice> {
    let has_expression = classified
        .iter()
        .any(|l| matches!(l, License::Expression { .. }));
    let has_name = classified.iter().any(|l| matches!(l, License::Name(_)));
    if has_expression && !has_name {
        let operands: Vec<String> = classified
            .iter()
            .map(|l| match l {
                License::Id(s) | License::Name(s) | License::Expression { text: s, .. } => {
                    s.clone()
                }
            })
            .collect();
        return vec![LicenseChoice::Expression {
            expression: and_all(&operands),
        }];
    }
    classified
        .iter()
        .map(|l| LicenseChoice::License {
            license: match l {
                License::Id(id) => LicenseObject {
                    id: Some(id.clone()),
                    name: None,
                },
                License::Name(s) | License::Expression { text: s, .. } => LicenseObject {
                    id: None,
                    name: Some(s.clone()),
                },
            },
        })
        .collect()
}

/// CycloneDX's name for a rating method; anything it has no name for is `other`.
fn score_method(method: &str) -> &'static str {
    const METHODS: [&str; 7] = [
        "CVSSv2", "CVSSv3", "CVSSv31", "CVSSv4", "OWASP", "SSVC", "other",
    ];
    METHODS
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or("other")
}

/// CycloneDX's severity for a rating. CycloneDX has no `negligible`: a CVSS score of 0 is
/// `none` (CVSS's own word), any other negligible rating (Debian's `unimportant`) is `info`.
fn rating_severity(r: &Rating) -> &'static str {
    match r.severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Negligible if r.method.starts_with("CVSS") => "none",
        Severity::Negligible => "info",
        Severity::Unknown => "unknown",
    }
}

/// Whether a reference can go out as a CycloneDX advisory URL (`iri-reference`).
fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One `vulnerabilities[]` entry per vulnerability id, in id order.
///
/// Per-package facts of a finding (fix state, fixed versions, Stella's severity and its
/// source, layer) are properties whose value is the affected component's `bom-ref`, a space,
/// and the fact; the fixed versions also appear in `affects[].versions` as `unaffected`.
fn vulnerabilities(p: &Prepared, f: &PreparedFindings) -> Vec<Vulnerability> {
    f.groups
        .iter()
        .map(|g| {
            let (source_name, source_url) = id_source(&g.id);
            let references = g
                .aliases(f)
                .into_iter()
                .map(|alias| {
                    let (name, url) = id_source(&alias);
                    VulnerabilityReference {
                        id: alias,
                        source: VulnerabilitySource {
                            name: name.to_string(),
                            url: Some(url),
                        },
                    }
                })
                .collect();
            let ratings = g
                .ratings(f)
                .iter()
                .map(|r| VulnerabilityRating {
                    source: VulnerabilitySource {
                        name: r.source.clone(),
                        url: None,
                    },
                    score: r.score,
                    severity: rating_severity(r),
                    method: score_method(&r.method),
                    vector: r.vector.clone().filter(|v| !v.is_empty()),
                })
                .collect();

            let mut affects: BTreeMap<String, Vec<AffectedVersion>> = BTreeMap::new();
            let mut recommendation = Vec::new();
            let mut per_package = Vec::new();
            for e in g.findings(f) {
                let finding = &e.finding;
                let bom_ref = &p.entries[e.package].bom_ref;
                let versions = affects.entry(bom_ref.clone()).or_default();
                let installed = std::iter::once((finding.package.version.clone(), "affected"));
                let fixed = finding
                    .fixed_versions
                    .iter()
                    .map(|v| (v.clone(), "unaffected"));
                for (version, status) in installed.chain(fixed) {
                    let v = AffectedVersion { version, status };
                    if !v.version.is_empty() && !versions.contains(&v) {
                        versions.push(v);
                    }
                }
                let sentence = fix_sentence(finding);
                if !recommendation.contains(&sentence) {
                    recommendation.push(sentence);
                }
                let mut add = |k: &str, v: String| {
                    if !v.is_empty() {
                        per_package.push(Property {
                            name: format!("stella:finding:{k}"),
                            value: format!("{bom_ref} {v}"),
                        });
                    }
                };
                add("severity", finding.severity.as_str().to_string());
                add("severity_source", finding.severity_source.clone());
                add("fix_state", fix_state_str(finding.fix_state).to_string());
                add("fixed_versions", finding.fixed_versions.join(","));
                add(
                    "layer",
                    finding
                        .layer
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                );
            }

            let mut props = vec![Property {
                name: "stella:finding:kev".into(),
                value: g.kev(f).to_string(),
            }];
            if let Some(epss) = g.epss(f).filter(|e| e.epss.is_finite()) {
                props.push(Property {
                    name: "stella:finding:epss".into(),
                    value: epss.epss.to_string(),
                });
                if epss.percentile.is_finite() {
                    props.push(Property {
                        name: "stella:finding:epss_percentile".into(),
                        value: epss.percentile.to_string(),
                    });
                }
            }
            props.extend(per_package);

            Vulnerability {
                id: g.id.clone(),
                source: VulnerabilitySource {
                    name: source_name.to_string(),
                    url: Some(source_url),
                },
                references,
                ratings,
                description: g.summary(f).map(str::to_string),
                recommendation: recommendation.join(" "),
                advisories: g
                    .references(f)
                    .into_iter()
                    .filter(|r| is_url(r))
                    .map(|url| Advisory { url })
                    .collect(),
                affects: affects
                    .into_iter()
                    .map(|(reference, versions)| Affects {
                        reference,
                        versions,
                    })
                    .collect(),
                properties: props,
            }
        })
        .collect()
}

pub(crate) fn encode(
    p: &Prepared,
    findings: Option<&PreparedFindings>,
) -> Result<serde_json::Value, SbomError> {
    let img = &p.inv.image;
    let image_component = Component {
        kind: "container",
        bom_ref: Some(p.image_ref.clone()),
        name: if img.name.is_empty() {
            img.reference.clone()
        } else {
            img.name.clone()
        },
        version: img
            .manifest_digest
            .as_ref()
            .map(|d| d.to_string())
            .or_else(|| img.tag.clone())
            .filter(|v| !v.is_empty()),
        hashes: img.manifest_digest.iter().map(hash_of).collect(),
        purl: p.image_purl.clone(),
        properties: properties(p.image_properties()),
        ..Default::default()
    };

    let mut components = Vec::new();
    if let (Some(d), Some(os_ref)) = (&p.inv.distro, &p.os_ref) {
        components.push(Component {
            kind: "operating-system",
            bom_ref: Some(os_ref.clone()),
            name: d.id.clone(),
            version: d.version_id.clone(),
            description: d.pretty_name.clone(),
            properties: properties(p.os_properties()),
            ..Default::default()
        });
    }
    for (pkg, e) in p.packages() {
        components.push(Component {
            kind: "library",
            bom_ref: Some(e.bom_ref.clone()),
            supplier: pkg
                .supplier
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    let (name, email) = split_contact(s);
                    OrganizationalEntity {
                        name,
                        contact: email.into_iter().map(|email| Contact { email }).collect(),
                    }
                }),
            name: pkg.name.clone(),
            version: Some(pkg.version.clone()).filter(|v| !v.is_empty()),
            licenses: licenses(&e.licenses),
            purl: Some(pkg.purl.clone()).filter(|u| !u.is_empty()),
            evidence: Some(Evidence {
                occurrences: vec![Occurrence {
                    location: pkg.found_in.clone(),
                }],
            })
            .filter(|_| !pkg.found_in.is_empty()),
            hashes: package_sha1(pkg)
                .map(|content| Hash {
                    alg: "SHA-1",
                    content: content.to_string(),
                })
                .into_iter()
                .collect(),
            properties: properties(Prepared::package_properties(pkg, e)),
            ..Default::default()
        });
    }

    // Every component appears in the graph; the image depends on the OS and on every package
    // installed in it, packages on what their database says they depend on.
    let mut dependencies = Vec::new();
    let mut image_deps: BTreeSet<String> = p.entries.iter().map(|e| e.bom_ref.clone()).collect();
    image_deps.extend(p.os_ref.clone());
    dependencies.push(Dependency {
        reference: p.image_ref.clone(),
        depends_on: image_deps.into_iter().collect(),
    });
    if let Some(os_ref) = &p.os_ref {
        dependencies.push(Dependency {
            reference: os_ref.clone(),
            depends_on: Vec::new(),
        });
    }
    for e in &p.entries {
        let deps: BTreeSet<String> = e
            .depends_on
            .iter()
            .map(|&j| p.entries[j].bom_ref.clone())
            .collect();
        dependencies.push(Dependency {
            reference: e.bom_ref.clone(),
            depends_on: deps.into_iter().collect(),
        });
    }
    dependencies.sort_by(|a, b| a.reference.cmp(&b.reference));

    let mut meta_props: Vec<Property> = p
        .inv
        .analyzers
        .iter()
        .map(|a| Property {
            name: format!("stella:analyzer:{}", a.name),
            value: a.version.to_string(),
        })
        .collect();
    if let Some(f) = findings {
        meta_props.push(Property {
            name: "stella:advisories:snapshot".into(),
            value: f.snapshot.clone(),
        });
    }
    meta_props.extend(p.inv.warnings.iter().map(|w| Property {
        name: "stella:warning".into(),
        value: w.clone(),
    }));

    // A document with findings is another document than the bare SBOM of the same inventory.
    let content_hex = match findings {
        None => p.content_hex.clone(),
        Some(f) => sha256_hex(format!("{}:{}", p.content_hex, f.content_hex).as_bytes()),
    };
    let bom = Bom {
        schema: SCHEMA,
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", document_uuid("cyclonedx", &content_hex)),
        version: 1,
        metadata: Metadata {
            timestamp: p.timestamp.clone(),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: p.tool_name.clone(),
                    version: Some(p.tool_version.clone()).filter(|v| !v.is_empty()),
                    ..Default::default()
                }],
            },
            component: image_component,
            properties: meta_props,
        },
        components,
        dependencies,
        vulnerabilities: findings.map(|f| vulnerabilities(p, f)),
    };
    Ok(serde_json::to_value(bom)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::classify_all;

    fn json(v: &[LicenseChoice]) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn ids_and_names_are_listed_as_license_objects() {
        let l = classify_all(&["MIT".into(), "GPL-2+".into()]);
        assert_eq!(
            json(&licenses(&l)),
            r#"[{"license":{"id":"MIT"}},{"license":{"name":"GPL-2+"}}]"#
        );
    }

    #[test]
    fn expressions_and_ids_become_one_expression() {
        let l = classify_all(&["Zlib".into(), "MIT OR Apache-2.0".into()]);
        assert_eq!(
            json(&licenses(&l)),
            r#"[{"expression":"Zlib AND (MIT OR Apache-2.0)"}]"#
        );
    }

    #[test]
    fn expressions_beside_names_become_names() {
        let l = classify_all(&["MIT OR Apache-2.0".into(), "public-domain".into()]);
        assert_eq!(
            json(&licenses(&l)),
            r#"[{"license":{"name":"MIT OR Apache-2.0"}},{"license":{"name":"public-domain"}}]"#
        );
    }
}
