//! `stella`: the command-line front of Stella.
//!
//! Each subcommand lives in its own module and calls library crates; no scan logic lives here.
//! Errors are reported on stderr with their chain of causes and mapped to documented exit codes.

#[macro_use]
mod exit;
mod advisories;
mod advisory_cmd;
mod auth_cmd;
mod explain;
mod feeds;
mod progress;
mod remote;
mod scan;
mod serve;
mod version_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Stella: container security scanning you can reproduce and audit.
#[derive(Parser)]
#[command(name = "stella", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inventory an image or a directory and write a report or an SBOM.
    Scan(scan::ScanArgs),
    /// Keep the local advisory store up to date: sync, status, import.
    Feeds(feeds::FeedsArgs),
    /// Show what the advisory store holds about a vulnerability.
    Advisory(advisory_cmd::AdvisoryArgs),
    /// Show why a finding was reported: the records, ranges and comparisons.
    Explain(explain::ExplainArgs),
    /// Manage the platform's OAuth clients.
    Auth(auth_cmd::AuthArgs),
    /// Run the platform: gateway, authority, scan API and worker (all in one process, or --role).
    Serve(serve::ServeArgs),
    /// Compare versions and test version ranges the way each ecosystem's own tool does.
    Version(version_cmd::VersionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Feeds(args) => feeds::run(args),
        Command::Advisory(args) => advisory_cmd::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Auth(args) => auth_cmd::run(args),
        Command::Version(args) => version_cmd::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(e.code)
        }
    }
}
