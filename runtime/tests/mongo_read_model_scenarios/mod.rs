//! Read-model scenarios run against every `ReadModelStore` (MongoDB and in-memory).
#![allow(dead_code)]

use runtime::read_model::{
    DocumentUpdate, FilterOp, IndexSpec, ProjectOutcome, Projector, Query, ReadModelStore, UpdateOp,
};
use runtime::{Metadata, RawEnvelope};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn event(tenant: &str, aggregate: &str, version: Option<i64>, kind: &str) -> RawEnvelope {
    let mut meta = Metadata::new_root(kind, tenant);
    meta.aggregate_id = Some(aggregate.to_owned());
    meta.aggregate_version = version;
    RawEnvelope {
        meta,
        payload: json!({}),
    }
}

pub fn update(tenant: &str, key: &str, ops: Vec<UpdateOp>) -> DocumentUpdate {
    DocumentUpdate {
        collection: "items".into(),
        tenant_id: tenant.into(),
        key: key.into(),
        ops,
        upsert: true,
    }
}

fn inc(field: &str, by: i64) -> UpdateOp {
    UpdateOp::Increment {
        field: field.into(),
        by,
    }
}

fn set(field: &str, value: Value) -> UpdateOp {
    UpdateOp::Set {
        field: field.into(),
        value,
    }
}

/// Same event twice → applied once; version 3 before 2 → NotYet, then 2, then 3; rejection
/// events (no version) de-duplicated by id; empty updates still advance the watermark.
pub async fn projection_is_idempotent_and_ordered<S: ReadModelStore>(store: S) {
    let p = Projector::new(store, "stock_view")
        .with_event_source("inventory.StockAdded", "inventory.Item");
    let e1 = event("acme", "sku-1", Some(1), "inventory.StockAdded");
    let e2 = event("acme", "sku-1", Some(2), "inventory.StockAdded");
    let e3 = event("acme", "sku-1", Some(3), "inventory.StockAdded");
    let add = |n| {
        vec![update(
            "acme",
            "sku-1",
            vec![
                inc("stock", n),
                UpdateOp::Push {
                    field: "log".into(),
                    value: json!(n),
                },
            ],
        )]
    };

    assert_eq!(
        p.project(&e1, add(1)).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        p.project(&e1, add(1)).await.unwrap(),
        ProjectOutcome::Duplicate
    );
    assert_eq!(
        p.project(&e3, add(3)).await.unwrap(),
        ProjectOutcome::NotYet { watermark: 1 }
    );
    assert_eq!(
        p.project(&e2, add(2)).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        p.project(&e3, add(3)).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        p.project(&e2, add(2)).await.unwrap(),
        ProjectOutcome::Duplicate
    );
    let doc = p
        .store()
        .get("items", "acme", "sku-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["stock"], json!(6));
    assert_eq!(doc["log"], json!([1, 2, 3]));
    assert_eq!(doc["tenant_id"], json!("acme"));
    assert!(
        doc.get("_id").is_none() && doc.get("_key").is_none(),
        "{doc}"
    );
    assert_eq!(
        p.store()
            .watermark("stock_view", "acme", "inventory.Item", "sku-1")
            .await
            .unwrap(),
        3
    );

    // An event that changes no document still advances the watermark.
    let e4 = event("acme", "sku-1", Some(4), "inventory.StockAdded");
    assert_eq!(
        p.project(&e4, vec![]).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        p.store()
            .watermark("stock_view", "acme", "inventory.Item", "sku-1")
            .await
            .unwrap(),
        4
    );

    // Rejection events carry no version: de-duplicated by id.
    let r = event("acme", "sku-1", None, "inventory.ReservationRejected");
    let note = || vec![update("acme", "sku-1", vec![inc("rejections", 1)])];
    assert_eq!(
        p.project(&r, note()).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        p.project(&r, note()).await.unwrap(),
        ProjectOutcome::Duplicate
    );
    let doc = p
        .store()
        .get("items", "acme", "sku-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["rejections"], json!(1));

    // Watermarks are per source aggregate and per projection.
    let other = Projector::new(p.store(), "other_view");
    let f1 = event("acme", "sku-2", Some(1), "inventory.StockAdded");
    assert_eq!(
        other.project(&f1, vec![]).await.unwrap(),
        ProjectOutcome::Applied
    );
    assert_eq!(
        other.project(&e1, vec![]).await.unwrap(),
        ProjectOutcome::Applied
    );
}

/// A write whose second update fails leaves neither its first update nor the watermark.
pub async fn failed_projection_writes_nothing<S: ReadModelStore>(store: S) {
    let p = Projector::new(store, "atomic_view");
    let e1 = event("acme", "a", Some(1), "inventory.Thing");
    p.project(
        &e1,
        vec![update("acme", "doc", vec![set("name", json!("text"))])],
    )
    .await
    .unwrap();
    let e2 = event("acme", "a", Some(2), "inventory.Thing");
    let err = p
        .project(
            &e2,
            vec![
                update("acme", "other", vec![set("touched", json!(true))]),
                update("acme", "doc", vec![inc("name", 1)]),
            ],
        )
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(p.store().get("items", "acme", "other").await.unwrap(), None);
    assert_eq!(
        p.store()
            .watermark("atomic_view", "acme", "inventory", "a")
            .await
            .unwrap(),
        1
    );
    // Bookkeeping fields cannot be written.
    assert!(
        p.project(
            &e2,
            vec![update("acme", "doc", vec![set("_id", json!("x"))])]
        )
        .await
        .is_err()
    );
}

/// Two consumers projecting the same event at once: exactly one applies it.
pub async fn concurrent_duplicates_apply_once<S: ReadModelStore + 'static>(store: S) {
    let p = Arc::new(Projector::new(store, "race_view"));
    for v in 1..=5 {
        let e = event("acme", "r", Some(v), "inventory.Thing");
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let p = p.clone();
            let e = e.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match p
                        .project(&e, vec![update("acme", "r", vec![inc("n", 1)])])
                        .await
                    {
                        Ok(o) => return o,
                        Err(err) if err.is_transient() => continue,
                        Err(err) => panic!("{err:?}"),
                    }
                }
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == ProjectOutcome::Applied)
                .count(),
            1,
            "{outcomes:?}"
        );
    }
    let doc = p.store().get("items", "acme", "r").await.unwrap().unwrap();
    assert_eq!(doc["n"], json!(5));
}

/// Filters, sorting, paging and tenant isolation.
pub async fn queries_filter_sort_page_and_isolate_tenants<S: ReadModelStore>(store: S) {
    let mut updates = Vec::new();
    for i in 0..10 {
        updates.push(update(
            "tenant-a",
            &format!("item-{i}"),
            vec![
                set("rank", json!(i)),
                set("colour", json!(if i % 2 == 0 { "red" } else { "blue" })),
                set("info.size", json!(10 - i)),
            ],
        ));
    }
    updates.push(update(
        "tenant-b",
        "item-0",
        vec![set("rank", json!(100)), set("colour", json!("red"))],
    ));
    store.write(updates).await.unwrap();
    store
        .ensure_indexes(
            "items",
            &[IndexSpec {
                fields: vec![("rank".into(), false)],
                unique: false,
            }],
        )
        .await
        .unwrap();

    let ranks = |page: &runtime::read_model::Page| -> Vec<i64> {
        page.items
            .iter()
            .map(|d| d["rank"].as_i64().unwrap())
            .collect()
    };
    let q = Query::all("tenant-a", 3)
        .filter("colour", FilterOp::Eq, json!("red"))
        .sort_by("rank", true);
    let page = store.query("items", &q).await.unwrap();
    assert_eq!((page.total, ranks(&page)), (5, vec![8, 6, 4]));
    let page = store.query("items", &q.clone().offset(3)).await.unwrap();
    assert_eq!((page.total, ranks(&page)), (5, vec![2, 0]));

    let q = Query::all("tenant-a", 10)
        .filter("rank", FilterOp::Gte, json!(3))
        .filter("rank", FilterOp::Lt, json!(6))
        .sort_by("rank", false);
    assert_eq!(
        ranks(&store.query("items", &q).await.unwrap()),
        vec![3, 4, 5]
    );

    let q = Query::all("tenant-a", 10)
        .filter("rank", FilterOp::In, json!([1, 7, 100]))
        .filter("colour", FilterOp::Ne, json!("red"))
        .sort_by("info.size", false);
    assert_eq!(ranks(&store.query("items", &q).await.unwrap()), vec![7, 1]);

    let q = Query::all("tenant-a", 2)
        .filter("info.size", FilterOp::Lte, json!(2))
        .sort_by("rank", false);
    assert_eq!(ranks(&store.query("items", &q).await.unwrap()), vec![8, 9]);

    // Tenant B sees only its own document, even with matching filters and keys.
    let page = store
        .query(
            "items",
            &Query::all("tenant-b", 50).filter("colour", FilterOp::Eq, json!("red")),
        )
        .await
        .unwrap();
    assert_eq!((page.total, ranks(&page)), (1, vec![100]));
    assert_eq!(
        store
            .get("items", "tenant-b", "item-0")
            .await
            .unwrap()
            .unwrap()["rank"],
        json!(100)
    );
    assert_eq!(
        store.get("items", "tenant-c", "item-0").await.unwrap(),
        None
    );
    // A filter on tenant_id cannot widen the query.
    let q = Query::all("tenant-a", 50).filter("tenant_id", FilterOp::Eq, json!("tenant-b"));
    assert_eq!(store.query("items", &q).await.unwrap().total, 0);
    // Limit 0: only the total.
    let page = store
        .query("items", &Query::all("tenant-a", 0))
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (10, 0));
    // Bookkeeping fields are never returned and cannot be queried.
    let page = store
        .query("items", &Query::all("tenant-a", 50))
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|d| d.as_object().unwrap().keys().all(|k| !k.starts_with('_')))
    );
    assert!(
        store
            .query(
                "items",
                &Query::all("tenant-a", 5).filter("_key", FilterOp::Eq, json!("item-1"))
            )
            .await
            .is_err()
    );
    // Updates without upsert skip missing documents.
    let mut u = update("tenant-a", "missing", vec![set("rank", json!(1))]);
    u.upsert = false;
    store.write(vec![u]).await.unwrap();
    assert_eq!(
        store.get("items", "tenant-a", "missing").await.unwrap(),
        None
    );
}
