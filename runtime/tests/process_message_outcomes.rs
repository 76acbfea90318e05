//! How the runners map handler results to consumer outcomes, on the real servers: an
//! undecodable event or command is dead-lettered (never retried forever), and an event that
//! arrives before its predecessor is retried until it can be applied in order.
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
use runtime::mongo::MongoReadModelStore;
use runtime::process::{run_command_handler_with, run_event_handler_with};
use runtime::read_model::ReadModelStore;
use runtime::{Metadata, RawEnvelope};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn event(
    message_type: &str,
    aggregate_id: &str,
    version: i64,
    payload: serde_json::Value,
) -> RawEnvelope {
    let mut meta = Metadata::new_root(message_type, "acme");
    meta.aggregate_id = Some(aggregate_id.into());
    meta.aggregate_version = Some(version);
    RawEnvelope { meta, payload }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_messages_are_dead_lettered_and_early_events_wait_for_their_predecessor() {
    support::ensure_services();
    let _broker = support::broker_shared_lock();
    let prefix = support::unique_prefix("process_outcomes");
    let db_url = support::create_database(&prefix).await;
    let cfg = config(&prefix, &db_url);

    let (o, stop, addr) = options(cfg.clone());
    let event_handler = Running::start(
        "event-handler",
        stop,
        addr,
        run_event_handler_with(EVENT_HANDLER, o, topology(), ShopProjection),
    )
    .await;
    let (o, stop, addr) = options(cfg.clone());
    let command_handler = Running::start(
        "command-handler",
        stop,
        addr,
        run_command_handler_with(COMMAND_HANDLER, o, topology(), handlers),
    )
    .await;
    event_handler.wait_ready().await;
    command_handler.wait_ready().await;

    let topology = topology().with_prefix(&prefix);
    let bus = AmqpBus::connect(&support::amqp_url(), topology.clone())
        .await
        .unwrap();

    // Version 2 first: not applied until version 1 arrives, then both in order.
    let confirmed = event("shop.OrderConfirmed", "o-1", 2, json!({}));
    let placed = event(
        "shop.OrderPlaced",
        "o-1",
        1,
        json!({ "item": "pen", "quantity": 3 }),
    );
    bus.publish_event("shop", &confirmed).await.unwrap();
    // A poison event (the payload does not decode) and a poison command.
    let poison_event = event("shop.OrderPlaced", "o-2", 1, json!({ "item": 7 }));
    bus.publish_event("shop", &poison_event).await.unwrap();
    let mut poison_command = event("shop.PlaceOrder", "o-3", 0, json!({ "quantity": "many" }));
    poison_command.meta.aggregate_version = None;
    bus.send_command("shop", &poison_command).await.unwrap();

    let mongo = runtime::mongo::connect(&support::mongo_url(), &prefix)
        .await
        .unwrap();
    let store = MongoReadModelStore::new(mongo.clone());
    // The early event is deferred (waiting is not a failed attempt), not applied.
    support::wait_until(WAIT, "the early event to be deferred", || {
        let addr = event_handler.addr;
        async move {
            let m = http(addr, "GET", "/metrics", None, None).await;
            m.text.lines().any(|l| {
                l.starts_with("messages_handled_total")
                    && l.contains("outcome=\"defer\"")
                    && l.contains("shop.OrderConfirmed")
            })
        }
    })
    .await;
    assert_eq!(store.get("orders", "acme", "o-1").await.unwrap(), None);
    bus.publish_event("shop", &placed).await.unwrap();
    let doc = support::wait_for(WAIT, "o-1 to be confirmed", || {
        let store = &store;
        async move {
            store
                .get("orders", "acme", "o-1")
                .await
                .unwrap()
                .filter(|d| d["status"] == "confirmed")
        }
    })
    .await;
    assert_eq!(doc["item"], "pen");
    assert_eq!(doc["quantity"], 3);

    // The poison messages are in their dead-letter queues, with their ids.
    let conn = lapin::Connection::connect(&support::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    for (queue, msg) in [
        ("shop.event-handler", &poison_event),
        ("shop.commands", &poison_command),
    ] {
        let dlq = topology
            .work_queue(&format!("{prefix}.{queue}"))
            .unwrap()
            .dead_letter_queue
            .clone();
        let dead = support::next_message(&channel, &dlq, WAIT).await;
        assert_eq!(
            dead.properties.message_id().as_ref().map(|s| s.as_str()),
            Some(msg.meta.message_id.to_string().as_str()),
            "{dlq}"
        );
    }
    assert_eq!(store.get("orders", "acme", "o-2").await.unwrap(), None);
    let _ = conn.close(200, "".into()).await;

    bus.close().await;
    for r in [event_handler, command_handler] {
        let name = r.name;
        if let Err(e) = r.stop().await {
            panic!("{name}: {}", runtime::process::error_report(&e));
        }
    }
    support::delete_topology(&topology).await;
    let _ = mongo.drop().await;
    support::drop_database(&prefix).await;
}
