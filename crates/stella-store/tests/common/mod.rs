//! Helpers shared by the conformance suites: reaching the real services, and unique names.
//!
//! A suite that cannot reach its service fails when `CI` is set, and otherwise skips with the
//! reason printed, so a laptop without PostgreSQL can still run the rest.

#![allow(dead_code)]

use std::time::Duration;

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// The service URL: `env_var` when set, else the default (the CI machine's services).
pub fn service_url(env_var: &str, default: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| default.to_string())
}

/// Whether `host:port` of `url` accepts a TCP connection. When it does not: panics under
/// `CI`, else prints why the test is skipped and returns false.
pub async fn service_available(name: &str, url: &str) -> bool {
    let authority = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let reachable = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(host_port.to_string()),
    )
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    if !reachable {
        if std::env::var_os("CI").is_some() {
            panic!("{name} at {host_port} is not reachable, and CI is set: failing");
        }
        eprintln!("SKIPPED: {name} at {host_port} is not reachable (set CI to make this fail)");
    }
    reachable
}

/// A name no other test run uses: `prefix` and 12 random hex digits.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..12])
}
