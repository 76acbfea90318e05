//! Event hooks on the real servers: the EventHandler runs each hook of an event until it
//! succeeds once, retries the event through the queue's retry tier when a hook fails or runs
//! past its timeout (without running the hooks that already succeeded again), dead-letters it
//! when a hook rejects it, and runs nothing again for a redelivered event.
#![cfg(all(
    feature = "amqp",
    feature = "postgres",
    feature = "mongo",
    feature = "auth"
))]

#[path = "support/mod.rs"]
mod support;

mod process_support;

use process_support::*;
use runtime::amqp::AmqpBus;
use runtime::bus::MessageBus;
use runtime::hook::{EventContext, HookCall, HookError};
use runtime::message::DecodeError;
use runtime::process::{Projection, run_event_handler_with};
use runtime::read_model::{DocumentUpdate, IndexSpec};
use runtime::{Metadata, RawEnvelope};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The timeout of every hook of the test projection.
const HOOK_TIMEOUT: Duration = Duration::from_millis(400);

/// One run of a hook: (hook, order id, the context it got).
type Run = (&'static str, String, EventContext);

/// The shop projection with two hooks on `OrderPlaced` (`notify`, then `bill`) and one on
/// `OrderConfirmed` (`thank`). What a hook does depends on the order id:
/// `flaky` — `notify` fails its first two runs; `refused` — `notify` rejects the event;
/// `slow` — the first run of `notify` outlasts its timeout; `half` — `bill` fails its first run.
struct HookedShop {
    runs: Arc<Mutex<Vec<Run>>>,
}

impl HookedShop {
    fn runs_of(&self, hook: &str, order: &str) -> usize {
        count(&self.runs, hook, order)
    }

    async fn run(&self, hook: &'static str, ctx: EventContext) -> Result<(), HookError> {
        let order = ctx.aggregate_id.clone().unwrap_or_default();
        let before = self.runs_of(hook, &order);
        self.runs.lock().unwrap().push((hook, order.clone(), ctx));
        match (hook, order.as_str(), before) {
            ("notify", "flaky", 0 | 1) => Err(HookError::Retry("mail server down".into())),
            ("notify", "refused", _) => Err(HookError::Reject("no such customer".into())),
            ("notify", "slow", 0) => {
                tokio::time::sleep(HOOK_TIMEOUT * 10).await;
                Ok(())
            }
            ("bill", "half", 0) => Err(HookError::Retry("billing busy".into())),
            _ => Ok(()),
        }
    }
}

fn count(runs: &Mutex<Vec<Run>>, hook: &str, order: &str) -> usize {
    runs.lock()
        .unwrap()
        .iter()
        .filter(|(h, o, _)| *h == hook && o == order)
        .count()
}

impl Projection for HookedShop {
    fn name(&self) -> &'static str {
        ShopProjection.name()
    }
    fn event_sources(&self) -> &'static [(&'static str, &'static str)] {
        ShopProjection.event_sources()
    }
    fn indexes(&self) -> Vec<(&'static str, IndexSpec)> {
        ShopProjection.indexes()
    }
    fn updates(&self, event: &RawEnvelope) -> Result<Vec<DocumentUpdate>, DecodeError> {
        ShopProjection.updates(event)
    }
    fn hooks<'a>(&'a self, event: &'a RawEnvelope) -> Result<Vec<HookCall<'a>>, DecodeError> {
        let hooks: &[&'static str] = match event.meta.message_type.as_str() {
            "shop.OrderPlaced" => &["notify", "bill"],
            "shop.OrderConfirmed" => &["thank"],
            _ => &[],
        };
        Ok(hooks
            .iter()
            .map(|&hook| {
                let ctx = EventContext::new(event, hook);
                HookCall::new(hook, HOOK_TIMEOUT, self.run(hook, ctx))
            })
            .collect())
    }
}

fn event(message_type: &str, order: &str, version: i64) -> RawEnvelope {
    let mut meta = Metadata::new_root(message_type, "acme");
    meta.aggregate_id = Some(order.into());
    meta.aggregate_version = Some(version);
    let payload = match version {
        1 => json!({ "item": "pen", "quantity": 1 }),
        _ => json!({}),
    };
    RawEnvelope { meta, payload }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_run_until_they_succeed_once_and_a_rejection_dead_letters_the_event() {
    support::ensure_services();
    let _broker = support::broker_shared_lock();
    let prefix = support::unique_prefix("process_hooks");
    let db_url = support::create_database(&prefix).await;
    let runs = Arc::new(Mutex::new(Vec::new()));
    let (o, stop, addr) = options(config(&prefix, &db_url));
    let handler = Running::start(
        "event-handler",
        stop,
        addr,
        run_event_handler_with(
            EVENT_HANDLER,
            o,
            topology(),
            HookedShop { runs: runs.clone() },
        ),
    )
    .await;
    handler.wait_ready().await;
    let topology = topology().with_prefix(&prefix);
    let bus = AmqpBus::connect(&support::amqp_url(), topology.clone())
        .await
        .unwrap();

    let orders = ["ok", "flaky", "refused", "slow", "half"];
    let placed: Vec<RawEnvelope> = orders
        .iter()
        .map(|o| event("shop.OrderPlaced", o, 1))
        .collect();
    for e in &placed {
        bus.publish_event("shop", e).await.unwrap();
    }
    // Every order but the refused one ends with both hooks done.
    for order in orders.iter().filter(|o| **o != "refused") {
        support::wait_until(WAIT, &format!("the hooks of {order}"), || {
            let runs = runs.clone();
            async move {
                let r = runs.lock().unwrap();
                let done = |hook: &str| r.iter().any(|(h, o, _)| *h == hook && o == order);
                done("notify") && done("bill")
            }
        })
        .await;
    }
    // The refused event is in the dead-letter queue, with the hook's reason; `bill`, after
    // `notify`, never ran for it.
    let conn = lapin::Connection::connect(&support::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let dlq = topology
        .work_queue(&format!("{prefix}.shop.event-handler"))
        .unwrap()
        .dead_letter_queue
        .clone();
    let dead = support::next_message(&channel, &dlq, WAIT).await;
    assert_eq!(
        dead.properties.message_id().as_ref().map(|s| s.to_string()),
        Some(placed[2].meta.message_id.to_string())
    );
    let reason = runtime::amqp::codec::header_str(&dead.properties, "x-dead-letter-reason")
        .unwrap_or_default();
    assert!(reason.contains("no such customer"), "{reason}");

    // The same events again (a redelivery), then an event after each of them on the same
    // aggregate: once `thank` ran for an order, its duplicate was handled before it.
    for e in placed
        .iter()
        .filter(|e| e.meta.aggregate_id.as_deref() != Some("refused"))
    {
        bus.publish_event("shop", e).await.unwrap();
    }
    for order in orders.iter().filter(|o| **o != "refused") {
        bus.publish_event("shop", &event("shop.OrderConfirmed", order, 2))
            .await
            .unwrap();
    }
    for order in orders.iter().filter(|o| **o != "refused") {
        support::wait_until(WAIT, &format!("`thank` for {order}"), || {
            let runs = runs.clone();
            async move { count(&runs, "thank", order) == 1 }
        })
        .await;
    }

    let expected = [
        // (order, runs of notify, runs of bill)
        ("ok", 1, 1),
        ("flaky", 3, 1),
        ("refused", 1, 0),
        ("slow", 2, 1),
        ("half", 1, 2),
    ];
    for (order, notify, bill) in expected {
        assert_eq!(count(&runs, "notify", order), notify, "notify of {order}");
        assert_eq!(count(&runs, "bill", order), bill, "bill of {order}");
    }
    // Every run of a hook for an event got the same idempotency key, and the hooks of one
    // event got different keys.
    let all = runs.lock().unwrap().clone();
    for e in &placed {
        let keys = |hook: &str| {
            let mut k: Vec<_> = all
                .iter()
                .filter(|(h, _, c)| *h == hook && c.event_id == e.meta.message_id)
                .map(|(_, _, c)| c.idempotency_key)
                .collect();
            k.dedup();
            k
        };
        let notify = keys("notify");
        assert_eq!(notify.len(), 1, "{:?}", e.meta.aggregate_id);
        assert!(!keys("bill").contains(&notify[0]));
        let ctx = &all
            .iter()
            .find(|(_, _, c)| c.event_id == e.meta.message_id)
            .unwrap()
            .2;
        assert_eq!(ctx.correlation_id, e.meta.correlation_id);
        assert_eq!(ctx.tenant_id, "acme");
    }

    let _ = conn.close(200, "".into()).await;
    bus.close().await;
    if let Err(e) = handler.stop().await {
        panic!("event-handler: {}", runtime::process::error_report(&e));
    }
    support::delete_topology(&topology).await;
    if let Ok(mongo) = runtime::mongo::connect(&support::mongo_url(), &prefix).await {
        let _ = mongo.drop().await;
    }
    support::drop_database(&prefix).await;
}
