//! Registry credentials in the docker `config.json` format.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::Path;

/// Writes a docker `config.json` (the format `$REGISTRY_AUTH_FILE` names) with the same
/// credentials for each of `hosts` (`127.0.0.1:PORT`).
pub fn write_auth_file(path: &Path, hosts: &[&str], user: &str, password: &str) {
    let auth = STANDARD.encode(format!("{user}:{password}"));
    let auths: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|host| (host.to_string(), serde_json::json!({ "auth": auth })))
        .collect();
    let json = serde_json::json!({ "auths": auths });
    std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
