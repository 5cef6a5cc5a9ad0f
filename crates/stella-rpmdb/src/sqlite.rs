//! rpm's SQLite backend: `rpmdb.sqlite` (rpm ≥ 4.16: Fedora ≥ 33, RHEL/Rocky/Alma ≥ 9, Amazon
//! Linux 2023, CBL-Mariner). Header blobs sit in `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`.
//!
//! The bytes are handed to SQLite's deserialize API, so nothing touches the filesystem. The file
//! comes from an untrusted image, so the connection is opened read-only, in defensive mode, with
//! views, triggers and untrusted schema functions off, and a 32 MiB cap on any value (rpm caps a
//! header at 16 MiB of data plus its index).

use std::io::Read;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, MAIN_DB};

use crate::{BlobVisitor, Location, RpmDbError};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Size of SQLite's file header; bytes 18 and 19 hold the write/read format versions.
const FILE_HEADER: usize = 100;
const MAX_VALUE_LEN: i32 = 32 << 20;

pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> RpmDbError {
    move |source| RpmDbError::Sqlite { context, source }
}

/// Calls `f` with every package header blob, in `hnum` order.
pub(crate) fn for_each_blob(bytes: &[u8], f: &mut BlobVisitor<'_>) -> Result<(), RpmDbError> {
    if bytes.len() < FILE_HEADER {
        return Err(RpmDbError::SqliteLayout {
            reason: format!(
                "file is {} bytes, shorter than SQLite's 100-byte header",
                bytes.len()
            ),
        });
    }
    // rpm keeps its database in WAL mode (format versions 2/2 at bytes 18-19), and SQLite
    // refuses to open a deserialized WAL database. Marking the copy as rollback-journal (1/1)
    // reads the main file as it is; only a `-wal` file's uncheckpointed pages, which are not
    // part of these bytes anyway, would be missed.
    let mut head = [0u8; FILE_HEADER];
    head.copy_from_slice(&bytes[..FILE_HEADER]);
    if head[18] == 2 {
        head[18] = 1;
    }
    if head[19] == 2 {
        head[19] = 1;
    }

    let mut conn = Connection::open_in_memory().map_err(sql("opening an in-memory connection"))?;
    for (config, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
    ] {
        conn.set_db_config(config, on)
            .map_err(sql("hardening the connection"))?;
    }
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_LEN)
        .map_err(sql("limiting value length"))?;
    let reader = head.as_slice().chain(&bytes[FILE_HEADER..]);
    conn.deserialize_read_exact(MAIN_DB, reader, bytes.len(), true)
        .map_err(sql("loading the database image"))?;

    // A view or virtual table named Packages could run arbitrary SQL; insist on a table.
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sql("reading the schema"))?;
    match kind.as_deref() {
        Some("table") => {}
        Some(other) => {
            return Err(RpmDbError::SqliteLayout {
                reason: format!("Packages is a {other}, not a table"),
            });
        }
        None => {
            return Err(RpmDbError::SqliteLayout {
                reason: "no Packages table: not an rpm database".to_string(),
            });
        }
    }

    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sql("preparing the Packages query"))?;
    let mut rows = stmt.query([]).map_err(sql("querying Packages"))?;
    let mut row_number = 0u64;
    while let Some(row) = rows.next().map_err(sql("reading a Packages row"))? {
        let hnum = match row.get_ref(0).map_err(sql("reading hnum"))? {
            ValueRef::Integer(n) => n,
            other => {
                return Err(RpmDbError::SqliteLayout {
                    reason: format!(
                        "Packages row {row_number}: hnum is {:?}, not an integer",
                        other.data_type()
                    ),
                });
            }
        };
        match row.get_ref(1).map_err(sql("reading blob"))? {
            ValueRef::Blob(blob) => f(blob, Location::Sqlite { hnum })?,
            other => {
                return Err(RpmDbError::SqliteLayout {
                    reason: format!(
                        "Packages row with hnum {hnum}: blob is {:?}, not a BLOB",
                        other.data_type()
                    ),
                });
            }
        }
        row_number += 1;
    }
    Ok(())
}
