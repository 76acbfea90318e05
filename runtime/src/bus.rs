//! The message bus port (the plan's `IMessageBus`): where commands and events are sent.
//!
//! Adapters: `crate::amqp::AmqpBus` (RabbitMQ with publisher confirms) and
//! [`crate::memory::MemoryBus`] (in-memory, for simulation and process-isolation tests).

use crate::envelope::RawEnvelope;
use async_trait::async_trait;

/// Error publishing a message.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker is unreachable or the channel closed; the caller should retry later.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (negative confirm, unroutable mandatory message, ...).
    #[error("message rejected by the broker: {0}")]
    Rejected(String),
    /// The message could not be encoded.
    #[error("message could not be encoded: {0}")]
    Encode(String),
}

/// Sends commands to a context's command queue and publishes events to a context's fanout
/// exchange. `Ok` means the broker has confirmed the message (durably stored).
#[async_trait]
pub trait MessageBus: Send + Sync {
    /// Sends a command to the command queue of `context`.
    async fn send_command(&self, context: &str, command: &RawEnvelope) -> Result<(), BusError>;
    /// Publishes an event on the event exchange of `context`.
    async fn publish_event(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError>;
    /// Publishes a command outcome (processed / rejected) on the outcome exchange of `context`,
    /// which feeds the Command API's command-status endpoint.
    async fn publish_outcome(&self, context: &str, outcome: &RawEnvelope) -> Result<(), BusError>;
    /// Publishes a public (integration) event on the public exchange of `context`, which
    /// other teams' services subscribe to.
    async fn publish_public(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError>;

    /// Publishes `batch` in order and returns one result per message, in the same order.
    /// Once a message is [`BusError::Unavailable`], the later ones are not sent (they report
    /// `Unavailable` too), so a caller that retries from the first failure keeps the order.
    /// The default sends one message at a time; the RabbitMQ adapter pipelines the whole
    /// batch on its channel and then waits for all the confirms.
    async fn publish_batch(&self, batch: &[Outgoing<'_>]) -> Vec<Result<(), BusError>> {
        let mut results = Vec::with_capacity(batch.len());
        for m in batch {
            if let Some(Err(BusError::Unavailable(e))) = results.last() {
                let e = e.clone();
                results.push(Err(BusError::Unavailable(e)));
                continue;
            }
            results.push(match m.route {
                Route::Command => self.send_command(m.context, m.envelope).await,
                Route::Event => self.publish_event(m.context, m.envelope).await,
                Route::Outcome => self.publish_outcome(m.context, m.envelope).await,
                Route::Public => self.publish_public(m.context, m.envelope).await,
            });
        }
        results
    }
}

/// Where a message of a [`MessageBus::publish_batch`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The context's command queue ([`MessageBus::send_command`]).
    Command,
    /// The context's event exchange ([`MessageBus::publish_event`]).
    Event,
    /// The context's outcome exchange ([`MessageBus::publish_outcome`]).
    Outcome,
    /// The context's public event exchange ([`MessageBus::publish_public`]).
    Public,
}

/// One message of a [`MessageBus::publish_batch`].
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// Where it goes.
    pub route: Route,
    /// The context whose queue or exchange it goes to.
    pub context: &'a str,
    /// The message.
    pub envelope: &'a RawEnvelope,
}
