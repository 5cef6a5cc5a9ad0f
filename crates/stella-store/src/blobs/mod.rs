//! The Blobs port: artifacts (SBOMs, reports, bundles) by key, on the local filesystem for the
//! embedded mode or in an S3-compatible bucket for the distributed one, both through
//! `object_store`.
//!
//! Keys are `/`-separated relative paths such as `artifacts/scan-1/sbom.spdx.json`. They are
//! checked before any backend sees them ([`validate_key`]): no empty key, no leading or trailing
//! `/`, no empty, `.` or `..` segment, no backslash or control character. That is what keeps a
//! key from naming a file outside the store's directory.
//!
//! `put` is atomic in both adapters: LocalFileSystem writes a staging file and renames it, and an
//! S3 PUT becomes visible whole or not at all. Readers never see half an object. A put to the
//! filesystem is also on disk when it returns (the file and the directories it created are
//! fsynced).

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// Failures of the Blobs port, naming the backend and the operation.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("blob store url `{0}` is not supported (expected file://DIR or s3://BUCKET)")]
    UnsupportedUrl(String),
    #[error("blob store ({backend}) {op} `{key}`: {source}")]
    Backend {
        backend: &'static str,
        op: &'static str,
        key: String,
        /// Boxed: object_store's error is large, and this one travels in every `Result`.
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("blob store ({backend}) open: {message}")]
    Open {
        backend: &'static str,
        message: String,
    },
}

/// Artifact storage by key.
#[async_trait]
pub trait Blobs: Send + Sync {
    /// `fs` or `s3`, for logs and errors.
    fn backend(&self) -> &'static str;
    /// Stores `bytes` under `key`, replacing what was there, atomically.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError>;
    /// The object under `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError>;
    /// Keys under the directory `prefix` (whole segments: `a/b` lists `a/b/c`, not `a/bc`),
    /// sorted. An empty prefix lists everything.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// Checks a key against the rules in the module documentation.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let bad = |reason| {
        Err(BlobError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute (leading `/`)");
    }
    if key.chars().any(|c| c == '\\' || c.is_control()) {
        return bad("contains a backslash or a control character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("`.` or `..` segment"),
            _ => {}
        }
    }
    Ok(())
}

/// The one adapter: both backends are `object_store` implementations and differ only in how
/// they are built.
struct ObjectStoreBlobs {
    backend: &'static str,
    store: Arc<dyn ObjectStore>,
}

impl ObjectStoreBlobs {
    fn path(&self, key: &str) -> Result<ObjectPath, BlobError> {
        validate_key(key)?;
        ObjectPath::parse(key).map_err(|e| BlobError::Backend {
            backend: self.backend,
            op: "parse key",
            key: key.to_string(),
            source: Box::new(e.into()),
        })
    }

    fn err(&self, op: &'static str, key: &str) -> impl FnOnce(object_store::Error) -> BlobError {
        let (backend, key) = (self.backend, key.to_string());
        move |source| BlobError::Backend {
            backend,
            op,
            key,
            source: Box::new(source),
        }
    }
}

#[async_trait]
impl Blobs for ObjectStoreBlobs {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let path = self.path(key)?;
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(self.err("put", key))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        let path = self.path(key)?;
        match self.store.get(&path).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(self.err("get", key))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("get", key)(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let prefix = prefix.trim_end_matches('/');
        let path = if prefix.is_empty() {
            None
        } else {
            Some(self.path(prefix)?)
        };
        let metas: Vec<_> = self
            .store
            .list(path.as_ref())
            .try_collect()
            .await
            .map_err(self.err("list", prefix))?;
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", key)(e)),
        }
    }
}

/// Opens the blob store named by `blobs.url`:
/// - `file://DIR`: a directory (created if missing);
/// - `s3://BUCKET`: an S3 bucket, with `endpoint` for S3-compatible servers (plain `http://` is
///   allowed, for loopback servers), `region` (default `us-east-1`), and credentials from
///   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (read by object_store, never logged).
///   Requests are path-style, which every S3-compatible server understands.
pub fn open_blobs(
    url: &str,
    endpoint: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<dyn Blobs>, BlobError> {
    if let Some(dir) = url.strip_prefix("file://") {
        if dir.is_empty() {
            return Err(BlobError::UnsupportedUrl(url.to_string()));
        }
        std::fs::create_dir_all(dir).map_err(|e| BlobError::Open {
            backend: "fs",
            message: format!("{dir}: {e}"),
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| BlobError::Open {
                backend: "fs",
                message: e.to_string(),
            })?
            // Leaves no empty directories behind after deletes.
            .with_automatic_cleanup(true)
            // A put returns once the file, and every directory entry it created, is on disk:
            // the worker completes a job (and acknowledges its message) after storing its
            // artifacts, so a machine crash must not leave a completed job without its SBOM.
            .with_fsync(true);
        return Ok(Arc::new(ObjectStoreBlobs {
            backend: "fs",
            store: Arc::new(store),
        }));
    }
    if let Some(bucket) = url.strip_prefix("s3://") {
        let credentials = match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(access_key_id), Ok(secret_access_key)) => Some(S3Credentials {
                access_key_id,
                secret_access_key,
            }),
            _ => None,
        };
        return open_s3(bucket.trim_end_matches('/'), endpoint, region, credentials);
    }
    Err(BlobError::UnsupportedUrl(url.to_string()))
}

/// Static S3 credentials. `Debug` shows the key id only.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Opens an S3 bucket with explicit credentials (what `open_blobs` does with the ones from the
/// environment; without any, object_store's default chain applies).
pub fn open_s3(
    bucket: &str,
    endpoint: Option<&str>,
    region: Option<&str>,
    credentials: Option<S3Credentials>,
) -> Result<Arc<dyn Blobs>, BlobError> {
    if bucket.is_empty() || bucket.contains('/') {
        return Err(BlobError::UnsupportedUrl(format!("s3://{bucket}")));
    }
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region.unwrap_or("us-east-1"));
    if let Some(c) = credentials {
        builder = builder
            .with_access_key_id(c.access_key_id)
            .with_secret_access_key(c.secret_access_key);
    }
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let store = builder.build().map_err(|e| BlobError::Open {
        backend: "s3",
        message: e.to_string(),
    })?;
    Ok(Arc::new(ObjectStoreBlobs {
        backend: "s3",
        store: Arc::new(store),
    }))
}
