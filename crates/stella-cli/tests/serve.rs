//! `stella serve` end to end: a real server process on loopback, a real client with
//! DPoP-bound tokens, a real scan of a directory rootfs, and a restart on the same data dir.

mod serve_support;

use serde_json::{Value, json};
use serve_support::{Client, create_client, names_of, start_server, write_rootfs};
use std::path::Path;
use std::time::Duration;

/// Every event on `scanner:events` of the embedded bus (read with a group of its own).
fn completed_events(data: &Path) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bus = stella_store::bus::open_bus("memory", data).await.unwrap();
        bus.ensure_group("scanner:events", "serve-test")
            .await
            .unwrap();
        let got = bus
            .claim(
                "scanner:events",
                "serve-test",
                "t",
                100,
                Duration::from_millis(100),
            )
            .await
            .unwrap();
        got.iter()
            .map(|d| serde_json::from_slice(&d.payload).unwrap())
            .collect()
    })
}

#[test]
fn serve_runs_a_scan_end_to_end_and_keeps_it_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let rootfs = tmp.path().join("rootfs");
    write_rootfs(&rootfs);
    let (id_a, secret_a) = create_client(&data, &[], "acme");
    let (id_b, secret_b) = create_client(&data, &[], "globex");

    let server = start_server(&data, &[], &[]);
    let mut a = Client::login(&server.base, &id_a, &secret_a);
    let image = format!("dir:{}", rootfs.display());
    let body = json!({"image": image, "sbom_format": "spdx"});

    let (r, job_id) = a.submit_accepted(&body, "build-42");
    assert!(r.headers.contains_key("x-request-id"));

    // Bad requests answer JSON errors: an unknown SBOM format, a body over the limit.
    let bad = a.post_scan(&json!({"image": image, "sbom_format": "pdf"}), None);
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.json()["error"], "invalid_request");
    let huge = a.post_scan(&json!({"image": "x".repeat(100 * 1024)}), None);
    assert_eq!(huge.status, 413, "{}", huge.text);
    assert_eq!(huge.json()["error"], "payload_too_large");

    // The same Idempotency-Key names the same job.
    let again = a.post_scan(&body, Some("build-42"));
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["job_id"], job_id.as_str());

    // A wait outside 0..=20 whole seconds is refused before anything waits.
    for wait in ["21", "-1", "soon", "1.5"] {
        let r = a.get(&format!("/api/v1/scans/{job_id}?wait={wait}"));
        assert_eq!(r.status, 400, "wait={wait}: {}", r.text);
        assert_eq!(r.json()["error"], "invalid_request");
        assert!(
            r.json()["error_description"]
                .as_str()
                .unwrap()
                .contains("0 to 20")
        );
    }
    // A long poll answers when the scan ends (a second or so here), not when the wait is over.
    let asked = std::time::Instant::now();
    let polled = a.get(&format!("/api/v1/scans/{job_id}?wait=20"));
    assert_eq!(polled.status, 200, "{}", polled.text);
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
    let job = polled.json();
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["summary"]["packages"], 2, "{job}");
    assert!(job["finished_at"].is_string(), "{job}");

    let sbom = a.get(&format!("/api/v1/scans/{job_id}/sbom?format=spdx"));
    assert_eq!(sbom.status, 200, "{}", sbom.text);
    assert_eq!(
        sbom.headers.get("content-type").unwrap(),
        "application/spdx+json"
    );
    let doc = sbom.json();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let names: Vec<&str> = names_of(&doc["packages"]).collect();
    assert!(
        names.contains(&"zlib1g") && names.contains(&"libc6"),
        "{names:?}"
    );

    let findings = a.get(&format!("/api/v1/scans/{job_id}/findings"));
    assert_eq!(findings.status, 200, "{}", findings.text);
    assert!(findings.json()["findings"].is_array());

    // A caller's request id is echoed.
    let traced = reqwest::blocking::Client::new()
        .get(format!("{}/jwks", server.base))
        .header("x-request-id", "ci-run-7")
        .send()
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "ci-run-7");

    let list = a.get("/api/v1/scans?limit=10");
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["items"][0]["job_id"], job_id.as_str());

    // Another tenant cannot see the scan, not even that it exists.
    let mut b = Client::login(&server.base, &id_b, &secret_b);
    let other = b.get(&format!("/api/v1/scans/{job_id}"));
    assert_eq!(other.status, 404, "{}", other.text);
    assert_eq!(other.json()["error"], "not_found");
    // Nor wait on it: the long poll answers 404 at once.
    let asked = std::time::Instant::now();
    let other = b.get(&format!("/api/v1/scans/{job_id}?wait=20"));
    assert_eq!(other.status, 404, "{}", other.text);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );

    // A token without its DPoP proof is refused.
    let bare = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/scans/{job_id}", server.base))
        .header("authorization", format!("DPoP {}", a.token))
        .send()
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401);

    // State survives a restart of the process.
    drop(server);

    // The worker announced the scan once on the embedded event stream.
    let events = completed_events(&data);
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["idempotency_key"] == job_id.as_str())
        .collect();
    assert!(!mine.is_empty(), "{events:?}");
    for e in mine {
        assert_eq!(e["kind"], "scan.completed");
        assert_eq!(e["version"], 1);
        assert_eq!(e["tenant"], "acme");
        assert_eq!(e["payload"]["scan_id"], job_id.as_str());
    }
    let server = start_server(&data, &[], &[]);
    let mut a = Client::login(&server.base, &id_a, &secret_a);
    let r = a.get(&format!("/api/v1/scans/{job_id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "completed");
    let sbom = a.get(&format!("/api/v1/scans/{job_id}/sbom"));
    assert_eq!(sbom.status, 200, "{}", sbom.text);
    assert_eq!(sbom.json()["spdxVersion"], "SPDX-2.3");
}

/// Without `--allow-local-targets` the API takes registry images only: a transport-prefixed
/// path and a bare path (which the worker would read as a path on the server) are refused
/// before any job exists.
#[test]
fn serve_refuses_local_paths_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let rootfs = tmp.path().join("rootfs");
    write_rootfs(&rootfs);
    let server = serve_support::start_server_with(&data, false, &[], &[]);
    let (id, secret) = create_client(&data, &[], "acme");
    let mut client = Client::login(&server.base, &id, &secret);
    for image in [
        format!("dir:{}", rootfs.display()),
        rootfs.display().to_string(),
        "oci-archive:/etc/passwd".to_owned(),
    ] {
        let r = client.post_scan(&json!({"image": image}), None);
        assert_eq!(r.status, 400, "{image}: {}", r.text);
    }
    let listed = client.get("/api/v1/scans");
    assert_eq!(listed.json()["items"], json!([]), "no job was created");
}
