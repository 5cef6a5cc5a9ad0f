//! Shared by the `stella serve` tests: the server process, clients made with
//! `stella auth client create`, a client that logs in with DPoP-bound tokens, a tiny rootfs
//! to scan, and the machine's services (a check that they are up, a fresh PostgreSQL database, a
//! flushed Redis logical database).

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(b: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// `b` as lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).unwrap();
    hex(&b)
}

/// A loopback port that was free when asked.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (SIGKILL on Unix) and reaped when the guard drops, however the test
/// ends.
pub struct KillOnDrop(pub Child);

impl Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server process, killed when the test ends however it ends.
pub struct Server {
    child: KillOnDrop,
    pub base: String,
}

// ---------------------------------------------------------------------------------------------
// The machine's services

/// (name, address) of the machine's services, for [`services_available`].
pub const POSTGRES: (&str, &str) = ("PostgreSQL", "127.0.0.1:5432");
pub const REDIS: (&str, &str) = ("Redis", "127.0.0.1:6379");
pub const NATS: (&str, &str) = ("NATS", "127.0.0.1:4222");

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const POSTGRES_BASE: &str = "postgres://postgres@127.0.0.1:5432";
const REDIS_BASE: &str = "redis://127.0.0.1:6379";
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Panics under `CI`, else prints why the test is skipped; returns false (for `if !…`).
pub fn skip(why: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{why}, and CI is set: failing");
    }
    eprintln!("SKIPPED: {why} (set CI to make this fail)");
    false
}

/// Whether `addr` accepts a TCP connection within 3 s.
pub fn reachable(addr: &str) -> bool {
    let sock = addr.to_socket_addrs().unwrap().next().unwrap();
    TcpStream::connect_timeout(&sock, Duration::from_secs(3)).is_ok()
}

/// Whether every service in `which` (name, address) accepts a TCP connection. When one does
/// not: panics under `CI`, else prints why the test is skipped and returns false (see [`skip`]).
pub fn services_available(which: &[(&str, &str)]) -> bool {
    for (name, addr) in which {
        if !reachable(addr) {
            return skip(&format!("{name} at {addr} is not reachable"));
        }
    }
    true
}

/// A multi-threaded runtime with two workers, for the tests' own async calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh database on the machine's PostgreSQL (`postgres` user, trust auth), named
/// `{prefix}_{random hex}`, dropped (forcibly) on drop.
pub struct FreshDatabase {
    pub name: String,
    pub url: String,
    rt: tokio::runtime::Runtime,
}

impl FreshDatabase {
    pub fn create(prefix: &str) -> FreshDatabase {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let name = format!("{prefix}_{}", random_hex(6));
        rt.block_on(postgres_admin(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("{e}"));
        FreshDatabase {
            url: format!("{POSTGRES_BASE}/{name}"),
            name,
            rt,
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.rt.block_on(postgres_admin(&sql)) {
            // A second panic while a failing test unwinds would abort the whole binary.
            if std::thread::panicking() {
                eprintln!("{e}");
            } else {
                panic!("{e}");
            }
        }
    }
}

/// Runs `sql` as `postgres` on the machine's PostgreSQL.
async fn postgres_admin(sql: &str) -> Result<(), String> {
    let (admin, connection) = tokio_postgres::connect(POSTGRES_ADMIN_URL, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect to PostgreSQL for `{sql}`: {e}"))?;
    tokio::spawn(connection);
    admin
        .batch_execute(sql)
        .await
        .map_err(|e| format!("{sql}: {e}"))
}

/// A logical database (1..=15) of the machine's Redis, flushed when picked and on drop.
pub struct RedisDb {
    pub url: String,
}

impl RedisDb {
    /// The tests of one binary may run in parallel: each pick is a different db (from a random
    /// start, so that runs of other binaries are unlikely to collide either).
    pub fn pick() -> RedisDb {
        static START: OnceLock<usize> = OnceLock::new();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let start = *START.get_or_init(|| {
            let mut b = [0u8; 1];
            getrandom::fill(&mut b).unwrap();
            usize::from(b[0])
        });
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let db = RedisDb {
            url: format!("{REDIS_BASE}/{}", 1 + (start + n) % 15),
        };
        db.flush()
            .unwrap_or_else(|e| panic!("FLUSHDB of {}: {e}", db.url));
        db
    }

    fn flush(&self) -> redis::RedisResult<()> {
        let mut con = redis::Client::open(self.url.as_str())?.get_connection()?;
        redis::cmd("FLUSHDB").query::<()>(&mut con)
    }
}

impl Drop for RedisDb {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            // A second panic while a failing test unwinds would abort the whole binary.
            if std::thread::panicking() {
                eprintln!("FLUSHDB of {}: {e}", self.url);
            } else {
                panic!("FLUSHDB of {}: {e}", self.url);
            }
        }
    }
}

/// Deletes the service's JetStream streams (and their dead-letter streams) on the NATS server
/// at `url`.
pub fn reset_nats(rt: &tokio::runtime::Runtime, url: &str, data: &Path) {
    rt.block_on(async {
        let bus = stella_store::bus::open_bus(url, data).await.unwrap();
        for stream in [stella_service::JOBS_STREAM, stella_service::EVENTS_STREAM] {
            let dead = bus.dead_letter_stream(stream);
            bus.delete_stream(stream).await.unwrap();
            bus.delete_stream(&dead).await.unwrap();
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The server and its clients

/// Starts `stella serve --allow-local-targets` on a free loopback port with its data in
/// `data`, plus `args` and `envs`, and waits until it answers. No `STELLA_*` backend variable
/// (nor AWS session or profile) of the caller's environment leaks in: the backends are exactly
/// what `args` say.
pub fn start_server(data: &Path, args: &[String], envs: &[(&str, &str)]) -> Server {
    start_server_with(data, true, args, envs)
}

/// [`start_server`], choosing whether API clients may scan local paths.
pub fn start_server_with(
    data: &Path,
    allow_local_targets: bool,
    args: &[String],
    envs: &[(&str, &str)],
) -> Server {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stella"));
    command.arg("serve");
    if allow_local_targets {
        command.arg("--allow-local-targets");
    }
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env("STELLA_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .env_remove("STELLA_DATABASE_URL")
        .env_remove("STELLA_QUEUE_URL")
        .env_remove("STELLA_BLOBS_URL")
        .env_remove("STELLA_BLOBS_ENDPOINT")
        .env_remove("STELLA_BLOBS_REGION")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    // Killed by its guard if it does not come up.
    let mut child = KillOnDrop(command.spawn().expect("start stella serve"));
    let http = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("stella serve exited before it came up: {status}");
        }
        let url = format!("{base}/.well-known/openid-configuration");
        if let Ok(r) = http.get(&url).send()
            && r.status().is_success()
        {
            return Server { child, base };
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `stella auth client create` for `tenant` with both scanner scopes (plus `args`, such as
/// `--database-url`); returns (client id, secret).
pub fn create_client(data: &Path, args: &[&str], tenant: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["auth", "client", "create", "--tenant", tenant])
        .args(["--scopes", "scanner.scans.enqueue,scanner.scans.read"])
        .args(args)
        .args(["--format", "json"])
        .env("STELLA_DATA_DIR", data)
        .env_remove("STELLA_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A client: its DPoP key, its token, and the last nonce the server gave it.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    key: p256::ecdsa::SigningKey,
    pub token: String,
    nonce: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl Client {
    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        let jwk = stella_authority::PublicKey::P256(*self.key.verifying_key()).to_jwk();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).unwrap();
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({"jti": b64(jti), "htm": method, "htu": url, "iat": iat});
        if let Some(n) = &self.nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            claims["ath"] = json!(b64(Sha256::digest(t.as_bytes())));
        }
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.to_bytes()))
    }

    /// Sends a request built by `build` (given a fresh proof), retrying once on
    /// `use_dpop_nonce` with the nonce the server sent.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        token: Option<&str>,
        build: impl Fn(&reqwest::blocking::Client, String) -> reqwest::blocking::RequestBuilder,
    ) -> Reply {
        for _ in 0..2 {
            let proof = self.proof(method, url, token);
            let r = build(&self.http, proof).send().unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let text = r.text().unwrap();
            if let Some(n) = headers.get("dpop-nonce") {
                self.nonce = Some(n.to_str().unwrap().to_owned());
            }
            let reply = Reply {
                status,
                headers,
                text,
            };
            if reply.json()["error"] == "use_dpop_nonce" {
                continue;
            }
            return reply;
        }
        panic!("the server kept asking for a new nonce");
    }

    pub fn login(base: &str, id: &str, secret: &str) -> Client {
        use p256::elliptic_curve::Generate;
        let mut c = Client {
            http: reqwest::blocking::Client::new(),
            base: base.to_owned(),
            key: p256::ecdsa::SigningKey::generate(),
            token: String::new(),
            nonce: None,
        };
        let url = format!("{base}/token");
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        let r = c.send("POST", &url, None, |http, proof| {
            http.post(&url)
                .header("authorization", &basic)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("dpop", proof)
                .body("grant_type=client_credentials")
        });
        assert_eq!(r.status, 200, "{}", r.text);
        c.token = r.json()["access_token"].as_str().unwrap().to_owned();
        c
    }

    pub fn get(&mut self, path: &str) -> Reply {
        let url = format!("{}{}", self.base, path.split('?').next().unwrap());
        let full = format!("{}{}", self.base, path);
        let token = self.token.clone();
        self.send("GET", &url, Some(&token), |http, proof| {
            http.get(&full)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
        })
    }

    /// `POST /api/v1/scans` with `idempotency_key`, checking the 202 answer: a `scan-…` job id,
    /// status `queued` and its `Location`. Returns the reply and the job id.
    pub fn submit_accepted(&mut self, body: &Value, idempotency_key: &str) -> (Reply, String) {
        let r = self.post_scan(body, Some(idempotency_key));
        assert_eq!(r.status, 202, "{}", r.text);
        let job_id = r.json()["job_id"].as_str().unwrap().to_owned();
        assert!(job_id.starts_with("scan-"), "{job_id}");
        assert_eq!(r.json()["status"], "queued");
        assert_eq!(
            r.headers.get("location").unwrap().to_str().unwrap(),
            format!("/api/v1/scans/{job_id}")
        );
        (r, job_id)
    }

    pub fn post_scan(&mut self, body: &Value, idempotency_key: Option<&str>) -> Reply {
        let url = format!("{}/api/v1/scans", self.base);
        let token = self.token.clone();
        self.send("POST", &url, Some(&token), |http, proof| {
            let mut r = http
                .post(&url)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(k) = idempotency_key {
                r = r.header("idempotency-key", k);
            }
            r
        })
    }

    /// Polls the job every `every` until it is `completed` and returns it; fails the test when
    /// the job fails or `within` runs out.
    pub fn wait_completed(&mut self, job_id: &str, within: Duration, every: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(&format!("/api/v1/scans/{job_id}"));
            assert_eq!(r.status, 200, "{}", r.text);
            let job = r.json();
            match job["status"].as_str().unwrap() {
                "completed" => return job,
                "failed" => panic!("scan failed: {job}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "scan did not complete: {job}");
            std::thread::sleep(every);
        }
    }
}

/// The `name` of each entry of `list` (an SBOM's `packages` or `components`; an array).
pub fn names_of(list: &Value) -> impl Iterator<Item = &str> {
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
}

/// A Debian rootfs with two dpkg packages (zlib1g, libc6).
pub fn write_rootfs(root: &Path) {
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    )
    .unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: zlib1g\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Maintainer: Mark Brown <broonie@debian.org>\nArchitecture: amd64\nSource: zlib\n\
         Version: 1:1.2.13.dfsg-1\nDescription: compression library - runtime\n\n\
         Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n\
         Architecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u7\n\
         Description: GNU C Library: Shared libraries\n\n",
    )
    .unwrap();
}
