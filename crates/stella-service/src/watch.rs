//! Hearing that a job finished, for `GET /api/v1/scans/{id}?wait=SECONDS`.
//!
//! The workers publish `scan.completed` / `scan.failed` on `scanner:events`; every scanner-web
//! process follows that stream with [`Bus::tail`] (outside the consumer groups, so it takes
//! nothing from the real consumers) and wakes the requests waiting on that job. The event only
//! says "look again": a waiting request re-reads the job from the Db, which stays the source of
//! truth, and also re-reads it every [`RECHECK`] in case a tail missed an event across a
//! reconnect. A worker in the same process hands over the finished row itself, as the Db
//! returned it from the statement that finished the job ([`JobWatch::notify_finished`]), and
//! the waiting request answers with that row. A client that long-polls sees a finished scan
//! within a millisecond or so instead of a poll interval later, and sends one request instead
//! of many.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use stella_store::bus::Bus;
use stella_store::db::{Job, JobStatus};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::EVENTS_STREAM;

/// How often a waiting request re-reads its job without an event.
pub const RECHECK: Duration = Duration::from_secs(1);

/// Finished-job notices of one process, broadcast to every waiting request.
#[derive(Clone)]
pub struct JobWatch {
    finished: broadcast::Sender<Arc<Finished>>,
    recheck: Duration,
}

/// One job finished: which, and its row when the notice comes from the worker that finished
/// it (an event from the bus only names the job).
struct Finished {
    tenant: String,
    id: String,
    job: Option<Job>,
}

/// The part of the event envelope a watch reads.
#[derive(Deserialize)]
struct Event {
    tenant: String,
    payload: EventPayload,
}

#[derive(Deserialize)]
struct EventPayload {
    scan_id: String,
}

impl JobWatch {
    /// A watch fed by a background task that follows `scanner:events` on `bus` for as long as
    /// the runtime lives, re-opening the tail when it fails.
    pub fn start(bus: Arc<dyn Bus>) -> JobWatch {
        Self::start_with_recheck(bus, RECHECK)
    }

    fn start_with_recheck(bus: Arc<dyn Bus>, recheck: Duration) -> JobWatch {
        let (finished, _) = broadcast::channel(1024);
        let watch = JobWatch { finished, recheck };
        let tx = watch.finished.clone();
        tokio::spawn(async move {
            loop {
                match bus.tail(EVENTS_STREAM).await {
                    Ok(mut tail) => {
                        while let Some(message) = tail.next().await {
                            // Other kinds or versions of events are not this watch's business.
                            if let Ok(e) = serde_json::from_slice::<Event>(&message) {
                                let _ = tx.send(Arc::new(Finished {
                                    tenant: e.tenant,
                                    id: e.payload.scan_id,
                                    job: None,
                                }));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "following scan events failed; retrying"),
                }
                tokio::time::sleep(RECHECK).await;
            }
        });
        watch
    }

    /// Wakes the requests waiting on `job`, as its event would, and hands them the row: for a
    /// worker in this process, which has the finished row (as the Db returned it from the
    /// statement that finished the job) before the event has gone round the bus. The waiting
    /// requests answer with it, without reading the Db again.
    pub fn notify_finished(&self, job: &Job) {
        let _ = self.finished.send(Arc::new(Finished {
            tenant: job.tenant.clone(),
            id: job.id.clone(),
            job: Some(job.clone()),
        }));
    }

    /// Reads the job with `load` until it is finished or `wait` has passed, waking on its
    /// finished event; `None` when `load` finds no such job. Subscribes before the first read,
    /// so an event between the read and the wait is not missed. A notice that hands over the
    /// finished row ([`Self::notify_finished`]) is the answer, with no read after it.
    pub async fn wait_finished<F, Fut, E>(
        &self,
        tenant: &str,
        id: &str,
        wait: Duration,
        mut load: F,
    ) -> Result<Option<Job>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Job>, E>>,
    {
        let is_finished =
            |job: &Job| matches!(job.status, JobStatus::Completed | JobStatus::Failed);
        let mut events = self.finished.subscribe();
        let deadline = Instant::now() + wait;
        let mut handed_over: Option<Job> = None;
        loop {
            let job = match handed_over.take() {
                Some(job) => job,
                None => match load().await? {
                    Some(job) => job,
                    None => return Ok(None),
                },
            };
            if is_finished(&job) || Instant::now() >= deadline {
                return Ok(Some(job));
            }
            let recheck = deadline.min(Instant::now() + self.recheck);
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(e) if e.tenant == tenant && e.id == id => {
                            handed_over = e.job.clone().filter(is_finished);
                            break;
                        }
                        Ok(_) => continue,
                        // Too far behind to know: read the job again.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            tokio::time::sleep_until(recheck).await;
                            break;
                        }
                    },
                    _ = tokio::time::sleep_until(recheck) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use stella_store::bus::EmbeddedBus;
    use stella_store::db::Job;
    use time::OffsetDateTime;

    fn job(id: &str, status: JobStatus) -> Job {
        Job {
            id: id.into(),
            tenant: "acme".into(),
            image: "docker://x".into(),
            sbom_format: "spdx".into(),
            status,
            idempotency_key: None,
            worker: None,
            lease_until: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
            attempts: 0,
            error: None,
            summary: None,
            event_published: false,
        }
    }

    fn event(tenant: &str, id: &str) -> Vec<u8> {
        serde_json::json!({"kind": "scan.completed", "version": 1, "tenant": tenant,
            "payload": {"scan_id": id}})
        .to_string()
        .into_bytes()
    }

    /// A watch whose timer re-check never comes within the test, so only events can wake it.
    async fn watch() -> (tempfile::TempDir, Arc<dyn Bus>, JobWatch) {
        let dir = tempfile::tempdir().unwrap();
        let bus: Arc<dyn Bus> = Arc::new(
            EmbeddedBus::open(&dir.path().join("bus.sqlite"))
                .await
                .unwrap(),
        );
        let watch = JobWatch::start_with_recheck(bus.clone(), Duration::from_secs(3600));
        // Let the follower open its tail before anything is published.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (dir, bus, watch)
    }

    #[tokio::test]
    async fn the_jobs_event_ends_the_wait_and_others_do_not() {
        let (_dir, bus, watch) = watch().await;
        let done = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (bus, done) = (bus.clone(), done.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                // Events for another job, and for the same id in another tenant, wake nothing.
                bus.publish(EVENTS_STREAM, &event("acme", "scan-other"))
                    .await
                    .unwrap();
                bus.publish(EVENTS_STREAM, &event("globex", "scan-1"))
                    .await
                    .unwrap();
                bus.publish(EVENTS_STREAM, b"not json").await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                done.store(true, Ordering::SeqCst);
                bus.publish(EVENTS_STREAM, &event("acme", "scan-1"))
                    .await
                    .unwrap();
            })
        };
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let got = watch
            .wait_finished("acme", "scan-1", Duration::from_secs(30), || {
                let (done, reads) = (done.clone(), reads.clone());
                async move {
                    reads.fetch_add(1, Ordering::SeqCst);
                    let status = if done.load(Ordering::SeqCst) {
                        JobStatus::Completed
                    } else {
                        JobStatus::Running
                    };
                    Ok::<_, std::convert::Infallible>(Some(job("scan-1", status)))
                }
            })
            .await
            .unwrap()
            .unwrap();
        publisher.await.unwrap();
        assert_eq!(got.status, JobStatus::Completed);
        // Woken by the event, long before the 30 s wait or the hour-long re-check.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        // One read before the wait, one after the event: the other events read nothing.
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_handed_over_row_is_the_answer_and_only_for_its_own_tenant() {
        let (_dir, _bus, watch) = watch().await;
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let notifier = {
            let watch = watch.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                // The same id in another tenant wakes nothing.
                let mut other = job("scan-1", JobStatus::Completed);
                other.tenant = "globex".into();
                watch.notify_finished(&other);
                tokio::time::sleep(Duration::from_millis(300)).await;
                let mut done = job("scan-1", JobStatus::Completed);
                done.summary = Some(serde_json::json!({"handed": "over"}));
                watch.notify_finished(&done);
            })
        };
        let got = watch
            .wait_finished("acme", "scan-1", Duration::from_secs(30), || {
                let reads = reads.clone();
                async move {
                    reads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(Some(job("scan-1", JobStatus::Running)))
                }
            })
            .await
            .unwrap()
            .unwrap();
        notifier.await.unwrap();
        assert_eq!(got.status, JobStatus::Completed);
        assert_eq!(got.summary, Some(serde_json::json!({"handed": "over"})));
        // The one read before the wait: the handed-over row needed none.
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_deadline_and_a_missing_job_at_once() {
        let (_dir, _bus, watch) = watch().await;
        let started = Instant::now();
        let got = watch
            .wait_finished("acme", "scan-1", Duration::from_millis(500), || async {
                Ok::<_, std::convert::Infallible>(Some(job("scan-1", JobStatus::Queued)))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.status, JobStatus::Queued);
        assert!(started.elapsed() >= Duration::from_millis(500));
        let started = Instant::now();
        let missing = watch
            .wait_finished("acme", "scan-2", Duration::from_secs(30), || async {
                Ok::<_, std::convert::Infallible>(None)
            })
            .await
            .unwrap();
        assert!(missing.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
