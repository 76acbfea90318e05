//! The consumer runner against RabbitMQ: delayed retry through the TTL tiers, dead-lettering
//! after max attempts, poison messages, handler dead-letters, panics, the quorum
//! `x-delivery-limit` backstop and graceful shutdown.
#![cfg(feature = "amqp")]

mod support;

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel};
use runtime::amqp::codec::{header_str, headers};
use runtime::amqp::{AmqpBus, Consumer, HandleOutcome, MessageHandler, declare, from_delivery};
use runtime::bus::MessageBus;
use runtime::topology::{Topology, TopologyBuilder};
use runtime::{Envelope, Metadata, RawEnvelope};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

/// Behaviour chosen by message type; records every call.
#[derive(Default)]
struct Scripted {
    calls: Mutex<Vec<(RawEnvelope, Instant)>>,
    attempts: Mutex<HashMap<uuid::Uuid, u32>>,
}

impl Scripted {
    fn calls_of(&self, id: uuid::Uuid) -> Vec<(RawEnvelope, Instant)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e.meta.message_id == id)
            .cloned()
            .collect()
    }
}

#[async_trait::async_trait]
impl MessageHandler for Scripted {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        self.calls
            .lock()
            .unwrap()
            .push((msg.clone(), Instant::now()));
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(msg.meta.message_id).or_default();
            *n += 1;
            *n
        };
        match msg.meta.message_type.as_str() {
            "test.Ok" => HandleOutcome::Ack,
            "test.FlakyTwice" if n <= 2 => HandleOutcome::Retry {
                delay: None,
                error: None,
            },
            "test.FlakyTwice" => HandleOutcome::Ack,
            "test.PanicOnce" if n == 1 => panic!("handler bug (expected by the test)"),
            "test.PanicOnce" => HandleOutcome::Ack,
            "test.DeferFiveTimes" if n <= 5 => HandleOutcome::Defer {
                delay: Duration::from_millis(100),
                reason: "waiting for an earlier message".into(),
            },
            "test.DeferFiveTimes" => HandleOutcome::Ack,
            "test.AlwaysRetry" => HandleOutcome::Retry {
                delay: None,
                error: Some("always fails".into()),
            },
            "test.Reject" => HandleOutcome::DeadLetter {
                reason: "rule broken".into(),
            },
            other => HandleOutcome::DeadLetter {
                reason: format!("unexpected {other}"),
            },
        }
    }
}

fn message(t: &str) -> RawEnvelope {
    Envelope {
        meta: Metadata::new_root(t, "acme"),
        payload: serde_json::json!({ "t": t }),
    }
}

struct Running {
    handler: Arc<Scripted>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), runtime::amqp::AmqpError>>,
}

impl Running {
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        let result = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("consumer stops promptly")
            .expect("consumer task");
        assert!(result.is_ok(), "{result:?}");
    }
}

fn start(t: &Topology, queue: &str) -> Running {
    let handler = Arc::new(Scripted::default());
    let (stop, rx) = oneshot::channel::<()>();
    let consumer = Consumer::new(&amqp_url(), t.clone(), queue)
        .unwrap()
        .prefetch(4);
    let h = handler.clone();
    let task = tokio::spawn(async move {
        consumer
            .run(h, async move {
                let _ = rx.await;
            })
            .await
    });
    Running {
        handler,
        stop,
        task,
    }
}

async fn setup(
    name: &str,
    builder: TopologyBuilder,
) -> (String, Topology, lapin::Connection, Channel) {
    ensure_services();
    let prefix = unique_prefix(name);
    let t = builder.context("ordering").build().with_prefix(&prefix);
    let conn = lapin::Connection::connect(&amqp_url(), Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, &t).await.unwrap();
    (prefix, t, conn, ch)
}

#[tokio::test]
async fn retry_tiers_then_success() {
    let _lock = broker_shared_lock();
    let builder = TopologyBuilder::new()
        .retry_delays_ms([200, 600])
        .max_attempts(4);
    let (prefix, t, conn, ch) = setup("retry", builder).await;
    let queue = format!("{prefix}.ordering.commands");
    let running = start(&t, &queue);
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();

    let flaky = message("test.FlakyTwice");
    let panicky = message("test.PanicOnce");
    bus.send_command("ordering", &flaky).await.unwrap();
    bus.send_command("ordering", &panicky).await.unwrap();

    let h = running.handler.clone();
    wait_until(WAIT, "three attempts of the flaky message", || async {
        h.calls_of(flaky.meta.message_id).len() == 3
    })
    .await;
    wait_until(WAIT, "two attempts of the panicking message", || async {
        h.calls_of(panicky.meta.message_id).len() == 2
    })
    .await;

    let calls = h.calls_of(flaky.meta.message_id);
    // every attempt sees the same envelope
    assert!(calls.iter().all(|(e, _)| *e == flaky));
    // attempt 1 -> tier 200 ms, attempt 2 -> tier 600 ms
    let gap1 = calls[1].1 - calls[0].1;
    let gap2 = calls[2].1 - calls[1].1;
    assert!(gap1 >= Duration::from_millis(200), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(600), "{gap2:?}");

    running.shutdown().await;
    // nothing left anywhere: acked after success, nothing dead-lettered
    for q in [
        queue.clone(),
        format!("{queue}.dlq"),
        format!("{queue}.retry.200ms"),
        format!("{queue}.retry.600ms"),
    ] {
        assert!(get_message(&ch, &q).await.is_none(), "{q} should be empty");
    }
    assert_eq!(h.calls_of(flaky.meta.message_id).len(), 3);
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn max_attempts_then_dead_letter_queue() {
    let _lock = broker_shared_lock();
    let builder = TopologyBuilder::new()
        .retry_delays_ms([100, 200])
        .max_attempts(3);
    let (prefix, t, conn, ch) = setup("maxattempts", builder).await;
    let queue = format!("{prefix}.ordering.commands");
    let running = start(&t, &queue);
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();

    let doomed = message("test.AlwaysRetry");
    bus.send_command("ordering", &doomed).await.unwrap();
    let dead = next_message(&ch, &format!("{queue}.dlq"), WAIT).await;
    assert_eq!(from_delivery(&dead).unwrap(), doomed);
    let reason = header_str(&dead.properties, headers::DEAD_LETTER_REASON).unwrap();
    assert!(
        reason.contains("max attempts (3) reached: always fails"),
        "{reason}"
    );
    assert_eq!(
        header_str(&dead.properties, headers::DEAD_LETTER_QUEUE).as_deref(),
        Some(queue.as_str())
    );
    // exactly max_attempts handler calls, then nothing left in the work or retry queues
    assert_eq!(running.handler.calls_of(doomed.meta.message_id).len(), 3);
    running.shutdown().await;
    assert_all_empty(&t, &ch).await;
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

/// Every queue of the topology is empty.
async fn assert_all_empty(t: &Topology, ch: &Channel) {
    for q in &t.queues {
        if let Some(d) = get_message(ch, &q.name).await {
            panic!("{} still holds a {:?}", q.name, d.properties.kind());
        }
    }
}

#[tokio::test]
async fn poison_and_rejected_messages_go_to_the_dead_letter_queue() {
    let _lock = broker_shared_lock();
    let (prefix, t, conn, ch) = setup("poison", TopologyBuilder::new()).await;
    let queue = format!("{prefix}.ordering.commands");
    let dlq = format!("{queue}.dlq");
    let running = start(&t, &queue);
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();

    // not an envelope: no properties, body not JSON
    ch.basic_publish(
        "".into(),
        queue.as_str().into(),
        BasicPublishOptions::default(),
        b"\x00garbage",
        BasicProperties::default().with_type("test.Garbage".into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let dead = next_message(&ch, &dlq, WAIT).await;
    assert_eq!(dead.data, b"\x00garbage");
    let reason = header_str(&dead.properties, headers::DEAD_LETTER_REASON).unwrap();
    assert!(reason.starts_with("poison:"), "{reason}");

    let rejected = message("test.Reject");
    bus.send_command("ordering", &rejected).await.unwrap();
    let dead = next_message(&ch, &dlq, WAIT).await;
    assert_eq!(from_delivery(&dead).unwrap(), rejected);
    assert_eq!(
        header_str(&dead.properties, headers::DEAD_LETTER_REASON).as_deref(),
        Some("rule broken")
    );

    // the consumer goes on with the next message
    let ok = message("test.Ok");
    bus.send_command("ordering", &ok).await.unwrap();
    let h = running.handler.clone();
    wait_until(WAIT, "the ok message handled", || async {
        h.calls_of(ok.meta.message_id).len() == 1
    })
    .await;
    // the handler never saw the poison message
    assert_eq!(h.calls.lock().unwrap().len(), 2);
    running.shutdown().await;
    assert!(get_message(&ch, &dlq).await.is_none());
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn delivery_limit_is_the_backstop_without_retry_tiers() {
    let _lock = broker_shared_lock();
    // no delayed-retry tiers: a retry is a requeue, so only the broker's delivery limit stops it
    let builder = TopologyBuilder::new()
        .retry_delays_ms([])
        .delivery_limit(2)
        .max_attempts(100);
    let (prefix, t, conn, ch) = setup("deliverylimit", builder).await;
    let queue = format!("{prefix}.ordering.commands");
    let running = start(&t, &queue);
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    let doomed = message("test.AlwaysRetry");
    bus.send_command("ordering", &doomed).await.unwrap();
    // dead-lettered by the broker (through the queue's DLX), not by the consumer
    let dead = next_message(&ch, &format!("{queue}.dlq"), WAIT).await;
    assert_eq!(from_delivery(&dead).unwrap(), doomed);
    assert!(header_str(&dead.properties, headers::DEAD_LETTER_REASON).is_none());
    let calls = running.handler.calls_of(doomed.meta.message_id).len();
    assert_eq!(calls, 3, "first delivery + 2 redeliveries");
    running.shutdown().await;
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn unknown_queue_is_refused() {
    let t = TopologyBuilder::new().context("ordering").build();
    assert!(matches!(
        Consumer::new(&amqp_url(), t, "ordering.nope"),
        Err(runtime::amqp::AmqpError::UnknownQueue(q)) if q == "ordering.nope"
    ));
}

#[tokio::test]
async fn deferrals_do_not_count_as_failed_attempts() {
    let _lock = broker_shared_lock();
    // max_attempts 2: five failures would dead-letter the message, five deferrals do not.
    let builder = TopologyBuilder::new()
        .retry_delays_ms([100, 5_000])
        .max_attempts(2);
    let (prefix, t, conn, _ch) = setup("defer", builder).await;
    let queue = format!("{prefix}.ordering.commands");
    let running = start(&t, &queue);
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    let waiting = message("test.DeferFiveTimes");
    bus.send_command("ordering", &waiting).await.unwrap();
    let h = running.handler.clone();
    wait_until(WAIT, "six deliveries of the deferred message", || async {
        h.calls_of(waiting.meta.message_id).len() == 6
    })
    .await;
    let calls = h.calls_of(waiting.meta.message_id);
    // Every deferral went through the shortest tier (100 ms), not the 5 s one.
    let took = calls[5].1 - calls[0].1;
    assert!(took < Duration::from_secs(4), "{took:?}");
    running.shutdown().await;
    bus.close().await;
    drop(conn);
    delete_topology(&t).await;
}
