//! [`AmqpBus`]: the [`MessageBus`] on RabbitMQ, with publisher confirms.

use super::codec::to_amqp;
use super::connection::connect_once;
use super::{AmqpError, connect_with_retry, redact_url};
use crate::bus::{BusError, MessageBus, Outgoing, Route};
use crate::envelope::RawEnvelope;
use crate::topology::Topology;
use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

struct Link {
    connection: Connection,
    channel: Channel,
}

/// Publishes commands, events and outcomes on RabbitMQ following a [`Topology`]:
/// commands on the default exchange with the context's command queue as routing key, events
/// and outcomes on the context's fanout exchanges. Every publish is `mandatory` and waits for
/// the broker's confirm:
///
/// - `Ok(())`: the broker routed and stored the message;
/// - [`BusError::Rejected`]: negative confirm, unroutable message (returned), missing exchange,
///   unknown context;
/// - [`BusError::Unavailable`]: no connection; the next call reconnects (callers such as the
///   outbox relay retry later).
///
/// The connection and its confirm channel are opened lazily and reopened after a failure.
/// Concurrent publishes share the channel; each waits for its own confirm.
///
/// ```no_run
/// use runtime::amqp::AmqpBus;
/// use runtime::bus::MessageBus;
/// use runtime::topology::TopologyBuilder;
/// use runtime::{Envelope, Metadata};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let topology = TopologyBuilder::new().context("ordering").build();
/// let bus = AmqpBus::connect("amqp://guest:guest@127.0.0.1:5672/%2f", topology).await?;
/// let cmd = Envelope { meta: Metadata::new_root("ordering.PlaceOrder", "acme"), payload: serde_json::json!({}) };
/// bus.send_command("ordering", &cmd).await?; // confirmed by the broker
/// # Ok(()) }
/// ```
pub struct AmqpBus {
    url: String,
    topology: Arc<Topology>,
    link: Mutex<Option<Link>>,
}

impl std::fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpBus")
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl AmqpBus {
    /// Connects (retrying for up to 30 s) and opens a confirm channel. The topology is not
    /// declared here (see [`declare()`](super::declare())).
    pub async fn connect(url: &str, topology: Topology) -> Result<Self, AmqpError> {
        let connection = connect_with_retry(url, Duration::from_secs(30)).await?;
        let channel = confirm_channel(&connection).await?;
        Ok(Self {
            url: url.to_owned(),
            topology: Arc::new(topology),
            link: Mutex::new(Some(Link {
                connection,
                channel,
            })),
        })
    }

    /// A bus that connects on first use.
    pub fn lazy(url: &str, topology: Topology) -> Self {
        Self {
            url: url.to_owned(),
            topology: Arc::new(topology),
            link: Mutex::new(None),
        }
    }

    /// Whether the bus currently holds an open connection and channel (for a readiness
    /// probe; a bus that is not connected reconnects on the next publish).
    pub async fn is_connected(&self) -> bool {
        self.link
            .lock()
            .await
            .as_ref()
            .is_some_and(|l| l.connection.status().connected() && l.channel.status().connected())
    }

    /// The topology the bus routes by.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    async fn channel(&self) -> Result<Channel, BusError> {
        let mut link = self.link.lock().await;
        if let Some(l) = link.as_ref()
            && l.connection.status().connected()
            && l.channel.status().connected()
        {
            return Ok(l.channel.clone());
        }
        // Reuse a live connection when only the channel died (e.g. after a 404).
        let connection = match link.take() {
            Some(l) if l.connection.status().connected() => l.connection,
            _ => connect_once(&self.url)
                .await
                .map_err(|e| BusError::Unavailable(format!("{}: {e}", redact_url(&self.url))))?,
        };
        let channel = confirm_channel(&connection)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        *link = Some(Link {
            connection,
            channel: channel.clone(),
        });
        Ok(channel)
    }

    /// Publishes `body` with `properties` on `exchange` (`""`: the default exchange) with
    /// `routing_key`, mandatory, and waits for the confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), BusError> {
        let channel = self.channel().await?;
        publish_confirmed(&channel, exchange, routing_key, body, properties).await
    }

    async fn publish_envelope(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: &RawEnvelope,
    ) -> Result<(), BusError> {
        let (body, props) = to_amqp(envelope).map_err(|e| BusError::Encode(e.to_string()))?;
        self.publish_raw(exchange, routing_key, &body, props).await
    }

    fn routes(&self, context: &str) -> Result<&crate::topology::ContextRoutes, BusError> {
        self.topology
            .routes(context)
            .ok_or_else(|| BusError::Rejected(format!("unknown context `{context}`")))
    }

    /// Closes the connection (pending confirms are awaited by their callers first).
    pub async fn close(&self) {
        if let Some(l) = self.link.lock().await.take() {
            let _ = l.connection.close(200, "bye".into()).await;
        }
    }
}

/// How long a publish waits for the broker's confirm before reporting
/// [`BusError::Unavailable`] (a blocked broker — memory or disk alarm — never answers).
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a channel in confirm mode.
pub(crate) async fn confirm_channel(connection: &Connection) -> Result<Channel, lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// Maps a lapin error of a publish: a channel-level refusal (missing exchange, access
/// refused...) is a rejection, anything else (connection lost) is unavailability.
pub(crate) fn publish_error(e: lapin::Error) -> BusError {
    if e.is_amqp_soft_error() {
        BusError::Rejected(e.to_string())
    } else {
        BusError::Unavailable(e.to_string())
    }
}

/// Publishes mandatory on a confirm channel and waits for the confirm.
pub(crate) async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), BusError> {
    let publish = async {
        start_publish(channel, exchange, routing_key, body, properties)
            .await?
            .await
            .map_err(publish_error)
    };
    let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, publish)
        .await
        .map_err(|_| no_confirm())??;
    judge_confirm(confirm, exchange, routing_key)
}

/// Sends a mandatory publish on a confirm channel; the returned future resolves to the
/// broker's confirm. Publishes started one after another on a channel reach the broker in
/// that order.
async fn start_publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<lapin::PublisherConfirm, BusError> {
    let name = |s: &str| {
        ShortString::try_new(s).map_err(|_| BusError::Encode(format!("name too long: {s}")))
    };
    channel
        .basic_publish(
            name(exchange)?,
            name(routing_key)?,
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            body,
            properties,
        )
        .await
        .map_err(publish_error)
}

fn no_confirm() -> BusError {
    BusError::Unavailable(format!(
        "no publisher confirm within {CONFIRM_TIMEOUT:?} (broker blocked or unreachable)"
    ))
}

/// The results of a pipelined batch by its confirms. RabbitMQ sends a message's
/// `basic.return` before its ack but may ack several messages at once, and lapin hands
/// each waiting return to the next confirm it completes, which can be an earlier message
/// of the batch. So the returns of the whole batch are matched to the messages by message
/// id, not by the confirm that happened to carry them.
fn match_returns(
    batch: &[Outgoing<'_>],
    confirms: Vec<Result<(Confirmation, String, String), BusError>>,
) -> Vec<Result<(), BusError>> {
    let mut returned: Vec<lapin::message::BasicReturnMessage> = Vec::new();
    let mut confirms: Vec<Result<(Confirmation, String, String), BusError>> = confirms
        .into_iter()
        .map(|c| {
            c.map(|(confirm, exchange, routing_key)| {
                let confirm = match confirm {
                    Confirmation::Ack(Some(r)) => {
                        returned.push(r);
                        Confirmation::Ack(None)
                    }
                    Confirmation::Nack(Some(r)) => {
                        returned.push(r);
                        Confirmation::Nack(None)
                    }
                    other => other,
                };
                (confirm, exchange, routing_key)
            })
        })
        .collect();
    for (m, c) in batch.iter().zip(confirms.iter_mut()) {
        let Ok((confirm, _, _)) = c else { continue };
        let id = m.envelope.meta.message_id.to_string();
        let owned = returned.iter().position(|r| {
            r.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|i| i.as_str())
                == Some(id.as_str())
        });
        if let Some(i) = owned {
            let r = returned.swap_remove(i);
            *confirm = match confirm {
                Confirmation::Nack(_) => Confirmation::Nack(Some(r)),
                _ => Confirmation::Ack(Some(r)),
            };
        }
    }
    confirms
        .into_iter()
        .map(|c| {
            c.and_then(|(confirm, exchange, routing_key)| {
                judge_confirm(confirm, &exchange, &routing_key)
            })
        })
        .collect()
}

/// The result of a publish by its confirm.
fn judge_confirm(confirm: Confirmation, exchange: &str, routing_key: &str) -> Result<(), BusError> {
    match confirm {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
            Err(BusError::Rejected(format!(
                "unroutable: exchange `{exchange}` routing key `{routing_key}`: {} {}",
                returned.reply_code, returned.reply_text
            )))
        }
        Confirmation::Nack(None) => Err(BusError::Rejected(format!(
            "negative confirm for exchange `{exchange}` routing key `{routing_key}`"
        ))),
        Confirmation::NotRequested => Err(BusError::Unavailable(
            "publisher confirms are not enabled on the channel".into(),
        )),
    }
}

#[async_trait]
impl MessageBus for AmqpBus {
    async fn send_command(&self, context: &str, command: &RawEnvelope) -> Result<(), BusError> {
        let queue = self.routes(context)?.command_queue.clone();
        self.publish_envelope("", &queue, command).await
    }

    async fn publish_event(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        let exchange = self.routes(context)?.event_exchange.clone();
        self.publish_envelope(&exchange, "", event).await
    }

    async fn publish_outcome(&self, context: &str, outcome: &RawEnvelope) -> Result<(), BusError> {
        let exchange = self.routes(context)?.outcome_exchange.clone();
        self.publish_envelope(&exchange, "", outcome).await
    }

    async fn publish_public(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        let exchange = self.public_exchange(context)?;
        self.publish_envelope(&exchange, "", event).await
    }

    /// Pipelined: sends every publish of the batch on the channel in order, then waits for
    /// all the confirms (within [`CONFIRM_TIMEOUT`] in all), instead of one round trip per
    /// message.
    async fn publish_batch(&self, batch: &[Outgoing<'_>]) -> Vec<Result<(), BusError>> {
        let mut started = Vec::with_capacity(batch.len());
        let mut unavailable: Option<String> = None;
        let channel = match self.channel().await {
            Ok(c) => Some(c),
            Err(e) => {
                unavailable = Some(e.to_string());
                None
            }
        };
        for m in batch {
            if let Some(e) = &unavailable {
                started.push(Err(BusError::Unavailable(e.clone())));
                continue;
            }
            let channel = channel.as_ref().expect("set unless unavailable");
            let sent = async {
                let (exchange, routing_key) = self.address(m)?;
                let (body, props) =
                    to_amqp(m.envelope).map_err(|e| BusError::Encode(e.to_string()))?;
                let confirm = start_publish(channel, &exchange, &routing_key, &body, props).await?;
                Ok((confirm, exchange, routing_key))
            }
            .await;
            if let Err(BusError::Unavailable(e)) = &sent {
                unavailable = Some(e.clone());
            }
            started.push(sent);
        }
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let mut confirms = Vec::with_capacity(started.len());
        for s in started {
            confirms.push(match s {
                Err(e) => Err(e),
                Ok((confirm, exchange, routing_key)) => {
                    match tokio::time::timeout_at(deadline, confirm).await {
                        Err(_) => Err(no_confirm()),
                        Ok(Err(e)) => Err(publish_error(e)),
                        Ok(Ok(c)) => Ok((c, exchange, routing_key)),
                    }
                }
            });
        }
        match_returns(batch, confirms)
    }
}

impl AmqpBus {
    /// The exchange and routing key of a batch message.
    fn address(&self, m: &Outgoing<'_>) -> Result<(String, String), BusError> {
        let routes = self.routes(m.context)?;
        Ok(match m.route {
            Route::Command => (String::new(), routes.command_queue.clone()),
            Route::Event => (routes.event_exchange.clone(), String::new()),
            Route::Outcome => (routes.outcome_exchange.clone(), String::new()),
            Route::Public => (self.public_exchange(m.context)?, String::new()),
        })
    }

    /// The public exchange of `context` (rejected when the context publishes no public events).
    fn public_exchange(&self, context: &str) -> Result<String, BusError> {
        self.routes(context)?
            .public_exchange
            .clone()
            .ok_or_else(|| {
                BusError::Rejected(format!("context `{context}` has no public event exchange"))
            })
    }
}
