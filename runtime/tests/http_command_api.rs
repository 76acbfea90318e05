//! Command API: problem+json shapes, body limit, malformed JSON, validation errors, 202 with
//! tracking id and the command really reaching the bus, status accepted → processed/rejected.
#![cfg(feature = "auth")]

mod http_support;

use http_support::*;
use runtime::http::auth::JwtAuth;
use runtime::http::command_api::{CommandApi, IdSource};
use runtime::http::validate::{FieldViolation, Validate};
use runtime::memory::MemoryBus;
use runtime::store::{CommandOutcome, CommandStatus};
use runtime::{Command, Message};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PlaceOrder {
    customer_id: String,
    quantity: u32,
}
impl Message for PlaceOrder {
    const TYPE: &'static str = "ordering.PlaceOrder";
}
impl Command for PlaceOrder {
    const AGGREGATE: &'static str = "ordering.Order";
}
impl Validate for PlaceOrder {
    fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        let mut errors = Vec::new();
        if self.customer_id.trim().is_empty() {
            errors.push(FieldViolation::new("/customer_id", "must not be empty"));
        }
        if !(1..=100).contains(&self.quantity) {
            errors.push(FieldViolation::new(
                "/quantity",
                "must be between 1 and 100",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CancelOrder {
    reason: String,
}
impl Message for CancelOrder {
    const TYPE: &'static str = "ordering.CancelOrder";
    const VERSION: u32 = 2;
}
impl Command for CancelOrder {
    const AGGREGATE: &'static str = "ordering.Order";
}
impl Validate for CancelOrder {
    fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        Ok(())
    }
}

fn api(
    bus: &MemoryBus,
) -> (
    axum::Router,
    Arc<runtime::http::command_status::CommandStatusTracker>,
) {
    let api = CommandApi::new(
        "ordering",
        Arc::new(bus.clone()),
        Arc::new(JwtAuth::hs256(SECRET)),
    )
    .body_limit(1024)
    .command::<PlaceOrder>(
        axum::http::Method::POST,
        "/orders",
        &["customer", "clerk"],
        IdSource::Generated,
    )
    .command::<CancelOrder>(
        axum::http::Method::POST,
        "/orders/{id}/cancel",
        &["clerk"],
        IdSource::Path("id"),
    );
    let tracker = api.tracker();
    (api.router(), tracker)
}

fn place(quantity: u32) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&json!({ "customer_id": "c-1", "quantity": quantity })).unwrap())
}

#[tokio::test]
async fn accepted_command_reaches_the_bus_with_metadata() {
    let bus = MemoryBus::new();
    let (router, _) = api(&bus);
    let t = token("alice", "acme", &["customer"]);
    let correlation = Uuid::new_v4().to_string();
    let r = call_with(
        &router,
        "POST",
        "/orders",
        Some(&t),
        place(3),
        &[("x-correlation-id", &correlation)],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let tracking: Uuid = r.body["tracking_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(r.body["correlation_id"], correlation);
    assert_eq!(r.body["status_url"], format!("/commands/{tracking}"));
    assert_eq!(r.headers["location"], format!("/commands/{tracking}"));
    let aggregate_id = r.body["aggregate_id"].as_str().unwrap();
    assert!(Uuid::parse_str(aggregate_id).is_ok());

    let sent = bus.commands("ordering");
    assert_eq!(sent.len(), 1);
    let m = &sent[0].meta;
    assert_eq!(m.message_id, tracking);
    assert_eq!(m.message_type, "ordering.PlaceOrder");
    assert_eq!(m.correlation_id.to_string(), correlation);
    assert_eq!(m.causation_id, None);
    assert_eq!(m.user_id.as_deref(), Some("alice"));
    assert_eq!(m.tenant_id, "acme");
    assert_eq!(m.aggregate_id.as_deref(), Some(aggregate_id));
    assert_eq!(
        sent[0].payload,
        json!({ "customer_id": "c-1", "quantity": 3 })
    );

    // A correlation header that is not a UUID is refused; without one the flow gets a new id.
    let clerk = token("carol", "acme", &["clerk"]);
    let body = br#"{"reason":"changed mind"}"#.to_vec();
    for bad in ["not-a-uuid", ""] {
        let r = call_with(
            &router,
            "POST",
            "/orders/o-42/cancel",
            Some(&clerk),
            Some(body.clone()),
            &[("x-correlation-id", bad)],
        )
        .await;
        assert_eq!(
            assert_problem(&r, 400, "/orders/o-42/cancel")["type"],
            "urn:problem-type:bad-header"
        );
    }
    assert_eq!(bus.commands("ordering").len(), 1, "nothing enqueued");
    // Path id and schema version.
    let r = call(
        &router,
        "POST",
        "/orders/o-42/cancel",
        Some(&clerk),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["aggregate_id"], "o-42");
    let cancel = &bus.commands("ordering")[1];
    assert_eq!(cancel.meta.aggregate_id.as_deref(), Some("o-42"));
    assert_eq!(cancel.meta.schema_version, 2);
    assert_eq!(
        cancel.meta.correlation_id.to_string(),
        r.body["correlation_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn auth_failures_are_401_and_403_problems() {
    let bus = MemoryBus::new();
    let (router, _) = api(&bus);
    let r = call(&router, "POST", "/orders", None, place(1)).await;
    let p = assert_problem(&r, 401, "/orders");
    assert_eq!(p["type"], "urn:problem-type:unauthorized");
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    let forged = runtime::http::auth::issue_dev_token(
        b"wrong",
        "alice",
        "acme",
        &["clerk"],
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_problem(
        &call(&router, "POST", "/orders", Some(&forged), place(1)).await,
        401,
        "/orders",
    );

    let customer = token("alice", "acme", &["customer"]);
    let r = call(
        &router,
        "POST",
        "/orders/o-1/cancel",
        Some(&customer),
        Some(br#"{"reason":"x"}"#.to_vec()),
    )
    .await;
    let p = assert_problem(&r, 403, "/orders/o-1/cancel");
    assert_eq!(p["type"], "urn:problem-type:forbidden");
    assert!(bus.is_empty());
}

#[tokio::test]
async fn body_problems_malformed_too_large_and_invalid() {
    let bus = MemoryBus::new();
    let (router, _) = api(&bus);
    let t = token("alice", "acme", &["customer"]);

    let r = call(
        &router,
        "POST",
        "/orders",
        Some(&t),
        Some(b"{not json".to_vec()),
    )
    .await;
    assert_eq!(
        assert_problem(&r, 400, "/orders")["type"],
        "urn:problem-type:malformed-body"
    );
    let r = call(
        &router,
        "POST",
        "/orders",
        Some(&t),
        Some(br#"{"customer_id":"c","quantity":"many"}"#.to_vec()),
    )
    .await;
    assert_problem(&r, 400, "/orders");

    let big =
        serde_json::to_vec(&json!({ "customer_id": "x".repeat(4096), "quantity": 1 })).unwrap();
    let r = call(&router, "POST", "/orders", Some(&t), Some(big)).await;
    assert_eq!(
        assert_problem(&r, 413, "/orders")["type"],
        "urn:problem-type:payload-too-large"
    );

    let r = call(
        &router,
        "POST",
        "/orders",
        Some(&t),
        Some(br#"{"customer_id":" ","quantity":0}"#.to_vec()),
    )
    .await;
    let p = assert_problem(&r, 422, "/orders");
    assert_eq!(p["type"], "urn:problem-type:validation");
    assert_eq!(
        p["errors"],
        json!([
            { "pointer": "/customer_id", "message": "must not be empty" },
            { "pointer": "/quantity", "message": "must be between 1 and 100" }
        ])
    );
    // A body not declared as JSON is refused, whatever it holds.
    let valid = br#"{"customer_id":"c","quantity":1}"#.to_vec();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let r = call_with(
            &router,
            "POST",
            "/orders",
            Some(&t),
            Some(valid.clone()),
            &[("content-type", ct)],
        )
        .await;
        assert_eq!(
            assert_problem(&r, 415, "/orders")["type"],
            "urn:problem-type:unsupported-media-type",
            "{ct}"
        );
    }
    let r = call_with(
        &router,
        "POST",
        "/orders",
        Some(&t),
        Some(valid),
        &[("content-type", "application/json; charset=utf-8")],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(bus.len(), 1);
    bus.drain();
    assert!(bus.is_empty(), "nothing is enqueued for a bad request");

    // Unknown route and wrong method are problems too.
    assert_problem(
        &call(&router, "GET", "/nope", Some(&t), None).await,
        404,
        "/nope",
    );
    assert_problem(
        &call(&router, "DELETE", "/orders", Some(&t), None).await,
        405,
        "/orders",
    );
}

#[tokio::test]
async fn broker_unavailable_is_503_and_nothing_is_tracked() {
    let bus = MemoryBus::new();
    let (router, tracker) = api(&bus);
    bus.set_unavailable(true);
    let t = token("alice", "acme", &["customer"]);
    let r = call(&router, "POST", "/orders", Some(&t), place(2)).await;
    assert_eq!(
        assert_problem(&r, 503, "/orders")["type"],
        "urn:problem-type:unavailable"
    );
    assert!(tracker.is_empty());
}

#[tokio::test]
async fn status_goes_from_accepted_to_processed_or_rejected() {
    let bus = MemoryBus::new();
    let (router, tracker) = api(&bus);
    let t = token("alice", "acme", &["customer"]);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = call(&router, "POST", "/orders", Some(&t), place(1)).await;
        assert_eq!(r.status, 202);
        ids.push(r.body["tracking_id"].as_str().unwrap().to_owned());
    }
    let url = |id: &str| format!("/commands/{id}");
    let r = call(&router, "GET", &url(&ids[0]), Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["command_type"], "ordering.PlaceOrder");

    // Outcomes as the command handler publishes them.
    let commands = bus.commands("ordering");
    let event_id = Uuid::new_v4();
    let processed = CommandOutcome {
        command_id: commands[0].meta.message_id,
        correlation_id: commands[0].meta.correlation_id,
        status: CommandStatus::Processed,
        code: None,
        message: None,
        event_ids: vec![event_id],
        aggregate_version: Some(1),
    };
    assert!(tracker.record_outcome(&processed.to_envelope(&commands[0].meta)));
    let rejected = CommandOutcome {
        command_id: commands[1].meta.message_id,
        correlation_id: commands[1].meta.correlation_id,
        status: CommandStatus::Rejected,
        code: Some("credit_limit".into()),
        message: Some("credit limit exceeded".into()),
        event_ids: vec![],
        aggregate_version: None,
    };
    assert!(tracker.record_outcome(&rejected.to_envelope(&commands[1].meta)));

    let r = call(&router, "GET", &url(&ids[0]), Some(&t), None).await;
    assert_eq!(r.body["status"], "processed", "{}", r.text);
    assert_eq!(r.body["event_ids"], json!([event_id]));
    assert_eq!(r.body["aggregate_version"], 1);
    let r = call(&router, "GET", &url(&ids[1]), Some(&t), None).await;
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["code"], "credit_limit");
    assert_eq!(r.body["message"], "credit limit exceeded");

    // Other tenants, unknown ids and anonymous callers see nothing.
    let other = token("mallory", "globex", &["customer"]);
    assert_problem(
        &call(&router, "GET", &url(&ids[0]), Some(&other), None).await,
        404,
        &url(&ids[0]),
    );
    let unknown = Uuid::new_v4().to_string();
    assert_problem(
        &call(&router, "GET", &url(&unknown), Some(&t), None).await,
        404,
        &url(&unknown),
    );
    assert_problem(
        &call(&router, "GET", &url(&ids[0]), None, None).await,
        401,
        &url(&ids[0]),
    );
    // Garbage is not an outcome.
    let mut junk = commands[0].clone();
    junk.payload = json!({ "hello": "world" });
    assert!(!tracker.record_outcome(&junk));
}

#[test]
fn tracker_is_bounded_and_expires() {
    use runtime::http::command_status::CommandStatusTracker;
    use runtime::{Metadata, RawEnvelope};
    let cmd = || RawEnvelope {
        meta: Metadata::new_root("ordering.PlaceOrder", "acme"),
        payload: json!({}),
    };
    let tracker = CommandStatusTracker::new(3, std::time::Duration::from_secs(3600));
    let cmds: Vec<_> = (0..5).map(|_| cmd()).collect();
    for c in &cmds {
        tracker.accepted(c);
    }
    assert_eq!(tracker.len(), 3);
    assert!(
        tracker.get(cmds[0].meta.message_id, "acme").is_none(),
        "oldest evicted"
    );
    assert!(tracker.get(cmds[4].meta.message_id, "acme").is_some());

    let expiring = CommandStatusTracker::new(10, std::time::Duration::ZERO);
    let c = cmd();
    expiring.accepted(&c);
    assert!(expiring.get(c.meta.message_id, "acme").is_none(), "expired");
}
