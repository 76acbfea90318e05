//! Query API against the in-memory read-model store: filters, sort, paging, tenant isolation,
//! row filter, get by key, and 400 problems for bad parameters.
#![cfg(feature = "auth")]

mod http_support;

use http_support::*;
use runtime::http::auth::JwtAuth;
use runtime::http::query_api::*;
use runtime::memory::read_model::MemoryReadModelStore;
use runtime::read_model::{DocumentUpdate, FilterOp, ReadModelStore, UpdateOp};
use serde_json::{Value, json};
use std::sync::Arc;

const ORDERS: ReadModelRoute = ReadModelRoute {
    path: "/orders",
    collection: "orders",
    roles: &["customer", "clerk"],
    filters: &[
        FilterField {
            field: "status",
            kind: ValueKind::String,
            ops: &[FilterOp::Eq, FilterOp::Ne, FilterOp::In],
        },
        FilterField {
            field: "total",
            kind: ValueKind::Number,
            ops: &[FilterOp::Gte, FilterOp::Lt],
        },
        FilterField {
            field: "express",
            kind: ValueKind::Bool,
            ops: &[FilterOp::Eq],
        },
    ],
    sort_keys: &["placed_at", "total"],
    default_sort: "-placed_at",
    default_page_size: 2,
    max_page_size: 3,
    row_filter: Some(RowFilter {
        field: "customer_id",
        claim: ClaimSource::Subject,
        except_roles: &["clerk"],
    }),
};

async fn seeded() -> axum::Router {
    let store = Arc::new(MemoryReadModelStore::new());
    let rows = [
        ("acme", "o1", "alice", "placed", 50, 1, false),
        ("acme", "o2", "alice", "placed", 150, 2, true),
        ("acme", "o3", "bob", "shipped", 300, 3, false),
        ("acme", "o4", "alice", "cancelled", 120, 4, false),
        ("acme", "o5", "bob", "placed", 100, 5, true),
        ("globex", "g1", "alice", "placed", 999, 6, false),
    ];
    let updates = rows
        .iter()
        .map(
            |(tenant, key, customer, status, total, placed, express)| DocumentUpdate {
                collection: "orders".into(),
                tenant_id: (*tenant).into(),
                key: (*key).into(),
                ops: vec![
                    UpdateOp::Set {
                        field: "id".into(),
                        value: json!(key),
                    },
                    UpdateOp::Set {
                        field: "customer_id".into(),
                        value: json!(customer),
                    },
                    UpdateOp::Set {
                        field: "status".into(),
                        value: json!(status),
                    },
                    UpdateOp::Set {
                        field: "total".into(),
                        value: json!(total),
                    },
                    UpdateOp::Set {
                        field: "placed_at".into(),
                        value: json!(format!("2026-01-0{placed}T00:00:00Z")),
                    },
                    UpdateOp::Set {
                        field: "express".into(),
                        value: json!(express),
                    },
                ],
                upsert: true,
            },
        )
        .collect();
    store.write(updates).await.unwrap();
    QueryApi::new(store, Arc::new(JwtAuth::hs256(SECRET)))
        .read_model(ORDERS)
        .router()
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn clerk_lists_the_tenant_with_default_sort_and_paging() {
    let router = seeded().await;
    let clerk = token("carol", "acme", &["clerk"]);
    let r = call(&router, "GET", "/orders", Some(&clerk), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["page"], 1);
    assert_eq!(r.body["page_size"], 2);
    assert_eq!(ids(&r.body), ["o5", "o4"]);
    let r = call(&router, "GET", "/orders?page=3", Some(&clerk), None).await;
    assert_eq!(ids(&r.body), ["o1"]);
    assert_eq!(r.body["page"], 3);
    // page_size is capped at the route's maximum.
    let r = call(
        &router,
        "GET",
        "/orders?page_size=50&sort=total",
        Some(&clerk),
        None,
    )
    .await;
    assert_eq!(r.body["page_size"], 3);
    assert_eq!(ids(&r.body), ["o1", "o5", "o4"]);
}

#[tokio::test]
async fn filters_and_sort_keys() {
    let router = seeded().await;
    let clerk = token("carol", "acme", &["clerk"]);
    let get = |q: &str| {
        let router = router.clone();
        let (clerk, q) = (clerk.clone(), q.to_owned());
        async move { call(&router, "GET", &format!("/orders?{q}"), Some(&clerk), None).await }
    };
    let r = get("status=placed&total[gte]=100&sort=-total&page_size=3").await;
    assert_eq!(ids(&r.body), ["o2", "o5"], "{}", r.text);
    assert_eq!(r.body["total"], 2);
    let r = get("status[in]=shipped,cancelled&sort=total").await;
    assert_eq!(ids(&r.body), ["o4", "o3"]);
    let r = get("status[ne]=placed&total[lt]=200").await;
    assert_eq!(ids(&r.body), ["o4"]);
    let r = get("express=true&sort=placed_at").await;
    assert_eq!(ids(&r.body), ["o2", "o5"]);
}

#[tokio::test]
async fn customers_only_see_their_rows_and_tenants_are_isolated() {
    let router = seeded().await;
    let alice = token("alice", "acme", &["customer"]);
    let r = call(
        &router,
        "GET",
        "/orders?page_size=3&sort=placed_at",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.body["total"], 3);
    assert_eq!(ids(&r.body), ["o1", "o2", "o4"]);
    // Get by key honours the row filter and the tenant.
    let r = call(&router, "GET", "/orders/o2", Some(&alice), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], 150);
    assert_problem(
        &call(&router, "GET", "/orders/o3", Some(&alice), None).await,
        404,
        "/orders/o3",
    );
    assert_problem(
        &call(&router, "GET", "/orders/g1", Some(&alice), None).await,
        404,
        "/orders/g1",
    );
    assert_problem(
        &call(&router, "GET", "/orders/zzz", Some(&alice), None).await,
        404,
        "/orders/zzz",
    );
    // The same user in another tenant sees only that tenant.
    let alice_globex = token("alice", "globex", &["customer"]);
    let r = call(&router, "GET", "/orders", Some(&alice_globex), None).await;
    assert_eq!(ids(&r.body), ["g1"]);
    let clerk_globex = token("carol", "globex", &["clerk"]);
    assert_eq!(
        call(&router, "GET", "/orders", Some(&clerk_globex), None)
            .await
            .body["total"],
        1
    );
}

#[tokio::test]
async fn bad_parameters_are_400_problems_naming_them() {
    let router = seeded().await;
    let clerk = token("carol", "acme", &["clerk"]);
    let r = call(
        &router,
        "GET",
        "/orders?colour=red&total[gt]=5&sort=customer_id&page=0&total[gte]=lots",
        Some(&clerk),
        None,
    )
    .await;
    let p = assert_problem(&r, 400, "/orders");
    assert_eq!(p["type"], "urn:problem-type:bad-query");
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/query/colour",
            "/query/total[gt]",
            "/query/page",
            "/query/total[gte]",
            "/query/sort"
        ],
        "{}",
        r.text
    );
    assert!(p["detail"].as_str().unwrap().contains("colour"));
}

#[tokio::test]
async fn authentication_and_roles_apply_to_queries() {
    let router = seeded().await;
    assert_problem(
        &call(&router, "GET", "/orders", None, None).await,
        401,
        "/orders",
    );
    let guest = token("gus", "acme", &["guest"]);
    assert_problem(
        &call(&router, "GET", "/orders", Some(&guest), None).await,
        403,
        "/orders",
    );
    assert_problem(
        &call(&router, "GET", "/orders/o1", Some(&guest), None).await,
        403,
        "/orders/o1",
    );
}
