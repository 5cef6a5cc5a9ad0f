//! The Db port's conformance suite: every test below runs against SQLite (a temporary file)
//! and PostgreSQL (a fresh database per test, dropped at the end).

mod common;

use futures_util::FutureExt;
use serde_json::json;
use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use stella_store::db::{Db, FindingRow, JobStatus, NewJob, PackageRow, open_db};
use time::{Duration, OffsetDateTime};

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Opens a fresh database of `backend`, runs `test` with it and its URL, and removes the
/// database afterwards, also when the test panics.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<dyn Db>, String) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("stella.sqlite").display());
            let db = open_db(&url).await.expect("open sqlite");
            test(db, url).await;
        }
        Backend::Postgres => {
            let admin_url = common::service_url("STELLA_TEST_POSTGRES_URL", common::POSTGRES_URL);
            if !common::service_available("PostgreSQL", &admin_url).await {
                return;
            }
            let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(connection);
            let name = common::unique("stella_test_");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            let url = format!("{base}/{name}");
            let result = AssertUnwindSafe(async {
                let db = open_db(&url).await.expect("open postgres");
                test(db, url.clone()).await;
            })
            .catch_unwind()
            .await;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
            if let Err(panic) = result {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

fn new_job(id: &str, key: Option<&str>) -> NewJob {
    NewJob {
        id: id.to_string(),
        image: "docker://registry.example/app:1".to_string(),
        sbom_format: "spdx".to_string(),
        idempotency_key: key.map(str::to_string),
    }
}

fn lease() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::minutes(5)
}

async fn tenants(db: &dyn Db) {
    db.create_tenant("tenant-a").await.unwrap();
    db.create_tenant("tenant-b").await.unwrap();
}

async fn another_tenants_job_is_invisible(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    let job = db
        .insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert!(db.get_job("tenant-b", "scan-1").await.unwrap().is_none());
    let (page, next) = db.list_jobs("tenant-b", None, 10).await.unwrap();
    assert!(page.is_empty() && next.is_none());
    assert!(
        db.start_job("tenant-b", "scan-1", "w", lease(), 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.complete_job("tenant-b", "scan-1", "w", &json!({}))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!db.fail_job("tenant-b", "scan-1", "boom", 1).await.unwrap());
    db.put_findings("tenant-a", "scan-1", &[finding("CVE-2024-1")])
        .await
        .unwrap();
    assert!(
        db.get_findings("tenant-b", "scan-1")
            .await
            .unwrap()
            .is_empty()
    );
    // Tenant A still sees its job, untouched.
    let mine = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!(mine.status, JobStatus::Queued);
    assert_eq!(mine.attempts, 0);
}

async fn idempotency_key_returns_the_existing_job(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    let first = db
        .insert_job("tenant-a", &new_job("scan-1", Some("key-1")))
        .await
        .unwrap();
    let again = db
        .insert_job("tenant-a", &new_job("scan-2", Some("key-1")))
        .await
        .unwrap();
    assert_eq!(again.id, "scan-1");
    assert_eq!(again, first);
    assert!(db.get_job("tenant-a", "scan-2").await.unwrap().is_none());
    // Keys are per tenant: tenant B's same key is a new job.
    let other = db
        .insert_job("tenant-b", &new_job("scan-3", Some("key-1")))
        .await
        .unwrap();
    assert_eq!(other.id, "scan-3");
    // The same id without a key is refused, not silently merged.
    assert!(
        db.insert_job("tenant-a", &new_job("scan-1", None))
            .await
            .is_err()
    );
}

async fn cursor_pagination_visits_every_job_once_newest_first(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    for i in 0..23 {
        db.insert_job("tenant-a", &new_job(&format!("scan-{i:02}"), None))
            .await
            .unwrap();
    }
    db.insert_job("tenant-b", &new_job("scan-b", None))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = db
            .list_jobs("tenant-a", cursor.as_deref(), 5)
            .await
            .unwrap();
        assert!(page.len() <= 5);
        seen.extend(page);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    let ids: HashSet<_> = seen.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), 23, "a job was visited twice");
    assert!(seen.iter().all(|j| j.tenant == "tenant-a"));
    for pair in seen.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            (a.created_at, &a.id) > (b.created_at, &b.id),
            "not newest first: {} then {}",
            a.id,
            b.id
        );
    }
    assert!(
        db.list_jobs("tenant-a", Some("not a cursor"), 5)
            .await
            .is_err()
    );
}

async fn a_job_completes_exactly_once(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    assert!(
        db.complete_job("tenant-a", "scan-1", "w1", &json!({}))
            .await
            .unwrap()
            .is_none()
    );
    // start_job answers with the job as taken: the same row a read sees afterwards.
    let taken = db
        .start_job("tenant-a", "scan-1", "w1", lease(), 3)
        .await
        .unwrap()
        .expect("a queued job can be taken");
    let running = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!(taken, running);
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.worker.as_deref(), Some("w1"));
    assert_eq!(running.attempts, 1);
    assert!(running.started_at.is_some());
    let summary = json!({"findings": {"high": 2}});
    let completed = db
        .complete_job("tenant-a", "scan-1", "w1", &summary)
        .await
        .unwrap()
        .expect("the holder completes the job");
    assert_eq!(completed.status, JobStatus::Completed);
    assert_eq!(completed.summary.as_ref(), Some(&summary));
    assert!(completed.finished_at.is_some() && completed.lease_until.is_none());
    assert_eq!(
        completed,
        db.get_job("tenant-a", "scan-1").await.unwrap().unwrap()
    );
    assert!(
        db.complete_job("tenant-a", "scan-1", "w1", &summary)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!db.fail_job("tenant-a", "scan-1", "late", 2).await.unwrap());
    let done = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.summary, Some(summary));
    assert!(done.finished_at.is_some());
}

async fn a_job_out_of_attempts_is_not_started_again(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    // Two attempts by workers that died (their leases ran out), then the cap of 2 holds.
    let expired = OffsetDateTime::now_utc() - Duration::seconds(1);
    for (worker, attempt) in [("w1", 1), ("w2", 2)] {
        let job = db
            .start_job("tenant-a", "scan-1", worker, expired, 2)
            .await
            .unwrap()
            .expect("under the cap");
        assert_eq!(job.attempts, attempt);
    }
    assert!(
        db.start_job("tenant-a", "scan-1", "w3", lease(), 2)
            .await
            .unwrap()
            .is_none(),
        "two attempts made: a third is refused"
    );
    let job = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!((job.attempts, job.worker.as_deref()), (2, Some("w2")));
    // A higher cap lets it run again, and a job nobody has is never started.
    assert!(
        db.start_job("tenant-a", "scan-1", "w3", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.start_job("tenant-a", "scan-missing", "w3", lease(), 3)
            .await
            .unwrap()
            .is_none()
    );
}

/// The variants that answer before the disk sync: what they wrote is visible at once (a
/// worker can take the job while its insert is still being synced), and waiting for the sync
/// succeeds. A second completion is refused as with `complete_job`.
async fn visible_writes_are_seen_at_once_and_then_synced(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    let (job, durable) = db
        .insert_job_visible("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(
        db.get_job("tenant-a", "scan-1").await.unwrap().as_ref(),
        Some(&job)
    );
    let taken = db
        .start_job("tenant-a", "scan-1", "w1", lease(), 3)
        .await
        .unwrap();
    assert!(
        taken.is_some(),
        "taken before the insert's sync was waited for"
    );
    durable.wait().await.unwrap();
    let (done, durable) = db
        .complete_job_visible("tenant-a", "scan-1", "w1", &json!({"findings": {}}))
        .await
        .unwrap();
    let done = done.expect("the holder completes the job");
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(
        db.get_job("tenant-a", "scan-1").await.unwrap().as_ref(),
        Some(&done)
    );
    durable.wait().await.unwrap();
    let (again, durable) = db
        .complete_job_visible("tenant-a", "scan-1", "w1", &json!({}))
        .await
        .unwrap();
    assert!(again.is_none());
    durable.wait().await.unwrap();
    // The same idempotency key answers with the first job, as `insert_job` does.
    let (first, durable) = db
        .insert_job_visible("tenant-a", &new_job("scan-2", Some("key-1")))
        .await
        .unwrap();
    durable.wait().await.unwrap();
    let (replayed, durable) = db
        .insert_job_visible("tenant-a", &new_job("scan-3", Some("key-1")))
        .await
        .unwrap();
    durable.wait().await.unwrap();
    assert_eq!(replayed.id, first.id);
    db.flush().await.unwrap();
}

async fn a_dead_workers_job_is_taken_over_and_completes_once(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    let expired = OffsetDateTime::now_utc() - Duration::seconds(1);
    assert!(
        db.start_job("tenant-a", "scan-1", "w1", expired, 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.start_job("tenant-a", "scan-1", "w2", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    // The live lease of w2 keeps w3 out.
    assert!(
        db.start_job("tenant-a", "scan-1", "w3", lease(), 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.complete_job("tenant-a", "scan-1", "w1", &json!({}))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.complete_job("tenant-a", "scan-1", "w2", &json!({}))
            .await
            .unwrap()
            .is_some()
    );
    let done = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!(done.attempts, 2);
    assert_eq!(done.worker.as_deref(), Some("w2"));
}

async fn heartbeat_is_refused_for_a_foreign_worker(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    assert!(
        !db.heartbeat("tenant-a", "scan-1", "w1", lease())
            .await
            .unwrap()
    );
    assert!(
        db.start_job("tenant-a", "scan-1", "w1", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    let later = OffsetDateTime::now_utc() + Duration::minutes(10);
    assert!(
        db.heartbeat("tenant-a", "scan-1", "w1", later)
            .await
            .unwrap()
    );
    assert!(
        !db.heartbeat("tenant-a", "scan-1", "w2", later)
            .await
            .unwrap()
    );
    assert!(
        !db.heartbeat("tenant-b", "scan-1", "w1", later)
            .await
            .unwrap()
    );
    let job = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    let stored = job.lease_until.unwrap();
    assert!((stored - later).abs() < Duration::milliseconds(1));
}

async fn failing_a_job_records_error_and_attempts(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    assert!(
        db.start_job("tenant-a", "scan-1", "w1", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.fail_job("tenant-a", "scan-1", "pull failed", 3)
            .await
            .unwrap()
    );
    let job = db.get_job("tenant-a", "scan-1").await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.error.as_deref(), Some("pull failed"));
    assert_eq!(job.attempts, 3);
    assert!(
        db.complete_job("tenant-a", "scan-1", "w1", &json!({}))
            .await
            .unwrap()
            .is_none()
    );
}

fn finding(id: &str) -> FindingRow {
    FindingRow {
        advisory_id: id.to_string(),
        purl: "pkg:deb/debian/openssl@3.0.11-1".to_string(),
        severity: "high".to_string(),
        payload: json!({"fixed_in": "3.0.13-1", "aliases": [id]}),
    }
}

async fn artifacts_round_trip_and_replace(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    db.put_sbom_document(
        "tenant-a",
        "scan-1",
        "spdx",
        "artifacts/scan-1/sbom.spdx.json",
        "sha256:aa",
    )
    .await
    .unwrap();
    db.put_sbom_document(
        "tenant-a",
        "scan-1",
        "spdx",
        "artifacts/scan-1/sbom2.spdx.json",
        "sha256:bb",
    )
    .await
    .unwrap();
    let doc = db
        .get_sbom_document("tenant-a", "scan-1", "spdx")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.blob_key, "artifacts/scan-1/sbom2.spdx.json");
    assert_eq!(doc.digest, "sha256:bb");
    assert!(
        db.get_sbom_document("tenant-b", "scan-1", "spdx")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.get_sbom_document("tenant-a", "scan-1", "cyclonedx")
            .await
            .unwrap()
            .is_none()
    );

    let packages = vec![PackageRow {
        purl: "pkg:deb/debian/openssl@3.0.11-1".to_string(),
        name: "openssl".to_string(),
        version: "3.0.11-1".to_string(),
        payload: json!({"layer": "sha256:cc"}),
    }];
    db.put_packages("tenant-a", "scan-1", &packages)
        .await
        .unwrap();
    db.put_packages("tenant-a", "scan-1", &packages)
        .await
        .unwrap();

    let findings = vec![finding("CVE-2024-2"), finding("CVE-2024-1")];
    db.put_findings("tenant-a", "scan-1", &[finding("CVE-2000-1")])
        .await
        .unwrap();
    db.put_findings("tenant-a", "scan-1", &findings)
        .await
        .unwrap();
    assert_eq!(
        db.get_findings("tenant-a", "scan-1").await.unwrap(),
        findings
    );
}

async fn oauth_clients_are_stored_with_their_tenant(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    let scopes = vec![
        "scanner.scans.enqueue".to_string(),
        "scanner.scans.read".to_string(),
    ];
    db.create_client("tenant-a", "client-1", "argon2:hash", &scopes)
        .await
        .unwrap();
    let client = db.get_client("client-1").await.unwrap().unwrap();
    assert_eq!(client.tenant, "tenant-a");
    assert_eq!(client.secret_hash, "argon2:hash");
    assert_eq!(client.scopes, scopes);
    assert!(db.get_client("client-2").await.unwrap().is_none());
    // Another tenant cannot take over the client id.
    db.create_client("tenant-b", "client-1", "evil", &[])
        .await
        .unwrap();
    let client = db.get_client("client-1").await.unwrap().unwrap();
    assert_eq!(client.tenant, "tenant-a");
    assert_eq!(client.secret_hash, "argon2:hash");
}

async fn migrations_are_idempotent(db: Arc<dyn Db>, url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    drop(db);
    let reopened = open_db(&url).await.expect("second open migrates again");
    let again = open_db(&url).await.expect("third open too");
    assert!(
        reopened
            .get_job("tenant-a", "scan-1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(again.get_job("tenant-a", "scan-1").await.unwrap().is_some());
}

async fn stale_jobs_are_listed_across_tenants(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    for (tenant, id) in [
        ("tenant-a", "scan-queued"),
        ("tenant-b", "scan-queued-b"),
        ("tenant-a", "scan-live"),
        ("tenant-a", "scan-dead"),
        ("tenant-a", "scan-done"),
        ("tenant-b", "scan-failed"),
    ] {
        db.insert_job(tenant, &new_job(id, None)).await.unwrap();
    }
    // Running under a live lease: not stale. Running under an expired one: stale.
    assert!(
        db.start_job("tenant-a", "scan-live", "w1", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    let expired = OffsetDateTime::now_utc() - Duration::seconds(30);
    assert!(
        db.start_job("tenant-a", "scan-dead", "w2", expired, 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.start_job("tenant-a", "scan-done", "w1", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.complete_job("tenant-a", "scan-done", "w1", &json!({}))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.fail_job("tenant-b", "scan-failed", "boom", 3)
            .await
            .unwrap()
    );

    // Nothing was created before a minute ago, and no lease ended that early.
    let long_ago = OffsetDateTime::now_utc() - Duration::minutes(1);
    assert!(db.list_stale_jobs(long_ago, 100).await.unwrap().is_empty());

    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    let stale = db.list_stale_jobs(now, 100).await.unwrap();
    let mut got: Vec<(&str, &str, &str)> = stale
        .iter()
        .map(|j| (j.tenant.as_str(), j.id.as_str(), j.status.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("tenant-a", "scan-dead", "running"),
            ("tenant-a", "scan-queued", "queued"),
            ("tenant-b", "scan-queued-b", "queued"),
        ]
    );
    assert_eq!(db.list_stale_jobs(now, 1).await.unwrap().len(), 1);
}

async fn a_jobs_event_is_marked_published_once(db: Arc<dyn Db>, _url: String) {
    tenants(&*db).await;
    db.insert_job("tenant-a", &new_job("scan-1", None))
        .await
        .unwrap();
    // Not finished yet: there is no event to record.
    assert!(!db.mark_event_published("tenant-a", "scan-1").await.unwrap());
    assert!(
        db.start_job("tenant-a", "scan-1", "w1", lease(), 3)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.complete_job("tenant-a", "scan-1", "w1", &json!({}))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !db.get_job("tenant-a", "scan-1")
            .await
            .unwrap()
            .unwrap()
            .event_published
    );
    // Another tenant cannot mark it.
    assert!(!db.mark_event_published("tenant-b", "scan-1").await.unwrap());
    assert!(db.mark_event_published("tenant-a", "scan-1").await.unwrap());
    assert!(!db.mark_event_published("tenant-a", "scan-1").await.unwrap());
    assert!(
        db.get_job("tenant-a", "scan-1")
            .await
            .unwrap()
            .unwrap()
            .event_published
    );

    // A failed job's event too.
    db.insert_job("tenant-b", &new_job("scan-2", None))
        .await
        .unwrap();
    assert!(db.fail_job("tenant-b", "scan-2", "boom", 3).await.unwrap());
    assert!(db.mark_event_published("tenant-b", "scan-2").await.unwrap());
    assert!(!db.mark_event_published("tenant-b", "scan-2").await.unwrap());
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Sqlite, super::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Postgres, super::$test).await;
                }
            )*
        }
    };
}

conformance!(
    another_tenants_job_is_invisible,
    idempotency_key_returns_the_existing_job,
    cursor_pagination_visits_every_job_once_newest_first,
    a_job_completes_exactly_once,
    a_job_out_of_attempts_is_not_started_again,
    visible_writes_are_seen_at_once_and_then_synced,
    a_dead_workers_job_is_taken_over_and_completes_once,
    heartbeat_is_refused_for_a_foreign_worker,
    failing_a_job_records_error_and_attempts,
    artifacts_round_trip_and_replace,
    oauth_clients_are_stored_with_their_tenant,
    migrations_are_idempotent,
    stale_jobs_are_listed_across_tenants,
    a_jobs_event_is_marked_published_once,
);

/// On PostgreSQL a visible write commits without waiting for the disk, and its `Durable` must
/// not resolve before the server's log is on disk past every commit made before it. The test
/// makes such an unsynced commit of its own (on a connection with `synchronous_commit = off`),
/// reads the log position after it, then makes a visible write and waits for it: the flushed
/// position must have passed the one read. That the flush also covers the visible write's own
/// commit follows from its starting after the write returned; the test cannot read that
/// commit's position without racing other tests' log records. (The server's own log writer
/// flushes only every 200 ms, so a wait that did not flush the log fails here: checked with a
/// flush that writes nothing.)
#[tokio::test]
async fn postgres_a_waited_for_visible_write_flushes_the_log() {
    run(
        Backend::Postgres,
        |db: Arc<dyn Db>, url: String| async move {
            let unsynced = format!("{url}?options=-c%20synchronous_commit%3Doff");
            let (own, connection) = tokio_postgres::connect(&unsynced, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            own.batch_execute("CREATE TABLE marks (n INTEGER)")
                .await
                .unwrap();
            let commit_unsynced = |n: i32| {
                let own = &own;
                async move {
                    own.execute("INSERT INTO marks VALUES ($1)", &[&n])
                        .await
                        .unwrap();
                    let row = own
                        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                        .await
                        .unwrap();
                    row.get::<_, String>(0)
                }
            };
            let flushed_past = |lsn: String| {
                let own = &own;
                async move {
                    own.query_one(
                        "SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn",
                        &[&lsn],
                    )
                    .await
                    .unwrap()
                    .get::<_, bool>(0)
                }
            };
            tenants(&*db).await;
            for i in 0..10 {
                let id = format!("scan-{i}");
                let lsn = commit_unsynced(i).await;
                let (_, durable) = db
                    .insert_job_visible("tenant-a", &new_job(&id, None))
                    .await
                    .unwrap();
                durable.wait().await.unwrap();
                assert!(
                    flushed_past(lsn.clone()).await,
                    "insert {i}: log not flushed past {lsn}"
                );
                db.start_job("tenant-a", &id, "w1", lease(), 3)
                    .await
                    .unwrap()
                    .unwrap();
                let lsn = commit_unsynced(i).await;
                let (done, durable) = db
                    .complete_job_visible("tenant-a", &id, "w1", &json!({}))
                    .await
                    .unwrap();
                assert!(done.is_some());
                durable.wait().await.unwrap();
                assert!(
                    flushed_past(lsn.clone()).await,
                    "completion {i}: log not flushed past {lsn}"
                );
                // `Db::flush` alone, as a worker calls it before publishing the event of a job
                // it found finished.
                let lsn = commit_unsynced(i).await;
                db.flush().await.unwrap();
                assert!(
                    flushed_past(lsn.clone()).await,
                    "flush {i}: log not flushed past {lsn}"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_secrets() {
    let err = open_db("mysql://root:hunter2@db/x").await.err().unwrap();
    assert!(!err.to_string().contains("hunter2"));
}
