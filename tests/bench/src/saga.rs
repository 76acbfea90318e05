//! Sagas: the generated `order-fulfillment-saga` process driven through its happy path with
//! stub participants: the bench consumes the command queues of inventory, payments, shipping
//! and ordering, answers each command at once with the event the saga awaits (the command's
//! payload is the event's), and counts `ConfirmOrder` commands, the saga's last step.

use crate::amqp::{self, Envelope};
use crate::procs::{Env, Run};
use crate::rss::PeakRss;
use crate::{Ctx, Res, stats};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The process measured.
pub const PROCESS: &str = "order-fulfillment-saga";

/// Command → (context of the reply event, reply event type); `None`: the saga's end.
fn reply(command_type: &str) -> Option<(&'static str, &'static str)> {
    match command_type {
        "inventory.ReserveStock" => Some(("inventory", "inventory.StockReserved")),
        "payments.ChargePayment" => Some(("payments", "payments.PaymentCharged")),
        "shipping.ScheduleShipment" => Some(("shipping", "shipping.ShipmentScheduled")),
        _ => None,
    }
}

/// Starts `n` sagas at once; sagas completed per second from the first `OrderPlaced` to the
/// `n`-th `ConfirmOrder`.
pub async fn run(env: &Env, n: usize, rss: &mut PeakRss, notes: &mut Vec<String>) -> Res<f64> {
    let mut run = Run::new(env, "saga").await?;
    let mongo_cpu = crate::profile::ServerCpu::start("SecantusDB", "secantusd");
    let result = measure(env, &mut run, n).await;
    for (name, kb) in run.peak_rss() {
        rss.record(&name, kb, "sagas");
    }
    notes.push(mongo_cpu.note("sagas", &run.cpu()));
    run.close().await;
    result
}

async fn measure(env: &Env, run: &mut Run, n: usize) -> Res<f64> {
    run.start(PROCESS, &[]).await?;
    let prefix = run.prefix.clone();
    let conn = amqp::connect(&env.amqp_url).await?;
    let confirmed = Arc::new(AtomicUsize::new(0));
    for ctx in ["inventory", "payments", "shipping", "ordering"] {
        let ch = conn.create_channel().await.ctx("channel")?;
        let mut consumer =
            crate::amqp::consume(&ch, &format!("{prefix}.{ctx}.commands"), 256).await?;
        let (prefix, confirmed) = (prefix.clone(), confirmed.clone());
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                if let Some(cmd) = Envelope::decode(&d.properties, &d.data) {
                    match reply(&cmd.message_type) {
                        Some((context, event_type)) => {
                            let mut event = Envelope::root(
                                event_type,
                                cmd.aggregate_id.as_deref().unwrap_or_default(),
                                cmd.payload.clone(),
                            );
                            event.correlation_id = cmd.correlation_id;
                            event.causation_id = Some(cmd.message_id);
                            event.aggregate_version = Some(1);
                            let (body, props) = event.encode();
                            let exchange = format!("{prefix}.{context}.events");
                            let _ = ch
                                .basic_publish(
                                    exchange.as_str().into(),
                                    "".into(),
                                    BasicPublishOptions::default(),
                                    &body,
                                    props,
                                )
                                .await;
                        }
                        None if cmd.message_type == "ordering.ConfirmOrder" => {
                            confirmed.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    }
                }
                let _ = d.ack(BasicAckOptions::default()).await;
            }
        });
    }
    let pch = amqp::confirm_channel(&conn).await?;
    let orders = (0..n).map(|_| {
        let mut e = Envelope::root(
            "ordering.OrderPlaced",
            &Uuid::new_v4().to_string(),
            json!({
                "customer_id": "bench", "product_id": Uuid::new_v4(), "quantity": 1,
                "unit_price": 1999, "total": 1999, "payment_method": "card",
                "shipping_address": {"recipient": "Ada Lovelace", "street": "12 Analytical Row",
                    "city": "London", "postal_code": "NW1 6XE", "country": "GB"}
            }),
        );
        e.aggregate_version = Some(1);
        e.encode()
    });
    let start = Instant::now();
    amqp::publish_all(&pch, &format!("{prefix}.ordering.events"), "", orders, 1000).await?;
    let deadline = start + Duration::from_secs(120).max(Duration::from_millis(n as u64 * 50));
    while confirmed.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = start.elapsed();
    let done = confirmed.load(Ordering::Relaxed);
    let _ = conn.close(200, "bye".into()).await;
    if done < n {
        return Err(format!("{done} of {n} sagas completed within {took:?}"));
    }
    Ok(stats::per_second(n as u64, took))
}
