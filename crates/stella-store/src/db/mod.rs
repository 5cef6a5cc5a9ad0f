//! The Db port: the scanner service's persistence (tenants, OAuth clients, scan jobs and their
//! artifacts), with a PostgreSQL adapter for the distributed mode and a SQLite adapter for the
//! embedded one.
//!
//! Every method takes the tenant: a query never returns another tenant's rows, so another
//! tenant's job looks exactly like a missing one (`None`, `false`). Job state changes are
//! conditional updates (compare-and-set on status and worker), which is what makes "completes
//! exactly once" hold when a dead worker's job is reclaimed by another.
//!
//! [`open_db`] picks the adapter from `database.url` (`postgres://…` or `sqlite://PATH`) and
//! applies the versioned migrations under `migrations/{postgres,sqlite}/`.

mod postgres;
mod sqlite;

pub use postgres::PostgresDb;
pub use sqlite::SqliteDb;

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// A disk sync under way for a write that is already visible ([`Db::insert_job_visible`]).
/// The sync runs whether or not anyone waits for it.
#[must_use = "wait for it before acknowledging the write"]
pub struct Durable(Option<(&'static str, tokio::task::JoinHandle<Result<(), DbError>>)>);

impl Durable {
    /// Nothing to wait for: the write was on disk when it returned.
    pub fn done() -> Self {
        Durable(None)
    }

    /// The sync of `backend` running as `sync` (a task or a blocking-pool job).
    pub(crate) fn running(
        backend: &'static str,
        sync: tokio::task::JoinHandle<Result<(), DbError>>,
    ) -> Self {
        Durable(Some((backend, sync)))
    }

    /// Waits until the write is on disk.
    pub async fn wait(self) -> Result<(), DbError> {
        match self.0 {
            None => Ok(()),
            Some((backend, sync)) => sync
                .await
                .map_err(|e| DbError::backend(backend, "sync", e))?,
        }
    }
}

/// Failures of the Db port, naming the backend and the operation.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database ({backend}) {op}: {source}")]
    Backend {
        backend: &'static str,
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("database url `{0}` is not supported (expected postgres://… or sqlite://PATH)")]
    UnsupportedUrl(String),
    #[error("invalid pagination cursor")]
    InvalidCursor,
    #[error("database ({backend}) {op}: job `{id}` already exists")]
    JobExists {
        backend: &'static str,
        op: &'static str,
        id: String,
    },
    #[error("database ({backend}) {op}: stored value is invalid: {message}")]
    Corrupt {
        backend: &'static str,
        op: &'static str,
        message: String,
    },
}

impl DbError {
    pub(crate) fn backend(
        backend: &'static str,
        op: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        DbError::Backend {
            backend,
            op,
            source: Box::new(source),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }
}

/// An OAuth client as stored: the secret only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    pub tenant: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: String,
    pub image: String,
    pub sbom_format: String,
    pub idempotency_key: Option<String>,
}

/// A scan job. Times are UTC with microsecond precision (what PostgreSQL keeps).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub tenant: String,
    pub id: String,
    pub image: String,
    pub sbom_format: String,
    pub idempotency_key: Option<String>,
    pub status: JobStatus,
    pub worker: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub error: Option<String>,
    pub summary: Option<serde_json::Value>,
    /// Whether the job's `scan.completed`/`scan.failed` event was recorded as published
    /// ([`Db::mark_event_published`]).
    pub event_published: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomDocument {
    pub format: String,
    pub blob_key: String,
    pub digest: String,
}

/// A package found by a scan: the columns queries filter on, the rest in `payload`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageRow {
    pub purl: String,
    pub name: String,
    pub version: String,
    pub payload: serde_json::Value,
}

/// A finding of a scan: the columns queries filter on, the rest in `payload`.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    pub advisory_id: String,
    pub purl: String,
    pub severity: String,
    pub payload: serde_json::Value,
}

/// The scanner's persistence. Object-safe through `async_trait` so services hold an
/// `Arc<dyn Db>` chosen at start-up from the config.
#[async_trait]
pub trait Db: Send + Sync {
    /// `postgres` or `sqlite`, for logs and errors.
    fn backend(&self) -> &'static str;

    /// Creates the tenant; creating an existing tenant is a no-op.
    async fn create_tenant(&self, tenant: &str) -> Result<(), DbError>;
    /// Registers (or replaces the secret and scopes of) an OAuth client of `tenant`.
    async fn create_client(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        scopes: &[String],
    ) -> Result<(), DbError>;
    /// Looks a client up by id: the one query not scoped by tenant, because the token request
    /// is what establishes the tenant.
    async fn get_client(&self, client_id: &str) -> Result<Option<OAuthClient>, DbError>;

    /// Inserts a queued job, on disk when this returns. When `job.idempotency_key` is already
    /// used by this tenant, returns the existing job instead and inserts nothing.
    async fn insert_job(&self, tenant: &str, job: &NewJob) -> Result<Job, DbError>;
    /// [`Db::insert_job`] that answers once the job is visible to every connection, with the
    /// [`Durable`] to wait on before telling anyone it was accepted. The job can be published
    /// while the disk sync runs, so a worker need not wait for it. Adapters whose commits are
    /// always on disk when they return answer with [`Durable::done`].
    async fn insert_job_visible(
        &self,
        tenant: &str,
        job: &NewJob,
    ) -> Result<(Job, Durable), DbError> {
        Ok((self.insert_job(tenant, job).await?, Durable::done()))
    }
    async fn get_job(&self, tenant: &str, id: &str) -> Result<Option<Job>, DbError>;
    /// A page of the tenant's jobs, newest first (by `(created_at, id)`), and the cursor of the
    /// next page when there is one.
    async fn list_jobs(
        &self,
        tenant: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Job>, Option<String>), DbError>;
    /// Takes the job for `worker` until `lease_until` and counts an attempt: allowed while
    /// fewer than `max_attempts` were made and the job is queued, or running under `worker` or
    /// under an expired lease (its worker died). The job as taken, or `None` when not allowed
    /// (no such job, finished, held by another live worker, out of attempts). One statement
    /// that both takes and reads the job, so a worker starts a scan after one round trip.
    async fn start_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        lease_until: OffsetDateTime,
        max_attempts: i32,
    ) -> Result<Option<Job>, DbError>;
    /// Extends the lease. `false` when `worker` does not hold the job (stop working on it).
    async fn heartbeat(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, DbError>;
    /// Marks the job completed, once: the completed job only for the call that made the
    /// change, and only when `worker` holds it; `None` otherwise.
    async fn complete_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<Option<Job>, DbError>;
    /// [`Db::complete_job`] that answers once the completion is visible to every connection,
    /// with the [`Durable`] to wait on before the job's event goes out or its message is
    /// acknowledged. Readers see the completion from its commit, up to a disk sync before it is
    /// on disk: a crash of the database inside that window (about a millisecond) makes the job
    /// run again. Adapters whose commits are always on disk when they return answer with
    /// [`Durable::done`].
    async fn complete_job_visible(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<(Option<Job>, Durable), DbError> {
        Ok((
            self.complete_job(tenant, id, worker, summary).await?,
            Durable::done(),
        ))
    }
    /// Waits until every write that returned before this call is on disk, for a caller that
    /// read a row another writer may have committed without waiting for the disk (a finished
    /// job whose event it is about to publish).
    async fn flush(&self) -> Result<(), DbError> {
        Ok(())
    }
    /// Marks a job that has not completed as failed with its error and attempt count.
    async fn fail_job(
        &self,
        tenant: &str,
        id: &str,
        error: &str,
        attempts: i32,
    ) -> Result<bool, DbError>;

    /// Jobs of every tenant that the bus may have lost: `queued` and created before
    /// `stale_before`, or `running` under a lease that ended before `stale_before` (its worker
    /// died and nobody took it over). Oldest first, at most `limit`. The worker's sweeper
    /// publishes them again, so a job the Db acknowledged runs even when its message is gone.
    async fn list_stale_jobs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Job>, DbError>;
    /// Records that the finished job's event was published: `true` only for the call that made
    /// the change (the job exists, is completed or failed, and was not marked yet).
    async fn mark_event_published(&self, tenant: &str, id: &str) -> Result<bool, DbError>;

    /// Records where a job's SBOM in `format` lives in the blob store (replaces a previous one).
    async fn put_sbom_document(
        &self,
        tenant: &str,
        job: &str,
        format: &str,
        blob_key: &str,
        digest: &str,
    ) -> Result<(), DbError>;
    async fn get_sbom_document(
        &self,
        tenant: &str,
        job: &str,
        format: &str,
    ) -> Result<Option<SbomDocument>, DbError>;
    /// Replaces the job's packages with `rows`, in one transaction.
    async fn put_packages(
        &self,
        tenant: &str,
        job: &str,
        rows: &[PackageRow],
    ) -> Result<(), DbError>;
    /// Replaces the job's findings with `rows`, in one transaction.
    async fn put_findings(
        &self,
        tenant: &str,
        job: &str,
        rows: &[FindingRow],
    ) -> Result<(), DbError>;
    /// The job's findings in the order they were put.
    async fn get_findings(&self, tenant: &str, job: &str) -> Result<Vec<FindingRow>, DbError>;
}

/// Opens the database named by `database.url` and brings its schema up to date.
pub async fn open_db(url: &str) -> Result<Arc<dyn Db>, DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresDb::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        }
        Ok(Arc::new(SqliteDb::open(std::path::Path::new(path)).await?))
    } else {
        // Never echo a URL that might carry a password: keep only its scheme.
        let scheme = url.split("://").next().unwrap_or("").to_string();
        Err(DbError::UnsupportedUrl(format!("{scheme}://…")))
    }
}

/// One migration: applied in order, each once, recorded in `schema_migrations`.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "job_events",
        sql: include_str!("../../migrations/postgres/0002_job_events.sql"),
    },
];

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "job_events",
        sql: include_str!("../../migrations/sqlite/0002_job_events.sql"),
    },
];

/// Now, truncated to the microsecond so a value reads back equal from either backend.
pub(crate) fn now_micros() -> OffsetDateTime {
    truncate_micros(OffsetDateTime::now_utc())
}

pub(crate) fn truncate_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .expect("a truncated nanosecond is in range")
}

/// The cursor is opaque to clients: base64url of `<unix micros>:<job id>` of the last job seen.
pub(crate) fn encode_cursor(job: &Job) -> String {
    let micros = job.created_at.unix_timestamp_nanos() / 1000;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{micros}:{}", job.id))
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(OffsetDateTime, String), DbError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| DbError::InvalidCursor)?;
    let raw = String::from_utf8(raw).map_err(|_| DbError::InvalidCursor)?;
    let (micros, id) = raw.split_once(':').ok_or(DbError::InvalidCursor)?;
    let micros: i128 = micros.parse().map_err(|_| DbError::InvalidCursor)?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros * 1000)
        .map_err(|_| DbError::InvalidCursor)?;
    Ok((at, id.to_string()))
}

/// Clamps a page size so one request cannot ask for the whole table.
pub(crate) fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 1000))
}
