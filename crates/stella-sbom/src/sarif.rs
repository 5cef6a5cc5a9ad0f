//! SARIF 2.1.0 JSON: findings as static-analysis results, the shape code-scanning dashboards
//! (GitHub code scanning, Azure DevOps, SARIF viewers) read.
//!
//! One run; one rule per vulnerability id (what the vulnerability is), one result per finding
//! (which package has it, where). Results are located at the database the package was read
//! from, relative to the image root (`uriBaseId` `IMAGEROOT`), with the package's purl as a
//! logical location. Nothing depends on the clock: the log has no `invocations`, so the same
//! scan gives the same bytes. As in the CycloneDX encoder, the document types are small serde
//! structs of our own, checked in tests against the official 2.1.0 schema.

use crate::SbomError;
use crate::findings::{
    FindingEntry, PreparedFindings, VulnerabilityGroup, fix_state_str, id_source, or_list,
};
use crate::ids::sha256_hex;
use crate::prepared::Prepared;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{Finding, FixState, Severity};

/// The OASIS 2.1.0 schema (errata 01), the `id` of the schema file itself.
const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where `informationUri` points: the project's repository.
const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// The base that result locations are relative to.
const IMAGE_ROOT: &str = "IMAGEROOT";

/// Name of the partial fingerprint: a hash of the vulnerability id and the package's purl.
const FINGERPRINT: &str = "vulnerabilityPackageHash/v1";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    original_uri_base_ids: BTreeMap<&'static str, BaseUri>,
    results: Vec<SarifResult>,
    properties: RunProperties,
}

#[derive(Serialize)]
struct BaseUri {
    uri: &'static str,
    description: Message,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Message,
    full_description: Message,
    help_uri: String,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    /// GitHub code scanning's convention: a CVSS score as a string.
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<String>,
    tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
struct LogicalLocation {
    name: String,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    finding_id: String,
    purl: String,
    installed_version: String,
    fixed_versions: Vec<String>,
    fix_state: &'static str,
    severity: &'static str,
    severity_source: String,
    kev: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    epss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epss_percentile: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<String>,
    snapshot: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties {
    image_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    snapshot: String,
}

/// SARIF level of a severity: critical and high are errors, medium a warning, the rest notes.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Negligible | Severity::Unknown => "note",
    }
}

/// A relative path as a URI reference: no leading slash, every byte outside the unreserved
/// characters, `/` and the sub-delimiters percent-encoded (`:` too, so that the first segment
/// never reads as a scheme).
fn path_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Text for a Markdown table cell: pipes escaped, line breaks turned into spaces.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn fixed_text(f: &Finding) -> String {
    match f.fix_state {
        FixState::Fixed if !f.fixed_versions.is_empty() => {
            format!("Fixed in: {}.", or_list(&f.fixed_versions))
        }
        FixState::Fixed => "A fix exists.".to_string(),
        FixState::NotFixed => "No fix is known.".to_string(),
        FixState::WontFix => "The distribution will not fix it.".to_string(),
    }
}

fn rule(g: &VulnerabilityGroup, f: &PreparedFindings) -> Rule {
    let severity = g.severity(f);
    let (_, url) = id_source(&g.id);
    let names: BTreeSet<&str> = g
        .findings(f)
        .map(|e| e.finding.package.name.as_str())
        .collect();
    let names = names.into_iter().collect::<Vec<_>>().join(", ");
    let short = format!("{} ({severity}) in {names}", g.id);
    let summary = g.summary(f);
    let aliases = g.aliases(f);
    let kev = g.kev(f);
    let epss = g.epss(f).filter(|e| e.epss.is_finite());
    let max_score = g.max_cvss_score(f);
    let references = g.references(f);

    let mut text = format!("Vulnerability {}\nSeverity: {severity}\n", g.id);
    let mut md = format!(
        "**Vulnerability [{id}]({url})**\n\n| Severity | Package | Installed | Fixed |\n| --- | --- | --- | --- |\n",
        id = g.id
    );
    if let Some(s) = max_score {
        text.push_str(&format!("Highest CVSS score: {s}\n"));
    }
    if !aliases.is_empty() {
        text.push_str(&format!("Aliases: {}\n", aliases.join(", ")));
    }
    if kev {
        text.push_str("Known exploited: listed in CISA's KEV catalog\n");
    }
    if let Some(e) = epss {
        text.push_str(&format!("EPSS: {} (percentile {})\n", e.epss, e.percentile));
    }
    for e in g.findings(f) {
        let fd = &e.finding;
        text.push_str(&format!(
            "Package: {} {} ({}) {}\n",
            fd.package.name,
            fd.package.version,
            fd.severity,
            fixed_text(fd)
        ));
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            fd.severity,
            cell(&fd.package.name),
            cell(&fd.package.version),
            match fd.fix_state {
                FixState::Fixed => cell(&fd.fixed_versions.join(", ")),
                s => fix_state_str(s).to_string(),
            }
        ));
    }
    // One sentence per fact, on one line under the table.
    let mut facts = Vec::new();
    if let Some(s) = max_score {
        facts.push(format!("Highest CVSS score: {s}."));
    }
    if !aliases.is_empty() {
        facts.push(format!("Aliases: {}.", aliases.join(", ")));
    }
    if kev {
        facts.push("Listed in CISA's Known Exploited Vulnerabilities catalog.".to_string());
    }
    if let Some(e) = epss {
        facts.push(format!("EPSS: {} (percentile {}).", e.epss, e.percentile));
    }
    if !facts.is_empty() {
        md.push_str(&format!("\n{}\n", facts.join(" ")));
    }
    if let Some(s) = summary {
        text.push_str(&format!("\n{s}\n"));
        md.push_str(&format!("\n{s}\n"));
    }
    if !references.is_empty() {
        text.push_str("\nReferences:\n");
        md.push_str("\nReferences:\n");
        for r in &references {
            text.push_str(&format!("{r}\n"));
            md.push_str(&format!("- <{r}>\n"));
        }
    }

    let mut tags = vec![
        "security".to_string(),
        "vulnerability".to_string(),
        severity.as_str().to_string(),
    ];
    if kev {
        tags.push("kev".to_string());
    }
    Rule {
        id: g.id.clone(),
        full_description: Message {
            text: summary.map_or_else(|| short.clone(), str::to_string),
        },
        short_description: Message { text: short },
        help_uri: url,
        help: Help { text, markdown: md },
        default_configuration: Configuration {
            level: level(severity),
        },
        properties: RuleProperties {
            security_severity: max_score.map(|s| format!("{s:.1}")),
            tags,
        },
    }
}

fn result(p: &Prepared, e: &FindingEntry, rule_index: usize) -> SarifResult {
    let f = &e.finding;
    let pkg = &p.inv.packages[e.package];
    // The package's database; a finding's own first path when the inventory has none.
    let path = Some(pkg.found_in.as_str())
        .filter(|s| !s.is_empty())
        .or_else(|| f.paths.first().map(String::as_str))
        .map(path_uri)
        .filter(|u| !u.is_empty());
    let purl = if f.package.purl.is_empty() {
        p.entries[e.package].bom_ref.clone()
    } else {
        f.package.purl.clone()
    };
    let message = format!(
        "Package {} version {} is affected by {} ({}). {}",
        f.package.name,
        f.package.version,
        f.vulnerability,
        f.severity,
        fixed_text(f)
    );
    SarifResult {
        rule_id: f.vulnerability.clone(),
        rule_index,
        level: level(f.severity),
        message: Message { text: message },
        locations: vec![Location {
            physical_location: path.map(|uri| PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri,
                    uri_base_id: IMAGE_ROOT,
                },
                // GitHub code scanning wants a line; a package database has no line that
                // belongs to one vulnerability, so results point at the file's start.
                region: Region { start_line: 1 },
            }),
            logical_locations: vec![LogicalLocation {
                name: purl.clone(),
                kind: "package",
            }],
        }],
        partial_fingerprints: BTreeMap::from([(
            FINGERPRINT,
            sha256_hex(format!("{}\n{purl}", f.vulnerability).as_bytes()),
        )]),
        properties: ResultProperties {
            finding_id: f.id.clone(),
            purl,
            installed_version: f.package.version.clone(),
            fixed_versions: f.fixed_versions.clone(),
            fix_state: fix_state_str(f.fix_state),
            severity: f.severity.as_str(),
            severity_source: f.severity_source.clone(),
            kev: f.kev,
            epss: f.epss.as_ref().map(|e| e.epss).filter(|s| s.is_finite()),
            epss_percentile: f
                .epss
                .as_ref()
                .map(|e| e.percentile)
                .filter(|s| s.is_finite()),
            layer: f.layer.as_ref().map(|d| d.to_string()),
            snapshot: f.snapshot.clone(),
        },
    }
}

pub(crate) fn encode(p: &Prepared, f: &PreparedFindings) -> Result<serde_json::Value, SbomError> {
    let rules: Vec<Rule> = f.groups.iter().map(|g| rule(g, f)).collect();
    let rule_index: BTreeMap<&str, usize> = f
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i))
        .collect();
    let results = f
        .entries
        .iter()
        .map(|e| result(p, e, rule_index[e.finding.vulnerability.as_str()]))
        .collect();
    let img = &p.inv.image;
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: p.tool_name.clone(),
                    version: Some(p.tool_version.clone()).filter(|v| !v.is_empty()),
                    information_uri: Some(INFORMATION_URI).filter(|u| !u.is_empty()),
                    rules,
                },
            },
            original_uri_base_ids: BTreeMap::from([(
                IMAGE_ROOT,
                BaseUri {
                    uri: "file:///",
                    description: Message {
                        text: "The root of the scanned image's file system.".to_string(),
                    },
                },
            )]),
            results,
            properties: RunProperties {
                image_reference: img.reference.clone(),
                image_digest: img.manifest_digest.as_ref().map(|d| d.to_string()),
                snapshot: f.snapshot.clone(),
            },
        }],
    };
    Ok(serde_json::to_value(log)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_uri_references() {
        assert_eq!(path_uri("var/lib/dpkg/status"), "var/lib/dpkg/status");
        assert_eq!(path_uri("/lib/apk/db/installed"), "lib/apk/db/installed");
        assert_eq!(
            path_uri("app/node modules/a:b/é%"),
            "app/node%20modules/a%3Ab/%C3%A9%25"
        );
    }

    #[test]
    fn severities_map_to_sarif_levels() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        for s in [Severity::Low, Severity::Negligible, Severity::Unknown] {
            assert_eq!(level(s), "note");
        }
    }

    #[test]
    fn table_cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
