//! `stella advisory show ID`: every record the store holds about a vulnerability.

use crate::advisories::require_index;
use crate::exit::{self, CliError};
use crate::feeds::{OutputFormat, open_store};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use stella_model::{Advisory, RangeEvent};
use stella_store::AdvisoryStore;

#[derive(Args)]
pub struct AdvisoryArgs {
    #[command(subcommand)]
    command: AdvisoryCommand,
}

#[derive(Subcommand)]
enum AdvisoryCommand {
    /// Show every record of the vulnerability's linkset: each source's view, side by side.
    #[command(
        after_long_help = "ID is any id of the vulnerability: CVE-…, GHSA-…, PYSEC-…, DSA-…, RUSTSEC-…;
all records whose ids are linked through aliases are shown. Nothing is merged: when two
sources disagree (a severity, a range), both are printed.

Examples:
  stella advisory show CVE-2022-42969
  stella advisory show GHSA-w596-4wvx-j9j6 --format json
  stella advisory show CVE-2023-4863 --raw"
    )]
    Show(ShowArgs),
}

#[derive(Args)]
struct ShowArgs {
    /// The vulnerability id.
    id: String,
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Also print each record exactly as upstream wrote it.
    #[arg(long)]
    raw: bool,
}

pub fn run(args: AdvisoryArgs) -> Result<ExitCode, CliError> {
    match args.command {
        AdvisoryCommand::Show(a) => show(a),
    }
}

fn show(args: ShowArgs) -> Result<ExitCode, CliError> {
    let store = open_store()?;
    let index = require_index(&store)?;
    let records = index.records_for(&args.id);
    if records.is_empty() {
        return Err(CliError::new(
            exit::NOT_FOUND,
            anyhow::anyhow!(
                "{}: no advisory with this id or alias in snapshot {}",
                args.id,
                index.snapshot()
            ),
        ));
    }
    let linkset = index.linksets().get(&records[0].advisory.id).cloned();
    let fail = |e: stella_store::StoreError| CliError::new(exit::OUTPUT_FAILED, e);
    let mut rows = Vec::new();
    for r in &records {
        let stored = store
            .observations_of(&r.upstream_id)
            .map_err(fail)?
            .into_iter()
            .find(|o| o.content_hash == r.observation && o.source == r.source);
        rows.push((r, stored));
    }
    match args.format {
        OutputFormat::Json => {
            let recs: Vec<serde_json::Value> = rows
                .iter()
                .map(|(r, stored)| {
                    let mut v = serde_json::json!({
                        "source": r.source,
                        "upstreamId": r.upstream_id,
                        "observation": r.observation,
                        "fetchedAt": stored.as_ref().map(|s| s.fetched_at.clone()),
                        "advisory": r.advisory,
                    });
                    if args.raw
                        && let Some(s) = stored
                    {
                        v["document"] =
                            serde_json::from_slice(&s.document).unwrap_or(serde_json::Value::Null);
                    }
                    v
                })
                .collect();
            let out = serde_json::json!({
                "id": args.id,
                "linkset": linkset,
                "snapshot": index.snapshot(),
                "records": recs,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out)
                    .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?
            );
        }
        OutputFormat::Table => {
            if let Some(l) = &linkset {
                println!("{}  (linked ids: {})", l.id, l.ids.join(", "));
            }
            println!("Snapshot: {}", index.snapshot());
            for (r, stored) in &rows {
                println!();
                println!(
                    "[{}] {}  observation {}{}",
                    r.source,
                    r.upstream_id,
                    r.observation,
                    stored
                        .as_ref()
                        .map(|s| format!("  fetched {}", s.fetched_at))
                        .unwrap_or_default()
                );
                print_advisory(&r.advisory);
                if args.raw
                    && let Some(s) = stored
                {
                    println!("  upstream record:");
                    let pretty = serde_json::from_slice::<serde_json::Value>(&s.document)
                        .ok()
                        .and_then(|v| serde_json::to_string_pretty(&v).ok())
                        .unwrap_or_default();
                    for line in pretty.lines() {
                        println!("    {line}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::from(exit::OK))
}

fn print_advisory(a: &Advisory) {
    if let Some(w) = &a.withdrawn {
        println!("  WITHDRAWN {w}");
    }
    if let Some(s) = a.summary.as_deref().or(a.details.as_deref()) {
        let s: String = s.chars().take(300).collect();
        println!("  {}", s.replace('\n', " "));
    }
    if !a.aliases.is_empty() {
        println!("  aliases: {}", a.aliases.join(", "));
    }
    for s in &a.severity {
        println!("  severity: {:?} {} ({})", s.kind, s.value, s.source);
    }
    for af in &a.affected {
        let mut parts = Vec::new();
        for r in &af.ranges {
            let ev: Vec<String> = r.events.iter().map(describe_event).collect();
            parts.push(format!("{:?} [{}]", r.kind, ev.join(", ")));
        }
        if !af.versions.is_empty() {
            let n = af.versions.len();
            let shown: Vec<&str> = af.versions.iter().take(8).map(String::as_str).collect();
            parts.push(format!(
                "versions {}{}",
                shown.join(" "),
                if n > 8 {
                    format!(" … ({n} in all)")
                } else {
                    String::new()
                }
            ));
        }
        if let Some(d) = &af.distro_state {
            parts.push(format!(
                "{}: {}{}{}",
                d.release,
                d.status,
                d.fixed_version
                    .as_deref()
                    .map(|v| format!(", fixed {v}"))
                    .unwrap_or_default(),
                d.urgency
                    .as_deref()
                    .map(|u| format!(", urgency {u}"))
                    .unwrap_or_default()
            ));
        }
        println!(
            "  affected: {} {}: {}",
            af.ecosystem,
            af.name,
            parts.join("; ")
        );
    }
}

pub fn describe_event(e: &RangeEvent) -> String {
    match e {
        RangeEvent::Introduced(v) => format!("introduced {v}"),
        RangeEvent::Fixed(v) => format!("fixed {v}"),
        RangeEvent::LastAffected(v) => format!("last_affected {v}"),
        RangeEvent::Limit(v) => format!("limit {v}"),
    }
}
