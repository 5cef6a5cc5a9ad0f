//! Findings in every output that has a place for them: CycloneDX `vulnerabilities`, SARIF
//! 2.1.0 and the `stella.report/v2` report, checked against the official schemas (in-process
//! and with `check-jsonschema`) and Stella's published report schema.

mod common;

use common::{
    check_jsonschema, cyclonedx_validator, json, report_validator, sarif_schema, sarif_validator,
    schema_errors, shared_data,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{
    AnalyzerInfo, Comparison, Digest, Distro, EpssScore, FeedSource, Finding, FindingPackage,
    FixState, ImageInfo, Inventory, LayerInfo, MatchEvidence, MatchedRecord, Package, PackageKind,
    Rating, ScanFindings, Severity, os_package_purl,
};
use stella_sbom::{
    EncodeOptions, SbomError, cyclonedx_json, cyclonedx_json_with_findings, report_json,
    report_json_with_findings, sarif_json,
};

// ---------------------------------------------------------------------------------------------
// A Debian 12 image with glibc's two binary packages, and three findings: CVE-2024-2961 in both
// (one vulnerability, two packages, high in one and medium in the other; EPSS; CVSS 3.1 and
// 4.0 ratings) and CVE-2023-4911 in libc6 (high, in CISA's KEV catalog).

const INSTALLED: &str = "2.36-9+deb12u2";
const SNAPSHOT: &str = "sha256:5b1f0c3e0a7d6c9e8b4a2f1d0c9b8a7e6d5c4b3a29180f7e6d5c4b3a2918f7e6";

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

fn glibc_package(name: &str, layer: u32) -> Package {
    Package {
        kind: PackageKind::Deb,
        name: name.into(),
        version: INSTALLED.into(),
        epoch: None,
        arch: Some("amd64".into()),
        source_name: Some("glibc".into()),
        source_version: Some(INSTALLED.into()),
        supplier: Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>".into()),
        licenses: vec!["LGPL-2.1-or-later".into()],
        files: vec![format!("usr/share/doc/{name}/copyright")],
        depends: vec![],
        provides: vec![],
        purl: os_package_purl(
            PackageKind::Deb,
            name,
            INSTALLED,
            None,
            Some("amd64"),
            Some(&debian12()),
            Some("glibc"),
        )
        .unwrap(),
        found_in: "var/lib/dpkg/status".into(),
        layer: Some(layer_digest(layer)),
        dev: false,
        properties: Default::default(),
    }
}

fn inventory() -> Inventory {
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
        packages: vec![glibc_package("libc6", 0), glibc_package("libc-bin", 1)],
        analyzers: vec![AnalyzerInfo {
            name: "dpkg".into(),
            version: 1,
        }],
        warnings: vec![],
    };
    inv.normalize();
    inv
}

fn purl_of(inv: &Inventory, name: &str) -> String {
    inv.packages
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .purl
        .clone()
}

fn rating(source: &str, method: &str, vector: &str, score: f64) -> Rating {
    Rating {
        source: source.into(),
        method: method.into(),
        vector: Some(vector.into()),
        score: Some(score),
        severity: Severity::from_cvss_score(score),
    }
}

struct Spec {
    vulnerability: &'static str,
    package: &'static str,
    aliases: &'static [&'static str],
    summary: &'static str,
    fixed: &'static str,
    severity: Severity,
    ratings: Vec<Rating>,
    kev: bool,
    epss: Option<(f64, f64)>,
}

fn finding(inv: &Inventory, s: Spec) -> Finding {
    let pkg = inv.packages.iter().find(|p| p.name == s.package).unwrap();
    Finding {
        id: Finding::make_id(s.vulnerability, &pkg.purl),
        vulnerability: s.vulnerability.into(),
        aliases: s.aliases.iter().map(|a| a.to_string()).collect(),
        summary: Some(s.summary.into()),
        package: FindingPackage {
            kind: pkg.kind,
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            purl: pkg.purl.clone(),
            source_name: Some("glibc".into()),
        },
        fix_state: FixState::Fixed,
        fixed_versions: vec![s.fixed.into()],
        severity: s.severity,
        severity_source: "nvd@nist.gov".into(),
        ratings: s.ratings,
        kev: s.kev,
        epss: s.epss.map(|(epss, percentile)| EpssScore {
            cve: s.vulnerability.into(),
            epss,
            percentile,
            date: Some("2024-06-09T00:00:00Z".into()),
            model_version: Some("v2023.03.01".into()),
        }),
        layer: pkg.layer.clone(),
        paths: vec![pkg.found_in.clone(), pkg.files[0].clone()],
        snapshot: SNAPSHOT.into(),
        evidence: MatchEvidence {
            method: "debian-tracker".into(),
            records: vec![MatchedRecord {
                source: FeedSource::Debian,
                upstream_id: s.vulnerability.into(),
                observation: Digest::sha256_of(s.vulnerability.as_bytes()).to_string(),
                ecosystem: "Debian:12".into(),
                package: "glibc".into(),
            }],
            ranges: vec![format!("bookworm: fixed {}", s.fixed)],
            comparisons: vec![Comparison {
                installed: INSTALLED.into(),
                op: "<".into(),
                bound: s.fixed.into(),
                holds: true,
            }],
        },
        references: vec![
            format!(
                "https://security-tracker.debian.org/tracker/{}",
                s.vulnerability
            ),
            format!("https://www.cve.org/CVERecord?id={}", s.vulnerability),
        ],
    }
}

fn scan_findings() -> ScanFindings {
    let inv = inventory();
    let iconv = |package| Spec {
        vulnerability: "CVE-2024-2961",
        package,
        aliases: &["DLA-3807-1", "DSA-5673-1"],
        summary: "The iconv() function in the GNU C Library may overflow the output buffer \
                  when converting strings to the ISO-2022-CN-EXT character set.",
        fixed: "2.36-9+deb12u7",
        severity: Severity::High,
        ratings: vec![
            rating(
                "nvd@nist.gov",
                "CVSSv31",
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
                8.1,
            ),
            rating(
                "GitHub",
                "CVSSv4",
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
        ],
        kev: false,
        epss: Some((0.00717, 0.80123)),
    };
    // Severity is per finding: Debian may rate the same CVE differently in another package.
    let mut iconv_bin = finding(&inv, iconv("libc-bin"));
    iconv_bin.severity = Severity::Medium;
    iconv_bin.severity_source = "debian".into();
    let mut findings = vec![
        finding(&inv, iconv("libc6")),
        iconv_bin,
        finding(
            &inv,
            Spec {
                vulnerability: "CVE-2023-4911",
                package: "libc6",
                aliases: &["DSA-5514-1"],
                summary: "A buffer overflow in the GNU C Library's dynamic loader ld.so while \
                          processing the GLIBC_TUNABLES environment variable.",
                fixed: "2.36-9+deb12u3",
                severity: Severity::High,
                ratings: vec![rating(
                    "nvd@nist.gov",
                    "CVSSv31",
                    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                    7.8,
                )],
                kev: true,
                epss: None,
            },
        ),
    ];
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings,
    }
}

fn opts() -> EncodeOptions {
    EncodeOptions {
        timestamp: "2024-06-10T00:00:00Z".into(),
        tool_name: "stella".into(),
        tool_version: "0.1.0".into(),
    }
}

fn props(v: &Value) -> Vec<(String, String)> {
    v["properties"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["value"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    props
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CycloneDX

fn cdx() -> Vec<u8> {
    cyclonedx_json_with_findings(&inventory(), Some(&scan_findings()), &opts()).unwrap()
}

#[test]
fn cyclonedx_with_findings_is_valid_against_the_official_1_6_schema() {
    let bytes = cdx();
    let doc = json(&bytes);
    let v = cyclonedx_validator();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    // The validator does look at vulnerabilities.
    let mut broken = doc.clone();
    broken["vulnerabilities"][0]["ratings"][0]["severity"] = "negligible".into();
    assert!(
        !v.is_valid(&broken),
        "negligible is not a CycloneDX severity"
    );

    let schema = shared_data().join("schemas-cyclonedx/schema/bom-1.6.schema.json");
    check_jsonschema(&schema, &bytes, "findings.cdx.json");
    // Matching done, nothing found: an empty list, still valid.
    let empty = ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings: vec![],
    };
    let bytes = cyclonedx_json_with_findings(&inventory(), Some(&empty), &opts()).unwrap();
    check_jsonschema(&schema, &bytes, "no-findings.cdx.json");
}

#[test]
fn cyclonedx_has_one_vulnerability_per_id_affecting_components_by_bom_ref() {
    let doc = json(&cdx());
    let refs: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let ids: Vec<&str> = vulns.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["CVE-2023-4911", "CVE-2024-2961"],
        "one entry per id, sorted"
    );
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            let r = a["ref"].as_str().unwrap();
            assert!(refs.contains(r), "affects ref {r} names a component");
        }
    }

    let inv = inventory();
    let (libc6, libc_bin) = (purl_of(&inv, "libc6"), purl_of(&inv, "libc-bin"));
    let iconv = &vulns[1];
    assert_eq!(
        iconv["source"],
        serde_json::json!({"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-2961"})
    );
    assert_eq!(
        iconv["references"],
        serde_json::json!([
            {"id": "DLA-3807-1", "source": {"name": "OSV", "url": "https://osv.dev/vulnerability/DLA-3807-1"}},
            {"id": "DSA-5673-1", "source": {"name": "OSV", "url": "https://osv.dev/vulnerability/DSA-5673-1"}}
        ])
    );
    assert_eq!(
        iconv["ratings"],
        serde_json::json!([
            {"source": {"name": "GitHub"}, "score": 9.3, "severity": "critical", "method": "CVSSv4",
             "vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
            {"source": {"name": "nvd@nist.gov"}, "score": 8.1, "severity": "high", "method": "CVSSv31",
             "vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}
        ]),
        "the two packages' identical ratings are listed once"
    );
    assert!(
        iconv["description"]
            .as_str()
            .unwrap()
            .starts_with("The iconv() function")
    );
    assert_eq!(
        iconv["recommendation"],
        format!(
            "Upgrade libc-bin {INSTALLED} to 2.36-9+deb12u7. Upgrade libc6 {INSTALLED} to 2.36-9+deb12u7."
        )
    );
    let versions = serde_json::json!([
        {"version": INSTALLED, "status": "affected"},
        {"version": "2.36-9+deb12u7", "status": "unaffected"}
    ]);
    assert_eq!(
        iconv["affects"],
        serde_json::json!([
            {"ref": libc_bin, "versions": versions},
            {"ref": libc6, "versions": versions}
        ])
    );
    assert_eq!(
        iconv["advisories"][0]["url"],
        "https://security-tracker.debian.org/tracker/CVE-2024-2961"
    );
    let p = props(iconv);
    assert_eq!(prop(&p, "stella:finding:kev"), ["false"]);
    assert_eq!(prop(&p, "stella:finding:epss"), ["0.00717"]);
    assert_eq!(prop(&p, "stella:finding:epss_percentile"), ["0.80123"]);
    assert_eq!(
        prop(&p, "stella:finding:fixed_versions"),
        [
            format!("{libc_bin} 2.36-9+deb12u7"),
            format!("{libc6} 2.36-9+deb12u7")
        ]
    );
    assert_eq!(
        prop(&p, "stella:finding:layer"),
        [
            format!("{libc_bin} {}", layer_digest(1)),
            format!("{libc6} {}", layer_digest(0))
        ]
    );
    assert_eq!(
        prop(&p, "stella:finding:fix_state"),
        [format!("{libc_bin} fixed"), format!("{libc6} fixed")]
    );
    assert_eq!(
        prop(&p, "stella:finding:severity"),
        [format!("{libc_bin} medium"), format!("{libc6} high")]
    );
    assert_eq!(
        prop(&p, "stella:finding:severity_source"),
        [
            format!("{libc_bin} debian"),
            format!("{libc6} nvd@nist.gov")
        ]
    );

    let looney = &vulns[0];
    assert_eq!(prop(&props(looney), "stella:finding:kev"), ["true"]);
    assert!(prop(&props(looney), "stella:finding:epss").is_empty());
    assert_eq!(looney["affects"].as_array().unwrap().len(), 1);
    assert_eq!(looney["affects"][0]["ref"], libc6.as_str());

    let meta = props(&doc["metadata"]);
    assert_eq!(prop(&meta, "stella:advisories:snapshot"), [SNAPSHOT]);
}

#[test]
fn cyclonedx_without_matching_is_the_plain_sbom_and_empty_matching_an_empty_list() {
    let inv = inventory();
    let plain = cyclonedx_json(&inv, &opts()).unwrap();
    assert_eq!(
        cyclonedx_json_with_findings(&inv, None, &opts()).unwrap(),
        plain
    );
    assert!(json(&plain).get("vulnerabilities").is_none());
    assert!(
        prop(
            &props(&json(&plain)["metadata"]),
            "stella:advisories:snapshot"
        )
        .is_empty()
    );

    let empty = ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings: vec![],
    };
    let doc = json(&cyclonedx_json_with_findings(&inv, Some(&empty), &opts()).unwrap());
    assert_eq!(doc["vulnerabilities"], serde_json::json!([]));
    assert_eq!(
        prop(&props(&doc["metadata"]), "stella:advisories:snapshot"),
        [SNAPSHOT]
    );
    let (plain, with) = (json(&plain), json(&cdx()));
    let serials: BTreeSet<&str> = [&plain, &doc, &with]
        .iter()
        .map(|d| d["serialNumber"].as_str().unwrap())
        .collect();
    assert_eq!(
        serials.len(),
        3,
        "findings are part of the document's identity"
    );
}

// ---------------------------------------------------------------------------------------------
// SARIF

fn sarif() -> Vec<u8> {
    sarif_json(&inventory(), &scan_findings(), &opts()).unwrap()
}

#[test]
fn sarif_is_valid_against_the_official_2_1_0_schema() {
    let bytes = sarif();
    let doc = json(&bytes);
    let v = sarif_validator();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "critical".into();
    assert!(!v.is_valid(&broken), "the validator checks result levels");

    check_jsonschema(&sarif_schema(), &bytes, "findings.sarif.json");
    let empty = ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings: vec![],
    };
    let bytes = sarif_json(&inventory(), &empty, &opts()).unwrap();
    assert!(schema_errors(&v, &json(&bytes)).is_empty());
    check_jsonschema(&sarif_schema(), &bytes, "no-findings.sarif.json");
}

#[test]
fn sarif_has_one_rule_per_vulnerability_and_one_result_per_finding() {
    let doc = json(&sarif());
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "stella");
    assert_eq!(driver["version"], "0.1.0");
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(
        run["properties"],
        serde_json::json!({
            "imageReference": "docker://debian:12",
            "imageDigest": Digest::sha256_of(b"manifest").to_string(),
            "snapshot": SNAPSHOT
        })
    );
    assert!(run.get("invocations").is_none(), "no clock in the output");

    let rules = driver["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rule_ids, ["CVE-2023-4911", "CVE-2024-2961"]);
    let iconv = &rules[1];
    assert_eq!(
        iconv["helpUri"],
        "https://nvd.nist.gov/vuln/detail/CVE-2024-2961"
    );
    assert_eq!(
        iconv["shortDescription"]["text"],
        "CVE-2024-2961 (high) in libc-bin, libc6"
    );
    assert!(
        iconv["fullDescription"]["text"]
            .as_str()
            .unwrap()
            .starts_with("The iconv() function")
    );
    assert_eq!(iconv["defaultConfiguration"]["level"], "error");
    assert_eq!(
        iconv["properties"]["security-severity"], "9.3",
        "the highest CVSS score, CVSS 4.0 included"
    );
    assert_eq!(
        iconv["properties"]["tags"],
        serde_json::json!(["security", "vulnerability", "high"])
    );
    let md = iconv["help"]["markdown"].as_str().unwrap();
    assert!(
        md.contains("| high | libc6 | 2.36-9+deb12u2 | 2.36-9+deb12u7 |"),
        "{md}"
    );
    assert!(
        iconv["help"]["text"]
            .as_str()
            .unwrap()
            .contains("Aliases: DLA-3807-1, DSA-5673-1")
    );
    assert_eq!(
        rules[0]["properties"]["tags"],
        serde_json::json!(["security", "vulnerability", "high", "kev"])
    );
    assert_eq!(rules[0]["properties"]["security-severity"], "7.8");

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex points at the rule");
    }
    let inv = inventory();
    let (libc6, libc_bin) = (purl_of(&inv, "libc6"), purl_of(&inv, "libc-bin"));
    let levels: BTreeMap<(&str, &str), &str> = results
        .iter()
        .map(|r| {
            (
                (
                    r["ruleId"].as_str().unwrap(),
                    r["properties"]["purl"].as_str().unwrap(),
                ),
                r["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        BTreeMap::from([
            (("CVE-2023-4911", libc6.as_str()), "error"),
            (("CVE-2024-2961", libc_bin.as_str()), "warning"),
            (("CVE-2024-2961", libc6.as_str()), "error"),
        ]),
        "each result has its finding's level"
    );
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2024-2961" && r["properties"]["purl"] == libc6.as_str())
        .unwrap();
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["message"]["text"],
        format!(
            "Package libc6 version {INSTALLED} is affected by CVE-2024-2961 (high). Fixed in: 2.36-9+deb12u7."
        )
    );
    let loc = &r["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "IMAGEROOT"
    );
    assert_eq!(
        loc["logicalLocations"],
        serde_json::json!([{"name": libc6, "kind": "package"}])
    );
    let p = &r["properties"];
    assert_eq!(p["installedVersion"], INSTALLED);
    assert_eq!(p["fixedVersions"], serde_json::json!(["2.36-9+deb12u7"]));
    assert_eq!(p["severity"], "high");
    assert_eq!(p["kev"], false);
    assert_eq!(p["epss"], 0.00717);
    assert_eq!(p["layer"], layer_digest(0).to_string());
    assert_eq!(p["snapshot"], SNAPSHOT);
    assert_eq!(p["findingId"], format!("CVE-2024-2961@{libc6}"));

    let fingerprints: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["vulnerabilityPackageHash/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        fingerprints.len(),
        3,
        "each finding has its own fingerprint"
    );
}

#[test]
fn sarif_fingerprints_do_not_depend_on_anything_but_vulnerability_and_purl() {
    let fp = |sf: &ScanFindings| {
        let doc = json(&sarif_json(&inventory(), sf, &opts()).unwrap());
        doc["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["vulnerabilityPackageHash/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let before = fp(&scan_findings());
    let mut changed = scan_findings();
    for f in &mut changed.findings {
        f.severity = Severity::Critical;
        f.snapshot = "sha256:other".into();
        f.fixed_versions.push("2.36-9+deb12u9".into());
    }
    assert_eq!(fp(&changed), before);
}

// ---------------------------------------------------------------------------------------------
// Report

#[test]
fn report_with_and_without_findings_is_valid_against_its_published_schema() {
    let v = report_validator();
    let inv = inventory();
    let empty = ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings: vec![],
    };
    let full = scan_findings();
    for findings in [None, Some(&empty), Some(&full)] {
        let doc = json(&report_json_with_findings(&inv, findings, &opts()).unwrap());
        let errors = schema_errors(&v, &doc);
        assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    }

    let doc = json(&report_json_with_findings(&inv, Some(&full), &opts()).unwrap());
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("advisories");
    assert!(
        !v.is_valid(&broken),
        "findings come with the advisories snapshot"
    );
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("summary");
    assert!(!v.is_valid(&broken), "findings come with a summary");
    let mut broken = doc.clone();
    broken["findings"][0]["unexpected"] = 1.into();
    assert!(!v.is_valid(&broken), "unknown finding keys are rejected");
    let mut broken = doc.clone();
    broken["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("epss");
    assert!(!v.is_valid(&broken), "every finding key is required");
    let mut broken = doc.clone();
    broken["findings"][0]["severity"] = "important".into();
    assert!(!v.is_valid(&broken), "severities are Stella's six");
    let mut broken = doc.clone();
    broken["findings"][0]["fixState"] = "fixed_version".into();
    assert!(!v.is_valid(&broken));
}

#[test]
fn report_carries_every_finding_field_and_a_summary() {
    let inv = inventory();
    let plain = json(&report_json(&inv, &opts()).unwrap());
    assert_eq!(plain["schemaVersion"], "stella.report/v2");
    for key in ["advisories", "findings", "summary"] {
        assert!(plain.get(key).is_none(), "no matching, no {key}");
    }

    let empty = ScanFindings {
        snapshot: SNAPSHOT.into(),
        findings: vec![],
    };
    let doc = json(&report_json_with_findings(&inv, Some(&empty), &opts()).unwrap());
    assert_eq!(doc["findings"], serde_json::json!([]));
    assert_eq!(doc["advisories"], serde_json::json!({"snapshot": SNAPSHOT}));
    assert_eq!(doc["summary"]["findings"]["total"], 0);

    let doc = json(&report_json_with_findings(&inv, Some(&scan_findings()), &opts()).unwrap());
    // Everything v1 had is unchanged.
    let mut without = doc.clone();
    for key in ["advisories", "findings", "summary"] {
        without.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(without, plain);

    assert_eq!(
        doc["summary"],
        serde_json::json!({"findings": {
            "total": 3, "critical": 0, "high": 2, "medium": 1, "low": 0, "negligible": 0, "unknown": 0
        }})
    );
    let bom_refs: BTreeSet<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bomRef"].as_str().unwrap())
        .collect();
    let findings = doc["findings"].as_array().unwrap();
    let keys: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["package"]["purl"].as_str().unwrap(),
                f["vulnerability"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "findings are sorted by package, then vulnerability"
    );
    for f in findings {
        assert!(bom_refs.contains(f["package"]["bomRef"].as_str().unwrap()));
    }

    let libc6 = purl_of(&inv, "libc6");
    let f = findings
        .iter()
        .find(|f| f["id"] == format!("CVE-2024-2961@{libc6}").as_str())
        .unwrap();
    let expected = serde_json::json!({
        "id": format!("CVE-2024-2961@{libc6}"),
        "vulnerability": "CVE-2024-2961",
        "aliases": ["DLA-3807-1", "DSA-5673-1"],
        "summary": f["summary"],
        "package": {
            "bomRef": libc6, "kind": "deb", "name": "libc6", "version": INSTALLED,
            "purl": libc6, "sourceName": "glibc"
        },
        "fixState": "fixed",
        "fixedVersions": ["2.36-9+deb12u7"],
        "severity": "high",
        "severitySource": "nvd@nist.gov",
        "ratings": [
            {"source": "nvd@nist.gov", "method": "CVSSv31",
             "vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "score": 8.1, "severity": "high"},
            {"source": "GitHub", "method": "CVSSv4",
             "vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "score": 9.3,
             "severity": "critical"}
        ],
        "kev": false,
        "epss": {"cve": "CVE-2024-2961", "epss": 0.00717, "percentile": 0.80123,
                 "date": "2024-06-09T00:00:00Z", "modelVersion": "v2023.03.01"},
        "layer": layer_digest(0).to_string(),
        "paths": ["usr/share/doc/libc6/copyright", "var/lib/dpkg/status"],
        "snapshot": SNAPSHOT,
        "evidence": {
            "method": "debian-tracker",
            "records": [{
                "source": "debian", "upstreamId": "CVE-2024-2961",
                "observation": Digest::sha256_of(b"CVE-2024-2961").to_string(),
                "ecosystem": "Debian:12", "package": "glibc"
            }],
            "ranges": ["bookworm: fixed 2.36-9+deb12u7"],
            "comparisons": [{"installed": INSTALLED, "op": "<", "bound": "2.36-9+deb12u7", "holds": true}]
        },
        "references": [
            "https://security-tracker.debian.org/tracker/CVE-2024-2961",
            "https://www.cve.org/CVERecord?id=CVE-2024-2961"
        ]
    });
    assert_eq!(f, &expected);
    let looney = findings
        .iter()
        .find(|f| f["vulnerability"] == "CVE-2023-4911")
        .unwrap();
    assert_eq!(looney["kev"], true);
    assert_eq!(looney["epss"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Determinism and errors

type Encoder = fn(&Inventory, &ScanFindings, &EncodeOptions) -> Result<Vec<u8>, SbomError>;
const ENCODERS: [(&str, Encoder); 3] = [
    ("cyclonedx", |i, f, o| {
        cyclonedx_json_with_findings(i, Some(f), o)
    }),
    ("report", |i, f, o| report_json_with_findings(i, Some(f), o)),
    ("sarif", sarif_json),
];

#[test]
fn same_findings_in_any_order_give_identical_bytes() {
    for (name, encode) in ENCODERS {
        let a = encode(&inventory(), &scan_findings(), &opts()).unwrap();
        let b = encode(&inventory(), &scan_findings(), &opts()).unwrap();
        assert_eq!(a, b, "{name}");
        assert!(a.ends_with(b"}\n"), "{name} ends with a newline");

        let mut shuffled = scan_findings();
        shuffled.findings.reverse();
        shuffled.findings.swap(0, 1);
        for f in &mut shuffled.findings {
            f.aliases.reverse();
            f.paths.reverse();
        }
        let mut inv = inventory();
        inv.packages.reverse();
        assert_eq!(
            encode(&inv, &shuffled, &opts()).unwrap(),
            a,
            "{name}: input order does not matter"
        );

        // A finding reported twice is one finding.
        let mut doubled = scan_findings();
        doubled.findings.push(doubled.findings[0].clone());
        assert_eq!(
            encode(&inventory(), &doubled, &opts()).unwrap(),
            a,
            "{name}"
        );
    }
}

#[test]
fn a_finding_about_a_package_not_in_the_inventory_is_an_error() {
    let mut sf = scan_findings();
    sf.findings[0].package.purl = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64".into();
    for (name, encode) in ENCODERS {
        match encode(&inventory(), &sf, &opts()) {
            Err(SbomError::UnknownFindingPackage { purl, .. }) => {
                assert!(purl.contains("openssl"), "{name}")
            }
            other => panic!("{name}: expected UnknownFindingPackage, got {other:?}"),
        }
    }
}

#[test]
fn findings_about_packages_sharing_a_purl_follow_the_database_they_came_from() {
    // The same package recorded from two databases: two components, told apart by bom-ref.
    let mut inv = inventory();
    let mut copy = inv
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .unwrap()
        .clone();
    copy.found_in = "var/lib/dpkg/status.d/libc6".into();
    copy.layer = Some(layer_digest(1));
    inv.packages.push(copy.clone());
    inv.normalize();

    let mut sf = scan_findings();
    let mut second = sf
        .findings
        .iter()
        .find(|f| f.vulnerability == "CVE-2023-4911")
        .unwrap()
        .clone();
    second.paths = vec![copy.found_in.clone()];
    second.layer = copy.layer.clone();
    sf.findings.push(second);

    let doc = json(&cyclonedx_json_with_findings(&inv, Some(&sf), &opts()).unwrap());
    let errors = schema_errors(&cyclonedx_validator(), &doc);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    let components: BTreeMap<&str, &str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let found_in = c["evidence"]["occurrences"][0]["location"].as_str()?;
            (c["name"] == "libc6").then(|| (found_in, c["bom-ref"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(components.len(), 2);
    let looney = doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2023-4911")
        .unwrap();
    let affected: BTreeSet<&str> = looney["affects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ref"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = components.values().copied().collect();
    assert_eq!(affected, expected, "each finding names its own component");

    let sarif = json(&sarif_json(&inv, &sf, &opts()).unwrap());
    let uris: BTreeSet<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "CVE-2023-4911")
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        uris,
        BTreeSet::from(["var/lib/dpkg/status", "var/lib/dpkg/status.d/libc6"])
    );
}
