//! Saga simulation tests: the order-fulfilment machine run by the real engine against the
//! in-memory saga store and `MemoryBus`, with a manual clock (no messaging, no database).

mod saga_order;

use runtime::RawEnvelope;
use runtime::envelope::deterministic_id;
use runtime::memory::MemoryBus;
use runtime::memory::saga::MemorySagaStore;
use runtime::saga::*;
use saga_order::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

struct Sim {
    engine: SagaEngine<OrderSaga>,
    store: Arc<MemorySagaStore>,
    bus: MemoryBus,
    clock: Arc<ManualClock>,
}

fn sim() -> Sim {
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
    Sim {
        engine,
        store,
        bus,
        clock,
    }
}

impl Sim {
    /// Every command sent so far as `(context, type, id)`.
    fn sent(&self) -> Vec<(String, String, uuid::Uuid)> {
        self.bus
            .sent()
            .into_iter()
            .map(|m| {
                (
                    m.context,
                    m.envelope.meta.message_type,
                    m.envelope.meta.message_id,
                )
            })
            .collect()
    }

    fn doc(&self, order_id: &str) -> SagaDocument {
        self.store
            .all()
            .into_iter()
            .find(|d| d.correlation_key == order_id)
            .expect("saga instance")
    }

    async fn feed(&self, e: &RawEnvelope) -> EventOutcome {
        self.engine.handle_event(e).await.unwrap()
    }
}

fn cmd(ctx: &str, ty: &str, saga: uuid::Uuid, disc: &str) -> (String, String, uuid::Uuid) {
    (ctx.to_owned(), ty.to_owned(), deterministic_id(saga, disc))
}

#[tokio::test]
async fn happy_path_sends_every_step_command_and_completes() {
    let s = sim();
    let start = placed("o-1");
    let sid = saga_id("order_fulfilment", "o-1");
    assert_eq!(s.feed(&start).await, EventOutcome::Started { saga_id: sid });
    let reserved = event(STOCK_RESERVED, "o-1", json!({}), Some(&start));
    assert!(matches!(
        s.feed(&reserved).await,
        EventOutcome::Transitioned { .. }
    ));
    let charged = event(
        PAYMENT_CHARGED,
        "o-1",
        json!({ "payment_id": "pay-9" }),
        Some(&start),
    );
    s.feed(&charged).await;
    let scheduled = event(SHIPMENT_SCHEDULED, "o-1", json!({}), Some(&start));
    s.feed(&scheduled).await;
    let confirmed = event(ORDER_CONFIRMED, "o-1", json!({}), Some(&start));
    assert_eq!(
        s.feed(&confirmed).await,
        EventOutcome::Transitioned {
            from: "ConfirmingOrder".into(),
            to: "Completed".into()
        }
    );

    assert_eq!(
        s.sent(),
        vec![
            cmd(
                "inventory",
                "inventory.ReserveStock",
                sid,
                "ReservingStock/attempt-1"
            ),
            cmd(
                "payments",
                "payments.ChargePayment",
                sid,
                "ChargingPayment/attempt-1"
            ),
            cmd(
                "shipping",
                "shipping.ScheduleShipment",
                sid,
                "SchedulingShipment/attempt-1"
            ),
            cmd(
                "ordering",
                "ordering.ConfirmOrder",
                sid,
                "ConfirmingOrder/attempt-1"
            ),
        ]
    );
    // Metadata: the flow's correlation id, causation = the event that caused the step,
    // tenant and user of the flow, aggregate id from `build`.
    let sent = s.bus.sent();
    for m in &sent {
        assert_eq!(m.envelope.meta.correlation_id, start.meta.correlation_id);
        assert_eq!(m.envelope.meta.tenant_id, "acme");
        assert_eq!(m.envelope.meta.user_id.as_deref(), Some("alice"));
        assert_eq!(m.envelope.meta.aggregate_id.as_deref(), Some("o-1"));
    }
    assert_eq!(
        sent[0].envelope.meta.causation_id,
        Some(start.meta.message_id)
    );
    assert_eq!(
        sent[1].envelope.meta.causation_id,
        Some(reserved.meta.message_id)
    );
    assert_eq!(
        sent[1].envelope.payload,
        json!({ "order_id": "o-1", "amount": 250 })
    );

    let doc = s.doc("o-1");
    assert_eq!(doc.status, SagaStatus::Completed);
    assert_eq!(doc.current_step, "Completed");
    assert_eq!(doc.data["payment_id"], "pay-9");
    assert_eq!(
        doc.completed_steps,
        vec!["ReservingStock", "ChargingPayment"]
    );
    assert!(doc.compensations.is_empty());
    assert!(doc.pending.is_empty());
    assert!(doc.timeouts.is_empty());
    assert_eq!(doc.processed_events.len(), 5);

    // Late events for a finished instance change nothing.
    let late = event(PAYMENT_DECLINED, "o-1", json!({}), Some(&start));
    assert_eq!(s.feed(&late).await, EventOutcome::Finished);
    assert_eq!(s.bus.len(), 4);
}

#[tokio::test]
async fn out_of_stock_fails_without_compensation() {
    let s = sim();
    let start = placed("o-2");
    let sid = saga_id("order_fulfilment", "o-2");
    s.feed(&start).await;
    s.feed(&event(OUT_OF_STOCK, "o-2", json!({}), Some(&start)))
        .await;
    assert_eq!(
        s.sent(),
        vec![cmd(
            "inventory",
            "inventory.ReserveStock",
            sid,
            "ReservingStock/attempt-1"
        )]
    );
    let doc = s.doc("o-2");
    assert_eq!(doc.status, SagaStatus::Failed);
    assert_eq!(doc.current_step, "Failed");
    assert!(doc.compensations.is_empty());
}

#[tokio::test]
async fn payment_declined_releases_the_stock() {
    let s = sim();
    let start = placed("o-3");
    let sid = saga_id("order_fulfilment", "o-3");
    s.feed(&start).await;
    s.feed(&event(STOCK_RESERVED, "o-3", json!({}), Some(&start)))
        .await;
    let declined = event(PAYMENT_DECLINED, "o-3", json!({}), Some(&start));
    s.feed(&declined).await;
    assert_eq!(
        s.sent(),
        vec![
            cmd(
                "inventory",
                "inventory.ReserveStock",
                sid,
                "ReservingStock/attempt-1"
            ),
            cmd(
                "payments",
                "payments.ChargePayment",
                sid,
                "ChargingPayment/attempt-1"
            ),
            cmd(
                "inventory",
                "inventory.ReleaseStock",
                sid,
                "compensate/ReservingStock"
            ),
        ]
    );
    assert_eq!(
        s.bus.sent()[2].envelope.meta.causation_id,
        Some(declined.meta.message_id)
    );
    let doc = s.doc("o-3");
    assert_eq!(doc.status, SagaStatus::Failed);
    assert_eq!(doc.compensations.len(), 1);
    assert!(doc.compensations[0].sent);
}

#[tokio::test]
async fn shipping_timeout_retries_with_backoff_then_compensates_in_reverse_order() {
    let s = sim();
    let start = placed("o-4");
    let sid = saga_id("order_fulfilment", "o-4");
    s.feed(&start).await;
    s.feed(&event(STOCK_RESERVED, "o-4", json!({}), Some(&start)))
        .await;
    s.feed(&event(
        PAYMENT_CHARGED,
        "o-4",
        json!({ "payment_id": "pay-4" }),
        Some(&start),
    ))
    .await;
    assert_eq!(s.bus.len(), 3);

    // Not due yet.
    s.clock.advance(SHIPPING_TIMEOUT - Duration::from_secs(1));
    assert_eq!(s.engine.tick().await.unwrap(), 0);
    // Attempt 1 times out: a retry is scheduled after 10 s (initial delay), nothing sent yet.
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(s.engine.tick().await.unwrap(), 1);
    assert_eq!(s.bus.len(), 3);
    s.clock.advance(Duration::from_secs(9));
    assert_eq!(s.engine.tick().await.unwrap(), 0);
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(s.engine.tick().await.unwrap(), 1);
    assert_eq!(s.bus.len(), 4, "attempt 2 sent after the back-off");
    // Attempt 2 times out: the back-off doubles (20 s) but is capped at 15 s.
    s.clock.advance(SHIPPING_TIMEOUT);
    s.engine.tick().await.unwrap();
    s.clock.advance(Duration::from_secs(14));
    s.engine.tick().await.unwrap();
    assert_eq!(s.bus.len(), 4);
    s.clock.advance(Duration::from_secs(1));
    s.engine.tick().await.unwrap();
    assert_eq!(s.bus.len(), 5, "attempt 3 sent after the capped back-off");
    // Attempt 3 (the last) times out: compensations, newest step first, then Failed.
    s.clock.advance(SHIPPING_TIMEOUT);
    assert_eq!(s.engine.tick().await.unwrap(), 1);

    assert_eq!(
        s.sent(),
        vec![
            cmd(
                "inventory",
                "inventory.ReserveStock",
                sid,
                "ReservingStock/attempt-1"
            ),
            cmd(
                "payments",
                "payments.ChargePayment",
                sid,
                "ChargingPayment/attempt-1"
            ),
            cmd(
                "shipping",
                "shipping.ScheduleShipment",
                sid,
                "SchedulingShipment/attempt-1"
            ),
            cmd(
                "shipping",
                "shipping.ScheduleShipment",
                sid,
                "SchedulingShipment/attempt-2"
            ),
            cmd(
                "shipping",
                "shipping.ScheduleShipment",
                sid,
                "SchedulingShipment/attempt-3"
            ),
            cmd(
                "payments",
                "payments.RefundPayment",
                sid,
                "compensate/ChargingPayment"
            ),
            cmd(
                "inventory",
                "inventory.ReleaseStock",
                sid,
                "compensate/ReservingStock"
            ),
        ]
    );
    let refund = &s.bus.sent()[5].envelope;
    assert_eq!(refund.meta.aggregate_id.as_deref(), Some("pay-4"));
    assert_eq!(refund.meta.correlation_id, start.meta.correlation_id);
    let doc = s.doc("o-4");
    assert_eq!(doc.status, SagaStatus::TimedOut);
    assert_eq!(doc.current_step, "Failed");
    assert!(doc.timed_out);
    assert!(doc.compensations.iter().all(|c| c.sent));
    // Nothing further happens on later ticks; a late answer is ignored.
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(s.engine.tick().await.unwrap(), 0);
    let late = event(SHIPMENT_SCHEDULED, "o-4", json!({}), Some(&start));
    assert_eq!(s.feed(&late).await, EventOutcome::Finished);
    assert_eq!(s.bus.len(), 7);
}

#[tokio::test]
async fn duplicates_and_noise_are_ignored() {
    let s = sim();
    let start = placed("o-5");
    let sid = saga_id("order_fulfilment", "o-5");
    s.feed(&start).await;
    // The same start event again: no second instance, no second command.
    assert_eq!(s.feed(&start).await, EventOutcome::Duplicate);
    // Another start event for the same order: recorded, ignored.
    let again = placed("o-5");
    assert_eq!(s.feed(&again).await, EventOutcome::Ignored);
    // An event of a later step before its time: recorded, ignored.
    let early = event(SHIPMENT_SCHEDULED, "o-5", json!({}), Some(&start));
    assert_eq!(s.feed(&early).await, EventOutcome::Ignored);
    let reserved = event(STOCK_RESERVED, "o-5", json!({}), Some(&start));
    s.feed(&reserved).await;
    assert_eq!(s.feed(&reserved).await, EventOutcome::Duplicate);
    // Events of unknown orders and without key.
    assert_eq!(
        s.feed(&event(STOCK_RESERVED, "other", json!({}), None))
            .await,
        EventOutcome::NoInstance
    );
    let mut keyless = placed("x");
    keyless.payload = json!({});
    assert_eq!(s.feed(&keyless).await, EventOutcome::NotCorrelated);

    assert_eq!(s.store.all().len(), 1);
    assert_eq!(
        s.sent(),
        vec![
            cmd(
                "inventory",
                "inventory.ReserveStock",
                sid,
                "ReservingStock/attempt-1"
            ),
            cmd(
                "payments",
                "payments.ChargePayment",
                sid,
                "ChargingPayment/attempt-1"
            ),
        ]
    );
    let doc = s.doc("o-5");
    assert_eq!(doc.current_step, "ChargingPayment");
    assert_eq!(doc.processed_events.len(), 4);
}

#[tokio::test]
async fn commands_survive_a_broker_outage_and_are_republished_once() {
    let s = sim();
    let start = placed("o-6");
    let sid = saga_id("order_fulfilment", "o-6");
    s.bus.set_unavailable(true);
    let err = s.engine.handle_event(&start).await.unwrap_err();
    assert!(matches!(err, SagaError::Bus(_)) && !err.is_permanent());
    // The decision is saved with its command pending.
    let doc = s.doc("o-6");
    assert_eq!(doc.current_step, "ReservingStock");
    assert_eq!(doc.pending.len(), 1);
    assert_eq!(
        doc.pending[0].envelope.meta.message_id,
        deterministic_id(sid, "ReservingStock/attempt-1")
    );
    assert!(s.bus.is_empty());
    // Still down: recovery fails, the command stays pending.
    assert!(s.engine.recover().await.is_err());
    s.bus.set_unavailable(false);
    assert_eq!(s.engine.recover().await.unwrap(), 1);
    assert_eq!(s.engine.recover().await.unwrap(), 0);
    assert_eq!(
        s.sent(),
        vec![cmd(
            "inventory",
            "inventory.ReserveStock",
            sid,
            "ReservingStock/attempt-1"
        )]
    );
    assert!(s.doc("o-6").pending.is_empty());

    // A redelivered event republishes what is still pending.
    s.bus.fail_next(1);
    let reserved = event(STOCK_RESERVED, "o-6", json!({}), Some(&start));
    assert!(s.engine.handle_event(&reserved).await.is_err());
    assert_eq!(s.feed(&reserved).await, EventOutcome::Duplicate);
    assert_eq!(s.bus.len(), 2);
    assert!(s.doc("o-6").pending.is_empty());
}

#[tokio::test]
async fn malformed_events_are_permanent_errors() {
    let s = sim();
    let mut bad = placed("o-7");
    bad.payload = json!({ "order_id": "o-7", "amount": "lots" });
    let err = s.engine.handle_event(&bad).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(s.store.all().is_empty());
}

#[tokio::test]
async fn run_loop_fires_timers_until_shutdown() {
    let s = Arc::new(sim());
    let start = placed("o-8");
    s.feed(&start).await;
    s.clock.advance(STEP_TIMEOUT);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let s = s.clone();
        tokio::spawn(async move {
            s.engine
                .run(
                    Duration::from_millis(10),
                    Duration::from_millis(50),
                    async {
                        stopped.await.ok();
                    },
                )
                .await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.doc("o-8").status != SagaStatus::TimedOut {
        assert!(tokio::time::Instant::now() < deadline, "timer never fired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    runner.await.unwrap();
    assert_eq!(s.doc("o-8").current_step, "Failed");
}
