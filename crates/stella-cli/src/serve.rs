//! `stella serve`: the Stella service. Every role (gateway, authority, scanner web service,
//! scanner worker) runs in this process unless `--role` names some; `--config stella.toml`
//! and the `STELLA_*` environment variables say where each listens and which database, queue
//! and blob store back them (see `stella_service::config`).

use crate::exit::{self, CliError};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use stella_service::config::{Overrides, StellaConfig};
use stella_store::DataDir;

#[derive(Args)]
#[command(
    after_long_help = "Every setting can come from the --config file, from an environment \
variable, or from a flag (flags win, then the environment, then the file):
  server.listen          STELLA_LISTEN            --listen
  server.public_url      STELLA_PUBLIC_URL        --public-url
  server.data_dir        STELLA_DATA_DIR
  database.url           STELLA_DATABASE_URL      --database-url   postgres://… | sqlite://PATH
  queue.url              STELLA_QUEUE_URL         --queue-url      redis://… | nats://… | memory
  blobs.url              STELLA_BLOBS_URL         --blobs-url      s3://BUCKET | file://DIR
  blobs.endpoint/region  STELLA_BLOBS_ENDPOINT, STELLA_BLOBS_REGION (credentials from
                         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
  tls.cert, tls.key      STELLA_TLS_CERT, STELLA_TLS_KEY (PEM; the gateway serves HTTPS)
  authority.listen/url   STELLA_AUTHORITY_LISTEN, STELLA_AUTHORITY_URL
  authority.replay_url   STELLA_REPLAY_URL (DPoP replay cache; default: the queue's Redis)
  authority.nonce_key_file  STELLA_DPOP_NONCE_KEY_FILE (shared by every instance)
  scanner_web.listen/url STELLA_SCANNER_WEB_LISTEN, STELLA_SCANNER_WEB_URL
  worker.lease_secs      STELLA_WORKER_LEASE_SECS --worker-lease-secs
  worker.max_attempts    STELLA_WORKER_MAX_ATTEMPTS
  gateway.body_limit     STELLA_BODY_LIMIT
  gateway.rate_limit.per_client|per_tenant|anonymous|burst  (requests per minute, 0 = off)
                         STELLA_RATE_LIMIT_PER_CLIENT, _PER_TENANT, _ANONYMOUS, _BURST

Examples:
  stella serve
  stella serve --listen 0.0.0.0:8080 --public-url https://stella.example.com
  STELLA_DATABASE_URL=postgres://stella@db/stella STELLA_QUEUE_URL=redis://valkey:6379 \\
    STELLA_BLOBS_URL=s3://stella-artifacts stella serve
  stella serve --config stella.toml --role authority
  stella serve --config stella.toml --role scanner-web
  stella serve --config stella.toml --role scanner-worker
  stella serve --config stella.toml --role gateway"
)]
pub struct ServeArgs {
    /// A stella.toml with the settings below; every key is optional.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The roles to run here, comma-separated: gateway, authority, scanner-web,
    /// scanner-worker, or all (the default; also STELLA_ROLES).
    #[arg(long, value_name = "ROLES")]
    role: Option<String>,
    /// The gateway's address (server.listen; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The external origin clients use: the token issuer and the DPoP `htu` origin
    /// (server.public_url; default http://LISTEN).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// The database: postgres://… or sqlite://PATH (default sqlite://<data dir>/stella.sqlite).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The job queue and event bus: redis://…, nats://… or memory (default).
    #[arg(long, value_name = "URL")]
    queue_url: Option<String>,
    /// The artifact store: s3://BUCKET or file://DIR (default file://<data dir>/artifacts).
    #[arg(long, value_name = "URL")]
    blobs_url: Option<String>,
    /// The S3 endpoint, for S3-compatible servers.
    #[arg(long, value_name = "URL")]
    blobs_endpoint: Option<String>,
    /// The S3 region.
    #[arg(long, value_name = "REGION")]
    blobs_region: Option<String>,
    /// Let API clients scan paths on this host (dir:, oci:, archives).
    #[arg(long)]
    allow_local_targets: bool,
    /// Seconds a worker holds a job without a heartbeat before another worker takes it over.
    #[arg(long, value_name = "SECS")]
    worker_lease_secs: Option<u64>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let bad_config = |e: anyhow::Error| CliError::new(exit::BAD_INPUT, e);
    let failed = |e: anyhow::Error| CliError::new(exit::OUTPUT_FAILED, e);
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    let mut set = |key: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            settings.push((key, v));
        }
    };
    set("server.listen", args.listen);
    set("server.public_url", args.public_url);
    set("database.url", args.database_url);
    set("queue.url", args.queue_url);
    set("blobs.url", args.blobs_url);
    set("blobs.endpoint", args.blobs_endpoint);
    set("blobs.region", args.blobs_region);
    set(
        "worker.lease_secs",
        args.worker_lease_secs.map(|s| s.to_string()),
    );
    if args.allow_local_targets {
        set("server.allow_local_targets", Some("true".into()));
    }
    let overrides = Overrides {
        roles: args.role,
        settings,
    };
    let config = StellaConfig::load(
        args.config.as_deref(),
        |k| std::env::var(k).ok(),
        &overrides,
        || {
            DataDir::resolve()
                .map(|d| d.root().to_path_buf())
                .map_err(anyhow::Error::from)
        },
    )
    .map_err(bad_config)?;
    // A TLS file that is missing or not PEM is a settings mistake: refuse before binding.
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let files = stella_service::gateway::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        stella_service::gateway::load_tls_config(&files).map_err(bad_config)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(e.into()))?;
    runtime
        .block_on(stella_service::run_roles(
            config,
            stella_service::shutdown_signal(),
        ))
        .map_err(failed)?;
    Ok(ExitCode::from(exit::OK))
}
