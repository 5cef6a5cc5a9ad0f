//! The encoders against real validators: the official CycloneDX 1.6 and SPDX 2.3 JSON schemas,
//! the SPDX project's own validator (`pyspdxtools`), and Stella's published report schema.

mod common;

use common::{
    cyclonedx_validator, find_on_path, json, report_validator, schema_errors, spdx_validator,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{
    AnalyzerInfo, Dependency, Digest, Distro, ImageInfo, Inventory, LayerInfo, Package,
    PackageKind, os_package_purl,
};
use stella_sbom::{EncodeOptions, SbomError, cyclonedx_json, report_json, spdx_json};

// ---------------------------------------------------------------------------------------------
// A Debian 12 image with two layers.

fn debian12() -> Distro {
    Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        codename: Some("bookworm".into()),
        pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        id_like: vec![],
        source_file: "etc/os-release".into(),
    }
}

fn layer_digest(i: u32) -> Digest {
    Digest::sha256_of(format!("layer {i} blob").as_bytes())
}

struct Deb {
    name: &'static str,
    version: &'static str,
    epoch: Option<u64>,
    source: Option<(&'static str, &'static str)>,
    supplier: &'static str,
    licenses: &'static [&'static str],
    depends: &'static [&'static str],
    provides: &'static [&'static str],
    layer: u32,
}

fn deb(d: Deb) -> Package {
    let distro = debian12();
    let upstream_version = match d.epoch {
        Some(_) => d.version.split_once(':').unwrap().1,
        None => d.version,
    };
    Package {
        kind: PackageKind::Deb,
        name: d.name.into(),
        version: d.version.into(),
        epoch: d.epoch,
        arch: Some("amd64".into()),
        source_name: d.source.map(|s| s.0.into()),
        source_version: d.source.map(|s| s.1.into()),
        supplier: Some(d.supplier.into()),
        licenses: d.licenses.iter().map(|s| s.to_string()).collect(),
        files: vec![format!("usr/share/doc/{}/copyright", d.name)],
        depends: d
            .depends
            .iter()
            .map(|n| Dependency {
                name: n.to_string(),
            })
            .collect(),
        provides: d.provides.iter().map(|s| s.to_string()).collect(),
        purl: os_package_purl(
            PackageKind::Deb,
            d.name,
            upstream_version,
            d.epoch,
            Some("amd64"),
            Some(&distro),
            d.source.map(|s| s.0),
        )
        .unwrap(),
        found_in: "var/lib/dpkg/status".into(),
        layer: Some(layer_digest(d.layer)),
        dev: false,
        properties: Default::default(),
    }
}

fn inventory() -> Inventory {
    let packages = vec![
        deb(Deb {
            name: "base-files",
            version: "12.4+deb12u5",
            epoch: None,
            source: None,
            supplier: "Santiago Vila <sanvila@debian.org>",
            licenses: &["GPL-2+"],
            // Pre-Depends: awk, a virtual package provided by mawk.
            depends: &["awk"],
            provides: &["base"],
            layer: 0,
        }),
        deb(Deb {
            name: "gcc-12-base",
            version: "12.2.0-14",
            epoch: None,
            source: Some(("gcc-12", "12.2.0-14")),
            supplier: "Debian GCC Maintainers <debian-gcc@lists.debian.org>",
            licenses: &[],
            depends: &[],
            provides: &[],
            layer: 0,
        }),
        deb(Deb {
            name: "libc6",
            version: "2.36-9+deb12u4",
            epoch: None,
            source: Some(("glibc", "2.36-9+deb12u4")),
            supplier: "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
            licenses: &["GPL-2.0-only", "LGPL-2.1-or-later", "public-domain"],
            depends: &["libgcc-s1"],
            provides: &[],
            layer: 0,
        }),
        deb(Deb {
            name: "libgcc-s1",
            version: "12.2.0-14",
            epoch: None,
            source: Some(("gcc-12", "12.2.0-14")),
            supplier: "Debian GCC Maintainers <debian-gcc@lists.debian.org>",
            licenses: &["GPL-3.0-or-later WITH GCC-exception-3.1"],
            depends: &["gcc-12-base", "libc6"],
            provides: &["libgcc1"],
            layer: 0,
        }),
        deb(Deb {
            name: "mawk",
            version: "1.3.4.20200120-3.1",
            epoch: None,
            source: None,
            supplier: "Boyuan Yang <byang@debian.org>",
            licenses: &["GPL-2.0-only"],
            depends: &["libc6"],
            provides: &["awk"],
            layer: 0,
        }),
        deb(Deb {
            name: "passwd",
            version: "1:4.13+dfsg1-1+b1",
            epoch: Some(1),
            source: Some(("shadow", "1:4.13+dfsg1-1")),
            supplier: "Shadow package maintainers <pkg-shadow-devel@lists.alioth.debian.org>",
            licenses: &["GPL-2.0-or-later", "bsd-3-clause", "MIT OR Apache-2.0"],
            // libaudit1 is not installed in this image: the dependency is dropped.
            depends: &["libc6", "libaudit1"],
            provides: &[],
            layer: 1,
        }),
    ];
    let mut inv = Inventory {
        image: ImageInfo {
            reference: "docker://debian:12".into(),
            transport: "docker".into(),
            name: "library/debian".into(),
            tag: Some("12".into()),
            manifest_digest: Some(Digest::sha256_of(b"manifest")),
            config_digest: Some(Digest::sha256_of(b"config")),
            created: Some("2024-06-10T00:00:00Z".into()),
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            layers: (0..2)
                .map(|i| LayerInfo {
                    index: i,
                    digest: layer_digest(i),
                    diff_id: Some(Digest::sha256_of(format!("layer {i} tar").as_bytes())),
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    size: 1000 + u64::from(i),
                })
                .collect(),
        },
        distro: Some(debian12()),
        packages,
        analyzers: vec![AnalyzerInfo {
            name: "dpkg".into(),
            version: 1,
        }],
        warnings: vec!["var/lib/dpkg/status.d: not a directory".into()],
    };
    inv.normalize();
    inv
}

fn opts() -> EncodeOptions {
    EncodeOptions {
        timestamp: "2024-06-10T00:00:00Z".into(),
        tool_name: "stella".into(),
        tool_version: "0.1.0".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// CycloneDX

#[test]
fn cyclonedx_is_valid_against_the_official_1_6_schema() {
    let doc = json(&cyclonedx_json(&inventory(), &opts()).unwrap());
    let v = cyclonedx_validator();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));

    // The validator does reject what the schema forbids.
    let mut broken = doc.clone();
    broken["components"][1]["type"] = "software".into();
    assert!(!v.is_valid(&broken));
    let mut broken = doc.clone();
    broken["components"][1]["licenses"] = serde_json::json!([{"license": {"id": "Not-A-License"}}]);
    assert!(!v.is_valid(&broken));
}

#[test]
fn cyclonedx_describes_the_image_as_the_root_container() {
    let doc = json(&cyclonedx_json(&inventory(), &opts()).unwrap());
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["timestamp"], "2024-06-10T00:00:00Z");
    assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "stella");
    let image = &doc["metadata"]["component"];
    assert_eq!(image["type"], "container");
    assert_eq!(image["name"], "library/debian");
    let manifest = Digest::sha256_of(b"manifest");
    assert_eq!(image["version"], manifest.to_string());
    let purl: packageurl::PackageUrl = image["purl"].as_str().unwrap().parse().unwrap();
    assert_eq!(purl.ty(), "oci");
    assert_eq!(purl.name(), "debian");
    assert_eq!(purl.version(), Some(manifest.to_string().as_str()));
    let qualifiers: BTreeMap<String, String> = purl
        .qualifiers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        qualifiers,
        BTreeMap::from([
            ("arch".to_string(), "amd64".to_string()),
            (
                "repository_url".to_string(),
                "docker.io/library/debian".to_string()
            ),
            ("tag".to_string(), "12".to_string()),
        ])
    );
    let props: BTreeMap<&str, &str> = image["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert_eq!(props["stella:image:reference"], "docker://debian:12");
    assert_eq!(
        props["stella:image:config_digest"],
        Digest::sha256_of(b"config").to_string()
    );
    assert_eq!(props["stella:image:layer:0"], layer_digest(0).to_string());
    assert_eq!(props["stella:image:layer:1"], layer_digest(1).to_string());
    assert_eq!(props["stella:image:os"], "linux");

    let os = &doc["components"][0];
    assert_eq!(os["type"], "operating-system");
    assert_eq!(os["name"], "debian");
    assert_eq!(os["version"], "12");
}

fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn props_of(c: &Value) -> BTreeMap<String, String> {
    c["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn cyclonedx_packages_carry_purl_supplier_licenses_and_provenance() {
    let doc = json(&cyclonedx_json(&inventory(), &opts()).unwrap());
    let libc = component(&doc, "libc6");
    assert_eq!(libc["type"], "library");
    assert_eq!(libc["version"], "2.36-9+deb12u4");
    assert_eq!(
        libc["purl"],
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    );
    assert_eq!(libc["bom-ref"], libc["purl"]);
    assert_eq!(libc["supplier"]["name"], "GNU Libc Maintainers");
    assert_eq!(
        libc["supplier"]["contact"][0]["email"],
        "debian-glibc@lists.debian.org"
    );
    assert_eq!(
        libc["licenses"],
        serde_json::json!([
            {"license": {"id": "GPL-2.0-only"}},
            {"license": {"id": "LGPL-2.1-or-later"}},
            {"license": {"name": "public-domain"}}
        ])
    );
    let p = props_of(libc);
    assert_eq!(p["stella:package:source_name"], "glibc");
    assert_eq!(p["stella:package:source_version"], "2.36-9+deb12u4");
    assert_eq!(p["stella:package:arch"], "amd64");
    assert_eq!(p["stella:package:found_in"], "var/lib/dpkg/status");
    assert_eq!(p["stella:package:layer"], layer_digest(0).to_string());
    assert_eq!(
        libc["evidence"]["occurrences"][0]["location"],
        "var/lib/dpkg/status"
    );

    let passwd = component(&doc, "passwd");
    assert_eq!(passwd["version"], "1:4.13+dfsg1-1+b1");
    assert_eq!(props_of(passwd)["stella:package:epoch"], "1");
    assert_eq!(
        props_of(passwd)["stella:package:layer"],
        layer_digest(1).to_string()
    );
    // An expression among ids: the whole set is one expression, ids in canonical spelling.
    assert_eq!(
        passwd["licenses"],
        serde_json::json!([{"expression": "BSD-3-Clause AND GPL-2.0-or-later AND (MIT OR Apache-2.0)"}])
    );
    assert_eq!(
        component(&doc, "libgcc-s1")["licenses"],
        serde_json::json!([{"expression": "GPL-3.0-or-later WITH GCC-exception-3.1"}])
    );
    assert_eq!(
        component(&doc, "base-files")["licenses"],
        serde_json::json!([{"license": {"name": "GPL-2+"}}])
    );
    assert!(component(&doc, "gcc-12-base").get("licenses").is_none());
}

#[test]
fn cyclonedx_dependency_graph_lists_every_component_sorted_and_resolved() {
    let doc = json(&cyclonedx_json(&inventory(), &opts()).unwrap());
    let deps = doc["dependencies"].as_array().unwrap();
    let refs: Vec<&str> = deps.iter().map(|d| d["ref"].as_str().unwrap()).collect();
    let mut sorted = refs.clone();
    sorted.sort();
    assert_eq!(refs, sorted, "dependencies are sorted by ref");

    let mut all: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    all.insert(doc["metadata"]["component"]["bom-ref"].as_str().unwrap());
    assert_eq!(
        refs.iter().copied().collect::<BTreeSet<_>>(),
        all,
        "every component is in the graph"
    );

    let ref_of = |name: &str| {
        component(&doc, name)["bom-ref"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let depends_on = |name: &str| -> Vec<String> {
        let r = ref_of(name);
        let entry = deps.iter().find(|d| d["ref"] == r.as_str()).unwrap();
        entry
            .get("dependsOn")
            .map(|a| {
                a.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    // base-files needs awk, which mawk provides.
    assert_eq!(depends_on("base-files"), vec![ref_of("mawk")]);
    // libaudit1 is not installed: dropped.
    assert_eq!(depends_on("passwd"), vec![ref_of("libc6")]);
    let mut libgcc = vec![ref_of("gcc-12-base"), ref_of("libc6")];
    libgcc.sort();
    assert_eq!(depends_on("libgcc-s1"), libgcc);
    assert!(depends_on("gcc-12-base").is_empty());
    // The image depends on the OS and on every package.
    let image_entry = deps
        .iter()
        .find(|d| d["ref"] == doc["metadata"]["component"]["bom-ref"])
        .unwrap();
    assert_eq!(image_entry["dependsOn"].as_array().unwrap().len(), 7);
}

// ---------------------------------------------------------------------------------------------
// SPDX

#[test]
fn spdx_is_valid_against_the_official_2_3_schema() {
    let doc = json(&spdx_json(&inventory(), &opts()).unwrap());
    let v = spdx_validator();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));

    let mut broken = doc.clone();
    broken["packages"][0]["primaryPackagePurpose"] = "OPERATING-SYSTEM".into();
    assert!(
        !v.is_valid(&broken),
        "the schema spells the purpose with an underscore"
    );
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("documentNamespace");
    assert!(!v.is_valid(&broken));
}

fn spdx_package<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

#[test]
fn spdx_describes_the_image_and_relates_its_packages() {
    let doc = json(&spdx_json(&inventory(), &opts()).unwrap());
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2024-06-10T00:00:00Z");
    assert_eq!(
        doc["creationInfo"]["creators"],
        serde_json::json!(["Tool: stella-0.1.0"])
    );
    assert!(
        doc["documentNamespace"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );

    let image = spdx_package(&doc, "library/debian");
    assert_eq!(image["SPDXID"], "SPDXRef-Image");
    assert_eq!(image["primaryPackagePurpose"], "CONTAINER");
    assert_eq!(image["externalRefs"][0]["referenceType"], "purl");
    assert!(
        image["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap()
            .starts_with("pkg:oci/debian@sha256")
    );
    let os = spdx_package(&doc, "debian");
    assert_eq!(os["primaryPackagePurpose"], "OPERATING_SYSTEM");
    assert_eq!(os["versionInfo"], "12");

    let ids: BTreeSet<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["SPDXID"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        doc["packages"].as_array().unwrap().len(),
        "SPDXIDs are unique"
    );
    for id in &ids {
        let rest = id.strip_prefix("SPDXRef-").unwrap();
        assert!(
            rest.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }

    let rels: BTreeSet<(String, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_string(),
                r["relationshipType"].as_str().unwrap().to_string(),
                r["relatedSpdxElement"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let id = |name: &str| {
        spdx_package(&doc, name)["SPDXID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let has =
        |a: &str, t: &str, b: &str| rels.contains(&(a.to_string(), t.to_string(), b.to_string()));
    assert!(has("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));
    assert!(has("SPDXRef-Image", "CONTAINS", &id("debian")));
    for name in [
        "base-files",
        "gcc-12-base",
        "libc6",
        "libgcc-s1",
        "mawk",
        "passwd",
    ] {
        assert!(has("SPDXRef-Image", "CONTAINS", &id(name)), "{name}");
    }
    assert!(has(&id("base-files"), "DEPENDS_ON", &id("mawk")));
    assert!(has(&id("libgcc-s1"), "DEPENDS_ON", &id("libc6")));
    assert!(has(&id("passwd"), "DEPENDS_ON", &id("libc6")));
    let depends_on = rels.iter().filter(|r| r.1 == "DEPENDS_ON").count();
    // base-files→mawk, libc6→libgcc-s1, libgcc-s1→{gcc-12-base, libc6}, mawk→libc6, passwd→libc6
    assert_eq!(depends_on, 6);
    let listed: Vec<&Value> = doc["relationships"].as_array().unwrap().iter().collect();
    let mut sorted = listed.clone();
    sorted.sort_by_key(|r| {
        (
            r["spdxElementId"].as_str().unwrap().to_string(),
            r["relationshipType"].as_str().unwrap().to_string(),
            r["relatedSpdxElement"].as_str().unwrap().to_string(),
        )
    });
    assert_eq!(listed, sorted, "relationships are sorted");
}

#[test]
fn spdx_packages_carry_supplier_licenses_and_provenance() {
    let doc = json(&spdx_json(&inventory(), &opts()).unwrap());
    let libc = spdx_package(&doc, "libc6");
    assert_eq!(libc["versionInfo"], "2.36-9+deb12u4");
    assert_eq!(
        libc["supplier"],
        "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
    );
    assert_eq!(libc["licenseConcluded"], "NOASSERTION");
    assert_eq!(
        libc["licenseDeclared"],
        "GPL-2.0-only AND LGPL-2.1-or-later AND LicenseRef-public-domain"
    );
    assert_eq!(
        libc["externalRefs"][0]["referenceCategory"],
        "PACKAGE-MANAGER"
    );
    assert_eq!(
        libc["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    );
    let notes: BTreeSet<&str> = libc["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["comment"].as_str().unwrap())
        .collect();
    assert!(notes.contains("stella:package:source_name=glibc"));
    assert!(notes.contains(format!("stella:package:layer={}", layer_digest(0)).as_str()));
    assert!(notes.contains("stella:package:found_in=var/lib/dpkg/status"));
    assert!(
        libc["sourceInfo"]
            .as_str()
            .unwrap()
            .contains("var/lib/dpkg/status")
    );

    assert_eq!(
        spdx_package(&doc, "base-files")["supplier"],
        "Person: Santiago Vila (sanvila@debian.org)"
    );
    assert_eq!(
        spdx_package(&doc, "base-files")["licenseDeclared"],
        "LicenseRef-GPL-2-"
    );
    assert_eq!(
        spdx_package(&doc, "gcc-12-base")["licenseDeclared"],
        "NOASSERTION"
    );
    assert_eq!(
        spdx_package(&doc, "passwd")["licenseDeclared"],
        "BSD-3-Clause AND GPL-2.0-or-later AND (MIT OR Apache-2.0)"
    );
    let extracted: BTreeMap<&str, &str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["licenseId"].as_str().unwrap(),
                e["extractedText"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        extracted,
        BTreeMap::from([
            ("LicenseRef-GPL-2-", "GPL-2+"),
            ("LicenseRef-public-domain", "public-domain")
        ])
    );
}

#[test]
fn spdx_is_valid_for_pyspdxtools() {
    let Some(tool) = find_on_path("pyspdxtools") else {
        if std::env::var_os("CI").is_some() {
            panic!("pyspdxtools (PyPI spdx-tools) is not installed, and CI is set: it must be");
        }
        eprintln!("skipping: pyspdxtools (PyPI spdx-tools) is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |doc: &[u8], file: &str| {
        let path = dir.path().join(file);
        std::fs::write(&path, doc).unwrap();
        std::process::Command::new(&tool)
            .arg("-i")
            .arg(&path)
            .output()
            .expect("run pyspdxtools")
    };
    let out = run(
        &spdx_json(&inventory(), &opts()).unwrap(),
        "image.spdx.json",
    );
    assert!(
        out.status.success(),
        "pyspdxtools rejected the document ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // And it does reject a document that breaks SPDX rules our schema check cannot see: a
    // relationship to an element that does not exist.
    let mut broken = json(&spdx_json(&inventory(), &opts()).unwrap());
    broken["relationships"][0]["relatedSpdxElement"] = "SPDXRef-Nowhere".into();
    let out = run(
        &serde_json::to_vec_pretty(&broken).unwrap(),
        "broken.spdx.json",
    );
    assert!(
        !out.status.success(),
        "pyspdxtools accepted a dangling relationship"
    );
}

// ---------------------------------------------------------------------------------------------
// Report

#[test]
fn report_is_valid_against_its_published_schema() {
    let doc = json(&report_json(&inventory(), &opts()).unwrap());
    let v = report_validator();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));

    let mut broken = doc.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("purl");
    assert!(!v.is_valid(&broken), "every package key is required");
    let mut broken = doc.clone();
    broken["packages"][0]["unexpected"] = 1.into();
    assert!(!v.is_valid(&broken), "unknown keys are rejected");
    let mut broken = doc.clone();
    broken["image"]["layers"][0]["digest"] = "sha256:xyz".into();
    assert!(!v.is_valid(&broken), "digests are checked");

    // An inventory with nothing optional is valid too.
    let mut bare = inventory();
    bare.distro = None;
    bare.image.manifest_digest = None;
    bare.image.tag = None;
    bare.image.layers.clear();
    for p in &mut bare.packages {
        p.layer = None;
        p.supplier = None;
        p.arch = None;
    }
    let doc = json(&report_json(&bare, &opts()).unwrap());
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}

#[test]
fn report_holds_the_whole_inventory() {
    let doc = json(&report_json(&inventory(), &opts()).unwrap());
    assert_eq!(doc["schemaVersion"], "stella.report/v2");
    assert_eq!(
        doc["tool"],
        serde_json::json!({"name": "stella", "version": "0.1.0"})
    );
    assert_eq!(doc["createdAt"], "2024-06-10T00:00:00Z");
    assert_eq!(doc["distro"]["codename"], "bookworm");
    assert_eq!(
        doc["analyzers"],
        serde_json::json!([{"name": "dpkg", "version": 1}])
    );
    assert_eq!(doc["warnings"][0], "var/lib/dpkg/status.d: not a directory");
    assert_eq!(doc["image"]["layers"].as_array().unwrap().len(), 2);
    let passwd = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "passwd")
        .unwrap();
    assert_eq!(passwd["epoch"], 1);
    assert_eq!(passwd["layerIndex"], 1);
    assert_eq!(passwd["depends"], serde_json::json!(["libaudit1", "libc6"]));
    assert_eq!(passwd["dependsOn"].as_array().unwrap().len(), 1);
    assert_eq!(
        passwd["licenses"][2],
        serde_json::json!({"value": "bsd-3-clause", "kind": "spdx-id", "spdx": "BSD-3-Clause"})
    );
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "base-files",
            "gcc-12-base",
            "libc6",
            "libgcc-s1",
            "mawk",
            "passwd"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Determinism

type Encoder = fn(&Inventory, &EncodeOptions) -> Result<Vec<u8>, SbomError>;
const ENCODERS: [(&str, Encoder); 3] = [
    ("cyclonedx", cyclonedx_json),
    ("spdx", spdx_json),
    ("report", report_json),
];

#[test]
fn same_inventory_gives_identical_bytes() {
    for (name, encode) in ENCODERS {
        let a = encode(&inventory(), &opts()).unwrap();
        let b = encode(&inventory(), &opts()).unwrap();
        assert_eq!(a, b, "{name}");
        assert!(a.ends_with(b"}\n"), "{name} ends with a newline");
        assert!(a.starts_with(b"{\n  \""), "{name} is pretty-printed");

        // Collections in another order are the same inventory.
        let mut shuffled = inventory();
        shuffled.packages.reverse();
        for p in &mut shuffled.packages {
            p.licenses.reverse();
            p.depends.reverse();
        }
        assert_eq!(
            encode(&shuffled, &opts()).unwrap(),
            a,
            "{name}: input order does not matter"
        );
    }
}

fn serial(inv: &Inventory) -> String {
    json(&cyclonedx_json(inv, &opts()).unwrap())["serialNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

fn namespace(inv: &Inventory) -> String {
    json(&spdx_json(inv, &opts()).unwrap())["documentNamespace"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn document_ids_are_derived_from_content() {
    let inv = inventory();
    let s = serial(&inv);
    assert!(
        s.starts_with("urn:uuid:") && s.len() == "urn:uuid:".len() + 36,
        "{s}"
    );
    let n = namespace(&inv);
    assert_ne!(s, n);

    let mut changed = inventory();
    let libc = changed
        .packages
        .iter_mut()
        .find(|p| p.name == "libc6")
        .unwrap();
    libc.version = "2.36-9+deb12u7".into();
    assert_ne!(serial(&changed), s);
    assert_ne!(namespace(&changed), n);

    // The timestamp is the caller's and only the timestamp changes with it.
    let later = EncodeOptions {
        timestamp: "2024-06-10T02:00:00+02:00".into(),
        ..opts()
    };
    let a = cyclonedx_json(&inv, &opts()).unwrap();
    let b = cyclonedx_json(&inv, &later).unwrap();
    assert_eq!(
        a, b,
        "the same instant in another offset gives the same document"
    );
}

#[test]
fn bad_options_are_errors() {
    let bad = EncodeOptions {
        timestamp: "last tuesday".into(),
        ..opts()
    };
    for (name, encode) in ENCODERS {
        assert!(
            matches!(
                encode(&inventory(), &bad),
                Err(SbomError::InvalidTimestamp { .. })
            ),
            "{name}"
        );
    }
    let nameless = EncodeOptions {
        tool_name: " ".into(),
        ..opts()
    };
    assert!(matches!(
        spdx_json(&inventory(), &nameless),
        Err(SbomError::EmptyToolName)
    ));
}

#[test]
fn a_directory_scan_without_digests_or_distro_still_validates() {
    let mut inv = inventory();
    inv.image = ImageInfo {
        reference: "dir:/srv/rootfs".into(),
        transport: "dir".into(),
        name: "/srv/rootfs".into(),
        tag: None,
        manifest_digest: None,
        config_digest: None,
        created: None,
        os: "linux".into(),
        architecture: String::new(),
        variant: None,
        layers: vec![],
    };
    inv.distro = None;
    for p in &mut inv.packages {
        p.layer = None;
    }
    let cdx = json(&cyclonedx_json(&inv, &opts()).unwrap());
    let errors = schema_errors(&cyclonedx_validator(), &cdx);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    assert!(cdx["metadata"]["component"].get("purl").is_none());
    let spdx = json(&spdx_json(&inv, &opts()).unwrap());
    let errors = schema_errors(&spdx_validator(), &spdx);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}
