//! A consumer survives a broker restart (`rabbitmqctl stop_app` / `start_app`): it reconnects,
//! re-declares, re-consumes; nothing published is lost and, with an idempotent handler, no
//! message takes effect twice. Serialised with every other broker test through the exclusive
//! broker lock; a guard always restarts the broker app, even when the test fails.
#![cfg(feature = "amqp")]

mod support;

use runtime::amqp::{AmqpBus, Consumer, HandleOutcome, MessageHandler, queue_depth};
use runtime::bus::{BusError, MessageBus};
use runtime::topology::TopologyBuilder;
use runtime::{Envelope, Metadata, RawEnvelope};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const WAIT: Duration = Duration::from_secs(90);

/// Idempotent handler: applies each message id once ("effects"), counts every delivery.
#[derive(Default)]
struct Idempotent {
    deliveries: Mutex<HashMap<uuid::Uuid, u32>>,
    effects: Mutex<Vec<uuid::Uuid>>,
    seen: Mutex<HashSet<uuid::Uuid>>,
}

#[async_trait::async_trait]
impl MessageHandler for Idempotent {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        let id = msg.meta.message_id;
        *self.deliveries.lock().unwrap().entry(id).or_default() += 1;
        // some work, so that messages are in flight when the broker stops
        tokio::time::sleep(Duration::from_millis(10)).await;
        if self.seen.lock().unwrap().insert(id) {
            self.effects.lock().unwrap().push(id);
        }
        HandleOutcome::Ack
    }
}

fn command(n: usize) -> RawEnvelope {
    Envelope {
        meta: Metadata::new_root("ordering.PlaceOrder", "acme"),
        payload: serde_json::json!({ "n": n }),
    }
}

/// Sends until confirmed (the bus reconnects after the restart).
async fn send_confirmed(bus: &AmqpBus, msg: &RawEnvelope) {
    wait_until(WAIT, "a confirmed publish", || async {
        match bus.send_command("ordering", msg).await {
            Ok(()) => true,
            Err(BusError::Unavailable(_)) => false,
            Err(e) => panic!("unexpected publish error: {e}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_resumes_after_broker_restart_without_loss_or_double_effects() {
    ensure_services();
    let _lock = broker_exclusive_lock();
    let prefix = unique_prefix("restart");
    let t = TopologyBuilder::new()
        .retry_delays_ms([200])
        .context("ordering")
        .build()
        .with_prefix(&prefix);
    let queue = format!("{prefix}.ordering.commands");
    {
        let conn = declare_on_broker(&t).await;
        let _ = conn.close(200, "".into()).await;
    }

    let handler = Arc::new(Idempotent::default());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ready = Arc::new(AtomicBool::new(false));
    let consumer = Consumer::new(&amqp_url(), t.clone(), &queue)
        .unwrap()
        .prefetch(8)
        .ready_flag(ready.clone());
    let h = handler.clone();
    let task = tokio::spawn(async move {
        consumer
            .run(h, async move {
                let _ = stop_rx.await;
            })
            .await
    });

    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    let mut sent = Vec::new();
    for n in 0..60 {
        let m = command(n);
        bus.send_command("ordering", &m).await.unwrap();
        sent.push(m.meta.message_id);
    }
    let h = handler.clone();
    wait_until(WAIT, "some messages handled", || async {
        h.effects.lock().unwrap().len() >= 5
    })
    .await;

    {
        let guard = StartAppGuard;
        let out = rabbitmqctl("stop_app");
        assert!(
            out.status.success(),
            "stop_app: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = ready.clone();
        wait_until(WAIT, "the consumer notices the broker is gone", || async {
            !r.load(Ordering::SeqCst)
        })
        .await;
        // while the broker is down, publishing is an error, not silence
        let down = command(999);
        assert!(matches!(
            bus.send_command("ordering", &down).await,
            Err(BusError::Unavailable(_))
        ));
        drop(guard); // start_app and wait for the port
    }

    let r = ready.clone();
    wait_until(WAIT, "the consumer consumes again", || async {
        r.load(Ordering::SeqCst)
    })
    .await;
    for n in 60..100 {
        let m = command(n);
        send_confirmed(&bus, &m).await;
        sent.push(m.meta.message_id);
    }

    let h = handler.clone();
    wait_until(WAIT, "every message handled after the restart", || async {
        h.effects.lock().unwrap().len() >= sent.len()
    })
    .await;

    let effects = handler.effects.lock().unwrap().clone();
    let expected: HashSet<_> = sent.iter().copied().collect();
    assert_eq!(effects.len(), sent.len(), "no message took effect twice");
    assert_eq!(effects.iter().copied().collect::<HashSet<_>>(), expected);
    let redelivered: u32 = handler
        .deliveries
        .lock()
        .unwrap()
        .values()
        .map(|n| n - 1)
        .sum();
    eprintln!("redeliveries after the restart: {redelivered}");

    stop.send(()).unwrap();
    let result = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");

    // everything acked: the queues are empty
    let conn = lapin::Connection::connect(&amqp_url(), Default::default())
        .await
        .unwrap();
    wait_until(WAIT, "the work queue drained", || async {
        queue_depth(&conn, &queue).await.unwrap() == 0
    })
    .await;
    assert_eq!(
        queue_depth(&conn, &format!("{queue}.dlq")).await.unwrap(),
        0
    );
    let _ = conn.close(200, "".into()).await;
    bus.close().await;
    delete_topology(&t).await;
}
