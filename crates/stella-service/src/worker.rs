//! The scanner worker: `scanner:jobs` deliveries in, SBOMs, findings and `scanner:events` out.
//!
//! A delivery is acknowledged only once its job is finished in the Db (completed, or failed and
//! dead-lettered), so a worker that dies mid-scan leaves the message pending; another worker
//! (or this one after a restart) takes it over with `reclaim_idle` once the lease has run out,
//! and the Db's lease check keeps two workers from running the same job at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;
use stella_model::{Inventory, ScanFindings};
use stella_store::bus::Delivery;
use stella_store::db::{FindingRow, Job, JobStatus, PackageRow};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::{EVENTS_STREAM, JOBS_STREAM, Ports, WORKERS_GROUP};

/// How long `claim` waits for a message: also how fast the loop notices a shutdown.
const CLAIM_BLOCK: Duration = Duration::from_secs(1);

/// The worker's timing and retry settings (`[worker]` in stella.toml).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a job is held without a heartbeat before another worker may take it; also how
    /// long a delivery stays pending before another consumer may reclaim it.
    pub lease: Duration,
    /// How often the lease is renewed while a scan runs (a third of the lease by default).
    pub heartbeat_every: Duration,
    /// How often pending messages of dead consumers are looked for.
    pub reclaim_every: Duration,
    /// Attempts (across deliveries and restarts, counted in the Db) before a job is given up.
    pub max_attempts: i32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig::with_lease(Duration::from_secs(60))
    }
}

impl WorkerConfig {
    /// The defaults scaled to `lease`: heartbeats at a third of it, reclaim checks at half.
    pub fn with_lease(lease: Duration) -> Self {
        WorkerConfig {
            lease,
            heartbeat_every: (lease / 3).max(Duration::from_millis(200)),
            reclaim_every: (lease / 2).max(Duration::from_millis(500)),
            max_attempts: 3,
        }
    }
}

#[derive(Debug, Deserialize)]
struct JobMessage {
    job_id: String,
    tenant: String,
}

pub struct Worker {
    ports: Ports,
    data_dir: PathBuf,
    config: WorkerConfig,
    /// Unique per process: the bus consumer name and the Db lease holder.
    name: String,
}

impl Worker {
    pub fn new(ports: Ports, data_dir: PathBuf, config: WorkerConfig) -> Self {
        Worker {
            ports,
            data_dir,
            config,
            name: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Claims and runs jobs until `stop` turns true. Bus errors are retried with backoff (a
    /// broker restart must not end the worker).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let bus = self.ports.bus.clone();
        let mut backoff = Duration::from_millis(200);
        loop {
            match bus.ensure_group(JOBS_STREAM, WORKERS_GROUP).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create the worker group; retrying");
                    if sleep_or_stop(&mut stop, backoff).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::info!(worker = %self.name, "worker started");
        // At start, anything left pending by a dead worker (this process before a restart) is
        // taken over as soon as its lease can have run out.
        let mut last_reclaim: Option<tokio::time::Instant> = None;
        while !*stop.borrow() {
            let due = last_reclaim.is_none_or(|t| t.elapsed() >= self.config.reclaim_every);
            let result = if due {
                last_reclaim = Some(tokio::time::Instant::now());
                bus.reclaim_idle(JOBS_STREAM, WORKERS_GROUP, &self.name, self.config.lease, 8)
                    .await
            } else {
                Ok(Vec::new())
            };
            let deliveries = match result {
                Ok(d) if !d.is_empty() => Ok(d),
                Ok(_) => {
                    bus.claim(JOBS_STREAM, WORKERS_GROUP, &self.name, 1, CLAIM_BLOCK)
                        .await
                }
                Err(e) => Err(e),
            };
            match deliveries {
                Ok(deliveries) => {
                    backoff = Duration::from_millis(200);
                    for d in deliveries {
                        if let Err(e) = self.handle(&d).await {
                            // Left unacked: reclaimed and retried after the lease.
                            tracing::error!(message = %d.id, error = %e, "job handling failed");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    if sleep_or_stop(&mut stop, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::info!(worker = %self.name, "worker stopped");
        Ok(())
    }

    async fn handle(&self, delivery: &Delivery) -> anyhow::Result<()> {
        let bus = &self.ports.bus;
        let db = &self.ports.db;
        let msg: JobMessage = match serde_json::from_slice(&delivery.payload) {
            Ok(m) => m,
            Err(e) => {
                bus.dead_letter(
                    JOBS_STREAM,
                    WORKERS_GROUP,
                    delivery,
                    &format!("not a job message: {e}"),
                )
                .await?;
                return Ok(());
            }
        };
        let Some(job) = db.get_job(&msg.tenant, &msg.job_id).await? else {
            bus.dead_letter(JOBS_STREAM, WORKERS_GROUP, delivery, "no such job")
                .await?;
            return Ok(());
        };
        match job.status {
            // Finished by an earlier delivery whose ack was lost: publish its event again
            // (consumers dedupe on the idempotency key) and drop the message.
            JobStatus::Completed | JobStatus::Failed => {
                self.publish_event(&job).await?;
                bus.ack(JOBS_STREAM, WORKERS_GROUP, delivery).await?;
                return Ok(());
            }
            JobStatus::Queued | JobStatus::Running => {}
        }
        if job.attempts >= self.config.max_attempts {
            let error = job
                .error
                .clone()
                .unwrap_or_else(|| "worker died while scanning".to_owned());
            return self.give_up(&job, delivery, &error, job.attempts).await;
        }

        let mut attempts = job.attempts;
        let mut delay = Duration::from_secs(1);
        loop {
            let lease_until = OffsetDateTime::now_utc() + self.config.lease;
            if !db
                .mark_running(&job.tenant, &job.id, &self.name, lease_until)
                .await?
            {
                // Another live worker holds the lease: leave the message to be reclaimed.
                tracing::info!(job_id = %job.id, "job is held by another worker");
                return Ok(());
            }
            attempts += 1;
            tracing::info!(job_id = %job.id, tenant = %job.tenant, attempt = attempts, "scan started");
            let heartbeat = self.spawn_heartbeat(&job);
            let result = self.execute(&job).await;
            heartbeat.abort();
            match result {
                Ok(summary) => {
                    if db
                        .complete_job(&job.tenant, &job.id, &self.name, &summary)
                        .await?
                    {
                        tracing::info!(job_id = %job.id, "scan completed");
                    }
                    bus.ack(JOBS_STREAM, WORKERS_GROUP, delivery).await?;
                    if let Some(done) = db.get_job(&job.tenant, &job.id).await? {
                        self.publish_event(&done).await?;
                    }
                    return Ok(());
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    tracing::warn!(job_id = %job.id, attempt = attempts, error = %error, "scan failed");
                    if attempts >= self.config.max_attempts {
                        return self.give_up(&job, delivery, &error, attempts).await;
                    }
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    /// Fails the job, dead-letters its message and tells the world.
    async fn give_up(
        &self,
        job: &Job,
        delivery: &Delivery,
        error: &str,
        attempts: i32,
    ) -> anyhow::Result<()> {
        let db = &self.ports.db;
        db.fail_job(&job.tenant, &job.id, error, attempts).await?;
        self.ports
            .bus
            .dead_letter(JOBS_STREAM, WORKERS_GROUP, delivery, error)
            .await?;
        if let Some(failed) = db.get_job(&job.tenant, &job.id).await? {
            self.publish_event(&failed).await?;
        }
        tracing::warn!(job_id = %job.id, attempts, "job dead-lettered");
        Ok(())
    }

    fn spawn_heartbeat(&self, job: &Job) -> tokio::task::JoinHandle<()> {
        let db = self.ports.db.clone();
        let (tenant, id, worker) = (job.tenant.clone(), job.id.clone(), self.name.clone());
        let (every, lease) = (self.config.heartbeat_every, self.config.lease);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let lease_until = OffsetDateTime::now_utc() + lease;
                match db.heartbeat(&tenant, &id, &worker, lease_until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job_id = %id, "lease lost");
                        return;
                    }
                    Err(e) => tracing::warn!(job_id = %id, error = %e, "heartbeat failed"),
                }
            }
        })
    }

    /// Runs the scan pipeline and stores its artifacts; returns the job summary.
    ///
    /// Artifacts, under `artifacts/{job}/`: `sbom.spdx.json` and `sbom.cdx.json` (both
    /// formats, so `GET …/sbom?format=` answers either), and `result.json`, the scan result
    /// (`stella.scan-result/v1`: timestamp, inventory, findings) from which `stella scan
    /// --server` renders every output exactly as a local scan would.
    async fn execute(&self, job: &Job) -> anyhow::Result<Value> {
        let target = job.image.clone();
        let data_dir = self.data_dir.clone();
        let built = tokio::task::spawn_blocking(move || scan_and_encode(&target, &data_dir))
            .await??;
        let ports = &self.ports;
        for (format, ext, bytes) in [
            ("spdx", "spdx.json", built.spdx),
            ("cyclonedx", "cdx.json", built.cyclonedx),
        ] {
            let key = format!("artifacts/{}/sbom.{ext}", job.id);
            let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
            ports.blobs.put(&key, Bytes::from(bytes)).await?;
            ports
                .db
                .put_sbom_document(&job.tenant, &job.id, format, &key, &digest)
                .await?;
        }
        ports
            .blobs
            .put(&result_key(&job.id), Bytes::from(built.result))
            .await?;
        ports
            .db
            .put_packages(&job.tenant, &job.id, &built.packages)
            .await?;
        ports
            .db
            .put_findings(&job.tenant, &job.id, &built.findings)
            .await?;
        Ok(built.summary)
    }

    /// Publishes `scan.completed` or `scan.failed` for a finished job.
    async fn publish_event(&self, job: &Job) -> anyhow::Result<()> {
        let kind = match job.status {
            JobStatus::Completed => "scan.completed",
            JobStatus::Failed => "scan.failed",
            _ => return Ok(()),
        };
        let summary = job.summary.clone().unwrap_or(Value::Null);
        let mut payload = json!({
            "scan_id": job.id,
            "image_digest": summary.get("image_digest").cloned().unwrap_or(Value::Null),
            "findings": summary.get("findings").cloned().unwrap_or_else(|| json!({})),
        });
        if let Some(error) = &job.error {
            payload["error"] = json!(error);
        }
        let occurred = job.finished_at.unwrap_or_else(OffsetDateTime::now_utc);
        let event = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "kind": kind,
            "version": 1,
            "tenant": job.tenant,
            "occurred_at": occurred
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "idempotency_key": job.id,
            "payload": payload,
        });
        self.ports
            .bus
            .publish(EVENTS_STREAM, event.to_string().as_bytes())
            .await?;
        Ok(())
    }
}

/// Sleeps for `d` unless `stop` turns true first; returns whether to stop.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// The blob key of a job's scan result (`stella.scan-result/v1`).
pub fn result_key(job_id: &str) -> String {
    format!("artifacts/{job_id}/result.json")
}

/// The schema version of `result.json`.
pub const RESULT_SCHEMA: &str = "stella.scan-result/v1";

struct Built {
    spdx: Vec<u8>,
    cyclonedx: Vec<u8>,
    result: Vec<u8>,
    packages: Vec<PackageRow>,
    findings: Vec<FindingRow>,
    summary: Value,
}

/// The blocking part of a job: the same pipeline as `stella scan`.
fn scan_and_encode(target: &str, data_dir: &std::path::Path) -> anyhow::Result<Built> {
    let cache =
        stella_store::LayerCache::open(&stella_store::DataDir::at(data_dir).layer_cache_dir())
            .map(Arc::new)
            .map_err(|e| tracing::warn!("scanning without the layer cache: {e}"))
            .ok();
    let opts = stella_scanner::ScanOptions {
        cache,
        ..Default::default()
    };
    let outcome = stella_scanner::scan(target, &opts, &stella_scanner::NoProgress)?;
    let inv = &outcome.inventory;
    let findings = match_advisories(data_dir, inv)?;
    let encode = stella_sbom::EncodeOptions {
        timestamp: outcome.timestamp.clone(),
        tool_name: "stella".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
    };
    let spdx = stella_sbom::spdx_json(inv, &encode)?;
    let cyclonedx = stella_sbom::cyclonedx_json_with_findings(inv, findings.as_ref(), &encode)?;
    let result = serde_json::to_vec(&json!({
        "schemaVersion": RESULT_SCHEMA,
        "timestamp": outcome.timestamp,
        "inventory": inv,
        "findings": findings,
    }))?;
    let packages = inv
        .packages
        .iter()
        .map(|p| PackageRow {
            purl: p.purl.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            payload: serde_json::to_value(p).unwrap_or(Value::Null),
        })
        .collect();
    let mut by_severity: BTreeMap<&'static str, u64> = BTreeMap::new();
    let finding_rows = findings
        .as_ref()
        .map(|f| {
            f.findings
                .iter()
                .map(|x| {
                    *by_severity.entry(x.severity.as_str()).or_default() += 1;
                    FindingRow {
                        advisory_id: x.vulnerability.clone(),
                        purl: x.package.purl.clone(),
                        severity: x.severity.as_str().to_owned(),
                        payload: serde_json::to_value(x).unwrap_or(Value::Null),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let image_digest = inv
        .image
        .manifest_digest
        .as_ref()
        .or(inv.image.config_digest.as_ref())
        .map(|d| d.to_string());
    let summary = json!({
        "image_digest": image_digest,
        "packages": inv.packages.len(),
        "findings": by_severity,
        "advisory_snapshot": findings.as_ref().map(|f| f.snapshot.clone()),
        "layers": outcome.stats.layers,
        "layers_from_cache": outcome.stats.layers_from_cache,
    });
    Ok(Built {
        spdx,
        cyclonedx,
        result,
        packages,
        findings: finding_rows,
        summary,
    })
}

/// Matches against the current advisory snapshot of the data directory's store, as `stella scan`
/// does; `None` when no feed was ever synced.
fn match_advisories(
    data_dir: &std::path::Path,
    inv: &Inventory,
) -> anyhow::Result<Option<ScanFindings>> {
    if !data_dir.join("advisories.sqlite").is_file() {
        return Ok(None);
    }
    let store = stella_store::SqliteAdvisoryStore::open(data_dir)?;
    let Some(index) = stella_concelier::load_index(&store)? else {
        return Ok(None);
    };
    let opts = stella_match::MatchOptions::default();
    Ok(Some(stella_match::match_inventory(&index, inv, &opts)))
}
