//! Connecting to RabbitMQ with retry and exponential backoff.

use super::{AmqpError, redact_url};
use lapin::{Connection, ConnectionProperties};
use std::time::Duration;
use tokio::time::Instant;

/// First delay between connection attempts.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Connects to `url`, retrying with exponential backoff (100 ms doubling up to 5 s) for up to
/// 30 seconds — long enough to ride out a broker restart at process start.
pub async fn connect(url: &str) -> Result<Connection, AmqpError> {
    connect_with_retry(url, Duration::from_secs(30)).await
}

/// Connects to `url`, retrying with exponential backoff until `max_wait` has passed; the
/// error carries the last failure.
pub async fn connect_with_retry(url: &str, max_wait: Duration) -> Result<Connection, AmqpError> {
    let deadline = Instant::now() + max_wait;
    let mut delay = INITIAL_BACKOFF;
    loop {
        match connect_once(url).await {
            Ok(conn) => return Ok(conn),
            Err(source) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(AmqpError::Connect {
                        url: redact_url(url),
                        source,
                    });
                }
                tracing::warn!(url = %redact_url(url), error = %source, retry_in = ?delay, "cannot connect to RabbitMQ");
                tokio::time::sleep(delay.min(deadline - now)).await;
                delay = next_backoff(delay);
            }
        }
    }
}

/// One connection attempt (named after the service for the management UI).
pub(crate) async fn connect_once(url: &str) -> Result<Connection, lapin::Error> {
    let mut props = ConnectionProperties::default();
    let service = crate::observability::service_name();
    if !service.is_empty() {
        props = props.with_connection_name(service.into());
    }
    Connection::connect(url, props).await
}

/// The next backoff delay: doubled, capped at [`MAX_BACKOFF`].
pub(crate) fn next_backoff(delay: Duration) -> Duration {
    (delay * 2).min(MAX_BACKOFF)
}
