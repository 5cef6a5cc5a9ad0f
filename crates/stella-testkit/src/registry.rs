//! Loopback OCI registries for one test: Debian's `docker-registry` started by
//! `tests/registry/start-registries.sh` into a temporary state directory on free ports, and
//! stopped on drop.

use crate::process::run;
use crate::token::{IssuerConfig, TokenIssuer};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `tests/registry` of the workspace: the scripts that start registries and build and push
/// test images.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/registry")
}

/// Whether the registry tools are installed (`docker-registry`, skopeo, umoci, htpasswd,
/// openssl). Without them this prints why and returns `false`, so the test can skip; under CI
/// (env `CI` set) it panics instead.
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

/// Three registries sharing one storage directory, so an image pushed to one is served by all:
/// anonymous, HTTP Basic (htpasswd) and bearer-token auth. Each [`Registries::start`] gets its
/// own state directory and ports; the registries are killed when this is dropped.
pub struct Registries {
    env: BTreeMap<String, String>,
    /// The loopback port the token registry's realm names, held until the issuer starts on it.
    issuer_listener: Option<TcpListener>,
    state: tempfile::TempDir,
}

impl Registries {
    /// Starts the three registries in a fresh temporary state directory.
    pub fn start() -> Registries {
        let state = tempfile::Builder::new()
            .prefix("stella-registries-")
            .tempdir()
            .unwrap();
        let issuer_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer_port = issuer_listener.local_addr().unwrap().port();
        let mut regs = Registries {
            env: BTreeMap::new(),
            issuer_listener: Some(issuer_listener),
            state,
        };
        // Should the script fail half-way, dropping `regs` stops what it did start.
        let out = run(
            Command::new("bash")
                .arg(scripts_dir().join("start-registries.sh"))
                .arg("--state-dir")
                .arg(regs.state.path())
                .arg("--issuer-port")
                .arg(issuer_port.to_string()),
            Duration::from_secs(60),
        );
        regs.env = parse_env_file(Path::new(out.trim()));
        regs
    }

    /// A value from the `registries.env` that `start-registries.sh` wrote.
    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the registries env file"))
    }
    pub fn env_file(&self) -> PathBuf {
        self.state.path().join("registries.env")
    }
    /// `127.0.0.1:PORT` of the registry without authentication.
    pub fn anon(&self) -> &str {
        self.var("STELLA_REGISTRY_ANON")
    }
    /// `127.0.0.1:PORT` of the registry with HTTP Basic authentication.
    pub fn basic(&self) -> &str {
        self.var("STELLA_REGISTRY_BASIC")
    }
    /// `127.0.0.1:PORT` of the registry with bearer-token authentication.
    pub fn token(&self) -> &str {
        self.var("STELLA_REGISTRY_TOKEN")
    }
    /// User and password of the Basic registry; the token issuer grants pull to them too.
    pub fn credentials(&self) -> (&str, &str) {
        (
            self.var("STELLA_REGISTRY_BASIC_USER"),
            self.var("STELLA_REGISTRY_BASIC_PASSWORD"),
        )
    }
    /// Writes a docker `config.json` at `path` with [`Registries::credentials`] for the Basic
    /// and the token registry.
    pub fn write_auth_file(&self, path: &Path) {
        let (user, password) = self.credentials();
        crate::auth::write_auth_file(path, &[self.basic(), self.token()], user, password);
    }
    /// The registries' shared filesystem storage.
    pub fn storage(&self) -> PathBuf {
        PathBuf::from(self.var("STELLA_REGISTRY_STORAGE"))
    }
    /// Where the registries keep the bytes of blob `digest` (`sha256:…`).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// How many requests for blob `digest` the three registries' access logs record so far
    /// (any method, status and repository), leaving out [`Registries::push`]'s own (skopeo
    /// asks whether each blob exists before uploading it).
    pub fn blob_requests(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest} HTTP/");
        ["anon", "basic", "token"]
            .iter()
            .map(|name| {
                let log = self.state.path().join("logs").join(format!("{name}.log"));
                std::fs::read_to_string(&log)
                    .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
                    .lines()
                    // Access-log lines (combined log format), not the application's own lines.
                    .filter(|l| l.starts_with("127.0.0.1 - ") && l.contains(&needle))
                    .filter(|l| !l.contains("\"skopeo/"))
                    .count()
            })
            .sum()
    }

    /// Pushes `oci:LAYOUT:TAG` with `push-image.sh` (all platforms of an index, digests kept
    /// unless `extra` converts formats) to the Basic registry as `dest` (`REPOSITORY:TAG`);
    /// with the shared storage every registry then serves it.
    pub fn push(&self, layout: &Path, tag: &str, dest: &str, extra: &[&str]) {
        run(
            Command::new("bash")
                .arg(scripts_dir().join("push-image.sh"))
                .arg(format!("oci:{}:{tag}", layout.display()))
                .arg(format!("docker://{}/{dest}", self.basic()))
                .args(extra)
                .env("STELLA_REGISTRY_ENV", self.env_file()),
            Duration::from_secs(180),
        );
    }

    /// Starts the token registry's issuer, in this process, on the port its realm names.
    /// Once per `Registries`.
    pub fn start_token_issuer(&mut self, config: IssuerConfig) -> TokenIssuer {
        let listener = self
            .issuer_listener
            .take()
            .expect("one token issuer per Registries");
        TokenIssuer::start(listener, self, config)
    }

    /// The pids of the registries started from this state directory, from the `pids` file the
    /// script appends to as each one comes up (so a failed start is cleaned up too), each
    /// checked to still be a registry of this directory: a stale pid may have been reused.
    fn running_pids(&self) -> Vec<String> {
        let dir = format!("{}/", self.state.path().display());
        std::fs::read_to_string(self.state.path().join("pids"))
            .unwrap_or_default()
            .split_whitespace()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&dir))
            })
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Registries {
    /// SIGTERM, a few seconds' grace, then SIGKILL; the state directory goes last.
    fn drop(&mut self) {
        let kill = |signal: &str, pids: &[String]| {
            let _ = Command::new("kill")
                .arg(signal)
                .args(pids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        let pids = self.running_pids();
        if pids.is_empty() {
            return;
        }
        kill("-TERM", &pids);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.running_pids().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        kill("-KILL", &self.running_pids());
    }
}

fn parse_env_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Builds the small multi-platform test layout with `build-test-image.sh` into `dir/layout`:
/// tags `amd64`, `arm64` (variant v8) and `multi`, an OCI index of the two.
pub fn build_multi_platform_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    run(
        Command::new("bash")
            .arg(scripts_dir().join("build-test-image.sh"))
            .arg(&layout),
        Duration::from_secs(60),
    );
    layout
}
