//! The advisory store: raw upstream documents, the observations parsed from them, the current
//! set per feed, and the snapshots each sync produced.
//!
//! Everything is append-only except the "current" table, which says which observation of each
//! upstream record is live. A sync runs in one transaction ([`AdvisorySync`]): a crash or an
//! error leaves the previous snapshot exactly as it was, and a sync that changes nothing
//! writes nothing at all (every insert is keyed by content, and the current set is only
//! touched where a content hash differs).
//!
//! [`AdvisoryStore`] is the port; [`SqliteAdvisoryStore`] the embedded adapter. SQL stays
//! behind the trait so that a PostgreSQL adapter can follow without touching Concelier.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use stella_model::{Digest, DigestHasher, FeedSource};

/// One parsed upstream record, ready to be stored.
#[derive(Debug, Clone)]
pub struct ObservationInput {
    pub upstream_id: String,
    /// sha256 of `document`.
    pub content_hash: Digest,
    /// The record as upstream wrote it, as canonical JSON (RFC 8785).
    pub document: Vec<u8>,
    /// The normalized record (`stella_model::Normalized`) as JSON.
    pub normalized: Vec<u8>,
    /// The raw upstream document it was read from.
    pub raw_digest: Option<Digest>,
}

/// Records of one scope of a feed, from one fetched upstream document (or a part of one).
///
/// A scope is the unit a feed publishes completely: `osv:PyPI` (one `all.zip`),
/// `alpine:v3.20/main`, `debian`, `kev`. A sync applies batches as it reads documents and,
/// when it read a scope whole, calls [`AdvisorySync::complete_scope`] to withdraw the records
/// of the scope that no batch named.
#[derive(Debug, Clone)]
pub struct ScopeBatch {
    pub source: FeedSource,
    pub scope: String,
    /// Raw upstream documents: where each came from and its exact bytes.
    pub raw: Vec<(String, Vec<u8>)>,
    pub observations: Vec<ObservationInput>,
}

/// One record named in a delta.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordRef {
    pub source: FeedSource,
    pub upstream_id: String,
    pub content_hash: String,
}

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub new: Vec<RecordRef>,
    pub changed: Vec<RecordRef>,
    pub withdrawn: Vec<RecordRef>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.changed.is_empty() && self.withdrawn.is_empty()
    }

    fn sort(&mut self) {
        self.new.sort();
        self.new.dedup();
        self.changed.sort();
        self.changed.dedup();
        self.withdrawn.sort();
        self.withdrawn.dedup();
    }
}

/// A snapshot: the digest of the whole current observation set after a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// `sha256:…` over the sorted `(source, upstream id, content hash)` of every live record.
    pub id: String,
    pub created_at: String,
    pub previous: Option<String>,
    pub records: u64,
    pub delta: Delta,
}

/// The result of committing a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The snapshot now current (unchanged when nothing changed).
    pub snapshot: Option<String>,
    pub previous: Option<String>,
    pub delta: Delta,
    /// Rows the sync inserted, updated or deleted; 0 for a sync of unchanged data.
    pub rows_written: u64,
}

/// Per-source counts for `stella feeds status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: FeedSource,
    pub records: u64,
    pub scopes: Vec<String>,
    /// When a record of this source last changed (first fetch time of its newest observation).
    pub last_changed: Option<String>,
}

/// One stored observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObservation {
    pub source: FeedSource,
    pub upstream_id: String,
    pub content_hash: String,
    pub fetched_at: String,
    pub raw_digest: Option<String>,
    /// Canonical JSON of the upstream record.
    pub document: Vec<u8>,
    /// JSON of the normalized record.
    pub normalized: Vec<u8>,
}

/// A raw upstream document, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDocument {
    pub digest: String,
    pub source: FeedSource,
    pub locator: String,
    pub fetched_at: String,
    pub bytes: Vec<u8>,
}

/// The port: where Concelier keeps what it ingests.
pub trait AdvisoryStore: Send + Sync {
    /// Starts a sync; nothing is visible to readers until [`AdvisorySync::commit`].
    fn begin_sync(&self) -> Result<Box<dyn AdvisorySync + '_>, StoreError>;
    /// The current snapshot, if any sync has run.
    fn current_snapshot(&self) -> Result<Option<SnapshotInfo>, StoreError>;
    /// Every snapshot, oldest first.
    fn snapshots(&self) -> Result<Vec<SnapshotInfo>, StoreError>;
    fn sources(&self) -> Result<Vec<SourceStatus>, StoreError>;
    /// Calls `f` for each live observation (each content once, even when several scopes
    /// hold it), in (source, upstream id) order. `document` is left empty: read it with
    /// [`AdvisoryStore::observations_of`].
    fn for_each_current(
        &self,
        f: &mut dyn FnMut(StoredObservation) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Every observation ever stored for an upstream id, current or not, oldest first.
    fn observations_of(&self, upstream_id: &str) -> Result<Vec<StoredObservation>, StoreError>;
    fn raw_document(&self, digest: &str) -> Result<Option<RawDocument>, StoreError>;
}

/// An open sync transaction. Dropping it without committing rolls everything back.
pub trait AdvisorySync {
    /// Applies one batch and returns what it changed.
    fn apply(&mut self, batch: &ScopeBatch, fetched_at: &str) -> Result<Delta, StoreError>;
    /// The scope was read whole: its live records that no batch of this sync named are
    /// withdrawn (unless another scope of the source still holds them).
    fn complete_scope(&mut self, source: FeedSource, scope: &str) -> Result<Delta, StoreError>;
    /// Computes the snapshot, records it when it differs from the previous one, and commits.
    fn commit(self: Box<Self>, now: &str) -> Result<Committed, StoreError>;
}

const SCHEMA: &str = "
-- Raw upstream documents, zstd-compressed (feeds are text and compress about tenfold); the
-- digest is of the uncompressed bytes, which raw_document() returns exactly.
CREATE TABLE IF NOT EXISTS raw_documents (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    locator TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    zstd BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    raw_digest TEXT,
    -- normalized before document: SQLite walks a row's columns in order, so the index load,
    -- which reads only normalized, never pages through the (larger) upstream documents.
    normalized BLOB NOT NULL,
    document BLOB NOT NULL,
    PRIMARY KEY (source, content_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS observations_by_upstream_id ON observations (upstream_id);
-- current_records_by_id answers 'is this record live in any scope', asked for every record.
CREATE TABLE IF NOT EXISTS current_records (
    source TEXT NOT NULL,
    scope TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (source, scope, upstream_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_records_by_id ON current_records (source, upstream_id);
CREATE INDEX IF NOT EXISTS current_records_by_hash ON current_records (source, content_hash);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    previous TEXT,
    records INTEGER NOT NULL,
    delta TEXT NOT NULL
);
";

/// The embedded adapter: one SQLite file, `advisories.sqlite` in the data directory.
pub struct SqliteAdvisoryStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteAdvisoryStore {
    /// Opens (creating when needed) `advisories.sqlite` in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteAdvisoryStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            message: "cannot create the data directory".into(),
            source,
        })?;
        let path = dir.join("advisories.sqlite");
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(SqliteAdvisoryStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

fn parse_source(s: &str) -> Result<FeedSource, rusqlite::Error> {
    s.parse::<FeedSource>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn snapshot_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotInfo> {
    let delta: String = row.get(4)?;
    Ok(SnapshotInfo {
        id: row.get(0)?,
        created_at: row.get(1)?,
        previous: row.get(2)?,
        records: row.get::<_, i64>(3)? as u64,
        delta: serde_json::from_str(&delta).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

fn observation_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredObservation> {
    Ok(StoredObservation {
        source: parse_source(&row.get::<_, String>(0)?)?,
        upstream_id: row.get(1)?,
        content_hash: row.get(2)?,
        fetched_at: row.get(3)?,
        raw_digest: row.get(4)?,
        document: row.get(5)?,
        normalized: row.get(6)?,
    })
}

const SNAPSHOT_COLUMNS: &str = "id, created_at, previous, records, delta";
const OBSERVATION_COLUMNS_WITHOUT_DOCUMENT: &str =
    "o.source, o.upstream_id, o.content_hash, o.fetched_at, o.raw_digest, X'', o.normalized";
const OBSERVATION_COLUMNS: &str =
    "o.source, o.upstream_id, o.content_hash, o.fetched_at, o.raw_digest, o.document, o.normalized";

impl AdvisoryStore for SqliteAdvisoryStore {
    fn begin_sync(&self) -> Result<Box<dyn AdvisorySync + '_>, StoreError> {
        let conn = self.lock();
        // IMMEDIATE takes the write lock now, so two syncs never interleave.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(self.err())?;
        Ok(Box::new(SqliteSync {
            store: self,
            conn: Some(conn),
            rows_written: 0,
            delta: Delta::default(),
            seen: Default::default(),
        }))
    }

    fn current_snapshot(&self) -> Result<Option<SnapshotInfo>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {SNAPSHOT_COLUMNS} FROM snapshots ORDER BY seq DESC LIMIT 1"),
            [],
            snapshot_from_row,
        )
        .optional()
        .map_err(self.err())
    }

    fn snapshots(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM snapshots ORDER BY seq"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], snapshot_from_row)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    fn sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT c.source, c.scope, COUNT(*), MAX(o.fetched_at) FROM current_records c
                 JOIN observations o ON o.source = c.source AND o.content_hash = c.content_hash
                 GROUP BY c.source, c.scope ORDER BY c.source, c.scope",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    parse_source(&r.get::<_, String>(0)?)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        // Records are counted once per source even when several scopes carry them.
        let mut distinct = conn
            .prepare("SELECT COUNT(DISTINCT upstream_id) FROM current_records WHERE source = ?1")
            .map_err(self.err())?;
        let mut out: Vec<SourceStatus> = Vec::new();
        for (source, scope, _, last) in rows {
            match out.last_mut() {
                Some(s) if s.source == source => {
                    s.scopes.push(scope);
                    if last > s.last_changed {
                        s.last_changed = last;
                    }
                }
                _ => {
                    let records: i64 = distinct
                        .query_row([source.as_str()], |r| r.get(0))
                        .map_err(self.err())?;
                    out.push(SourceStatus {
                        source,
                        records: records as u64,
                        scopes: vec![scope],
                        last_changed: last,
                    })
                }
            }
        }
        Ok(out)
    }

    fn for_each_current(
        &self,
        f: &mut dyn FnMut(StoredObservation) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                // One pass over observations in storage order, each kept when the live set
                // (by its content-hash index) holds it: sequential pages instead of a random
                // lookup per record. The upstream document is left out (an empty blob):
                // matching reads only the normalized record.
                "SELECT {OBSERVATION_COLUMNS_WITHOUT_DOCUMENT} FROM observations o
                 WHERE EXISTS (SELECT 1 FROM current_records c
                               WHERE c.source = o.source AND c.content_hash = o.content_hash)
                 ORDER BY o.source, o.upstream_id, o.content_hash"
            ))
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            f(observation_from_row(row).map_err(self.err())?)?;
        }
        Ok(())
    }

    fn observations_of(&self, upstream_id: &str) -> Result<Vec<StoredObservation>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {OBSERVATION_COLUMNS} FROM observations o WHERE o.upstream_id = ?1
                 ORDER BY o.fetched_at, o.source, o.content_hash"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([upstream_id], observation_from_row)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    fn raw_document(&self, digest: &str) -> Result<Option<RawDocument>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT digest, source, locator, fetched_at, zstd FROM raw_documents WHERE digest = ?1",
            [digest],
            |r| {
                let compressed: Vec<u8> = r.get(4)?;
                let bytes = zstd::decode_all(compressed.as_slice()).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        4,
                        rusqlite::types::Type::Blob,
                        Box::new(e),
                    )
                })?;
                Ok(RawDocument {
                    digest: r.get(0)?,
                    source: parse_source(&r.get::<_, String>(1)?)?,
                    locator: r.get(2)?,
                    fetched_at: r.get(3)?,
                    bytes,
                })
            },
        )
        .optional()
        .map_err(self.err())
    }
}

struct SqliteSync<'a> {
    store: &'a SqliteAdvisoryStore,
    conn: Option<MutexGuard<'a, Connection>>,
    rows_written: u64,
    delta: Delta,
    /// Upstream ids each (source, scope) named in this sync, for `complete_scope`.
    seen: std::collections::HashMap<(FeedSource, String), BTreeSet<String>>,
}

impl SqliteSync<'_> {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("connection held until commit")
    }
}

impl Drop for SqliteSync<'_> {
    fn drop(&mut self) {
        if let Some(conn) = &self.conn {
            // Not committed: leave the store as it was.
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

impl AdvisorySync for SqliteSync<'_> {
    fn apply(&mut self, batch: &ScopeBatch, fetched_at: &str) -> Result<Delta, StoreError> {
        let err = self.store.err();
        let source = batch.source.as_str();
        let mut written = 0u64;
        let mut delta = Delta::default();
        {
            let conn: &Connection = self.conn.as_deref().expect("connection held until commit");
            let mut has_raw = conn
                .prepare_cached("SELECT 1 FROM raw_documents WHERE digest = ?1")
                .map_err(&err)?;
            let mut put_raw = conn
                .prepare_cached(
                    "INSERT INTO raw_documents (digest, source, locator, fetched_at, size, zstd)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&err)?;
            for (locator, bytes) in &batch.raw {
                let digest = Digest::sha256_of(bytes).to_string();
                if has_raw.exists([&digest]).map_err(&err)? {
                    continue;
                }
                let compressed =
                    zstd::encode_all(bytes.as_slice(), 3).map_err(|e| StoreError::Encode {
                        path: self.store.path.clone(),
                        message: format!("compressing {locator}: {e}"),
                    })?;
                written += put_raw
                    .execute(params![
                        digest,
                        source,
                        locator,
                        fetched_at,
                        bytes.len() as i64,
                        compressed
                    ])
                    .map_err(&err)? as u64;
            }
            let mut put_obs = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO observations
                     (source, content_hash, upstream_id, fetched_at, raw_digest, document, normalized)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(&err)?;
            let mut get_current = conn
                .prepare_cached(
                    "SELECT content_hash FROM current_records
                     WHERE source = ?1 AND scope = ?2 AND upstream_id = ?3",
                )
                .map_err(&err)?;
            let mut known_elsewhere = conn
                .prepare_cached(
                    "SELECT 1 FROM current_records WHERE source = ?1 AND upstream_id = ?2 LIMIT 1",
                )
                .map_err(&err)?;
            let mut put_current = conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO current_records (source, scope, upstream_id, content_hash)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&err)?;
            let seen = self
                .seen
                .entry((batch.source, batch.scope.clone()))
                .or_default();
            for obs in &batch.observations {
                seen.insert(obs.upstream_id.clone());
                let hash = obs.content_hash.to_string();
                written += put_obs
                    .execute(params![
                        source,
                        hash,
                        obs.upstream_id,
                        fetched_at,
                        obs.raw_digest.as_ref().map(|d| d.to_string()),
                        obs.document,
                        obs.normalized
                    ])
                    .map_err(&err)? as u64;
                let current: Option<String> = get_current
                    .query_row(params![source, batch.scope, obs.upstream_id], |r| r.get(0))
                    .optional()
                    .map_err(&err)?;
                if current.as_deref() == Some(hash.as_str()) {
                    continue;
                }
                let record = RecordRef {
                    source: batch.source,
                    upstream_id: obs.upstream_id.clone(),
                    content_hash: hash.clone(),
                };
                if current.is_some() {
                    delta.changed.push(record);
                } else {
                    let elsewhere = known_elsewhere
                        .query_row(params![source, obs.upstream_id], |_| Ok(()))
                        .optional()
                        .map_err(&err)?
                        .is_some();
                    if !elsewhere {
                        delta.new.push(record);
                    }
                }
                written += put_current
                    .execute(params![source, batch.scope, obs.upstream_id, hash])
                    .map_err(&err)? as u64;
            }
        }
        delta.sort();
        self.rows_written += written;
        self.delta.new.extend(delta.new.iter().cloned());
        self.delta.changed.extend(delta.changed.iter().cloned());
        self.delta.withdrawn.extend(delta.withdrawn.iter().cloned());
        Ok(delta)
    }

    fn complete_scope(&mut self, source: FeedSource, scope: &str) -> Result<Delta, StoreError> {
        let err = self.store.err();
        let seen = self
            .seen
            .remove(&(source, scope.to_string()))
            .unwrap_or_default();
        let conn: &Connection = self.conn.as_deref().expect("connection held until commit");
        let source_name = source.as_str();
        let mut delta = Delta::default();
        let mut written = 0u64;
        let gone: Vec<(String, String)> = conn
            .prepare_cached(
                "SELECT upstream_id, content_hash FROM current_records
                 WHERE source = ?1 AND scope = ?2",
            )
            .map_err(&err)?
            .query_map(params![source_name, scope], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?
            .into_iter()
            .filter(|(id, _)| !seen.contains(id))
            .collect();
        let mut delete = conn
            .prepare_cached(
                "DELETE FROM current_records WHERE source = ?1 AND scope = ?2 AND upstream_id = ?3",
            )
            .map_err(&err)?;
        let mut known_elsewhere = conn
            .prepare_cached(
                "SELECT 1 FROM current_records WHERE source = ?1 AND upstream_id = ?2 LIMIT 1",
            )
            .map_err(&err)?;
        for (id, hash) in gone {
            written += delete
                .execute(params![source_name, scope, id])
                .map_err(&err)? as u64;
            let still_live = known_elsewhere
                .query_row(params![source_name, id], |_| Ok(()))
                .optional()
                .map_err(&err)?
                .is_some();
            if !still_live {
                delta.withdrawn.push(RecordRef {
                    source,
                    upstream_id: id,
                    content_hash: hash,
                });
            }
        }
        delta.sort();
        self.rows_written += written;
        self.delta.withdrawn.extend(delta.withdrawn.iter().cloned());
        Ok(delta)
    }

    fn commit(mut self: Box<Self>, now: &str) -> Result<Committed, StoreError> {
        self.commit_inner(now)
    }
}

impl SqliteSync<'_> {
    /// Commits what was applied (raw documents, observations) without recording a snapshot.
    fn finish_without_snapshot(&mut self, delta: Delta) -> Result<Committed, StoreError> {
        let err = self.store.err();
        let conn = self.conn.take().expect("connection held until commit");
        if let Err(e) = conn.execute_batch("COMMIT") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err(e));
        }
        Ok(Committed {
            snapshot: None,
            previous: None,
            delta,
            rows_written: self.rows_written,
        })
    }

    fn commit_inner(&mut self, now: &str) -> Result<Committed, StoreError> {
        let err = self.store.err();
        let mut delta = std::mem::take(&mut self.delta);
        delta.sort();
        let written = {
            let conn = self.conn();
            let previous: Option<String> = conn
                .query_row(
                    "SELECT id FROM snapshots ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&err)?;
            let (snapshot, records) = snapshot_digest(conn).map_err(&err)?;
            let mut rows_written = self.rows_written;
            // A first sync that yielded nothing (every fetch failed) is not a snapshot: an
            // empty store must keep saying so, or a `--fail-on` gate would pass on nothing.
            if previous.is_none() && records == 0 {
                None
            } else {
                if previous.as_deref() != Some(snapshot.as_str()) {
                    let delta_json =
                        serde_json::to_string(&delta).map_err(|e| StoreError::Encode {
                            path: self.store.path.clone(),
                            message: e.to_string(),
                        })?;
                    rows_written += conn
                        .execute(
                            "INSERT INTO snapshots (id, created_at, previous, records, delta)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![snapshot, now, previous, records as i64, delta_json],
                        )
                        .map_err(&err)? as u64;
                }
                Some((snapshot, previous, rows_written))
            }
        };
        let Some((snapshot, previous, rows_written)) = written else {
            return self.finish_without_snapshot(delta);
        };
        let conn = self.conn.take().expect("connection held until commit");
        if let Err(e) = conn.execute_batch("COMMIT") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err(e));
        }
        Ok(Committed {
            snapshot: Some(snapshot),
            previous,
            delta,
            rows_written,
        })
    }
}

/// sha256 over `source \t upstream id \t content hash \n` of every live record, sorted: the
/// same observation set always has the same id, whatever order it was fetched in.
fn snapshot_digest(conn: &Connection) -> rusqlite::Result<(String, u64)> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT source, upstream_id, content_hash FROM current_records
         ORDER BY source, upstream_id, content_hash",
    )?;
    let mut rows = stmt.query([])?;
    let mut hasher = DigestHasher::sha256();
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let (s, id, h): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        hasher.update(s.as_bytes());
        hasher.update(b"\t");
        hasher.update(id.as_bytes());
        hasher.update(b"\t");
        hasher.update(h.as_bytes());
        hasher.update(b"\n");
        n += 1;
    }
    Ok((hasher.finish().to_string(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, body: &str) -> ObservationInput {
        ObservationInput {
            upstream_id: id.into(),
            content_hash: Digest::sha256_of(body.as_bytes()),
            document: body.as_bytes().to_vec(),
            normalized: b"{}".to_vec(),
            raw_digest: None,
        }
    }

    fn batch(scope: &str, complete: bool, records: &[(&str, &str)]) -> (ScopeBatch, bool) {
        let b = ScopeBatch {
            source: FeedSource::Osv,
            scope: scope.into(),
            raw: vec![("PyPI/all.zip".into(), b"raw".to_vec())],
            observations: records.iter().map(|(i, b)| obs(i, b)).collect(),
        };
        (b, complete)
    }

    fn sync(store: &SqliteAdvisoryStore, batches: &[(ScopeBatch, bool)]) -> Committed {
        let mut s = store.begin_sync().unwrap();
        for (b, complete) in batches {
            s.apply(b, "2026-01-01T00:00:00Z").unwrap();
            if *complete {
                s.complete_scope(b.source, &b.scope).unwrap();
            }
        }
        s.commit("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn resync_of_unchanged_data_writes_nothing_and_keeps_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAdvisoryStore::open(dir.path()).unwrap();
        let b = batch("osv:PyPI", true, &[("A", "{\"a\":1}"), ("B", "{\"b\":1}")]);
        let first = sync(&store, std::slice::from_ref(&b));
        assert_eq!(first.delta.new.len(), 2);
        assert!(first.previous.is_none());
        let second = sync(&store, &[b]);
        assert_eq!(second.rows_written, 0);
        assert!(second.delta.is_empty());
        assert_eq!(second.snapshot, first.snapshot);
        assert_eq!(store.snapshots().unwrap().len(), 1);
    }

    #[test]
    fn a_changed_record_and_a_missing_one_make_one_change_and_one_withdrawal() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAdvisoryStore::open(dir.path()).unwrap();
        sync(
            &store,
            &[batch(
                "osv:PyPI",
                true,
                &[("A", "1"), ("B", "2"), ("C", "3")],
            )],
        );
        let c = sync(
            &store,
            &[batch("osv:PyPI", true, &[("A", "1"), ("B", "2b")])],
        );
        assert!(c.delta.new.is_empty());
        assert_eq!(c.delta.changed.len(), 1);
        assert_eq!(c.delta.changed[0].upstream_id, "B");
        assert_eq!(c.delta.withdrawn.len(), 1);
        assert_eq!(c.delta.withdrawn[0].upstream_id, "C");
        assert_ne!(c.snapshot, c.previous);
        // The old observation of B is still there: observations are append-only.
        assert_eq!(store.observations_of("B").unwrap().len(), 2);
        let mut live = vec![];
        store
            .for_each_current(&mut |o| {
                live.push(o.upstream_id);
                Ok(())
            })
            .unwrap();
        assert_eq!(live, vec!["A", "B"]);
    }

    #[test]
    fn a_record_held_by_two_scopes_is_withdrawn_only_when_both_drop_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAdvisoryStore::open(dir.path()).unwrap();
        sync(
            &store,
            &[
                batch("osv:PyPI", true, &[("G", "g")]),
                batch("osv:npm", true, &[("G", "g")]),
            ],
        );
        let c = sync(&store, &[batch("osv:npm", true, &[])]);
        assert!(c.delta.withdrawn.is_empty());
        let c = sync(&store, &[batch("osv:PyPI", true, &[])]);
        assert_eq!(c.delta.withdrawn.len(), 1);
    }

    #[test]
    fn a_first_sync_that_yields_nothing_is_not_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAdvisoryStore::open(dir.path()).unwrap();
        let c = sync(&store, &[]);
        assert_eq!(c.snapshot, None);
        assert!(store.current_snapshot().unwrap().is_none());
        // Once there were records, losing them all is a real (empty) snapshot.
        sync(&store, &[batch("osv:PyPI", true, &[("A", "1")])]);
        let c = sync(&store, &[batch("osv:PyPI", true, &[])]);
        assert!(c.snapshot.is_some());
        assert_eq!(c.delta.withdrawn.len(), 1);
    }

    #[test]
    fn an_abandoned_sync_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAdvisoryStore::open(dir.path()).unwrap();
        {
            let mut s = store.begin_sync().unwrap();
            s.apply(&batch("osv:PyPI", true, &[("A", "1")]).0, "t")
                .unwrap();
            // dropped without commit
        }
        assert!(store.current_snapshot().unwrap().is_none());
        assert!(store.observations_of("A").unwrap().is_empty());
        let raw = Digest::sha256_of(b"raw").to_string();
        assert!(store.raw_document(&raw).unwrap().is_none());
    }
}
