//! `stella serve` end to end: a real server process on loopback, a real client with
//! DPoP-bound tokens, a real scan of a directory rootfs, and a restart on the same data dir.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(b: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// The server process, killed when the test ends however it ends.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(data: &Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["serve", "--allow-local-targets", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("STELLA_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .env_remove("STELLA_DATABASE_URL")
        .env_remove("STELLA_QUEUE_URL")
        .env_remove("STELLA_BLOBS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start stella serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = format!("{}/.well-known/openid-configuration", server.base);
        if let Ok(r) = http.get(&url).send()
            && r.status().is_success()
        {
            return server;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_client(data: &Path, tenant: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["auth", "client", "create", "--tenant", tenant])
        .args(["--scopes", "scanner.scans.enqueue,scanner.scans.read"])
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
struct Client {
    http: reqwest::blocking::Client,
    base: String,
    key: p256::ecdsa::SigningKey,
    token: String,
    nonce: Option<String>,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
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

    fn login(base: &str, id: &str, secret: &str) -> Client {
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

    fn get(&mut self, path: &str) -> Reply {
        let url = format!("{}{}", self.base, path.split('?').next().unwrap());
        let full = format!("{}{}", self.base, path);
        let token = self.token.clone();
        self.send("GET", &url, Some(&token), |http, proof| {
            http.get(&full)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
        })
    }

    fn post_scan(&mut self, body: &Value, idempotency_key: Option<&str>) -> Reply {
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
}

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

fn write_rootfs(root: &Path) {
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

#[test]
fn serve_runs_a_scan_end_to_end_and_keeps_it_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let rootfs = tmp.path().join("rootfs");
    write_rootfs(&rootfs);
    let (id_a, secret_a) = create_client(&data, "acme");
    let (id_b, secret_b) = create_client(&data, "globex");

    let server = start_server(&data);
    let mut a = Client::login(&server.base, &id_a, &secret_a);
    let image = format!("dir:{}", rootfs.display());
    let body = json!({"image": image, "sbom_format": "spdx"});

    let r = a.post_scan(&body, Some("build-42"));
    assert_eq!(r.status, 202, "{}", r.text);
    let job_id = r.json()["job_id"].as_str().unwrap().to_owned();
    assert!(job_id.starts_with("scan-"), "{job_id}");
    assert_eq!(r.json()["status"], "queued");
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/api/v1/scans/{job_id}")
    );
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

    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let r = a.get(&format!("/api/v1/scans/{job_id}"));
        assert_eq!(r.status, 200, "{}", r.text);
        let job = r.json();
        match job["status"].as_str().unwrap() {
            "completed" => break job,
            "failed" => panic!("scan failed: {job}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "scan did not complete: {job}");
        std::thread::sleep(Duration::from_millis(200));
    };
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
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
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
    let server = start_server(&data);
    let mut a = Client::login(&server.base, &id_a, &secret_a);
    let r = a.get(&format!("/api/v1/scans/{job_id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "completed");
    let sbom = a.get(&format!("/api/v1/scans/{job_id}/sbom"));
    assert_eq!(sbom.status, 200, "{}", sbom.text);
    assert_eq!(sbom.json()["spdxVersion"], "SPDX-2.3");
}
