//! Liveness (`/health/live`) and readiness (`/health/ready`, with pluggable checks).

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::{Router, routing::get};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A dependency the process needs to serve traffic (broker connection, database, ...).
///
/// ```
/// use runtime::http::{ReadinessCheck, health_router};
/// use std::sync::Arc;
///
/// struct Always;
/// #[async_trait::async_trait]
/// impl ReadinessCheck for Always {
///     fn name(&self) -> &str { "always" }
///     async fn check(&self) -> Result<(), String> { Ok(()) }
/// }
/// let router: axum::Router = health_router(vec![Arc::new(Always)]);
/// ```
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// Name shown in the readiness report.
    fn name(&self) -> &str;
    /// `Ok` when the dependency is usable; `Err` with a short reason otherwise.
    async fn check(&self) -> Result<(), String>;
}

/// `GET /health/live` (always 200 while the process runs) and `GET /health/ready` (200 when
/// every check passes, 503 otherwise; the body names each check's result).
pub fn health_router(checks: Vec<Arc<dyn ReadinessCheck>>) -> Router {
    let checks = Arc::new(checks);
    Router::new()
        .route(
            "/health/live",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route(
            "/health/ready",
            get(move || {
                let checks = checks.clone();
                async move { readiness(&checks).await }
            }),
        )
}

async fn readiness(checks: &[Arc<dyn ReadinessCheck>]) -> impl IntoResponse + use<> {
    let mut report = Map::new();
    let mut ready = true;
    for check in checks {
        let result = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {CHECK_TIMEOUT:?}")),
        };
        let value = match result {
            Ok(()) => Value::from("ok"),
            Err(reason) => {
                ready = false;
                Value::from(reason)
            }
        };
        report.insert(check.name().to_owned(), value);
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(json!({ "status": word, "checks": report })))
}
