//! The outbox relay with the real `AmqpBus`: rows stay in the outbox while the broker is
//! unreachable and are delivered, in order, once it is reachable.
#![cfg(all(feature = "postgres", feature = "amqp"))]

mod command_handler_fixture;
mod support;

use command_handler_fixture::{Account, AccountCommand, command};
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use runtime::amqp::{AmqpBus, declare, from_delivery};
use runtime::command_handler::AggregateCommandHandler;
use runtime::postgres::{OutboxRelay, PgStateStore, connect, run_migrations};
use runtime::topology::{Source, TopologyBuilder};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outbox_waits_for_the_broker_then_delivers_in_order() {
    support::ensure_services();
    let prefix = support::unique_prefix("pg_outbox_amqp");
    let url = support::create_database(&prefix).await;
    let pool = connect(&url, 4).await.unwrap();
    run_migrations(&pool).await.unwrap();

    let topology = TopologyBuilder::new()
        .context("bank")
        .subscriber("probe", "events", [Source::events("bank")])
        .build()
        .with_prefix(&prefix);
    let queue = topology
        .queues
        .iter()
        .find(|q| q.name.ends_with("probe.events"))
        .expect("probe queue")
        .name
        .clone();
    let admin = runtime::amqp::connect(&support::amqp_url()).await.unwrap();
    let channel = admin.create_channel().await.unwrap();
    declare(&channel, &topology).await.unwrap();

    let h = AggregateCommandHandler::<Account, _>::new(PgStateStore::new(pool.clone()), ());
    h.handle(command("acme", "acc", AccountCommand::Open { initial: 5 }))
        .await
        .unwrap();
    for _ in 0..3 {
        h.handle(command(
            "acme",
            "acc",
            AccountCommand::Deposit { amount: 1 },
        ))
        .await
        .unwrap();
    }

    // Broker unreachable (nothing listens on port 1): the batch fails, rows stay.
    let down = OutboxRelay::new(
        pool.clone(),
        Arc::new(AmqpBus::lazy(
            "amqp://guest:guest@127.0.0.1:1/%2f",
            topology.clone(),
        )),
    );
    let report = down.relay_batch().await.unwrap();
    assert_eq!(report.published, 0);
    assert!(report.failure.is_some());
    assert_eq!(down.stats().await.unwrap().backlog, 5 + 4);

    // Broker reachable: everything is delivered, events in version order.
    let up = OutboxRelay::new(
        pool.clone(),
        Arc::new(
            AmqpBus::connect(&support::amqp_url(), topology.clone())
                .await
                .unwrap(),
        ),
    );
    let (published, failure) = up.drain().await.unwrap();
    assert!(failure.is_none(), "{failure:?}");
    // No queue is bound to the outcome exchange in this topology: the broker refuses the
    // (mandatory) outcome messages, which are set aside instead of blocking the events.
    assert_eq!(published, 5);
    assert_eq!(up.stats().await.unwrap().backlog, 0);
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE destination = 'outcome' AND publish_error LIKE '%NO_ROUTE%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let outcome_errors: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT publish_error FROM outbox WHERE destination = 'outcome' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(refused, 4, "outcome rows' errors: {outcome_errors:?}");

    let mut versions = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while versions.len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "got only {versions:?}"
        );
        match channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(msg) => {
                let envelope = from_delivery(&msg.delivery).unwrap();
                assert_eq!(envelope.meta.aggregate_id.as_deref(), Some("acc"));
                versions.push(envelope.meta.aggregate_version.unwrap());
            }
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);

    for q in &topology.queues {
        let _ = channel
            .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = admin.close(200, "bye".into()).await;
    pool.close().await;
    support::drop_database(&prefix).await;
}
