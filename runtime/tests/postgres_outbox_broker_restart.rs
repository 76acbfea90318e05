//! The outbox across a real broker outage: while the RabbitMQ app is stopped
//! (`rabbitmqctl stop_app`), commands keep committing and their events wait in the outbox;
//! after `start_app` the running relay delivers every event, in aggregate order; repeats (at
//! least once) carry the original message id, so de-duplicating consumers apply each once.
//! Serialised with the other broker tests by the exclusive broker lock; a guard always starts
//! the broker app again, even when the test fails.
#![cfg(all(feature = "postgres", feature = "amqp"))]

mod command_handler_fixture;
mod support;

use command_handler_fixture::{Account, AccountCommand, command};
use lapin::options::BasicGetOptions;
use runtime::amqp::{AmqpBus, declare, from_delivery};
use runtime::command_handler::AggregateCommandHandler;
use runtime::postgres::{OutboxRelay, PgStateStore, connect, run_migrations};
use runtime::topology::{Source, TopologyBuilder};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_in_the_outbox_while_the_broker_is_stopped_and_arrive_in_order_after() {
    support::ensure_services();
    let _lock = support::broker_exclusive_lock();
    let prefix = support::unique_prefix("pg_outbox_restart");
    let url = support::create_database(&prefix).await;
    let pool = connect(&url, 4).await.unwrap();
    run_migrations(&pool).await.unwrap();
    let topology = TopologyBuilder::new()
        .context("bank")
        .subscriber("probe", "events", [Source::events("bank")])
        .subscriber("probe", "outcomes", [Source::outcomes("bank")])
        .build()
        .with_prefix(&prefix);
    let queue = topology
        .queues
        .iter()
        .find(|q| q.name.ends_with("probe.events"))
        .expect("probe queue")
        .name
        .clone();
    {
        let admin = runtime::amqp::connect(&support::amqp_url()).await.unwrap();
        declare(&admin.create_channel().await.unwrap(), &topology)
            .await
            .unwrap();
        let _ = admin.close(200, "declared".into()).await;
    }

    // A relay that runs for the whole test, on one bus that must reconnect by itself.
    let bus = Arc::new(
        AmqpBus::connect(&support::amqp_url(), topology.clone())
            .await
            .unwrap(),
    );
    let relay = Arc::new(
        OutboxRelay::new(pool.clone(), bus.clone()).with_poll_interval(Duration::from_millis(100)),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let relay = relay.clone();
        tokio::spawn(async move {
            relay
                .run(async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let h = AggregateCommandHandler::<Account, _>::new(PgStateStore::new(pool.clone()), ());
    // Opening emits two events (versions 1 and 2); each deposit one more.
    h.handle(command("acme", "acc", AccountCommand::Open { initial: 5 }))
        .await
        .unwrap();

    // Broker down: commands still commit; their events (and outcomes) wait in the outbox.
    let guard = support::StartAppGuard;
    let out = support::rabbitmqctl("stop_app");
    assert!(
        out.status.success(),
        "stop_app: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for _ in 0..6 {
        h.handle(command(
            "acme",
            "acc",
            AccountCommand::Deposit { amount: 1 },
        ))
        .await
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let backlog = relay.stats().await.unwrap().backlog;
        if backlog >= 12 {
            break;
        }
        assert!(Instant::now() < deadline, "backlog stayed at {backlog}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Still held a moment later: nothing can be published while the broker is down.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(relay.stats().await.unwrap().backlog >= 12);

    // Broker back: the same relay and bus deliver everything.
    drop(guard);
    let deadline = Instant::now() + WAIT;
    while relay.stats().await.unwrap().backlog > 0 {
        assert!(
            Instant::now() < deadline,
            "the outbox was not drained after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conn = runtime::amqp::connect(&support::amqp_url()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    // Delivery is at least once: a publish whose confirm was lost in the outage is sent again
    // after it. Every event must arrive, first occurrences in version order, and any repeat
    // must carry the same message id, so that consumers (which de-duplicate by id) apply it once.
    let mut deliveries: Vec<(i64, uuid::Uuid)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut quiet_since = Instant::now();
    loop {
        match channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(msg) => {
                let e = from_delivery(&msg.delivery).unwrap();
                deliveries.push((e.meta.aggregate_version.unwrap(), e.meta.message_id));
                quiet_since = Instant::now();
            }
            None if deliveries.len() >= 8 && quiet_since.elapsed() > Duration::from_millis(500) => {
                break;
            }
            None => {
                assert!(Instant::now() < deadline, "got only {deliveries:?}");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
    let mut first: Vec<(i64, uuid::Uuid)> = Vec::new();
    for d in &deliveries {
        match first.iter().find(|(v, _)| *v == d.0) {
            Some(original) => assert_eq!(
                original.1, d.1,
                "a repeat of version {} has another id",
                d.0
            ),
            None => first.push(*d),
        }
    }
    let versions: Vec<i64> = first.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        versions,
        (1..=8).collect::<Vec<i64>>(),
        "every event, first seen in version order"
    );
    eprintln!(
        "{} deliveries for 8 events ({} repeated after the outage)",
        deliveries.len(),
        deliveries.len() - 8
    );

    let _ = stop_tx.send(());
    let _ = running.await;
    let _ = conn.close(200, "bye".into()).await;
    support::delete_topology(&topology).await;
    pool.close().await;
    support::drop_database(&prefix).await;
}
