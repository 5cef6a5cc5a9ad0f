//! `stella explain FINDING`: replay one match and show why it was made.

use crate::advisories::require_index;
use crate::advisory_cmd::describe_event;
use crate::exit::{self, CliError};
use crate::feeds::{OutputFormat, open_store};
use clap::Args;
use packageurl::PackageUrl;
use std::process::ExitCode;
use std::str::FromStr;
use stella_match::MatchOptions;
use stella_model::{Distro, Finding, Package, PackageKind};

#[derive(Args)]
#[command(
    after_long_help = "FINDING is a finding id as `stella scan` prints it: VULNERABILITY@PURL, e.g.
  CVE-2022-42969@pkg:pypi/py@1.11.0
  CVE-2023-4911@pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12&upstream=glibc
Any id of the vulnerability's linkset works (CVE, GHSA, PYSEC, …).

The match is replayed against the current advisory snapshot: the output lists the records
that matched (with their observation hashes, so `stella advisory show --raw` can print them),
each range that contained the installed version, and each version comparison made.

Exit codes:
  0  the finding holds and was explained
  1  the package is not affected by that vulnerability in the current snapshot
  2  the command line is invalid
  3  the finding id is malformed, or no advisories have been synced"
)]
pub struct ExplainArgs {
    /// VULNERABILITY@PURL, as printed by `stella scan`.
    pub finding: String,
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Also use NVD CPE matching (as `stella scan --cpe` does).
    #[arg(long)]
    pub cpe: bool,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode, CliError> {
    let (vuln, purl) = args.finding.split_once('@').ok_or_else(|| {
        CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "finding {:?}: expected VULNERABILITY@PURL, e.g. CVE-2022-42969@pkg:pypi/py@1.11.0",
                args.finding
            ),
        )
    })?;
    let (package, distro) = package_from_purl(purl).map_err(|e| {
        CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!("finding {:?}: {e}", args.finding),
        )
    })?;
    let store = open_store()?;
    let index = require_index(&store)?;
    let opts = MatchOptions { cpe: args.cpe };
    let findings = stella_match::match_package(&index, &package, distro.as_ref(), &opts);
    let Some(finding) = findings
        .into_iter()
        .find(|f| f.vulnerability == vuln || f.aliases.iter().any(|a| a == vuln))
    else {
        eprintln!(
            "{purl} is not affected by {vuln} in snapshot {}",
            index.snapshot()
        );
        return Ok(ExitCode::from(exit::NOT_FOUND));
    };
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&finding)
                .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?
        ),
        OutputFormat::Table => print_explanation(&finding, &index),
    }
    Ok(ExitCode::from(exit::OK))
}

fn print_explanation(f: &Finding, index: &stella_match::AdvisoryIndex) {
    println!("Finding:   {}", f.id);
    println!(
        "Package:   {} {} ({})",
        f.package.name,
        f.package.version,
        f.package.kind.as_str()
    );
    if let Some(s) = &f.package.source_name {
        println!("Source:    {s} (the name the advisories use)");
    }
    println!("Vulnerability: {}", f.vulnerability);
    if !f.aliases.is_empty() {
        println!("Aliases:   {}", f.aliases.join(", "));
    }
    println!(
        "Severity:  {} (from {}){}",
        f.severity,
        f.severity_source,
        if f.kev { ", in CISA KEV" } else { "" }
    );
    if let Some(e) = &f.epss {
        println!("EPSS:      {:.5} (percentile {:.5})", e.epss, e.percentile);
    }
    println!(
        "Fix:       {:?}{}",
        f.fix_state,
        if f.fixed_versions.is_empty() {
            String::new()
        } else {
            format!(": {}", f.fixed_versions.join(", "))
        }
    );
    println!("Snapshot:  {}", f.snapshot);
    println!("Matched by: {}", f.evidence.method);
    println!();
    println!("Records:");
    for r in &f.evidence.records {
        println!(
            "  [{}] {}  {} {}  observation {}",
            r.source, r.upstream_id, r.ecosystem, r.package, r.observation
        );
        // The ranges as the record states them, for the package that matched.
        for rec in index.records_for(&r.upstream_id) {
            if rec.upstream_id != r.upstream_id || rec.observation != r.observation {
                continue;
            }
            for af in rec
                .advisory
                .affected
                .iter()
                .filter(|a| a.ecosystem == r.ecosystem && a.name == r.package)
            {
                for range in &af.ranges {
                    let ev: Vec<String> = range.events.iter().map(describe_event).collect();
                    println!("      {:?}: {}", range.kind, ev.join(", "));
                }
                if let Some(d) = &af.distro_state {
                    println!(
                        "      {}: status {}{}{}",
                        d.release,
                        d.status,
                        d.fixed_version
                            .as_deref()
                            .map(|v| format!(", fixed_version {v}"))
                            .unwrap_or_default(),
                        d.urgency
                            .as_deref()
                            .map(|u| format!(", urgency {u}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    println!();
    println!("Ranges that matched:");
    for r in &f.evidence.ranges {
        println!("  {r}");
    }
    println!();
    println!("Comparisons:");
    for c in &f.evidence.comparisons {
        println!(
            "  {} {} {}  -> {}",
            c.installed,
            c.op,
            c.bound,
            if c.holds { "true" } else { "false" }
        );
    }
}

/// Rebuilds the installed package a purl describes, with the distro its `distro` qualifier
/// names, so that a match can be replayed without the image.
pub fn package_from_purl(s: &str) -> Result<(Package, Option<Distro>), String> {
    let purl = PackageUrl::from_str(s).map_err(|e| format!("invalid package URL: {e}"))?;
    let kind = match purl.ty() {
        "deb" => PackageKind::Deb,
        "apk" => PackageKind::Apk,
        "rpm" => PackageKind::Rpm,
        "npm" => PackageKind::Npm,
        "pypi" => PackageKind::Python,
        "maven" => PackageKind::Maven,
        "golang" => PackageKind::Go,
        "cargo" => PackageKind::Cargo,
        "gem" => PackageKind::Gem,
        "composer" => PackageKind::Composer,
        "nuget" => PackageKind::Nuget,
        other => return Err(format!("package type {other:?} is not one Stella matches")),
    };
    let version = purl
        .version()
        .ok_or("the package URL has no version")?
        .to_string();
    let name = match (kind, purl.namespace()) {
        (PackageKind::Maven, Some(ns)) => format!("{ns}:{}", purl.name()),
        (PackageKind::Npm | PackageKind::Go | PackageKind::Composer, Some(ns)) => {
            format!("{ns}/{}", purl.name())
        }
        _ => purl.name().to_string(),
    };
    let q = |k: &str| purl.qualifiers().get(k).map(|v| v.to_string());
    let version = match q("epoch") {
        Some(e) if kind.is_os() && e != "0" => format!("{e}:{version}"),
        _ => version,
    };
    let mut p = Package::new(kind, name, version, "");
    p.purl = s.to_string();
    p.epoch = q("epoch").and_then(|e| e.parse().ok());
    p.arch = q("arch");
    if let Some(up) = q("upstream") {
        match up.split_once('@') {
            Some((n, v)) => {
                p.source_name = Some(n.to_string());
                p.source_version = Some(v.to_string());
            }
            None => p.source_name = Some(up),
        }
    }
    let distro = q("distro").map(|d| {
        let (id, version_id) = match d.split_once('-') {
            Some((id, v)) => (id.to_string(), Some(v.to_string())),
            None => (d.clone(), None),
        };
        let codename = match (id.as_str(), version_id.as_deref()) {
            ("debian", Some(v)) => debian_codename(v).map(str::to_string),
            _ => None,
        };
        Distro {
            id,
            version_id,
            codename,
            source_file: "purl distro qualifier".into(),
            ..Default::default()
        }
    });
    Ok((p, distro))
}

fn debian_codename(version_id: &str) -> Option<&'static str> {
    Some(match version_id.split('.').next()? {
        "9" => "stretch",
        "10" => "buster",
        "11" => "bullseye",
        "12" => "bookworm",
        "13" => "trixie",
        "14" => "forky",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_rebuild_the_package_and_distro_a_match_needs() {
        let (p, d) = package_from_purl(
            "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12%4012.2.0-14",
        )
        .unwrap();
        assert_eq!(p.kind, PackageKind::Deb);
        assert_eq!(p.source_name.as_deref(), Some("gcc-12"));
        let d = d.unwrap();
        assert_eq!(d.codename.as_deref(), Some("bookworm"));
        let (p, _) = package_from_purl("pkg:deb/debian/bash@5.2.15-2?epoch=1").unwrap();
        assert_eq!(p.version, "1:5.2.15-2");
        let (p, d) = package_from_purl("pkg:maven/org.apache/commons-text@1.9").unwrap();
        assert_eq!(p.name, "org.apache:commons-text");
        assert!(d.is_none());
        let (p, _) = package_from_purl("pkg:npm/%40babel/core@7.0.0").unwrap();
        assert_eq!(p.name, "@babel/core");
        assert!(package_from_purl("pkg:npm/left-pad").is_err());
        assert!(package_from_purl("not a purl").is_err());
    }
}
