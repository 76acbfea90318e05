//! `PgStateStore` and the command-handler engine against the real PostgreSQL server.
#![cfg(feature = "postgres")]

mod command_handler_fixture;
mod support;

use command_handler_fixture::{Account, AccountCommand, command};
use runtime::command_handler::AggregateCommandHandler;
use runtime::postgres::{PgStateStore, connect, run_migrations};
use runtime::store::{AggregateKey, CommandStatus, Commit, StateStore, StoreError};
use sqlx::{PgPool, Row};
use std::sync::Arc;

/// A fresh database with the runtime's migrations; dropped by [`TestDb::drop_db`].
struct TestDb {
    name: String,
    pool: PgPool,
}

impl TestDb {
    async fn new(test: &str) -> Self {
        support::ensure_services();
        let name = support::unique_prefix(test);
        let url = support::create_database(&name).await;
        let pool = connect(&url, 8).await.expect("connect");
        run_migrations(&pool).await.expect("migrations");
        // Migrations are idempotent.
        run_migrations(&pool).await.expect("migrations again");
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
}

fn key(id: &str) -> AggregateKey {
    AggregateKey::new("acme", "bank.Account", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_duplicate_delivery_changes_state_once() {
    let db = TestDb::new("pg_duplicate").await;
    let h = AggregateCommandHandler::<Account, _>::new(PgStateStore::new(db.pool.clone()), ());
    let open = command("acme", "a1", AccountCommand::Open { initial: 7 });
    let first = h.handle(open.clone()).await.unwrap();
    let second = h.handle(open.clone()).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.aggregate_version, Some(2));
    assert_eq!(
        h.store().processed(open.meta.message_id).await.unwrap(),
        Some(first.clone())
    );

    // Concurrent duplicates (the marker insert waits for the first transaction).
    let deposit = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
    let h = Arc::new(h);
    let (a, b) = tokio::join!(h.handle(deposit.clone()), h.handle(deposit.clone()));
    assert_eq!(a.unwrap(), b.unwrap());

    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(
        (state.version, state.state["balance"].as_i64()),
        (3, Some(8))
    );
    assert_eq!(db.count("SELECT count(*) FROM processed_commands").await, 2);
    // open: 2 events + outcome; deposit: 1 event + outcome.
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 5);
    assert_eq!(
        db.count("SELECT count(DISTINCT message_id) FROM outbox")
            .await,
        5
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_racing_handlers_apply_every_command() {
    let db = TestDb::new("pg_race").await;
    let store = PgStateStore::new(db.pool.clone());
    let h1 = Arc::new(
        AggregateCommandHandler::<Account, _>::new(store.clone(), ()).with_max_attempts(200),
    );
    let h2 = Arc::new(
        AggregateCommandHandler::<Account, _>::new(store.clone(), ()).with_max_attempts(200),
    );
    h1.handle(command("acme", "a1", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for h in [h1.clone(), h2.clone(), h1, h2] {
        tasks.push(tokio::spawn(async move {
            for _ in 0..15 {
                let o = h
                    .handle(command("acme", "a1", AccountCommand::Deposit { amount: 2 }))
                    .await
                    .unwrap();
                assert_eq!(o.status, CommandStatus::Processed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let state = store.load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(
        (state.version, state.state["balance"].as_i64()),
        (61, Some(120))
    );
    // Accepted events carry versions 1..=61, in outbox (commit) order.
    let versions: Vec<i64> = sqlx::query(
        "SELECT (envelope->'meta'->>'aggregate_version')::bigint FROM outbox \
         WHERE destination = 'event' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<i64, _>(0))
    .collect();
    assert_eq!(versions, (1..=61).collect::<Vec<_>>());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failing_commit_leaves_no_marker_state_or_outbox_row() {
    let db = TestDb::new("pg_atomic").await;
    // Make the last write of the transaction (the outbox insert) fail for one account.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.aggregate_id = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON outbox \
         FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let h = AggregateCommandHandler::<Account, _>::new(PgStateStore::new(db.pool.clone()), ());
    let cmd = command("acme", "poison", AccountCommand::Open { initial: 5 });
    let err = h.handle(cmd.clone()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(h.store().load(&key("poison")).await.unwrap().is_none());
    assert!(
        h.store()
            .processed(cmd.meta.message_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(db.count("SELECT count(*) FROM processed_commands").await, 0);
    assert_eq!(
        db.count("SELECT count(*) FROM aggregate_snapshots").await,
        0
    );

    // Another aggregate still commits.
    h.handle(command("acme", "fine", AccountCommand::Open { initial: 5 }))
        .await
        .unwrap();
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 3);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stale_versions_conflict_and_write_nothing() {
    let db = TestDb::new("pg_conflict").await;
    let store = PgStateStore::new(db.pool.clone());
    let h = AggregateCommandHandler::<Account, _>::new(store.clone(), ());
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 1 }))
        .await
        .unwrap();

    // Build a commit from the memory engine's view at version 0 ("must not exist yet").
    let mh = AggregateCommandHandler::<Account, _>::new(
        runtime::memory::state::MemoryStateStore::new(),
        (),
    );
    mh.handle(command("acme", "a1", AccountCommand::Open { initial: 1 }))
        .await
        .unwrap();
    let stale = commit_from(mh.store(), 0);
    match store.commit(stale.clone()).await {
        Err(StoreError::VersionConflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (0, Some(2))),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A rejection based on a stale version conflicts too.
    let mut stale_reject = stale;
    stale_reject.new_state = None;
    stale_reject.expected_version = 1;
    assert!(matches!(
        store.commit(stale_reject).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(db.count("SELECT count(*) FROM processed_commands").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, 3);

    // Rejections: state untouched, rejection event without a version, outcome row.
    let o = h
        .handle(command(
            "acme",
            "a1",
            AccountCommand::Withdraw { amount: 9 },
        ))
        .await
        .unwrap();
    assert_eq!(o.status, CommandStatus::Rejected);
    let state = store.load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(state.version, 2);
    let rows = sqlx::query(
        "SELECT destination, envelope->'meta'->'aggregate_version' IS NULL OR \
         envelope->'meta'->>'aggregate_version' IS NULL FROM outbox WHERE id > 3 ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let rows: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        rows,
        vec![("event".to_owned(), true), ("outcome".to_owned(), true)]
    );
    db.drop_db().await;
}

/// Rebuilds the commit a memory store made for its only processed command, with another
/// expected version.
fn commit_from(mem: &runtime::memory::state::MemoryStateStore, expected_version: i64) -> Commit {
    let outbox = mem.outbox();
    let outcome_msg = outbox.last().unwrap().envelope.clone();
    let outcome: runtime::store::CommandOutcome =
        serde_json::from_value(outcome_msg.payload.clone()).unwrap();
    Commit {
        key: outbox[0].key.clone(),
        expected_version,
        new_state: Some(serde_json::json!({ "balance": 1, "operations": 2 })),
        events: outbox[..outbox.len() - 1]
            .iter()
            .map(|m| m.envelope.clone())
            .collect(),
        command_id: outcome.command_id,
        outcome,
        outcome_message: outcome_msg,
        voided: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_voided_command_does_nothing_whenever_it_arrives() {
    let db = TestDb::new("pg_voids").await;
    let h = Arc::new(AggregateCommandHandler::<Account, _>::new(
        PgStateStore::new(db.pool.clone()),
        (),
    ));
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    // A deposit that took effect, one still in flight, and a "compensation" voiding both.
    let done = command("acme", "a1", AccountCommand::Deposit { amount: 5 });
    let late = command("acme", "a1", AccountCommand::Deposit { amount: 7 });
    let done_outcome = h.handle(done.clone()).await.unwrap();
    let mut undo = command("acme", "a1", AccountCommand::Deposit { amount: 0 });
    undo.meta.voids = vec![done.meta.message_id, late.meta.message_id];
    h.handle(undo.clone()).await.unwrap();
    // The processed one keeps its outcome; the late one finds a `voided` marker ...
    assert_eq!(
        h.store().processed(done.meta.message_id).await.unwrap(),
        Some(done_outcome)
    );
    let voided = h.handle(late.clone()).await.unwrap();
    assert_eq!(voided.status, CommandStatus::Rejected);
    assert_eq!(voided.code.as_deref(), Some(runtime::store::VOIDED));
    assert_eq!(voided.command_id, late.meta.message_id);
    // ... and changes nothing.
    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(state.state["balance"].as_i64(), Some(5));

    // Racing: a voiding command and the command it voids, concurrently, many times; either
    // the command ran first (and counts) or it was voided (and does not), never both.
    let mut applied = 0;
    for i in 0..40 {
        let target = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
        let mut voider = command("acme", "a1", AccountCommand::Deposit { amount: 0 });
        voider.meta.voids = vec![target.meta.message_id];
        let (t, v) = if i % 2 == 0 {
            let (t, v) = tokio::join!(h.handle(target.clone()), h.handle(voider));
            (t, v)
        } else {
            let (v, t) = tokio::join!(h.handle(voider), h.handle(target.clone()));
            (t, v)
        };
        v.unwrap();
        let t = t.unwrap();
        if t.status == CommandStatus::Processed {
            applied += 1;
        } else {
            assert_eq!(t.code.as_deref(), Some(runtime::store::VOIDED), "{t:?}");
        }
        // Delivered again later, the outcome is the same.
        assert_eq!(h.handle(target).await.unwrap(), t);
    }
    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(state.state["balance"].as_i64(), Some(5 + applied));
    println!("racing: {applied} of 40 deposits ran before their voiding command");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_markers_and_published_rows_and_dedup_holds_inside_the_window() {
    use runtime::postgres::purge;
    use runtime::store::Retention;
    use std::time::Duration;

    let db = TestDb::new("pg_retention").await;
    let h = AggregateCommandHandler::<Account, _>::new(PgStateStore::new(db.pool.clone()), ());
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    let mut deposits = Vec::new();
    for _ in 0..12 {
        let d = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
        assert_eq!(
            h.handle(d.clone()).await.unwrap().status,
            CommandStatus::Processed
        );
        deposits.push(d);
    }
    // The relay published every row; the first 7 deposits are 8 days old, and one old row
    // was never published.
    sqlx::query("UPDATE outbox SET published_at = now()")
        .execute(&db.pool)
        .await
        .unwrap();
    let old: Vec<uuid::Uuid> = deposits[..7].iter().map(|d| d.meta.message_id).collect();
    sqlx::query(
        "UPDATE processed_commands SET processed_at = now() - interval '8 days' \
         WHERE command_id = ANY($1)",
    )
    .bind(&old)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE outbox SET published_at = now() - interval '8 days' \
         WHERE (envelope->'meta'->>'causation_id')::uuid = ANY($1)",
    )
    .bind(&old)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE outbox SET published_at = NULL, created_at = now() - interval '30 days' \
         WHERE id = (SELECT max(id) FROM outbox)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let old_rows = db
        .count("SELECT count(*) FROM outbox WHERE published_at <= now() - interval '7 days'")
        .await;
    assert_eq!(old_rows, 14, "7 deposits: one event and one outcome each");
    let (markers, rows) = (
        db.count("SELECT count(*) FROM processed_commands").await,
        db.count("SELECT count(*) FROM outbox").await,
    );

    // Batches of 3 rows: several statements per table.
    let week = Duration::from_secs(7 * 24 * 3600);
    let retention = Retention {
        processed_commands: week,
        published_outbox: week,
        ..Retention::default()
    };
    let purged = purge(&db.pool, &retention, 3).await.unwrap();
    assert_eq!(purged.published_outbox, 14);
    let deleted_markers = markers - db.count("SELECT count(*) FROM processed_commands").await;
    assert_eq!(
        u64::try_from(deleted_markers).unwrap(),
        purged.processed_commands
    );
    assert!(
        purged.processed_commands >= 7,
        "the 7 old deposit markers: {purged:?}"
    );
    assert_eq!(db.count("SELECT count(*) FROM outbox").await, rows - 14);
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        1,
        "an unpublished row is never deleted, however old"
    );
    // A second round finds nothing.
    assert_eq!(
        purge(&db.pool, &retention, 3).await.unwrap(),
        Default::default()
    );

    // Inside the window a redelivered command is still a no-op...
    let balance = |h: &AggregateCommandHandler<Account, PgStateStore>| {
        let store = h.store().clone();
        async move {
            store.load(&key("a1")).await.unwrap().unwrap().state["balance"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(balance(&h).await, 12);
    for d in &deposits[7..] {
        h.handle(d.clone()).await.unwrap();
    }
    assert_eq!(balance(&h).await, 12, "recent duplicates change nothing");
    // ...while one redelivered after its marker's retention is handled again: the reason to
    // keep the retention well above the longest redelivery delay.
    h.handle(deposits[0].clone()).await.unwrap();
    assert_eq!(balance(&h).await, 13);
    println!(
        "retention: {} markers and {} published rows deleted in batches of 3; dedup held for the 5 recent duplicates",
        purged.processed_commands, purged.published_outbox
    );
    db.drop_db().await;
}
