//! The authority's state in the service: clients from the Db, the signing key from a PEM file.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use stella_authority::clients::BoxFuture;
use stella_authority::{ClientRecord, ClientStore, ClientStoreError, PublicKey, SigningKey};
use stella_store::db::Db;

/// The authority's [`ClientStore`] over the Db port, so clients created by
/// `stella auth client create` (even while the server runs) can get tokens at once.
pub struct DbClientStore {
    db: Arc<dyn Db>,
}

impl DbClientStore {
    pub fn new(db: Arc<dyn Db>) -> Self {
        DbClientStore { db }
    }
}

impl ClientStore for DbClientStore {
    fn get_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClientRecord>, ClientStoreError>> {
        Box::pin(async move {
            let found = self
                .db
                .get_client(client_id)
                .await
                .map_err(|e| ClientStoreError(e.to_string()))?;
            Ok(found.map(|c| ClientRecord {
                client_id: c.client_id,
                tenant: c.tenant,
                secret_hash: c.secret_hash,
                scopes: c.scopes,
            }))
        })
    }
}

/// The issuer's key: read from `path`, or generated and written there (mode 0600) on first
/// start, so tokens stay valid across restarts.
pub fn load_or_create_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            return SigningKey::from_pem(&pem)
                .with_context(|| format!("{}: not a signing key", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let key = SigningKey::generate();
    let pem = key.to_pem().context("encoding the signing key")?;
    if create_private_file(path, pem.as_bytes())? {
        tracing::info!(path = %path.display(), kid = key.kid(), "generated the issuer key");
        return Ok(key);
    }
    // Lost the race: use the key the other process wrote.
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_pem(&pem).with_context(|| format!("{}: not a signing key", path.display()))
}

/// The HMAC key of DPoP nonces (64 hex digits): read from `path`, or generated there (mode 0600)
/// on first start. Every authority and scanner-web instance must read the same file, so that a
/// nonce one instance issued is accepted by the next.
pub fn load_or_create_nonce_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let parse = |text: &str| -> anyhow::Result<[u8; 32]> {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| format!("{}: expected 64 hex digits (32 bytes)", path.display()))?;
        Ok(bytes.try_into().expect("32 bytes"))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("operating system RNG: {e}"))?;
    if create_private_file(path, format!("{}\n", hex::encode(key)).as_bytes())? {
        tracing::info!(path = %path.display(), "generated the DPoP nonce key");
        return Ok(key);
    }
    parse(&std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
}

/// Writes `bytes` to a new file at `path` with mode 0600; `false` when the file already exists
/// (`create_new`: two processes starting at once must not overwrite each other's secret).
fn create_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(bytes)
                .and_then(|_| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// `(kid, key)` for every usable key of the authority's JWK Set (what the gateway keys rate
/// limits with and a remote scanner-web verifies tokens with); keys without a `kid` cannot be picked by a
/// token, so they are skipped.
pub(crate) fn parse_jwks(body: &[u8]) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let set: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("the authority's JWKS is not JSON: {e}"))?;
    let keys = set["keys"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the authority's JWKS has no \"keys\" array"))?;
    Ok(keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk["kid"].as_str()?.to_owned();
            match PublicKey::from_jwk(jwk) {
                Ok(key) => Some((kid, key)),
                Err(e) => {
                    tracing::warn!(%kid, error = %e, "skipping an unusable JWKS key");
                    None
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_is_created_once_private_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("stella-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("authority-key.pem");
        let first = load_or_create_signing_key(&path).unwrap();
        let second = load_or_create_signing_key(&path).unwrap();
        assert_eq!(first.kid(), second.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nonce_key_is_shared_through_its_file_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("stella-nonce-{}", uuid::Uuid::new_v4()));
        let path = dir.join("dpop-nonce.key");
        let first = load_or_create_nonce_key(&path).unwrap();
        assert_eq!(first, load_or_create_nonce_key(&path).unwrap());
        std::fs::write(&path, "not hex").unwrap();
        let e = format!("{:#}", load_or_create_nonce_key(&path).unwrap_err());
        assert!(e.contains("dpop-nonce.key") && e.contains("64 hex"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
