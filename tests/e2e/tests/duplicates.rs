//! Duplicate and out-of-order delivery through the running processes: every command reaches
//! its CommandHandler twice (published twice on the command queue, as a broker redelivery or
//! a retrying client would), and once the system is quiet, every event it ever published is
//! published again, newest first, to its fanout exchange (each EventHandler and the saga get
//! it a second time, out of order). Afterwards nothing may have changed: no second effect of
//! a command (events, state), the same read models as before the replay, the same saga
//! instances, no dead letter.

use e2e_tests::{System, amqp_url, http, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const PRODUCTS: usize = 4;
const RESTOCKS: usize = 40;
const ORDERS: usize = 4;
const SETTLE: Duration = Duration::from_secs(120);

/// `(ready + unacked, name)` of every queue of this run.
fn queues(sys: &System) -> Vec<(usize, String)> {
    let out = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ])
        .output()
        .expect("rabbitmqctl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&sys.prefix))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let n = cols.get(1)?.parse::<usize>().ok()? + cols.get(2)?.parse::<usize>().ok()?;
            Some((n, cols[0].to_owned()))
        })
        .collect()
}

/// Waits until no queue of the run (retry tiers included) holds a message, three checks in
/// a row half a second apart.
fn wait_quiet(sys: &System, what: &str) {
    let mut quiet = 0;
    wait_for(SETTLE, what, || {
        let busy: Vec<_> = queues(sys)
            .into_iter()
            .filter(|(n, name)| *n > 0 && !name.ends_with(".dlq"))
            .collect();
        if busy.is_empty() {
            quiet += 1;
        } else {
            quiet = 0;
        }
        std::thread::sleep(Duration::from_millis(500));
        if quiet >= 3 {
            Ok(())
        } else {
            Err(format!("{busy:?}"))
        }
    });
}

/// What the replay must not change.
#[derive(Debug, PartialEq)]
struct Observed {
    events: Vec<String>,
    states: Vec<String>,
    stock_levels: Vec<Value>,
    orders: Vec<Value>,
    sagas: Vec<Value>,
}

fn observe(sys: &System, products: &[String], orders: &[String], auth: &str) -> Observed {
    let inventory_query = sys.addr("inventory-query-api");
    let ordering_query = sys.addr("ordering-query-api");
    let get = |addr, path: String| -> Value {
        let r = http(addr, "GET", &path, &[("Authorization", auth)], None).expect("query");
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    };
    Observed {
        events: sys.sql(
            "SELECT message_id || ' ' || (envelope->'meta'->>'message_type') FROM outbox ORDER BY id",
        ),
        states: sys.sql(
            "SELECT aggregate_type || '/' || aggregate_id || ' v' || version || ' ' || state::text \
             FROM aggregate_snapshots ORDER BY 1",
        ),
        stock_levels: products
            .iter()
            .map(|p| get(inventory_query, format!("/stock/{p}")))
            .collect(),
        orders: orders
            .iter()
            .map(|o| get(ordering_query, format!("/orders/{o}")))
            .collect(),
        sagas: orders
            .iter()
            .map(|o| {
                let d = e2e_tests::saga_document(sys, o).expect("saga instance");
                json!({ "status": d["doc"]["status"], "version": d["doc"]["version"],
                        "compensations": d["doc"]["compensations"] })
            })
            .collect(),
    }
}

/// Publishes `envelope` (`{meta, payload}` JSON) to `exchange` with `routing_key`, confirmed.
async fn publish(channel: &lapin::Channel, exchange: &str, routing_key: &str, envelope: &Value) {
    let envelope: runtime::RawEnvelope =
        serde_json::from_value(envelope.clone()).expect("an envelope");
    let (body, props) = runtime::amqp::to_amqp(&envelope).expect("encode");
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            lapin::options::BasicPublishOptions::default(),
            &body,
            props,
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
}

#[test]
fn commands_twice_and_events_again_in_reverse_change_nothing() {
    let sys = System::start("dups", &[], &[]);
    let admin = sys.token("dups", "admin,warehouse,customer");
    let auth = format!("Bearer {admin}");
    let inventory_api = sys.addr("inventory-command-api");
    let ordering_api = sys.addr("ordering-command-api");

    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        let r = http(
            inventory_api,
            "POST",
            "/products",
            &[("Authorization", &auth)],
            Some(&json!({"sku": format!("DUP-{i}"), "name": format!("product {i}"), "initial_stock": 100})),
        )
        .expect("register");
        assert_eq!(r.status, 202, "{}", r.body);
        products.push(r.json()["aggregate_id"].as_str().expect("id").to_owned());
    }
    wait_quiet(&sys, "the products registered");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let (conn, channel) = rt.block_on(async {
        let conn = lapin::Connection::connect(&amqp_url(), Default::default())
            .await
            .expect("connect");
        let channel = conn.create_channel().await.expect("channel");
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        (conn, channel)
    });

    // Every restock twice on the command queue, back to back.
    let command_queue = format!("{}.inventory.commands", sys.prefix);
    let mut restocked: BTreeMap<&str, i64> = BTreeMap::new();
    rt.block_on(async {
        for i in 0..RESTOCKS {
            let product = &products[i % PRODUCTS];
            let quantity = 1 + i as i64 % 5;
            *restocked.entry(product).or_default() += quantity;
            let mut meta = runtime::Metadata::new_root("inventory.RestockProduct", "acme");
            meta.user_id = Some("dups".into());
            meta.aggregate_id = Some(product.clone());
            let envelope = json!({ "meta": meta, "payload": { "quantity": quantity } });
            publish(&channel, "", &command_queue, &envelope).await;
            publish(&channel, "", &command_queue, &envelope).await;
        }
    });
    // Orders through the API: each starts a saga that sends commands to three contexts.
    let mut orders = Vec::new();
    for i in 0..ORDERS {
        let order = json!({
            "product_id": products[i % PRODUCTS], "quantity": 1, "unit_price": 250,
            "payment_method": "card",
            "shipping_address": {"recipient": "Ada Lovelace", "street": "12 Analytical Row",
                "city": "London", "postal_code": "NW1 6XE", "country": "GB"}
        });
        let r = http(
            ordering_api,
            "POST",
            "/orders",
            &[("Authorization", &auth)],
            Some(&order),
        )
        .expect("order");
        assert_eq!(r.status, 202, "{}", r.body);
        orders.push(r.json()["aggregate_id"].as_str().expect("id").to_owned());
    }
    wait_for(SETTLE, "every saga instance terminal", || {
        let running = orders
            .iter()
            .filter(|o| {
                e2e_tests::saga_document(&sys, o).is_none_or(|d| {
                    matches!(
                        d["doc"]["status"].as_str(),
                        Some("Running" | "Compensating")
                    )
                })
            })
            .count();
        if running == 0 {
            Ok(())
        } else {
            Err(format!("{running} running"))
        }
    });
    wait_quiet(&sys, "every message handled");

    // Each restock took effect once: one event per command, the stock added once.
    let restock_events = sys.sql(
        "SELECT envelope->'meta'->>'causation_id' FROM outbox \
         WHERE envelope->'meta'->>'message_type' = 'inventory.ProductRestocked'",
    );
    let distinct: std::collections::BTreeSet<&String> = restock_events.iter().collect();
    assert_eq!(
        (restock_events.len(), distinct.len()),
        (RESTOCKS, RESTOCKS),
        "each of the {RESTOCKS} restocks delivered twice must cause exactly one event"
    );
    let before = observe(&sys, &products, &orders, &auth);
    // State: available + reserved = initial stock + the restocks, once each.
    for row in sys.sql(
        "SELECT aggregate_id, (state->>'available')::bigint + (state->>'reserved')::bigint \
         FROM aggregate_snapshots WHERE aggregate_type = 'inventory.Product'",
    ) {
        let (id, total) = row.split_once('|').expect("two columns");
        assert_eq!(
            total.parse::<i64>().expect("a number"),
            100 + restocked[id],
            "product {id}: available + reserved"
        );
    }

    // Every event again, newest first.
    let events = sys.sql(
        "SELECT context || ' ' || envelope::text FROM outbox \
         WHERE destination = 'event' ORDER BY id DESC",
    );
    rt.block_on(async {
        for row in &events {
            let (context, envelope) = row.split_once(' ').expect("two columns");
            let envelope: Value = serde_json::from_str(envelope).expect("json");
            let exchange = format!("{}.{context}.events", sys.prefix);
            publish(&channel, &exchange, "", &envelope).await;
        }
    });
    wait_quiet(&sys, "the replayed events handled");
    let after = observe(&sys, &products, &orders, &auth);
    let dead: Vec<_> = queues(&sys)
        .into_iter()
        .filter(|(n, name)| *n > 0 && name.ends_with(".dlq"))
        .collect();
    println!(
        "duplicates: {RESTOCKS} restocks delivered twice, {ORDERS} orders, {} events replayed newest first; \
         events before {} after {}; dead letters {dead:?}",
        events.len(),
        before.events.len(),
        after.events.len()
    );
    assert_eq!(before, after, "the replay changed the system");
    assert!(dead.is_empty(), "dead letters: {dead:?}");
    rt.block_on(async {
        let _ = conn.close(200, "".into()).await;
    });
}
