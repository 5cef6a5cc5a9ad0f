//! `stella serve` on the distributed adapters, end to end: PostgreSQL (a fresh database per
//! run), an S3 server (`s3s-fs`, in the test process on a loopback port), and the queue on
//! Valkey/Redis streams, then the same flow on NATS JetStream. A real server process, real
//! clients with DPoP-bound tokens, a real scan of a directory rootfs.
//!
//! The second test is the full flow of a registry image: the real `apps` test image
//! (tests/images) pushed to Debian's `docker-registry` on loopback, pulled by the server's worker
//! over plain HTTP (the registry client speaks HTTP to loopback registries only), with the
//! advisory store seeded from the real PyPA OSV data set; submit, poll, both SBOM formats, the
//! findings and the scan result, on PostgreSQL + Redis + S3, on PostgreSQL + NATS + S3, and on
//! the embedded defaults.
//!
//! The services are expected on 127.0.0.1 (PostgreSQL 5432 with trust auth for `postgres`,
//! Redis 6379, NATS 4222). When one is unreachable the test fails when `CI` is set, and
//! otherwise skips with the reason printed (the embedded flow needs none and always runs).
//! Without the registry tools or the test images the registry test skips the same way.
//!
//! The stream names are fixed (`scanner:jobs`, `scanner:events`), so the queue state is
//! isolated by hand: on Redis a logical database chosen at random (1..=15), flushed before
//! and after; on NATS the JetStream streams are deleted before and after. Flows run one at a
//! time (see [`FLOWS`]).

mod common;
mod serve_support;

use common::{test_images, write_osv_zip};
use serve_support::{
    Client, FreshDatabase, NATS, NATS_URL, POSTGRES, REDIS, RedisDb, Server, create_client,
    names_of, random_hex, reset_nats, runtime, services_available, write_rootfs,
};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stella_testkit::{Registries, layout_manifest_digest, registry_tools_available};

const S3_ACCESS_KEY: &str = "stella-serve-test";
const S3_SECRET_KEY: &str = "stella-serve-test-secret";

/// Where the server keeps its state: the URLs given on its command line.
struct Backends {
    database_url: String,
    queue_url: String,
    bucket: String,
    blobs_endpoint: String,
}

/// `stella serve` on these backends, with S3 credentials matching the test's S3 server;
/// `allow_local_targets` lets clients scan the server's own paths (`dir:` and the like).
fn start_server(data: &Path, backends: &Backends, allow_local_targets: bool) -> Server {
    let args: Vec<String> = [
        "--database-url",
        &backends.database_url,
        "--queue-url",
        &backends.queue_url,
        "--blobs-url",
        &format!("s3://{}", backends.bucket),
        "--blobs-endpoint",
        &backends.blobs_endpoint,
        "--blobs-region",
        "us-east-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    serve_support::start_server_with(
        data,
        allow_local_targets,
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ],
    )
}

/// The services the distributed flows use; see [`services_available`].
const SERVICES: &[(&str, &str)] = &[POSTGRES, REDIS, NATS];

/// Starts an S3 server over `root` on an ephemeral loopback port on `rt`; returns its
/// endpoint. The server's tasks end with the runtime.
fn start_s3_server(rt: &tokio::runtime::Runtime, root: &Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs over a temp dir");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
    ));
    let service = builder.build();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    format!("http://{addr}")
}

/// The queue under test, and how its state is isolated from other runs.
#[derive(Clone, Copy, Debug)]
enum Queue {
    Redis,
    Nats,
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// Held by each flow: two flows at once would share the fixed stream names (NATS) or could draw
/// the same Redis database, and each flow's deletes would pull the other's queue away.
static FLOWS: Mutex<()> = Mutex::new(());

fn lock_flows() -> MutexGuard<'static, ()> {
    // A flow that panicked poisons the lock; the state it guards is reset by every flow anyway.
    FLOWS.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn serve_runs_a_scan_on_postgres_s3_and_redis_then_nats() {
    if !services_available(SERVICES) {
        return;
    }
    let rt = runtime();
    for queue in [Queue::Redis, Queue::Nats] {
        let _flows = lock_flows();
        let started = Instant::now();
        with_backends(&rt, queue, |tmp, data, s3_root, b| {
            flow(&rt, tmp, data, s3_root, b)
        });
        eprintln!("{queue:?} flow: {:?}", started.elapsed());
    }
}

/// Runs `f` on `queue` with its own database, bucket and queue state (given the temp dir, the
/// server's data dir, the S3 server's root and the backend URLs), cleaned up however `f` ends.
fn with_backends(
    rt: &tokio::runtime::Runtime,
    queue: Queue,
    f: impl FnOnce(&Path, &Path, &Path, &Backends),
) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let database = FreshDatabase::create("stella_serve");

    let s3_root = tmp.path().join("s3");
    let bucket = format!("stella-serve-{}", random_hex(6));
    // s3s-fs keeps a bucket as a directory of its root.
    std::fs::create_dir_all(s3_root.join(&bucket)).unwrap();
    let blobs_endpoint = start_s3_server(rt, &s3_root);

    // The queue's state is emptied before and after: a Redis db is flushed when picked and when
    // dropped, the NATS streams are deleted here.
    let redis = matches!(queue, Queue::Redis).then(RedisDb::pick);
    let queue_url = match &redis {
        Some(redis) => redis.url.clone(),
        None => NATS_URL.to_string(),
    };
    if redis.is_none() {
        reset_nats(rt, &queue_url, &data);
    }

    let backends = Backends {
        database_url: database.url.clone(),
        queue_url,
        bucket,
        blobs_endpoint,
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        f(tmp.path(), &data, &s3_root, &backends);
    }));

    if redis.is_none() {
        reset_nats(rt, &backends.queue_url, &data);
    }
    // The Redis db and the database go when they drop, after this.
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn flow(rt: &tokio::runtime::Runtime, tmp: &Path, data: &Path, s3_root: &Path, b: &Backends) {
    let rootfs = tmp.join("rootfs");
    write_rootfs(&rootfs);
    let (id_a, secret_a) = create_client(data, &["--database-url", &b.database_url], "acme");
    let (id_b, secret_b) = create_client(data, &["--database-url", &b.database_url], "globex");

    let server = start_server(data, b, true);
    let mut a = Client::login(&server.base, &id_a, &secret_a);
    let image = format!("dir:{}", rootfs.display());
    let body = json!({"image": image, "sbom_format": "spdx"});

    let (_, job_id) = a.submit_accepted(&body, "build-42");

    let job = a.wait_completed(&job_id, Duration::from_secs(20), Duration::from_millis(100));
    assert_eq!(job["summary"]["packages"], 2, "{job}");

    let sbom = a.get(&format!("/api/v1/scans/{job_id}/sbom?format=spdx"));
    assert_eq!(sbom.status, 200, "{}", sbom.text);
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

    // The SBOM is an object in the S3 bucket (s3s-fs keeps it as a file under the bucket).
    let job_dir = s3_root.join(&b.bucket).join("artifacts").join(&job_id);
    let objects = files_under(&job_dir);
    let stored = objects
        .iter()
        .find(|p| p.to_string_lossy().starts_with("sbom"))
        .unwrap_or_else(|| panic!("no SBOM object under {}: {objects:?}", job_dir.display()));
    let stored: Value = serde_json::from_slice(&std::fs::read(job_dir.join(stored)).unwrap())
        .expect("the stored SBOM is JSON");
    assert_eq!(stored["spdxVersion"], "SPDX-2.3");

    // The job row is in PostgreSQL, under its tenant only.
    rt.block_on(async {
        let db = stella_store::db::open_db(&b.database_url).await.unwrap();
        assert_eq!(db.backend(), "postgres");
        let row = db.get_job("acme", &job_id).await.unwrap().expect("job row");
        assert_eq!(row.status, stella_store::db::JobStatus::Completed);
        assert_eq!(row.id, job_id);
        assert!(db.get_job("globex", &job_id).await.unwrap().is_none());
    });

    // Another tenant cannot see the scan, not even that it exists.
    let mut other = Client::login(&server.base, &id_b, &secret_b);
    for path in [
        format!("/api/v1/scans/{job_id}"),
        format!("/api/v1/scans/{job_id}/sbom"),
        format!("/api/v1/scans/{job_id}/findings"),
    ] {
        let r = other.get(&path);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.json()["error"], "not_found");
    }

    // The worker announced the scan on the queue's `scanner:events` stream (read with a
    // group of the test's own, which starts at the beginning of the stream).
    let events: Vec<Value> = rt.block_on(async {
        let bus = stella_store::bus::open_bus(&b.queue_url, data)
            .await
            .unwrap();
        let group = format!("serve-test-{}", random_hex(4));
        bus.ensure_group(stella_service::EVENTS_STREAM, &group)
            .await
            .unwrap();
        let got = bus
            .claim(
                stella_service::EVENTS_STREAM,
                &group,
                "t",
                100,
                Duration::from_millis(500),
            )
            .await
            .unwrap();
        got.iter()
            .map(|d| serde_json::from_slice(&d.payload).unwrap())
            .collect()
    });
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["payload"]["scan_id"] == job_id.as_str())
        .collect();
    assert!(!mine.is_empty(), "{events:?}");
    for e in mine {
        assert_eq!(e["kind"], "scan.completed");
        assert_eq!(e["tenant"], "acme");
    }
    drop(server);
}

/// Where the registry test pushes the `apps` test image.
const APPS_REPO: &str = "stella-test/bookworm:apps";
/// How long one scan of the apps image may take from submit to completed (a cold layer cache:
/// each flow has its own data directory).
const SCAN_LIMIT: Duration = Duration::from_secs(60);

/// What the registry flows share: a loopback registry serving the `apps` test image, the PyPA
/// OSV data set as an `all.zip`, and what is known of the image.
struct RegistryImage {
    /// Kept for its drop, which stops the registries.
    _regs: Registries,
    /// `docker://127.0.0.1:PORT/stella-test/bookworm:apps` on the registry without auth.
    reference: String,
    /// The digest of the image's manifest in the OCI layout it was pushed from.
    manifest_digest: String,
    /// The dpkg packages of the image (`dpkg-query` over its rootfs).
    dpkg_names: BTreeSet<String>,
    osv_zip: PathBuf,
    _tmp: tempfile::TempDir,
}

impl RegistryImage {
    fn start(img: &BTreeMap<String, String>) -> RegistryImage {
        let regs = Registries::start();
        let layout = Path::new(&img["OCI_LAYOUT"]);
        // Pushed with its digests kept, so the registry serves the layout's own manifest.
        regs.push(layout, &img["OCI_TAG_APPS"], APPS_REPO, &[]);
        let reference = format!("docker://{}/{APPS_REPO}", regs.anon());
        assert!(
            regs.anon().starts_with("127.0.0.1:"),
            "the registry must be on loopback: {}",
            regs.anon()
        );
        let manifest_digest = layout_manifest_digest(layout, &img["OCI_TAG_APPS"]);
        // The apps image has the dpkg database of `base` (tests/images/README.md).
        let dpkg_names: BTreeSet<String> = std::fs::read_to_string(&img["EXPECTED_BASE"])
            .unwrap_or_else(|e| panic!("{}: {e}", img["EXPECTED_BASE"]))
            .lines()
            .filter_map(|l| l.split('\t').next())
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        assert!(dpkg_names.len() > 50, "{dpkg_names:?}");
        let tmp = tempfile::tempdir().unwrap();
        let osv_zip = tmp.path().join("PyPI").join("all.zip");
        write_osv_zip(&osv_zip, "osv-pypa/osv.ndjson.zst");
        RegistryImage {
            _regs: regs,
            reference,
            manifest_digest,
            dpkg_names,
            osv_zip,
            _tmp: tmp,
        }
    }
}

/// `stella feeds import osv ZIP` into the server's data directory, where the worker's advisory
/// matching reads the store.
fn import_osv(data: &Path, zip: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["feeds", "import", "osv"])
        .arg(zip)
        .env("STELLA_DATA_DIR", data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stella feeds import osv {}: {}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(vulnerability, package name, package version)` of each finding in `findings`.
fn finding_keys(findings: &Value) -> BTreeSet<(String, String, String)> {
    findings
        .as_array()
        .unwrap_or_else(|| panic!("findings is not an array: {findings}"))
        .iter()
        .map(|f| {
            let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{f}")).to_owned();
            (
                s(&f["vulnerability"]),
                s(&f["package"]["name"]),
                s(&f["package"]["version"]),
            )
        })
        .collect()
}

fn key(vuln: &str, name: &str, version: &str) -> (String, String, String) {
    (vuln.to_owned(), name.to_owned(), version.to_owned())
}

/// The findings every flow must report for the apps image, read off the PyPA records by hand
/// (tests/vulns.rs checks the same against `stella scan`): urllib3 1.24.1 is below the fix of
/// CVE-2019-11324 (1.24.2), requests 2.25.1 below that of CVE-2023-32681 (2.31.0), sqlparse
/// 0.4.1 below that of CVE-2021-32839 (0.4.2).
fn expected_findings() -> [(String, String, String); 3] {
    [
        key("CVE-2019-11324", "urllib3", "1.24.1"),
        key("CVE-2023-32681", "requests", "2.25.1"),
        key("CVE-2021-32839", "sqlparse", "0.4.1"),
    ]
}

/// Submits the registry image as tenant `acme` (client `id`) to a server that refuses local
/// targets, polls it to completed, and checks the SBOM in both formats, the findings and the
/// scan result. Returns the job id.
fn registry_flow(server: &Server, id: &str, secret: &str, fx: &RegistryImage) -> String {
    let mut a = Client::login(&server.base, id, secret);
    // The server runs without local targets: a bare path, which the target parser would read
    // as a directory on the server, is refused like `dir:`.
    for local in ["/etc", "dir:/etc"] {
        let r = a.post_scan(&json!({"image": local}), None);
        assert_eq!(r.status, 400, "{local}: {}", r.text);
    }
    let r = a.post_scan(&json!({"image": fx.reference}), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let job_id = r.json()["job_id"].as_str().unwrap().to_owned();

    let submitted = Instant::now();
    let job = loop {
        let r = a.get(&format!("/api/v1/scans/{job_id}"));
        assert_eq!(r.status, 200, "{}", r.text);
        let job = r.json();
        match job["status"].as_str().unwrap() {
            "completed" => break job,
            "failed" => panic!("scan of {} failed: {job}", fx.reference),
            _ => {}
        }
        assert!(
            submitted.elapsed() < SCAN_LIMIT,
            "scan of {} did not complete within {SCAN_LIMIT:?}: {job}",
            fx.reference
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "  scan of {} completed in {:?}",
        fx.reference,
        submitted.elapsed()
    );
    assert_eq!(job["image"], fx.reference.as_str());
    assert_eq!(job["sbom_format"], "cyclonedx", "the default format");
    assert_eq!(job["summary"]["image_digest"], fx.manifest_digest.as_str());
    let packages = job["summary"]["packages"].as_u64().unwrap();
    assert!(packages as usize > fx.dpkg_names.len(), "{job}");
    assert!(
        job["summary"]["advisory_snapshot"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "matched against the imported store: {job}"
    );

    // Every dpkg package of the image and the Python packages of its pip layers, by name.
    let mut wanted: BTreeSet<&str> = fx.dpkg_names.iter().map(String::as_str).collect();
    wanted.extend(["urllib3", "requests", "sqlparse"]);
    let assert_all_named = |format: &str, names: BTreeSet<&str>| {
        let missing: Vec<&str> = wanted.difference(&names).copied().collect();
        assert!(missing.is_empty(), "{format} lacks {missing:?}");
    };

    // The job's own format, CycloneDX 1.6 with the vulnerabilities in it.
    let r = a.get(&format!("/api/v1/scans/{job_id}/sbom"));
    assert_eq!(r.status, 200, "{}", r.text);
    let cdx = r.json();
    assert_eq!(cdx["bomFormat"], "CycloneDX", "{}", r.text);
    assert_eq!(cdx["specVersion"], "1.6");
    assert_all_named("CycloneDX", names_of(&cdx["components"]).collect());
    let cdx_vulns: BTreeSet<&str> = cdx["vulnerabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("no vulnerabilities in the CycloneDX SBOM"))
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert!(cdx_vulns.contains("CVE-2019-11324"), "{cdx_vulns:?}");

    let r = a.get(&format!("/api/v1/scans/{job_id}/sbom?format=spdx"));
    assert_eq!(r.status, 200, "{}", r.text);
    let spdx = r.json();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3", "{}", r.text);
    assert_all_named("SPDX", names_of(&spdx["packages"]).collect());

    let r = a.get(&format!("/api/v1/scans/{job_id}/findings"));
    assert_eq!(r.status, 200, "{}", r.text);
    let findings = finding_keys(&r.json()["findings"]);
    for want in expected_findings() {
        assert!(findings.contains(&want), "{want:?} not in {findings:?}");
    }
    // The second urllib3 (1.26.4) is past the fix of CVE-2019-11324: versions were compared,
    // not names.
    assert!(!findings.contains(&key("CVE-2019-11324", "urllib3", "1.26.4")));

    // The scan result: the same inventory and findings, and the image as pulled.
    let r = a.get(&format!("/api/v1/scans/{job_id}/result"));
    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.json();
    assert_eq!(
        result["schemaVersion"], "stella.scan-result/v1",
        "{}",
        r.text
    );
    assert!(result["timestamp"].is_string(), "{}", result["timestamp"]);
    let inv = &result["inventory"];
    assert_eq!(inv["packages"].as_array().unwrap().len() as u64, packages);
    assert_eq!(inv["image"]["reference"], fx.reference.as_str());
    assert_eq!(inv["image"]["transport"], "docker");
    assert_eq!(inv["image"]["manifest_digest"], fx.manifest_digest.as_str());
    assert_eq!(finding_keys(&result["findings"]["findings"]), findings);
    job_id
}

/// The three artifacts the worker stores per job, each parsed.
fn assert_artifacts(job_dir: &Path) {
    for (name, check) in [
        ("sbom.spdx.json", "spdxVersion"),
        ("sbom.cdx.json", "bomFormat"),
        ("result.json", "schemaVersion"),
    ] {
        let path = job_dir.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (stored: {:?})",
                path.display(),
                files_under(job_dir)
            )
        });
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        assert!(v[check].is_string(), "{}: no {check}", path.display());
    }
}

#[test]
fn serve_scans_a_registry_image_on_redis_nats_and_the_embedded_defaults() {
    if !registry_tools_available() {
        return;
    }
    let Some(img) = test_images() else { return };
    let fx = RegistryImage::start(img);

    if services_available(SERVICES) {
        let rt = runtime();
        for queue in [Queue::Redis, Queue::Nats] {
            let _flows = lock_flows();
            let started = Instant::now();
            with_backends(&rt, queue, |_tmp, data, s3_root, b| {
                import_osv(data, &fx.osv_zip);
                let (id, secret) =
                    create_client(data, &["--database-url", &b.database_url], "acme");
                // A registry image needs no local access: the server refuses local targets.
                let server = start_server(data, b, false);
                let job_id = registry_flow(&server, &id, &secret, &fx);
                // The artifacts are objects in the S3 bucket (files of s3s-fs's root).
                assert_artifacts(&s3_root.join(&b.bucket).join("artifacts").join(&job_id));
                rt.block_on(async {
                    let db = stella_store::db::open_db(&b.database_url).await.unwrap();
                    assert_eq!(db.backend(), "postgres");
                    let row = db.get_job("acme", &job_id).await.unwrap().expect("job row");
                    assert_eq!(row.status, stella_store::db::JobStatus::Completed);
                });
            });
            eprintln!("{queue:?} registry flow: {:?}", started.elapsed());
        }
    }

    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    import_osv(&data, &fx.osv_zip);
    let (id, secret) = create_client(&data, &[], "acme");
    let server = serve_support::start_server_with(&data, false, &[], &[]);
    let job_id = registry_flow(&server, &id, &secret, &fx);
    // The embedded blob store: file://DATA/artifacts, keys `artifacts/{job}/…`.
    assert_artifacts(&data.join("artifacts/artifacts").join(&job_id));
    assert!(data.join("stella.sqlite").is_file());
    drop(server);
    eprintln!("embedded registry flow: {:?}", started.elapsed());
}
