//! PostgreSQL adapter of the Db port, over `tokio-postgres` with a `deadpool` pool.
//!
//! Why not sqlx: the workspace links SQLite through rusqlite, and tokio-postgres is the smaller
//! dependency for a handful of static queries. The pool reconnects on its own, so a database
//! restart costs the calls in flight, not the process.

use super::{
    Db, DbError, FindingRow, Job, JobStatus, Migration, NewJob, OAuthClient, PackageRow,
    SbomDocument, decode_cursor, encode_cursor, now_micros, page_limit, truncate_micros,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use time::OffsetDateTime;
use tokio_postgres::{NoTls, Row};

const BACKEND: &str = "postgres";

pub struct PostgresDb {
    pool: Pool,
}

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
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| DbError::backend(BACKEND, "build pool", e))?;
        let db = PostgresDb { pool };
        db.migrate(super::POSTGRES_MIGRATIONS).await?;
        Ok(db)
    }

    async fn client(&self, op: &'static str) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(pool_err(op))
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
        self.client(OP)
            .await?
            .execute(
                "INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&tenant, &now_micros()],
            )
            .await
            .map_err(err(OP))?;
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
        self.client(OP)
            .await?
            .execute(
                "INSERT INTO oauth_clients (client_id, tenant, secret_hash, scopes, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (client_id) DO UPDATE
                 SET secret_hash = EXCLUDED.secret_hash, scopes = EXCLUDED.scopes
                 WHERE oauth_clients.tenant = EXCLUDED.tenant",
                &[&client_id, &tenant, &secret_hash, &scopes, &now_micros()],
            )
            .await
            .map_err(err(OP))?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<OAuthClient>, DbError> {
        const OP: &str = "get client";
        let row = self
            .client(OP)
            .await?
            .query_opt(
                "SELECT client_id, tenant, secret_hash, scopes FROM oauth_clients
                 WHERE client_id = $1",
                &[&client_id],
            )
            .await
            .map_err(err(OP))?;
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
        const OP: &str = "insert job";
        let client = self.client(OP).await?;
        // ON CONFLICT DO NOTHING covers both the idempotency index and the primary key; which
        // one fired is told apart below.
        let inserted = client
            .query_opt(
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
            .await
            .map_err(err(OP))?;
        if let Some(row) = inserted {
            return job_from_row(&row);
        }
        if let Some(key) = &job.idempotency_key {
            let existing = client
                .query_opt(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM scan_jobs
                         WHERE tenant = $1 AND idempotency_key = $2"
                    ),
                    &[&tenant, key],
                )
                .await
                .map_err(err(OP))?;
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

    async fn get_job(&self, tenant: &str, id: &str) -> Result<Option<Job>, DbError> {
        const OP: &str = "get job";
        let row = self
            .client(OP)
            .await?
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM scan_jobs WHERE tenant = $1 AND id = $2"),
                &[&tenant, &id],
            )
            .await
            .map_err(err(OP))?;
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
        let client = self.client(OP).await?;
        let rows = match cursor {
            None => client
                .query(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM scan_jobs WHERE tenant = $1
                         ORDER BY created_at DESC, id DESC LIMIT $2"
                    ),
                    &[&tenant, &fetch],
                )
                .await
                .map_err(err(OP))?,
            Some(cursor) => {
                let (at, id) = decode_cursor(cursor)?;
                client
                    .query(
                        &format!(
                            "SELECT {JOB_COLUMNS} FROM scan_jobs
                             WHERE tenant = $1 AND (created_at, id) < ($2, $3)
                             ORDER BY created_at DESC, id DESC LIMIT $4"
                        ),
                        &[&tenant, &at, &id, &fetch],
                    )
                    .await
                    .map_err(err(OP))?
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
        let row = self
            .client(OP)
            .await?
            .query_opt(
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
            .await
            .map_err(err(OP))?;
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
        let n = self
            .client(OP)
            .await?
            .execute(
                "UPDATE scan_jobs SET lease_until = $4
                 WHERE tenant = $1 AND id = $2 AND status = 'running' AND worker = $3",
                &[&tenant, &id, &worker, &truncate_micros(lease_until)],
            )
            .await
            .map_err(err(OP))?;
        Ok(n == 1)
    }

    async fn complete_job(
        &self,
        tenant: &str,
        id: &str,
        worker: &str,
        summary: &serde_json::Value,
    ) -> Result<Option<Job>, DbError> {
        const OP: &str = "complete job";
        let row = self
            .client(OP)
            .await?
            .query_opt(
                &format!(
                    "UPDATE scan_jobs
                     SET status = 'completed', summary = $4, finished_at = $5, lease_until = NULL
                     WHERE tenant = $1 AND id = $2 AND status = 'running' AND worker = $3
                     RETURNING {JOB_COLUMNS}"
                ),
                &[&tenant, &id, &worker, summary, &now_micros()],
            )
            .await
            .map_err(err(OP))?;
        row.as_ref().map(job_from_row).transpose()
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
            .client(OP)
            .await?
            .execute(
                "UPDATE scan_jobs
                 SET status = 'failed', error = $3, attempts = $4, finished_at = $5,
                     lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND status IN ('queued', 'running')",
                &[&tenant, &id, &error, &attempts, &now_micros()],
            )
            .await
            .map_err(err(OP))?;
        Ok(n == 1)
    }

    async fn list_stale_jobs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Job>, DbError> {
        const OP: &str = "list stale jobs";
        let rows = self
            .client(OP)
            .await?
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM scan_jobs
                     WHERE (status = 'queued' AND created_at < $1)
                        OR (status = 'running' AND lease_until < $1)
                     ORDER BY created_at, tenant, id LIMIT $2"
                ),
                &[&truncate_micros(stale_before), &page_limit(limit)],
            )
            .await
            .map_err(err(OP))?;
        rows.iter().map(job_from_row).collect()
    }

    async fn mark_event_published(&self, tenant: &str, id: &str) -> Result<bool, DbError> {
        const OP: &str = "mark event published";
        let n = self
            .client(OP)
            .await?
            .execute(
                "UPDATE scan_jobs SET event_published_at = $3
                 WHERE tenant = $1 AND id = $2 AND status IN ('completed', 'failed')
                   AND event_published_at IS NULL",
                &[&tenant, &id, &now_micros()],
            )
            .await
            .map_err(err(OP))?;
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
        self.client(OP)
            .await?
            .execute(
                "INSERT INTO sbom_documents (tenant, job_id, format, blob_key, digest)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, job_id, format)
                 DO UPDATE SET blob_key = EXCLUDED.blob_key, digest = EXCLUDED.digest",
                &[&tenant, &job, &format, &blob_key, &digest],
            )
            .await
            .map_err(err(OP))?;
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
            .client(OP)
            .await?
            .query_opt(
                "SELECT format, blob_key, digest FROM sbom_documents
                 WHERE tenant = $1 AND job_id = $2 AND format = $3",
                &[&tenant, &job, &format],
            )
            .await
            .map_err(err(OP))?;
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
        const OP: &str = "put packages";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.map_err(err(OP))?;
        tx.execute(
            "DELETE FROM packages WHERE tenant = $1 AND job_id = $2",
            &[&tenant, &job],
        )
        .await
        .map_err(err(OP))?;
        let stmt = tx
            .prepare(
                "INSERT INTO packages (tenant, job_id, seq, purl, name, version, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await
            .map_err(err(OP))?;
        for (seq, row) in rows.iter().enumerate() {
            let seq = seq as i32;
            tx.execute(
                &stmt,
                &[
                    &tenant,
                    &job,
                    &seq,
                    &row.purl,
                    &row.name,
                    &row.version,
                    &row.payload,
                ],
            )
            .await
            .map_err(err(OP))?;
        }
        tx.commit().await.map_err(err(OP))
    }

    async fn put_findings(
        &self,
        tenant: &str,
        job: &str,
        rows: &[FindingRow],
    ) -> Result<(), DbError> {
        const OP: &str = "put findings";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.map_err(err(OP))?;
        tx.execute(
            "DELETE FROM findings WHERE tenant = $1 AND job_id = $2",
            &[&tenant, &job],
        )
        .await
        .map_err(err(OP))?;
        let stmt = tx
            .prepare(
                "INSERT INTO findings (tenant, job_id, seq, advisory_id, purl, severity, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await
            .map_err(err(OP))?;
        for (seq, row) in rows.iter().enumerate() {
            let seq = seq as i32;
            tx.execute(
                &stmt,
                &[
                    &tenant,
                    &job,
                    &seq,
                    &row.advisory_id,
                    &row.purl,
                    &row.severity,
                    &row.payload,
                ],
            )
            .await
            .map_err(err(OP))?;
        }
        tx.commit().await.map_err(err(OP))
    }

    async fn get_findings(&self, tenant: &str, job: &str) -> Result<Vec<FindingRow>, DbError> {
        const OP: &str = "get findings";
        let rows = self
            .client(OP)
            .await?
            .query(
                "SELECT advisory_id, purl, severity, payload FROM findings
                 WHERE tenant = $1 AND job_id = $2 ORDER BY seq",
                &[&tenant, &job],
            )
            .await
            .map_err(err(OP))?;
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
