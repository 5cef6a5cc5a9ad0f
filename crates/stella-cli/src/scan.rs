//! `stella scan`.

use crate::exit::{self, CliError};
use crate::progress::BarProgress;
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use stella_image::{LayerLimits, Platform};
use stella_model::{FixState, Inventory, ScanFindings, Severity};
use stella_scanner::{ScanOptions, ScanOutcome};
use stella_store::{DataDir, LayerCache};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human-readable table of packages.
    Table,
    /// Stella's own versioned JSON report (docs/report.md).
    Json,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// SARIF 2.1.0 (findings only), for code-scanning dashboards.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    Cyclonedx,
    Spdx,
}

#[derive(Args)]
#[command(after_help = exit_codes_help!(), after_long_help = concat!(
"Targets:
  docker://REF                 pull from a registry (OCI distribution API), e.g. docker://alpine:3.20
  docker-archive:PATH[:REF]    a `docker save` tarball
  oci:DIR[:TAG]                an OCI image layout directory
  oci-archive:PATH[:TAG]       a tarball of an OCI image layout
  dir:PATH                     a root filesystem; dir:/ scans this machine
  PATH                         any of the above, recognised by its content

Findings: packages are matched against the advisories in the data directory (fill it with
`stella feeds sync` or `stella feeds import`); without any, the scan reports packages only and
says so. Every output records the advisory snapshot id. A finding id (VULNERABILITY@PURL, in
--format json) can be replayed with `stella explain`. --fail-on and --format sarif refuse to run
on an empty advisory store rather than pass silently.

Registry credentials come from $REGISTRY_AUTH_FILE or ~/.docker/config.json; localhost and
127.0.0.1 are reached over plain HTTP, other hosts only with --insecure-registry.
All state lives in the data directory ($STELLA_DATA_DIR, default: the user's data directory).
Set SOURCE_DATE_EPOCH to pin the time written into outputs; otherwise the image's `created`
time is used, so two scans of one image give byte-identical files.
Logs: RUST_LOG=debug (to stderr).

Examples:
  stella scan dir:/
  stella scan docker://alpine:latest --sbom-format=spdx -o alpine.spdx.json
  stella scan oci:./layout:v1 --format cyclonedx
  stella scan docker-archive:image.tar --format json
  stella scan oci:./layout:v1 --format sarif -o scan.sarif --fail-on high
  stella scan docker://alpine:3.20 --severity high,critical --ignore-unfixed
  stella scan --server https://stella.example.com docker://alpine:3.20 --fail-on high

Remote scans (--server URL): the server pulls and scans the target and matches it against its
own advisories; the output is rendered here exactly as a local scan's, with the same filters and
exit codes. Log in first: `stella auth login --server URL --client-id ID --client-secret-stdin`.
Options about reading images here (--platform, --no-cache, --cache-dir, --max-layer-size,
--insecure-registry, --cpe) are refused with --server. A failed server job exits 3 with the
server's error; an unreachable server or refused credentials exit 3 as well.

", exit_codes_help!()))]
pub struct ScanArgs {
    /// What to scan (see Targets below).
    pub target: String,
    /// What to write.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write an SBOM in this format (the same as --format cyclonedx|spdx).
    #[arg(long, value_enum, conflicts_with = "format")]
    pub sbom_format: Option<SbomFormat>,
    /// Write to FILE instead of stdout (atomically: a failed scan leaves no file).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Platform to pick from a multi-platform image.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", default_value = "linux/amd64", value_parser = parse_platform)]
    pub platform: Platform,
    /// Registry host[:port] to reach over plain HTTP (localhost and 127.0.0.1 always are).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Neither read nor write the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Keep the layer cache in DIR instead of the data directory.
    #[arg(long, value_name = "DIR", env = "STELLA_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Most bytes one layer may decompress to (suffixes K, M, G, T: powers of 1024).
    #[arg(long, value_name = "SIZE", env = "STELLA_MAX_LAYER_SIZE", value_parser = parse_size)]
    pub max_layer_size: Option<u64>,
    /// Report only findings of these severities (comma-separated or repeated):
    /// critical, high, medium, low, negligible, unknown.
    #[arg(long, value_name = "SEVERITY", value_delimiter = ',', value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Leave out findings that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Exit with code 1 when a reported finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Also match packages to NVD CPE configurations (guesswork: off by default).
    #[arg(long)]
    pub cpe: bool,
    /// Inventory only: do not match packages against advisories.
    #[arg(long, conflicts_with_all = ["fail_on", "severity", "ignore_unfixed", "cpe"])]
    pub no_vulns: bool,
    /// Print nothing but the output and errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Have this Stella server scan TARGET (as seen from the server) and render its result
    /// here; log in first with `stella auth login --server URL`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// With --server: how long to wait for the server to finish the scan (e.g. 90s, 10m, 1h).
    /// The job is not cancelled; its id is printed so it can be fetched later.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub server_timeout: std::time::Duration,
}

/// `90`, `90s`, `10m` or `1h`: a whole number of seconds, minutes or hours.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("unknown unit in {s:?} (use s, m or h)")),
    };
    if secs == 0 {
        return Err("the timeout must be at least one second".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

fn parse_platform(s: &str) -> Result<Platform, String> {
    s.parse::<Platform>().map_err(|e| e.to_string())
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = s[i..].to_ascii_uppercase();
            let mult: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in {s:?} (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size such as 512M or 2G"))
}

pub fn run(args: ScanArgs) -> Result<ExitCode, CliError> {
    let format = match args.sbom_format {
        Some(SbomFormat::Cyclonedx) => Format::Cyclonedx,
        Some(SbomFormat::Spdx) => Format::Spdx,
        None => args.format,
    };
    let source_date_epoch = source_date_epoch()?;
    if let Some(server) = &args.server {
        return run_remote(&args, server, format, source_date_epoch);
    }
    let cache = if args.no_cache {
        None
    } else {
        let dir = match &args.cache_dir {
            Some(d) => d.clone(),
            None => DataDir::resolve()
                .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?
                .layer_cache_dir(),
        };
        match LayerCache::open(&dir) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!("scanning without the layer cache: {e}");
                None
            }
        }
    };
    let mut limits = LayerLimits::default();
    if let Some(max) = args.max_layer_size {
        limits.max_layer_bytes = max;
    }
    let opts = ScanOptions {
        platform: args.platform.clone(),
        insecure_registries: args.insecure_registries.clone(),
        limits,
        cache,
        source_date_epoch,
        ..Default::default()
    };
    let progress = BarProgress::new(args.quiet);
    let outcome = stella_scanner::scan(&args.target, &opts, &progress);
    progress.finish();
    let outcome = outcome.map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    tracing::info!(
        layers = outcome.stats.layers,
        read = outcome.stats.layers_read,
        cached = outcome.stats.layers_from_cache,
        bytes = outcome.stats.bytes_read,
        "scan finished"
    );
    let findings = if args.no_vulns || format == Format::Spdx {
        None
    } else {
        find_vulnerabilities(&args, format, &outcome.inventory)?
    };
    deliver(&args, format, &outcome, findings.as_ref())
}

/// `SOURCE_DATE_EPOCH`, when set: the time written into outputs.
fn source_date_epoch() -> Result<Option<i64>, CliError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Ok(Some(v.trim().parse::<i64>().map_err(|_| {
            CliError::new(
                2,
                anyhow::anyhow!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"),
            )
        })?)),
        _ => Ok(None),
    }
}

/// The end of every scan, local or remote: render, write, warn, apply `--fail-on`. One path,
/// so `stella scan --server` gives the same bytes and exit codes as a local scan.
fn deliver(
    args: &ScanArgs,
    format: Format,
    outcome: &ScanOutcome,
    findings: Option<&ScanFindings>,
) -> Result<ExitCode, CliError> {
    let bytes =
        render(format, outcome, findings).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    match &args.output {
        Some(path) => {
            write_atomically(path, &bytes).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|_| out.flush()) {
                Ok(()) => {}
                // The reader went away (`stella scan … | head`): not an error, as for any filter.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(ExitCode::from(exit::OK));
                }
                Err(e) => {
                    return Err(CliError::new(
                        exit::OUTPUT_FAILED,
                        anyhow::Error::new(e).context("writing to stdout"),
                    ));
                }
            }
        }
    }
    if !args.quiet {
        for w in &outcome.inventory.warnings {
            eprintln!("warning: {w}");
        }
    }
    if let (Some(threshold), Some(f)) = (args.fail_on, findings) {
        let failing = f
            .findings
            .iter()
            .filter(|x| x.severity >= threshold)
            .count();
        if failing > 0 {
            if !args.quiet {
                eprintln!("{failing} finding(s) at or above {threshold} (--fail-on {threshold})");
            }
            return Ok(ExitCode::from(exit::FINDINGS));
        }
    }
    Ok(ExitCode::from(exit::OK))
}

/// Matches the inventory against the current advisory snapshot and applies the filters.
/// `None` when no feed was ever synced and the output can do without findings.
fn find_vulnerabilities(
    args: &ScanArgs,
    format: Format,
    inv: &Inventory,
) -> Result<Option<ScanFindings>, CliError> {
    // A gate or a findings-only format must not pass silently on an empty store.
    let required = args.fail_on.is_some() || format == Format::Sarif;
    let index = match crate::feeds::open_existing_store()? {
        Some(store) if required => Some(crate::advisories::require_index(&store)?),
        Some(store) => crate::advisories::load_index(&store)?,
        None if required => {
            return Err(CliError::new(
                exit::BAD_INPUT,
                anyhow::anyhow!(
                    "no advisories synced: run `stella feeds sync` (or `stella feeds import`) first"
                ),
            ));
        }
        None => None,
    };
    let Some(index) = index else {
        if !args.quiet {
            eprintln!(
                "warning: no advisories synced: reporting packages only (run `stella feeds sync`)"
            );
        }
        return Ok(None);
    };
    let opts = stella_match::MatchOptions { cpe: args.cpe };
    let mut found = stella_match::match_inventory(&index, inv, &opts);
    apply_filters(args, &mut found);
    Ok(Some(found))
}

/// `--severity` and `--ignore-unfixed`: applied on this side for remote scans too, since the
/// server's result holds every finding.
fn apply_filters(args: &ScanArgs, found: &mut ScanFindings) {
    found.findings.retain(|f| {
        (args.severity.is_empty() || args.severity.contains(&f.severity))
            && !(args.ignore_unfixed && f.fix_state != FixState::Fixed)
    });
}

/// Options that steer how this machine reads an image. A server scans with its own settings,
/// so combined with `--server` they are refused rather than silently ignored. Options that
/// also come from the environment count only when given on the command line (the variable of
/// a user's shell profile must not break every remote scan).
fn refuse_local_only_options(args: &ScanArgs) -> Result<(), CliError> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let explicit_cache_dir = args
        .cache_dir
        .as_ref()
        .is_some_and(|d| from_env("STELLA_CACHE_DIR").is_none_or(|e| Path::new(&e) != d));
    let explicit_max_layer = args.max_layer_size.is_some_and(|n| {
        from_env("STELLA_MAX_LAYER_SIZE").and_then(|e| parse_size(&e.to_string_lossy()).ok())
            != Some(n)
    });
    let refused = [
        (args.no_cache, "--no-cache"),
        (explicit_cache_dir, "--cache-dir"),
        (explicit_max_layer, "--max-layer-size"),
        (args.platform != Platform::default(), "--platform"),
        (!args.insecure_registries.is_empty(), "--insecure-registry"),
        (args.cpe, "--cpe"),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, flag)) => Err(CliError::new(
            2,
            anyhow::anyhow!(
                "{flag} cannot be combined with --server: the server reads the image with its own settings"
            ),
        )),
        None => Ok(()),
    }
}

/// `stella scan --server URL TARGET`: the server scans and matches; this side polls, fetches
/// the scan result (inventory and unfiltered findings) and renders it through [`deliver`], as a
/// local scan does.
fn run_remote(
    args: &ScanArgs,
    server: &str,
    format: Format,
    source_date_epoch: Option<i64>,
) -> Result<ExitCode, CliError> {
    use crate::remote::{CredentialStore, RemoteClient, server_origin};
    refuse_local_only_options(args)?;
    let usage = |e: anyhow::Error| CliError::new(2, e);
    let failed = |e: anyhow::Error| CliError::new(exit::BAD_INPUT, e);
    let origin = server_origin(server).map_err(usage)?;
    let login = CredentialStore::resolve()
        .and_then(|s| s.get(&origin))
        .map_err(usage)?
        .ok_or_else(|| {
            usage(anyhow::anyhow!(
                "not logged in to {origin}: run `stella auth login --server {origin}` first"
            ))
        })?;
    let mut client = RemoteClient::from_login(&login).map_err(usage)?;
    let sbom_format = match format {
        Format::Spdx => Some("spdx"),
        Format::Cyclonedx => Some("cyclonedx"),
        _ => None,
    };
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let job_id = client
        .submit_scan(&args.target, sbom_format, &idempotency_key)
        .map_err(failed)?;
    let progress = JobProgress::new(&job_id, &origin, args.quiet);
    let state = client.wait_for(&job_id, args.server_timeout, &mut |s| progress.status(s));
    progress.finish();
    let state = state.map_err(failed)?;
    if state.status == "failed" {
        return Err(failed(anyhow::anyhow!(
            "{}: scan {job_id} failed on {origin} after {} attempt(s): {}",
            args.target,
            state.attempts,
            state.error.as_deref().unwrap_or("no error message")
        )));
    }
    let result = client.scan_result(&job_id).map_err(failed)?;
    // The server has no SOURCE_DATE_EPOCH of ours: apply it here, first as a local scan does.
    let timestamp = match source_date_epoch {
        Some(s) => rfc3339_seconds(s).unwrap_or(result.timestamp),
        None => result.timestamp,
    };
    let outcome = ScanOutcome {
        inventory: result.inventory,
        stats: Default::default(),
        timestamp,
    };
    let findings = if args.no_vulns || format == Format::Spdx {
        None
    } else {
        let required = args.fail_on.is_some() || format == Format::Sarif;
        match result.findings {
            Some(mut f) => {
                apply_filters(args, &mut f);
                Some(f)
            }
            None if required => {
                return Err(failed(anyhow::anyhow!(
                    "{origin} has no advisories synced, so --fail-on / --format sarif cannot be answered"
                )));
            }
            None => {
                if !args.quiet {
                    eprintln!(
                        "warning: {origin} has no advisories synced: reporting packages only"
                    );
                }
                None
            }
        }
    };
    deliver(args, format, &outcome, findings.as_ref())
}

/// `SOURCE_DATE_EPOCH` written the way the scanner writes output times: RFC 3339, UTC, whole
/// seconds.
fn rfc3339_seconds(epoch: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Progress of a remote job on stderr. On a terminal: a spinner with the status and the time
/// since submission, and one line kept per status change. Elsewhere (CI logs): only the status
/// changes, one line each. Nothing with `-q`.
struct JobProgress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    job_id: String,
    started: std::time::Instant,
}

impl JobProgress {
    fn new(job_id: &str, origin: &str, quiet: bool) -> JobProgress {
        use std::io::IsTerminal;
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("{job_id} on {origin}: submitted"));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        JobProgress {
            bar,
            plain: !quiet && !terminal,
            job_id: job_id.to_owned(),
            started: std::time::Instant::now(),
        }
    }

    fn status(&self, s: &crate::remote::JobState) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let retry = if s.attempts > 1 {
            format!(", attempt {}", s.attempts)
        } else {
            String::new()
        };
        let line = format!("{}: {} ({elapsed:.1}s{retry})", self.job_id, s.status);
        if let Some(bar) = &self.bar {
            bar.println(&line);
            bar.set_message(format!("{}: {}", self.job_id, s.status));
        } else if self.plain {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn render(
    format: Format,
    outcome: &ScanOutcome,
    findings: Option<&ScanFindings>,
) -> anyhow::Result<Vec<u8>> {
    let opts = stella_sbom::EncodeOptions {
        timestamp: outcome.timestamp.clone(),
        tool_name: "stella".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
    };
    let inv = &outcome.inventory;
    Ok(match format {
        Format::Table => table(inv, findings).into_bytes(),
        Format::Json => stella_sbom::report_json_with_findings(inv, findings, &opts)?,
        Format::Cyclonedx => stella_sbom::cyclonedx_json_with_findings(inv, findings, &opts)?,
        Format::Spdx => stella_sbom::spdx_json(inv, &opts)?,
        Format::Sarif => {
            let empty = ScanFindings::default();
            stella_sbom::sarif_json(inv, findings.unwrap_or(&empty), &opts)?
        }
    })
}

fn table(inv: &Inventory, findings: Option<&ScanFindings>) -> String {
    let mut s = String::new();
    let img = &inv.image;
    s.push_str(&format!("Target:   {}\n", img.reference));
    if let Some(d) = &img.manifest_digest {
        s.push_str(&format!("Digest:   {d}\n"));
    }
    if let Some(d) = &inv.distro {
        s.push_str(&format!(
            "OS:       {}\n",
            d.pretty_name.clone().unwrap_or_else(|| d.purl_qualifier())
        ));
    }
    s.push_str(&format!("Layers:   {}\n", img.layers.len()));
    s.push_str(&format!("Packages: {}\n", inv.packages.len()));
    if let Some(f) = findings {
        s.push_str(&findings_table(f));
        return s;
    }
    s.push('\n');
    let rows: Vec<[String; 4]> = inv
        .packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.version.clone(),
                p.kind.as_str().to_string(),
                p.layer
                    .as_ref()
                    .map(|d| d.hex()[..12].to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["NAME", "VERSION", "TYPE", "LAYER"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    s.push_str(&line(header));
    for r in &rows {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    s
}

/// The findings part of the table output: a count by severity, then one row per finding.
fn findings_table(f: &ScanFindings) -> String {
    let mut s = format!("Advisories: snapshot {}\n", f.snapshot);
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            let n = f.findings.iter().filter(|x| x.severity == *sev).count();
            format!("{}: {n}", sev.as_str().to_uppercase())
        })
        .collect();
    s.push_str(&format!(
        "Findings: {} ({})\n\n",
        f.findings.len(),
        counts.join(", ")
    ));
    if f.findings.is_empty() {
        return s;
    }
    let rows: Vec<[String; 6]> = f
        .findings
        .iter()
        .map(|x| {
            [
                x.package.name.clone(),
                x.vulnerability.clone(),
                format!(
                    "{}{}",
                    x.severity.as_str().to_uppercase(),
                    if x.kev { " (KEV)" } else { "" }
                ),
                x.package.version.clone(),
                match x.fix_state {
                    FixState::Fixed => x.fixed_versions.join(", "),
                    FixState::NotFixed => "(not fixed)".into(),
                    FixState::WontFix => "(won't fix)".into(),
                },
                x.summary
                    .as_deref()
                    .map(|t| t.chars().take(60).collect::<String>().replace('\n', " "))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "PACKAGE",
        "VULNERABILITY",
        "SEVERITY",
        "INSTALLED",
        "FIXED",
        "TITLE",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 5 {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    s.push_str(&line(header));
    for r in &rows {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
    }
    s.push_str(
        "\nExplain a finding: stella explain 'VULNERABILITY@PURL' (ids are in --format json)\n",
    );
    s
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so readers
/// never see half a file and a failure leaves nothing behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("1K").unwrap(), 1024);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("3m").unwrap(), 3 << 20);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("lots").is_err());
    }
}
