//! Test support: loopback registries started by `tests/registry/start-registries.sh`, test images
//! built by `build-test-image.sh` and pushed by `push-image.sh`, a tiny HTTP server, and a token
//! issuer that signs ES256 JWTs the registry accepts.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/registry")
}

/// Whether the registry tools are installed. Without them a test is skipped with a printed
/// reason, except under CI (env `CI` set), where that is a failure.
pub fn registry_tools_available() -> bool {
    // start-registries.sh honours the same override.
    let registry = std::env::var("STELLA_DOCKER_REGISTRY")
        .unwrap_or_else(|_| "/usr/bin/docker-registry".to_string());
    let missing: Vec<&str> = [registry.as_str(), "skopeo", "umoci", "htpasswd", "openssl"]
        .into_iter()
        .filter(|tool| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "registry test tools missing: {} (apt-get install docker-registry skopeo umoci apache2-utils openssl)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{reason}");
    }
    eprintln!("skipping: {reason}");
    false
}

/// Runs a command to completion within `limit`, killing it past that. Panics on failure.
pub fn run(cmd: &mut Command, limit: Duration) -> String {
    let shown = format!("{cmd:?}");
    let (status, out, err) = run_unchecked(cmd, limit);
    assert!(status.success(), "{shown} failed ({status}):\n{out}\n{err}");
    out
}

/// Runs a command to completion within `limit` (killing it and panicking past that); returns
/// its exit status, stdout and stderr.
pub fn run_unchecked(
    cmd: &mut Command,
    limit: Duration,
) -> (std::process::ExitStatus, String, String) {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status,
        out_reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

/// The registries of one test, from `start-registries.sh`; killed on drop.
pub struct Registries {
    pub env: BTreeMap<String, String>,
    pub state_dir: PathBuf,
    pids: Vec<String>,
}

impl Registries {
    /// Starts the three registries with their state in `state_dir`; the token registry's realm
    /// points at `issuer_port`.
    pub fn start(state_dir: &Path, issuer_port: u16) -> Registries {
        let out = run(
            Command::new("bash")
                .arg(scripts_dir().join("start-registries.sh"))
                .arg("--state-dir")
                .arg(state_dir)
                .arg("--issuer-port")
                .arg(issuer_port.to_string()),
            Duration::from_secs(60),
        );
        let env_file = PathBuf::from(out.trim());
        let env = parse_env_file(&env_file);
        let pids = env["STELLA_REGISTRY_PIDS"]
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Registries {
            env,
            state_dir: state_dir.to_path_buf(),
            pids,
        }
    }

    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the registries env file"))
    }
    pub fn env_file(&self) -> PathBuf {
        self.state_dir.join("registries.env")
    }
    pub fn anon(&self) -> &str {
        self.var("STELLA_REGISTRY_ANON")
    }
    pub fn basic(&self) -> &str {
        self.var("STELLA_REGISTRY_BASIC")
    }
    pub fn token(&self) -> &str {
        self.var("STELLA_REGISTRY_TOKEN")
    }
    pub fn storage(&self) -> PathBuf {
        PathBuf::from(self.var("STELLA_REGISTRY_STORAGE"))
    }

    /// Pushes `oci:LAYOUT:TAG` to the Basic registry as `stella/hello:DEST_TAG` (all three
    /// registries share storage, so every one serves it), with extra skopeo arguments.
    pub fn push(&self, layout: &Path, tag: &str, dest_tag: &str, extra: &[&str]) {
        run(
            Command::new("bash")
                .arg(scripts_dir().join("push-image.sh"))
                .arg(format!("oci:{}:{tag}", layout.display()))
                .arg(format!("docker://{}/stella/hello:{dest_tag}", self.basic()))
                .args(extra)
                .env("STELLA_REGISTRY_ENV", self.env_file()),
            Duration::from_secs(120),
        );
    }
}

impl Drop for Registries {
    fn drop(&mut self) {
        for pid in &self.pids {
            let _ = Command::new("kill")
                .arg(pid)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn parse_env_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Builds the test OCI layout (tags amd64, arm64, multi) into `dir`.
pub fn build_test_images(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    run(
        Command::new("bash")
            .arg(scripts_dir().join("build-test-image.sh"))
            .arg(&layout),
        Duration::from_secs(60),
    );
    layout
}

/// Reads an OCI layout's blob.
pub fn layout_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The manifest digest an OCI layout's index.json gives for a tag.
pub fn layout_manifest_digest(layout: &Path, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} not in layout"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Writes a docker config.json with credentials for `host`.
pub fn write_auth_file(path: &Path, host: &str, user: &str, password: &str) {
    let auth = STANDARD.encode(format!("{user}:{password}"));
    let json = serde_json::json!({ "auths": { host: { "auth": auth } } });
    std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

// ---- a tiny HTTP/1.1 server ----

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
    pub fn query(&self, name: &str) -> Vec<String> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send no Content-Length: the body ends when the connection closes.
    pub close_delimited: bool,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close_delimited: false,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A loopback HTTP server answering each request with `handler`; stops on drop.
pub struct HttpServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> HttpServer {
        HttpServer::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), handler)
    }

    pub fn start_on(
        listener: TcpListener,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> HttpServer {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handler = handler.clone();
                            let requests = requests.clone();
                            std::thread::spawn(move || serve_one(stream, &*handler, &requests));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        HttpServer {
            addr,
            stop,
            thread: Some(thread),
            requests,
        }
    }

    /// `127.0.0.1:PORT`, as a registry name.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(stream: TcpStream, handler: &Handler, requests: &Mutex<Vec<Request>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let request = Request {
        method,
        target,
        headers,
    };
    requests.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    let has_length = reply
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has_length && !reply.close_delimited {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = writer.write_all(head.as_bytes());
    if request.method != "HEAD" {
        let _ = writer.write_all(&reply.body);
    }
    let _ = writer.flush();
}

// ---- a token issuer for the token-auth registry ----

/// Issues ES256 JWTs for `auth.token`, signed with the key `start-registries.sh` wrote and
/// carrying its certificate in `x5c`. Grants `pull` on every requested repository to
/// `user:password` (and, if `anonymous_pull`, to requests without credentials); requests
/// without credentials otherwise get a token with no access, as real token services do.
pub struct TokenIssuer {
    pub server: HttpServer,
    pub issued: Arc<AtomicUsize>,
}

pub struct IssuerConfig {
    pub user: String,
    pub password: String,
    pub anonymous_pull: bool,
    /// Answer with `access_token` instead of `token`.
    pub oauth_field: bool,
}

impl TokenIssuer {
    pub fn start(listener: TcpListener, regs: &Registries, config: IssuerConfig) -> TokenIssuer {
        use p256::ecdsa::SigningKey;
        use p256::pkcs8::DecodePrivateKey;
        let key_pem = std::fs::read_to_string(regs.var("STELLA_REGISTRY_TOKEN_KEY")).unwrap();
        let key = SigningKey::from_pkcs8_pem(&key_pem).expect("PKCS#8 P-256 key");
        let cert_pem = std::fs::read_to_string(regs.var("STELLA_REGISTRY_TOKEN_CERT")).unwrap();
        let cert_b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let issuer = regs.var("STELLA_REGISTRY_TOKEN_ISSUER").to_string();
        let service = regs.var("STELLA_REGISTRY_TOKEN_SERVICE").to_string();
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let expected_auth = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", config.user, config.password))
        );
        let server = HttpServer::start_on(listener, move |req| {
            if req.path() != "/token" {
                return Reply::new(404);
            }
            let authorized = match req.header("authorization") {
                Some(a) if a == expected_auth => true,
                Some(_) => {
                    return Reply::new(401)
                        .header("Content-Type", "application/json")
                        .body(r#"{"details":"incorrect username or password"}"#);
                }
                None => config.anonymous_pull,
            };
            if req.query("service").first().map(String::as_str) != Some(service.as_str()) {
                return Reply::new(400).body("wrong service");
            }
            let access: Vec<serde_json::Value> = if authorized {
                req.query("scope")
                    .iter()
                    .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
                    .filter_map(|scope| {
                        let mut parts = scope.splitn(3, ':');
                        let (kind, name) = (parts.next()?, parts.next()?);
                        Some(serde_json::json!({"type": kind, "name": name, "actions": ["pull"]}))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [cert_b64]});
            let claims = serde_json::json!({
                "iss": issuer, "sub": if authorized { config.user.as_str() } else { "" },
                "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
                "jti": format!("stella-test-{n}"), "access": access,
            });
            let jwt = sign_jwt(&key, &header, &claims);
            let field = if config.oauth_field {
                "access_token"
            } else {
                "token"
            };
            Reply::new(200)
                .header("Content-Type", "application/json")
                .body(serde_json::json!({ field: jwt, "expires_in": 300 }).to_string())
        });
        TokenIssuer { server, issued }
    }
}

fn sign_jwt(
    key: &p256::ecdsa::SigningKey,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    use p256::ecdsa::Signature;
    use p256::ecdsa::signature::Signer;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
