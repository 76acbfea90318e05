//! A step that times out may still take effect later: with `compensate_on_timeout` its own
//! compensation is sent by the compensating `on_timeout`, without it only the steps completed
//! before are undone. Real engine, in-memory store and bus, manual clock.

mod saga_order;

use runtime::memory::MemoryBus;
use runtime::memory::saga::MemorySagaStore;
use runtime::saga::*;
use saga_order::{OrderSaga, STEP_TIMEOUT, placed};
use std::sync::Arc;
use std::time::Duration;

/// The commands sent when the first step (reserving stock) times out.
async fn sent_after_timeout(compensate_on_timeout: bool) -> (Vec<String>, SagaDocument) {
    let (sent, doc) = sent_envelopes_after_timeout(compensate_on_timeout).await;
    let types = sent.into_iter().map(|m| m.meta.message_type).collect();
    (types, doc)
}

/// The commands sent when the first step times out, whole.
async fn sent_envelopes_after_timeout(
    compensate_on_timeout: bool,
) -> (Vec<runtime::RawEnvelope>, SagaDocument) {
    let mut machine: SagaMachine<OrderSaga> = saga_order::machine();
    machine.states[0].compensate_on_timeout = compensate_on_timeout;
    let store = Arc::new(MemorySagaStore::new());
    let bus = MemoryBus::new();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine =
        SagaEngine::new(machine, store.clone(), Arc::new(bus.clone()), clock.clone()).unwrap();
    engine.handle_event(&placed("o-1")).await.unwrap();
    clock.advance(STEP_TIMEOUT + Duration::from_secs(1));
    engine.tick().await.unwrap();
    let sent = bus.sent().into_iter().map(|m| m.envelope).collect();
    (sent, store.all().pop().expect("instance"))
}

#[tokio::test]
async fn the_compensation_voids_every_command_the_step_may_have_sent() {
    let (sent, doc) = sent_envelopes_after_timeout(true).await;
    let [reserve, release] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    let attempts = saga_order::machine().states[0].retry.attempts();
    let expected: Vec<uuid::Uuid> = (1..=attempts)
        .map(|a| {
            runtime::envelope::deterministic_id(doc.saga_id, &format!("ReservingStock/attempt-{a}"))
        })
        .collect();
    assert_eq!(expected[0], reserve.meta.message_id);
    assert_eq!(release.meta.voids, expected);
    // The step's command itself voids nothing.
    assert!(reserve.meta.voids.is_empty());
}

#[tokio::test]
async fn a_timed_out_step_is_compensated_when_asked() {
    let (sent, doc) = sent_after_timeout(true).await;
    assert_eq!(sent, ["inventory.ReserveStock", "inventory.ReleaseStock"]);
    assert_eq!(doc.status, SagaStatus::TimedOut);
    assert_eq!(doc.compensations.len(), 1);
}

#[tokio::test]
async fn without_it_only_completed_steps_are_compensated() {
    let (sent, doc) = sent_after_timeout(false).await;
    assert_eq!(sent, ["inventory.ReserveStock"]);
    assert_eq!(doc.status, SagaStatus::TimedOut);
    assert!(doc.compensations.is_empty());
}
