//! The worker on the embedded ports: a good job completes with its artifacts and a
//! `scan.completed` event; a job that keeps failing is retried, failed, dead-lettered and
//! announced with `scan.failed`; a message that is not a job is dead-lettered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stella_service::worker::{Worker, WorkerConfig};
use stella_service::{EVENTS_STREAM, JOBS_STREAM, Ports, ServiceConfig};
use stella_store::bus::DeadLetter;
use stella_store::db::{Job, JobStatus, NewJob};

async fn wait_finished(ports: &Ports, tenant: &str, id: &str) -> Job {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = ports.db.get_job(tenant, id).await.unwrap().unwrap();
        if matches!(job.status, JobStatus::Completed | JobStatus::Failed) {
            return job;
        }
        assert!(Instant::now() < deadline, "job did not finish: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn enqueue(ports: &Ports, tenant: &str, id: &str, image: &str) {
    ports.db.create_tenant(tenant).await.unwrap();
    let new = NewJob {
        id: id.into(),
        image: image.into(),
        sbom_format: "cyclonedx".into(),
        idempotency_key: None,
    };
    ports.db.insert_job(tenant, &new).await.unwrap();
    let msg = json!({"job_id": id, "tenant": tenant}).to_string();
    ports
        .bus
        .publish(JOBS_STREAM, msg.as_bytes())
        .await
        .unwrap();
}

async fn events(ports: &Ports) -> Vec<Value> {
    ports.bus.ensure_group(EVENTS_STREAM, "test").await.unwrap();
    let got = ports
        .bus
        .claim(EVENTS_STREAM, "test", "t", 100, Duration::from_millis(100))
        .await
        .unwrap();
    got.iter()
        .map(|d| serde_json::from_slice(&d.payload).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_complete_or_fail_into_the_dead_letter_stream_with_events() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::create_dir_all(rootfs.join("lib/apk/db")).unwrap();
    std::fs::write(
        rootfs.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.20.0\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("lib/apk/db/installed"),
        "P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\n\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let config = ServiceConfig::embedded(data.clone(), "http://127.0.0.1:1".into());
    let ports = Ports::open(&config).await.unwrap();

    enqueue(
        &ports,
        "acme",
        "scan-good",
        &format!("dir:{}", rootfs.display()),
    )
    .await;
    enqueue(&ports, "acme", "scan-bad", "dir:/nonexistent/stella-test").await;
    ports.bus.publish(JOBS_STREAM, b"not json").await.unwrap();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker =
        tokio::spawn(Worker::new(ports.clone(), data, WorkerConfig::default()).run(stop_rx));

    let good = wait_finished(&ports, "acme", "scan-good").await;
    assert_eq!(good.status, JobStatus::Completed, "{good:?}");
    assert_eq!(good.summary.as_ref().unwrap()["packages"], 1);
    let doc = ports
        .db
        .get_sbom_document("acme", "scan-good", "cyclonedx")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.blob_key, "artifacts/scan-good/sbom.cdx.json");
    let sbom = ports.blobs.get(&doc.blob_key).await.unwrap().unwrap();
    let sbom: Value = serde_json::from_slice(&sbom).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");

    let bad = wait_finished(&ports, "acme", "scan-bad").await;
    assert_eq!(bad.status, JobStatus::Failed, "{bad:?}");
    assert_eq!(bad.attempts, WorkerConfig::default().max_attempts);
    assert!(
        bad.error.as_deref().unwrap().contains("nonexistent"),
        "{bad:?}"
    );

    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();

    let dead_stream = ports.bus.dead_letter_stream(JOBS_STREAM);
    ports.bus.ensure_group(&dead_stream, "test").await.unwrap();
    let dead = ports
        .bus
        .claim(&dead_stream, "test", "t", 10, Duration::from_millis(100))
        .await
        .unwrap();
    let dead: Vec<DeadLetter> = dead
        .iter()
        .map(|d| DeadLetter::from_bytes(&d.payload).unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().any(|d| d.error.contains("not a job message")));
    assert!(dead.iter().any(|d| d.error.contains("nonexistent")));

    let events = events(&ports).await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["idempotency_key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("scan.completed", "scan-good"), ("scan.failed", "scan-bad")]
    );
    for e in &events {
        assert_eq!(e["version"], 1);
        assert_eq!(e["tenant"], "acme");
        assert!(e["occurred_at"].is_string() && e["id"].is_string());
        assert_eq!(e["payload"]["scan_id"], e["idempotency_key"]);
    }
    assert_eq!(events[0]["payload"]["findings"], json!({}));
}
