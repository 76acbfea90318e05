//! The example catalog evolved once (see `catalog/inventory.yaml`): the `Product` state gained
//! `reorder_level` with `default: 10`, and `ProductRestocked` became version 2, its field
//! `quantity` renamed to `units` with an upcast step. This test writes, on the real servers,
//! what the previous catalog's code left behind at a deploy — a snapshot without
//! `reorder_level` and a version-1 `ProductRestocked` still waiting in the outbox — and checks
//! that the new generated processes read both: the relay publishes the old event, the
//! EventHandler upcasts and projects it, the CommandHandler loads the old snapshot and keeps
//! working, and nothing is dead-lettered.
//!
//! The old shapes are written here as JSON, exactly as the previous catalog's structs
//! serialized them (`git show HEAD~N:catalog/inventory.yaml` has that catalog).

use e2e_tests::{System, http, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(60);

fn stock(sys: &System, auth: &str, product: &str) -> Option<Value> {
    sys.get_json("inventory-query-api", &format!("/stock/{product}"), auth)
}

fn wait_available(sys: &System, auth: &str, product: &str, want: i64, what: &str) {
    wait_for(SETTLE, what, || match stock(sys, auth, product) {
        Some(doc) if doc["available"] == want => Ok(()),
        other => Err(format!("{other:?}")),
    });
}

/// Quotes a string for a SQL literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[test]
fn snapshots_and_messages_of_the_previous_catalog_still_load() {
    let mut sys = System::start("evolve", &[], &[]);
    let auth = format!("Bearer {}", sys.token("evolve", "admin,warehouse"));
    let api = sys.addr("inventory-command-api");
    let r = http(
        api,
        "POST",
        "/products",
        &[("Authorization", &auth)],
        Some(&json!({"sku": "EVO-1", "name": "evolving", "initial_stock": 100})),
    )
    .expect("register");
    assert_eq!(r.status, 202, "{}", r.body);
    let product = r.json()["aggregate_id"].as_str().expect("id").to_owned();
    wait_available(&sys, &auth, &product, 100, "the product registered");
    let key = format!(
        "tenant_id = 'acme' AND aggregate_type = 'inventory.Product' AND aggregate_id = {}",
        literal(&product)
    );
    let state: Value = serde_json::from_str(
        &sys.sql(&format!(
            "SELECT state FROM aggregate_snapshots WHERE {key}"
        ))[0],
    )
    .expect("state");
    assert_eq!(
        state["reorder_level"], 10,
        "a new product starts from the default"
    );

    // The deploy: the CommandHandler of the old catalog had just restocked 5 units — it saved
    // the snapshot in its shape (no `reorder_level`) and left the version-1 event in the
    // outbox — when it was stopped.
    sys.kill("inventory-command-handler");
    sys.sql(&format!(
        "UPDATE aggregate_snapshots SET version = 2, \
         state = (state - 'reorder_level') || jsonb_build_object('available', 105) WHERE {key}"
    ));
    let registered: runtime::Metadata = serde_json::from_str(
        &sys.sql(&format!(
            "SELECT envelope->'meta' FROM outbox WHERE {key} AND destination = 'event'"
        ))[0],
    )
    .expect("the registration's metadata");
    let mut meta = registered.caused(uuid::Uuid::new_v4(), "inventory.ProductRestocked");
    meta.schema_version = 1;
    meta.aggregate_id = Some(product.clone());
    meta.aggregate_version = Some(2);
    let old_event = json!({ "meta": meta, "payload": { "quantity": 5 } });
    sys.sql(&format!(
        "INSERT INTO outbox (tenant_id, aggregate_type, aggregate_id, destination, context, \
         message_id, envelope) VALUES ('acme', 'inventory.Product', {}, 'event', 'inventory', \
         '{}', {}::jsonb)",
        literal(&product),
        meta.message_id,
        literal(&old_event.to_string())
    ));

    // The new CommandHandler starts: its relay publishes the old event, and the new
    // EventHandler reads `quantity` as `units`.
    sys.restart("inventory-command-handler");
    wait_available(&sys, &auth, &product, 105, "the version-1 event projected");

    // A new command loads the old snapshot: `reorder_level` reads as its default.
    let r = http(
        api,
        "POST",
        &format!("/products/{product}/restock"),
        &[("Authorization", &auth)],
        Some(&json!({"quantity": 3})),
    )
    .expect("restock");
    assert_eq!(r.status, 202, "{}", r.body);
    wait_available(&sys, &auth, &product, 108, "the version-2 event projected");
    let row = sys.sql(&format!(
        "SELECT version || '|' || state::text FROM aggregate_snapshots WHERE {key}"
    ));
    let (version, state) = row[0].split_once('|').expect("version|state");
    let state: Value = serde_json::from_str(state).expect("state");
    assert_eq!(version, "3");
    assert_eq!(state["available"], 108);
    assert_eq!(
        state["reorder_level"], 10,
        "the old snapshot read the default"
    );
    let new_event: Value = serde_json::from_str(
        &sys.sql(&format!(
            "SELECT envelope FROM outbox WHERE {key} AND envelope->'meta'->>'aggregate_version' = '3'"
        ))[0],
    )
    .expect("the new event");
    assert_eq!(new_event["meta"]["schema_version"], 2);
    assert_eq!(new_event["payload"], json!({"units": 3}));

    // Nothing was dead-lettered or failed to decode on the way.
    let undecodable: Vec<Value> = ["inventory-event-handler", "inventory-command-handler"]
        .iter()
        .flat_map(|p| sys.logs(p))
        .filter(|l| l["level"] == "ERROR" || l["level"] == "WARN")
        .filter(|l| l.to_string().contains("dead-letter"))
        .collect();
    assert!(undecodable.is_empty(), "{undecodable:#?}");
}
