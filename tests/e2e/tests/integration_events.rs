//! Public (integration) events and policies on the real servers.
//!
//! The example's shipping context publishes `ShipmentBooked` on its public exchange for every
//! `ShipmentScheduled`; ordering's read model reads that public event (not shipping's domain
//! event), and ordering's policy `RecordBookedShipment` sends `RecordShipment` to the order for
//! it. The test taps the public exchange with a queue of its own and checks that each domain
//! event is published once — also when the domain event is delivered again, and when the
//! shipping EventHandler is killed with events waiting — that the public event continues the
//! flow's correlation and names its cause, and that the policy's command, sent again after a
//! lost marker, changes the order only once.

use e2e_tests::{System, amqp_url, http, mongodb_url, wait_for};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A queue of the test's own, bound to an exchange: what a subscriber of another team sees.
struct Tap {
    rt: tokio::runtime::Runtime,
    _conn: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
    seen: Vec<runtime::RawEnvelope>,
}

impl Tap {
    fn bind(prefix: &str, exchange: &str) -> Tap {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let queue = format!("{prefix}.test-tap");
        let (conn, channel) = rt.block_on(async {
            let conn = lapin::Connection::connect(&amqp_url(), Default::default())
                .await
                .expect("connect");
            let channel = conn.create_channel().await.expect("channel");
            channel
                .confirm_select(Default::default())
                .await
                .expect("confirms");
            let exclusive = QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            };
            channel
                .queue_declare(queue.as_str().into(), exclusive, Default::default())
                .await
                .expect("declare the tap");
            channel
                .queue_bind(
                    queue.as_str().into(),
                    format!("{prefix}.{exchange}").as_str().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    Default::default(),
                )
                .await
                .expect("bind the tap");
            (conn, channel)
        });
        Tap {
            rt,
            _conn: conn,
            channel,
            queue,
            seen: Vec::new(),
        }
    }

    /// Every message the tap received so far.
    fn drain(&mut self) -> &[runtime::RawEnvelope] {
        self.rt.block_on(async {
            while let Some(m) = self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
            {
                let envelope = runtime::amqp::from_delivery(&m.delivery).expect("an envelope");
                self.seen.push(envelope);
            }
        });
        &self.seen
    }

    /// Publishes `envelope` on `exchange` (prefixed), confirmed.
    fn publish(&self, prefix: &str, exchange: &str, envelope: &runtime::RawEnvelope) {
        let (body, props) = runtime::amqp::to_amqp(envelope).expect("encode");
        self.rt.block_on(async {
            self.channel
                .basic_publish(
                    format!("{prefix}.{exchange}").as_str().into(),
                    "".into(),
                    Default::default(),
                    &body,
                    props,
                )
                .await
                .expect("publish")
                .await
                .expect("confirm");
        });
    }

    /// Waits until the tap has received `n` messages in all, then checks for a while that no
    /// more arrive.
    fn expect(&mut self, n: usize, what: &str) -> Vec<runtime::RawEnvelope> {
        wait_for(WAIT, what, || {
            let seen = self.drain().len();
            if seen >= n {
                Ok(())
            } else {
                Err(format!("{seen} of {n}"))
            }
        });
        std::thread::sleep(Duration::from_millis(1500));
        let all = self.drain().to_vec();
        assert_eq!(all.len(), n, "{what}: {all:#?}");
        all
    }
}

fn post(sys: &System, process: &str, path: &str, auth: &str, body: Value) -> Value {
    let r = http(
        sys.addr(process),
        "POST",
        path,
        &[("Authorization", auth)],
        Some(&body),
    )
    .expect("POST");
    assert_eq!(r.status, 202, "POST {path}: {}", r.body);
    r.json()
}

fn place_order(sys: &System, auth: &str, product: &str) -> String {
    let placed = post(
        sys,
        "ordering-command-api",
        "/orders",
        auth,
        json!({
            "product_id": product, "quantity": 1, "unit_price": 500, "payment_method": "card",
            "shipping_address": {"recipient": "Ada Lovelace", "street": "12 Analytical Row",
                "city": "London", "postal_code": "NW1 6XE", "country": "GB"}
        }),
    );
    placed["aggregate_id"].as_str().expect("id").to_owned()
}

/// The envelope of the order's `ShipmentScheduled` in shipping's outbox.
fn shipment_scheduled(sys: &System, order: &str) -> Option<runtime::RawEnvelope> {
    let rows = sys.sql(&format!(
        "SELECT envelope FROM outbox WHERE envelope->'meta'->>'message_type' = 'shipping.ShipmentScheduled' \
         AND envelope->'meta'->>'aggregate_id' = '{order}'"
    ));
    serde_json::from_str(rows.first()?).ok()
}

/// How many `ShipmentRecorded` events the order has (its changes by the policy).
fn shipments_recorded(sys: &System, order: &str) -> usize {
    sys.sql(&format!(
        "SELECT count(*) FROM outbox WHERE envelope->'meta'->>'message_type' = 'ordering.ShipmentRecorded' \
         AND envelope->'meta'->>'aggregate_id' = '{order}'"
    ))[0]
        .parse()
        .expect("a count")
}

/// Waits until `process` logged `message` inside the span of message `id`.
fn wait_logged(sys: &System, process: &str, id: uuid::Uuid, message: &str) {
    let id = id.to_string();
    wait_for(
        WAIT,
        &format!("{process} logs {message:?} for {id}"),
        || {
            let found = sys.logs(process).iter().any(|l| {
                let spans = l["spans"].to_string() + &l["span"].to_string();
                spans.contains(&id) && l["fields"]["message"] == message
            });
            if found { Ok(()) } else { Err("not yet".into()) }
        },
    );
}

#[test]
fn public_events_are_published_once_per_domain_event_and_policies_act_once() {
    let mut sys = System::start("public", &[], &[]);
    let admin = format!(
        "Bearer {}",
        sys.token("ops", "admin,warehouse,support,customer")
    );
    let mut tap = Tap::bind(&sys.prefix, "shipping.public");

    let product = post(
        &sys,
        "inventory-command-api",
        "/products",
        &admin,
        json!({"sku": "PUB-1", "name": "public", "initial_stock": 100}),
    )["aggregate_id"]
        .as_str()
        .expect("id")
        .to_owned();
    wait_for(WAIT, "the product registered", || {
        sys.get_json("inventory-query-api", &format!("/stock/{product}"), &admin)
            .ok_or_else(|| "missing".to_owned())
    });

    // --- one order: one public event, read by ordering's read model and policy -----------
    let first = place_order(&sys, &admin, &product);
    let summary = wait_for(WAIT, "the order shows the booked shipment", || {
        match sys.get_json("ordering-query-api", &format!("/orders/{first}"), &admin) {
            Some(v) if v["shipment_id"] == first.as_str() && v["carrier"] == "standard" => Ok(v),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(summary["status"], "confirmed", "{summary}");
    let published = tap.expect(1, "one ShipmentBooked");
    let scheduled = shipment_scheduled(&sys, &first).expect("ShipmentScheduled in the outbox");
    let booked = &published[0];
    assert_eq!(booked.meta.message_type, "shipping.ShipmentBooked");
    assert_eq!(booked.meta.causation_id, Some(scheduled.meta.message_id));
    assert_eq!(booked.meta.correlation_id, scheduled.meta.correlation_id);
    assert_eq!(booked.meta.aggregate_id, scheduled.meta.aggregate_id);
    assert_eq!(booked.meta.aggregate_version, None);
    assert_eq!(
        booked.payload,
        json!({"order_id": first, "shipment_id": first, "carrier": "standard"})
    );
    assert_eq!(shipments_recorded(&sys, &first), 1);

    // --- the domain event delivered again: nothing published again ------------------------
    tap.publish(&sys.prefix, "shipping.events", &scheduled);
    wait_logged(
        &sys,
        "shipping-event-handler",
        scheduled.meta.message_id,
        "reactions sent before",
    );
    tap.expect(1, "still one ShipmentBooked after a redelivery");

    // --- the EventHandler killed while events wait for it: one each after its restart ------
    sys.kill("shipping-event-handler");
    let second = place_order(&sys, &admin, &product);
    let third = place_order(&sys, &admin, &product);
    for order in [&second, &third] {
        wait_for(
            WAIT,
            "ShipmentScheduled while the EventHandler is down",
            || shipment_scheduled(&sys, order).ok_or_else(|| "not yet".to_owned()),
        );
    }
    sys.restart("shipping-event-handler");
    let published = tap.expect(3, "one ShipmentBooked per order across the restart");
    for order in [&second, &third] {
        let scheduled = shipment_scheduled(&sys, order).expect("scheduled");
        assert_eq!(
            published
                .iter()
                .filter(|p| p.meta.causation_id == Some(scheduled.meta.message_id))
                .count(),
            1,
            "{order}: {published:#?}"
        );
        wait_for(WAIT, "the policy recorded the shipment", || {
            match sys.get_json("ordering-query-api", &format!("/orders/{order}"), &admin) {
                Some(v) if v["shipment_id"] == order.as_str() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
    }

    // --- a lost marker (a crash between the confirms and the marker): the same message ----
    // again, with the same id, which the policy's CommandHandler and the read model drop.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let deleted = rt.block_on(async {
        let client = mongodb::Client::with_uri_str(mongodb_url())
            .await
            .expect("mongodb");
        client
            .database(sys.mongo_database())
            .collection::<mongodb::bson::Document>("_watermarks")
            .delete_one(mongodb::bson::doc! {
                "_id": format!("shipping-read-models/reacted/{}", scheduled.meta.message_id)
            })
            .await
            .expect("delete the marker")
            .deleted_count
    });
    assert_eq!(deleted, 1, "the reaction marker of the first order");
    tap.publish(&sys.prefix, "shipping.events", &scheduled);
    let published = tap.expect(4, "the lost marker's event published again");
    assert_eq!(
        published[3].meta.message_id, booked.meta.message_id,
        "the same message id"
    );
    let ordering_eh_saw_it_twice = || {
        let id = booked.meta.message_id.to_string();
        sys.logs("ordering-event-handler")
            .iter()
            .filter(|l| {
                let spans = l["spans"].to_string() + &l["span"].to_string();
                spans.contains(&id) && l["fields"]["message"] == "reactions sent before"
            })
            .count()
    };
    wait_for(WAIT, "ordering's EventHandler drops the repeat", || {
        if ordering_eh_saw_it_twice() >= 1 {
            Ok(())
        } else {
            Err("not yet".into())
        }
    });
    assert_eq!(shipments_recorded(&sys, &first), 1, "the policy acted once");
}
