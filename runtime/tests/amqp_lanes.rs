//! Concurrent handling with per-aggregate order, against RabbitMQ: a consumer handles
//! messages of different aggregates side by side (up to its prefetch) while each aggregate's
//! messages arrive at the handler one at a time and in the order they were sent; with
//! `prefetch(1)` everything is handled in sequence.
#![cfg(feature = "amqp")]

mod support;

use runtime::amqp::{AmqpBus, Consumer, HandleOutcome, MessageHandler};
use runtime::bus::MessageBus;
use runtime::topology::TopologyBuilder;
use runtime::{Envelope, Metadata, RawEnvelope};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::*;

const AGGREGATES: usize = 12;
const PER_AGGREGATE: u64 = 8;

/// Records, per aggregate, the sequence numbers in the order handled, and the most handlers
/// that ran at once (overall and per aggregate).
#[derive(Default)]
struct Recorder {
    seen: Mutex<HashMap<String, Vec<u64>>>,
    running: AtomicUsize,
    most_running: AtomicUsize,
    running_per_aggregate: Mutex<HashMap<String, usize>>,
    overlap_within_aggregate: AtomicUsize,
}

#[async_trait::async_trait]
impl MessageHandler for Recorder {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        let aggregate = msg.meta.aggregate_id.clone().unwrap_or_default();
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        {
            let mut per = self.running_per_aggregate.lock().unwrap();
            let n = per.entry(aggregate.clone()).or_default();
            *n += 1;
            if *n > 1 {
                self.overlap_within_aggregate.fetch_add(1, Ordering::SeqCst);
            }
        }
        // Long enough for deliveries of other aggregates to arrive meanwhile.
        tracing::debug!(%aggregate, "handling");
        tokio::time::sleep(Duration::from_millis(15)).await;
        let seq = msg.payload["seq"].as_u64().expect("seq");
        self.seen
            .lock()
            .unwrap()
            .entry(aggregate.clone())
            .or_default()
            .push(seq);
        *self
            .running_per_aggregate
            .lock()
            .unwrap()
            .get_mut(&aggregate)
            .expect("entered") -= 1;
        self.running.fetch_sub(1, Ordering::SeqCst);
        HandleOutcome::Ack
    }
}

/// Sends the messages (aggregates interleaved), consumes them with `prefetch`, returns the
/// recorder once all were handled.
async fn run(name: &str, prefetch: u16) -> std::sync::Arc<Recorder> {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix(name);
    let t = TopologyBuilder::new()
        .context("ordering")
        .build()
        .with_prefix(&prefix);
    let queue = format!("{prefix}.ordering.commands");
    let conn = declare_on_broker(&t).await;
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.unwrap();
    for seq in 0..PER_AGGREGATE {
        for a in 0..AGGREGATES {
            let mut meta = Metadata::new_root("ordering.Step", "acme");
            meta.aggregate_id = Some(format!("order-{a}"));
            let msg = Envelope {
                meta,
                payload: serde_json::json!({ "seq": seq }),
            };
            bus.send_command("ordering", &msg).await.unwrap();
        }
    }
    let recorder = std::sync::Arc::new(Recorder::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = Consumer::new(&amqp_url(), t.clone(), &queue)
        .unwrap()
        .prefetch(prefetch);
    let task = tokio::spawn(consumer.run(recorder.clone(), async move {
        let _ = stopped.await;
    }));
    let total = AGGREGATES * PER_AGGREGATE as usize;
    let r = recorder.clone();
    wait_until(Duration::from_secs(60), "every message handled", || {
        let r = r.clone();
        async move { r.seen.lock().unwrap().values().map(Vec::len).sum::<usize>() >= total }
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
    recorder
}

fn assert_in_order_once(r: &Recorder) {
    let seen = r.seen.lock().unwrap();
    assert_eq!(seen.len(), AGGREGATES);
    for (aggregate, seqs) in seen.iter() {
        assert_eq!(
            seqs,
            &(0..PER_AGGREGATE).collect::<Vec<_>>(),
            "{aggregate}: handled out of order or not exactly once"
        );
    }
    assert_eq!(
        r.overlap_within_aggregate.load(Ordering::SeqCst),
        0,
        "two messages of one aggregate were handled at the same time"
    );
}

/// On a multi-threaded runtime with a tracing subscriber, as in the processes, where lanes
/// resume on other worker threads. (A span entered across an `.await` once corrupted the span
/// stack there and panicked inside the tracing registry after about a thousand messages,
/// stranding a lane's deliveries; this test does not reproduce that within its size, the
/// 10,000-command fault loop did.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aggregates_run_side_by_side_each_in_order() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::DEBUG)
        .try_init();
    let r = run("lanes", 16).await;
    assert_in_order_once(&r);
    let most = r.most_running.load(Ordering::SeqCst);
    println!("most handlers at once with prefetch 16: {most}");
    assert!(
        most >= 4,
        "expected messages of several aggregates handled concurrently, at most {most} ran at once"
    );
    assert!(
        most <= 16,
        "more handlers ran at once ({most}) than the prefetch"
    );
}

#[tokio::test]
async fn prefetch_one_handles_everything_in_sequence() {
    let r = run("lanes-seq", 1).await;
    assert_in_order_once(&r);
    assert_eq!(r.most_running.load(Ordering::SeqCst), 1);
}
