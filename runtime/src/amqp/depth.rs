//! Queue depth: message counts read with a passive declare, feeding the `queue_depth` gauge.

use super::connection::connect_once;
use super::{AmqpError, short};
use crate::observability::set_queue_depth;
use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use std::future::Future;
use std::time::Duration;

/// Messages ready in `queue` (not counting unacked ones), by a passive declare on a
/// short-lived channel (a missing queue closes that channel only and is an error).
pub async fn queue_depth(connection: &Connection, queue: &str) -> Result<u32, AmqpError> {
    Ok(passive_declare(connection, queue).await?.message_count())
}

/// Consumers of `queue` right now, by a passive declare as [`queue_depth`].
pub async fn queue_consumers(connection: &Connection, queue: &str) -> Result<u32, AmqpError> {
    Ok(passive_declare(connection, queue).await?.consumer_count())
}

async fn passive_declare(connection: &Connection, queue: &str) -> Result<lapin::Queue, AmqpError> {
    let channel = connection.create_channel().await?;
    let result = channel
        .queue_declare(
            short(queue)?,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    if channel.status().connected() {
        let _ = channel.close(200, "passive declare".into()).await;
    }
    Ok(result?)
}

/// Sets `queue_depth{queue}` for each queue every `every` until `shutdown`, reconnecting
/// as needed (for processes that do not consume the queues themselves, such as a monitor).
pub async fn report_queue_depths(
    url: &str,
    queues: Vec<String>,
    every: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    let mut connection: Option<Connection> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        if !connection.as_ref().is_some_and(|c| c.status().connected()) {
            match connect_once(url).await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "queue depth: cannot connect");
                    continue;
                }
            }
        }
        if let Some(c) = &connection {
            for q in &queues {
                match queue_depth(c, q).await {
                    Ok(n) => set_queue_depth(q, n.into()),
                    Err(e) => tracing::debug!(queue = %q, error = %e, "queue depth unavailable"),
                }
            }
        }
    }
    if let Some(c) = connection {
        let _ = c.close(200, "bye".into()).await;
    }
}
