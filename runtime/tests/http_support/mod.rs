//! Helpers shared by the HTTP tests: one-shot requests against a router, token minting.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

pub const SECRET: &[u8] = b"test-secret-for-http-tests";

pub fn token(sub: &str, tenant: &str, roles: &[&str]) -> String {
    runtime::http::auth::issue_dev_token(SECRET, sub, tenant, roles, Duration::from_secs(300))
        .unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Sends one request through `router` (no network).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Reply {
    call_with(router, method, uri, token, body, &[]).await
}

pub async fn call_with(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 * 1024 * 1024)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Asserts an RFC 9457 problem response with `status` and returns its body.
pub fn assert_problem(reply: &Reply, status: u16, instance: &str) -> Value {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{}",
        reply.text
    );
    let b = &reply.body;
    assert_eq!(b["status"], status, "{}", reply.text);
    assert!(
        b["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        reply.text
    );
    assert!(
        b["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        reply.text
    );
    assert!(b["detail"].is_string(), "{}", reply.text);
    assert_eq!(b["instance"], instance, "{}", reply.text);
    b.clone()
}
