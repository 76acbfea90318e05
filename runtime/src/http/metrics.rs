//! Prometheus metrics: one `metrics-exporter-prometheus` recorder per process, rendered at
//! `GET /metrics`.

use axum::http::header::CONTENT_TYPE;
use axum::{Router, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::Mutex;

/// The Prometheus recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsInstallError {
    /// Another (non-Prometheus) global `metrics` recorder was installed first.
    #[error("another metrics recorder is already installed: {0}")]
    OtherRecorder(String),
}

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Installs the process-wide Prometheus recorder on the first call and returns its handle;
/// later calls (other tests of the same binary, several routers) return the same handle.
pub fn install_metrics_recorder() -> Result<PrometheusHandle, MetricsInstallError> {
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| MetricsInstallError::OtherRecorder(e.to_string()))?;
    crate::observability::describe_metrics();
    *slot = Some(handle.clone());
    Ok(handle)
}

/// `GET /metrics`: the Prometheus text exposition of `handle`.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    )
}
