//! A saga that revisits a state (retry a payment after a decline, at most three times), run by
//! the real engine against the in-memory store and bus with a manual clock: each visit sends a
//! command of its own id, and a visit beyond the bound goes to the exhausted state instead.

mod saga_order;

use runtime::envelope::deterministic_id;
use runtime::memory::MemoryBus;
use runtime::memory::saga::MemorySagaStore;
use runtime::saga::*;
use saga_order::{OrderSaga, PAYMENT_CHARGED, PAYMENT_DECLINED, START, event, placed};
use serde_json::json;
use std::sync::Arc;

fn machine() -> SagaMachine<OrderSaga> {
    let base = saga_order::machine();
    SagaMachine {
        name: "payment_retries",
        initial_state: "Charging",
        states: vec![
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "payments",
                    message_type: "payments.ChargePayment",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({ "order_id": d.order_id })),
                }),
                transitions: vec![
                    TransitionSpec::to(PAYMENT_CHARGED, "Paid"),
                    TransitionSpec::to(PAYMENT_DECLINED, "Charging"),
                ],
                visits: Some(VisitLimit {
                    max: 3,
                    on_exhausted: "GaveUp",
                    compensate: false,
                }),
                ..SagaStateSpec::new("Charging")
            },
            SagaStateSpec::terminal("Paid", SagaOutcome::Completed),
            SagaStateSpec::terminal("GaveUp", SagaOutcome::Failed),
        ],
        ..base
    }
}

fn engine() -> (SagaEngine<OrderSaga>, Arc<MemorySagaStore>, MemoryBus) {
    let store = Arc::new(MemorySagaStore::new());
    let bus = MemoryBus::new();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = SagaEngine::new(machine(), store.clone(), Arc::new(bus.clone()), clock).unwrap();
    (engine, store, bus)
}

fn sent_ids(bus: &MemoryBus) -> Vec<uuid::Uuid> {
    bus.sent()
        .into_iter()
        .map(|m| m.envelope.meta.message_id)
        .collect()
}

#[tokio::test]
async fn each_visit_sends_its_own_command_and_the_bound_ends_the_loop() {
    let (engine, store, bus) = engine();
    let start = placed("o-1");
    assert_eq!(start.meta.message_type, START);
    engine.handle_event(&start).await.unwrap();
    for _ in 0..3 {
        let declined = event(PAYMENT_DECLINED, "o-1", json!({}), Some(&start));
        engine.handle_event(&declined).await.unwrap();
    }
    let sid = saga_id("payment_retries", "o-1");
    assert_eq!(
        sent_ids(&bus),
        vec![
            deterministic_id(sid, "Charging/attempt-1"),
            deterministic_id(sid, "Charging/visit-2/attempt-1"),
            deterministic_id(sid, "Charging/visit-3/attempt-1"),
        ],
        "three visits, three distinct commands, and no fourth"
    );
    let doc = store.all().pop().expect("instance");
    assert_eq!(doc.current_step, "GaveUp");
    assert_eq!(doc.status, SagaStatus::Failed);
    assert_eq!(doc.visits.get("Charging"), Some(&3));
}

#[tokio::test]
async fn a_later_visit_may_still_succeed() {
    let (engine, store, bus) = engine();
    let start = placed("o-2");
    engine.handle_event(&start).await.unwrap();
    let declined = event(PAYMENT_DECLINED, "o-2", json!({}), Some(&start));
    engine.handle_event(&declined).await.unwrap();
    // The same decline delivered again is a duplicate: no third visit.
    engine.handle_event(&declined).await.unwrap();
    let charged = event(PAYMENT_CHARGED, "o-2", json!({}), Some(&start));
    engine.handle_event(&charged).await.unwrap();
    assert_eq!(sent_ids(&bus).len(), 2);
    let doc = store.all().pop().expect("instance");
    assert_eq!(doc.status, SagaStatus::Completed);
    assert_eq!(doc.visits.get("Charging"), Some(&2));
}

#[test]
fn an_exhausted_state_must_exist() {
    let mut m = machine();
    m.states[0].visits = Some(VisitLimit {
        max: 2,
        on_exhausted: "Nowhere",
        compensate: false,
    });
    assert!(matches!(
        m.validate(),
        Err(MachineError::UnknownState { state, .. }) if state == "Nowhere"
    ));
}
