//! Serving an axum [`Router`] with graceful shutdown.

use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Binds `addr` and serves `router` until `shutdown` completes (in-flight requests finish).
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_on(listener, router, shutdown).await
}

/// Serves `router` on an already bound listener (bind port 0 in tests, then read
/// `listener.local_addr()`).
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "HTTP server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
