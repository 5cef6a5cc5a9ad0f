//! Shared by the `stella serve` tests: the server process, clients made with
//! `stella auth client create`, a client that logs in with DPoP-bound tokens, and a tiny rootfs
//! to scan.

#![allow(dead_code)]

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
pub struct Server {
    child: Child,
    pub base: String,
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

/// Starts `stella serve --allow-local-targets` on a free loopback port with its data in
/// `data`, plus `args` and `envs`, and waits until it answers. No `STELLA_*` backend variable
/// (nor AWS session or profile) of the caller's environment leaks in: the backends are exactly
/// what `args` say.
pub fn start_server(data: &Path, args: &[String], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(["serve", "--allow-local-targets", "--listen"])
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
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start stella serve");
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
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not come up");
        }
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
