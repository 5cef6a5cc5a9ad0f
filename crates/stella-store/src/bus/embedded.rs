//! The embedded Bus adapter (`memory` in the config): Redis-stream semantics in a SQLite file,
//! so the single-process mode keeps queued jobs and unacknowledged deliveries across a
//! restart, with nothing to install.
//!
//! Tables: `bus_messages` (the streams; ids are a global sequence), `bus_groups` (each
//! group's last handed-out id) and `bus_pending` (handed out, not yet acknowledged: who holds
//! it, since when, how many times). Acknowledged messages stay, as in a Redis stream, until
//! the stream is deleted. A blocking claim waits on an in-process notification, with a short
//! poll so publishes from another process are seen too.

use super::{Bus, BusError, Delivery, TAIL_BUFFER, Tail};
use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

const BACKEND: &str = "embedded";
const POLL: Duration = Duration::from_millis(100);

pub struct EmbeddedBus {
    conn: Arc<Mutex<Connection>>,
    published: Arc<Published>,
}

/// One wake-up per stream: a publish wakes the claims and tails of its own stream only, so a
/// job published does not also set every event follower reading.
#[derive(Default)]
struct Published(Mutex<std::collections::HashMap<String, Arc<Notify>>>);

impl Published {
    fn of(&self, stream: &str) -> Arc<Notify> {
        let mut streams = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(streams.entry(stream.to_owned()).or_default())
    }
}

/// How often the bus's write-ahead log is checkpointed into the file, in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl EmbeddedBus {
    /// Opens (creating) the bus file.
    pub async fn open(path: &Path) -> Result<Self, BusError> {
        let path = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || -> rusqlite::Result<Connection> {
            if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            }
            let conn = Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // No fsync per commit: in WAL mode a commit still survives a crash of the process,
            // and what a power cut can take (the last publishes, claims or acks) the Db makes
            // good. A job stays `queued` in the Db until a worker runs it, and the worker's
            // sweeper publishes such jobs again; a lost ack or claim only means a second
            // delivery, which the worker drops once the Db says the job is finished. The
            // scan's hot path loses two disk syncs.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // No checkpoint inside a commit either (it syncs the disk): a background task
            // checkpoints every CHECKPOINT_EVERY and restarts the log itself (see
            // `checkpoint_loop`), so bus calls do not wait for the disk, which is what lets
            // `call` run them on the caller's thread.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS bus_messages (
                     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
                     stream   TEXT NOT NULL,
                     payload  BLOB NOT NULL);
                 CREATE INDEX IF NOT EXISTS bus_messages_stream ON bus_messages (stream, seq);
                 CREATE TABLE IF NOT EXISTS bus_groups (
                     stream    TEXT NOT NULL,
                     grp       TEXT NOT NULL,
                     last_seq  INTEGER NOT NULL,
                     PRIMARY KEY (stream, grp));
                 CREATE TABLE IF NOT EXISTS bus_wal_restart (
                     id     INTEGER PRIMARY KEY,
                     at_ms  INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS bus_pending (
                     stream        TEXT NOT NULL,
                     grp           TEXT NOT NULL,
                     seq           INTEGER NOT NULL,
                     consumer      TEXT NOT NULL,
                     delivered_ms  INTEGER NOT NULL,
                     deliveries    INTEGER NOT NULL,
                     PRIMARY KEY (stream, grp, seq));",
            )?;
            Ok(conn)
        })
        .await
        .map_err(|e| BusError::backend(BACKEND, "open", "", e))?
        .map_err(|e| BusError::backend(BACKEND, "open", "", e))?;
        let conn = Arc::new(Mutex::new(conn));
        tokio::spawn(checkpoint_loop(Arc::downgrade(&conn)));
        Ok(EmbeddedBus {
            conn,
            published: Arc::default(),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        stream: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, BusError> {
        call(&self.conn, op, stream, f).await
    }

    /// Reads the messages of `stream` after `last` into `tx`, on every publish in this process
    /// and every [`POLL`] (publishes from other processes), until `tx`'s tail is dropped.
    async fn follow(
        conn: Arc<Mutex<Connection>>,
        published: Arc<Notify>,
        stream: String,
        mut last: i64,
        tx: tokio::sync::mpsc::Sender<Bytes>,
    ) {
        loop {
            // Created before the read, so a publish during it still wakes the wait below.
            let notified = published.notified();
            let s = stream.clone();
            let rows = call(&conn, "tail", &stream, move |conn| {
                messages_after(conn, &s, last, TAIL_BUFFER)
            })
            .await;
            let full = match rows {
                Ok(rows) => {
                    let full = rows.len() == TAIL_BUFFER;
                    for (seq, payload) in rows {
                        last = seq;
                        if tx.send(Bytes::from(payload)).await.is_err() {
                            return;
                        }
                    }
                    full
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tailing the embedded bus failed; retrying");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = tx.closed() => return,
            }
        }
    }

    /// Hands out up to `max` new messages, or none.
    async fn claim_now(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        let (s, g, c) = (stream.to_string(), group.to_string(), consumer.to_string());
        let rows = self
            .call("claim", stream, move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let last: Option<i64> = tx
                    .query_row(
                        "SELECT last_seq FROM bus_groups WHERE stream = ?1 AND grp = ?2",
                        params![s, g],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(last) = last else {
                    return Err(rusqlite::Error::QueryReturnedNoRows);
                };
                let rows = messages_after(&tx, &s, last, max.max(1))?;
                if let Some((seq, _)) = rows.last() {
                    tx.execute(
                        "UPDATE bus_groups SET last_seq = ?3 WHERE stream = ?1 AND grp = ?2",
                        params![s, g, seq],
                    )?;
                }
                let now = now_ms();
                for (seq, _) in &rows {
                    tx.execute(
                        "INSERT INTO bus_pending
                             (stream, grp, seq, consumer, delivered_ms, deliveries)
                         VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                        params![s, g, seq, c, now],
                    )?;
                }
                tx.commit()?;
                Ok(rows)
            })
            .await
            .map_err(|e| match e {
                BusError::Backend { source, .. }
                    if matches!(
                        source.downcast_ref::<rusqlite::Error>(),
                        Some(rusqlite::Error::QueryReturnedNoRows)
                    ) =>
                {
                    BusError::Protocol {
                        backend: BACKEND,
                        op: "claim",
                        stream: stream.to_string(),
                        message: format!("no group `{group}` (call ensure_group first)"),
                    }
                }
                other => other,
            })?;
        Ok(rows
            .into_iter()
            .map(|(seq, payload)| Delivery {
                id: seq.to_string(),
                receipt: seq.to_string(),
                payload: Bytes::from(payload),
                deliveries: 1,
            })
            .collect())
    }
}

/// Up to `limit` messages of `stream` after the sequence number `after`, oldest first.
fn messages_after(
    conn: &Connection,
    stream: &str,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, payload FROM bus_messages
         WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    stmt.query_map(params![stream, after, limit as i64], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?
    .collect()
}

/// Runs `f` on the connection: on the calling thread when the connection is free, else on
/// the blocking pool. Bus calls do not wait for the disk (commits are unsynced; checkpoints and
/// log restarts happen in `checkpoint_loop`), so one takes tens of microseconds, less than the
/// round trip to the blocking pool, which on a virtual machine wakes a thread on another CPU
/// each way.
async fn call<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    op: &'static str,
    stream: &str,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, BusError> {
    if let Some(mut guard) = crate::lock_if_free(conn) {
        return f(&mut guard).map_err(|e| BusError::backend(BACKEND, op, stream, e));
    }
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    })
    .await
    .map_err(|e| BusError::backend(BACKEND, op, stream, e))?
    .map_err(|e| BusError::backend(BACKEND, op, stream, e))
}

/// Checkpoints the bus's write-ahead log every [`CHECKPOINT_EVERY`] (passive: it never waits
/// for readers or writers), on the blocking pool, until the bus is dropped. After a checkpoint
/// that moved the whole log, the first write restarts the log and syncs its new header: this
/// task makes that write itself (a row in `bus_wal_restart`), so the sync happens here and not
/// in a publish or claim on the caller's thread. An idle bus (no change since the last pass) is
/// left alone.
async fn checkpoint_loop(conn: std::sync::Weak<Mutex<Connection>>) {
    let mut changes_seen: Option<i64> = None;
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let Some(conn) = conn.upgrade() else {
            return;
        };
        let pass = tokio::task::spawn_blocking(move || -> rusqlite::Result<Option<i64>> {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let changes = |c: &Connection| c.query_row("SELECT total_changes()", [], |r| r.get(0));
            if Some(changes(&conn)?) == changes_seen {
                return Ok(changes_seen);
            }
            let (busy, log, moved): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            if busy == 0 && log > 0 && log == moved {
                conn.execute(
                    "INSERT OR REPLACE INTO bus_wal_restart (id, at_ms) VALUES (1, ?1)",
                    [now_ms()],
                )?;
            }
            Ok(Some(changes(&conn)?))
        })
        .await;
        match pass
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            Ok(seen) => changes_seen = seen,
            Err(e) => tracing::warn!(error = %e, "checkpointing the embedded bus failed; retrying"),
        }
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn publish(&self, stream: &str, payload: &[u8]) -> Result<String, BusError> {
        let (s, p) = (stream.to_string(), payload.to_vec());
        let seq = self
            .call("publish", stream, move |conn| {
                conn.execute(
                    "INSERT INTO bus_messages (stream, payload) VALUES (?1, ?2)",
                    params![s, p],
                )?;
                Ok(conn.last_insert_rowid())
            })
            .await?;
        self.published.of(stream).notify_waiters();
        Ok(seq.to_string())
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let (s, g) = (stream.to_string(), group.to_string());
        self.call("create group", stream, move |conn| {
            conn.execute(
                "INSERT INTO bus_groups (stream, grp, last_seq) VALUES (?1, ?2, 0)
                 ON CONFLICT DO NOTHING",
                params![s, g],
            )
            .map(|_| ())
        })
        .await
    }

    async fn claim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + block;
        let published = self.published.of(stream);
        loop {
            // Register interest before looking, so a publish in between is not missed.
            let notified = published.notified();
            let got = self.claim_now(stream, group, consumer, max).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let wait = (deadline - now).min(POLL);
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }

    async fn ack(&self, stream: &str, group: &str, delivery: &Delivery) -> Result<(), BusError> {
        let (s, g) = (stream.to_string(), group.to_string());
        let seq: i64 = delivery.receipt.parse().map_err(|_| BusError::Protocol {
            backend: BACKEND,
            op: "ack",
            stream: stream.to_string(),
            message: format!("not a message id: {}", delivery.receipt),
        })?;
        self.call("ack", stream, move |conn| {
            conn.execute(
                "DELETE FROM bus_pending WHERE stream = ?1 AND grp = ?2 AND seq = ?3",
                params![s, g, seq],
            )
            .map(|_| ())
        })
        .await
    }

    async fn keep_alive(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        delivery: &Delivery,
    ) -> Result<(), BusError> {
        let (s, g, c) = (stream.to_string(), group.to_string(), consumer.to_string());
        let seq: i64 = delivery.receipt.parse().map_err(|_| BusError::Protocol {
            backend: BACKEND,
            op: "keep_alive",
            stream: stream.to_string(),
            message: format!("not a message id: {}", delivery.receipt),
        })?;
        self.call("keep_alive", stream, move |conn| {
            conn.execute(
                "UPDATE bus_pending SET delivered_ms = ?5
                 WHERE stream = ?1 AND grp = ?2 AND seq = ?3 AND consumer = ?4",
                params![s, g, seq, c, now_ms()],
            )
            .map(|_| ())
        })
        .await
    }

    async fn reclaim_idle(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        let (s, g, c) = (stream.to_string(), group.to_string(), consumer.to_string());
        let min_idle = min_idle.as_millis() as i64;
        let rows = self
            .call("reclaim", stream, move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now_ms();
                let rows = {
                    let mut stmt = tx.prepare(
                        "SELECT p.seq, m.payload, p.deliveries + 1
                         FROM bus_pending p JOIN bus_messages m ON m.seq = p.seq
                         WHERE p.stream = ?1 AND p.grp = ?2 AND p.delivered_ms <= ?3
                         ORDER BY p.seq LIMIT ?4",
                    )?;
                    stmt.query_map(params![s, g, now - min_idle, max.max(1) as i64], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                };
                for (seq, _, deliveries) in &rows {
                    tx.execute(
                        "UPDATE bus_pending SET consumer = ?4, delivered_ms = ?5, deliveries = ?6
                         WHERE stream = ?1 AND grp = ?2 AND seq = ?3",
                        params![s, g, seq, c, now, deliveries],
                    )?;
                }
                tx.commit()?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, payload, deliveries)| Delivery {
                id: seq.to_string(),
                receipt: seq.to_string(),
                payload: Bytes::from(payload),
                deliveries: deliveries as u64,
            })
            .collect())
    }

    async fn tail(&self, stream: &str) -> Result<Tail, BusError> {
        let s = stream.to_string();
        let last: i64 = self
            .call("tail", stream, move |conn| {
                conn.query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM bus_messages WHERE stream = ?1",
                    [&s],
                    |r| r.get(0),
                )
            })
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(TAIL_BUFFER);
        tokio::spawn(Self::follow(
            Arc::clone(&self.conn),
            self.published.of(stream),
            stream.to_string(),
            last,
            tx,
        ));
        Ok(Tail::from_channel(rx))
    }

    fn dead_letter_stream(&self, stream: &str) -> String {
        format!("{stream}:dead")
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), BusError> {
        let s = stream.to_string();
        self.call("delete stream", stream, move |conn| {
            let tx = conn.transaction()?;
            for table in ["bus_messages", "bus_groups", "bus_pending"] {
                tx.execute(&format!("DELETE FROM {table} WHERE stream = ?1"), [&s])?;
            }
            tx.commit()
        })
        .await
    }
}
