//! Property test of the saga engine: random interleavings and duplicates of participant
//! events, clock jumps with timer ticks and broker failures, for several instances at once.
//! Whatever happens, every instance ends terminal, every command id is published exactly once,
//! and each completed step is compensated at most once, newest first.

mod saga_order;

use proptest::prelude::*;
use runtime::RawEnvelope;
use runtime::envelope::deterministic_id;
use runtime::memory::MemoryBus;
use runtime::memory::saga::MemorySagaStore;
use runtime::saga::*;
use saga_order::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const ORDERS: usize = 3;
const EVENT_TYPES: [&str; 7] = [
    START,
    STOCK_RESERVED,
    OUT_OF_STOCK,
    PAYMENT_CHARGED,
    PAYMENT_DECLINED,
    SHIPMENT_SCHEDULED,
    ORDER_CONFIRMED,
];

#[derive(Clone, Debug)]
enum Op {
    /// A new event of `EVENT_TYPES[kind]` for order `order`.
    Deliver { order: usize, kind: usize },
    /// The `n`-th earlier delivery again (same message id).
    Redeliver { n: usize },
    /// Time passes, then timers fire.
    Advance { secs: u64 },
    /// The next `n` publishes fail (broker hiccup).
    FailSends { n: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..ORDERS, 0..EVENT_TYPES.len()).prop_map(|(order, kind)| Op::Deliver { order, kind }),
        2 => any::<usize>().prop_map(|n| Op::Redeliver { n }),
        2 => (1u64..400).prop_map(|secs| Op::Advance { secs }),
        1 => (1usize..3).prop_map(|n| Op::FailSends { n }),
    ]
}

fn order_id(i: usize) -> String {
    format!("order-{i}")
}

async fn scenario(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let store = Arc::new(MemorySagaStore::new());
    let bus = MemoryBus::new();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = SagaEngine::new(
        machine(),
        store.clone(),
        Arc::new(bus.clone()),
        clock.clone(),
    )
    .unwrap();

    // Every order is placed first (in a random position the start may be repeated later).
    let mut delivered: Vec<RawEnvelope> = (0..ORDERS).map(|i| placed(&order_id(i))).collect();
    let mut failed: Vec<RawEnvelope> = Vec::new();
    for e in delivered.clone() {
        engine.handle_event(&e).await.unwrap();
    }
    for op in ops {
        match op {
            Op::Deliver { order, kind } => {
                let e = if EVENT_TYPES[kind] == START {
                    placed(&order_id(order))
                } else {
                    event(
                        EVENT_TYPES[kind],
                        &order_id(order),
                        json!({ "payment_id": format!("pay-{order}") }),
                        Some(&delivered[order]),
                    )
                };
                if engine.handle_event(&e).await.is_err() {
                    failed.push(e.clone());
                }
                delivered.push(e);
            }
            Op::Redeliver { n } => {
                let e = delivered[n % delivered.len()].clone();
                if engine.handle_event(&e).await.is_err() {
                    failed.push(e);
                }
            }
            Op::Advance { secs } => {
                clock.advance(Duration::from_secs(secs));
                let _ = engine.tick().await;
            }
            Op::FailSends { n } => bus.fail_next(n),
        }
    }
    // The broker is healthy again: the consumer redelivers what failed, recovery runs, and
    // time passes until every instance has ended.
    bus.fail_next(0);
    for e in &failed {
        engine.handle_event(e).await.unwrap();
    }
    engine.recover().await.unwrap();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(3600));
        engine.tick().await.unwrap();
    }

    let sent = bus.sent();
    let mut ids = HashSet::new();
    for m in &sent {
        prop_assert!(
            ids.insert(m.envelope.meta.message_id),
            "command published twice: {:?}",
            m.envelope.meta
        );
    }
    let docs = store.all();
    prop_assert_eq!(docs.len(), ORDERS);
    for doc in docs {
        prop_assert!(doc.status.is_terminal(), "instance not terminal: {:?}", doc);
        prop_assert!(doc.pending.is_empty());
        prop_assert!(doc.timeouts.is_empty());
        // Compensation commands of this instance, in publish order.
        let compensations: Vec<uuid::Uuid> = sent
            .iter()
            .map(|m| m.envelope.meta.message_id)
            .filter(|id| doc.compensations.iter().any(|c| c.command_id == *id))
            .collect();
        let expected: Vec<uuid::Uuid> = doc
            .completed_steps
            .iter()
            .rev()
            .map(|s| deterministic_id(doc.saga_id, &format!("compensate/{s}")))
            .collect();
        if doc.compensations.is_empty() {
            prop_assert!(doc.status != SagaStatus::Compensating);
        } else {
            prop_assert_eq!(
                &compensations,
                &expected,
                "compensations not in reverse order of completion"
            );
            prop_assert!(doc.compensations.iter().all(|c| c.sent));
            prop_assert!(doc.status == SagaStatus::Failed || doc.status == SagaStatus::TimedOut);
        }
        if doc.status == SagaStatus::Completed {
            prop_assert!(doc.compensations.is_empty());
            prop_assert_eq!(&doc.current_step, "Completed");
        }
        // Every command of the instance went to the saga's flow.
        for m in sent.iter().filter(|m| {
            m.envelope
                .meta
                .aggregate_id
                .as_deref()
                .is_some_and(|a| a == doc.correlation_key)
        }) {
            prop_assert_eq!(m.envelope.meta.correlation_id, doc.correlation_id);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_instance_ends_terminal_with_compensations_once_in_reverse_order(ops in proptest::collection::vec(op(), 0..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(scenario(ops))?;
    }
}
