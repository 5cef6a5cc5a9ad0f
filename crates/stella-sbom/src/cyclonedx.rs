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
use crate::ids::document_uuid;
use crate::license::{License, and_all};
use crate::prepared::package_sha1;
use crate::prepared::{Prepared, split_contact};
use serde::Serialize;
use std::collections::BTreeSet;
use stella_model::Digest;

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

pub(crate) fn encode(p: &Prepared) -> Result<serde_json::Value, SbomError> {
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
    meta_props.extend(p.inv.warnings.iter().map(|w| Property {
        name: "stella:warning".into(),
        value: w.clone(),
    }));

    let bom = Bom {
        schema: SCHEMA,
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", document_uuid("cyclonedx", &p.content_hex)),
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
