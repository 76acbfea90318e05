//! Saga simulation of the generated `OrderFulfillment` orchestrator (no messaging, no
//! database): the machine emitted from `sagas.yaml`, run by the real engine.

use inventory_contracts::product::{StockReservationFailed, StockReserved};
use order_fulfillment_saga::machine::machine;
use payments_contracts::payment::{PaymentCharged, PaymentDeclined};
use payments_contracts::types::PaymentMethod;
use runtime::RawEnvelope;
use runtime::envelope::deterministic_id;
use runtime::saga::{EventOutcome, SagaStatus, saga_id};
use serde_json::json;
use shipping_contracts::shipment::ShipmentScheduled;
use shipping_contracts::types::Carrier;
use std::time::Duration;
use system_tests::{Sim, envelope, order_placed};
use uuid::Uuid;

struct Order {
    id: Uuid,
    product: Uuid,
    placed: RawEnvelope,
}

fn place(quantity: i32, unit_price: i64) -> Order {
    let id = Uuid::new_v4();
    let product = Uuid::new_v4();
    let placed = order_placed(product, quantity, unit_price);
    Order {
        id,
        product,
        placed: envelope(&placed, &id.to_string(), None),
    }
}

fn reserved(o: &Order) -> RawEnvelope {
    envelope(
        &StockReserved {
            order_id: o.id,
            quantity: 2,
        },
        &o.product.to_string(),
        Some(&o.placed),
    )
}

fn charged(o: &Order) -> RawEnvelope {
    let e = PaymentCharged {
        order_id: o.id,
        customer_id: "alice".into(),
        amount: 3998,
        method: PaymentMethod::Card,
    };
    envelope(&e, &o.id.to_string(), Some(&o.placed))
}

#[tokio::test]
async fn happy_path_reserves_charges_ships_and_confirms() {
    let s = Sim::new(machine());
    let o = place(2, 1999);
    let sid = saga_id("OrderFulfillment", &o.id.to_string());
    assert_eq!(
        s.feed(&o.placed).await,
        EventOutcome::Started { saga_id: sid }
    );
    s.feed(&reserved(&o)).await;
    s.feed(&charged(&o)).await;
    let scheduled = ShipmentScheduled {
        order_id: o.id,
        address: Default::default(),
        carrier: Carrier::Standard,
    };
    s.feed(&envelope(&scheduled, &o.id.to_string(), Some(&o.placed)))
        .await;

    let sent = s.sent();
    let types: Vec<&str> = sent.iter().map(|(_, t, _, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "inventory.ReserveStock",
            "payments.ChargePayment",
            "shipping.ScheduleShipment",
            "ordering.ConfirmOrder"
        ]
    );
    // Command payloads come from the saga data, as `sagas.yaml` maps them.
    assert_eq!(sent[0].2, json!({ "order_id": o.id, "quantity": 2 }));
    assert_eq!(sent[1].2["amount"], json!(3998));
    assert_eq!(sent[1].2["method"], json!("card"));
    assert_eq!(sent[2].2["carrier"], json!("standard"));
    assert_eq!(sent[2].2["address"]["country"], json!("GB"));
    // Deterministic ids: a retried or recovered step re-sends the same id.
    assert_eq!(sent[0].3, deterministic_id(sid, "ReservingStock/attempt-1"));
    // Targets: the reservation goes to the product, the payment to the order id.
    let bus = s.bus.sent();
    assert_eq!(
        bus[0].envelope.meta.aggregate_id.as_deref(),
        Some(o.product.to_string().as_str())
    );
    assert_eq!(
        bus[1].envelope.meta.aggregate_id.as_deref(),
        Some(o.id.to_string().as_str())
    );
    assert!(
        bus.iter()
            .all(|m| m.envelope.meta.correlation_id == o.placed.meta.correlation_id)
    );
    let doc = s.doc();
    assert_eq!(doc.status, SagaStatus::Completed);
    assert_eq!(doc.current_step, "Confirmed");
    assert!(doc.compensations.is_empty());
}

#[tokio::test]
async fn out_of_stock_cancels_the_order_without_compensation() {
    let s = Sim::new(machine());
    let o = place(5, 100);
    s.feed(&o.placed).await;
    let failed = StockReservationFailed {
        order_id: o.id,
        quantity: 5,
        available: 1,
    };
    s.feed(&envelope(&failed, &o.product.to_string(), Some(&o.placed)))
        .await;
    let sent = s.sent();
    assert_eq!(
        s.sent_types(),
        ["inventory.ReserveStock", "ordering.CancelOrder"]
    );
    assert_eq!(sent[1].2, json!({ "reason": "out_of_stock" }));
    assert_eq!(s.doc().status, SagaStatus::Failed);
}

#[tokio::test]
async fn declined_payment_releases_the_stock_then_cancels() {
    let s = Sim::new(machine());
    let o = place(2, 1999);
    s.feed(&o.placed).await;
    s.feed(&reserved(&o)).await;
    let declined = PaymentDeclined {
        order_id: o.id,
        amount: 3998,
    };
    s.feed(&envelope(&declined, &o.id.to_string(), Some(&o.placed)))
        .await;
    let sent = s.sent();
    assert_eq!(
        s.sent_types(),
        [
            "inventory.ReserveStock",
            "payments.ChargePayment",
            "inventory.ReleaseStock",
            "ordering.CancelOrder"
        ]
    );
    assert_eq!(sent[2].2, json!({ "order_id": o.id, "quantity": 2 }));
    assert_eq!(sent[3].2, json!({ "reason": "payment_declined" }));
    let sid = saga_id("OrderFulfillment", &o.id.to_string());
    assert_eq!(
        sent[2].3,
        deterministic_id(sid, "compensate/ReservingStock")
    );
    assert_eq!(s.doc().status, SagaStatus::Failed);
}

#[tokio::test]
async fn silent_shipping_is_retried_then_compensated_in_reverse_order() {
    let s = Sim::new(machine());
    let o = place(2, 1999);
    s.feed(&o.placed).await;
    s.feed(&reserved(&o)).await;
    s.feed(&charged(&o)).await;
    // Shipping never answers: 3 attempts (timeout 1m, backoff from 2s), then compensations.
    s.run_timers(Duration::from_secs(1), Duration::from_secs(15 * 60))
        .await;
    assert_eq!(
        s.sent_types(),
        [
            "inventory.ReserveStock",
            "payments.ChargePayment",
            "shipping.ScheduleShipment",
            "shipping.ScheduleShipment",
            "shipping.ScheduleShipment",
            // `compensate_on_timeout` (the default with `compensate_with`): a shipment
            // scheduled late is cancelled too; without one, CancelShipment is rejected, a no-op.
            "shipping.CancelShipment",
            "payments.RefundPayment",
            "inventory.ReleaseStock",
            "ordering.CancelOrder",
        ]
    );
    let sent = s.sent();
    assert_eq!(sent[8].2, json!({ "reason": "fulfilment_timed_out" }));
    let attempts: Vec<Uuid> = sent[2..5].iter().map(|c| c.3).collect();
    let sid = saga_id("OrderFulfillment", &o.id.to_string());
    assert_eq!(
        attempts,
        (1..=3)
            .map(|n| deterministic_id(sid, &format!("SchedulingShipment/attempt-{n}")))
            .collect::<Vec<_>>()
    );
    let doc = s.doc();
    assert_eq!(doc.status, SagaStatus::TimedOut);
    assert_eq!(doc.current_step, "CancelledTimedOut");
    assert!(doc.compensations.iter().all(|c| c.sent));
}

#[tokio::test]
async fn duplicates_and_late_events_change_nothing() {
    let s = Sim::new(machine());
    let o = place(1, 500);
    s.feed(&o.placed).await;
    assert_eq!(s.feed(&o.placed).await, EventOutcome::Duplicate);
    let r = reserved(&o);
    s.feed(&r).await;
    assert_eq!(s.feed(&r).await, EventOutcome::Duplicate);
    // A second reservation event (another message id) in the payment step is ignored.
    assert_eq!(s.feed(&reserved(&o)).await, EventOutcome::Ignored);
    assert_eq!(
        s.sent_types(),
        ["inventory.ReserveStock", "payments.ChargePayment"]
    );
}
