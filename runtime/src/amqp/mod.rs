//! RabbitMQ adapter (lapin 4): connection with retry, topology declaration, the confirmed
//! publisher [`AmqpBus`], the wire codec ([`to_amqp`] / [`from_delivery`]) and the consumer
//! runner ([`Consumer`]) with delayed retry, dead-lettering and reconnection.
//!
//! Wire format (see `DESIGN.md`): the body is the JSON payload; [`crate::Metadata`] travels in
//! the AMQP properties `message_id`, `type`, `correlation_id`, `timestamp` (seconds), `app_id`
//! and in headers ([`codec::headers`]). Every publish is `mandatory` and waits for the broker's
//! publisher confirm, so `Ok` means the broker stored the message and an unroutable message
//! is an error, never silence.
//!
//! Delivery guarantees: consumers ack only after the handler returned (after its work is
//! committed), so a crash or a broker restart redelivers the message: handlers must be
//! idempotent (the command handler's processed-command marker, the projector's per-message
//! checks, the saga engine's de-duplication). Retries and dead-letters are published with a
//! confirm *before* the original is acked: a message is never lost, at worst handled twice.

pub mod bus;
pub mod codec;
pub mod connection;
pub mod consumer;
pub mod dead_letters;
pub mod declare;
pub mod depth;
mod handler;
mod lanes;
mod settlement;

pub use bus::AmqpBus;
pub use codec::{WireError, from_delivery, from_parts, to_amqp};
pub use connection::{connect, connect_with_retry};
pub use consumer::{Consumer, consume};
pub use declare::declare;
pub use depth::{queue_depth, report_queue_depths};
pub use handler::{HandleOutcome, MAX_DEFERRALS, MessageHandler, aggregate_key};

/// Error of the AMQP adapter (other than publishing, which returns [`crate::bus::BusError`]).
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// Could not connect to the broker.
    #[error("cannot connect to RabbitMQ at {url}: {source}")]
    Connect {
        /// The URL, with the password masked.
        url: String,
        /// The last connection error.
        #[source]
        source: lapin::Error,
    },
    /// The broker refused to declare part of the topology (often: it exists with other
    /// arguments, `PRECONDITION_FAILED`).
    #[error("cannot declare {what} `{name}`: {source}")]
    Declare {
        /// `exchange`, `queue` or `binding`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The broker's error.
        #[source]
        source: lapin::Error,
    },
    /// The topology does not know the queue.
    #[error("queue `{0}` is not a work queue of the topology")]
    UnknownQueue(String),
    /// The topology is inconsistent.
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
    /// Any other broker or channel error.
    #[error("AMQP error: {0}")]
    Lapin(#[from] lapin::Error),
    /// Publishing a retry or dead-letter copy failed.
    #[error("publish failed: {0}")]
    Publish(#[from] crate::bus::BusError),
    /// A name too long for AMQP (255 bytes).
    #[error("name too long for AMQP: `{0}`")]
    NameTooLong(String),
    /// A dead letter that says neither which queue it came from nor the broker's death queue,
    /// so it cannot be replayed (its message id).
    #[error(
        "dead letter `{0}` has no origin queue (no x-dead-letter-from header): cannot replay it"
    )]
    NoOrigin(String),
}

/// `amqp://user:***@host/...`: a URL safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn short(s: &str) -> Result<lapin::types::ShortString, AmqpError> {
    lapin::types::ShortString::try_new(s).map_err(|_| AmqpError::NameTooLong(s.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(super::redact_url("amqp://host/"), "amqp://host/");
    }
}
