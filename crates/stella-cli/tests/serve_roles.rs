//! `stella serve --config stella.toml --role …`: every role in its own process, wired by one
//! config file, on PostgreSQL (a fresh database), Redis (a random logical database) and a shared
//! artifact directory. Four real processes: the gateway, the authority, the scanner web service
//! and the scanner worker, each told its role on the command line; a real client talks only to
//! the gateway.
//!
//! It checks what only separate processes can show: the gateway routes `/token` to the
//! authority process and `/api/…` to the scanner-web process; scanner-web verifies tokens with
//! the keys it fetched from the authority's `/jwks`; the worker process runs the job; a DPoP
//! proof used through the gateway is refused when replayed straight at scanner-web (the replay
//! cache is the shared Redis); and with the authority down, `/token` answers 502 at the gateway
//! while tokens already issued keep working.

mod serve_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serve_support::{
    FreshDatabase, KillOnDrop, POSTGRES, REDIS, RedisDb, create_client, free_port, names_of,
    services_available, write_rootfs,
};
use stella_authority::DpopKey;

/// A role process, killed when the test ends.
struct RoleProcess {
    child: KillOnDrop,
    role: &'static str,
}

/// `stella serve --config CONFIG --role ROLE` with no `STELLA_*` variable of the caller's
/// environment leaking in: the file is the only source of settings.
fn spawn_role(config: &Path, role: &'static str) -> RoleProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stella"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .args(["--role", role])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, _) in std::env::vars() {
        if k.starts_with("STELLA_") {
            cmd.env_remove(k);
        }
    }
    RoleProcess {
        child: KillOnDrop(cmd.spawn().expect("start stella serve")),
        role,
    }
}

/// Waits until `url` answers 2xx, failing if `process` exits first.
fn wait_ready(process: &mut RoleProcess, url: &str) {
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("the {} process exited: {status}", process.role);
        }
        if let Ok(r) = http.get(url).send()
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client with its own DPoP key, so the test can also replay one of its proofs by hand.
struct Caller {
    http: reqwest::blocking::Client,
    key: DpopKey,
    token: String,
    nonce: Option<String>,
}

struct Sent {
    status: u16,
    body: Value,
    proof: String,
}

impl Caller {
    fn new() -> Caller {
        Caller {
            http: reqwest::blocking::Client::new(),
            key: DpopKey::generate(),
            token: String::new(),
            nonce: None,
        }
    }

    /// Sends `method url` (to `send_to`, which may be another origin than `url`'s), with a
    /// fresh proof for `url`, retrying once when the server asks for a nonce.
    fn call(&mut self, method: &str, url: &str, send_to: &str, body: Option<&Value>) -> Sent {
        for _ in 0..2 {
            let token = (!self.token.is_empty()).then(|| self.token.clone());
            let proof = self
                .key
                .proof(method, url, self.nonce.as_deref(), token.as_deref());
            let sent = self.send_with(method, send_to, body, &proof);
            if sent.body["error"] == "use_dpop_nonce" {
                continue;
            }
            return sent;
        }
        panic!("the server kept asking for a new nonce");
    }

    fn send_with(
        &mut self,
        method: &str,
        send_to: &str,
        body: Option<&Value>,
        proof: &str,
    ) -> Sent {
        let mut req = match method {
            "POST" => self.http.post(send_to),
            _ => self.http.get(send_to),
        }
        .header("dpop", proof);
        if !self.token.is_empty() {
            req = req.header("authorization", format!("DPoP {}", self.token));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().unwrap();
        if let Some(n) = r.headers().get("dpop-nonce") {
            self.nonce = Some(n.to_str().unwrap().to_owned());
        }
        let status = r.status().as_u16();
        let body = r.json().unwrap_or(Value::Null);
        Sent {
            status,
            body,
            proof: proof.to_owned(),
        }
    }

    fn login(&mut self, base: &str, id: &str, secret: &str) -> u16 {
        let url = format!("{base}/token");
        for _ in 0..2 {
            let proof = self.key.proof("POST", &url, self.nonce.as_deref(), None);
            let r = self
                .http
                .post(&url)
                .basic_auth(id, Some(secret))
                .header("dpop", proof)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .unwrap();
            if let Some(n) = r.headers().get("dpop-nonce") {
                self.nonce = Some(n.to_str().unwrap().to_owned());
            }
            let status = r.status().as_u16();
            let body: Value = r.json().unwrap_or(Value::Null);
            if body["error"] == "use_dpop_nonce" {
                continue;
            }
            if status == 200 {
                self.token = body["access_token"].as_str().unwrap().to_owned();
            }
            return status;
        }
        panic!("the authority kept asking for a new nonce");
    }
}

#[test]
fn each_role_in_its_own_process_behind_the_gateway() {
    if !services_available(&[POSTGRES, REDIS]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let rootfs = tmp.path().join("rootfs");
    write_rootfs(&rootfs);

    // Both dropped after the role processes (declared later), however the test ends.
    let database = FreshDatabase::create("stella_roles");
    let redis = RedisDb::pick();
    let (database_url, redis_url) = (database.url.as_str(), redis.url.as_str());

    let (gateway_port, authority_port, web_port) = (free_port(), free_port(), free_port());
    let public = format!("http://127.0.0.1:{gateway_port}");
    let config = tmp.path().join("stella.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:{gateway_port}"
public_url = "{public}"
data_dir = "{data}"
allow_local_targets = true

[database]
url = "{database_url}"

[queue]
url = "{redis_url}"

[blobs]
url = "file://{data}/artifacts"

[authority]
listen = "127.0.0.1:{authority_port}"
url = "http://127.0.0.1:{authority_port}"

[scanner_web]
listen = "127.0.0.1:{web_port}"
url = "http://127.0.0.1:{web_port}"

[worker]
lease_secs = 5
"#,
            data = data.display()
        ),
    )
    .unwrap();

    let mut authority = spawn_role(&config, "authority");
    wait_ready(
        &mut authority,
        &format!("http://127.0.0.1:{authority_port}/jwks"),
    );
    let mut web = spawn_role(&config, "scanner-web");
    let _worker = spawn_role(&config, "scanner-worker");
    let mut gateway = spawn_role(&config, "gateway");
    wait_ready(
        &mut gateway,
        &format!("{public}/.well-known/openid-configuration"),
    );
    // scanner-web is up once it answers (401 without a token is an answer).
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("http://127.0.0.1:{web_port}/api/v1/scans")).is_err() {
        if let Ok(Some(s)) = web.child.try_wait() {
            panic!("scanner-web exited: {s}");
        }
        assert!(Instant::now() < deadline, "scanner-web did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The client exists in the shared database; the token comes through the gateway.
    let (id, secret) = create_client(&data, &["--database-url", database_url], "acme");
    let mut caller = Caller::new();
    assert_eq!(caller.login(&public, &id, &secret), 200);

    let scans = format!("{public}/api/v1/scans");
    let image = format!("dir:{}", rootfs.display());
    let sent = caller.call(
        "POST",
        &scans,
        &scans,
        Some(&json!({"image": image, "sbom_format": "spdx"})),
    );
    assert_eq!(sent.status, 202, "{}", sent.body);
    let job = sent.body["job_id"].as_str().unwrap().to_owned();

    // The same proof, replayed straight at the scanner-web process, is refused: the jti
    // is in the shared Redis replay cache.
    let direct = format!("http://127.0.0.1:{web_port}/api/v1/scans");
    let replay = caller.send_with("POST", &direct, Some(&json!({"image": image})), &sent.proof);
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert_eq!(
        replay.body["error"], "invalid_dpop_proof",
        "{}",
        replay.body
    );

    // The worker process runs it.
    let status_url = format!("{scans}/{job}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let s = caller.call("GET", &status_url, &status_url, None);
        assert_eq!(s.status, 200, "{}", s.body);
        match s.body["status"].as_str() {
            Some("completed") => break s.body,
            Some("failed") => panic!("scan failed: {}", s.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "scan did not finish: {}", s.body);
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["summary"]["packages"], 2, "{done}");
    let sbom_url = format!("{status_url}/sbom");
    let sbom = caller.call("GET", &sbom_url, &format!("{sbom_url}?format=spdx"), None);
    assert_eq!(sbom.status, 200);
    let names: Vec<&str> = names_of(&sbom.body["packages"]).collect();
    assert!(names.contains(&"zlib1g"), "{names:?}");

    // With the authority down: the gateway answers 502 for /token, naming the role, and
    // the token already issued keeps working (scanner-web holds the keys it fetched).
    drop(authority);
    let late = Caller::new();
    let token_url = format!("{public}/token");
    let proof = late.key.proof("POST", &token_url, None, None);
    let r = reqwest::blocking::Client::new()
        .post(&token_url)
        .basic_auth(&id, Some(&secret))
        .header("dpop", proof)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "bad_gateway", "{body}");
    let again = caller.call("GET", &status_url, &status_url, None);
    assert_eq!(again.status, 200, "{}", again.body);
    drop(gateway);
}

#[test]
fn a_bad_config_file_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("stella.toml");
    std::fs::write(&config, "[databse]\nurl = \"postgres://x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("STELLA_DATA_DIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stella.toml") && err.contains("databse"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["serve", "--role", "gateway,web"])
        .env("STELLA_DATA_DIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scanner-web"), "{err}");
}
