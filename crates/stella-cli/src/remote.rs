//! The client side of a Stella server: the credentials `stella auth login` keeps, and the HTTP
//! client that `stella scan --server` drives.
//!
//! A login is a client id, its secret and a DPoP key (RFC 9449), kept per server origin in
//! `credentials.json` of the config directory (`STELLA_CONFIG_DIR`, else the user's config
//! directory + `/stella`), written atomically with mode 0600 in a 0700 directory. The key never
//! leaves the machine: the authority binds every access token to its thumbprint, so each request
//! carries `Authorization: DPoP <token>` plus a fresh proof for that method and URL.
//! [`RemoteClient`] gets a token with the client credentials grant, keeps it in memory until
//! shortly before it expires (or until the server calls it `invalid_token`), answers server
//! nonces (`use_dpop_nonce`) by signing again with the nonce, and waits out `429`/`503` as long
//! as `Retry-After` says (bounded). Secrets are wrapped in [`Secret`], whose `Debug` and
//! `Display` print nothing of them, and no error message is built from a request header.

use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use reqwest::blocking::Client as Http;
use reqwest::header::{self, HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stella_authority::DpopKey;
use stella_model::{Inventory, ScanFindings};

/// The schema of `GET /api/v1/scans/{id}/result` this client understands.
pub const RESULT_SCHEMA: &str = "stella.scan-result/v1";

/// Waits on `429`/`503` (and on refused connections) before giving up.
const MAX_THROTTLED_RETRIES: u32 = 5;
const MAX_TRANSPORT_RETRIES: u32 = 2;
/// Longest single `Retry-After` wait honoured: a server asking for more is reported instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// A token is renewed this long before it expires, so a request never races its expiry.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// A secret string (client secret, private key, access token). `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, to send or store; never to print.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The origin (`scheme://host[:port]`) of `--server URL`, the key of its stored login.
///
/// A path is refused rather than dropped: the API lives at the origin's root, and silently
/// ignoring `/some/prefix` would send the secret somewhere the user did not name.
pub fn server_origin(url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim();
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
        anyhow!("--server {trimmed:?}: {e}; expected a URL such as https://stella.example.com")
    })?;
    // Checked before anything echoes the URL, which would then print the password.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        bail!("--server: the URL must not carry a user name or password (use --client-id)");
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!(
            "--server {trimmed:?}: scheme {:?} is not supported; use https:// (or http://)",
            parsed.scheme()
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        bail!("--server {trimmed:?}: no host");
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        bail!(
            "--server {trimmed:?}: give the server's origin (scheme://host[:port]) without a path"
        );
    }
    Ok(parsed.origin().ascii_serialization())
}

/// Whether `origin` is plain HTTP to a host other than this machine: the client secret would
/// cross the network in the clear.
pub fn is_insecure(origin: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(origin) else {
        return false;
    };
    let host = u.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    u.scheme() == "http" && !loopback
}

/// One stored login: what `stella scan --server` needs to act as the client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredLogin {
    pub server: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// PKCS#8 PEM of the P-256 DPoP key.
    pub dpop_key_pem: Secret,
}

#[derive(Default, Serialize, Deserialize)]
struct CredentialsFile {
    version: u32,
    /// By server origin; a `BTreeMap` so the file is written in a stable order.
    servers: BTreeMap<String, StoredLogin>,
}

/// `credentials.json` in the config directory.
#[derive(Debug)]
pub struct CredentialStore {
    dir: PathBuf,
}

impl CredentialStore {
    /// `STELLA_CONFIG_DIR` when set, else the user's config directory + `/stella`
    /// (`~/.config/stella` on Linux).
    pub fn resolve() -> anyhow::Result<CredentialStore> {
        let dir = match std::env::var_os("STELLA_CONFIG_DIR").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => dirs::config_dir()
                .ok_or_else(|| {
                    anyhow!(
                        "no config directory: set STELLA_CONFIG_DIR (the user's config directory could not be determined)"
                    )
                })?
                .join("stella"),
        };
        Ok(CredentialStore { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    fn read(&self) -> anyhow::Result<CredentialsFile> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CredentialsFile::default());
            }
            Err(e) => return Err(anyhow!("{}: {e}", path.display())),
        };
        warn_if_readable_by_others(&path);
        // serde_json's messages name a line and column, never the values read.
        serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!(
                "{}: not a Stella credentials file ({e}); remove it and run `stella auth login` again",
                path.display()
            )
        })
    }

    /// Every stored login, by origin.
    pub fn list(&self) -> anyhow::Result<Vec<StoredLogin>> {
        Ok(self.read()?.servers.into_values().collect())
    }

    pub fn get(&self, origin: &str) -> anyhow::Result<Option<StoredLogin>> {
        Ok(self.read()?.servers.remove(origin))
    }

    /// Adds or replaces the login of `login.server`.
    pub fn put(&self, login: StoredLogin) -> anyhow::Result<()> {
        let mut file = self.read()?;
        file.version = 1;
        file.servers.insert(login.server.clone(), login);
        self.write(&file)
    }

    /// Removes the login of `origin`; whether there was one.
    pub fn remove(&self, origin: &str) -> anyhow::Result<bool> {
        let mut file = self.read()?;
        if file.servers.remove(origin).is_none() {
            return Ok(false);
        }
        file.version = 1;
        self.write(&file)?;
        Ok(true)
    }

    /// Temp file + rename: a crash leaves the old file or the new one, never half of one.
    /// The temp file is created 0600, so the secret is never readable by others, not even
    /// between the write and the rename.
    fn write(&self, file: &CredentialsFile) -> anyhow::Result<()> {
        let dir = &self.dir;
        let err = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", self.path().display());
        std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
        restrict(dir, 0o700).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
        let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| err(&e))?;
        bytes.push(b'\n');
        let mut tmp = tempfile::Builder::new()
            .prefix(".credentials")
            .tempfile_in(dir)
            .map_err(|e| err(&e))?;
        restrict(tmp.path(), 0o600).map_err(|e| err(&e))?;
        tmp.write_all(&bytes).map_err(|e| err(&e))?;
        tmp.as_file().sync_all().map_err(|e| err(&e))?;
        tmp.persist(self.path()).map_err(|e| err(&e.error))?;
        Ok(())
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {} is readable by other users (mode {:o}); run chmod 600 on it",
            path.display(),
            m.permissions().mode() & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// How long one status request may be held by the server (`?wait=`): short enough that the
/// progress line shows `running` soon after the scan starts.
pub const LONG_POLL_SECS: u64 = 2;

/// An error answer of the server: the URL, the status and the error code of the body
/// (`{"error": …, "error_description"|"message": …}`).
#[derive(Debug)]
pub struct ServerError {
    pub url: String,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: HTTP {}", self.url, self.status)?;
        if let Some(c) = &self.code {
            write!(f, ": {c}")?;
        }
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

impl ServerError {
    fn from_reply(url: &str, reply: &Reply) -> ServerError {
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        ServerError {
            url: url.to_owned(),
            status: reply.status.as_u16(),
            code: text("error").or_else(|| challenge_error(&reply.headers)),
            message: text("error_description").or_else(|| text("message")),
        }
    }
}

/// An answer: status, headers, body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(&self, url: &str) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("{url}: the answer is not JSON"))
    }
}

/// The `error` of a `WWW-Authenticate: DPoP …, error="…"` challenge.
fn challenge_error(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::WWW_AUTHENTICATE)?.to_str().ok()?;
    let rest = &v[v.find("error=\"")? + 7..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// `Retry-After` in delta-seconds (RFC 9110 §10.2.3). An HTTP-date gets the default backoff:
/// the client's clock need not agree with the server's.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Percent-encoding for `application/x-www-form-urlencoded` and the Basic credentials of
/// RFC 6749 §2.3.1 (the authority decodes both): unreserved characters pass, the rest is `%XX`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct AccessToken {
    value: Secret,
    renew_at: Instant,
}

/// A job's state as `GET /api/v1/scans/{id}` reports it.
#[derive(Debug, Clone)]
pub struct JobState {
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
}

/// What `GET /api/v1/scans/{id}/result` holds: the inventory and the unfiltered findings, from
/// which every output format is rendered.
pub struct ScanResult {
    pub timestamp: String,
    pub inventory: Inventory,
    pub findings: Option<ScanFindings>,
}

/// The HTTP client of one Stella server, acting as one OAuth client.
pub struct RemoteClient {
    http: Http,
    origin: String,
    client_id: String,
    secret: Secret,
    key: DpopKey,
    nonce: Option<String>,
    token: Option<AccessToken>,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient")
            .field("origin", &self.origin)
            .field("client_id", &self.client_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RemoteClient {
    pub fn new(
        origin: &str,
        client_id: &str,
        secret: Secret,
        key: DpopKey,
    ) -> anyhow::Result<RemoteClient> {
        let http = Http::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("stella/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(RemoteClient {
            http,
            origin: origin.to_owned(),
            client_id: client_id.to_owned(),
            secret,
            key,
            nonce: None,
            token: None,
        })
    }

    /// The client of a stored login.
    pub fn from_login(login: &StoredLogin) -> anyhow::Result<RemoteClient> {
        let key = DpopKey::from_pem(login.dpop_key_pem.expose()).map_err(|_| {
            anyhow!(
                "the stored DPoP key for {} is unreadable; run `stella auth login --server {}` again",
                login.server,
                login.server
            )
        })?;
        RemoteClient::new(
            &login.server,
            &login.client_id,
            login.client_secret.clone(),
            key,
        )
    }

    fn remember_nonce(&mut self, headers: &HeaderMap) {
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            self.nonce = Some(n.to_owned());
        }
    }

    /// Sends one request built by `build` from a fresh proof, retrying refused connections and
    /// waiting out `429`/`503` (bounded); other answers are returned as they are.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        build: &dyn Fn(&Http, String) -> reqwest::blocking::RequestBuilder,
        access_token: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let (mut throttled, mut transport) = (0u32, 0u32);
        loop {
            let proof = self
                .key
                .proof(method, url, self.nonce.as_deref(), access_token);
            let response = match build(&self.http, proof).send() {
                Ok(r) => r,
                // Safe to repeat: token requests mint a new token, scan submissions carry an
                // Idempotency-Key, everything else is a read.
                Err(e)
                    if (e.is_connect() || e.is_timeout()) && transport < MAX_TRANSPORT_RETRIES =>
                {
                    transport += 1;
                    std::thread::sleep(Duration::from_millis(250 << transport));
                    continue;
                }
                Err(e) => {
                    // reqwest names the URL itself; strip it so it is not said twice. The
                    // cause (connection refused, DNS, TLS) stays in the chain main prints.
                    return Err(
                        anyhow::Error::new(e.without_url()).context(format!("{method} {url}"))
                    );
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.remember_nonce(&headers);
            let body = response
                .bytes()
                .map_err(|e| {
                    anyhow::Error::new(e.without_url())
                        .context(format!("{method} {url}: reading the answer"))
                })?
                .to_vec();
            if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) && throttled < MAX_THROTTLED_RETRIES
            {
                let wait =
                    retry_after(&headers).unwrap_or(Duration::from_millis(500 << throttled.min(4)));
                if wait <= MAX_RETRY_AFTER {
                    throttled += 1;
                    tracing::info!(%url, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "server busy; retrying");
                    std::thread::sleep(wait);
                    continue;
                }
            }
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
    }

    /// Gets an access token with the client credentials grant (RFC 6749 §4.4) and a DPoP
    /// proof; a refusal is a [`ServerError`] with the RFC 6749 error code (`invalid_client`…).
    /// Returns the granted scope.
    pub fn fetch_token(&mut self) -> anyhow::Result<String> {
        let url = format!("{}/token", self.origin);
        let (id, secret) = (
            form_encode(&self.client_id),
            form_encode(self.secret.expose()),
        );
        let build = |http: &Http, proof: String| {
            http.post(&url)
                .basic_auth(&id, Some(&secret))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("dpop", proof)
                .body("grant_type=client_credentials")
        };
        // A first proof has no nonce; the authority answers `use_dpop_nonce` with one.
        for _ in 0..3 {
            let reply = self.send("POST", &url, &build, None)?;
            if reply.status == StatusCode::OK {
                let v = reply.json(&url)?;
                let token = v
                    .get("access_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{url}: the answer has no access_token"))?;
                let lifetime =
                    Duration::from_secs(v.get("expires_in").and_then(Value::as_u64).unwrap_or(300));
                let margin = TOKEN_MARGIN.min(lifetime / 2);
                self.token = Some(AccessToken {
                    value: Secret::new(token),
                    renew_at: Instant::now() + lifetime - margin,
                });
                let scope = v.get("scope").and_then(Value::as_str).unwrap_or_default();
                return Ok(scope.to_owned());
            }
            let err = ServerError::from_reply(&url, &reply);
            if err.code.as_deref() != Some("use_dpop_nonce") {
                return Err(err.into());
            }
        }
        bail!("{url}: the server kept asking for a new DPoP nonce")
    }

    /// The current access token, fetched again when close to expiry.
    fn access_token(&mut self) -> anyhow::Result<Secret> {
        if let Some(t) = &self.token
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        self.fetch_token()?;
        self.token
            .as_ref()
            .map(|t| t.value.clone())
            .ok_or_else(|| anyhow!("{}: no access token", self.origin))
    }

    /// A resource request (`path` on the server's origin): retried with the server's nonce on
    /// `use_dpop_nonce`, and once with a new token on `invalid_token` (expired, or the server's
    /// signing key changed). Any answer other than 2xx is a [`ServerError`].
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.origin);
        let (mut nonce_retries, mut renewed) = (0, false);
        loop {
            let token = self.access_token()?;
            let body_bytes = body.map(|b| b.to_string());
            let m = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| anyhow!("bad HTTP method {method}"))?;
            let build = |http: &Http, proof: String| {
                let mut r = http
                    .request(m.clone(), &url)
                    .header(header::AUTHORIZATION, format!("DPoP {}", token.expose()))
                    .header("dpop", proof);
                if let Some(b) = &body_bytes {
                    r = r
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(b.clone());
                }
                if let Some(k) = idempotency_key {
                    r = r.header("idempotency-key", k);
                }
                r
            };
            let reply = self.send(method, &url, &build, Some(token.expose()))?;
            if reply.status.is_success() {
                return Ok(reply);
            }
            let err = ServerError::from_reply(&url, &reply);
            match err.code.as_deref() {
                Some("use_dpop_nonce") if nonce_retries < 3 => nonce_retries += 1,
                Some("invalid_token") if reply.status == StatusCode::UNAUTHORIZED && !renewed => {
                    renewed = true;
                    self.token = None;
                }
                _ => return Err(err.into()),
            }
        }
    }

    /// `POST /api/v1/scans`; the job id. The Idempotency-Key makes a retried submission (after
    /// a lost answer) name the same job instead of starting a second one.
    pub fn submit_scan(
        &mut self,
        target: &str,
        sbom_format: Option<&str>,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        let mut body = serde_json::json!({ "image": target });
        if let Some(f) = sbom_format {
            body["sbom_format"] = Value::from(f);
        }
        let path = "/api/v1/scans";
        let reply = self.call("POST", path, Some(&body), Some(idempotency_key))?;
        let url = format!("{}{path}", self.origin);
        let v = reply.json(&url)?;
        v.get("job_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{url}: the answer has no job_id"))
    }

    /// `GET /api/v1/scans/{id}?wait=SECONDS`: the job's state, as soon as it is finished or
    /// after `wait_secs` (0: at once). A server from before long polls ignores `wait` and
    /// answers at once, which the caller's loop handles the same way.
    pub fn job_state(&mut self, job_id: &str, wait_secs: u64) -> anyhow::Result<JobState> {
        let path = format!("/api/v1/scans/{job_id}");
        let query = if wait_secs > 0 {
            format!("{path}?wait={wait_secs}")
        } else {
            path.clone()
        };
        let reply = self.call("GET", &query, None, None)?;
        let v = reply.json(&format!("{}{path}", self.origin))?;
        Ok(JobState {
            status: v
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            attempts: v.get("attempts").and_then(Value::as_i64).unwrap_or(0),
            error: v.get("error").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// Waits until the job is completed or failed, calling `on_change` at each status change.
    /// Each request is a long poll of up to [`LONG_POLL_SECS`], so the end of the scan is seen
    /// at once and the progress line still moves; a server that answers at once anyway (one
    /// from before long polls) is asked again after a pause growing from 100 ms to 1 s. After
    /// `timeout` it gives up with an error naming the job and its status (the job itself stays
    /// on the server).
    pub fn wait_for(
        &mut self,
        job_id: &str,
        timeout: Duration,
        on_change: &mut dyn FnMut(&JobState),
    ) -> anyhow::Result<JobState> {
        let deadline = std::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(100);
        let mut last: Option<String> = None;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let wait = left.as_secs().min(LONG_POLL_SECS);
            let asked = std::time::Instant::now();
            let state = self.job_state(job_id, wait)?;
            if last.as_deref() != Some(state.status.as_str()) {
                on_change(&state);
                last = Some(state.status.clone());
            }
            if matches!(state.status.as_str(), "completed" | "failed") {
                return Ok(state);
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "scan {job_id} is still {} on {} after {}s (--server-timeout); the job \
                     stays on the server: GET /api/v1/scans/{job_id} tells when it ends",
                    state.status,
                    self.origin,
                    timeout.as_secs()
                );
            }
            // The server held the request: ask again at once. It answered at once: pause.
            if wait == 0 || asked.elapsed() < Duration::from_secs(wait) / 2 {
                std::thread::sleep(delay.min(left));
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }

    /// `GET /api/v1/scans/{id}/result`.
    pub fn scan_result(&mut self, job_id: &str) -> anyhow::Result<ScanResult> {
        let path = format!("/api/v1/scans/{job_id}/result");
        let url = format!("{}{path}", self.origin);
        let reply = self.call("GET", &path, None, None)?;
        let mut v = reply.json(&url)?;
        match v.get("schemaVersion").and_then(Value::as_str) {
            Some(RESULT_SCHEMA) => {}
            other => bail!(
                "{url}: scan result schema {other:?} is not {RESULT_SCHEMA:?}; use a stella client of the server's version"
            ),
        }
        let timestamp = v
            .get("timestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{url}: the scan result has no timestamp"))?
            .to_owned();
        let inventory: Inventory = serde_json::from_value(v["inventory"].take())
            .with_context(|| format!("{url}: the scan result's inventory"))?;
        let findings: Option<ScanFindings> = serde_json::from_value(v["findings"].take())
            .with_context(|| format!("{url}: the scan result's findings"))?;
        Ok(ScanResult {
            timestamp,
            inventory,
            findings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_reduce_to_their_origin() {
        assert_eq!(
            server_origin("https://stella.example.com/").unwrap(),
            "https://stella.example.com"
        );
        assert_eq!(
            server_origin("HTTPS://Stella.Example.com:443").unwrap(),
            "https://stella.example.com"
        );
        assert_eq!(
            server_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(server_origin("stella.example.com").is_err());
        assert!(server_origin("ftp://stella.example.com").is_err());
        assert!(server_origin("https://stella.example.com/api").is_err());
        let e = server_origin("https://me:hunter2@stella.example.com")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn plain_http_is_insecure_only_off_this_machine() {
        assert!(!is_insecure("http://127.0.0.1:8080"));
        assert!(!is_insecure("http://localhost:8080"));
        assert!(!is_insecure("http://[::1]:8080"));
        assert!(!is_insecure("https://stella.example.com"));
        assert!(is_insecure("http://stella.example.com"));
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let login = StoredLogin {
            server: "https://s".into(),
            client_id: "id".into(),
            client_secret: Secret::new("hunter2"),
            dpop_key_pem: Secret::new("-----BEGIN PRIVATE KEY-----"),
        };
        let shown = format!("{login:?} {}", login.client_secret);
        assert!(
            !shown.contains("hunter2") && !shown.contains("BEGIN"),
            "{shown}"
        );
    }

    #[test]
    fn form_encoding_escapes_everything_but_unreserved() {
        assert_eq!(form_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(form_encode("a b:c/é"), "a%20b%3Ac%2F%C3%A9");
    }

    #[test]
    fn challenges_and_retry_after_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::WWW_AUTHENTICATE,
            "DPoP algs=\"ES256\", error=\"use_dpop_nonce\", error_description=\"x\""
                .parse()
                .unwrap(),
        );
        h.insert(header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(challenge_error(&h).as_deref(), Some("use_dpop_nonce"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    }

    #[test]
    fn the_credentials_file_is_private_and_keyed_by_origin() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CredentialStore {
            dir: tmp.path().join("stella"),
        };
        assert!(store.list().unwrap().is_empty());
        let login = |server: &str| StoredLogin {
            server: server.into(),
            client_id: "id".into(),
            client_secret: Secret::new("s"),
            dpop_key_pem: Secret::new("k"),
        };
        store.put(login("https://b")).unwrap();
        store.put(login("https://a")).unwrap();
        let servers: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|l| l.server)
            .collect();
        assert_eq!(servers, ["https://a", "https://b"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&store.path()), 0o600);
            assert_eq!(mode(&tmp.path().join("stella")), 0o700);
        }
        assert!(store.remove("https://a").unwrap());
        assert!(!store.remove("https://a").unwrap());
        assert!(store.get("https://b").unwrap().is_some());
    }
}
