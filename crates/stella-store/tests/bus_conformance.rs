//! The Bus port's conformance suite: every test below runs against the embedded bus (a
//! temporary data directory), Redis streams and NATS JetStream, each test on streams with a
//! unique name that it deletes at the end.

mod common;

use futures_util::FutureExt;
use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stella_store::bus::{Bus, DeadLetter, Delivery, open_bus};

#[derive(Clone, Copy)]
enum Backend {
    Embedded,
    Redis,
    Nats,
}

/// How long an unacknowledged message stays with its consumer: `min_idle` for Redis and the
/// embedded bus, the consumer's `ack_wait` for NATS.
const IDLE: Duration = Duration::from_millis(1000);
/// Comfortably past `IDLE`.
const PAST_IDLE: Duration = Duration::from_millis(1400);
const GROUP: &str = "workers";

struct Ctx {
    bus: Arc<dyn Bus>,
    url: String,
    data_dir: PathBuf,
    stream: String,
}

impl Ctx {
    /// A new adapter on the same backend and data: what a restarted process gets.
    async fn reopen(&self) -> Arc<dyn Bus> {
        open_bus(&self.url, &self.data_dir)
            .await
            .expect("reopen bus")
    }
}

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<Ctx>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Embedded => "memory".to_string(),
        Backend::Redis => {
            let url = common::service_url("STELLA_TEST_REDIS_URL", common::REDIS_URL);
            if !common::service_available("Redis", &url).await {
                return;
            }
            url
        }
        Backend::Nats => {
            let url = common::service_url("STELLA_TEST_NATS_URL", common::NATS_URL);
            if !common::service_available("NATS", &url).await {
                return;
            }
            format!("{url}?ack_wait_ms={}&max_deliver=16", IDLE.as_millis())
        }
    };
    let bus = open_bus(&url, dir.path()).await.expect("open bus");
    let ctx = Arc::new(Ctx {
        bus: bus.clone(),
        url,
        data_dir: dir.path().to_path_buf(),
        stream: format!("{}:jobs", common::unique("stella-test-")),
    });
    let result = AssertUnwindSafe(test(ctx.clone())).catch_unwind().await;
    for stream in [ctx.stream.clone(), bus.dead_letter_stream(&ctx.stream)] {
        bus.delete_stream(&stream).await.expect("clean up stream");
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.id.clone()).collect()
}

async fn ack_all(bus: &dyn Bus, stream: &str, deliveries: &[Delivery]) {
    for d in deliveries {
        bus.ack(stream, GROUP, d).await.unwrap();
    }
}

async fn published_messages_are_claimed_in_order_and_acked(ctx: Arc<Ctx>) {
    let (bus, s) = (&*ctx.bus, ctx.stream.as_str());
    // Published before the group exists: the group still sees them.
    let mut published = Vec::new();
    for i in 0..3 {
        published.push(bus.publish(s, format!("job-{i}").as_bytes()).await.unwrap());
    }
    bus.ensure_group(s, GROUP).await.unwrap();
    bus.ensure_group(s, GROUP).await.unwrap();
    let got = bus
        .claim(s, GROUP, "c1", 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ids(&got), published);
    for (i, d) in got.iter().enumerate() {
        assert_eq!(d.payload, format!("job-{i}").as_bytes());
        assert_eq!(d.deliveries, 1);
    }
    ack_all(bus, s, &got).await;
    let none = bus
        .claim(s, GROUP, "c1", 10, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn a_blocked_claim_wakes_up_for_a_new_message(ctx: Arc<Ctx>) {
    let (bus, s) = (ctx.bus.clone(), ctx.stream.clone());
    bus.ensure_group(&s, GROUP).await.unwrap();
    let publisher = {
        let (bus, s) = (bus.clone(), s.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            bus.publish(&s, b"late").await.unwrap()
        })
    };
    let got = bus
        .claim(&s, GROUP, "c1", 10, Duration::from_secs(5))
        .await
        .unwrap();
    let id = publisher.await.unwrap();
    assert_eq!(ids(&got), vec![id]);
    ack_all(&*bus, &s, &got).await;
}

async fn an_unacked_message_is_reclaimed_by_another_consumer_and_acked_once(ctx: Arc<Ctx>) {
    let (bus, s) = (&*ctx.bus, ctx.stream.as_str());
    bus.ensure_group(s, GROUP).await.unwrap();
    let id = bus.publish(s, b"job").await.unwrap();
    let first = bus
        .claim(s, GROUP, "dies", 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ids(&first), vec![id.clone()]);
    // Not idle long enough yet: nobody takes it.
    assert!(
        bus.reclaim_idle(s, GROUP, "rescuer", IDLE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(PAST_IDLE).await;
    let taken = bus
        .reclaim_idle(s, GROUP, "rescuer", IDLE, 10)
        .await
        .unwrap();
    assert_eq!(ids(&taken), vec![id]);
    assert_eq!(taken[0].payload, &b"job"[..]);
    assert_eq!(taken[0].deliveries, 2);
    ack_all(bus, s, &taken).await;
    // The presumed-dead consumer comes back and acks late: harmless.
    let late = tokio::time::timeout(Duration::from_secs(3), bus.ack(s, GROUP, &first[0])).await;
    assert!(matches!(late, Ok(Ok(()))), "late ack: {late:?}");
    tokio::time::sleep(PAST_IDLE).await;
    assert!(
        bus.reclaim_idle(s, GROUP, "third", IDLE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        bus.claim(s, GROUP, "third", 10, Duration::from_millis(200))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A consumer that keeps its delivery alive keeps it: for two whole idle periods nobody can
/// reclaim it (nor, on NATS, is it redelivered), and it is acked once at the end. Once the
/// keep-alives stop it becomes reclaimable again, as for a dead worker.
async fn a_kept_alive_delivery_is_not_reclaimed(ctx: Arc<Ctx>) {
    let (bus, s) = (&*ctx.bus, ctx.stream.as_str());
    bus.ensure_group(s, GROUP).await.unwrap();
    let id = bus.publish(s, b"long job").await.unwrap();
    let held = bus
        .claim(s, GROUP, "busy", 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ids(&held), vec![id.clone()]);
    let until = tokio::time::Instant::now() + IDLE * 2;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(IDLE / 4).await;
        bus.keep_alive(s, GROUP, "busy", &held[0]).await.unwrap();
        let stolen = bus
            .reclaim_idle(s, GROUP, "rescuer", IDLE, 10)
            .await
            .unwrap();
        assert!(
            stolen.is_empty(),
            "reclaimed while kept alive: {:?}",
            ids(&stolen)
        );
    }
    tokio::time::sleep(PAST_IDLE).await;
    let taken = bus
        .reclaim_idle(s, GROUP, "rescuer", IDLE, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&taken),
        vec![id],
        "reclaimable once the keep-alives stop"
    );
    ack_all(bus, s, &taken).await;
}

async fn two_consumers_of_a_group_never_get_the_same_message(ctx: Arc<Ctx>) {
    let s = ctx.stream.clone();
    ctx.bus.ensure_group(&s, GROUP).await.unwrap();
    let mut published = HashSet::new();
    for i in 0..30 {
        published.insert(
            ctx.bus
                .publish(&s, format!("{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    let consume = |name: &'static str| {
        let (bus, s) = (ctx.bus.clone(), s.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let got = bus
                    .claim(&s, GROUP, name, 4, Duration::from_millis(300))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return seen;
                }
                for d in &got {
                    bus.ack(&s, GROUP, d).await.unwrap();
                }
                seen.extend(ids(&got));
            }
        })
    };
    let (a, b) = (consume("a"), consume("b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let a_set: HashSet<_> = a.iter().cloned().collect();
    let b_set: HashSet<_> = b.iter().cloned().collect();
    assert_eq!(a_set.len(), a.len(), "consumer a got a message twice");
    assert_eq!(b_set.len(), b.len(), "consumer b got a message twice");
    assert!(
        a_set.is_disjoint(&b_set),
        "both consumers got {:?}",
        a_set.intersection(&b_set)
    );
    let all: HashSet<_> = a_set.union(&b_set).cloned().collect();
    assert_eq!(all, published);
}

async fn a_dead_lettered_message_carries_its_error_and_leaves_the_group(ctx: Arc<Ctx>) {
    let (bus, s) = (&*ctx.bus, ctx.stream.as_str());
    bus.ensure_group(s, GROUP).await.unwrap();
    let id = bus.publish(s, b"poison").await.unwrap();
    let got = bus
        .claim(s, GROUP, "c1", 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    bus.dead_letter(s, GROUP, &got[0], "image not found")
        .await
        .unwrap();

    let dead = bus.dead_letter_stream(s);
    bus.ensure_group(&dead, "inspect").await.unwrap();
    let letters = bus
        .claim(&dead, "inspect", "c1", 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    let letter = DeadLetter::from_bytes(&letters[0].payload).unwrap();
    assert_eq!(letter.stream, s);
    assert_eq!(letter.id, id);
    assert_eq!(letter.error, "image not found");
    assert_eq!(letter.deliveries, 1);
    assert_eq!(letter.original_payload().unwrap(), b"poison");
    bus.ack(&dead, "inspect", &letters[0]).await.unwrap();

    tokio::time::sleep(PAST_IDLE).await;
    assert!(
        bus.reclaim_idle(s, GROUP, "c2", IDLE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn queued_and_unacked_messages_survive_a_reconnect(ctx: Arc<Ctx>) {
    let s = ctx.stream.as_str();
    let bus = ctx.reopen().await;
    bus.ensure_group(s, GROUP).await.unwrap();
    let unacked = bus.publish(s, b"in flight").await.unwrap();
    let got = bus
        .claim(s, GROUP, "dies", 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![unacked.clone()]);
    let queued = bus.publish(s, b"queued").await.unwrap();
    drop(bus);

    let bus = ctx.reopen().await;
    let got = bus
        .claim(s, GROUP, "c1", 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![queued]);
    ack_all(&*bus, s, &got).await;
    tokio::time::sleep(PAST_IDLE).await;
    let taken = bus.reclaim_idle(s, GROUP, "c1", IDLE, 10).await.unwrap();
    assert_eq!(ids(&taken), vec![unacked]);
    assert_eq!(taken[0].payload, &b"in flight"[..]);
    ack_all(&*bus, s, &taken).await;
}

async fn every_tail_sees_every_later_message_in_order(ctx: Arc<Ctx>) {
    let (bus, s) = (ctx.bus.clone(), ctx.stream.clone());
    bus.ensure_group(&s, GROUP).await.unwrap();
    bus.publish(&s, b"before").await.unwrap();
    let mut here = bus.tail(&s).await.unwrap();
    // A second adapter: another process following the same stream.
    let mut elsewhere = ctx.reopen().await.tail(&s).await.unwrap();
    let later = ["one", "two", "three"];
    for m in later {
        bus.publish(&s, m.as_bytes()).await.unwrap();
    }
    for tail in [&mut here, &mut elsewhere] {
        for m in later {
            let got = tokio::time::timeout(Duration::from_secs(5), tail.next())
                .await
                .expect("a tail hears of a publish")
                .expect("the tail is open");
            assert_eq!(got, m.as_bytes());
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), tail.next())
                .await
                .is_err(),
            "nothing else was published"
        );
    }
    // Tails take nothing from the groups: the group still gets all four.
    let got = bus
        .claim(&s, GROUP, "c1", 10, Duration::from_secs(1))
        .await
        .unwrap();
    let payloads: Vec<_> = got.iter().map(|d| d.payload.clone()).collect();
    assert_eq!(
        payloads,
        ["before", "one", "two", "three"].map(|m| m.as_bytes())
    );
    ack_all(&*bus, &s, &got).await;
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Embedded, super::$test).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Redis, super::$test).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Nats, super::$test).await;
                }
            )*
        }
    };
}

conformance!(
    published_messages_are_claimed_in_order_and_acked,
    a_blocked_claim_wakes_up_for_a_new_message,
    an_unacked_message_is_reclaimed_by_another_consumer_and_acked_once,
    a_kept_alive_delivery_is_not_reclaimed,
    two_consumers_of_a_group_never_get_the_same_message,
    a_dead_lettered_message_carries_its_error_and_leaves_the_group,
    queued_and_unacked_messages_survive_a_reconnect,
    every_tail_sees_every_later_message_in_order,
);

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_bus("amqp://guest:hunter2@mq", dir.path())
        .await
        .err()
        .unwrap();
    assert!(!err.to_string().contains("hunter2"));
}

/// A Redis restart without persistence (or a FLUSHDB) loses the stream and its group: claims
/// and reclaims must create the group again instead of failing with NOGROUP forever, and see
/// what was published since.
#[tokio::test]
async fn redis_recreates_a_lost_group() {
    run(Backend::Redis, |ctx: Arc<Ctx>| async move {
        let s = ctx.stream.as_str();
        let bus = &ctx.bus;
        bus.ensure_group(s, GROUP).await.unwrap();
        bus.publish(s, b"lost").await.unwrap();
        bus.delete_stream(s).await.unwrap();
        assert!(
            bus.reclaim_idle(s, GROUP, "c1", IDLE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        bus.delete_stream(s).await.unwrap();
        assert!(
            bus.claim(s, GROUP, "c1", 10, Duration::from_millis(100))
                .await
                .unwrap()
                .is_empty()
        );
        bus.delete_stream(s).await.unwrap();
        // Published after the loss but before any worker came back: still delivered.
        let after = bus.publish(s, b"after").await.unwrap();
        let got = bus
            .claim(s, GROUP, "c1", 10, Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(ids(&got), vec![after]);
        ack_all(&**bus, s, &got).await;
    })
    .await;
}
