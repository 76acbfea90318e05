//! A hand-built order-fulfilment saga shared by the saga tests:
//! reserve stock → charge payment → schedule shipment → confirm order.
#![allow(dead_code)]

use runtime::message::DecodeError;
use runtime::saga::*;
use runtime::{Metadata, RawEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

pub const START: &str = "ordering.OrderPlaced";
pub const STOCK_RESERVED: &str = "inventory.StockReserved";
pub const OUT_OF_STOCK: &str = "inventory.OutOfStock";
pub const PAYMENT_CHARGED: &str = "payments.PaymentCharged";
pub const PAYMENT_DECLINED: &str = "payments.PaymentDeclined";
pub const SHIPMENT_SCHEDULED: &str = "shipping.ShipmentScheduled";
pub const ORDER_CONFIRMED: &str = "ordering.OrderConfirmed";

pub const SHIPPING_TIMEOUT: Duration = Duration::from_secs(60);
pub const STEP_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderSaga {
    pub order_id: String,
    pub amount: i64,
    pub payment_id: Option<String>,
}

fn invalid(e: &RawEnvelope, source: serde_json::Error) -> DecodeError {
    DecodeError::InvalidPayload {
        message_type: e.meta.message_type.clone(),
        source,
    }
}

fn capture_payment(d: &mut OrderSaga, e: &RawEnvelope) -> Result<(), DecodeError> {
    #[derive(Deserialize)]
    struct Charged {
        payment_id: String,
    }
    let c: Charged = serde_json::from_value(e.payload.clone()).map_err(|s| invalid(e, s))?;
    d.payment_id = Some(c.payment_id);
    Ok(())
}

pub fn machine() -> SagaMachine<OrderSaga> {
    SagaMachine {
        name: "order_fulfilment",
        start_event: START,
        initial_state: "ReservingStock",
        correlate: |e| e.payload["order_id"].as_str().map(str::to_owned),
        init: |e| {
            #[derive(Deserialize)]
            struct Placed {
                order_id: String,
                amount: i64,
            }
            let p: Placed = serde_json::from_value(e.payload.clone()).map_err(|s| invalid(e, s))?;
            Ok(OrderSaga {
                order_id: p.order_id,
                amount: p.amount,
                payment_id: None,
            })
        },
        states: vec![
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "inventory",
                    message_type: "inventory.ReserveStock",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({ "order_id": d.order_id })),
                }),
                compensation: Some(CommandSpec {
                    context: "inventory",
                    message_type: "inventory.ReleaseStock",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({ "order_id": d.order_id })),
                }),
                timeout: Some(STEP_TIMEOUT),
                on_timeout: Some(TransitionSpec::compensate_to("", "Failed")),
                transitions: vec![
                    TransitionSpec::to(STOCK_RESERVED, "ChargingPayment"),
                    TransitionSpec::compensate_to(OUT_OF_STOCK, "Failed"),
                ],
                ..SagaStateSpec::new("ReservingStock")
            },
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "payments",
                    message_type: "payments.ChargePayment",
                    schema_version: 1,
                    build: |d| {
                        (
                            d.order_id.clone(),
                            json!({ "order_id": d.order_id, "amount": d.amount }),
                        )
                    },
                }),
                compensation: Some(CommandSpec {
                    context: "payments",
                    message_type: "payments.RefundPayment",
                    schema_version: 1,
                    build: |d| {
                        (
                            d.payment_id.clone().unwrap_or_default(),
                            json!({ "order_id": d.order_id, "payment_id": d.payment_id }),
                        )
                    },
                }),
                timeout: Some(STEP_TIMEOUT),
                on_timeout: Some(TransitionSpec::compensate_to("", "Failed")),
                transitions: vec![
                    TransitionSpec::to(PAYMENT_CHARGED, "SchedulingShipment")
                        .with_capture(capture_payment),
                    TransitionSpec::compensate_to(PAYMENT_DECLINED, "Failed"),
                ],
                ..SagaStateSpec::new("ChargingPayment")
            },
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "shipping",
                    message_type: "shipping.ScheduleShipment",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({ "order_id": d.order_id })),
                }),
                timeout: Some(SHIPPING_TIMEOUT),
                retry: RetryPolicy {
                    max_attempts: 3,
                    initial_delay: Duration::from_secs(10),
                    backoff: 2.0,
                    max_delay: Duration::from_secs(15),
                },
                on_timeout: Some(TransitionSpec::compensate_to("", "Failed")),
                transitions: vec![TransitionSpec::to(SHIPMENT_SCHEDULED, "ConfirmingOrder")],
                ..SagaStateSpec::new("SchedulingShipment")
            },
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "ordering",
                    message_type: "ordering.ConfirmOrder",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({ "order_id": d.order_id })),
                }),
                timeout: Some(STEP_TIMEOUT),
                transitions: vec![TransitionSpec::to(ORDER_CONFIRMED, "Completed")],
                ..SagaStateSpec::new("ConfirmingOrder")
            },
            SagaStateSpec::terminal("Completed", SagaOutcome::Completed),
            SagaStateSpec::terminal("Failed", SagaOutcome::Failed),
        ],
    }
}

/// An event of `message_type` about `order_id`, caused by `cause` (same flow) when given.
pub fn event(
    message_type: &str,
    order_id: &str,
    extra: serde_json::Value,
    cause: Option<&RawEnvelope>,
) -> RawEnvelope {
    let meta = match cause {
        Some(c) => c.meta.caused(Uuid::new_v4(), message_type),
        None => {
            let mut m = Metadata::new_root(message_type, "acme");
            m.user_id = Some("alice".into());
            m
        }
    };
    let mut payload = json!({ "order_id": order_id });
    if let (Some(p), Some(x)) = (payload.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            p.insert(k.clone(), v.clone());
        }
    }
    RawEnvelope { meta, payload }
}

pub fn placed(order_id: &str) -> RawEnvelope {
    event(START, order_id, json!({ "amount": 250 }), None)
}
