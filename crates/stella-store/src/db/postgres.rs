//! PostgreSQL adapter of the Db port, over `tokio-postgres` with a `deadpool` pool.
//!
//! Why not sqlx: the workspace links SQLite through rusqlite, and tokio-postgres is the smaller
//! dependency for a handful of static queries. The pool reconnects on its own, so a database
//! restart costs the calls in flight, not the process.
//!
//! On the scan's hot path: every statement is prepared once per connection (one round trip
//! per call), a scan's packages and findings go in as arrays (one statement each, not one per
//! row), and the writes that may be lost in a crash of the server, or are made durable apart
//! (an inserted or completed job: [`Db::insert_job_visible`]), commit without waiting for the
//! disk on a second pool of connections.

use super::{
    Db, DbError, Durable, FindingRow, Job, JobStatus, Migration, NewJob, OAuthClient, PackageRow,
    SbomDocument, decode_cursor, encode_cursor, now_micros, page_limit, truncate_micros,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

const BACKEND: &str = "postgres";

pub struct PostgresDb {
    pool: Pool,
    /// Connections whose commits do not wait for the disk (`synchronous_commit = off`), for
    /// writes whose loss in a crash of the server is harmless (taking a job, a lease renewal,
    /// recording a published event) or that are made durable apart (see [`FLUSH_WAL`]).
    /// `None` when they cannot be had (see `check_relaxed`): every write then waits for the disk.
    relaxed: Option<Pool>,
}

/// A transaction that writes a record to the write-ahead log (a logical-decoding message,
/// which any role may emit) and commits with the default `synchronous_commit = on`: its commit
/// flushes the log up to itself, and so past every commit made before it on any connection.
/// This is how a commit made without waiting for the disk is waited for later. (A transaction
/// that writes nothing, such as `SELECT txid_current()`, commits without a flush.)
const FLUSH_WAL: &str = "SELECT pg_logical_emit_message(true, 'stella.durable', '')";

fn err(op: &'static str) -> impl FnOnce(tokio_postgres::Error) -> DbError {
    move |e| DbError::backend(BACKEND, op, e)
}

fn pool_err(op: &'static str) -> impl FnOnce(deadpool_postgres::PoolError) -> DbError {
    move |e| DbError::backend(BACKEND, op, e)
}

const JOB_COLUMNS: &str = "tenant, id, image, sbom_format, idempotency_key, status, worker, \
     lease_until, created_at, started_at, finished_at, attempts, error, summary, \
     event_published_at";

impl PostgresDb {
    /// Connects (the URL is parsed by tokio-postgres; it is never logged) and migrates.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let config: tokio_postgres::Config = url.parse().map_err(err("parse url"))?;
        let mut relaxed_config = config.clone();
        let options = match config.get_options() {
            Some(o) => format!("{o} -c synchronous_commit=off"),
            None => "-c synchronous_commit=off".to_owned(),
        };
        relaxed_config.options(&options);
        // Sixteen connections in all, as one pool had before: the hot path's few writes on
        // the relaxed ones, reads, artifacts and log flushes on the rest.
        let pool = Self::pool(config, 12)?;
        let mut db = PostgresDb {
            pool,
            relaxed: None,
        };
        db.migrate(super::POSTGRES_MIGRATIONS).await?;
        let relaxed = Self::pool(relaxed_config, 4)?;
        match Self::check_relaxed(&db.pool, &relaxed).await {
            Ok(()) => db.relaxed = Some(relaxed),
            Err(e) => tracing::info!(
                error = %e,
                "PostgreSQL writes will all wait for the disk: unsynced commits are not available"
            ),
        }
        Ok(db)
    }

    /// Whether the relaxed pool can be used: its connections start (a proxy such as PgBouncer
    /// may refuse the `options` startup parameter) with `synchronous_commit` off, and the server
    /// lets this role flush the log by [`FLUSH_WAL`].
    async fn check_relaxed(pool: &Pool, relaxed: &Pool) -> Result<(), DbError> {
        const OP: &str = "check unsynced commits";
        let client = relaxed.get().await.map_err(pool_err(OP))?;
        let row = client
            .query_one("SHOW synchronous_commit", &[])
            .await
            .map_err(err(OP))?;
        let setting: String = row.get(0);
        if setting != "off" {
            return Err(DbError::backend(
                BACKEND,
                OP,
                std::io::Error::other(format!(
                    "synchronous_commit is {setting:?} on a connection that set it off"
                )),
            ));
        }
        Self::flush_wal(pool).await
    }

    fn pool(config: tokio_postgres::Config, size: usize) -> Result<Pool, DbError> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| DbError::backend(BACKEND, "build pool", e))
    }

    /// Waits until every commit made so far, on any connection, is on disk ([`FLUSH_WAL`]).
    async fn flush_wal(pool: &Pool) -> Result<(), DbError> {
        const OP: &str = "flush log";
        let client = pool.get().await.map_err(pool_err(OP))?;
        let statement = client.prepare_cached(FLUSH_WAL).await.map_err(err(OP))?;
        client.execute(&statement, &[]).await.map_err(err(OP))?;
        Ok(())
    }

    /// Starts [`Self::flush_wal`]: the [`Durable`] of the relaxed commits so far.
    fn flush_wal_now(&self) -> Durable {
        let pool = self.pool.clone();
        Durable::running(
            BACKEND,
            tokio::spawn(async move { Self::flush_wal(&pool).await }),
        )
    }

    /// [`Db::insert_job`] on a connection of `pool`.
    async fn insert_job_on(pool: &Pool, tenant: &str, job: &NewJob) -> Result<Job, DbError> {
        const OP: &str = "insert job";
        // ON CONFLICT DO NOTHING covers both the idempotency index and the primary key; which
        // one fired is told apart below.
        let inserted = Self::query_opt_on(
            pool,
            OP,
            &format!(
                "INSERT INTO scan_jobs (tenant, id, image, sbom_format, idempotency_key,
                        status, created_at, attempts)
                     VALUES ($1, $2, $3, $4, $5, 'queued', $6, 0)
                     ON CONFLICT DO NOTHING
                     RETURNING {JOB_COLUMNS}"
            ),
            &[
                &tenant,
                &job.id,
                &job.image,
                &job.sbom_format,
                &job.idempotency_key,
                &now_micros(),
            ],
        )
        .await?;
        if let Some(row) = inserted {
            return job_from_row(&row);
        }
        if let Some(key) = &job.idempotency_key {
            let existing = Self::query_opt_on(
                pool,
                OP,
                &format!(
                    "SELECT {JOB_COLUMNS} FROM scan_jobs
                         WHERE tenant = $1 AND idempotency_key = $2"
                ),
                &[&tenant, key],
            )
            .await?;
            if let Some(row) = existing {
                return job_from_row(&row);
            }
        }
        Err(DbError::JobExists {
            backend: BACKEND,
            op: OP,
            id: job.id.clone(),
        })
    }

    /// [`Db::complete_job`] on a connection of `pool`.
    async fn complete_job_on(
        pool: &Pool,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<Option<Job>, DbError> {
        const OP: &str = "complete job";
        let row = Self::query_opt_on(
            pool,
            OP,
            &format!(
                "UPDATE scan_jobs
                     SET status = 'completed', summary = $4, finished_at = $5, lease_until = NULL
                     WHERE tenant = $1 AND id = $2 AND status = 'running' AND worker = $3
                     RETURNING {JOB_COLUMNS}"
            ),
            &[&tenant, &id, &worker, summary, &now_micros()],
        )
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The relaxed pool when there is one, else the default one.
    fn relaxed(&self) -> &Pool {
        self.relaxed.as_ref().unwrap_or(&self.pool)
    }

    async fn client(&self, op: &'static str) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(pool_err(op))
    }

    /// Runs `sql` on a pooled connection as a statement prepared once per connection
    /// (deadpool's statement cache): a call is one round trip to the server, where a query
    /// given as text is two (parse and describe, then bind and execute).
    async fn query_opt(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Self::query_opt_on(&self.pool, op, sql, params).await
    }

    /// As [`Self::query_opt`], on a connection of `pool`.
    async fn query_opt_on(
        pool: &Pool,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        let client = pool.get().await.map_err(pool_err(op))?;
        let statement = client.prepare_cached(sql).await.map_err(err(op))?;
        client.query_opt(&statement, params).await.map_err(err(op))
    }

    /// As [`Self::query_opt`], every row.
    async fn query(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let client = self.client(op).await?;
        let statement = client.prepare_cached(sql).await.map_err(err(op))?;
        client.query(&statement, params).await.map_err(err(op))
    }

    /// Replaces a job's rows in `table` (`packages` or `findings`: after tenant, job and
    /// sequence number, three text `columns` and a JSON `payload`) in one transaction. The rows
    /// go in as arrays (`INSERT … SELECT FROM UNNEST`), so storing a scan's hundreds of packages
    /// is one round trip instead of one per row. `table` and `columns` are constants of this
    /// file, never input.
    async fn replace_rows<'a>(
        &self,
        op: &'static str,
        table: &'static str,
        columns: [&'static str; 3],
        tenant: &str,
        job: &str,
        rows: impl Iterator<Item = ([&'a str; 3], &'a serde_json::Value)>,
    ) -> Result<(), DbError> {
        let (mut seq, mut text, mut payload) = (
            Vec::<i32>::new(),
            [Vec::new(), Vec::new(), Vec::new()],
            Vec::new(),
        );
        for (i, (values, json)) in rows.enumerate() {
            seq.push(i as i32);
            for (column, value) in text.iter_mut().zip(values) {
                column.push(value);
            }
            payload.push(json);
        }
        let [c1, c2, c3] = columns;
        let delete = format!("DELETE FROM {table} WHERE tenant = $1 AND job_id = $2");
        let insert = format!(
            "INSERT INTO {table} (tenant, job_id, seq, {c1}, {c2}, {c3}, payload)
             SELECT $1, $2, * FROM UNNEST($3::int4[], $4::text[], $5::text[], $6::text[],
                                          $7::jsonb[])"
        );
        let mut client = self.client(op).await?;
        let tx = client.transaction().await.map_err(err(op))?;
        let delete = tx.prepare_cached(&delete).await.map_err(err(op))?;
        let insert = tx.prepare_cached(&insert).await.map_err(err(op))?;
        tx.execute(&delete, &[&tenant, &job])
            .await
            .map_err(err(op))?;
        tx.execute(
            &insert,
            &[&tenant, &job, &seq, &text[0], &text[1], &text[2], &payload],
        )
        .await
        .map_err(err(op))?;
        tx.commit().await.map_err(err(op))
    }

    /// As [`Self::query_opt`], the number of rows changed.
    async fn execute(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, DbError> {
        Self::execute_on(&self.pool, op, sql, params).await
    }

    /// As [`Self::execute`], on a connection of `pool`.
    async fn execute_on(
        pool: &Pool,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, DbError> {
        let client = pool.get().await.map_err(pool_err(op))?;
        let statement = client.prepare_cached(sql).await.map_err(err(op))?;
        client.execute(&statement, params).await.map_err(err(op))
    }

    /// Applies pending migrations in one transaction under an advisory lock, so two processes
    /// starting together do not both apply them.
    async fn migrate(&self, migrations: &[Migration]) -> Result<(), DbError> {
        const OP: &str = "migrate";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.map_err(err(OP))?;
        // An arbitrary constant naming "stella schema migrations".
        tx.execute("SELECT pg_advisory_xact_lock(7365426)", &[])
            .await
            .map_err(err(OP))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(err(OP))?;
        for m in migrations {
            let done = tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[&m.version],
                )
                .await
                .map_err(err(OP))?
                .is_some();
            if done {
                continue;
            }
            tx.batch_execute(m.sql).await.map_err(err(OP))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&m.version, &m.name],
            )
            .await
            .map_err(err(OP))?;
        }
        tx.commit().await.map_err(err(OP))
    }
}

fn job_from_row(row: &Row) -> Result<Job, DbError> {
    let status: String = row.get("status");
    Ok(Job {
        tenant: row.get("tenant"),
        id: row.get("id"),
        image: row.get("image"),
        sbom_format: row.get("sbom_format"),
        idempotency_key: row.get("idempotency_key"),
        status: JobStatus::parse(&status).ok_or_else(|| DbError::Corrupt {
            backend: BACKEND,
            op: "read job",
            message: format!("unknown status `{status}`"),
        })?,
        worker: row.get("worker"),
        lease_until: row.get("lease_until"),
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        attempts: row.get("attempts"),
        error: row.get("error"),
        summary: row.get("summary"),
        event_published: row
            .get::<_, Option<OffsetDateTime>>("event_published_at")
            .is_some(),
    })
}

#[async_trait]
impl Db for PostgresDb {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn create_tenant(&self, tenant: &str) -> Result<(), DbError> {
        const OP: &str = "create tenant";
        self.execute(
            OP,
            "INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&tenant, &now_micros()],
        )
        .await?;
        Ok(())
    }

    async fn create_client(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        scopes: &[String],
    ) -> Result<(), DbError> {
        const OP: &str = "create client";
        let scopes = serde_json::json!(scopes);
        self.execute(
            OP,
            "INSERT INTO oauth_clients (client_id, tenant, secret_hash, scopes, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (client_id) DO UPDATE
                 SET secret_hash = EXCLUDED.secret_hash, scopes = EXCLUDED.scopes
                 WHERE oauth_clients.tenant = EXCLUDED.tenant",
            &[&client_id, &tenant, &secret_hash, &scopes, &now_micros()],
        )
        .await?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<OAuthClient>, DbError> {
        const OP: &str = "get client";
        let row = self
            .query_opt(
                OP,
                "SELECT client_id, tenant, secret_hash, scopes FROM oauth_clients
                 WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        row.map(|row| {
            let scopes: serde_json::Value = row.get("scopes");
            Ok(OAuthClient {
                client_id: row.get("client_id"),
                tenant: row.get("tenant"),
                secret_hash: row.get("secret_hash"),
                scopes: serde_json::from_value(scopes).map_err(|e| DbError::Corrupt {
                    backend: BACKEND,
                    op: OP,
                    message: e.to_string(),
                })?,
            })
        })
        .transpose()
    }

    async fn insert_job(&self, tenant: &str, job: &NewJob) -> Result<Job, DbError> {
        Self::insert_job_on(&self.pool, tenant, job).await
    }

    async fn insert_job_visible(
        &self,
        tenant: &str,
        job: &NewJob,
    ) -> Result<(Job, Durable), DbError> {
        if self.relaxed.is_none() {
            return Ok((self.insert_job(tenant, job).await?, Durable::done()));
        }
        let job = Self::insert_job_on(self.relaxed(), tenant, job).await?;
        Ok((job, self.flush_wal_now()))
    }

    async fn get_job(&self, tenant: &str, id: &str) -> Result<Option<Job>, DbError> {
        const OP: &str = "get job";
        let row = self
            .query_opt(
                OP,
                &format!("SELECT {JOB_COLUMNS} FROM scan_jobs WHERE tenant = $1 AND id = $2"),
                &[&tenant, &id],
            )
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn list_jobs(
        &self,
        tenant: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Job>, Option<String>), DbError> {
        const OP: &str = "list jobs";
        let limit = page_limit(limit);
        let fetch = limit + 1;
        let rows = match cursor {
            None => {
                self.query(
                    OP,
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM scan_jobs WHERE tenant = $1
                         ORDER BY created_at DESC, id DESC LIMIT $2"
                    ),
                    &[&tenant, &fetch],
                )
                .await?
            }
            Some(cursor) => {
                let (at, id) = decode_cursor(cursor)?;
                self.query(
                    OP,
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM scan_jobs
                             WHERE tenant = $1 AND (created_at, id) < ($2, $3)
                             ORDER BY created_at DESC, id DESC LIMIT $4"
                    ),
                    &[&tenant, &at, &id, &fetch],
                )
                .await?
            }
        };
        let mut jobs = rows
            .iter()
            .map(job_from_row)
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
        let now = now_micros();
        // Relaxed: a start lost in a crash of the server only makes the job run again.
        let row = Self::query_opt_on(
            self.relaxed(),
            OP,
            &format!(
                "UPDATE scan_jobs
                     SET status = 'running', worker = $3, lease_until = $4,
                         started_at = COALESCE(started_at, $5), attempts = attempts + 1
                     WHERE tenant = $1 AND id = $2 AND attempts < $6
                       AND (status = 'queued'
                            OR (status = 'running' AND (worker = $3 OR lease_until < $5)))
                     RETURNING {JOB_COLUMNS}"
            ),
            &[
                &tenant,
                &id,
                &worker,
                &truncate_micros(lease_until),
                &now,
                &max_attempts,
            ],
        )
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn heartbeat(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, DbError> {
        const OP: &str = "heartbeat";
        // Relaxed: a lost renewal at worst lets another worker take the job over.
        let n = Self::execute_on(
            self.relaxed(),
            OP,
            "UPDATE scan_jobs SET lease_until = $4
                 WHERE tenant = $1 AND id = $2 AND status = 'running' AND worker = $3",
            &[&tenant, &id, &worker, &truncate_micros(lease_until)],
        )
        .await?;
        Ok(n == 1)
    }

    async fn complete_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<Option<Job>, DbError> {
        Self::complete_job_on(&self.pool, tenant, id, worker, summary).await
    }

    async fn complete_job_visible(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<(Option<Job>, Durable), DbError> {
        if self.relaxed.is_none() {
            let done = self.complete_job(tenant, id, worker, summary).await?;
            return Ok((done, Durable::done()));
        }
        let done = Self::complete_job_on(self.relaxed(), tenant, id, worker, summary).await?;
        Ok((done, self.flush_wal_now()))
    }

    async fn flush(&self) -> Result<(), DbError> {
        if self.relaxed.is_none() {
            return Ok(());
        }
        Self::flush_wal(&self.pool).await
    }

    async fn fail_job(
        &self,
        tenant: &str,
        id: &str,
        error: &str,
        attempts: i32,
    ) -> Result<bool, DbError> {
        const OP: &str = "fail job";
        let n = self
            .execute(
                OP,
                "UPDATE scan_jobs
                 SET status = 'failed', error = $3, attempts = $4, finished_at = $5,
                     lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND status IN ('queued', 'running')",
                &[&tenant, &id, &error, &attempts, &now_micros()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn list_stale_jobs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Job>, DbError> {
        const OP: &str = "list stale jobs";
        let rows = self
            .query(
                OP,
                &format!(
                    "SELECT {JOB_COLUMNS} FROM scan_jobs
                     WHERE (status = 'queued' AND created_at < $1)
                        OR (status = 'running' AND lease_until < $1)
                     ORDER BY created_at, tenant, id LIMIT $2"
                ),
                &[&truncate_micros(stale_before), &page_limit(limit)],
            )
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn mark_event_published(&self, tenant: &str, id: &str) -> Result<bool, DbError> {
        const OP: &str = "mark event published";
        // Relaxed: a lost record only sends the event a second time, which consumers drop.
        let n = Self::execute_on(
            self.relaxed(),
            OP,
            "UPDATE scan_jobs SET event_published_at = $3
                 WHERE tenant = $1 AND id = $2 AND status IN ('completed', 'failed')
                   AND event_published_at IS NULL",
            &[&tenant, &id, &now_micros()],
        )
        .await?;
        Ok(n == 1)
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
        self.execute(
            OP,
            "INSERT INTO sbom_documents (tenant, job_id, format, blob_key, digest)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, job_id, format)
                 DO UPDATE SET blob_key = EXCLUDED.blob_key, digest = EXCLUDED.digest",
            &[&tenant, &job, &format, &blob_key, &digest],
        )
        .await?;
        Ok(())
    }

    async fn get_sbom_document(
        &self,
        tenant: &str,
        job: &str,
        format: &str,
    ) -> Result<Option<SbomDocument>, DbError> {
        const OP: &str = "get sbom document";
        let row = self
            .query_opt(
                OP,
                "SELECT format, blob_key, digest FROM sbom_documents
                 WHERE tenant = $1 AND job_id = $2 AND format = $3",
                &[&tenant, &job, &format],
            )
            .await?;
        Ok(row.map(|r| SbomDocument {
            format: r.get(0),
            blob_key: r.get(1),
            digest: r.get(2),
        }))
    }

    async fn put_packages(
        &self,
        tenant: &str,
        job: &str,
        rows: &[PackageRow],
    ) -> Result<(), DbError> {
        let rows = rows
            .iter()
            .map(|r| ([r.purl.as_str(), &r.name, &r.version], &r.payload));
        self.replace_rows(
            "put packages",
            "packages",
            ["purl", "name", "version"],
            tenant,
            job,
            rows,
        )
        .await
    }

    async fn put_findings(
        &self,
        tenant: &str,
        job: &str,
        rows: &[FindingRow],
    ) -> Result<(), DbError> {
        let rows = rows
            .iter()
            .map(|r| ([r.advisory_id.as_str(), &r.purl, &r.severity], &r.payload));
        self.replace_rows(
            "put findings",
            "findings",
            ["advisory_id", "purl", "severity"],
            tenant,
            job,
            rows,
        )
        .await
    }

    async fn get_findings(&self, tenant: &str, job: &str) -> Result<Vec<FindingRow>, DbError> {
        const OP: &str = "get findings";
        let rows = self
            .query(
                OP,
                "SELECT advisory_id, purl, severity, payload FROM findings
                 WHERE tenant = $1 AND job_id = $2 ORDER BY seq",
                &[&tenant, &job],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| FindingRow {
                advisory_id: r.get(0),
                purl: r.get(1),
                severity: r.get(2),
                payload: r.get(3),
            })
            .collect())
    }
}
