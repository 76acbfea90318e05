//! Process-isolation tests: the generated wiring of each process of `ordering` (and the hook of
//! the `ledger` test catalog) run with in-memory adapters — no broker, no database.

use ordering_contracts::order::{ConfirmOrder, OrderPlaced, PlaceOrder};
use ordering_contracts::types::Address;
use payments_contracts::types::PaymentMethod;
use runtime::command_handler::CommandHandler;
use runtime::http::auth::{JwtAuth, issue_dev_token};
use runtime::http::axum::Router;
use runtime::http::axum::body::{Body, to_bytes};
use runtime::http::axum::http::{Request, StatusCode};
use runtime::http::command_api::CommandApi;
use runtime::http::query_api::QueryApi;
use runtime::memory::MemoryBus;
use runtime::memory::read_model::MemoryReadModelStore;
use runtime::memory::state::MemoryStateStore;
use runtime::read_model::{ProjectOutcome, Projector};
use runtime::store::{CommandStatus, OutboxDestination};
use runtime::{Message, RawEnvelope};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use system_tests::{TENANT, envelope};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"process-isolation-secret";

fn token(sub: &str, roles: &[&str]) -> String {
    issue_dev_token(SECRET, sub, TENANT, roles, Duration::from_secs(600)).expect("token")
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn address() -> Address {
    Address {
        recipient: "Ada".into(),
        street: "1 Loop".into(),
        city: "London".into(),
        postal_code: "NW1 6XE".into(),
        country: "GB".into(),
    }
}

#[tokio::test]
async fn command_api_validates_authorizes_and_enqueues() {
    let bus = MemoryBus::new();
    let api = CommandApi::new(
        "ordering",
        Arc::new(bus.clone()),
        Arc::new(JwtAuth::hs256(SECRET)),
    );
    let router = ordering_command_api::wiring::routes(api).router();
    let order = json!({
        "product_id": Uuid::new_v4(), "quantity": 2, "unit_price": 1999,
        "payment_method": "card", "shipping_address": serde_json::to_value(address()).unwrap(),
    });
    let (status, body) = call(
        &router,
        "POST",
        "/orders",
        &token("alice", &["customer"]),
        Some(order.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let commands = bus.commands("ordering");
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].meta.message_type, PlaceOrder::TYPE);
    assert_eq!(body["tracking_id"], json!(commands[0].meta.message_id));
    assert_eq!(commands[0].meta.user_id.as_deref(), Some("alice"));

    // Boundary validation from the catalog's constraints, with JSON pointers.
    let mut bad = order.clone();
    bad["quantity"] = json!(0);
    bad["shipping_address"]["country"] = json!("gb");
    let (status, body) = call(
        &router,
        "POST",
        "/orders",
        &token("alice", &["customer"]),
        Some(bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/quantity", "/shipping_address/country"]);
    // Unknown fields are refused (deny_unknown_fields), roles are enforced.
    let mut extra = order.clone();
    extra["discount"] = json!(50);
    assert_eq!(
        call(
            &router,
            "POST",
            "/orders",
            &token("alice", &["customer"]),
            Some(extra)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(
            &router,
            "POST",
            "/orders",
            &token("bob", &["support"]),
            Some(order)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(bus.commands("ordering").len(), 1);
}

fn command<T: Message>(message: &T, aggregate_id: Uuid) -> RawEnvelope {
    envelope(message, &aggregate_id.to_string(), None)
}

#[tokio::test]
async fn command_handler_runs_the_generated_rules_and_fills_the_outbox() {
    let store = Arc::new(MemoryStateStore::new());
    let dispatcher = ordering_command_handler::wiring::handlers(store.clone());
    let id = Uuid::new_v4();
    let place = PlaceOrder {
        product_id: Uuid::new_v4(),
        quantity: 3,
        unit_price: 250,
        payment_method: PaymentMethod::Invoice,
        shipping_address: address(),
    };
    let env = command(&place, id);
    let outcome = dispatcher.handle(env.clone()).await.expect("handled");
    assert_eq!(outcome.status, CommandStatus::Processed);
    // A duplicate delivery is answered from the processed-command marker.
    assert_eq!(dispatcher.handle(env).await.expect("handled"), outcome);
    let outbox = store.drain_outbox();
    let events: Vec<&RawEnvelope> = outbox
        .iter()
        .filter(|m| m.destination == OutboxDestination::Event)
        .map(|m| &m.envelope)
        .collect();
    assert_eq!(events.len(), 1);
    let placed: OrderPlaced = runtime::message::decode_payload(events[0]).expect("OrderPlaced");
    assert_eq!(placed.total, 750, "total = quantity as i64 * unit_price");
    assert_eq!(placed.customer_id, "alice", "from meta.user_id");
    assert_eq!(events[0].meta.aggregate_version, Some(1));

    // The rule `order_total_within_limit` rejects without an event.
    let huge = PlaceOrder {
        quantity: 1000,
        unit_price: 1_000_000,
        ..place.clone()
    };
    let rejected = dispatcher
        .handle(command(&huge, Uuid::new_v4()))
        .await
        .expect("handled");
    assert_eq!(rejected.status, CommandStatus::Rejected);
    assert_eq!(rejected.code.as_deref(), Some("order_total_within_limit"));
    // `allowed_in: [placed]`: confirming twice is rejected the second time.
    assert_eq!(
        dispatcher
            .handle(command(&ConfirmOrder {}, id))
            .await
            .expect("handled")
            .status,
        CommandStatus::Processed
    );
    let again = dispatcher
        .handle(command(&ConfirmOrder {}, id))
        .await
        .expect("handled");
    assert_eq!(again.code.as_deref(), Some("wrong_status"));
}

#[tokio::test]
async fn event_handler_projects_and_query_api_serves_with_tenant_and_row_filters() {
    let store = Arc::new(MemoryReadModelStore::new());
    let projector = Projector::new(store.clone(), "ordering-read-models");
    let mut ids = Vec::new();
    for (customer, total) in [("alice", 500), ("bob", 900), ("alice", 100)] {
        let id = Uuid::new_v4();
        ids.push(id);
        let placed = OrderPlaced {
            customer_id: customer.into(),
            quantity: 1,
            unit_price: total,
            total,
            ..Default::default()
        };
        let mut e = envelope(&placed, &id.to_string(), None);
        e.meta.aggregate_version = Some(1);
        let updates = ordering_read_models::project(&e).expect("projects");
        assert_eq!(
            projector
                .project(&e, updates.clone())
                .await
                .expect("applied"),
            ProjectOutcome::Applied
        );
        // The same event again is a duplicate.
        assert_eq!(
            projector.project(&e, updates).await.expect("dup"),
            ProjectOutcome::Duplicate
        );
    }
    let api = QueryApi::new(store.clone(), Arc::new(JwtAuth::hs256(SECRET)));
    let router = ordering_query_api::wiring::ROUTES
        .iter()
        .fold(api, |api, r| api.read_model(*r))
        .router();
    // Row filter: a customer sees only their orders; support sees every order of the tenant.
    let (status, body) = call(
        &router,
        "GET",
        "/orders?sort=total",
        &token("alice", &["customer"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let totals: Vec<i64> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["total"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(totals, [100, 500]);
    let (_, body) = call(
        &router,
        "GET",
        "/orders?total[gte]=500&sort=-total",
        &token("sam", &["support"]),
        None,
    )
    .await;
    let totals: Vec<i64> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["total"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(totals, [900, 500]);
    let (status, body) = call(
        &router,
        "GET",
        &format!("/orders/{}", ids[1]),
        &token("sam", &["support"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], json!("placed"));
    assert_eq!(body["customer_id"], json!("bob"));
    // Another tenant sees nothing.
    let other = issue_dev_token(
        SECRET,
        "sam",
        "globex",
        &["support"],
        Duration::from_secs(60),
    )
    .expect("token");
    let (_, body) = call(&router, "GET", "/orders", &other, None).await;
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn a_hand_written_hook_decides_its_rule() {
    use ledger_contracts::account::{OpenAccount, Withdraw};
    let store = Arc::new(MemoryStateStore::new());
    let handler = runtime::command_handler::AggregateCommandHandler::<
        ledger_contracts::account::Account,
        _,
    >::new(store.clone(), Arc::new(ledger_hooks::Hooks));
    let open = envelope(
        &OpenAccount {
            owner: "alice".into(),
            overdraft_limit: 100_000,
        },
        "acc-1",
        None,
    );
    assert_eq!(
        handler.handle(open).await.expect("open").status,
        CommandStatus::Processed
    );
    // Small withdrawals may use the overdraft.
    let small = envelope(&Withdraw { amount: 40_000 }, "acc-1", None);
    assert_eq!(
        handler.handle(small).await.expect("small").status,
        CommandStatus::Processed
    );
    // A large one is covered by the overdraft (rule `covered` holds) but not by the balance:
    // the hand-written hook refuses it.
    let large = envelope(&Withdraw { amount: 55_000 }, "acc-1", None);
    let outcome = handler.handle(large).await.expect("large");
    assert_eq!(outcome.status, CommandStatus::Rejected);
    assert_eq!(outcome.code.as_deref(), Some("velocity"));
    assert_eq!(
        outcome.message.as_deref(),
        Some("too many withdrawals today")
    );
    // Frozen: `allowed_in: [open]` refuses with the rejection event before any rule runs.
    let freeze = envelope(
        &ledger_contracts::account::Freeze {
            hold: "court order".into(),
        },
        "acc-1",
        None,
    );
    assert_eq!(
        handler.handle(freeze).await.expect("freeze").status,
        CommandStatus::Processed
    );
    let outcome = handler
        .handle(envelope(&Withdraw { amount: 10 }, "acc-1", None))
        .await
        .expect("frozen");
    assert_eq!(outcome.code.as_deref(), Some("wrong_status"));
    assert_eq!(outcome.event_ids.len(), 1, "WithdrawalRefused is emitted");
}
