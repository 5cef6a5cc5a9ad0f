//! `stella.toml`: where each role listens, how roles reach each other, and which ports back them.
//!
//! Settings come from three layers, later ones winning: the built-in embedded defaults, the
//! TOML file given with `--config`, then the environment (`STELLA_DATABASE_URL`, … — every key
//! has one, listed in [`ENV_KEYS`]), and finally the command-line flags the CLI applies on top.
//! Unknown keys in the file are errors (a typo such as `databse.url` must not silently fall back
//! to SQLite), and every error names the file or the variable.
//!
//! ```toml
//! [server]                 # the public entry point (the gateway)
//! listen = "0.0.0.0:8080"
//! public_url = "https://stella.example.com"   # token issuer and DPoP `htu` origin
//! data_dir = "/var/lib/stella"
//!
//! [tls]                    # optional: serve the gateway over TLS
//! cert = "/etc/stella/tls.crt"
//! key = "/etc/stella/tls.key"
//!
//! [database]
//! url = "postgres://stella@db.internal/stella"
//! [queue]
//! url = "redis://valkey.internal:6379"
//! [blobs]
//! url = "s3://stella-artifacts"
//! endpoint = "http://s3.internal:9000"
//! region = "us-east-1"
//!
//! [authority]              # where the authority role listens and how others reach it
//! listen = "0.0.0.0:8081"
//! url = "http://authority.internal:8081"
//! replay_url = "redis://valkey.internal:6379"  # DPoP jti cache shared by every instance
//! nonce_key_file = "/etc/stella/dpop-nonce.key"
//!
//! [scanner_web]
//! listen = "0.0.0.0:8082"
//! url = "http://scanner-web.internal:8082"
//!
//! [worker]
//! lease_secs = 60
//! max_attempts = 3
//!
//! [gateway]
//! body_limit = 65536
//! [gateway.rate_limit]     # requests per minute; 0 = unlimited
//! per_client = 600
//! per_tenant = 3000
//! anonymous = 120
//! burst = 60
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// A part of Stella that can run in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The public entry point: TLS, routing, rate limits, request ids, body limits.
    Gateway,
    /// `/token`, `/jwks`, `/.well-known/openid-configuration`.
    Authority,
    /// `/api/v1/scans…` and `/openapi.json`.
    ScannerWeb,
    /// Claims scan jobs from the queue and runs them.
    ScannerWorker,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Gateway,
        Role::Authority,
        Role::ScannerWeb,
        Role::ScannerWorker,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Authority => "authority",
            Role::ScannerWeb => "scanner-web",
            Role::ScannerWorker => "scanner-worker",
        }
    }

    /// Parses `gateway,authority,…` (or `all`).
    pub fn parse_list(list: &str) -> anyhow::Result<BTreeSet<Role>> {
        let mut roles = BTreeSet::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "all" {
                roles.extend(Role::ALL);
                continue;
            }
            let role = Role::ALL
                .into_iter()
                .find(|r| r.name() == item)
                .with_context(|| {
                    format!(
                        "--role {item:?}: expected one of all, {}",
                        Role::ALL.map(Role::name).join(", ")
                    )
                })?;
            roles.insert(role);
        }
        if roles.is_empty() {
            bail!("--role: name at least one role");
        }
        Ok(roles)
    }
}

/// The resolved settings of one process.
#[derive(Debug, Clone)]
pub struct StellaConfig {
    pub roles: BTreeSet<Role>,
    pub data_dir: PathBuf,
    /// The gateway's address (and the all-in-one listener).
    pub listen: SocketAddr,
    /// The external origin: the token issuer and the origin DPoP proofs name in `htu`.
    pub public_url: String,
    pub database_url: String,
    pub queue_url: String,
    pub blobs_url: String,
    pub blobs_endpoint: Option<String>,
    pub blobs_region: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub authority_listen: SocketAddr,
    pub authority_url: String,
    /// `redis://…` or `memory`: where DPoP `jti`s are remembered.
    pub replay_url: String,
    /// The HMAC key of DPoP nonces, shared by every instance that accepts another's nonces.
    pub nonce_key_file: PathBuf,
    pub scanner_web_listen: SocketAddr,
    pub scanner_web_url: String,
    pub allow_local_targets: bool,
    pub worker_lease: Duration,
    pub worker_max_attempts: i32,
    pub body_limit: usize,
    pub rate_per_client: u32,
    pub rate_per_tenant: u32,
    pub rate_anonymous: u32,
    pub rate_burst: u32,
}

/// Every environment variable read, and the key it sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("STELLA_LISTEN", "server.listen"),
    ("STELLA_PUBLIC_URL", "server.public_url"),
    ("STELLA_DATA_DIR", "server.data_dir"),
    ("STELLA_ALLOW_LOCAL_TARGETS", "server.allow_local_targets"),
    ("STELLA_TLS_CERT", "tls.cert"),
    ("STELLA_TLS_KEY", "tls.key"),
    ("STELLA_DATABASE_URL", "database.url"),
    ("STELLA_QUEUE_URL", "queue.url"),
    ("STELLA_BLOBS_URL", "blobs.url"),
    ("STELLA_BLOBS_ENDPOINT", "blobs.endpoint"),
    ("STELLA_BLOBS_REGION", "blobs.region"),
    ("STELLA_AUTHORITY_LISTEN", "authority.listen"),
    ("STELLA_AUTHORITY_URL", "authority.url"),
    ("STELLA_REPLAY_URL", "authority.replay_url"),
    ("STELLA_DPOP_NONCE_KEY_FILE", "authority.nonce_key_file"),
    ("STELLA_SCANNER_WEB_LISTEN", "scanner_web.listen"),
    ("STELLA_SCANNER_WEB_URL", "scanner_web.url"),
    ("STELLA_WORKER_LEASE_SECS", "worker.lease_secs"),
    ("STELLA_WORKER_MAX_ATTEMPTS", "worker.max_attempts"),
    ("STELLA_BODY_LIMIT", "gateway.body_limit"),
    (
        "STELLA_RATE_LIMIT_PER_CLIENT",
        "gateway.rate_limit.per_client",
    ),
    (
        "STELLA_RATE_LIMIT_PER_TENANT",
        "gateway.rate_limit.per_tenant",
    ),
    (
        "STELLA_RATE_LIMIT_ANONYMOUS",
        "gateway.rate_limit.anonymous",
    ),
    ("STELLA_RATE_LIMIT_BURST", "gateway.rate_limit.burst"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    database: UrlSection,
    #[serde(default)]
    queue: UrlSection,
    #[serde(default)]
    blobs: BlobsSection,
    #[serde(default)]
    authority: AuthoritySection,
    #[serde(default)]
    scanner_web: RoleSection,
    #[serde(default)]
    worker: WorkerSection,
    #[serde(default)]
    gateway: GatewaySection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    allow_local_targets: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlSection {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobsSection {
    url: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthoritySection {
    listen: Option<String>,
    url: Option<String>,
    replay_url: Option<String>,
    nonce_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSection {
    listen: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerSection {
    lease_secs: Option<u64>,
    max_attempts: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewaySection {
    body_limit: Option<usize>,
    #[serde(default)]
    rate_limit: RateSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSection {
    per_client: Option<u32>,
    per_tenant: Option<u32>,
    anonymous: Option<u32>,
    burst: Option<u32>,
}

impl FileConfig {
    /// Sets `key` (a dotted name from [`ENV_KEYS`]) from a string, as the environment does.
    fn set(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        fn num<T: std::str::FromStr>(key: &str, value: &str) -> anyhow::Result<T> {
            value
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{key}: {value:?} is not a whole number"))
        }
        let s = || Some(value.to_owned());
        let p = || Some(PathBuf::from(value));
        match key {
            "server.listen" => self.server.listen = s(),
            "server.public_url" => self.server.public_url = s(),
            "server.data_dir" => self.server.data_dir = p(),
            "server.allow_local_targets" => {
                self.server.allow_local_targets = Some(match value {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" => false,
                    _ => bail!("{key}: {value:?} is not true or false"),
                })
            }
            "tls.cert" => self.tls.cert = p(),
            "tls.key" => self.tls.key = p(),
            "database.url" => self.database.url = s(),
            "queue.url" => self.queue.url = s(),
            "blobs.url" => self.blobs.url = s(),
            "blobs.endpoint" => self.blobs.endpoint = s(),
            "blobs.region" => self.blobs.region = s(),
            "authority.listen" => self.authority.listen = s(),
            "authority.url" => self.authority.url = s(),
            "authority.replay_url" => self.authority.replay_url = s(),
            "authority.nonce_key_file" => self.authority.nonce_key_file = p(),
            "scanner_web.listen" => self.scanner_web.listen = s(),
            "scanner_web.url" => self.scanner_web.url = s(),
            "worker.lease_secs" => self.worker.lease_secs = Some(num(key, value)?),
            "worker.max_attempts" => self.worker.max_attempts = Some(num(key, value)?),
            "gateway.body_limit" => self.gateway.body_limit = Some(num(key, value)?),
            "gateway.rate_limit.per_client" => {
                self.gateway.rate_limit.per_client = Some(num(key, value)?)
            }
            "gateway.rate_limit.per_tenant" => {
                self.gateway.rate_limit.per_tenant = Some(num(key, value)?)
            }
            "gateway.rate_limit.anonymous" => {
                self.gateway.rate_limit.anonymous = Some(num(key, value)?)
            }
            "gateway.rate_limit.burst" => self.gateway.rate_limit.burst = Some(num(key, value)?),
            other => bail!("unknown setting {other}"),
        }
        Ok(())
    }
}

/// Overrides the command line applies last (flags win over the file and the environment).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub roles: Option<String>,
    /// `(dotted key, value)` pairs, as in [`ENV_KEYS`].
    pub settings: Vec<(&'static str, String)>,
}

impl StellaConfig {
    /// Reads `file` (if any), then the environment through `env` (pass `std::env::var`), then
    /// `overrides`. `default_data_dir` is used when nothing names a data directory.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        overrides: &Overrides,
        default_data_dir: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<StellaConfig> {
        let mut raw = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("{}: not a valid stella.toml", path.display()))?
            }
            None => FileConfig::default(),
        };
        for (var, key) in ENV_KEYS {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                raw.set(key, &value)
                    .with_context(|| format!("environment variable {var}"))?;
            }
        }
        for (key, value) in &overrides.settings {
            raw.set(key, value)?;
        }
        let roles = match overrides
            .roles
            .as_deref()
            .or(env("STELLA_ROLES").as_deref())
        {
            Some(list) => Role::parse_list(list)?,
            None => Role::ALL.into_iter().collect(),
        };
        Self::resolve(raw, roles, default_data_dir)
    }

    fn resolve(
        raw: FileConfig,
        roles: BTreeSet<Role>,
        default_data_dir: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<StellaConfig> {
        let addr = |key: &str, value: Option<String>, default: &str| -> anyhow::Result<_> {
            let v = value.unwrap_or_else(|| default.to_owned());
            v.parse::<SocketAddr>()
                .with_context(|| format!("{key}: {v:?} is not an address such as 127.0.0.1:8080"))
        };
        let url = |key: &str, v: String| -> anyhow::Result<String> {
            let parsed =
                url::Url::parse(&v).with_context(|| format!("{key}: {v:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("{key}: {v:?} must be an http:// or https:// URL");
            }
            Ok(v.trim_end_matches('/').to_owned())
        };
        let data_dir = match raw.server.data_dir {
            Some(d) => d,
            None => default_data_dir()?,
        };
        let listen = addr("server.listen", raw.server.listen, "127.0.0.1:8080")?;
        let tls = raw.tls.cert.is_some() && raw.tls.key.is_some();
        if raw.tls.cert.is_some() != raw.tls.key.is_some() {
            bail!("tls: give both tls.cert and tls.key (PEM files), or neither");
        }
        let scheme = if tls { "https" } else { "http" };
        let public_url = url(
            "server.public_url",
            raw.server
                .public_url
                .unwrap_or_else(|| format!("{scheme}://{listen}")),
        )?;
        let authority_listen = addr("authority.listen", raw.authority.listen, "127.0.0.1:8081")?;
        let authority_url = url(
            "authority.url",
            raw.authority
                .url
                .unwrap_or_else(|| format!("http://{authority_listen}")),
        )?;
        let scanner_web_listen = addr(
            "scanner_web.listen",
            raw.scanner_web.listen,
            "127.0.0.1:8082",
        )?;
        let scanner_web_url = url(
            "scanner_web.url",
            raw.scanner_web
                .url
                .unwrap_or_else(|| format!("http://{scanner_web_listen}")),
        )?;
        let queue_url = raw.queue.url.unwrap_or_else(|| "memory".into());
        // The replay cache follows a Redis queue by default: instances then share it, which is
        // what makes a replayed proof fail on every instance, not only the one that saw it.
        let replay_url = raw.authority.replay_url.unwrap_or_else(|| {
            if queue_url.starts_with("redis://") || queue_url.starts_with("rediss://") {
                queue_url.clone()
            } else {
                "memory".into()
            }
        });
        let lease_secs = raw.worker.lease_secs.unwrap_or(60);
        if !(1..=86_400).contains(&lease_secs) {
            bail!("worker.lease_secs: {lease_secs} is outside 1..=86400");
        }
        let max_attempts = raw.worker.max_attempts.unwrap_or(3);
        if !(1..=100).contains(&max_attempts) {
            bail!("worker.max_attempts: {max_attempts} is outside 1..=100");
        }
        Ok(StellaConfig {
            roles,
            listen,
            public_url,
            database_url: raw.database.url.unwrap_or_else(|| {
                format!("sqlite://{}", data_dir.join("stella.sqlite").display())
            }),
            queue_url,
            blobs_url: raw
                .blobs
                .url
                .unwrap_or_else(|| format!("file://{}", data_dir.join("artifacts").display())),
            blobs_endpoint: raw.blobs.endpoint,
            blobs_region: raw.blobs.region,
            tls_cert: raw.tls.cert,
            tls_key: raw.tls.key,
            authority_listen,
            authority_url,
            replay_url,
            nonce_key_file: raw
                .authority
                .nonce_key_file
                .unwrap_or_else(|| data_dir.join("dpop-nonce.key")),
            scanner_web_listen,
            scanner_web_url,
            allow_local_targets: raw.server.allow_local_targets.unwrap_or(false),
            worker_lease: Duration::from_secs(lease_secs),
            worker_max_attempts: max_attempts,
            body_limit: raw.gateway.body_limit.unwrap_or(crate::api::BODY_LIMIT),
            rate_per_client: raw.gateway.rate_limit.per_client.unwrap_or(600),
            rate_per_tenant: raw.gateway.rate_limit.per_tenant.unwrap_or(3000),
            rate_anonymous: raw.gateway.rate_limit.anonymous.unwrap_or(300),
            rate_burst: raw.gateway.rate_limit.burst.unwrap_or(60),
            data_dir,
        })
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The settings of the ports and the worker, as the roles use them.
    pub fn service_config(&self) -> crate::ServiceConfig {
        let mut worker = crate::worker::WorkerConfig::with_lease(self.worker_lease);
        worker.max_attempts = self.worker_max_attempts;
        crate::ServiceConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            queue_url: self.queue_url.clone(),
            blobs_url: self.blobs_url.clone(),
            blobs_endpoint: self.blobs_endpoint.clone(),
            blobs_region: self.blobs_region.clone(),
            public_url: self.public_url.clone(),
            allow_local_targets: self.allow_local_targets,
            worker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)], roles: Option<&str>) -> anyhow::Result<StellaConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stella.toml");
        std::fs::write(&path, toml).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        StellaConfig::load(
            Some(&path),
            |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            &Overrides {
                roles: roles.map(str::to_owned),
                settings: Vec::new(),
            },
            || Ok(PathBuf::from("/data")),
        )
    }

    #[test]
    fn empty_file_gives_the_embedded_defaults_and_every_role() {
        let c = load("", &[], None).unwrap();
        assert_eq!(c.roles.len(), 4);
        assert_eq!(c.database_url, "sqlite:///data/stella.sqlite");
        assert_eq!(c.queue_url, "memory");
        assert_eq!(c.blobs_url, "file:///data/artifacts");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.replay_url, "memory");
        assert_eq!(c.nonce_key_file, PathBuf::from("/data/dpop-nonce.key"));
    }

    #[test]
    fn file_then_environment_then_flags() {
        let toml = r#"
[database]
url = "postgres://file/db"
[queue]
url = "redis://127.0.0.1:6379/3"
[worker]
lease_secs = 5
"#;
        let c = load(
            toml,
            &[("STELLA_DATABASE_URL", "postgres://env/db")],
            Some("scanner-worker"),
        )
        .unwrap();
        assert_eq!(c.database_url, "postgres://env/db");
        assert_eq!(
            c.replay_url, "redis://127.0.0.1:6379/3",
            "replay follows a Redis queue"
        );
        assert_eq!(c.worker_lease, Duration::from_secs(5));
        assert_eq!(c.roles, BTreeSet::from([Role::ScannerWorker]));
    }

    #[test]
    fn mistakes_are_named() {
        let e = format!(
            "{:#}",
            load("[databse]\nurl = \"x\"\n", &[], None).unwrap_err()
        );
        assert!(e.contains("stella.toml") && e.contains("databse"), "{e}");
        let e = format!(
            "{:#}",
            load("", &[("STELLA_WORKER_LEASE_SECS", "soon")], None).unwrap_err()
        );
        assert!(e.contains("STELLA_WORKER_LEASE_SECS"), "{e}");
        let e = format!("{:#}", load("", &[], Some("gateway,web")).unwrap_err());
        assert!(e.contains("\"web\"") && e.contains("scanner-web"), "{e}");
        let e = format!(
            "{:#}",
            load("[tls]\ncert = \"c.pem\"\n", &[], None).unwrap_err()
        );
        assert!(e.contains("tls.key"), "{e}");
        let e = format!(
            "{:#}",
            load("[server]\nlisten = \"8080\"\n", &[], None).unwrap_err()
        );
        assert!(e.contains("server.listen"), "{e}");
    }
}
