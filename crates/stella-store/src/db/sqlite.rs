//! SQLite adapter of the Db port, for the embedded mode.
//!
//! Built on rusqlite (the workspace's one SQLite link: a second `libsqlite3-sys`, as sqlx's
//! SQLite driver would bring, cannot link beside it). rusqlite is blocking, so every call runs
//! on tokio's blocking pool behind one mutex-guarded connection: SQLite has one writer anyway.
//! WAL and a busy timeout let `stella auth client create` write while the server runs.

use super::{
    Db, DbError, Durable, FindingRow, Job, JobStatus, Migration, NewJob, OAuthClient, PackageRow,
    SbomDocument, decode_cursor, encode_cursor, now_micros, page_limit, truncate_micros,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const BACKEND: &str = "sqlite";

/// Fixed width, so text order is time order (keyset pagination compares the text).
const TIME_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

pub struct SqliteDb {
    /// The one writer: SQLite takes one write at a time anyway.
    conn: Arc<Mutex<Connection>>,
    /// Reads go through a second connection: in WAL mode a reader sees the last commit without
    /// waiting for a write in progress, so a status request does not queue behind a worker's
    /// commit and its disk sync.
    reader: Arc<Mutex<Connection>>,
    /// Connections for reads of one row by key, run on the calling thread (see
    /// [`SqliteDb::read_row`]).
    row_readers: Vec<Mutex<Connection>>,
    path: PathBuf,
}

/// How many connections serve [`SqliteDb::read_row`] at once; more concurrent reads fall back
/// to the blocking pool.
const ROW_READERS: usize = 2;

/// A read-only connection to `path`, waiting up to `busy_timeout` for a lock.
fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, DbError> {
    const OP: &str = "open";
    let conn = Connection::open(path).map_err(err(OP))?;
    conn.busy_timeout(busy_timeout).map_err(err(OP))?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(err(OP))?;
    Ok(conn)
}

fn err(op: &'static str) -> impl FnOnce(rusqlite::Error) -> DbError {
    move |e| DbError::backend(BACKEND, op, e)
}

fn fmt_time(t: OffsetDateTime) -> String {
    truncate_micros(t)
        .format(TIME_FORMAT)
        .expect("a UTC time formats")
}

fn parse_time(op: &'static str, s: &str) -> Result<OffsetDateTime, DbError> {
    time::PrimitiveDateTime::parse(s, TIME_FORMAT)
        .map(|t| t.assume_utc())
        .map_err(|e| DbError::Corrupt {
            backend: BACKEND,
            op,
            message: format!("time `{s}`: {e}"),
        })
}

fn parse_json(op: &'static str, s: &str) -> Result<serde_json::Value, DbError> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt {
        backend: BACKEND,
        op,
        message: e.to_string(),
    })
}

const JOB_COLUMNS: &str = "tenant, id, image, sbom_format, idempotency_key, status, worker, \
     lease_until, created_at, started_at, finished_at, attempts, error, summary, \
     event_published_at";

/// The raw row; decoded outside rusqlite's closure so decoding errors are ours.
struct RawJob([Option<String>; 15], i32);

fn raw_job(row: &Row<'_>) -> rusqlite::Result<RawJob> {
    let mut cols: [Option<String>; 15] = Default::default();
    for (i, col) in cols.iter_mut().enumerate() {
        if i != 11 {
            *col = row.get(i)?;
        }
    }
    Ok(RawJob(cols, row.get(11)?))
}

fn job_from_raw(raw: RawJob) -> Result<Job, DbError> {
    const OP: &str = "read job";
    let RawJob(c, attempts) = raw;
    let req = |i: usize| -> Result<String, DbError> {
        c[i].clone().ok_or_else(|| DbError::Corrupt {
            backend: BACKEND,
            op: OP,
            message: format!("column {i} is null"),
        })
    };
    let opt_time = |i: usize| c[i].as_deref().map(|s| parse_time(OP, s)).transpose();
    let status = req(5)?;
    Ok(Job {
        tenant: req(0)?,
        id: req(1)?,
        image: req(2)?,
        sbom_format: req(3)?,
        idempotency_key: c[4].clone(),
        status: JobStatus::parse(&status).ok_or_else(|| DbError::Corrupt {
            backend: BACKEND,
            op: OP,
            message: format!("unknown status `{status}`"),
        })?,
        worker: c[6].clone(),
        lease_until: opt_time(7)?,
        created_at: parse_time(OP, &req(8)?)?,
        started_at: opt_time(9)?,
        finished_at: opt_time(10)?,
        attempts,
        error: c[12].clone(),
        summary: c[13].as_deref().map(|s| parse_json(OP, s)).transpose()?,
        event_published: c[14].is_some(),
    })
}

impl SqliteDb {
    /// Opens (creating) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let path = path.to_path_buf();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, DbError> {
            const OP: &str = "open";
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| DbError::backend(BACKEND, OP, e))?;
            }
            let conn = Connection::open(&p).map_err(err(OP))?;
            conn.busy_timeout(Duration::from_secs(10))
                .map_err(err(OP))?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err(OP))?;
            conn.pragma_update(None, "foreign_keys", "ON")
                .map_err(err(OP))?;
            // Every commit waits for the disk (an acknowledged job survives a power cut),
            // spelled out because `unsynced` switches it off for one write at a time.
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(err(OP))?;
            Ok(conn)
        })
        .await
        .map_err(|e| DbError::backend(BACKEND, "open", e))??;
        let conn = Arc::new(Mutex::new(conn));
        call_on(&conn, "migrate", |c| migrate(c, super::SQLITE_MIGRATIONS)).await?;
        let p = path.clone();
        let (reader, row_readers) = tokio::task::spawn_blocking(move || {
            let row_readers = (0..ROW_READERS)
                .map(|_| open_reader(&p, Duration::ZERO).map(Mutex::new))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, DbError>((open_reader(&p, Duration::from_secs(10))?, row_readers))
        })
        .await
        .map_err(|e| DbError::backend(BACKEND, "open", e))??;
        Ok(SqliteDb {
            conn,
            reader: Arc::new(Mutex::new(reader)),
            row_readers,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writing connection on the blocking pool.
    async fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        call_on(&self.conn, op, f).await
    }

    /// Runs `f`, which only reads, on the reading connection.
    async fn call_read<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        call_on(&self.reader, op, f).await
    }

    /// Starts [`sync_wal`] on the blocking pool: the [`Durable`] of the unsynced commits so far.
    fn sync_wal_now(&self) -> Durable {
        let path = self.path.clone();
        Durable::running(
            BACKEND,
            tokio::task::spawn_blocking(move || sync_wal(&path)),
        )
    }

    /// Runs `f`, a read of one row by its key (a job's status, a client, a document's blob
    /// key), on the calling thread when a row reader is free, else like [`Self::call_read`].
    /// Such a read takes tens of microseconds in WAL mode and is cheaper than the hand-off to
    /// the blocking pool and back: on a virtual machine each of those wakes a thread on another
    /// CPU, and a status request paid two of them. The row readers never wait for a lock
    /// (`busy_timeout` 0): a read that would (WAL recovery, another process's exclusive lock)
    /// goes to the blocking pool, whose reader waits, instead of stalling this thread.
    async fn read_row<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl Fn(&mut Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        for reader in &self.row_readers {
            let Some(mut conn) = crate::lock_if_free(reader) else {
                continue;
            };
            match f(&mut conn) {
                Err(e) if is_busy(&e) => break,
                done => return done,
            }
        }
        self.call_read(op, f).await
    }
}

/// Whether `e` is SQLite's "database is locked" (`SQLITE_BUSY`).
fn is_busy(e: &DbError) -> bool {
    matches!(e, DbError::Backend { source, .. }
        if source.downcast_ref::<rusqlite::Error>().and_then(rusqlite::Error::sqlite_error_code)
            == Some(rusqlite::ErrorCode::DatabaseBusy))
}

/// Runs `f` on `conn` on the blocking pool.
async fn call_on<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    op: &'static str,
    f: impl FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        // A panic in another call poisons the mutex but leaves the connection usable: SQLite
        // rolled back whatever that call had open.
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    })
    .await
    .map_err(|e| DbError::backend(BACKEND, op, e))?
}

/// Runs `f`, a write whose loss in a power cut costs nothing but repeated work, committed
/// without waiting for the disk: the commit is atomic and visible at once, and the next
/// synced commit (WAL) makes it durable too. The writer is otherwise fully synced.
///
/// What may use it: taking a job and renewing its lease (lost, the job looks queued again
/// and runs once more; the Db's conditional updates still let one worker complete it), and
/// recording that an event went out (lost, the event goes out again and consumers drop it by
/// its idempotency key). Inserted jobs and completions too, but only with [`sync_wal`] after
/// them: an inserted job is acknowledged, and a completion published on the bus, only once
/// that sync is done.
fn unsynced<T>(
    c: &mut Connection,
    op: &'static str,
    f: impl FnOnce(&mut Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    c.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err(op))?;
    // Back to FULL however `f` ends, a panic included: the connection outlives it (the mutex
    // is taken back from a poisoned state), and every later write must wait for the disk.
    struct RestoreFull<'a>(&'a mut Connection);
    impl Drop for RestoreFull<'_> {
        fn drop(&mut self) {
            if let Err(e) = self.0.pragma_update(None, "synchronous", "FULL") {
                tracing::error!(error = %e, "cannot restore synchronous=FULL on the SQLite writer");
            }
        }
    }
    let guard = RestoreFull(c);
    f(&mut *guard.0)
}

/// Puts every commit made so far on disk: `fdatasync` of the database's write-ahead log, on
/// its own file handle, so the writer connection is not held while the disk works. What an
/// unsynced commit wrote is in the WAL, or, when a checkpoint has moved it already, in the
/// database file, which the checkpoint synced (SQLite's `synchronous=NORMAL` contract); a
/// log that is gone means the latter, and the database file is synced as well to be sure.
fn sync_wal(db_path: &Path) -> Result<(), DbError> {
    const OP: &str = "sync";
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    match std::fs::File::open(&wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::File::open(db_path).and_then(|f| f.sync_data())
        }
        Err(e) => Err(e),
    }
    .map_err(|e| DbError::backend(BACKEND, OP, e))
}

/// Applies pending migrations in one immediate transaction (which takes the write lock, so
/// two processes opening the file together do not both apply them).
fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), DbError> {
    const OP: &str = "migrate";
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err(OP))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL)",
    )
    .map_err(err(OP))?;
    for m in migrations {
        let done = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [m.version],
                |_| Ok(()),
            )
            .optional()
            .map_err(err(OP))?
            .is_some();
        if done {
            continue;
        }
        tx.execute_batch(m.sql).map_err(err(OP))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, fmt_time(now_micros())],
        )
        .map_err(err(OP))?;
    }
    tx.commit().map_err(err(OP))
}

fn select_job(
    conn: &Connection,
    op: &'static str,
    where_clause: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Option<Job>, DbError> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM scan_jobs WHERE {where_clause}"),
        args,
        raw_job,
    )
    .optional()
    .map_err(err(op))?
    .map(job_from_raw)
    .transpose()
}

#[async_trait]
impl Db for SqliteDb {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn create_tenant(&self, tenant: &str) -> Result<(), DbError> {
        const OP: &str = "create tenant";
        let tenant = tenant.to_string();
        self.call(OP, move |c| {
            c.execute(
                "INSERT INTO tenants (id, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![tenant, fmt_time(now_micros())],
            )
            .map_err(err(OP))?;
            Ok(())
        })
        .await
    }

    async fn create_client(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        scopes: &[String],
    ) -> Result<(), DbError> {
        const OP: &str = "create client";
        let (tenant, client_id, secret_hash) = (
            tenant.to_string(),
            client_id.to_string(),
            secret_hash.to_string(),
        );
        let scopes = serde_json::json!(scopes).to_string();
        self.call(OP, move |c| {
            c.execute(
                "INSERT INTO oauth_clients (client_id, tenant, secret_hash, scopes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (client_id) DO UPDATE
                 SET secret_hash = excluded.secret_hash, scopes = excluded.scopes
                 WHERE oauth_clients.tenant = excluded.tenant",
                params![
                    client_id,
                    tenant,
                    secret_hash,
                    scopes,
                    fmt_time(now_micros())
                ],
            )
            .map_err(err(OP))?;
            Ok(())
        })
        .await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<OAuthClient>, DbError> {
        const OP: &str = "get client";
        let client_id = client_id.to_string();
        self.read_row(OP, move |c| {
            let row = c
                .query_row(
                    "SELECT client_id, tenant, secret_hash, scopes FROM oauth_clients
                     WHERE client_id = ?1",
                    [&client_id],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(err(OP))?;
            row.map(|(client_id, tenant, secret_hash, scopes)| {
                Ok(OAuthClient {
                    client_id,
                    tenant,
                    secret_hash,
                    scopes: serde_json::from_str(&scopes).map_err(|e| DbError::Corrupt {
                        backend: BACKEND,
                        op: OP,
                        message: e.to_string(),
                    })?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn insert_job(&self, tenant: &str, job: &NewJob) -> Result<Job, DbError> {
        let (job, durable) = self.insert_job_visible(tenant, job).await?;
        durable.wait().await?;
        Ok(job)
    }

    async fn insert_job_visible(
        &self,
        tenant: &str,
        job: &NewJob,
    ) -> Result<(Job, Durable), DbError> {
        const OP: &str = "insert job";
        let tenant = tenant.to_string();
        let job = job.clone();
        // Committed unsynced, so the writer is free and the job visible at once; the WAL is
        // then synced apart (see `sync_wal`), and the caller acknowledges only after that.
        let job = self
            .call(OP, move |c| {
                unsynced(c, OP, |c| {
                    let n = c
                        .execute(
                            "INSERT INTO scan_jobs (tenant, id, image, sbom_format,
                                idempotency_key, status, created_at, attempts)
                             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, 0)
                             ON CONFLICT DO NOTHING",
                            params![
                                tenant,
                                job.id,
                                job.image,
                                job.sbom_format,
                                job.idempotency_key,
                                fmt_time(now_micros())
                            ],
                        )
                        .map_err(err(OP))?;
                    let found = if n == 1 {
                        select_job(c, OP, "tenant = ?1 AND id = ?2", &[&tenant, &job.id])?
                    } else if let Some(key) = &job.idempotency_key {
                        select_job(
                            c,
                            OP,
                            "tenant = ?1 AND idempotency_key = ?2",
                            &[&tenant, key],
                        )?
                    } else {
                        None
                    };
                    found.ok_or(DbError::JobExists {
                        backend: BACKEND,
                        op: OP,
                        id: job.id,
                    })
                })
            })
            .await?;
        Ok((job, self.sync_wal_now()))
    }

    async fn get_job(&self, tenant: &str, id: &str) -> Result<Option<Job>, DbError> {
        const OP: &str = "get job";
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.read_row(OP, move |c| {
            select_job(c, OP, "tenant = ?1 AND id = ?2", &[&tenant, &id])
        })
        .await
    }

    async fn list_jobs(
        &self,
        tenant: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Job>, Option<String>), DbError> {
        const OP: &str = "list jobs";
        let limit = page_limit(limit);
        let after = cursor
            .map(decode_cursor)
            .transpose()?
            .map(|(at, id)| (fmt_time(at), id));
        let tenant = tenant.to_string();
        let raws = self
            .call_read(OP, move |c| {
                let fetch = limit + 1;
                let raws = match &after {
                    None => {
                        let mut stmt = c
                            .prepare(&format!(
                                "SELECT {JOB_COLUMNS} FROM scan_jobs WHERE tenant = ?1
                                 ORDER BY created_at DESC, id DESC LIMIT ?2"
                            ))
                            .map_err(err(OP))?;
                        stmt.query_map(params![tenant, fetch], raw_job)
                            .map_err(err(OP))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }
                    Some((at, id)) => {
                        let mut stmt = c
                            .prepare(&format!(
                                "SELECT {JOB_COLUMNS} FROM scan_jobs
                                 WHERE tenant = ?1 AND (created_at, id) < (?2, ?3)
                                 ORDER BY created_at DESC, id DESC LIMIT ?4"
                            ))
                            .map_err(err(OP))?;
                        stmt.query_map(params![tenant, at, id, fetch], raw_job)
                            .map_err(err(OP))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }
                };
                raws.map_err(err(OP))
            })
            .await?;
        let mut jobs = raws
            .into_iter()
            .map(job_from_raw)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if jobs.len() as i64 > limit {
            jobs.truncate(limit as usize);
            jobs.last().map(encode_cursor)
        } else {
            None
        };
        Ok((jobs, next))
    }

    async fn start_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        lease_until: OffsetDateTime,
        max_attempts: i32,
    ) -> Result<Option<Job>, DbError> {
        const OP: &str = "start job";
        let (tenant, id, worker) = (tenant.to_string(), id.to_string(), worker.to_string());
        // Unsynced: the scan starts without waiting for the disk (see `unsynced`).
        self.call(OP, move |c| {
            unsynced(c, OP, |c| {
                c.query_row(
                    &format!(
                        "UPDATE scan_jobs
                     SET status = 'running', worker = ?3, lease_until = ?4,
                         started_at = COALESCE(started_at, ?5), attempts = attempts + 1
                     WHERE tenant = ?1 AND id = ?2 AND attempts < ?6
                       AND (status = 'queued'
                            OR (status = 'running' AND (worker = ?3 OR lease_until < ?5)))
                     RETURNING {JOB_COLUMNS}"
                    ),
                    params![
                        tenant,
                        id,
                        worker,
                        fmt_time(lease_until),
                        fmt_time(now_micros()),
                        max_attempts
                    ],
                    raw_job,
                )
                .optional()
                .map_err(err(OP))?
                .map(job_from_raw)
                .transpose()
            })
        })
        .await
    }

    async fn heartbeat(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, DbError> {
        const OP: &str = "heartbeat";
        let (tenant, id, worker) = (tenant.to_string(), id.to_string(), worker.to_string());
        self.call(OP, move |c| {
            unsynced(c, OP, |c| {
                let n = c
                    .execute(
                        "UPDATE scan_jobs SET lease_until = ?4
                         WHERE tenant = ?1 AND id = ?2 AND status = 'running' AND worker = ?3",
                        params![tenant, id, worker, fmt_time(lease_until)],
                    )
                    .map_err(err(OP))?;
                Ok(n == 1)
            })
        })
        .await
    }

    async fn complete_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<Option<Job>, DbError> {
        let (job, durable) = self
            .complete_job_visible(tenant, id, worker, summary)
            .await?;
        durable.wait().await?;
        Ok(job)
    }

    async fn complete_job_visible(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<(Option<Job>, Durable), DbError> {
        const OP: &str = "complete job";
        let (tenant, id, worker) = (tenant.to_string(), id.to_string(), worker.to_string());
        let summary = summary.to_string();
        // As for inserts: unsynced, then the WAL synced apart while the caller goes on.
        let job = self
            .call(OP, move |c| {
                unsynced(c, OP, |c| {
                    c.query_row(
                        &format!(
                            "UPDATE scan_jobs
                             SET status = 'completed', summary = ?4, finished_at = ?5,
                                 lease_until = NULL
                             WHERE tenant = ?1 AND id = ?2 AND status = 'running'
                               AND worker = ?3
                             RETURNING {JOB_COLUMNS}"
                        ),
                        params![tenant, id, worker, summary, fmt_time(now_micros())],
                        raw_job,
                    )
                    .optional()
                    .map_err(err(OP))?
                    .map(job_from_raw)
                    .transpose()
                })
            })
            .await?;
        Ok((job, self.sync_wal_now()))
    }

    async fn flush(&self) -> Result<(), DbError> {
        self.sync_wal_now().wait().await
    }

    async fn fail_job(
        &self,
        tenant: &str,
        id: &str,
        error: &str,
        attempts: i32,
    ) -> Result<bool, DbError> {
        const OP: &str = "fail job";
        let (tenant, id, error) = (tenant.to_string(), id.to_string(), error.to_string());
        self.call(OP, move |c| {
            let n = c
                .execute(
                    "UPDATE scan_jobs
                     SET status = 'failed', error = ?3, attempts = ?4, finished_at = ?5,
                         lease_until = NULL
                     WHERE tenant = ?1 AND id = ?2 AND status IN ('queued', 'running')",
                    params![tenant, id, error, attempts, fmt_time(now_micros())],
                )
                .map_err(err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn list_stale_jobs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Job>, DbError> {
        const OP: &str = "list stale jobs";
        let (before, limit) = (fmt_time(stale_before), page_limit(limit));
        let raws = self
            .call_read(OP, move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {JOB_COLUMNS} FROM scan_jobs
                         WHERE (status = 'queued' AND created_at < ?1)
                            OR (status = 'running' AND lease_until < ?1)
                         ORDER BY created_at, tenant, id LIMIT ?2"
                    ))
                    .map_err(err(OP))?;
                stmt.query_map(params![before, limit], raw_job)
                    .map_err(err(OP))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(err(OP))
            })
            .await?;
        raws.into_iter().map(job_from_raw).collect()
    }

    async fn mark_event_published(&self, tenant: &str, id: &str) -> Result<bool, DbError> {
        const OP: &str = "mark event published";
        let (tenant, id) = (tenant.to_string(), id.to_string());
        // Unsynced: waiting for the disk would hold the one writer just as the client, told
        // the job finished, sends its next request.
        self.call(OP, move |c| {
            unsynced(c, OP, |c| {
                let n = c
                    .execute(
                        "UPDATE scan_jobs SET event_published_at = ?3
                         WHERE tenant = ?1 AND id = ?2 AND status IN ('completed', 'failed')
                           AND event_published_at IS NULL",
                        params![tenant, id, fmt_time(now_micros())],
                    )
                    .map_err(err(OP))?;
                Ok(n == 1)
            })
        })
        .await
    }

    async fn put_sbom_document(
        &self,
        tenant: &str,
        job: &str,
        format: &str,
        blob_key: &str,
        digest: &str,
    ) -> Result<(), DbError> {
        const OP: &str = "put sbom document";
        let args = [tenant, job, format, blob_key, digest].map(str::to_string);
        self.call(OP, move |c| {
            c.execute(
                "INSERT INTO sbom_documents (tenant, job_id, format, blob_key, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, job_id, format)
                 DO UPDATE SET blob_key = excluded.blob_key, digest = excluded.digest",
                rusqlite::params_from_iter(args.iter()),
            )
            .map_err(err(OP))?;
            Ok(())
        })
        .await
    }

    async fn get_sbom_document(
        &self,
        tenant: &str,
        job: &str,
        format: &str,
    ) -> Result<Option<SbomDocument>, DbError> {
        const OP: &str = "get sbom document";
        let args = [tenant, job, format].map(str::to_string);
        self.read_row(OP, move |c| {
            c.query_row(
                "SELECT format, blob_key, digest FROM sbom_documents
                 WHERE tenant = ?1 AND job_id = ?2 AND format = ?3",
                rusqlite::params_from_iter(args.iter()),
                |r| {
                    Ok(SbomDocument {
                        format: r.get(0)?,
                        blob_key: r.get(1)?,
                        digest: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(err(OP))
        })
        .await
    }

    async fn put_packages(
        &self,
        tenant: &str,
        job: &str,
        rows: &[PackageRow],
    ) -> Result<(), DbError> {
        const OP: &str = "put packages";
        let (tenant, job) = (tenant.to_string(), job.to_string());
        let rows = rows.to_vec();
        self.call(OP, move |c| {
            let tx = c.transaction().map_err(err(OP))?;
            tx.execute(
                "DELETE FROM packages WHERE tenant = ?1 AND job_id = ?2",
                params![tenant, job],
            )
            .map_err(err(OP))?;
            {
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO packages (tenant, job_id, seq, purl, name, version, payload)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(err(OP))?;
                for (seq, row) in rows.iter().enumerate() {
                    stmt.execute(params![
                        tenant,
                        job,
                        seq as i64,
                        row.purl,
                        row.name,
                        row.version,
                        row.payload.to_string()
                    ])
                    .map_err(err(OP))?;
                }
            }
            tx.commit().map_err(err(OP))
        })
        .await
    }

    async fn put_findings(
        &self,
        tenant: &str,
        job: &str,
        rows: &[FindingRow],
    ) -> Result<(), DbError> {
        const OP: &str = "put findings";
        let (tenant, job) = (tenant.to_string(), job.to_string());
        let rows = rows.to_vec();
        self.call(OP, move |c| {
            let tx = c.transaction().map_err(err(OP))?;
            tx.execute(
                "DELETE FROM findings WHERE tenant = ?1 AND job_id = ?2",
                params![tenant, job],
            )
            .map_err(err(OP))?;
            {
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO findings
                            (tenant, job_id, seq, advisory_id, purl, severity, payload)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(err(OP))?;
                for (seq, row) in rows.iter().enumerate() {
                    stmt.execute(params![
                        tenant,
                        job,
                        seq as i64,
                        row.advisory_id,
                        row.purl,
                        row.severity,
                        row.payload.to_string()
                    ])
                    .map_err(err(OP))?;
                }
            }
            tx.commit().map_err(err(OP))
        })
        .await
    }

    async fn get_findings(&self, tenant: &str, job: &str) -> Result<Vec<FindingRow>, DbError> {
        const OP: &str = "get findings";
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.call_read(OP, move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT advisory_id, purl, severity, payload FROM findings
                     WHERE tenant = ?1 AND job_id = ?2 ORDER BY seq",
                )
                .map_err(err(OP))?;
            let raws = stmt
                .query_map(params![tenant, job], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(err(OP))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(err(OP))?;
            raws.into_iter()
                .map(|(advisory_id, purl, severity, payload)| {
                    Ok(FindingRow {
                        advisory_id,
                        purl,
                        severity,
                        payload: parse_json(OP, &payload)?,
                    })
                })
                .collect()
        })
        .await
    }
}
