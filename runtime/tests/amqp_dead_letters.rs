//! Poison messages and the dead-letter tool against RabbitMQ: a message that always fails is
//! retried per the topology's policy, then lands in its dead-letter queue with the error, the
//! attempt count and its original headers while the consumer goes on with the others; the
//! `dead-letters` binary lists them grouped by error and type, shows one, replays the chosen
//! ones to their queue once the handler is fixed (the flow completes) and discards the rest.
#![cfg(feature = "amqp")]

mod support;

use runtime::amqp::dead_letters::DeadLetterQueue;
use runtime::amqp::{AmqpBus, Consumer, HandleOutcome, MessageHandler};
use runtime::bus::MessageBus;
use runtime::topology::TopologyBuilder;
use runtime::{Envelope, Metadata, RawEnvelope};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// Fails `test.Payment` until fixed; acknowledges everything else. Counts attempts.
#[derive(Default)]
struct Fixable {
    fixed: AtomicBool,
    attempts: Mutex<HashMap<Uuid, u32>>,
    done: Mutex<Vec<Uuid>>,
}

#[async_trait::async_trait]
impl MessageHandler for Fixable {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        *self
            .attempts
            .lock()
            .unwrap()
            .entry(msg.meta.message_id)
            .or_default() += 1;
        if msg.meta.message_type == "test.Payment" && !self.fixed.load(Ordering::SeqCst) {
            return HandleOutcome::Retry {
                delay: None,
                error: Some("payment gateway rejected the card".into()),
            };
        }
        self.done.lock().unwrap().push(msg.meta.message_id);
        HandleOutcome::Ack
    }
}

fn message(t: &str) -> RawEnvelope {
    let mut meta = Metadata::new_root(t, "acme");
    meta.user_id = Some("alice".into());
    Envelope {
        meta,
        payload: serde_json::json!({ "t": t }),
    }
}

fn dead_letters(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dead-letters"))
        .args(args)
        .env("AMQP_URL", amqp_url())
        .output()
        .expect("dead-letters runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_listed_replayed_and_discarded() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("deadletters");
    let plain = TopologyBuilder::new()
        .retry_delays_ms([100, 200])
        .max_attempts(3)
        .context("ordering")
        .build();
    let t = plain.with_prefix(&prefix);
    let topology_file = std::env::temp_dir().join(format!("{prefix}-topology.json"));
    std::fs::write(&topology_file, serde_json::to_string(&plain).unwrap()).unwrap();
    let topology_arg = topology_file.to_str().unwrap().to_owned();
    let conn = declare_on_broker(&t).await;
    let queue = format!("{prefix}.ordering.commands");
    let dlq = format!("{queue}.dlq");

    let handler = Arc::new(Fixable::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = Consumer::new(&amqp_url(), t.clone(), &queue)
        .unwrap()
        .prefetch(4);
    let h = handler.clone();
    let task = tokio::spawn(async move {
        consumer
            .run(h, async move {
                let _ = stopped.await;
            })
            .await
    });

    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    let poison: Vec<RawEnvelope> = (0..3).map(|_| message("test.Payment")).collect();
    let fine: Vec<RawEnvelope> = (0..2).map(|_| message("test.Order")).collect();
    for m in poison.iter().chain(&fine) {
        bus.send_command("ordering", m).await.unwrap();
    }

    // The others are handled while the poison ones are retried, then dead-lettered.
    let h = handler.clone();
    let fine_ids: Vec<Uuid> = fine.iter().map(|m| m.meta.message_id).collect();
    wait_until(WAIT, "the good messages to be handled", || {
        let (h, ids) = (h.clone(), fine_ids.clone());
        async move { ids.iter().all(|id| h.done.lock().unwrap().contains(id)) }
    })
    .await;
    let letters = wait_for(WAIT, "three dead letters", || {
        let (conn, dlq) = (&conn, dlq.clone());
        async move {
            let q = DeadLetterQueue::open(conn, &dlq, 100).await.ok()?;
            let letters: Vec<_> = q.letters().cloned().collect();
            q.release().await.ok()?;
            (letters.len() == 3).then_some(letters)
        }
    })
    .await;
    // Messages of different aggregates are handled concurrently, so they may reach the
    // dead-letter queue in any order: match each letter to its message by id.
    for l in &letters {
        let m = poison
            .iter()
            .find(|m| m.meta.message_id.to_string() == l.message_id)
            .expect("every dead letter is one of the poison messages");
        assert_eq!(l.message_type, "test.Payment");
        assert_eq!(
            l.reason,
            "max attempts (3) reached: payment gateway rejected the card"
        );
        assert_eq!(l.attempts, 3);
        assert_eq!(l.from_queue.as_deref(), Some(queue.as_str()));
        assert_eq!(
            l.correlation_id.as_deref(),
            Some(m.meta.correlation_id.to_string().as_str())
        );
        assert_eq!(
            l.headers.get("x-tenant-id").map(String::as_str),
            Some("acme")
        );
        assert_eq!(
            l.headers.get("x-user-id").map(String::as_str),
            Some("alice")
        );
        assert_eq!(
            handler.attempts.lock().unwrap()[&m.meta.message_id],
            3,
            "retried per the topology's max_attempts"
        );
    }

    // The tool, as an operator runs it.
    let (ok, out) = dead_letters(&["--prefix", &prefix, "--topology", &topology_arg, "list"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{dlq}: 3 dead letter(s)")), "{out}");
    assert!(
        out.contains(
            "3  test.Payment  max attempts (3) reached: payment gateway rejected the card"
        ),
        "{out}"
    );
    assert!(out.contains("3 dead letter(s) in all"), "{out}");
    let first = poison[0].meta.message_id.to_string();
    let (ok, out) = dead_letters(&[
        "--prefix",
        &prefix,
        "--topology",
        &topology_arg,
        "show",
        "ordering.commands",
        &first,
    ]);
    assert!(ok, "{out}");
    for line in [
        format!("message id:     {first}"),
        "attempts:       3".to_owned(),
        format!("from queue:     {queue}"),
        "  x-tenant-id: acme".to_owned(),
        "\"t\": \"test.Payment\"".to_owned(),
    ] {
        assert!(out.contains(&line), "`{line}` in:\n{out}");
    }
    let (ok, out) = dead_letters(&["--prefix", &prefix, "show", "ordering.commands.dlq", "nope"]);
    assert!(!ok && out.contains("no dead letter `nope`"), "{out}");

    // Fixed: replaying two of them completes their flow; the third is discarded.
    handler.fixed.store(true, Ordering::SeqCst);
    let second = poison[1].meta.message_id.to_string();
    let (ok, out) = dead_letters(&[
        "--prefix",
        &prefix,
        "--topology",
        &topology_arg,
        "replay",
        "ordering.commands",
        &first,
        &second,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("replayed 2 dead letter(s)"), "{out}");
    assert!(out.contains("; 1 left"), "{out}");
    let replayed = [poison[0].meta.message_id, poison[1].meta.message_id];
    wait_until(WAIT, "the replayed messages to be handled", || {
        let h = handler.clone();
        async move {
            replayed
                .iter()
                .all(|id| h.done.lock().unwrap().contains(id))
        }
    })
    .await;
    assert_eq!(
        handler.attempts.lock().unwrap()[&poison[0].meta.message_id],
        4,
        "one more attempt, the successful one"
    );
    let (ok, out) = dead_letters(&[
        "--prefix",
        &prefix,
        "--topology",
        &topology_arg,
        "discard",
        "ordering.commands",
        "--all",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("discarded 1 dead letter(s)"), "{out}");
    assert!(out.contains("; 0 left"), "{out}");
    let q = DeadLetterQueue::open(&conn, &dlq, 100).await.unwrap();
    assert_eq!(q.letters().count(), 0, "the dead-letter queue is empty");
    q.release().await.unwrap();
    assert!(
        !handler
            .done
            .lock()
            .unwrap()
            .contains(&poison[2].meta.message_id),
        "the discarded message was never handled"
    );
    println!(
        "dead letters: 3 poison messages x 3 attempts dead-lettered while 2 others were handled; 2 replayed and handled, 1 discarded"
    );

    stop.send(()).unwrap();
    let _ = tokio::time::timeout(WAIT, task).await;
    bus.close().await;
    delete_topology(&t).await;
    let _ = std::fs::remove_file(&topology_file);
}
