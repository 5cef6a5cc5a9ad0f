//! Redis/Valkey streams adapter of the Bus port: `XADD`, `XREADGROUP`, `XACK`, `XAUTOCLAIM`.
//!
//! Commands go through a `ConnectionManager`, which reconnects after a server restart. A
//! blocking `XREADGROUP` gets a connection of its own: on the shared multiplexed connection it
//! would hold up every other command, and trip the manager's 500 ms response timeout.

use super::{Bus, BusError, Delivery, TAIL_BUFFER, Tail};
use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{AsyncConnectionConfig, Client, Value};
use std::time::Duration;

const BACKEND: &str = "redis";
/// The stream entry field that holds the payload.
const FIELD: &str = "payload";

pub struct RedisBus {
    client: Client,
    conn: ConnectionManager,
}

impl RedisBus {
    /// Connects to `url` (never logged: it may carry a password).
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        let client = Client::open(url).map_err(|e| BusError::backend(BACKEND, "open", "", e))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| BusError::backend(BACKEND, "connect", "", e))?;
        Ok(RedisBus { client, conn })
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        stream: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, BusError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| BusError::backend(BACKEND, op, stream, e))
    }

    async fn claim_once(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        const OP: &str = "claim";
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(max.max(1));
        let reply: Value = if block.is_zero() {
            cmd.arg("STREAMS").arg(stream).arg(">");
            self.query(OP, stream, &cmd).await?
        } else {
            // BLOCK 0 means "forever" to Redis: round a sub-millisecond wait up to 1 ms.
            let ms = block.as_millis().max(1) as u64;
            cmd.arg("BLOCK").arg(ms).arg("STREAMS").arg(stream).arg(">");
            let config = AsyncConnectionConfig::new()
                .set_response_timeout(Some(block + Duration::from_secs(5)));
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| BusError::backend(BACKEND, OP, stream, e))?;
            cmd.query_async(&mut conn)
                .await
                .map_err(|e| BusError::backend(BACKEND, OP, stream, e))?
        };
        let entries = read_entries(OP, stream, &reply)?;
        Ok(entries
            .into_iter()
            .map(|(id, payload)| Delivery {
                receipt: id.clone(),
                id,
                payload,
                deliveries: 1,
            })
            .collect())
    }

    async fn reclaim_once(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        const OP: &str = "reclaim";
        let mut out = Vec::new();
        let mut cursor = "0-0".to_string();
        // XAUTOCLAIM scans the pending list in pages; follow its cursor until it wraps.
        loop {
            let reply: Value = self
                .query(
                    OP,
                    stream,
                    redis::cmd("XAUTOCLAIM")
                        .arg(stream)
                        .arg(group)
                        .arg(consumer)
                        .arg(min_idle.as_millis() as u64)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(max.saturating_sub(out.len()).max(1)),
                )
                .await?;
            let parts = as_array(&reply).ok_or_else(|| BusError::Protocol {
                backend: BACKEND,
                op: OP,
                stream: stream.to_string(),
                message: format!("{reply:?}"),
            })?;
            let next = parts
                .first()
                .and_then(as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| "0-0".to_string());
            if let Some(entries) = parts.get(1) {
                for (id, payload) in parse_entries(OP, stream, entries)? {
                    let deliveries = self.delivery_count(stream, group, &id).await?;
                    out.push(Delivery {
                        receipt: id.clone(),
                        id,
                        payload,
                        deliveries,
                    });
                }
            }
            if next == "0-0" || out.len() >= max {
                break;
            }
            cursor = next;
        }
        Ok(out)
    }

    /// Creates the group again after Redis lost it (a restart without persistence, a FLUSHDB):
    /// every later `XREADGROUP`/`XAUTOCLAIM` would fail with NOGROUP forever otherwise. The new
    /// group starts at the beginning of what the stream still holds; messages lost with the
    /// stream are the Db sweeper's to publish again.
    async fn recreate_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        self.ensure_group(stream, group).await
    }

    /// The delivery count of one pending entry (`XPENDING` extended form).
    async fn delivery_count(&self, stream: &str, group: &str, id: &str) -> Result<u64, BusError> {
        let reply: Value = self
            .query(
                "pending",
                stream,
                redis::cmd("XPENDING")
                    .arg(stream)
                    .arg(group)
                    .arg(id)
                    .arg(id)
                    .arg(1),
            )
            .await?;
        // [[id, consumer, idle-ms, deliveries]]
        let count = as_array(&reply)
            .and_then(|rows| rows.first())
            .and_then(as_array)
            .and_then(|row| row.get(3))
            .and_then(as_int);
        Ok(count.unwrap_or(1).max(1) as u64)
    }
}

/// Whether Redis answered that the stream or its group does not exist (`NOGROUP`).
fn is_nogroup(e: &BusError) -> bool {
    matches!(e, BusError::Backend { source, .. } if source.to_string().contains("NOGROUP"))
}

/// Reads `stream` after the entry `last` into `tx` with `XREAD BLOCK` on a connection of its
/// own, reconnecting with backoff, until `tx`'s tail is dropped.
async fn follow(
    client: Client,
    stream: String,
    mut last: String,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    const OP: &str = "tail";
    // Short enough that a dropped tail's reader ends soon after.
    const BLOCK: Duration = Duration::from_secs(2);
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK * 3));
    let mut conn = None;
    let mut backoff = Duration::from_millis(100);
    while !tx.is_closed() {
        let result = async {
            if conn.is_none() {
                conn = Some(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map_err(|e| BusError::backend(BACKEND, OP, &stream, e))?,
                );
            }
            let c = conn.as_mut().expect("connected above");
            let reply: Value = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(TAIL_BUFFER)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(&stream)
                .arg(&last)
                .query_async(c)
                .await
                .map_err(|e| BusError::backend(BACKEND, OP, &stream, e))?;
            read_entries(OP, &stream, &reply)
        }
        .await;
        match result {
            Ok(entries) => {
                backoff = Duration::from_millis(100);
                for (id, payload) in entries {
                    last = id;
                    if tx.send(payload).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "tailing a Redis stream failed; reconnecting");
                conn = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The entries of an `XREAD`/`XREADGROUP` reply on one stream: nil on timeout, else
/// `[[stream, entries]]`.
fn read_entries(
    op: &'static str,
    stream: &str,
    reply: &Value,
) -> Result<Vec<(String, Bytes)>, BusError> {
    match as_array(reply)
        .and_then(|s| s.first())
        .and_then(as_array)
        .and_then(|s| s.get(1))
    {
        Some(entries) => parse_entries(op, stream, entries),
        None => Ok(Vec::new()),
    }
}

fn as_array(v: &Value) -> Option<&Vec<Value>> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => std::str::from_utf8(as_bytes(other)?).ok()?.parse().ok(),
    }
}

/// Parses stream entries `[[id, [field, value, …]], …]`; entries deleted since they were
/// delivered come back as nil and are skipped.
fn parse_entries(
    op: &'static str,
    stream: &str,
    v: &Value,
) -> Result<Vec<(String, Bytes)>, BusError> {
    let protocol = |message: String| BusError::Protocol {
        backend: BACKEND,
        op,
        stream: stream.to_string(),
        message,
    };
    let mut out = Vec::new();
    for entry in as_array(v).ok_or_else(|| protocol(format!("entries: {v:?}")))? {
        let Some(parts) = as_array(entry) else {
            continue;
        };
        let (Some(id), Some(fields)) = (parts.first().and_then(as_bytes), parts.get(1)) else {
            continue;
        };
        let id = String::from_utf8_lossy(id).into_owned();
        let fields = as_array(fields).ok_or_else(|| protocol(format!("fields of {id}")))?;
        let payload = fields
            .chunks(2)
            .find(|kv| kv.first().and_then(as_bytes) == Some(FIELD.as_bytes()))
            .and_then(|kv| kv.get(1))
            .and_then(as_bytes)
            .ok_or_else(|| protocol(format!("entry {id} has no `{FIELD}` field")))?;
        out.push((id, Bytes::copy_from_slice(payload)));
    }
    Ok(out)
}

#[async_trait]
impl Bus for RedisBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn publish(&self, stream: &str, payload: &[u8]) -> Result<String, BusError> {
        self.query(
            "publish",
            stream,
            redis::cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg(FIELD)
                .arg(payload),
        )
        .await
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let result: Result<(), BusError> = self
            .query(
                "create group",
                stream,
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(stream)
                    .arg(group)
                    .arg("0")
                    .arg("MKSTREAM"),
            )
            .await;
        match result {
            Err(BusError::Backend { source, .. }) if source.to_string().contains("BUSYGROUP") => {
                Ok(())
            }
            other => other,
        }
    }

    async fn claim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        match self.claim_once(stream, group, consumer, max, block).await {
            Err(e) if is_nogroup(&e) => {
                self.recreate_group(stream, group).await?;
                self.claim_once(stream, group, consumer, max, block).await
            }
            other => other,
        }
    }

    async fn ack(&self, stream: &str, group: &str, delivery: &Delivery) -> Result<(), BusError> {
        let _acked: i64 = self
            .query(
                "ack",
                stream,
                redis::cmd("XACK")
                    .arg(stream)
                    .arg(group)
                    .arg(&delivery.receipt),
            )
            .await?;
        Ok(())
    }

    async fn keep_alive(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        delivery: &Delivery,
    ) -> Result<(), BusError> {
        // XCLAIM with min-idle 0 to the consumer that holds it: resets the idle time; JUSTID
        // leaves the delivery counter alone.
        let _ids: Value = self
            .query(
                "keep_alive",
                stream,
                redis::cmd("XCLAIM")
                    .arg(stream)
                    .arg(group)
                    .arg(consumer)
                    .arg(0)
                    .arg(&delivery.receipt)
                    .arg("JUSTID"),
            )
            .await?;
        Ok(())
    }

    async fn reclaim_idle(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        match self
            .reclaim_once(stream, group, consumer, min_idle, max)
            .await
        {
            Err(e) if is_nogroup(&e) => {
                self.recreate_group(stream, group).await?;
                self.reclaim_once(stream, group, consumer, min_idle, max)
                    .await
            }
            other => other,
        }
    }

    async fn tail(&self, stream: &str) -> Result<Tail, BusError> {
        const OP: &str = "tail";
        // Start after the newest entry; an empty or missing stream starts at the beginning.
        let top: Value = self
            .query(
                OP,
                stream,
                redis::cmd("XREVRANGE")
                    .arg(stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        let last = parse_entries(OP, stream, &top)?
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_string(), |(id, _)| id);
        let (tx, rx) = tokio::sync::mpsc::channel(TAIL_BUFFER);
        tokio::spawn(follow(self.client.clone(), stream.to_string(), last, tx));
        Ok(Tail::from_channel(rx))
    }

    fn dead_letter_stream(&self, stream: &str) -> String {
        format!("{stream}:dead")
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), BusError> {
        let _: i64 = self
            .query("delete stream", stream, redis::cmd("DEL").arg(stream))
            .await?;
        Ok(())
    }
}
