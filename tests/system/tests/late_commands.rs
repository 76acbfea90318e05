//! A step compensated on timeout may still see its command arrive afterwards (from a retry
//! tier, a slow replica). The generated `OrderFulfillment` saga times out `ReservingStock`
//! (three unanswered attempts) and compensates it with `ReleaseStock`, which voids every
//! attempt; the generated inventory CommandHandler then receives the attempts and the
//! compensation in every possible order, each delivered twice: the stock always ends where it
//! started. The same deliveries with the voids stripped leak stock, which shows what the voids
//! are for.

use inventory_contracts::product::RegisterProduct;
use order_fulfillment_saga::machine::machine;
use runtime::RawEnvelope;
use runtime::command_handler::CommandHandler;
use runtime::memory::state::MemoryStateStore;
use runtime::saga::SagaStatus;
use runtime::store::{AggregateKey, StateStore};
use std::sync::Arc;
use std::time::Duration;
use system_tests::{Sim, envelope, order_placed};
use uuid::Uuid;

const STOCK: i64 = 10;

/// The inventory commands the saga sends for an order of 2 units of `product` whose stock
/// reservation is never answered: the attempts, then the compensation.
async fn timed_out_reservation(product: Uuid) -> Vec<RawEnvelope> {
    let sim = Sim::new(machine());
    let order = Uuid::new_v4();
    let placed = order_placed(product, 2, 100);
    sim.feed(&envelope(&placed, &order.to_string(), None)).await;
    sim.run_timers(Duration::from_secs(1), Duration::from_secs(15 * 60))
        .await;
    assert_eq!(sim.doc().status, SagaStatus::TimedOut);
    sim.bus
        .sent()
        .into_iter()
        .filter(|m| m.context == "inventory")
        .map(|m| m.envelope)
        .collect()
}

/// Registers `product` with [`STOCK`] units, delivers `commands` in order, each twice, and
/// returns the product's (available, reserved, reservations held).
async fn deliver(product: Uuid, commands: &[&RawEnvelope]) -> (i64, i64, usize) {
    let store = Arc::new(MemoryStateStore::new());
    let handlers = inventory_command_handler::wiring::handlers(store.clone());
    let register = RegisterProduct {
        sku: "KB-1".into(),
        name: "Keyboard".into(),
        initial_stock: STOCK as i32,
    };
    handlers
        .handle(envelope(&register, &product.to_string(), None))
        .await
        .expect("registered");
    for c in commands.iter().chain(commands.iter()) {
        handlers.handle((*c).clone()).await.expect("handled");
    }
    let key = AggregateKey::new("acme", "inventory.Product", product.to_string());
    let state = store.load(&key).await.unwrap().expect("product").state;
    (
        state["available"].as_i64().unwrap(),
        state["reserved"].as_i64().unwrap(),
        state["reservations"].as_array().unwrap().len(),
    )
}

/// Every order of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first.clone());
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn late_attempts_after_a_timeout_compensation_change_nothing_in_any_order() {
    let product = Uuid::new_v4();
    let sent = timed_out_reservation(product).await;
    let types: Vec<&str> = sent.iter().map(|c| c.meta.message_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "inventory.ReserveStock",
            "inventory.ReserveStock",
            "inventory.ReserveStock",
            "inventory.ReleaseStock"
        ]
    );
    let release = &sent[3];
    let attempts: Vec<Uuid> = sent[..3].iter().map(|c| c.meta.message_id).collect();
    assert_eq!(release.meta.voids, attempts);

    let orders = permutations(&sent.iter().collect::<Vec<_>>());
    assert_eq!(orders.len(), 24);
    for order in &orders {
        let ids: Vec<&str> = order.iter().map(|c| c.meta.message_type.as_str()).collect();
        assert_eq!(
            deliver(product, order).await,
            (STOCK, 0, 0),
            "delivered in the order {ids:?}"
        );
    }

    // Without the voids, an attempt delivered after the compensation reserves for good.
    let mut bare = release.clone();
    bare.meta.voids.clear();
    let mut leaking = 0;
    for order in permutations(&[&sent[0], &sent[1], &sent[2], &bare]) {
        if deliver(product, &order).await != (STOCK, 0, 0) {
            leaking += 1;
        }
    }
    // The compensation is first in 6 orders, second in 6, third in 6: an attempt follows it in
    // 18 of the 24.
    assert_eq!(leaking, 18);
}
