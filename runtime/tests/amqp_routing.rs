//! RabbitMQ routing and publishing: commands reach their context's command queue, events and
//! outcomes fan out to every bound subscriber queue, every publish is confirmed, and what
//! cannot be routed is an error, never silence; a pipelined batch keeps its order and reports
//! each message's own result.
#![cfg(feature = "amqp")]

mod support;

use runtime::amqp::{AmqpBus, AmqpError, declare, from_delivery, queue_depth};
use runtime::bus::{BusError, MessageBus, Outgoing, Route};
use runtime::topology::{QueueArguments, QueueKind, QueueSpec, Source, Topology, TopologyBuilder};
use runtime::{Envelope, Metadata, RawEnvelope};
use std::time::Duration;
use support::*;

const WAIT: Duration = Duration::from_secs(10);

fn topology(prefix: &str) -> Topology {
    TopologyBuilder::new()
        .context("ordering")
        .context("inventory")
        .subscriber(
            "ordering",
            "event-handler",
            [Source::events("ordering"), Source::events("inventory")],
        )
        .subscriber("ordering", "command-api", [Source::outcomes("ordering")])
        .subscriber("sagas", "order-fulfillment", [Source::events("ordering")])
        .build()
        .with_prefix(prefix)
}

fn message(t: &str) -> RawEnvelope {
    let mut meta = Metadata::new_root(t, "acme");
    meta.user_id = Some("alice".into());
    meta.aggregate_id = Some("order-1".into());
    Envelope {
        meta,
        payload: serde_json::json!({ "type": t, "n": 1 }),
    }
}

async fn channel() -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(&amqp_url(), Default::default())
        .await
        .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

async fn assert_empty(ch: &lapin::Channel, queue: &str) {
    assert!(
        get_message(ch, queue).await.is_none(),
        "{queue} should be empty"
    );
}

#[tokio::test]
async fn commands_go_to_their_queue_and_events_fan_out() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("routing");
    let t = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &t).await.expect("declare");
    declare(&ch, &t).await.expect("declare again (idempotent)");
    let q = |name: &str| format!("{prefix}.{name}");

    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.expect("bus");
    let cmd = message("inventory.ReserveStock");
    bus.send_command("inventory", &cmd)
        .await
        .expect("confirmed command");
    let got = next_message(&ch, &q("inventory.commands"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), cmd);
    assert_empty(&ch, &q("ordering.commands")).await;

    let placed = message("ordering.OrderPlaced");
    bus.publish_event("ordering", &placed)
        .await
        .expect("confirmed event");
    for sub in ["ordering.event-handler", "sagas.order-fulfillment"] {
        let got = next_message(&ch, &q(sub), WAIT).await;
        assert_eq!(from_delivery(&got).unwrap(), placed, "{sub}");
    }
    assert_empty(&ch, &q("ordering.command-api")).await;

    let reserved = message("inventory.StockReserved");
    bus.publish_event("inventory", &reserved)
        .await
        .expect("confirmed event");
    let got = next_message(&ch, &q("ordering.event-handler"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), reserved);
    assert_empty(&ch, &q("sagas.order-fulfillment")).await;

    let outcome = message("ordering.CommandProcessed");
    bus.publish_outcome("ordering", &outcome)
        .await
        .expect("confirmed outcome");
    let got = next_message(&ch, &q("ordering.command-api"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), outcome);
    assert_empty(&ch, &q("ordering.event-handler")).await;

    // wire properties as DESIGN.md says
    let p = &got.properties;
    assert_eq!(
        p.kind().as_ref().unwrap().as_str(),
        "ordering.CommandProcessed"
    );
    assert_eq!(
        p.correlation_id().as_ref().unwrap().as_str(),
        outcome.meta.correlation_id.to_string()
    );
    assert_eq!(*p.delivery_mode(), Some(2));

    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn unroutable_and_missing_targets_are_errors() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("unroutable");
    let declared = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &declared).await.expect("declare");

    // The bus knows a context `billing` whose exchanges and queue were never declared.
    let mut known = TopologyBuilder::new()
        .context("ordering")
        .context("inventory")
        .context("billing")
        .build()
        .with_prefix(&prefix);
    known.queues.retain(|q| !q.name.contains(".billing."));
    let bus = AmqpBus::connect(&amqp_url(), known).await.expect("bus");

    // missing exchange: the broker closes the channel with 404; that is a rejection
    let err = bus
        .publish_event("billing", &message("billing.InvoiceRaised"))
        .await
        .expect_err("missing exchange must fail");
    assert!(
        matches!(err, BusError::Rejected(ref m) if m.contains("NOT_FOUND") || m.contains("404")),
        "{err:?}"
    );

    // missing command queue: mandatory publish on the default exchange is returned
    let err = bus
        .send_command("billing", &message("billing.RaiseInvoice"))
        .await
        .expect_err("unroutable command must fail");
    assert!(
        matches!(err, BusError::Rejected(ref m) if m.contains("unroutable")),
        "{err:?}"
    );

    // unknown context
    assert!(matches!(
        bus.send_command("nope", &message("nope.X")).await,
        Err(BusError::Rejected(_))
    ));

    // the bus recovered its channel and still publishes
    let cmd = message("ordering.PlaceOrder");
    bus.send_command("ordering", &cmd)
        .await
        .expect("still works");
    let got = next_message(&ch, &format!("{prefix}.ordering.commands"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), cmd);

    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&declared).await;
}

#[tokio::test]
async fn redeclaring_with_other_arguments_names_the_queue() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("conflict");
    let t = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &t).await.expect("declare");

    let mut changed = t.clone();
    let q = changed
        .queues
        .iter_mut()
        .find(|q| q.name.ends_with(".ordering.commands"))
        .unwrap();
    q.arguments.delivery_limit = Some(3);
    let ch2 = conn.create_channel().await.unwrap();
    match declare(&ch2, &changed).await {
        Err(AmqpError::Declare { what, name, .. }) => {
            assert_eq!(what, "queue");
            assert_eq!(name, format!("{prefix}.ordering.commands"));
        }
        other => panic!("expected a declare error, got {other:?}"),
    }

    // classic queue with quorum-only arguments is refused before talking to the broker
    let mut invalid = t.clone();
    invalid.queues.push(QueueSpec {
        name: format!("{prefix}.bad"),
        kind: QueueKind::Classic,
        durable: true,
        arguments: QueueArguments {
            delivery_limit: Some(1),
            ..Default::default()
        },
        per_replica: false,
    });
    let ch3 = conn.create_channel().await.unwrap();
    assert!(matches!(
        declare(&ch3, &invalid).await,
        Err(AmqpError::Topology(_))
    ));

    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn queue_depth_counts_ready_messages() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("depth");
    let t = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &t).await.expect("declare");
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.expect("bus");
    let queue = format!("{prefix}.ordering.commands");
    assert_eq!(queue_depth(&conn, &queue).await.unwrap(), 0);
    for _ in 0..3 {
        bus.send_command("ordering", &message("ordering.PlaceOrder"))
            .await
            .unwrap();
    }
    wait_until(WAIT, "depth 3", || async {
        queue_depth(&conn, &queue).await.unwrap() == 3
    })
    .await;
    assert!(
        queue_depth(&conn, &format!("{prefix}.missing"))
            .await
            .is_err()
    );
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

#[tokio::test]
async fn a_pipelined_batch_keeps_order_and_reports_each_result() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("batch");
    let t = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &t).await.expect("declare");
    let q = |name: &str| format!("{prefix}.{name}");
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.expect("bus");

    let events: Vec<RawEnvelope> = (0..50)
        .map(|n| {
            let mut e = message("ordering.OrderPlaced");
            e.payload["n"] = n.into();
            e
        })
        .collect();
    let outcome = message("ordering.CommandProcessed");
    let cmd = message("inventory.ReserveStock");
    let mut batch: Vec<Outgoing<'_>> = events
        .iter()
        .map(|e| Outgoing {
            route: Route::Event,
            context: "ordering",
            envelope: e,
        })
        .collect();
    batch.insert(
        10,
        Outgoing {
            route: Route::Outcome,
            context: "nowhere",
            envelope: &outcome,
        },
    );
    batch.push(Outgoing {
        route: Route::Outcome,
        context: "ordering",
        envelope: &outcome,
    });
    batch.push(Outgoing {
        route: Route::Command,
        context: "inventory",
        envelope: &cmd,
    });
    let results = bus.publish_batch(&batch).await;
    assert_eq!(results.len(), 53);
    for (i, r) in results.iter().enumerate() {
        match i {
            10 => assert!(
                matches!(r, Err(BusError::Rejected(_))),
                "an unknown context is refused: {r:?}"
            ),
            _ => assert!(r.is_ok(), "message {i}: {r:?}"),
        }
    }
    // Every subscriber gets the 50 events in the order of the batch.
    for sub in ["ordering.event-handler", "sagas.order-fulfillment"] {
        for expected in &events {
            let got = next_message(&ch, &q(sub), WAIT).await;
            assert_eq!(&from_delivery(&got).unwrap(), expected, "{sub}");
        }
        assert_empty(&ch, &q(sub)).await;
    }
    let got = next_message(&ch, &q("ordering.command-api"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), outcome);
    let got = next_message(&ch, &q("inventory.commands"), WAIT).await;
    assert_eq!(from_delivery(&got).unwrap(), cmd);

    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}

/// RabbitMQ may ack several publishes at once, and lapin hands a waiting `basic.return` to
/// the first confirm it completes: the bus must still report the refusal on the message
/// that was returned, not on a routable neighbour.
#[tokio::test]
async fn returns_in_a_batch_are_reported_on_the_returned_message() {
    ensure_services();
    let _lock = broker_shared_lock();
    let prefix = unique_prefix("returns");
    let t = topology(&prefix);
    let (conn, ch) = channel().await;
    declare(&ch, &t).await.expect("declare");
    let bus = AmqpBus::connect(&amqp_url(), t.clone()).await.expect("bus");
    // Events of `ordering` are routed; outcomes of `inventory` have no queue bound.
    let messages: Vec<RawEnvelope> = (0..400)
        .map(|n| {
            let mut m = message(if n % 2 == 0 {
                "ordering.OrderPlaced"
            } else {
                "inventory.CommandProcessed"
            });
            m.payload["n"] = n.into();
            m
        })
        .collect();
    let batch: Vec<Outgoing<'_>> = messages
        .iter()
        .enumerate()
        .map(|(n, envelope)| Outgoing {
            route: if n % 2 == 0 {
                Route::Event
            } else {
                Route::Outcome
            },
            context: if n % 2 == 0 { "ordering" } else { "inventory" },
            envelope,
        })
        .collect();
    let results = bus.publish_batch(&batch).await;
    for (n, r) in results.iter().enumerate() {
        if n % 2 == 0 {
            assert!(r.is_ok(), "routable message {n}: {r:?}");
        } else {
            assert!(
                matches!(r, Err(BusError::Rejected(e)) if e.contains("NO_ROUTE")),
                "unroutable message {n}: {r:?}"
            );
        }
    }
    bus.close().await;
    let _ = conn.close(200, "".into()).await;
    delete_topology(&t).await;
}
