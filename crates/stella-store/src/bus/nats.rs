//! NATS JetStream adapter of the Bus port.
//!
//! A bus stream `S` is a JetStream stream holding the one subject `S` (stream names may not
//! contain `.` and a few other characters, so the stream is named after `S` with those
//! replaced by `_`). A group is a durable pull consumer with explicit acks: JetStream itself
//! redelivers a message not acknowledged within `ack_wait`, up to `max_deliver` times, which
//! is how a dead worker's message reaches another. [`Delivery::receipt`] is the delivery's ack
//! subject, so any process can acknowledge it.

use super::{Bus, BusError, Delivery, Tail};
use async_nats::jetstream::{self, consumer::pull, stream};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

const BACKEND: &str = "nats";

pub struct NatsBus {
    client: async_nats::Client,
    js: jetstream::Context,
    ack_wait: Duration,
    max_deliver: i64,
    /// Streams known to exist, to skip a round trip per publish.
    known: Mutex<HashSet<String>>,
}

/// The JetStream stream name for a bus stream.
fn stream_name(stream: &str) -> String {
    stream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl NatsBus {
    /// Connects to `url`; see [`super::open_bus`] for the `ack_wait_ms` and `max_deliver`
    /// query options.
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        let (server, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ack_wait = Duration::from_secs(30);
        let mut max_deliver = 16;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let bad = || BusError::UnsupportedUrl(format!("nats://…?{pair}"));
            match pair.split_once('=') {
                Some(("ack_wait_ms", v)) => {
                    ack_wait = Duration::from_millis(v.parse().map_err(|_| bad())?)
                }
                Some(("max_deliver", v)) => max_deliver = v.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        let client = async_nats::connect(server)
            .await
            .map_err(|e| BusError::backend(BACKEND, "connect", "", e))?;
        let js = jetstream::new(client.clone());
        Ok(NatsBus {
            client,
            js,
            ack_wait,
            max_deliver,
            known: Mutex::new(HashSet::new()),
        })
    }

    async fn ensure_stream(&self, stream: &str) -> Result<stream::Stream, BusError> {
        let s = self
            .js
            .get_or_create_stream(stream::Config {
                name: stream_name(stream),
                subjects: vec![stream.to_string()],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::backend(BACKEND, "create stream", stream, e))?;
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stream.to_string());
        Ok(s)
    }

    async fn consumer(
        &self,
        op: &'static str,
        stream: &str,
        group: &str,
    ) -> Result<jetstream::consumer::Consumer<pull::Config>, BusError> {
        self.js
            .get_consumer_from_stream(stream_name(group), stream_name(stream))
            .await
            .map_err(|e| BusError::backend(BACKEND, op, stream, e))
    }

    /// Pulls up to `max` messages, waiting up to `wait` for the first. Like `XREADGROUP
    /// BLOCK`, it returns as soon as something is there: first a no-wait fetch; when that is
    /// empty, a wait for one message, then a no-wait fetch for the rest. (One batch waiting
    /// for `max` could outlive `ack_wait` and return a message twice.)
    async fn pull(
        &self,
        op: &'static str,
        stream: &str,
        group: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let consumer = self.consumer(op, stream, group).await?;
        let max = max.max(1);
        let mut out = self.fetch(op, stream, &consumer, max, None).await?;
        if out.is_empty() && wait >= Duration::from_millis(10) {
            out = self.fetch(op, stream, &consumer, 1, Some(wait)).await?;
            if !out.is_empty() && max > 1 {
                out.extend(self.fetch(op, stream, &consumer, max - 1, None).await?);
            }
        }
        Ok(out)
    }

    async fn fetch(
        &self,
        op: &'static str,
        stream: &str,
        consumer: &jetstream::consumer::Consumer<pull::Config>,
        max: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<Delivery>, BusError> {
        let err =
            |e: Box<dyn std::error::Error + Send + Sync>| BusError::backend(BACKEND, op, stream, e);
        let mut batch = match wait {
            None => consumer
                .fetch()
                .max_messages(max)
                .messages()
                .await
                .map_err(|e| err(e.into()))?,
            Some(wait) => consumer
                .batch()
                .max_messages(max)
                .expires(wait)
                .messages()
                .await
                .map_err(|e| err(e.into()))?,
        };
        let mut out = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(err)?;
            let info = message.info().map_err(err)?;
            let (id, deliveries) = (info.stream_sequence.to_string(), info.delivered.max(1));
            let receipt = message
                .reply
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default();
            out.push(Delivery {
                id,
                payload: message.payload.clone(),
                deliveries: deliveries as u64,
                receipt,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Bus for NatsBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn publish(&self, stream: &str, payload: &[u8]) -> Result<String, BusError> {
        const OP: &str = "publish";
        let known = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(stream);
        if !known {
            self.ensure_stream(stream).await?;
        }
        // Waiting for the PublishAck means the message is stored before we return its id.
        let ack = self
            .js
            .publish(stream.to_string(), bytes::Bytes::copy_from_slice(payload))
            .await
            .map_err(|e| BusError::backend(BACKEND, OP, stream, e))?
            .await
            .map_err(|e| BusError::backend(BACKEND, OP, stream, e))?;
        Ok(ack.sequence.to_string())
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let s = self.ensure_stream(stream).await?;
        s.get_or_create_consumer(
            &stream_name(group),
            pull::Config {
                durable_name: Some(stream_name(group)),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: self.ack_wait,
                max_deliver: self.max_deliver,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| BusError::backend(BACKEND, "create group", stream, e))?;
        Ok(())
    }

    async fn claim(
        &self,
        stream: &str,
        group: &str,
        _consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        // JetStream tracks who holds what by delivery, not by consumer name: every process
        // pulls from the group's one durable consumer.
        self.pull("claim", stream, group, max, block).await
    }

    async fn ack(&self, stream: &str, _group: &str, delivery: &Delivery) -> Result<(), BusError> {
        const OP: &str = "ack";
        // A request (AckAck) rather than a plain publish, so the ack is stored when we return.
        self.client
            .request(delivery.receipt.clone(), bytes::Bytes::from_static(b"+ACK"))
            .await
            .map_err(|e| BusError::backend(BACKEND, OP, stream, e))?;
        Ok(())
    }

    async fn keep_alive(
        &self,
        stream: &str,
        _group: &str,
        _consumer: &str,
        delivery: &Delivery,
    ) -> Result<(), BusError> {
        // `+WPI` (work in progress) restarts the message's ack_wait timer; as for the ack, a
        // request so that it is stored when we return.
        self.client
            .request(delivery.receipt.clone(), bytes::Bytes::from_static(b"+WPI"))
            .await
            .map_err(|e| BusError::backend(BACKEND, "keep_alive", stream, e))?;
        Ok(())
    }

    async fn reclaim_idle(
        &self,
        stream: &str,
        group: &str,
        _consumer: &str,
        _min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        // Redelivery after `ack_wait` is JetStream's own: a pull returns what is due again
        // (and, the consumer being shared, possibly new messages too, which is work all the
        // same). `min_idle` is the consumer's `ack_wait`, fixed when the group was created.
        self.pull("reclaim", stream, group, max, Duration::from_millis(500))
            .await
    }

    async fn tail(&self, stream: &str) -> Result<Tail, BusError> {
        // A JetStream publish is a core publish on the subject, so a plain subscription sees
        // every later message without a consumer on the server. The client resubscribes
        // after a reconnect; what was published while it was away is missed (see the trait).
        let subscriber = self
            .client
            .subscribe(stream.to_string())
            .await
            .map_err(|e| BusError::backend(BACKEND, "tail", stream, e))?;
        // `subscribe` returns once SUB is queued, not once the server has it, so a publish
        // from another connection could still overtake it and be missed. The server handles a
        // connection's commands in order: a round trip after SUB (a request to a subject
        // nobody serves, which the server answers "no responders") means the subscription is
        // in place when `tail` returns.
        let probe = format!("_stella.tail-ready.{}", uuid::Uuid::new_v4().simple());
        match self.client.request(probe, bytes::Bytes::new()).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
            Ok(_) => {}
            Err(e) => return Err(BusError::backend(BACKEND, "tail", stream, e)),
        }
        Ok(Tail::new(Box::pin(subscriber.map(|m| m.payload))))
    }

    fn dead_letter_stream(&self, stream: &str) -> String {
        format!("{stream}.dead")
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), BusError> {
        match self.js.delete_stream(stream_name(stream)).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("not found") => {}
            Err(e) => return Err(BusError::backend(BACKEND, "delete stream", stream, e)),
        }
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(stream);
        Ok(())
    }
}
