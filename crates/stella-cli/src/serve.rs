//! `stella serve`: every role (authority, scanner web service, scanner worker) in one process.
//!
//! With no options the state is embedded in the data directory (`STELLA_DATA_DIR`): a SQLite
//! database, artifacts on the file system and the embedded bus. The URL options move each port
//! to PostgreSQL, Redis/Valkey or NATS, and S3.

use crate::exit::{self, CliError};
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use stella_service::ServiceConfig;
use stella_store::DataDir;

#[derive(Args)]
#[command(after_long_help = "Examples:
  stella serve
  stella serve --listen 0.0.0.0:8080 --public-url https://stella.example.com
  STELLA_DATABASE_URL=postgres://stella@db/stella STELLA_QUEUE_URL=redis://valkey:6379 \\
    STELLA_BLOBS_URL=s3://stella-artifacts stella serve")]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// The external origin clients use (token issuer, DPoP `htu`); default http://ADDR.
    #[arg(long, env = "STELLA_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// The database: postgres://… or sqlite://PATH (default sqlite://<data dir>/stella.sqlite).
    #[arg(long, env = "STELLA_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// The job queue and event bus: redis://…, nats://… or memory (default).
    #[arg(long, env = "STELLA_QUEUE_URL", value_name = "URL")]
    queue_url: Option<String>,
    /// The artifact store: s3://BUCKET or file://DIR (default file://<data dir>/artifacts).
    #[arg(long, env = "STELLA_BLOBS_URL", value_name = "URL")]
    blobs_url: Option<String>,
    /// The S3 endpoint, for S3-compatible servers.
    #[arg(long, env = "STELLA_BLOBS_ENDPOINT", value_name = "URL")]
    blobs_endpoint: Option<String>,
    /// The S3 region.
    #[arg(long, env = "STELLA_BLOBS_REGION", value_name = "REGION")]
    blobs_region: Option<String>,
    /// Let API clients scan paths on this host (dir:, oci:, archives).
    #[arg(long)]
    allow_local_targets: bool,
    /// Seconds a worker holds a job without a heartbeat before another worker takes it over.
    #[arg(long, env = "STELLA_WORKER_LEASE_SECS", value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    worker_lease_secs: u64,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let failed = |e: anyhow::Error| CliError::new(exit::OUTPUT_FAILED, e);
    let data = DataDir::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    let public_url = args
        .public_url
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let mut config = ServiceConfig::embedded(data.root().to_path_buf(), public_url);
    let set = |target: &mut String, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            *target = v;
        }
    };
    set(&mut config.database_url, args.database_url);
    set(&mut config.queue_url, args.queue_url);
    set(&mut config.blobs_url, args.blobs_url);
    config.blobs_endpoint = args.blobs_endpoint.filter(|v| !v.is_empty());
    config.blobs_region = args.blobs_region.filter(|v| !v.is_empty());
    config.allow_local_targets = args.allow_local_targets;
    config.worker = stella_service::worker::WorkerConfig::with_lease(std::time::Duration::from_secs(
        args.worker_lease_secs,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(e.into()))?;
    runtime
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .map_err(|e| anyhow::anyhow!("listening on {}: {e}", args.listen))?;
            eprintln!(
                "stella serve: listening on http://{} (data in {})",
                listener.local_addr()?,
                data.root().display()
            );
            stella_service::run(config, listener, stella_service::shutdown_signal()).await
        })
        .map_err(failed)?;
    Ok(ExitCode::from(exit::OK))
}
