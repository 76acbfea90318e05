//! A read model added to a running system, rebuilt from the retained events
//! (`inventory-event-handler rebuild`) to the documents of a system that had it from the start.
//!
//! The example's `StockLevel` stands in for the added read model: after some traffic its
//! documents are recorded (what a system that had it from the start shows) and then deleted,
//! while the EventHandler's watermarks stay where they are — exactly the state after deploying
//! a new read model whose events happened before it existed. More traffic then leaves wrong,
//! partial documents. The rebuild first refuses to switch while the EventHandler consumes, then
//! replays the outbox, switches over once the EventHandler is stopped, and the restarted
//! EventHandler continues from there: every document equals the one a from-the-start system
//! has (the recorded fields, with the stock the aggregates hold).

use e2e_tests::{System, http, mongodb_url, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

const PRODUCTS: usize = 3;
const SETTLE: Duration = Duration::from_secs(60);

fn stock(sys: &System, auth: &str, product: &str) -> Option<Value> {
    sys.get_json("inventory-query-api", &format!("/stock/{product}"), auth)
}

fn restock(sys: &System, auth: &str, product: &str, quantity: i64) {
    let r = http(
        sys.addr("inventory-command-api"),
        "POST",
        &format!("/products/{product}/restock"),
        &[("Authorization", auth)],
        Some(&json!({ "quantity": quantity })),
    )
    .expect("restock");
    assert_eq!(r.status, 202, "{}", r.body);
}

/// `(available, reserved)` of the product's aggregate state.
fn state(sys: &System, product: &str) -> (i64, i64) {
    let row = sys.sql(&format!(
        "SELECT (state->>'available') || '|' || (state->>'reserved') FROM aggregate_snapshots \
         WHERE aggregate_type = 'inventory.Product' AND aggregate_id = '{product}'"
    ));
    let (a, r) = row[0].split_once('|').expect("available|reserved");
    (a.parse().expect("int"), r.parse().expect("int"))
}

/// What a system that had the read model from the start shows for `product` now.
fn expected(sys: &System, recorded: &Value, product: &str) -> Value {
    let (available, reserved) = state(sys, product);
    let mut doc = recorded.clone();
    doc["available"] = json!(available);
    // No reservation was made: `reserved` was never set, in the recorded document either.
    if doc.get("reserved").is_some() || reserved != 0 {
        doc["reserved"] = json!(reserved);
    }
    doc
}

fn wait_matches(sys: &System, auth: &str, products: &[(String, Value)], what: &str) {
    wait_for(SETTLE, what, || {
        for (p, recorded) in products {
            let want = expected(sys, recorded, p);
            let got = stock(sys, auth, p);
            if got.as_ref() != Some(&want) {
                return Err(format!("{p}: {got:?} != {want}"));
            }
        }
        Ok(())
    });
}

/// Runs `f` on this run's MongoDB database.
fn with_mongo<T>(sys: &System, f: impl AsyncFnOnce(mongodb::Database) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let client = mongodb::Client::with_uri_str(mongodb_url())
            .await
            .expect("mongodb");
        f(client.database(sys.mongo_database())).await
    })
}

fn delete_documents(sys: &System, collection: &str) {
    with_mongo(sys, async |db| {
        db.collection::<mongodb::bson::Document>(collection)
            .delete_many(mongodb::bson::doc! {})
            .await
            .expect("delete");
    });
}

/// The live projection's watermark of a product (0: none).
fn watermark(sys: &System, product: &str) -> i64 {
    let id = format!("inventory-read-models/acme/inventory.Product/{product}");
    with_mongo(sys, async |db| {
        db.collection::<mongodb::bson::Document>("_watermarks")
            .find_one(mongodb::bson::doc! { "_id": id })
            .await
            .expect("watermark")
            .and_then(|d| d.get_i64("version").ok())
            .unwrap_or(0)
    })
}

fn snapshot_version(sys: &System, product: &str) -> i64 {
    sys.sql(&format!(
        "SELECT version FROM aggregate_snapshots \
         WHERE aggregate_type = 'inventory.Product' AND aggregate_id = '{product}'"
    ))[0]
        .parse()
        .expect("version")
}

#[test]
fn an_added_read_model_is_rebuilt_to_the_documents_it_would_have_had() {
    let mut sys = System::start("rebuild", &[], &[]);
    let auth = format!("Bearer {}", sys.token("rebuild", "admin,warehouse"));
    let mut products: Vec<(String, Value)> = Vec::new();
    for i in 0..PRODUCTS {
        let r = http(
            sys.addr("inventory-command-api"),
            "POST",
            "/products",
            &[("Authorization", &auth)],
            Some(&json!({"sku": format!("RB-{i}"), "name": format!("rebuilt {i}"), "initial_stock": 10 * i})),
        )
        .expect("register");
        assert_eq!(r.status, 202, "{}", r.body);
        products.push((
            r.json()["aggregate_id"].as_str().expect("id").to_owned(),
            Value::Null,
        ));
    }
    for (i, (p, _)) in products.iter().enumerate() {
        for q in 1..=(i as i64 + 2) {
            restock(&sys, &auth, p, q);
        }
    }
    wait_for(SETTLE, "the stock levels of the first traffic", || {
        let docs: Vec<Option<Value>> = products
            .iter()
            .map(|(p, _)| stock(&sys, &auth, p))
            .collect();
        for ((p, _), d) in products.iter().zip(&docs) {
            if d.as_ref().map(|d| d["available"].clone()) != Some(json!(state(&sys, p).0)) {
                return Err(format!("{p}: {d:?}"));
            }
        }
        Ok(docs)
    })
    .into_iter()
    .zip(products.iter_mut())
    .for_each(|(d, (_, recorded))| *recorded = d.expect("a document"));

    // The read model "is added" now: none of its documents exist, the watermarks have moved on.
    delete_documents(&sys, "stock_level");
    for (p, _) in &products {
        restock(&sys, &auth, p, 5);
    }
    wait_for(
        SETTLE,
        "the live EventHandler to pass the new restocks",
        || {
            let behind: Vec<&String> = products
                .iter()
                .map(|(p, _)| p)
                .filter(|p| watermark(&sys, p) != snapshot_version(&sys, p))
                .collect();
            if behind.is_empty() {
                Ok(())
            } else {
                Err(format!("behind: {behind:?}"))
            }
        },
    );
    // Restocks update existing documents only (`creates: false`): the documents are missing.
    assert!(
        products
            .iter()
            .all(|(p, _)| stock(&sys, &auth, p).is_none())
    );

    // While the EventHandler consumes, the rebuild does not switch and leaves everything alone.
    let refused = sys.run_once("inventory-event-handler", &["rebuild", "--wait", "1s"]);
    assert!(
        !refused.status.success(),
        "the rebuild switched under a running EventHandler"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("consumer"), "{stderr}");
    assert!(stock(&sys, &auth, &products[0].0).is_none());

    sys.kill("inventory-event-handler");
    let out = sys.run_once("inventory-event-handler", &["rebuild"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rebuild failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The report is the last line (the log lines come before it).
    let report: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON report");
    assert_eq!(report["gaps"], 0, "{report}");
    assert_eq!(report["undecodable"], 0, "{report}");
    assert_eq!(report["documents"]["stock_level"], PRODUCTS, "{report}");
    wait_matches(&sys, &auth, &products, "the rebuilt documents");

    // The restarted EventHandler continues after the last replayed event.
    sys.restart("inventory-event-handler");
    for (p, _) in &products {
        restock(&sys, &auth, p, 7);
    }
    wait_matches(&sys, &auth, &products, "the documents after the rebuild");
    let collections = sys.run_once("inventory-event-handler", &["rebuild", "--no-such-flag"]);
    assert!(!collections.status.success());
}
