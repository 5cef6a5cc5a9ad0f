//! The Bus port: durable streams read through consumer groups, for the scanner's job queue
//! (`scanner:jobs`) and its events (`scanner:events`).
//!
//! The contract every adapter keeps (and `tests/bus_conformance.rs` checks):
//! - a published message stays until every group that reads it acknowledges it; a group
//!   created after a publish still sees it (groups start at the beginning of the stream);
//! - within a group each message goes to one consumer at a time ([`Bus::claim`]);
//! - a claimed message that is not acknowledged is handed out again: to whoever calls
//!   [`Bus::reclaim_idle`] after it has been idle `min_idle` (Redis `XAUTOCLAIM`, the embedded
//!   bus), or after the consumer's `ack_wait` (NATS JetStream redelivers on its own);
//! - [`Delivery::deliveries`] counts hand-outs, so a worker can dead-letter a poison message;
//! - [`Bus::dead_letter`] moves a delivery to the stream's dead-letter stream with its error;
//! - [`Bus::tail`] follows a stream outside any group: every tail sees every later message.
//!
//! Adapters: Redis/Valkey streams (`redis://…`), NATS JetStream (`nats://…`), and the
//! embedded bus (`memory`): a SQLite file in the data directory, so the single-process mode
//! keeps its queue across a restart.

mod embedded;
mod nats;
mod redis;

pub use embedded::EmbeddedBus;
pub use nats::NatsBus;
pub use redis::RedisBus;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Failures of the Bus port, naming the backend and the operation.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus ({backend}) {op} on `{stream}`: {source}")]
    Backend {
        backend: &'static str,
        op: &'static str,
        stream: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("bus url `{0}` is not supported (expected redis://…, nats://… or memory)")]
    UnsupportedUrl(String),
    #[error("bus ({backend}) {op} on `{stream}`: unexpected reply: {message}")]
    Protocol {
        backend: &'static str,
        op: &'static str,
        stream: String,
        message: String,
    },
}

impl BusError {
    pub(crate) fn backend(
        backend: &'static str,
        op: &'static str,
        stream: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        BusError::Backend {
            backend,
            op,
            stream: stream.to_string(),
            source: source.into(),
        }
    }
}

/// One hand-out of a message to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message id, as [`Bus::publish`] returned it.
    pub id: String,
    pub payload: Bytes,
    /// How many times the message has been handed out, this one included.
    pub deliveries: u64,
    /// What [`Bus::ack`] needs: the id itself on Redis and the embedded bus, the ack subject
    /// of this delivery on NATS.
    pub receipt: String,
}

/// What [`Bus::tail`] returns: the messages published on one stream after the tail was opened,
/// in order. Dropping it stops the reading.
pub struct Tail {
    inner: futures_util::stream::BoxStream<'static, Bytes>,
}

impl Tail {
    pub(crate) fn new(inner: futures_util::stream::BoxStream<'static, Bytes>) -> Self {
        Tail { inner }
    }

    /// A tail fed by a background reader through `rx`; the reader stops when the tail is
    /// dropped (its sends fail).
    pub(crate) fn from_channel(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        Tail::new(Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
            rx.recv().await.map(|m| (m, rx))
        })))
    }

    /// The next message; `None` when the tail has ended (the bus is gone).
    pub async fn next(&mut self) -> Option<Bytes> {
        use futures_util::StreamExt as _;
        self.inner.next().await
    }
}

/// How many messages a tail's background reader holds for a slow reader before it waits.
pub(crate) const TAIL_BUFFER: usize = 256;

/// What a dead-letter stream carries: the failed message and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub stream: String,
    pub id: String,
    pub deliveries: u64,
    pub error: String,
    /// The original payload, base64 (standard alphabet).
    pub payload: String,
}

impl DeadLetter {
    pub fn new(stream: &str, delivery: &Delivery, error: &str) -> Self {
        DeadLetter {
            stream: stream.to_string(),
            id: delivery.id.clone(),
            deliveries: delivery.deliveries,
            error: error.to_string(),
            payload: base64::engine::general_purpose::STANDARD.encode(&delivery.payload),
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a dead letter serializes"))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The original payload, decoded.
    pub fn original_payload(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.payload)
            .ok()
    }
}

/// Durable streams with consumer groups.
#[async_trait]
pub trait Bus: Send + Sync {
    /// `redis`, `nats` or `embedded`, for logs and errors.
    fn backend(&self) -> &'static str;
    /// Appends a message; returns its id.
    async fn publish(&self, stream: &str, payload: &[u8]) -> Result<String, BusError>;
    /// Creates the group (and the stream) if missing; the group starts at the stream's start.
    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), BusError>;
    /// Up to `max` messages never handed out in this group, waiting up to `block` for the first.
    async fn claim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError>;
    /// Acknowledges a delivery: the group will not hand that message out again.
    async fn ack(&self, stream: &str, group: &str, delivery: &Delivery) -> Result<(), BusError>;
    /// Tells the bus `consumer` is still working on `delivery`, so it is neither redelivered
    /// nor reclaimable for another `min_idle` / `ack_wait`: a long job (a large image pulled
    /// cold) must not be handed to a second consumer while its worker is alive. Redis resets
    /// the entry's idle time (`XCLAIM … JUSTID` to the same consumer), NATS receives a
    /// work-in-progress ack (`+WPI`), the embedded bus moves the delivery time.
    async fn keep_alive(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        delivery: &Delivery,
    ) -> Result<(), BusError>;
    /// Takes over messages handed out in this group and unacknowledged for at least
    /// `min_idle` (their consumer is presumed dead), up to `max`.
    async fn reclaim_idle(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError>;
    /// Publishes `delivery` with `error` as a [`DeadLetter`] on [`Bus::dead_letter_stream`]
    /// and then acknowledges it, so it leaves the group's work. Returns the dead letter's id.
    async fn dead_letter(
        &self,
        stream: &str,
        group: &str,
        delivery: &Delivery,
        error: &str,
    ) -> Result<String, BusError> {
        let letter = DeadLetter::new(stream, delivery, error);
        let id = self
            .publish(&self.dead_letter_stream(stream), &letter.to_bytes())
            .await?;
        self.ack(stream, group, delivery).await?;
        Ok(id)
    }
    /// Follows `stream` from now on, outside any group and without acknowledgements: every
    /// tail sees every message published after it was opened (`XREAD` on Redis, a core
    /// subscription on NATS, the table read on each publish on the embedded bus). For watchers
    /// that want to hear of a change at once and then read the source of truth, never for
    /// work: across a lost connection a tail may miss messages, so watchers re-check on a timer.
    async fn tail(&self, stream: &str) -> Result<Tail, BusError>;
    /// Where [`Bus::dead_letter`] puts a stream's failures: `<stream>:dead` on Redis and the
    /// embedded bus, the subject `<stream>.dead` on NATS. It is a stream like any other.
    fn dead_letter_stream(&self, stream: &str) -> String;
    /// Deletes the stream with its groups and messages (administration and test clean-up).
    async fn delete_stream(&self, stream: &str) -> Result<(), BusError>;
}

/// Opens the bus named by `queue.url`: `redis://…` (also `rediss://`, `valkey://`),
/// `nats://…`, or `memory` (the embedded bus, in `data_dir/bus.sqlite`).
///
/// NATS takes two options in the query string, removed before connecting: `ack_wait_ms`
/// (default 30000: how long a claimed message stays with its consumer before redelivery) and
/// `max_deliver` (default 16).
pub async fn open_bus(url: &str, data_dir: &Path) -> Result<Arc<dyn Bus>, BusError> {
    if url == "memory" || url == "memory://" {
        return Ok(Arc::new(
            EmbeddedBus::open(&data_dir.join("bus.sqlite")).await?,
        ));
    }
    if let Some(rest) = url.strip_prefix("valkey://") {
        return Ok(Arc::new(
            RedisBus::connect(&format!("redis://{rest}")).await?,
        ));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        return Ok(Arc::new(RedisBus::connect(url).await?));
    }
    if url.starts_with("nats://") {
        return Ok(Arc::new(NatsBus::connect(url).await?));
    }
    let scheme = url.split("://").next().unwrap_or("").to_string();
    Err(BusError::UnsupportedUrl(format!("{scheme}://…")))
}
