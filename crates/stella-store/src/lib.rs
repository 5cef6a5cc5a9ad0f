//! Where Stella keeps state.
//!
//! [`DataDir`] decides the one directory that holds all embedded state (the user's data
//! directory by default, `STELLA_DATA_DIR` to move it). [`LayerCache`] is the embedded store of
//! per-layer analysis results, keyed by layer digest and the analyzer set that produced them, in
//! a SQLite file. It stores opaque bytes: what they mean is the scanner's business, so the
//! store can move to PostgreSQL later without touching analysis code. [`AdvisoryStore`] is the
//! port for ingested advisories (raw documents, observations, snapshots and deltas), with
//! [`SqliteAdvisoryStore`] as its embedded adapter (`advisories.sqlite`).
//!
//! The service mode's three ports live in [`db`] (scan jobs, tenants, clients, artifacts
//! metadata: SQLite or PostgreSQL), [`blobs`] (artifacts: a directory or an S3 bucket) and
//! [`bus`] (job queue and events: embedded, Redis/Valkey streams or NATS JetStream), each
//! opened from a URL and checked by one conformance suite run against every adapter.

mod advisories;
pub mod blobs;
pub mod bus;
pub mod db;

pub use advisories::{
    AdvisoryStore, AdvisorySync, Committed, Delta, ObservationInput, RawDocument, RecordRef,
    ScopeBatch, SnapshotInfo, SourceStatus, SqliteAdvisoryStore, StoredObservation,
};

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use stella_model::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Io {
        path: PathBuf,
        message: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: cannot encode a record: {message}")]
    Encode { path: PathBuf, message: String },
    #[error(
        "no data directory: set STELLA_DATA_DIR (the user's data directory could not be determined)"
    )]
    NoDataDir,
}

/// The directory that holds all embedded state.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `STELLA_DATA_DIR` when set, else `<user data dir>/stella` (`~/.local/share/stella` on
    /// Linux).
    pub fn resolve() -> Result<DataDir, StoreError> {
        if let Some(d) = std::env::var_os("STELLA_DATA_DIR").filter(|d| !d.is_empty()) {
            return Ok(DataDir {
                root: PathBuf::from(d),
            });
        }
        let base = dirs::data_dir().ok_or(StoreError::NoDataDir)?;
        Ok(DataDir {
            root: base.join("stella"),
        })
    }

    pub fn at(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The default layer cache directory inside the data directory.
    pub fn layer_cache_dir(&self) -> PathBuf {
        self.root.join("layer-cache")
    }
}

/// Per-layer analysis results in SQLite, keyed by `(layer digest, analyzer key)`.
pub struct LayerCache {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS layer_results (
    layer_digest TEXT NOT NULL,
    analyzer_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (layer_digest, analyzer_key)
) WITHOUT ROWID;
";

impl LayerCache {
    /// Opens (creating when needed) the cache in `dir`.
    pub fn open(dir: &Path) -> Result<LayerCache, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            message: "cannot create the layer cache directory".into(),
            source,
        })?;
        let path = dir.join("layers.sqlite");
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        // Several scans may share one cache: WAL lets readers go on while one writes.
        conn.busy_timeout(Duration::from_secs(30)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(LayerCache {
            path,
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, layer: &Digest, analyzer_key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row(
            "SELECT data FROM layer_results WHERE layer_digest = ?1 AND analyzer_key = ?2",
            params![layer.to_string(), analyzer_key],
            |row| row.get::<_, Vec<u8>>(0),
        )
        .optional()
        .map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    pub fn put(&self, layer: &Digest, analyzer_key: &str, data: &[u8]) -> Result<(), StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT OR REPLACE INTO layer_results (layer_digest, analyzer_key, data) VALUES (?1, ?2, ?3)",
            params![layer.to_string(), analyzer_key, data],
        )
        .map(|_| ())
        .map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }
}

/// The guard of `mutex` if no one holds it, without waiting; a poisoned mutex is taken back.
/// Both SQLite-backed adapters use it to run a short call on the caller's thread when their
/// connection is free: a panic in an earlier call left nothing open (SQLite rolled it back).
pub(crate) fn lock_if_free<T>(mutex: &std::sync::Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_reads_back_by_digest_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open(dir.path()).unwrap();
        let d = Digest::sha256_of(b"layer");
        assert_eq!(cache.get(&d, "dpkg@1").unwrap(), None);
        cache.put(&d, "dpkg@1", b"result").unwrap();
        assert_eq!(
            cache.get(&d, "dpkg@1").unwrap().as_deref(),
            Some(&b"result"[..])
        );
        assert_eq!(
            cache.get(&d, "dpkg@2").unwrap(),
            None,
            "another analyzer version misses"
        );
        drop(cache);
        let again = LayerCache::open(dir.path()).unwrap();
        assert_eq!(
            again.get(&d, "dpkg@1").unwrap().as_deref(),
            Some(&b"result"[..]),
            "survives reopening"
        );
    }
}
