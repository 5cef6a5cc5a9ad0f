//! `stella serve` under faults, against real services on 127.0.0.1: a worker killed with
//! SIGKILL mid-scan, Redis restarted (with and without persistence) and PostgreSQL restarted
//! while jobs are in flight, and a poison job that ends on the dead-letter stream.
//!
//! What "mid-scan" means here is made real with a small OCI registry in the test process (the
//! distribution API over loopback HTTP) that serves one image whose only layer trickles out a
//! byte at a time until the test opens its gate: the worker is provably inside the pull.
//!
//! Services: PostgreSQL on 5432 (trust auth for `postgres`) and Redis on 6379 for the tests that
//! use the machine's services (each on a fresh database and a random Redis logical db); the
//! Redis and PostgreSQL restart tests start their own `redis-server` and PostgreSQL cluster on
//! free ports and never touch the machine's. When a service or binary is missing, a test fails
//! under `CI` and otherwise skips with the reason printed. Every child process is killed when
//! its guard drops, however the test ends.

mod serve_support;

use serve_support::{
    Client, FreshDatabase, KillOnDrop, NATS, NATS_URL, POSTGRES, REDIS, RedisDb, Server,
    create_client, free_port, hex, random_hex, reachable, reset_nats, runtime, services_available,
    skip, write_rootfs,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stella_store::bus::DeadLetter;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The worker lease of every server here: a killed worker's job is taken over seconds later.
const LEASE_SECS: &str = "3";

// ---------------------------------------------------------------------------------------------
// Services of the test's own

/// A `redis-server` of the test's own on a fixed port and directory, so it can be killed and
/// started again where clients expect it.
struct OwnRedis {
    child: Option<KillOnDrop>,
    port: u16,
    dir: PathBuf,
    appendonly: bool,
}

impl OwnRedis {
    /// `None` (after [`skip`]) when there is no `redis-server`.
    fn start(dir: &Path, appendonly: bool) -> Option<OwnRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            skip("redis-server is not installed");
            return None;
        }
        let mut r = OwnRedis {
            child: None,
            port: free_port(),
            dir: dir.to_path_buf(),
            appendonly,
        };
        r.up();
        Some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if self.appendonly {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        self.child = Some(KillOnDrop(cmd.spawn().expect("start redis-server")));
        wait_for(&format!("127.0.0.1:{}", self.port), "redis-server");
    }

    /// SIGKILL (the guard's drop): with `appendfsync always` every acknowledged write is on
    /// disk already. Dropping an `OwnRedis` kills it the same way.
    fn kill(&mut self) {
        self.child = None;
    }
}

fn wait_for(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !reachable(addr) {
        assert!(
            Instant::now() < deadline,
            "{what} did not come up on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temp dir, trust auth), stopped and
/// started on the same port. PostgreSQL refuses to run as root: as root, the commands run as
/// the `postgres` user through `runuser`, on a directory that user owns.
struct OwnPostgres {
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    _tmp: tempfile::TempDir,
}

impl OwnPostgres {
    fn start() -> Option<OwnPostgres> {
        if !Path::new(PG_BIN).join("initdb").is_file() {
            skip(&format!("{PG_BIN}/initdb is missing"));
            return None;
        }
        let root = is_root();
        if root
            && Command::new("id")
                .arg("postgres")
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        {
            skip("running as root and there is no `postgres` user to run PostgreSQL as");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if root {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(tmp.path())
                .status()
                .unwrap();
            assert!(st.success(), "chown of the cluster directory failed");
        }
        let pg = OwnPostgres {
            dir,
            port: free_port(),
            as_postgres: root,
            _tmp: tmp,
        };
        let out = pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&pg.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        pg.up();
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let path = Path::new(PG_BIN).join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(["-o", &opts, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {out:?}");
    }

    fn stop(&self, mode: &str) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", mode, "-w", "stop"])
            .output();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// A slow OCI registry

/// One image (`stella/slow:1`, a Debian rootfs with two dpkg packages in one gzip layer)
/// served over the OCI distribution API. Until `open` is called, the layer's body trickles out
/// one byte every 200 ms, so a scan of it stays inside the pull for as long as the test likes.
struct SlowRegistry {
    addr: String,
    gate_open: Arc<AtomicBool>,
    layer_requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SlowRegistry {
    fn start() -> SlowRegistry {
        let (manifest, blobs) = slow_image();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let gate_open = Arc::new(AtomicBool::new(false));
        let layer_requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new((manifest, blobs));
        {
            let (gate, count, stop) = (gate_open.clone(), layer_requests.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (shared, gate, count, stop) =
                                (shared.clone(), gate.clone(), count.clone(), stop.clone());
                            std::thread::spawn(move || {
                                let _ = serve_registry(stream, &shared, &gate, &count, &stop);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            });
        }
        SlowRegistry {
            addr,
            gate_open,
            layer_requests,
            stop,
        }
    }

    fn image(&self) -> String {
        format!("docker://{}/stella/slow:1", self.addr)
    }

    fn open(&self) {
        self.gate_open.store(true, Ordering::SeqCst);
    }

    /// Waits (up to 20 s) until a worker is inside the pull of the layer.
    fn wait_pulling(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.layer_requests.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the slow job never started");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SlowRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.gate_open.store(true, Ordering::SeqCst);
    }
}

/// (manifest, [(digest, bytes, is_layer)]) of the slow image.
type Blobs = Vec<(String, Vec<u8>, bool)>;

fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(b)))
}

fn slow_image() -> (Vec<u8>, Blobs) {
    let root = tempfile::tempdir().unwrap();
    write_rootfs(root.path());
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(".", root.path()).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&tar)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": sha256_digest(&layer),
            "size": layer.len(),
        }],
    }))
    .unwrap();
    let blobs = vec![
        (sha256_digest(&config), config, false),
        (sha256_digest(&layer), layer, true),
    ];
    (manifest, blobs)
}

/// (status, content type, body, whether the body trickles) of a registry answer.
type Answer<'a> = (&'a str, &'a str, &'a [u8], bool);

const NOT_FOUND: Answer<'static> = (
    "404 Not Found",
    "application/json",
    b"{\"errors\":[]}",
    false,
);

/// Answers requests on one connection (keep-alive) until it closes.
fn serve_registry(
    stream: TcpStream,
    image: &(Vec<u8>, Blobs),
    gate: &AtomicBool,
    layer_requests: &AtomicUsize,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body)?;

        let (manifest, blobs) = image;
        let manifest_digest = sha256_digest(manifest);
        let (status, ctype, bytes, slow): Answer = if path == "/v2/" {
            ("200 OK", "application/json", b"{}", false)
        } else if let Some(r) = path.strip_prefix("/v2/stella/slow/manifests/") {
            if r == "1" || r == manifest_digest {
                (
                    "200 OK",
                    "application/vnd.oci.image.manifest.v1+json",
                    manifest,
                    false,
                )
            } else {
                NOT_FOUND
            }
        } else if let Some(d) = path.strip_prefix("/v2/stella/slow/blobs/") {
            match blobs.iter().find(|(digest, _, _)| digest == d) {
                Some((_, b, is_layer)) => (
                    "200 OK",
                    "application/octet-stream",
                    b.as_slice(),
                    *is_layer,
                ),
                None => NOT_FOUND,
            }
        } else {
            NOT_FOUND
        };
        let digest_header = if path.contains("/manifests/") && status.starts_with("200") {
            format!("Docker-Content-Digest: {manifest_digest}\r\n")
        } else {
            String::new()
        };
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{digest_header}\
             Docker-Distribution-API-Version: registry/2.0\r\n\r\n",
            bytes.len()
        )?;
        if method == "HEAD" {
            out.flush()?;
            continue;
        }
        if slow && method == "GET" {
            layer_requests.fetch_add(1, Ordering::SeqCst);
            let mut sent = 0;
            while sent < bytes.len() && !gate.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst)
            {
                out.write_all(&bytes[sent..sent + 1])?;
                out.flush()?;
                sent += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            out.write_all(&bytes[sent..])?;
        } else {
            out.write_all(bytes)?;
        }
        out.flush()?;
    }
}

// ---------------------------------------------------------------------------------------------
// The server and its clients

/// How a server is started (and started again with the same settings).
struct Setup {
    data: PathBuf,
    args: Vec<String>,
}

impl Setup {
    /// Distributed backends: `database_url`, `queue_url`, and blobs in a directory shared by
    /// every process of the test (the faults under test are the Db's and the bus's).
    fn new(data: &Path, database_url: &str, queue_url: &str) -> Setup {
        std::fs::create_dir_all(data).unwrap();
        let blobs = format!("file://{}", data.join("blobs").display());
        Setup {
            data: data.to_path_buf(),
            args: [
                "--database-url",
                database_url,
                "--queue-url",
                queue_url,
                "--blobs-url",
                &blobs,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }

    /// The embedded defaults in `data`.
    fn embedded(data: &Path) -> Setup {
        std::fs::create_dir_all(data).unwrap();
        Setup {
            data: data.to_path_buf(),
            args: Vec::new(),
        }
    }

    fn database_args(&self) -> Vec<&str> {
        match self.args.iter().position(|a| a == "--database-url") {
            Some(i) => vec!["--database-url", self.args[i + 1].as_str()],
            None => Vec::new(),
        }
    }

    fn start(&self) -> Server {
        let auth = self.data.join("no-registry-auth.json");
        serve_support::start_server(
            &self.data,
            &self.args,
            &[
                ("STELLA_WORKER_LEASE_SECS", LEASE_SECS),
                // No credentials from the invoking user's docker config.
                ("REGISTRY_AUTH_FILE", auth.to_str().unwrap()),
            ],
        )
    }

    fn client(&self, server: &Server) -> Client {
        let (id, secret) = create_client(&self.data, &self.database_args(), "acme");
        Client::login(&server.base, &id, &secret)
    }
}

/// Submits a scan with `key`, retrying until a 202 (the only acknowledgement) for up to 30 s.
/// Refusals while a backend is down (503) and refused connections are retried with the same
/// key, as a client must; every other answer fails the test. Returns the job id and how many
/// 503s were seen.
fn submit(client: &mut Client, image: &str, key: &str) -> (String, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut unavailable = 0;
    loop {
        let body = json!({"image": image, "sbom_format": "spdx"});
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            client.post_scan(&body, Some(key))
        }));
        match r {
            Ok(r) if r.status == 202 => {
                return (r.json()["job_id"].as_str().unwrap().to_owned(), unavailable);
            }
            Ok(r) if r.status == 503 => {
                assert_eq!(r.json()["error"], "unavailable", "{}", r.text);
                unavailable += 1;
            }
            // The DPoP replay cache lives in the queue's Redis: while that is down, a proof
            // cannot be checked and the request is refused (not acknowledged) too.
            Ok(r) if r.status == 401 || r.status >= 500 => unavailable += 1,
            Ok(r) => panic!("submitting {key}: {} {}", r.status, r.text),
            Err(_) => unavailable += 1,
        }
        assert!(Instant::now() < deadline, "{key} was never accepted");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn job(client: &mut Client, id: &str) -> Value {
    let r = client.get(&format!("/api/v1/scans/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// Polls the job until it is `completed` or `failed` (or `within` runs out).
fn wait_finished(client: &mut Client, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            client.get(&format!("/api/v1/scans/{id}"))
        }));
        if let Ok(r) = r
            && r.status == 200
        {
            let j = r.json();
            if matches!(j["status"].as_str(), Some("completed" | "failed")) {
                return j;
            }
            assert!(Instant::now() < deadline, "{id} did not finish: {j}");
        }
        assert!(Instant::now() < deadline, "{id} did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every message on `stream` of the bus at `queue_url`, read from the start by a group of the
/// test's own, decoded as JSON (dead letters decode as [`DeadLetter`] JSON too).
fn read_stream(
    rt: &tokio::runtime::Runtime,
    queue_url: &str,
    data: &Path,
    stream: &str,
) -> Vec<Value> {
    rt.block_on(async {
        let bus = stella_store::bus::open_bus(queue_url, data).await.unwrap();
        let group = format!("faults-test-{}", random_hex(4));
        bus.ensure_group(stream, &group).await.unwrap();
        let mut out = Vec::new();
        loop {
            let got = bus
                .claim(stream, &group, "t", 500, Duration::from_millis(300))
                .await
                .unwrap();
            if got.is_empty() {
                break;
            }
            for d in &got {
                out.push(serde_json::from_slice(&d.payload).unwrap());
                bus.ack(stream, &group, d).await.unwrap();
            }
        }
        out
    })
}

fn events_of<'a>(events: &'a [Value], job_id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["payload"]["scan_id"] == job_id)
        .collect()
}

/// Exactly one event for each job in `ids`, a `scan.completed`.
fn assert_one_completed_event_each(events: &[Value], ids: &[String]) {
    for id in ids {
        let mine = events_of(events, id);
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        assert_eq!(mine[0]["kind"], "scan.completed");
    }
}

/// A directory rootfs in `tmp` (see [`write_rootfs`]), as the image to submit.
fn local_image(tmp: &Path) -> String {
    let rootfs = tmp.join("rootfs");
    write_rootfs(&rootfs);
    format!("dir:{}", rootfs.display())
}

/// Submits `image` as `job-{i}` for each `i` of `numbers`; returns the job ids.
fn submit_numbered(client: &mut Client, image: &str, numbers: Range<usize>) -> Vec<String> {
    numbers
        .map(|i| submit(client, image, &format!("job-{i}")).0)
        .collect()
}

/// Submits the slow registry's image (`slow`), then [`submit_numbered`], and waits until the
/// worker is inside the slow job's pull: the single worker is held there, so the other jobs
/// wait in the queue. Returns the job ids, the slow job's first.
fn submit_behind_slow_job(
    client: &mut Client,
    registry: &SlowRegistry,
    image: &str,
    numbers: Range<usize>,
) -> Vec<String> {
    let (slow, _) = submit(client, &registry.image(), "slow");
    let mut ids = vec![slow];
    ids.extend(submit_numbered(client, image, numbers));
    registry.wait_pulling();
    ids
}

/// Waits for each job in `ids` to finish, and checks that it completed and that its row in the
/// Db says so, with its event recorded as published.
fn assert_all_completed(
    client: &mut Client,
    rt: &tokio::runtime::Runtime,
    database_url: &str,
    ids: &[String],
) {
    for id in ids {
        let j = wait_finished(client, id, Duration::from_secs(40));
        assert_eq!(j["status"], "completed", "{j}");
        let row = db_job_settled(rt, database_url, id);
        assert_eq!(
            row.status,
            stella_store::db::JobStatus::Completed,
            "{row:?}"
        );
        assert!(row.event_published, "{row:?}");
    }
}

/// The job's row once its event is recorded as published (the API shows a job finished as
/// soon as the Db does; the event follows), waiting up to 10 s for that.
fn db_job_settled(
    rt: &tokio::runtime::Runtime,
    database_url: &str,
    id: &str,
) -> stella_store::db::Job {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = db_job(rt, database_url, id);
        if row.event_published || Instant::now() > deadline {
            return row;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The job's row, read straight from the Db (the truth, not the API's view of it).
fn db_job(rt: &tokio::runtime::Runtime, database_url: &str, id: &str) -> stella_store::db::Job {
    rt.block_on(async {
        let db = stella_store::db::open_db(database_url).await.unwrap();
        db.get_job("acme", id).await.unwrap().expect("job row")
    })
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 mid-scan

/// A worker killed with SIGKILL while its job is `running` (inside the layer pull): a second
/// process with the same settings takes the job over once the lease ran out, and it completes
/// once: one `completed` row, attempts 2, one `scan.completed` event.
fn kill_nine_mid_scan(queue: &str) {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let pg = FreshDatabase::create("stella_faults");
    let (queue_url, _redis) = match queue {
        "redis" => {
            let r = RedisDb::pick();
            (r.url.clone(), Some(r))
        }
        _ => (format!("{NATS_URL}?ack_wait_ms=3000"), None),
    };
    let setup = Setup::new(&tmp.path().join("data"), &pg.url, &queue_url);
    if queue == "nats" {
        reset_nats(&rt, &queue_url, &setup.data);
    }
    let registry = SlowRegistry::start();
    let started = Instant::now();

    let a = setup.start();
    let mut client = setup.client(&a);
    let (id, _) = submit(&mut client, &registry.image(), "kill-9");
    // Running in the Db, and inside the pull of the layer.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let j = job(&mut client, &id);
        if j["status"] == "running" && registry.layer_requests.load(Ordering::SeqCst) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "job never got into the pull: {j}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Server's drop is Child::kill: SIGKILL on Unix, no graceful shutdown.
    drop(a);
    assert_eq!(job_status_in_db(&rt, &pg.url, &id), "running");
    registry.open();

    let b = setup.start();
    let mut client = setup.client(&b);
    let done = wait_finished(&mut client, &id, Duration::from_secs(30));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["summary"]["packages"], 2, "{done}");
    let row = db_job_settled(&rt, &pg.url, &id);
    assert_eq!(row.status, stella_store::db::JobStatus::Completed);
    assert_eq!(row.attempts, 2);
    assert!(row.event_published);
    // Give a duplicate delivery (the sweeper's, a late reclaim) time to show up, then count.
    std::thread::sleep(Duration::from_secs(4));
    let events = read_stream(&rt, &queue_url, &setup.data, stella_service::EVENTS_STREAM);
    let mine = events_of(&events, &id);
    assert_eq!(mine.len(), 1, "one event for the job: {mine:?}");
    assert_eq!(mine[0]["kind"], "scan.completed");
    // Exactly one completed row for the job in the Db.
    let n: i64 = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.query_one(
            "SELECT count(*) FROM scan_jobs WHERE id = $1 AND status = 'completed'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
    });
    assert_eq!(n, 1);
    drop(b);
    if queue == "nats" {
        reset_nats(&rt, &queue_url, &setup.data);
    }
    eprintln!("kill -9 mid-scan on {queue}: {:?}", started.elapsed());
}

fn job_status_in_db(rt: &tokio::runtime::Runtime, url: &str, id: &str) -> &'static str {
    db_job(rt, url, id).status.as_str()
}

#[test]
fn kill_nine_mid_scan_on_postgres_and_redis() {
    if !services_available(&[POSTGRES, REDIS]) {
        return;
    }
    kill_nine_mid_scan("redis");
}

/// NATS streams are shared by every run on the machine's server (fixed names): this test
/// deletes them before and after, so it must not run beside another test on NATS.
#[test]
fn kill_nine_mid_scan_on_postgres_and_nats() {
    if !services_available(&[POSTGRES, NATS]) {
        return;
    }
    kill_nine_mid_scan("nats");
}

// ---------------------------------------------------------------------------------------------
// 2. Redis restarts

/// Ten jobs acknowledged around a Redis restart, while a slow job is in flight: every one
/// completes, once. With `appendonly` the streams survive the restart; without it they are
/// lost, and the Db sweeper publishes the jobs again.
fn redis_restart(appendonly: bool) {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let redis_dir = tmp.path().join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let Some(mut redis) = OwnRedis::start(&redis_dir, appendonly) else {
        return;
    };
    let pg = FreshDatabase::create("stella_faults");
    let setup = Setup::new(&tmp.path().join("data"), &pg.url, &redis.url());
    let image = local_image(tmp.path());
    let registry = SlowRegistry::start();
    let started = Instant::now();

    let server = setup.start();
    let mut client = setup.client(&server);
    let mut ids = submit_behind_slow_job(&mut client, &registry, &image, 0..5);
    let slow = ids[0].clone();
    redis.kill();
    // While Redis is down a submission is refused, never acknowledged.
    let body = json!({"image": image, "sbom_format": "spdx"});
    let r = client.post_scan(&body, Some("job-5"));
    assert_ne!(
        r.status, 202,
        "acknowledged with the queue down: {}",
        r.text
    );
    std::thread::sleep(Duration::from_millis(500));
    redis.up();
    // job-5 is retried with the key of the refused request.
    ids.extend(submit_numbered(&mut client, &image, 5..10));
    registry.open();

    assert_all_completed(&mut client, &rt, &pg.url, &ids);
    // Redis holds no job state: the job in flight across the restart ran once. (A second
    // attempt here once exposed a layer sniffed from a single trickled byte as plain tar.)
    assert_eq!(db_job(&rt, &pg.url, &slow).attempts, 1);
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 11, "one job per key: {ids:?}");
    if appendonly {
        // The events stream survived too: one `scan.completed` per job.
        std::thread::sleep(Duration::from_secs(2));
        let events = read_stream(
            &rt,
            &redis.url(),
            &setup.data,
            stella_service::EVENTS_STREAM,
        );
        assert_one_completed_event_each(&events, &ids);
    }
    drop(server);
    eprintln!(
        "redis restart (appendonly {appendonly}): {:?}",
        started.elapsed()
    );
}

#[test]
fn redis_restart_with_aof_loses_no_acknowledged_job() {
    if !services_available(&[POSTGRES]) {
        return;
    }
    redis_restart(true);
}

#[test]
fn redis_restart_without_persistence_is_recovered_from_the_db() {
    if !services_available(&[POSTGRES]) {
        return;
    }
    redis_restart(false);
}

// ---------------------------------------------------------------------------------------------
// 3. PostgreSQL restart

/// PostgreSQL stopped (`-m fast`) and started again while a job is in flight: the API answers
/// 503 meanwhile (not a panic, not a hang), recovers without restarting stella, and every
/// acknowledged job completes once.
#[test]
fn postgres_restart_answers_503_and_recovers() {
    if !services_available(&[REDIS]) {
        return;
    }
    let Some(pg) = OwnPostgres::start() else {
        return;
    };
    let rt = runtime();
    let redis = RedisDb::pick();
    let tmp = tempfile::tempdir().unwrap();
    let setup = Setup::new(&tmp.path().join("data"), &pg.url(), &redis.url);
    let image = local_image(tmp.path());
    let registry = SlowRegistry::start();
    let started = Instant::now();

    let server = setup.start();
    let mut client = setup.client(&server);
    let mut ids = submit_behind_slow_job(&mut client, &registry, &image, 0..3);

    pg.stop("fast");
    let body = json!({"image": image, "sbom_format": "spdx"});
    let r = client.post_scan(&body, Some("job-3"));
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["error"], "unavailable", "{}", r.text);
    let r = client.get(&format!("/api/v1/scans/{}", ids[1]));
    assert_eq!(r.status, 503, "{}", r.text);
    // The slow job's scan now ends while PostgreSQL is down; it stays down longer than the
    // worker's in-job retries of a failed scan (1 s + 2 s) would last: storing must wait for
    // the Db, not burn the job's attempts.
    registry.open();
    std::thread::sleep(Duration::from_secs(5));
    pg.up();

    ids.extend(submit_numbered(&mut client, &image, 3..6));
    assert_all_completed(&mut client, &rt, &pg.url(), &ids);
    assert_eq!(
        db_job(&rt, &pg.url(), &ids[0]).attempts,
        1,
        "the slow job ran once"
    );
    std::thread::sleep(Duration::from_secs(2));
    let events = read_stream(&rt, &redis.url, &setup.data, stella_service::EVENTS_STREAM);
    assert_one_completed_event_each(&events, &ids);
    drop(server);
    eprintln!("postgres restart: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 4. Poison job

/// A job whose target cannot be scanned ends `failed` after 3 attempts with its error, one
/// `scan.failed` event, and its message on the dead-letter stream.
fn poison(setup: &Setup, queue_url: &str, rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    let server = setup.start();
    let mut client = setup.client(&server);
    let missing = setup.data.join("no-such-rootfs");
    let (id, _) = submit(&mut client, &format!("dir:{}", missing.display()), "poison");
    let j = wait_finished(&mut client, &id, Duration::from_secs(40));
    assert_eq!(j["status"], "failed", "{j}");
    assert_eq!(j["attempts"], 3, "{j}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("no-such-rootfs"),
        "the error names the target: {j}"
    );
    // The API shows `failed` as soon as the Db does; the event and the dead letter follow.
    // Read while the server runs (the embedded bus is a SQLite file in WAL mode, shared).
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = read_stream(rt, queue_url, &setup.data, stella_service::EVENTS_STREAM);
        if !events_of(&events, &id).is_empty() || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mine = events_of(&events, &id);
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["kind"], "scan.failed");
    assert!(
        mine[0]["payload"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-rootfs"),
        "{}",
        mine[0]
    );

    let dead_stream = format!("{}:dead", stella_service::JOBS_STREAM);
    let of_job = |l: &&DeadLetter| {
        let payload: Value =
            serde_json::from_slice(&l.original_payload().unwrap()).unwrap_or(Value::Null);
        payload["job_id"] == id.as_str()
    };
    let letters: Vec<DeadLetter> = loop {
        let letters: Vec<DeadLetter> = read_stream(rt, queue_url, &setup.data, &dead_stream)
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        if letters.iter().any(|l| of_job(&l)) || Instant::now() > deadline {
            break letters;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mine: Vec<&DeadLetter> = letters.iter().filter(of_job).collect();
    assert_eq!(mine.len(), 1, "{letters:?}");
    assert_eq!(mine[0].stream, stella_service::JOBS_STREAM);
    assert!(mine[0].error.contains("no-such-rootfs"), "{:?}", mine[0]);
    drop(server);
    eprintln!("poison job on {queue_url}: {:?}", started.elapsed());
}

#[test]
fn poison_job_is_dead_lettered_on_postgres_and_redis() {
    if !services_available(&[POSTGRES, REDIS]) {
        return;
    }
    let rt = runtime();
    let pg = FreshDatabase::create("stella_faults");
    let redis = RedisDb::pick();
    let tmp = tempfile::tempdir().unwrap();
    let setup = Setup::new(&tmp.path().join("data"), &pg.url, &redis.url);
    poison(&setup, &redis.url, &rt);
}

#[test]
fn poison_job_is_dead_lettered_on_the_embedded_defaults() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let setup = Setup::embedded(&tmp.path().join("data"));
    poison(&setup, "memory", &rt);
}
