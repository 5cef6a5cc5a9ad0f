//! SPDX 2.3 JSON, with our own serde types (`spdx-rs` is unmaintained and stops at 2.2).

use crate::SbomError;
use crate::ids::{document_uuid, sanitize_spdx_idstring, short_hash};
use crate::license::{License, and_all};
use crate::prepared::package_sha1;
use crate::prepared::{Prepared, split_contact, supplier_is_organization};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{Digest, PackageKind};

const NOASSERTION: &str = "NOASSERTION";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const IMAGE_ID: &str = "SPDXRef-Image";
const OS_ID: &str = "SPDXRef-OperatingSystem";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    packages: Vec<Package>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicensingInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
    license_list_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    supplier: String,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Annotation {
    annotation_date: String,
    annotation_type: &'static str,
    annotator: String,
    comment: String,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicensingInfo {
    license_id: String,
    extracted_text: String,
    name: String,
    comment: String,
}

/// `Organization: NAME (EMAIL)` / `Person: NAME (EMAIL)`, or NOASSERTION. Parentheses in the
/// name would end it early for SPDX parsers, so they are dropped.
pub(crate) fn supplier_actor(kind: PackageKind, supplier: Option<&str>) -> String {
    let Some(s) = supplier.map(str::trim).filter(|s| !s.is_empty()) else {
        return NOASSERTION.to_string();
    };
    let (name, email) = split_contact(s);
    let clean = |t: &str| {
        t.replace(['(', ')'], "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = clean(&name);
    if name.is_empty() {
        return NOASSERTION.to_string();
    }
    let kind_word = if supplier_is_organization(kind, &name, email.as_deref()) {
        "Organization"
    } else {
        "Person"
    };
    match email.map(|e| clean(&e)).filter(|e| !e.is_empty()) {
        Some(e) => format!("{kind_word}: {name} ({e})"),
        None => format!("{kind_word}: {name}"),
    }
}

/// `LicenseRef-` ids for every license name in the document, and for every `LicenseRef-` used
/// inside an expression, with the extracted-licensing entries SPDX requires for them.
struct LicenseRefs {
    by_name: BTreeMap<String, String>,
    infos: Vec<ExtractedLicensingInfo>,
}

impl LicenseRefs {
    fn new(p: &Prepared) -> LicenseRefs {
        let mut names = BTreeSet::new();
        let mut used = BTreeSet::new();
        for e in &p.entries {
            for l in &e.licenses {
                match l {
                    License::Name(n) => {
                        names.insert(n.clone());
                    }
                    License::Expression { license_refs, .. } => {
                        used.extend(license_refs.iter().cloned())
                    }
                    License::Id(_) => {}
                }
            }
        }
        // `LicenseRef-` + the sanitised name, unless sanitising merges two names or the result
        // is already used by an expression: then a hash of the name keeps it apart.
        let mut candidates: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for n in &names {
            candidates
                .entry(format!("LicenseRef-{}", sanitize_spdx_idstring(n)))
                .or_default()
                .push(n.clone());
        }
        let mut by_name = BTreeMap::new();
        for (candidate, group) in candidates {
            let clash = group.len() > 1 || used.contains(&candidate);
            for n in group {
                let id = if clash {
                    format!("{candidate}-{}", short_hash(&n, 8))
                } else {
                    candidate.clone()
                };
                by_name.insert(n, id);
            }
        }
        let mut infos: Vec<ExtractedLicensingInfo> = by_name
            .iter()
            .map(|(name, id)| ExtractedLicensingInfo {
                license_id: id.clone(),
                extracted_text: name.clone(),
                name: name.clone(),
                comment: "License as the package database names it; not on the SPDX license list. \
                          The extracted text is that name: the license text was not collected."
                    .into(),
            })
            .collect();
        infos.extend(used.iter().map(|id| ExtractedLicensingInfo {
            license_id: id.clone(),
            extracted_text: id.clone(),
            name: id.trim_start_matches("LicenseRef-").to_string(),
            comment: "Named by a package database's license expression; the license text was not collected."
                .into(),
        }));
        infos.sort_by(|a, b| a.license_id.cmp(&b.license_id));
        LicenseRefs { by_name, infos }
    }

    /// `licenseDeclared` for a package: its licenses joined with `AND`, names as `LicenseRef-`s.
    fn declared(&self, licenses: &[License]) -> String {
        if licenses.is_empty() {
            return NOASSERTION.to_string();
        }
        let operands: Vec<String> = licenses
            .iter()
            .map(|l| match l {
                License::Id(id) => id.clone(),
                License::Expression { text, .. } => text.clone(),
                License::Name(n) => self.by_name[n].clone(),
            })
            .collect();
        and_all(&operands)
    }
}

fn checksum_of(d: &Digest) -> Checksum {
    Checksum {
        algorithm: match d.algorithm_name() {
            "sha512" => "SHA512",
            _ => "SHA256",
        },
        checksum_value: d.hex().to_string(),
    }
}

pub(crate) fn encode(p: &Prepared) -> Result<serde_json::Value, SbomError> {
    let annotator = format!("Tool: {}", p.tool_id());
    let annotations = |pairs: Vec<(String, String)>| -> Vec<Annotation> {
        pairs
            .into_iter()
            .map(|(k, v)| Annotation {
                annotation_date: p.timestamp.clone(),
                annotation_type: "OTHER",
                annotator: annotator.clone(),
                comment: format!("{k}={v}"),
            })
            .collect()
    };
    let purl_ref = |purl: &str| ExternalRef {
        reference_category: "PACKAGE-MANAGER",
        reference_type: "purl",
        reference_locator: purl.to_string(),
    };
    let license_refs = LicenseRefs::new(p);
    let img = &p.inv.image;

    let mut packages = Vec::new();
    let mut relationships = vec![Relationship {
        spdx_element_id: DOCUMENT_ID.into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.into(),
    }];

    packages.push(Package {
        spdx_id: IMAGE_ID.into(),
        name: if img.name.is_empty() {
            img.reference.clone()
        } else {
            img.name.clone()
        },
        version_info: img
            .manifest_digest
            .as_ref()
            .map(|d| d.to_string())
            .or_else(|| img.tag.clone())
            .filter(|v| !v.is_empty()),
        supplier: NOASSERTION.into(),
        download_location: NOASSERTION,
        files_analyzed: false,
        checksums: img.manifest_digest.iter().map(checksum_of).collect(),
        source_info: None,
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION.into(),
        copyright_text: NOASSERTION,
        description: None,
        external_refs: p.image_purl.iter().map(|u| purl_ref(u)).collect(),
        primary_package_purpose: Some("CONTAINER"),
        annotations: annotations(p.image_properties()),
    });

    if let Some(d) = &p.inv.distro {
        packages.push(Package {
            spdx_id: OS_ID.into(),
            name: d.id.clone(),
            version_info: d.version_id.clone(),
            supplier: NOASSERTION.into(),
            download_location: NOASSERTION,
            files_analyzed: false,
            checksums: Vec::new(),
            source_info: Some(format!("read from {}", d.source_file))
                .filter(|_| !d.source_file.is_empty()),
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.into(),
            copyright_text: NOASSERTION,
            description: d.pretty_name.clone(),
            external_refs: Vec::new(),
            // The 2.3 JSON schema spells the enum value with an underscore.
            primary_package_purpose: Some("OPERATING_SYSTEM"),
            annotations: annotations(p.os_properties()),
        });
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: OS_ID.into(),
        });
    }

    for (pkg, e) in p.packages() {
        let source_info = match (&pkg.layer, pkg.found_in.is_empty()) {
            (_, true) => None,
            (Some(layer), false) => Some(format!(
                "acquired package info from {} in layer {layer}",
                pkg.found_in
            )),
            (None, false) => Some(format!("acquired package info from {}", pkg.found_in)),
        };
        packages.push(Package {
            spdx_id: e.spdx_id.clone(),
            name: pkg.name.clone(),
            version_info: Some(pkg.version.clone()).filter(|v| !v.is_empty()),
            supplier: supplier_actor(pkg.kind, pkg.supplier.as_deref()),
            download_location: NOASSERTION,
            files_analyzed: false,
            checksums: package_sha1(pkg)
                .map(|v| Checksum {
                    algorithm: "SHA1",
                    checksum_value: v.to_string(),
                })
                .into_iter()
                .collect(),
            source_info,
            license_concluded: NOASSERTION,
            license_declared: license_refs.declared(&e.licenses),
            copyright_text: NOASSERTION,
            description: None,
            external_refs: Some(&pkg.purl)
                .filter(|u| !u.is_empty())
                .map(|u| purl_ref(u))
                .into_iter()
                .collect(),
            primary_package_purpose: None,
            annotations: annotations(Prepared::package_properties(pkg, e)),
        });
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: e.spdx_id.clone(),
        });
        for &j in &e.depends_on {
            relationships.push(Relationship {
                spdx_element_id: e.spdx_id.clone(),
                relationship_type: "DEPENDS_ON",
                related_spdx_element: p.entries[j].spdx_id.clone(),
            });
        }
    }
    relationships.sort();
    relationships.dedup();

    let analyzers = p
        .inv
        .analyzers
        .iter()
        .map(|a| format!("{} {}", a.name, a.version))
        .collect::<Vec<_>>();
    let name = if p.inv.image.reference.is_empty() {
        p.inv.image.name.clone()
    } else {
        p.inv.image.reference.clone()
    };
    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: DOCUMENT_ID,
        name,
        document_namespace: format!("urn:uuid:{}", document_uuid("spdx", &p.content_hex)),
        creation_info: CreationInfo {
            created: p.timestamp.clone(),
            creators: vec![format!("Tool: {}", p.tool_id())],
            license_list_version: license_list_version(),
            comment: (!analyzers.is_empty())
                .then(|| format!("analyzers: {}", analyzers.join(", "))),
        },
        comment: (!p.inv.warnings.is_empty())
            .then(|| format!("warnings:\n{}", p.inv.warnings.join("\n"))),
        packages,
        relationships,
        has_extracted_licensing_infos: license_refs.infos,
    };
    Ok(serde_json::to_value(doc)?)
}

/// The SPDX license list the classification used, as `MAJOR.MINOR` (SPDX wants no patch part).
fn license_list_version() -> String {
    spdx::license_version()
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers_are_spdx_actors() {
        assert_eq!(
            supplier_actor(
                PackageKind::Deb,
                Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
            ),
            "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            supplier_actor(PackageKind::Deb, Some("Santiago Vila <sanvila@debian.org>")),
            "Person: Santiago Vila (sanvila@debian.org)"
        );
        assert_eq!(
            supplier_actor(PackageKind::Rpm, Some("Red Hat, Inc.")),
            "Organization: Red Hat, Inc."
        );
        assert_eq!(
            supplier_actor(PackageKind::Deb, Some("J. (Jay) Doe <j@d.org>")),
            "Person: J. Jay Doe (j@d.org)"
        );
        assert_eq!(supplier_actor(PackageKind::Deb, None), "NOASSERTION");
        assert_eq!(supplier_actor(PackageKind::Deb, Some("  ")), "NOASSERTION");
    }

    #[test]
    fn license_list_version_has_two_parts() {
        let v = license_list_version();
        assert_eq!(v.split('.').count(), 2, "{v}");
    }
}
