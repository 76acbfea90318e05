//! `MongoSagaStore` against the MongoDB-protocol server of this machine (SecantusDB): CAS
//! conflicts between writers, due-timeout scanning, and pending-command recovery after a
//! "crash" between save and publish. Each test uses a database of its own.
#![cfg(feature = "mongo")]

mod saga_order;
#[path = "support/mod.rs"]
mod support;

use runtime::envelope::deterministic_id;
use runtime::memory::MemoryBus;
use runtime::mongo::{MongoSagaStore, connect};
use runtime::saga::*;
use saga_order::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn database(test: &str) -> mongodb::Database {
    support::ensure_services();
    connect(&support::mongo_url(), &support::unique_prefix(test))
        .await
        .expect("connect to MongoDB")
}

fn engine(
    store: &Arc<MongoSagaStore>,
    bus: &MemoryBus,
    clock: &Arc<ManualClock>,
) -> SagaEngine<OrderSaga> {
    SagaEngine::new(
        machine(),
        store.clone(),
        Arc::new(bus.clone()),
        clock.clone(),
    )
    .unwrap()
}

#[tokio::test]
async fn cas_conflict_between_two_writers() {
    let db = database("saga_cas").await;
    let store = Arc::new(MongoSagaStore::open(&db, "sagas").await.unwrap());
    let bus = MemoryBus::new();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let e = engine(&store, &bus, &clock);
    let start = placed("o-1");
    e.handle_event(&start).await.unwrap();

    // Round trip: what was saved is what is loaded.
    let a = store
        .load("order_fulfilment", "o-1")
        .await
        .unwrap()
        .unwrap();
    let b = store
        .load("order_fulfilment", "o-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.current_step, "ReservingStock");
    assert_eq!(a.data["amount"], 250);
    assert_eq!(a.timeouts.len(), 1);

    // Two writers from the same version: the first wins, the second conflicts.
    let mut first = a.clone();
    first.current_step = "ChargingPayment".into();
    first.version += 1;
    store.save(&first, a.version).await.unwrap();
    let mut second = b.clone();
    second.current_step = "Failed".into();
    second.version += 1;
    assert!(matches!(
        store.save(&second, b.version).await,
        Err(SagaStoreError::Conflict { .. })
    ));
    assert_eq!(
        store
            .load("order_fulfilment", "o-1")
            .await
            .unwrap()
            .unwrap()
            .current_step,
        "ChargingPayment"
    );

    // The unique (saga type, correlation key) index: no second instance.
    let mut dup = a.clone();
    dup.saga_id = uuid::Uuid::new_v4();
    assert!(matches!(
        store.insert(&dup).await,
        Err(SagaStoreError::AlreadyExists(_))
    ));

    // Concurrent engine writers on one instance: both events are applied (re-decided after
    // the conflict), nothing is lost.
    let mut reset = store
        .load("order_fulfilment", "o-1")
        .await
        .unwrap()
        .unwrap();
    let expected = reset.version;
    reset.current_step = "ReservingStock".into();
    reset.version += 1;
    store.save(&reset, expected).await.unwrap();
    let e2 = engine(&store, &bus, &clock);
    let reserved = event(STOCK_RESERVED, "o-1", json!({}), Some(&start));
    let noise = event(SHIPMENT_SCHEDULED, "o-1", json!({}), Some(&start));
    let (r1, r2) = tokio::join!(e.handle_event(&reserved), e2.handle_event(&noise));
    r1.unwrap();
    r2.unwrap();
    let doc = store
        .load("order_fulfilment", "o-1")
        .await
        .unwrap()
        .unwrap();
    assert!(
        doc.has_processed(reserved.meta.message_id) && doc.has_processed(noise.meta.message_id)
    );
    assert_eq!(doc.current_step, "ChargingPayment");
    db.drop().await.unwrap();
}

#[tokio::test]
async fn due_timeouts_are_found_in_order_and_fired() {
    let db = database("saga_due").await;
    let store = Arc::new(MongoSagaStore::open(&db, "sagas").await.unwrap());
    let bus = MemoryBus::new();
    let t0 = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(t0));
    let e = engine(&store, &bus, &clock);
    // Three instances started 10 s apart; one of them ends before its timeout.
    let mut starts = Vec::new();
    for i in 0..3 {
        let s = placed(&format!("d-{i}"));
        e.handle_event(&s).await.unwrap();
        starts.push(s);
        clock.advance(Duration::from_secs(10));
    }
    e.handle_event(&event(OUT_OF_STOCK, "d-1", json!({}), Some(&starts[1])))
        .await
        .unwrap();

    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    let step = STEP_TIMEOUT.as_secs() as i64;
    assert!(
        store
            .due("order_fulfilment", at(step - 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .due("order_fulfilment", at(step + 25), 10)
        .await
        .unwrap();
    let keys: Vec<&str> = due.iter().map(|d| d.correlation_key.as_str()).collect();
    assert_eq!(
        keys,
        ["d-0", "d-2"],
        "earliest first, terminal instances excluded"
    );
    assert_eq!(
        store
            .due("order_fulfilment", at(step + 25), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .due("another_saga", at(step + 25), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Firing them: both time out (no retries on this step) and fail.
    clock.set(at(step + 25));
    assert_eq!(e.tick().await.unwrap(), 2);
    assert!(
        store
            .due("order_fulfilment", at(10 * step), 10)
            .await
            .unwrap()
            .is_empty()
    );
    for key in ["d-0", "d-2"] {
        let d = store.load("order_fulfilment", key).await.unwrap().unwrap();
        assert_eq!(d.status, SagaStatus::TimedOut, "{key}");
    }
    db.drop().await.unwrap();
}

#[tokio::test]
async fn pending_commands_are_republished_once_after_a_crash() {
    let db = database("saga_recover").await;
    let store = Arc::new(MongoSagaStore::open(&db, "sagas").await.unwrap());
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));

    // Process 1 decides and saves, then its publish fails (it "crashes" before confirming).
    let dead_bus = MemoryBus::new();
    dead_bus.set_unavailable(true);
    let crashed = engine(&store, &dead_bus, &clock);
    let start = placed("r-1");
    assert!(crashed.handle_event(&start).await.is_err());
    let reserved = event(STOCK_RESERVED, "r-1", json!({}), Some(&start));
    let start2 = placed("r-2");
    assert!(crashed.handle_event(&start2).await.is_err());
    drop(crashed);
    let pending = store.with_pending("order_fulfilment", 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert!(dead_bus.is_empty());

    // Process 2 starts: recovery publishes exactly the pending commands, once.
    let bus = MemoryBus::new();
    let fresh = engine(&store, &bus, &clock);
    assert_eq!(fresh.recover().await.unwrap(), 2);
    assert_eq!(fresh.recover().await.unwrap(), 0);
    assert!(
        store
            .with_pending("order_fulfilment", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut ids: Vec<uuid::Uuid> = bus
        .commands("inventory")
        .iter()
        .map(|c| c.meta.message_id)
        .collect();
    ids.sort();
    let mut expected = vec![
        deterministic_id(
            saga_id("order_fulfilment", "r-1"),
            "ReservingStock/attempt-1",
        ),
        deterministic_id(
            saga_id("order_fulfilment", "r-2"),
            "ReservingStock/attempt-1",
        ),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(bus.len(), 2);

    // The flow continues normally afterwards.
    fresh.handle_event(&reserved).await.unwrap();
    assert_eq!(bus.commands("payments").len(), 1);
    db.drop().await.unwrap();
}
