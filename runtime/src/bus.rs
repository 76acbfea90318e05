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
}
