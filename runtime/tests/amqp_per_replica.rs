//! Per-replica queues against RabbitMQ: `declare` leaves the template out, every consumer of
//! the template reads its own exclusive copy bound like the template, so each of two replicas
//! receives every message published to the exchange; the copy is re-declared after a
//! reconnection and disappears with its consumer.
#![cfg(feature = "amqp")]

mod support;

use runtime::amqp::{AmqpBus, Consumer, HandleOutcome, MessageHandler};
use runtime::bus::MessageBus;
use runtime::topology::{Source, TopologyBuilder};
use runtime::{Envelope, Metadata, RawEnvelope};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const MESSAGES: usize = 20;

#[derive(Default)]
struct Seen(Mutex<BTreeSet<uuid::Uuid>>);

#[async_trait::async_trait]
impl MessageHandler for Seen {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        self.0.lock().unwrap().insert(msg.meta.message_id);
        HandleOutcome::Ack
    }
}

/// Queue names of the broker starting with `prefix`.
fn broker_queues(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_queues", "-q", "name"])
        .output()
        .expect("rabbitmqctl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|q| q.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_replica_receives_every_message_through_its_own_copy() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("per-replica");
    let t = TopologyBuilder::new()
        .context("ordering")
        .per_replica_subscriber("ordering", "command-api", [Source::outcomes("ordering")])
        .build()
        .with_prefix(&prefix);
    t.validate().expect("valid topology");
    let template = format!("{prefix}.ordering.command-api");
    let conn = declare_on_broker(&t).await;
    let declared = broker_queues(&prefix);
    assert!(
        !declared.contains(&template),
        "the template itself is never declared: {declared:?}"
    );
    assert!(
        declared.contains(&format!("{template}.dlq")),
        "{declared:?}"
    );

    let mut replicas = Vec::new();
    for _ in 0..2 {
        let seen = Arc::new(Seen::default());
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let consumer = Consumer::new(&amqp_url(), t.clone(), &template)
            .unwrap()
            .ready_flag(ready.clone());
        let copy = consumer.consumed_queue().to_owned();
        assert!(copy.starts_with(&format!("{template}.")), "{copy}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(consumer.run(seen.clone(), async move {
            let _ = stopped.await;
        }));
        wait_until(Duration::from_secs(30), "consumer ready", || {
            let ready = ready.clone();
            async move { ready.load(std::sync::atomic::Ordering::SeqCst) }
        })
        .await;
        replicas.push((seen, copy, stop, task));
    }
    assert_ne!(
        replicas[0].1, replicas[1].1,
        "each replica has its own copy"
    );

    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    let mut sent = BTreeSet::new();
    for _ in 0..MESSAGES {
        let msg = Envelope {
            meta: Metadata::new_root("runtime.CommandOutcome", "acme"),
            payload: serde_json::json!({}),
        };
        sent.insert(msg.meta.message_id);
        bus.publish_outcome("ordering", &msg).await.unwrap();
    }
    for (i, (seen, ..)) in replicas.iter().enumerate() {
        let seen = seen.clone();
        let sent = sent.clone();
        wait_until(
            Duration::from_secs(30),
            &format!("replica {i} received every message"),
            || {
                let seen = seen.clone();
                let sent = sent.clone();
                async move { *seen.0.lock().unwrap() == sent }
            },
        )
        .await;
    }
    let copies: Vec<String> = replicas.iter().map(|r| r.1.clone()).collect();
    for (_, _, stop, task) in replicas {
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
    }
    // Exclusive copies go with their connection.
    wait_until(Duration::from_secs(10), "copies deleted", || {
        let copies = copies.clone();
        let prefix = prefix.clone();
        async move {
            let left = broker_queues(&prefix);
            copies.iter().all(|c| !left.contains(c))
        }
    })
    .await;
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}
