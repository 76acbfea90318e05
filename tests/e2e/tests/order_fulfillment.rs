//! The example system end to end: every generated process as a separate OS process on the
//! real RabbitMQ, PostgreSQL and MongoDB-protocol server, driven over HTTP like a client would.

use e2e_tests::{System, http, metric, saga_document, wait_for};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The W3C trace the happy-path order continues (trace id `TRACE_ID`).
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn post(addr: SocketAddr, path: &str, token: &str, body: Value, cid: Option<&str>) -> Value {
    let auth = bearer(token);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(c) = cid {
        headers.push(("x-correlation-id", c));
        headers.push(("traceparent", TRACEPARENT));
    }
    let r = http(addr, "POST", path, &headers, Some(&body)).expect("POST");
    assert_eq!(r.status, 202, "POST {path}: {} {}", r.status, r.body);
    r.json()
}

fn get(addr: SocketAddr, path: &str, token: &str) -> Result<(u16, Value), String> {
    let auth = bearer(token);
    let r = http(addr, "GET", path, &[("authorization", auth.as_str())], None)?;
    Ok((r.status, r.json()))
}

/// Polls `GET path` until `check` accepts the 200 body.
fn until(
    addr: SocketAddr,
    path: &str,
    token: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(WAIT, what, || match get(addr, path, token)? {
        (200, v) if check(&v) => Ok(v),
        (s, v) => Err(format!("{s} {v}")),
    })
}

fn register_product(sys: &System, admin: &str, stock: i32) -> String {
    let r = post(
        sys.addr("inventory-command-api"),
        "/products",
        admin,
        json!({"sku": "KB-MECH-01", "name": "Mechanical keyboard", "initial_stock": stock}),
        None,
    );
    let id = r["aggregate_id"].as_str().expect("aggregate_id").to_owned();
    until(
        sys.addr("inventory-query-api"),
        &format!("/stock/{id}"),
        admin,
        "product in the stock read model",
        |v| v["available"] == stock,
    );
    id
}

fn place_order(
    sys: &System,
    customer: &str,
    product: &str,
    qty: i32,
    unit_price: i64,
    cid: Option<&str>,
) -> Value {
    post(
        sys.addr("ordering-command-api"),
        "/orders",
        customer,
        json!({
            "product_id": product,
            "quantity": qty,
            "unit_price": unit_price,
            "payment_method": "card",
            "shipping_address": {
                "recipient": "Ada Lovelace", "street": "12 Analytical Row", "city": "London",
                "postal_code": "NW1 6XE", "country": "GB"
            }
        }),
        cid,
    )
}

#[test]
fn orders_are_confirmed_or_cancelled_through_the_saga_with_status_tracing_and_metrics() {
    let sys = System::start("saga", &[], &[]);
    let admin = sys.token("ops", "admin,warehouse,support");
    let customer = sys.token("alice", "customer");

    // --- happy path ---------------------------------------------------------------------
    let product = register_product(&sys, &admin, 10);
    let cid = uuid::Uuid::new_v4().to_string();
    let placed = place_order(&sys, &customer, &product, 3, 1999, Some(&cid));
    assert_eq!(placed["correlation_id"], cid.as_str(), "{placed}");
    let order = placed["aggregate_id"].as_str().unwrap().to_owned();
    let status_url = placed["status_url"].as_str().unwrap().to_owned();

    // command status: accepted (or already processed) → processed
    let api = sys.addr("ordering-command-api");
    let first = get(api, &status_url, &customer).unwrap();
    assert_eq!(first.0, 200, "{first:?}");
    assert!(
        ["accepted", "processed"].contains(&first.1["status"].as_str().unwrap_or("")),
        "{first:?}"
    );
    let done = until(api, &status_url, &customer, "PlaceOrder processed", |v| {
        v["status"] == "processed"
    });
    assert_eq!(done["correlation_id"], cid.as_str());
    assert_eq!(done["command_type"], "ordering.PlaceOrder");

    let summary = until(
        sys.addr("ordering-query-api"),
        &format!("/orders/{order}"),
        &customer,
        "order confirmed in the ordering Query API",
        |v| v["status"] == "confirmed",
    );
    assert_eq!(summary["total"], 3 * 1999);
    assert_eq!(summary["stock_reserved"], true);
    assert_eq!(summary["paid"], true);
    assert_eq!(summary["carrier"], "standard");
    let stock = until(
        sys.addr("inventory-query-api"),
        &format!("/stock/{product}"),
        &admin,
        "stock decremented",
        |v| v["available"] == 7 && v["reserved"] == 3,
    );
    assert_eq!(stock["sku"], "KB-MECH-01");
    let payment = until(
        sys.addr("payments-query-api"),
        &format!("/payments/{order}"),
        &admin,
        "payment charged",
        |v| v["status"] == "charged",
    );
    assert_eq!(payment["amount"], 3 * 1999);
    until(
        sys.addr("shipping-query-api"),
        &format!("/shipments/{order}"),
        &admin,
        "shipment scheduled",
        |v| v["status"] == "scheduled" && v["carrier"] == "standard",
    );

    // --- one correlation id through API → queue → handler → event → saga → commands ------
    let saga = wait_for(WAIT, "saga document", || {
        saga_document(&sys, &order).ok_or_else(|| "no saga document".to_owned())
    });
    assert_eq!(saga["doc"]["correlation_id"], cid.as_str(), "{saga}");
    assert_eq!(saga["doc"]["status"], "Completed", "{saga}");
    // ... and one W3C trace id (from the caller's `traceparent`) in every process's logs.
    let traced = |process: &str, message_type: &str| {
        sys.logs(process).iter().any(|l| {
            let spans = l["spans"].to_string() + &l["span"].to_string();
            spans.contains(&cid) && spans.contains(message_type) && spans.contains(TRACE_ID)
        })
    };
    for (process, message_type) in [
        ("ordering-command-api", "ordering.PlaceOrder"),
        ("ordering-command-handler", "ordering.PlaceOrder"),
        ("ordering-event-handler", "ordering.OrderPlaced"),
        ("order-fulfillment-saga", "ordering.OrderPlaced"),
        ("inventory-command-handler", "inventory.ReserveStock"),
        ("order-fulfillment-saga", "inventory.StockReserved"),
        ("payments-command-handler", "payments.ChargePayment"),
        ("shipping-command-handler", "shipping.ScheduleShipment"),
        ("order-fulfillment-saga", "shipping.ShipmentScheduled"),
        ("ordering-command-handler", "ordering.ConfirmOrder"),
        // shipping's public event, published by its EventHandler, reaches ordering's policies.
        ("ordering-event-handler", "shipping.ShipmentBooked"),
    ] {
        wait_for(
            Duration::from_secs(10),
            &format!("{process} logs {message_type} with {cid} and trace {TRACE_ID}"),
            || {
                if traced(process, message_type) {
                    Ok(())
                } else {
                    Err("not in the log".into())
                }
            },
        );
    }

    // The hand-written event hook (hooks/ordering) ran once for the order, in the flow's trace.
    let notified = || {
        sys.logs("ordering-event-handler")
            .into_iter()
            .filter(|l| {
                l["fields"]["message"] == "customer notified of shipment"
                    && l["fields"]["order_id"] == order.as_str()
            })
            .collect::<Vec<_>>()
    };
    let lines = wait_for(WAIT, "the customer notified of the shipment", || {
        let lines = notified();
        if lines.is_empty() {
            Err("no notification in the log".to_owned())
        } else {
            Ok(lines)
        }
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let spans = lines[0]["spans"].to_string();
    assert!(spans.contains(&cid) && spans.contains(TRACE_ID), "{spans}");

    // --- out of stock → cancelled (nothing to compensate) --------------------------------
    let scarce = register_product(&sys, &admin, 1);
    let placed = place_order(&sys, &customer, &scarce, 5, 100, None);
    let order2 = placed["aggregate_id"].as_str().unwrap().to_owned();
    let v = until(
        sys.addr("ordering-query-api"),
        &format!("/orders/{order2}"),
        &customer,
        "out-of-stock order cancelled",
        |v| v["status"] == "cancelled",
    );
    assert_eq!(v["cancellation_reason"], "out_of_stock", "{v}");
    let s = get(
        sys.addr("inventory-query-api"),
        &format!("/stock/{scarce}"),
        &admin,
    )
    .unwrap()
    .1;
    assert_eq!(s["available"], 1, "{s}");

    // --- payment declined (over 5,000.00) → stock released, order cancelled -------------
    let placed = place_order(&sys, &customer, &product, 2, 300_000, None);
    let order3 = placed["aggregate_id"].as_str().unwrap().to_owned();
    let v = until(
        sys.addr("ordering-query-api"),
        &format!("/orders/{order3}"),
        &customer,
        "declined order cancelled",
        |v| v["status"] == "cancelled",
    );
    assert_eq!(v["cancellation_reason"], "payment_declined", "{v}");
    until(
        sys.addr("inventory-query-api"),
        &format!("/stock/{product}"),
        &admin,
        "stock released after the decline",
        |v| v["available"] == 7 && v["reserved"] == 3,
    );
    let (code, _) = get(
        sys.addr("payments-query-api"),
        &format!("/payments/{order3}"),
        &admin,
    )
    .unwrap();
    assert_eq!(code, 404, "a declined payment has no payment view");
    let saga3 = saga_document(&sys, &order3).expect("saga of the declined order");
    let steps: Vec<&str> = saga3["doc"]["compensations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["step"].as_str())
        .collect();
    assert_eq!(steps, ["ReservingStock"], "{saga3}");

    // --- a rejected command shows `rejected` in the status endpoint ---------------------
    let r = post(
        sys.addr("inventory-command-api"),
        &format!("/products/{product}/restock"),
        &sys.token("ops", "warehouse"),
        json!({"quantity": 5}),
        None,
    );
    let url = r["status_url"].as_str().unwrap();
    until(
        sys.addr("inventory-command-api"),
        url,
        &admin,
        "restock processed",
        |v| v["status"] == "processed",
    );
    let r = post(
        sys.addr("inventory-command-api"),
        &format!("/products/{}/restock", uuid::Uuid::new_v4()),
        &sys.token("ops", "warehouse"),
        json!({"quantity": 5}),
        None,
    );
    let url = r["status_url"].as_str().unwrap();
    let rejected = until(
        sys.addr("inventory-command-api"),
        url,
        &admin,
        "restock of an unknown product rejected",
        |v| v["status"] == "rejected",
    );
    assert!(rejected["code"].is_string(), "{rejected}");

    // --- /metrics: queue depth per consuming process, saga completion rate --------------
    for (process, queue) in [
        ("inventory-command-handler", "inventory.commands"),
        ("ordering-event-handler", "ordering.event-handler"),
        ("order-fulfillment-saga", "saga.order-fulfillment"),
    ] {
        let q = format!("{}.{queue}", sys.prefix);
        let text = http(sys.addr(process), "GET", "/metrics", &[], None)
            .unwrap()
            .body;
        let depth = metric(&text, "queue_depth", &[("queue", &q)]);
        assert!(
            depth.is_some_and(|d| d >= 0.0),
            "{process}: no queue_depth for {q}:\n{text}"
        );
    }
    let text = http(
        sys.addr("order-fulfillment-saga"),
        "GET",
        "/metrics",
        &[],
        None,
    )
    .unwrap()
    .body;
    let labels = [("saga", "OrderFulfillment")];
    assert_eq!(
        metric(&text, "saga_started_total", &labels),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "saga_completed_total", &labels),
        Some(1.0),
        "{text}"
    );
    let ratio = metric(&text, "saga_completion_ratio", &labels).expect("saga_completion_ratio");
    assert!(
        (ratio - 1.0 / 3.0).abs() < 1e-6,
        "completion ratio {ratio}:\n{text}"
    );
}

#[test]
fn a_participant_that_never_answers_times_out_and_compensates_in_reverse_order() {
    // No shipping command handler: ScheduleShipment is never answered. The saga retries it
    // (sagas.yaml: 1m timeout, 3 attempts), then compensates the shipment (it might still be
    // scheduled late: `compensate_on_timeout`), payment and stock, newest first.
    // SAGA_TIME_SCALE runs the catalog's saga times ten times faster (6 s per attempt here).
    let sys = System::start(
        "timeout",
        &["shipping-command-handler"],
        &[("SAGA_TIME_SCALE", "0.1")],
    );
    let admin = sys.token("ops", "admin,warehouse,support");
    let customer = sys.token("bob", "customer");
    let product = register_product(&sys, &admin, 4);
    let placed = place_order(&sys, &customer, &product, 1, 500, None);
    let order = placed["aggregate_id"].as_str().unwrap().to_owned();
    until(
        sys.addr("payments-query-api"),
        &format!("/payments/{order}"),
        &admin,
        "payment charged",
        |v| v["status"] == "charged",
    );
    let timeout = Duration::from_secs(300);
    let v = wait_for(timeout, "timed-out order cancelled", || {
        match get(
            sys.addr("ordering-query-api"),
            &format!("/orders/{order}"),
            &customer,
        )? {
            (200, v) if v["status"] == "cancelled" => Ok(v),
            (s, v) => Err(format!("{s} {v}")),
        }
    });
    assert_eq!(v["cancellation_reason"], "fulfilment_timed_out", "{v}");
    until(
        sys.addr("payments-query-api"),
        &format!("/payments/{order}"),
        &admin,
        "payment refunded",
        |v| v["status"] == "refunded",
    );
    until(
        sys.addr("inventory-query-api"),
        &format!("/stock/{product}"),
        &admin,
        "stock released",
        |v| v["available"] == 4 && v["reserved"] == 0,
    );
    let saga = saga_document(&sys, &order).expect("saga document");
    assert_eq!(saga["doc"]["status"], "TimedOut", "{saga}");
    let steps: Vec<&str> = saga["doc"]["compensations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        ["SchedulingShipment", "ChargingPayment", "ReservingStock"],
        "{saga}"
    );
}
