//! HTTP with axum 0.8.
//!
//! Feature `http` (every process links it): [`serve`], liveness/readiness
//! ([`health_router`], [`ReadinessCheck`]) and Prometheus `/metrics`
//! ([`install_metrics_recorder`], [`metrics_router`]); [`ops_router`] combines them.
//!
//! Feature `auth` (the Command API and Query API processes) adds:
//! - [`auth`]: JWT validation (HS256 secret, RS256 PEM key or JWKS file with `kid`) into a
//!   [`auth::Principal`]; missing/invalid token → 401, role not allowed → 403;
//!   [`auth::issue_dev_token`] for tests and tooling;
//! - [`problem`]: RFC 9457 `application/problem+json` for every error;
//! - [`command_api`]: [`command_api::CommandApi`], one typed route per command (authenticate →
//!   authorize → parse → [`validate::Validate`] → enqueue (confirmed) → `202 Accepted` with a
//!   tracking id) and `GET /commands/{id}` from a [`command_status::CommandStatusTracker`];
//! - [`query_api`]: [`query_api::QueryApi`], list and get routes per read model with filters,
//!   sorting, paging, tenant isolation and row filters.

pub mod health;
pub mod metrics;
pub mod server;

#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "auth")]
pub mod command_api;
#[cfg(feature = "auth")]
pub mod command_status;
#[cfg(feature = "auth")]
pub mod problem;
#[cfg(feature = "auth")]
pub mod query_api;
#[cfg(feature = "auth")]
pub mod validate;

/// Re-exported so generated processes need no direct axum dependency.
pub use axum;
pub use health::{ReadinessCheck, health_router};
pub use metrics::{MetricsInstallError, install_metrics_recorder, metrics_router};
pub use server::{serve, serve_on};

use axum::Router;
use std::sync::Arc;

/// The operational routes every process exposes: `/health/live`, `/health/ready` (with
/// `checks`) and, when a handle is given, `/metrics`.
pub fn ops_router(
    checks: Vec<Arc<dyn ReadinessCheck>>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Router {
    let router = health_router(checks);
    match metrics {
        Some(handle) => router.merge(metrics_router(handle)),
        None => router,
    }
}
