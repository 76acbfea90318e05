//! `MongoReadModelStore` against the MongoDB-protocol server of this machine (SecantusDB).
#![cfg(feature = "mongo")]

mod mongo_read_model_scenarios;
mod support;

use mongo_read_model_scenarios as scenarios;
use runtime::mongo::{MongoReadModelStore, connect, ping};
use runtime::read_model::{IndexSpec, ReadModelStore, UpdateOp};
use std::sync::Arc;

/// A store on a database of its own; call `drop` at the end.
async fn store(test: &str) -> MongoReadModelStore {
    support::ensure_services();
    let db = connect(&support::mongo_url(), &support::unique_prefix(test))
        .await
        .expect("connect");
    ping(&db).await.expect("ping");
    MongoReadModelStore::new(db)
}

async fn drop(store: &MongoReadModelStore) {
    store.database().drop().await.expect("drop database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_projection_is_idempotent_and_ordered() {
    let s = store("mongo_order").await;
    scenarios::projection_is_idempotent_and_ordered(&s).await;
    drop(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_failed_projection_writes_nothing() {
    let s = store("mongo_atomic").await;
    scenarios::failed_projection_writes_nothing(&s).await;
    drop(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn mongo_concurrent_duplicates_apply_once() {
    let s = Arc::new(store("mongo_race").await);
    scenarios::concurrent_duplicates_apply_once(s.clone()).await;
    drop(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_queries_filter_sort_page_and_isolate_tenants() {
    let s = store("mongo_query").await;
    scenarios::queries_filter_sort_page_and_isolate_tenants(&s).await;
    drop(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_unique_index_is_per_tenant() {
    let s = store("mongo_unique").await;
    s.ensure_indexes(
        "users",
        &[IndexSpec {
            fields: vec![("email".into(), false)],
            unique: true,
        }],
    )
    .await
    .unwrap();
    let user = |tenant: &str, key: &str| runtime::read_model::DocumentUpdate {
        collection: "users".into(),
        tenant_id: tenant.into(),
        key: key.into(),
        ops: vec![UpdateOp::Set {
            field: "email".into(),
            value: serde_json::json!("a@example.com"),
        }],
        upsert: true,
    };
    s.write(vec![user("t1", "u1")]).await.unwrap();
    s.write(vec![user("t2", "u1")]).await.unwrap();
    assert!(s.write(vec![user("t1", "u2")]).await.is_err());
    drop(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_reaction_and_hook_markers_are_purged_young_ones_kept() {
    use std::time::Duration;
    use uuid::Uuid;
    let s = store("mongo_marker_retention").await;
    let (old, young) = (Uuid::new_v4(), Uuid::new_v4());
    s.mark_reacted("p", old).await.unwrap();
    s.mark_hook_ran("p", "mail", old).await.unwrap();
    s.mark_reacted("other", old).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.mark_reacted("p", young).await.unwrap();
    s.mark_hook_ran("p", "mail", young).await.unwrap();
    // Older than 200 ms: the first two of projection `p`, in batches of one.
    assert_eq!(
        s.purge_markers("p", Duration::from_millis(200), 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.purge_markers("p", Duration::from_millis(200), 10)
            .await
            .unwrap(),
        1
    );
    assert!(!s.reacted("p", old).await.unwrap());
    assert!(!s.hook_ran("p", "mail", old).await.unwrap());
    assert!(s.reacted("p", young).await.unwrap());
    assert!(s.hook_ran("p", "mail", young).await.unwrap());
    // Another projection's markers are its own business.
    assert!(s.reacted("other", old).await.unwrap());
    // A long retention deletes nothing.
    assert_eq!(
        s.purge_markers("p", Duration::from_secs(3600), 10)
            .await
            .unwrap(),
        0
    );
    drop(&s).await;
}
