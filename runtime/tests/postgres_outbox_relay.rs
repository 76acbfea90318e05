//! The outbox relay against the real PostgreSQL server, with bus doubles.
#![cfg(feature = "postgres")]

mod command_handler_fixture;
mod support;

use async_trait::async_trait;
use command_handler_fixture::{Account, AccountCommand, command};
use runtime::RawEnvelope;
use runtime::bus::{BusError, MessageBus};
use runtime::command_handler::AggregateCommandHandler;
use runtime::memory::{MemoryBus, SentKind};
use runtime::postgres::{
    ADVISORY_LOCK_CLASS, OutboxRelay, PgStateStore, connect, purge_published, run_migrations,
};
use sqlx::{PgPool, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

struct TestDb {
    name: String,
    pool: PgPool,
}

impl TestDb {
    async fn new(test: &str) -> Self {
        support::ensure_services();
        let name = support::unique_prefix(test);
        let url = support::create_database(&name).await;
        let pool = connect(&url, 10).await.expect("connect");
        run_migrations(&pool).await.expect("migrations");
        Self { name, pool }
    }

    async fn drop_db(self) {
        self.pool.close().await;
        support::drop_database(&self.name).await;
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .get::<i64, _>(0)
    }

    fn handler(&self) -> AggregateCommandHandler<Account, PgStateStore> {
        AggregateCommandHandler::new(PgStateStore::new(self.pool.clone()), ())
            .with_max_attempts(100)
    }
}

/// A bus double counting every publish attempt (failed ones too).
#[derive(Clone, Default)]
struct CountingBus {
    inner: MemoryBus,
    attempts: Arc<AtomicUsize>,
}

#[async_trait]
impl MessageBus for CountingBus {
    async fn send_command(&self, context: &str, command: &RawEnvelope) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.send_command(context, command).await
    }
    async fn publish_event(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.publish_event(context, event).await
    }
    async fn publish_outcome(&self, context: &str, outcome: &RawEnvelope) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.publish_outcome(context, outcome).await
    }
    async fn publish_public(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.publish_public(context, event).await
    }
}

/// Starts `relay.run` in the background; dropping/sending the returned sender stops it.
fn spawn_relay(
    relay: OutboxRelay,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        relay
            .run(async {
                let _ = rx.await;
            })
            .await
    });
    (tx, handle)
}

/// Asserts that, per aggregate, the published events carry versions 1, 2, 3, ... in order
/// and that no message was published twice; returns the number of events per aggregate.
fn assert_per_aggregate_order(bus: &MemoryBus) -> HashMap<String, i64> {
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for m in bus.sent() {
        assert!(
            seen.insert(m.envelope.meta.message_id),
            "published twice: {m:?}"
        );
        if m.kind == SentKind::Event {
            let id = m.envelope.meta.aggregate_id.clone().unwrap();
            let v = m.envelope.meta.aggregate_version.unwrap();
            let prev = last.insert(id.clone(), v).unwrap_or(0);
            assert_eq!(v, prev + 1, "aggregate {id}: version {v} after {prev}");
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_holds_messages_while_the_bus_fails_then_delivers_in_order() {
    let db = TestDb::new("pg_relay_outage").await;
    let bus = CountingBus::default();
    bus.inner.set_unavailable(true);
    let h = db.handler();
    for account in ["a", "b"] {
        h.handle(command(
            "acme",
            account,
            AccountCommand::Open { initial: 1 },
        ))
        .await
        .unwrap();
        for _ in 0..3 {
            h.handle(command(
                "acme",
                account,
                AccountCommand::Deposit { amount: 1 },
            ))
            .await
            .unwrap();
        }
    }
    // 2 accounts × (2 + 3 events + 4 outcomes) rows.
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 18);
    let relay = OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()))
        .with_batch_size(4)
        .with_poll_interval(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(100));
    let stats_relay = OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()));
    let (stop, task) = spawn_relay(relay);

    // The relay keeps trying while the broker is down; nothing is lost or marked.
    support::wait_until(WAIT, "the relay retried three times", || {
        let n = bus.attempts.load(Ordering::SeqCst);
        async move { n >= 3 }
    })
    .await;
    assert!(bus.inner.is_empty());
    let stats = stats_relay.stats().await.unwrap();
    assert_eq!(stats.backlog, 18);
    assert!(stats.lag > Duration::ZERO);

    // Fail just one more publish after the broker is back: the batch stops and resumes in order.
    bus.inner.set_unavailable(false);
    bus.inner.fail_next(1);
    support::wait_until(WAIT, "the outbox is empty", || {
        let r = &stats_relay;
        async move { r.stats().await.unwrap().backlog == 0 }
    })
    .await;
    stop.send(()).ok();
    task.await.unwrap();
    assert_eq!(bus.inner.len(), 18);
    let last = assert_per_aggregate_order(&bus.inner);
    assert_eq!(last, HashMap::from([("a".into(), 5), ("b".into(), 5)]));
    // Outcome messages follow their command's events.
    let sent = bus.inner.sent();
    assert_eq!(
        sent.iter().filter(|m| m.kind == SentKind::Outcome).count(),
        8
    );
    assert_eq!(sent[0].envelope.meta.message_type, "bank.AccountOpened");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_relays_publish_each_row_once_in_aggregate_order() {
    let db = TestDb::new("pg_two_relays").await;
    let bus = MemoryBus::new();
    let relays: Vec<_> = (0..2)
        .map(|_| {
            spawn_relay(
                OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()))
                    .with_batch_size(3)
                    .with_poll_interval(Duration::from_millis(20)),
            )
        })
        .collect();
    // Commands are committed while both relays run.
    let h = Arc::new(db.handler());
    let mut writers = Vec::new();
    for i in 0..6 {
        let h = h.clone();
        writers.push(tokio::spawn(async move {
            let id = format!("acc-{i}");
            h.handle(command("acme", &id, AccountCommand::Open { initial: 0 }))
                .await
                .unwrap();
            for _ in 0..8 {
                h.handle(command("acme", &id, AccountCommand::Deposit { amount: 1 }))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let rows = db.count("SELECT count(*) FROM outbox").await;
    assert_eq!(rows, 6 * (9 + 9));
    support::wait_until(WAIT, "every row is published", || {
        let pool = db.pool.clone();
        async move {
            sqlx::query("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
                == 0
        }
    })
    .await;
    for (stop, task) in relays {
        stop.send(()).ok();
        task.await.unwrap();
    }
    assert_eq!(bus.len() as i64, rows);
    let last = assert_per_aggregate_order(&bus);
    assert_eq!(last.len(), 6);
    assert!(last.values().all(|v| *v == 9));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_skips_an_aggregate_held_by_another_relay() {
    let db = TestDb::new("pg_relay_lock").await;
    let h = db.handler();
    for account in ["held", "free"] {
        h.handle(command(
            "acme",
            account,
            AccountCommand::Open { initial: 1 },
        ))
        .await
        .unwrap();
    }
    let bus = MemoryBus::new();
    let relay = OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()));
    // Another relay is in the middle of a batch of `held`.
    let mut other = db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext('acme/bank.Account/held'))")
        .bind(ADVISORY_LOCK_CLASS)
        .execute(&mut *other)
        .await
        .unwrap();
    let report = relay.relay_batch().await.unwrap();
    assert_eq!(report.published, 3);
    assert!(
        bus.sent()
            .iter()
            .all(|m| m.envelope.meta.aggregate_id.as_deref() == Some("free"))
    );
    other.commit().await.unwrap();
    let report = relay.relay_batch().await.unwrap();
    assert_eq!(report.published, 3);
    assert_per_aggregate_order(&bus);
    assert_eq!(relay.relay_batch().await.unwrap().taken, 0);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_wakes_on_notify() {
    let db = TestDb::new("pg_relay_notify").await;
    let bus = MemoryBus::new();
    // Polling once an hour: only LISTEN/NOTIFY can wake it in time.
    let (stop, task) = spawn_relay(
        OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()))
            .with_poll_interval(Duration::from_secs(3600)),
    );
    let h = db.handler();
    h.handle(command("acme", "a", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    // The listener is set up before the first pass, so after this the relay is listening.
    support::wait_until(WAIT, "the first command is relayed", || {
        let n = bus.len();
        async move { n == 2 }
    })
    .await;
    for i in 1..=3 {
        h.handle(command("acme", "a", AccountCommand::Deposit { amount: 1 }))
            .await
            .unwrap();
        support::wait_until(WAIT, "the deposit is relayed", || {
            let n = bus.len();
            async move { n == 2 + 2 * i }
        })
        .await;
    }
    stop.send(()).ok();
    task.await.unwrap();
    assert_per_aggregate_order(&bus);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retention_deletes_only_old_published_rows() {
    let db = TestDb::new("pg_retention").await;
    let h = db.handler();
    h.handle(command("acme", "a", AccountCommand::Open { initial: 3 }))
        .await
        .unwrap();
    let bus = MemoryBus::new();
    let relay = OutboxRelay::new(db.pool.clone(), Arc::new(bus.clone()));
    let (published, failure) = relay.drain().await.unwrap();
    assert_eq!((published, failure.is_none()), (3, true));
    h.handle(command("acme", "a", AccountCommand::Deposit { amount: 1 }))
        .await
        .unwrap();
    assert_eq!(
        purge_published(&db.pool, Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(purge_published(&db.pool, Duration::ZERO).await.unwrap(), 3);
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 2);
    assert_eq!(relay.stats().await.unwrap().backlog, 2);
    db.drop_db().await;
}
