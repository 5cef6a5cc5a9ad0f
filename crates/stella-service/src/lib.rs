//! `stella-service`: Stella as a service (what `stella serve` runs): every role in one process by
//! default, or each in its own process with `--config stella.toml --role …` ([`config`],
//! [`roles`]); the [`gateway`] is the public entry point in front of the others.
//!
//! Its roles work over the three ports of `stella-store` (Db, Blobs, Bus):
//! - the **authority** (`/token`, `/jwks`, `/.well-known/openid-configuration`) from
//!   `stella-authority`, its clients read from the Db ([`DbClientStore`]) and its signing key
//!   kept as PEM in the data directory ([`load_or_create_signing_key`]);
//! - the **scanner web service** ([`api`]): `POST /api/v1/scans` inserts a job for the caller's
//!   tenant and publishes `{job_id, tenant}` on the `scanner:jobs` stream; `GET` routes read jobs,
//!   SBOMs and findings, always scoped by the tenant of the DPoP-bound token; a status request
//!   may long-poll (`?wait=`), woken by the job's event ([`watch`]);
//! - the **scanner worker** ([`worker`]): claims deliveries from `scanner:jobs` in the `workers`
//!   group, takes the job in the Db under a lease it heartbeats, runs the same pipeline as
//!   `stella scan` (`stella_scanner::scan`, then advisory matching when a snapshot exists, then the
//!   SBOM encoder), stores the SBOM in Blobs and its rows in the Db, completes the job, acks, and
//!   publishes `scan.completed` (or, after three failed attempts, dead-letters the delivery and
//!   publishes `scan.failed`) on `scanner:events`.
//!
//! A job's life: `queued` (row inserted, message published) → `running` (a worker holds the
//! lease) → `completed` | `failed`. The Db's conditional updates make completion happen once even
//! when a message is delivered twice; the event carries the job id as its idempotency key, so a
//! consumer that sees it twice (a worker died between completing and acking) can drop the copy.

pub mod api;
pub mod authority;
pub mod config;
pub mod gateway;
pub mod openapi;
pub mod roles;
pub mod watch;
pub mod worker;

pub use authority::{DbClientStore, load_or_create_nonce_key, load_or_create_signing_key};
pub use config::{Role, StellaConfig};
pub use roles::run_roles;

use std::path::PathBuf;
use std::sync::Arc;

use stella_store::blobs::Blobs;
use stella_store::bus::Bus;
use stella_store::db::Db;

/// The stream the web service enqueues on and the worker claims from.
pub const JOBS_STREAM: &str = "scanner:jobs";
/// The stream of versioned scan events.
pub const EVENTS_STREAM: &str = "scanner:events";
/// The consumer group of scanner workers.
pub const WORKERS_GROUP: &str = "workers";
/// The audience of the access tokens this authority issues.
pub const AUDIENCE: &str = "stella-api";

/// Where the service keeps its state and how it is reached.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The data directory: the embedded bus, the signing key, the advisory store and the layer
    /// cache live here, and the default database and blob store too.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://PATH`.
    pub database_url: String,
    /// `redis://…`, `nats://…` or `memory`.
    pub queue_url: String,
    /// `file://DIR` or `s3://BUCKET`.
    pub blobs_url: String,
    pub blobs_endpoint: Option<String>,
    pub blobs_region: Option<String>,
    /// The external origin (`http://127.0.0.1:8080`): the token issuer, and the origin DPoP
    /// proofs name in `htu`.
    pub public_url: String,
    /// Whether API callers may scan paths on this host (`dir:`, `oci:`, archives). Off unless
    /// asked for: otherwise any client could read the server's file system through an SBOM.
    pub allow_local_targets: bool,
    /// The worker's lease, heartbeat and retry settings.
    pub worker: worker::WorkerConfig,
}

impl ServiceConfig {
    /// The embedded defaults for `data_dir`.
    pub fn embedded(data_dir: PathBuf, public_url: String) -> Self {
        ServiceConfig {
            database_url: format!("sqlite://{}", data_dir.join("stella.sqlite").display()),
            queue_url: "memory".into(),
            blobs_url: format!("file://{}", data_dir.join("artifacts").display()),
            blobs_endpoint: None,
            blobs_region: None,
            data_dir,
            public_url,
            allow_local_targets: false,
            worker: worker::WorkerConfig::default(),
        }
    }
}

/// The opened ports, shared by the web service and the worker.
#[derive(Clone)]
pub struct Ports {
    pub db: Arc<dyn Db>,
    pub blobs: Arc<dyn Blobs>,
    pub bus: Arc<dyn Bus>,
}

impl Ports {
    pub async fn open(config: &ServiceConfig) -> anyhow::Result<Ports> {
        use anyhow::Context as _;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let db = stella_store::db::open_db(&config.database_url)
            .await
            .context("opening the database")?;
        let blobs = stella_store::blobs::open_blobs(
            &config.blobs_url,
            config.blobs_endpoint.as_deref(),
            config.blobs_region.as_deref(),
        )
        .context("opening the blob store")?;
        let bus = stella_store::bus::open_bus(
            &nats_ack_wait_follows_lease(&config.queue_url, config.worker.lease),
            &config.data_dir,
        )
        .await
        .context("opening the bus")?;
        Ok(Ports { db, blobs, bus })
    }
}

/// A `nats://` queue URL with `ack_wait_ms` set to the worker lease unless the URL sets it:
/// JetStream redelivers an unacknowledged message after `ack_wait`, and a redelivery before
/// the lease has run out would only meet a job another worker holds.
fn nats_ack_wait_follows_lease(url: &str, lease: std::time::Duration) -> String {
    if !url.starts_with("nats://") || url.contains("ack_wait_ms=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}ack_wait_ms={}", lease.as_millis())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::nats_ack_wait_follows_lease;
    use std::time::Duration;

    #[test]
    fn nats_ack_wait_follows_the_lease_unless_the_url_sets_it() {
        let lease = Duration::from_secs(60);
        assert_eq!(
            nats_ack_wait_follows_lease("nats://127.0.0.1:4222", lease),
            "nats://127.0.0.1:4222?ack_wait_ms=60000"
        );
        assert_eq!(
            nats_ack_wait_follows_lease("nats://h:4222?max_deliver=5", lease),
            "nats://h:4222?max_deliver=5&ack_wait_ms=60000"
        );
        for kept in [
            "nats://h:4222?ack_wait_ms=500",
            "redis://h:6379/0",
            "memory",
        ] {
            assert_eq!(nats_ack_wait_follows_lease(kept, lease), kept);
        }
    }
}
