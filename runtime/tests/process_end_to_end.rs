//! The five process runners together on the real servers, as tokio tasks of one test:
//! HTTP POST → 202 → command handler → outbox → event → event handler → Query API GET shows
//! the document; `GET /commands/{id}` moves from `accepted` to `processed`; the saga runner
//! reacts to the event by sending a command, whose event the projection shows too; readiness,
//! metrics and clean shutdown of every runner.
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
use runtime::mongo::MongoSagaStore;
use runtime::process::Projection;
use runtime::process::{
    run_command_api_with, run_command_handler_with, run_event_handler_with, run_query_api_with,
    run_saga_with, topology_from_json,
};
use runtime::saga::{SagaStatus, SagaStore};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_command_end_to_end_through_every_runner() {
    support::ensure_services();
    let _broker = support::broker_shared_lock();
    let prefix = support::unique_prefix("process_e2e");
    let db_url = support::create_database(&prefix).await;
    let cfg = config(&prefix, &db_url);
    // The runners get the topology as the generated code does: embedded JSON.
    let topology_json = serde_json::to_string(&topology()).unwrap();
    let topo = || topology_from_json(&topology_json).unwrap();

    // Everything but the command handler first, so the command is seen waiting.
    let (o, stop, addr) = options(cfg.clone());
    let command_api = Running::start(
        "command-api",
        stop,
        addr,
        run_command_api_with(COMMAND_API, o, topo(), command_routes),
    )
    .await;
    let (o, stop, addr) = options(cfg.clone());
    let event_handler = Running::start(
        "event-handler",
        stop,
        addr,
        run_event_handler_with(EVENT_HANDLER, o, topo(), ShopProjection),
    )
    .await;
    let (o, stop, addr) = options(cfg.clone());
    let query_api = Running::start(
        "query-api",
        stop,
        addr,
        run_query_api_with(QUERY_API, o, ROUTES, ShopProjection.indexes()),
    )
    .await;
    let (o, stop, addr) = options(cfg.clone());
    let saga = Running::start(
        "saga",
        stop,
        addr,
        run_saga_with(SAGA_PROCESS, o, topo(), saga_machine()),
    )
    .await;
    for r in [&command_api, &event_handler, &query_api, &saga] {
        r.wait_ready().await;
        let live = http(r.addr, "GET", "/health/live", None, None).await;
        assert_eq!(live.status, 200, "{}: {}", r.name, live.text);
    }

    // POST → 202 with a tracking id; the command waits in the queue.
    let alice = token("alice");
    let unauthenticated = http(
        command_api.addr,
        "POST",
        "/orders",
        None,
        Some(json!({ "item": "book", "quantity": 2 })),
    )
    .await;
    assert_eq!(unauthenticated.status, 401, "{}", unauthenticated.text);
    let accepted = http(
        command_api.addr,
        "POST",
        "/orders",
        Some(&alice),
        Some(json!({ "item": "book", "quantity": 2 })),
    )
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let tracking = accepted.body["tracking_id"].as_str().unwrap().to_owned();
    let order_id = accepted.body["aggregate_id"].as_str().unwrap().to_owned();
    let status_path = format!("/commands/{tracking}");
    let status = http(command_api.addr, "GET", &status_path, Some(&alice), None).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["status"], "accepted", "{}", status.text);

    // The command handler starts: the command is handled, its outcome reaches the Command
    // API through the outbox, the relay and the outcome queue.
    let database_name = prefix.clone();
    let (o, stop, addr) = options(cfg.clone());
    // A short retention, so that the handler's own retention task is seen at work below.
    let o = o.retention(runtime::store::Retention {
        processed_commands: Duration::from_secs(2),
        published_outbox: Duration::from_secs(2),
        every: Duration::from_millis(200),
        ..runtime::store::Retention::default()
    });
    let command_handler = Running::start(
        "command-handler",
        stop,
        addr,
        run_command_handler_with(COMMAND_HANDLER, o, topo(), handlers),
    )
    .await;
    command_handler.wait_ready().await;
    let processed = support::wait_for(WAIT, "the command to be processed", || {
        let (addr, path, token) = (command_api.addr, status_path.clone(), alice.clone());
        async move {
            let r = http(addr, "GET", &path, Some(&token), None).await;
            (r.body["status"] == "processed").then_some(r)
        }
    })
    .await;
    assert_eq!(processed.body["aggregate_id"], order_id.as_str());
    assert_eq!(processed.body["aggregate_version"], 1);

    // The event handler projected OrderPlaced; the saga reacted with ConfirmOrder, which the
    // command handler applied: the document ends up confirmed (version 2 after version 1).
    let doc_path = format!("/orders/{order_id}");
    let doc = support::wait_for(WAIT, "the order to be confirmed in the read model", || {
        let (addr, path, token) = (query_api.addr, doc_path.clone(), alice.clone());
        async move {
            let r = http(addr, "GET", &path, Some(&token), None).await;
            (r.status == 200 && r.body["status"] == "confirmed").then_some(r)
        }
    })
    .await;
    assert_eq!(doc.body["item"], "book", "{}", doc.text);
    assert_eq!(doc.body["quantity"], 2, "{}", doc.text);
    let list = http(query_api.addr, "GET", "/orders", Some(&alice), None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["total"], 1, "{}", list.text);
    let other_tenant = runtime::http::auth::issue_dev_token(
        SECRET.as_bytes(),
        "bob",
        "globex",
        &["customer"],
        Duration::from_secs(60),
    )
    .unwrap();
    let hidden = http(query_api.addr, "GET", &doc_path, Some(&other_tenant), None).await;
    assert_eq!(hidden.status, 404, "tenant isolation: {}", hidden.text);

    // The saga instance completed (OrderConfirmed moved it to its terminal state).
    let mongo = runtime::mongo::connect(&support::mongo_url(), &database_name)
        .await
        .unwrap();
    let sagas = MongoSagaStore::open(&mongo, "sagas").await.unwrap();
    support::wait_until(WAIT, "the saga instance to complete", || {
        let (sagas, order_id) = (sagas.clone(), order_id.clone());
        async move {
            matches!(
                sagas.load(SAGA, &order_id).await,
                Ok(Some(doc)) if doc.status == SagaStatus::Completed
            )
        }
    })
    .await;

    // Metrics: the consumers counted their messages.
    let metrics = http(command_handler.addr, "GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("messages_handled_total")
            && metrics.text.contains(&format!("{prefix}.shop.commands")),
        "{}",
        metrics.text
    );
    let ready = http(command_handler.addr, "GET", "/health/ready", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    for check in ["postgres", "rabbitmq", "command-consumer"] {
        assert_eq!(ready.body["checks"][check], "ok", "{}", ready.text);
    }

    // The command handler's retention task deleted the markers and the published outbox rows
    // once they were older than the retention (2 s here).
    let pool = runtime::postgres::connect(&db_url, 1).await.unwrap();
    support::wait_until(WAIT, "retention to empty the bookkeeping tables", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM processed_commands) + (SELECT count(*) FROM outbox)",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n == 0
        }
    })
    .await;
    pool.close().await;
    let metrics = http(command_handler.addr, "GET", "/metrics", None, None).await;
    assert!(
        metrics.text.contains("retention_deleted_total"),
        "{}",
        metrics.text
    );

    // Every runner stops cleanly on its shutdown signal.
    for r in [command_api, command_handler, event_handler, query_api, saga] {
        let name = r.name;
        if let Err(e) = r.stop().await {
            panic!("{name}: {}", runtime::process::error_report(&e));
        }
    }
    support::delete_topology(&topology().with_prefix(&prefix)).await;
    let _ = mongo.drop().await;
    support::drop_database(&prefix).await;
}
