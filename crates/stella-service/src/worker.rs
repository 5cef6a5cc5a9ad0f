//! The scanner worker: `scanner:jobs` deliveries in, SBOMs, findings and `scanner:events` out.
//!
//! A delivery is acknowledged only once its job is finished in the Db (completed, or failed and
//! dead-lettered), so a worker that dies mid-scan leaves the message pending; another worker
//! (or this one after a restart) takes it over with `reclaim_idle` once the lease has run out,
//! and the Db's lease check keeps two workers from running the same job at once.
//!
//! The Db is the truth, the bus only a hint: a sweeper publishes again every job the Db still
//! has `queued` after [`WorkerConfig::stale_after`] (or `running` under a lease that long
//! expired), so an acknowledged job runs even when the broker lost its message (a Redis restart
//! without persistence, a publish that failed after the insert). Duplicate messages are
//! harmless: the Db's conditional updates let one worker complete a job, and a job's event goes
//! out once, recorded with [`Db::mark_event_published`](stella_store::db::Db) (a second copy
//! only when two deliveries of a finished job race in two workers, or a worker dies between
//! the two steps; consumers drop it by its idempotency key). An event never goes out before the
//! finished job is on disk.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;
use stella_model::{Inventory, ScanFindings};
use stella_store::bus::Delivery;
use stella_store::db::{Durable, FindingRow, Job, JobStatus, PackageRow};
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
    /// How often the Db is swept for jobs the bus may have lost.
    pub sweep_every: Duration,
    /// How long a job may stay `queued` (or `running` past its lease) before the sweeper
    /// publishes it again. Longer than a normal wait in the queue keeps duplicates rare.
    pub stale_after: Duration,
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
            sweep_every: lease.max(Duration::from_secs(1)),
            stale_after: (lease * 2).max(Duration::from_secs(2)),
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
    /// The advisory index of the last snapshot matched against, kept across jobs: loading it
    /// reads every live record (0.8 s on a full store), and it only changes with a sync.
    index: IndexCache,
    /// The job watch of a scanner-web in this same process, told of a finished job directly.
    local_watch: Option<crate::watch::JobWatch>,
    /// Jobs this worker completed whose last steps ([`Worker::finish`]) are still running.
    finishing: std::sync::Mutex<HashSet<(String, String)>>,
}

/// The last loaded advisory index, replaced when the store's current snapshot changes.
type IndexCache = Arc<std::sync::Mutex<Option<Arc<stella_match::AdvisoryIndex>>>>;

impl Worker {
    pub fn new(ports: Ports, data_dir: PathBuf, config: WorkerConfig) -> Self {
        Worker {
            ports,
            data_dir,
            config,
            name: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            index: IndexCache::default(),
            local_watch: None,
            finishing: Default::default(),
        }
    }

    /// Tells `watch` (the scanner-web of this process) of every job this worker finishes, so
    /// a long poll here answers without waiting for the event to come back from the bus.
    pub fn with_local_watch(mut self, watch: crate::watch::JobWatch) -> Self {
        self.local_watch = Some(watch);
        self
    }

    /// Claims and runs jobs until `stop` turns true. Bus errors are retried with backoff (a
    /// broker restart must not end the worker). A completed job's last steps (its disk sync,
    /// its event, the ack) run beside the claim of the next job, and are waited for before
    /// this returns.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let worker = Arc::new(self);
        let mut finishing = tokio::task::JoinSet::new();
        worker.run_until(&mut stop, &mut finishing).await;
        while let Some(finished) = finishing.join_next().await {
            report_finish(finished);
        }
        tracing::info!(worker = %worker.name, "worker stopped");
        Ok(())
    }

    async fn run_until(
        self: &Arc<Self>,
        stop: &mut watch::Receiver<bool>,
        finishing: &mut tokio::task::JoinSet<()>,
    ) {
        let bus = self.ports.bus.clone();
        let mut backoff = Duration::from_millis(200);
        loop {
            match bus.ensure_group(JOBS_STREAM, WORKERS_GROUP).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create the worker group; retrying");
                    if sleep_or_stop(stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::info!(worker = %self.name, "worker started");
        // At start, anything left pending by a dead worker (this process before a restart) is
        // taken over as soon as its lease can have run out.
        let mut last_reclaim: Option<tokio::time::Instant> = None;
        let mut last_sweep = tokio::time::Instant::now();
        while !*stop.borrow() {
            if last_sweep.elapsed() >= self.config.sweep_every {
                last_sweep = tokio::time::Instant::now();
                // A failed sweep (Db or bus down) is retried at the next one.
                if let Err(e) = self.sweep().await {
                    tracing::warn!(error = %e, "sweeping stale jobs failed");
                }
            }
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
                        match self.handle(&d).await {
                            Ok(Some(rest)) => {
                                let worker = Arc::clone(self);
                                finishing.spawn(async move { worker.finish(rest).await });
                            }
                            Ok(None) => {}
                            // Left unacked: reclaimed and retried after the lease.
                            Err(e) => {
                                tracing::error!(message = %d.id, error = %e, "job handling failed")
                            }
                        }
                    }
                    while let Some(finished) = finishing.try_join_next() {
                        report_finish(finished);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    if sleep_or_stop(stop, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Publishes again the jobs the Db says are waiting for longer than they should.
    async fn sweep(&self) -> anyhow::Result<()> {
        let before = OffsetDateTime::now_utc() - self.config.stale_after;
        let stale = self.ports.db.list_stale_jobs(before, 100).await?;
        for job in &stale {
            let message = json!({"job_id": job.id, "tenant": job.tenant});
            self.ports
                .bus
                .publish(JOBS_STREAM, message.to_string().as_bytes())
                .await?;
            tracing::info!(job_id = %job.id, status = job.status.as_str(), "stale job published again");
        }
        Ok(())
    }

    /// Runs the job of one delivery; what is left to do once it is completed (and long polls in
    /// this process were told), or `None` when the delivery was settled here.
    async fn handle(&self, delivery: &Delivery) -> anyhow::Result<Option<Finishing>> {
        let bus = &self.ports.bus;
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
                return Ok(None);
            }
        };
        // The usual case in one statement: the job is queued, this worker takes it and reads
        // it at once. Anything else is sorted out by `not_started`.
        let Some(mut job) = self.start(&msg.tenant, &msg.job_id).await? else {
            self.not_started(&msg, delivery).await?;
            return Ok(None);
        };
        let mut delay = Duration::from_secs(1);
        loop {
            tracing::info!(job_id = %job.id, tenant = %job.tenant, attempt = job.attempts, "scan started");
            let heartbeat = self.spawn_heartbeat(&job, delivery);
            let scanned = self.scan(&job).await;
            let finished = match &scanned {
                Ok(built) => Some(self.store_and_complete(&job, built).await),
                Err(_) => None,
            };
            heartbeat.abort();
            match (scanned, finished) {
                (Ok(built), Some(Ok(completed))) => {
                    let (done, durable) = completed;
                    let Some(done) = done else {
                        // Not completed by this call: another worker took the job over, or a
                        // retry found its own earlier completion. Settle the message by what
                        // the Db says (publishing the event if nobody has, once the Db is on
                        // disk).
                        drop(durable);
                        self.not_started(&msg, delivery).await?;
                        return Ok(None);
                    };
                    tracing::info!(job_id = %job.id, "scan completed");
                    // Long polls in this process may hear of it while the commit goes to
                    // disk (they answer with the row the Db returned); the world beyond only
                    // after, in `finish`.
                    self.tell_local_watch(&done);
                    // Freeing the scan's documents and values (megabytes) takes about a
                    // millisecond: not on this thread, which the long polls just woken and the
                    // client's next request are waiting for.
                    tokio::task::spawn_blocking(move || drop(built));
                    // And the long polls answer before this thread claims the next job (the
                    // embedded bus claims on the caller's thread).
                    tokio::task::yield_now().await;
                    self.finishing_jobs()
                        .insert((done.tenant.clone(), done.id.clone()));
                    return Ok(Some(Finishing {
                        job: done,
                        durable,
                        delivery: delivery.clone(),
                    }));
                }
                // The scan worked but the Db or the blob store stayed down: not the job's
                // fault, so not a failed attempt. Left unacked, it is reclaimed after the lease.
                (Ok(_), Some(Err(e))) => return Err(e),
                (Ok(_), None) => unreachable!("a successful scan is always stored"),
                (Err(e), _) => {
                    let error = format!("{e:#}");
                    tracing::warn!(job_id = %job.id, attempt = job.attempts, error = %error, "scan failed");
                    if job.attempts >= self.config.max_attempts {
                        self.give_up(&job, delivery, &error, job.attempts).await?;
                        return Ok(None);
                    }
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    match self.start(&job.tenant, &job.id).await? {
                        Some(again) => job = again,
                        // Another worker took it over while this one waited.
                        None => {
                            self.not_started(&msg, delivery).await?;
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// The last steps of a job this worker completed: once the completion is on disk, its
    /// event, then the ack. The event goes out before the ack: a worker dying in between leaves
    /// the message pending, and its next delivery publishes what is still missing. A failure
    /// is logged here: the message stays pending, and is reclaimed after the lease and settled
    /// then (the event published if it still is not).
    async fn finish(&self, rest: Finishing) {
        let done = async {
            rest.durable.wait().await?;
            self.publish_event_once(&rest.job).await?;
            self.ports
                .bus
                .ack(JOBS_STREAM, WORKERS_GROUP, &rest.delivery)
                .await?;
            anyhow::Ok(())
        }
        .await;
        self.finishing_jobs()
            .remove(&(rest.job.tenant.clone(), rest.job.id.clone()));
        if let Err(e) = done {
            tracing::error!(job_id = %rest.job.id, error = %format!("{e:#}"), "finishing a completed job failed");
        }
    }

    /// The `(tenant, job)` pairs whose [`Worker::finish`] is under way.
    fn finishing_jobs(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.finishing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the job under a fresh lease, counting an attempt; `None` when it cannot be taken.
    async fn start(&self, tenant: &str, id: &str) -> anyhow::Result<Option<Job>> {
        let lease_until = OffsetDateTime::now_utc() + self.config.lease;
        Ok(self
            .ports
            .db
            .start_job(
                tenant,
                id,
                &self.name,
                lease_until,
                self.config.max_attempts,
            )
            .await?)
    }

    /// A delivery whose job could not be taken: reads the job to tell why, and settles the
    /// message accordingly.
    async fn not_started(&self, msg: &JobMessage, delivery: &Delivery) -> anyhow::Result<()> {
        let bus = &self.ports.bus;
        let Some(job) = self.ports.db.get_job(&msg.tenant, &msg.job_id).await? else {
            bus.dead_letter(JOBS_STREAM, WORKERS_GROUP, delivery, "no such job")
                .await?;
            return Ok(());
        };
        match job.status {
            // Finished by an earlier delivery (whose worker died before the ack, or a duplicate
            // from the sweeper): publish its event only if that never happened, and drop the
            // message.
            JobStatus::Completed | JobStatus::Failed => {
                // This worker's own `finish` of the job is under way and publishes the event:
                // this copy of the message only goes.
                let finishing = self
                    .finishing_jobs()
                    .contains(&(job.tenant.clone(), job.id.clone()));
                if !job.event_published && !finishing {
                    // The row may be a commit that is not on disk yet (a completion is visible
                    // before its sync): the event waits for the disk as `finish`'s does.
                    self.ports.db.flush().await?;
                    self.publish_event_once(&job).await?;
                }
                bus.ack(JOBS_STREAM, WORKERS_GROUP, delivery).await?;
                Ok(())
            }
            JobStatus::Running
                if job.worker.as_deref() != Some(self.name.as_str())
                    && job
                        .lease_until
                        .is_some_and(|t| t > OffsetDateTime::now_utc()) =>
            {
                // Another live worker holds the lease: leave the message to be reclaimed.
                tracing::info!(job_id = %job.id, "job is held by another worker");
                Ok(())
            }
            JobStatus::Queued | JobStatus::Running if job.attempts >= self.config.max_attempts => {
                let error = job
                    .error
                    .clone()
                    .unwrap_or_else(|| "worker died while scanning".to_owned());
                self.give_up(&job, delivery, &error, job.attempts).await
            }
            // The job changed between the two statements (a lease ran out just now): the
            // message stays pending and is reclaimed, or the sweeper publishes the job again.
            JobStatus::Queued | JobStatus::Running => {
                tracing::info!(job_id = %job.id, status = job.status.as_str(), "job not taken; left for a later delivery");
                Ok(())
            }
        }
    }

    /// Wakes this process's long polls on the job at once, before its event goes round the
    /// bus (the event still follows, for every other process).
    fn tell_local_watch(&self, job: &Job) {
        if let Some(watch) = &self.local_watch {
            watch.notify_finished(job);
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
        // As for completions: the event before the message leaves the stream.
        if let Some(failed) = db.get_job(&job.tenant, &job.id).await?
            && !failed.event_published
        {
            self.tell_local_watch(&failed);
            self.publish_event_once(&failed).await?;
        }
        self.ports
            .bus
            .dead_letter(JOBS_STREAM, WORKERS_GROUP, delivery, error)
            .await?;
        tracing::warn!(job_id = %job.id, attempts, "job dead-lettered");
        Ok(())
    }

    /// Renews the job's Db lease and keeps its delivery alive on the bus every
    /// `heartbeat_every`, so neither another worker (through the Db) nor the bus (through
    /// redelivery or reclaim) hands a long scan to a second worker while this one lives.
    fn spawn_heartbeat(&self, job: &Job, delivery: &Delivery) -> tokio::task::JoinHandle<()> {
        let (db, bus) = (self.ports.db.clone(), self.ports.bus.clone());
        let (tenant, id, worker) = (job.tenant.clone(), job.id.clone(), self.name.clone());
        let delivery = delivery.clone();
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
                if let Err(e) = bus
                    .keep_alive(JOBS_STREAM, WORKERS_GROUP, &worker, &delivery)
                    .await
                {
                    tracing::warn!(job_id = %id, error = %e, "bus keep-alive failed");
                }
            }
        })
    }

    /// Runs the scan pipeline: a failure here is the job's (a missing image, a corrupt
    /// layer) and counts as an attempt.
    async fn scan(&self, job: &Job) -> anyhow::Result<Built> {
        let target = job.image.clone();
        let data_dir = self.data_dir.clone();
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || scan_and_encode(&target, &data_dir, &index)).await?
    }

    /// Stores the scan's artifacts and completes the job, retrying with backoff while a
    /// backend is down (a PostgreSQL or S3 restart must not fail good jobs), for up to ten
    /// leases. The completed job when this call completed it (`None` when another worker
    /// holds it), and the sync to wait for before the completion is told beyond this process.
    async fn store_and_complete(
        &self,
        job: &Job,
        built: &Built,
    ) -> anyhow::Result<(Option<Job>, Durable)> {
        let budget = (self.config.lease * 10).max(Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(200);
        loop {
            let result = async {
                self.store(job, built).await?;
                let done = self
                    .ports
                    .db
                    .complete_job_visible(&job.tenant, &job.id, &self.name, &built.summary)
                    .await?;
                anyhow::Ok(done)
            }
            .await;
            match result {
                Ok(done) => return Ok(done),
                Err(e) if started.elapsed() < budget => {
                    tracing::warn!(job_id = %job.id, error = %format!("{e:#}"), "storing the scan failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stores a scan's artifacts, under `artifacts/{job}/`: `sbom.spdx.json` and
    /// `sbom.cdx.json` (both formats, so `GET …/sbom?format=` answers either), and
    /// `result.json`, the scan result (`stella.scan-result/v1`: timestamp, inventory, findings)
    /// from which `stella scan --server` renders every output exactly as a local scan would.
    /// Every write replaces: storing twice is harmless.
    async fn store(&self, job: &Job, built: &Built) -> anyhow::Result<()> {
        let ports = &self.ports;
        for (format, ext, bytes) in [
            ("spdx", "spdx.json", &built.spdx),
            ("cyclonedx", "cdx.json", &built.cyclonedx),
        ] {
            let key = format!("artifacts/{}/sbom.{ext}", job.id);
            let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
            ports.blobs.put(&key, bytes.clone()).await?;
            ports
                .db
                .put_sbom_document(&job.tenant, &job.id, format, &key, &digest)
                .await?;
        }
        ports
            .blobs
            .put(&result_key(&job.id), built.result.clone())
            .await?;
        ports
            .db
            .put_packages(&job.tenant, &job.id, &built.packages)
            .await?;
        ports
            .db
            .put_findings(&job.tenant, &job.id, &built.findings)
            .await?;
        Ok(())
    }

    /// Publishes the finished job's event and records that it did. Only a worker dying between
    /// the two (or the Db failing the record) leads to a second copy later; consumers drop it
    /// by its idempotency key, the job id.
    async fn publish_event_once(&self, job: &Job) -> anyhow::Result<()> {
        self.publish_event(job).await?;
        self.ports
            .db
            .mark_event_published(&job.tenant, &job.id)
            .await?;
        Ok(())
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

/// What is left of a job this worker completed: see [`Worker::finish`].
struct Finishing {
    job: Job,
    durable: Durable,
    delivery: Delivery,
}

/// Logs a [`Worker::finish`] task that panicked (one that failed logged it itself).
fn report_finish(finished: Result<(), tokio::task::JoinError>) {
    if let Err(e) = finished {
        tracing::error!(error = %e, "finishing a completed job panicked");
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
    spdx: Bytes,
    cyclonedx: Bytes,
    result: Bytes,
    packages: Vec<PackageRow>,
    findings: Vec<FindingRow>,
    summary: Value,
}

/// The blocking part of a job: the same pipeline as `stella scan`.
fn scan_and_encode(
    target: &str,
    data_dir: &std::path::Path,
    index: &IndexCache,
) -> anyhow::Result<Built> {
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
    let findings = match_advisories(data_dir, inv, index)?;
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
        spdx: Bytes::from(spdx),
        cyclonedx: Bytes::from(cyclonedx),
        result: Bytes::from(result),
        packages,
        findings: finding_rows,
        summary,
    })
}

/// Matches against the current advisory snapshot of the data directory's store, as `stella scan`
/// does; `None` when no feed was ever synced. The index is reused while the snapshot id is
/// unchanged (the id is a digest of the live set, so an equal id means equal advisories).
fn match_advisories(
    data_dir: &std::path::Path,
    inv: &Inventory,
    cache: &IndexCache,
) -> anyhow::Result<Option<ScanFindings>> {
    use stella_store::AdvisoryStore as _;
    if !data_dir.join("advisories.sqlite").is_file() {
        return Ok(None);
    }
    let store = stella_store::SqliteAdvisoryStore::open(data_dir)?;
    let Some(current) = store.current_snapshot()?.map(|s| s.id) else {
        return Ok(None);
    };
    let cached = cache
        .lock()
        .map_err(|_| anyhow::anyhow!("advisory index cache poisoned"))?
        .clone()
        .filter(|index| index.snapshot() == current);
    let index = match cached {
        Some(index) => index,
        None => {
            let Some(loaded) = stella_concelier::load_index(&store)? else {
                return Ok(None);
            };
            let loaded = Arc::new(loaded);
            *cache
                .lock()
                .map_err(|_| anyhow::anyhow!("advisory index cache poisoned"))? =
                Some(loaded.clone());
            loaded
        }
    };
    let opts = stella_match::MatchOptions::default();
    Ok(Some(stella_match::match_inventory(&index, inv, &opts)))
}
