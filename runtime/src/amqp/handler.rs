//! What a consumer's handler is: the [`MessageHandler`] trait, its [`HandleOutcome`], and
//! the ordering key that decides which messages may be handled concurrently.

use crate::envelope::RawEnvelope;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// What the handler decided about a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleOutcome {
    /// Done (work committed, or a duplicate that needs nothing): ack.
    Ack,
    /// Transient failure: retry later through the delayed-retry tiers (the `delay` hint picks
    /// a tier at least that long); dead-lettered after the work queue's `max_attempts`.
    Retry {
        /// Minimum delay wished before the next attempt.
        delay: Option<Duration>,
        /// What failed; part of the dead-letter reason when this was the last attempt.
        error: Option<String>,
    },
    /// Not a failure: the message cannot be handled *yet* (an event whose predecessor is not
    /// applied). Sent through the retry tier of at least `delay` without counting as a failed
    /// attempt; dead-lettered only after [`MAX_DEFERRALS`] deferrals.
    Defer {
        /// Minimum delay before the next try.
        delay: Duration,
        /// What it waits for (part of the dead-letter reason).
        reason: String,
    },
    /// Permanent failure: send to the dead-letter queue now.
    DeadLetter {
        /// Why (stored in the `x-dead-letter-reason` header).
        reason: String,
    },
}

impl HandleOutcome {
    /// [`HandleOutcome::Retry`] through the shortest fitting tier (no delay hint), with `error`
    /// as what failed.
    pub fn retry(error: impl Into<String>) -> Self {
        HandleOutcome::Retry {
            delay: None,
            error: Some(error.into()),
        }
    }
}

/// Deferrals of one message ([`HandleOutcome::Defer`]) before it is dead-lettered: with the
/// shortest retry tier of 1 s, about ten minutes of waiting for a predecessor.
pub const MAX_DEFERRALS: u32 = 600;

/// Handles one message. Called again for a redelivered message (after a crash or a broker
/// restart), so it must be idempotent; the consumer acks only after it returned.
///
/// ```
/// use runtime::amqp::{HandleOutcome, MessageHandler};
/// use runtime::RawEnvelope;
/// use std::collections::HashSet;
/// use std::sync::Mutex;
///
/// /// Records each message id once (idempotent), asks for a retry on unknown types.
/// struct Recorder(Mutex<HashSet<uuid::Uuid>>);
///
/// #[async_trait::async_trait]
/// impl MessageHandler for Recorder {
///     async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
///         if !msg.meta.message_type.starts_with("ordering.") {
///             return HandleOutcome::DeadLetter { reason: "unexpected type".into() };
///         }
///         self.0.lock().unwrap().insert(msg.meta.message_id);
///         HandleOutcome::Ack
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let h = Recorder(Mutex::new(HashSet::new()));
/// let msg = runtime::Envelope {
///     meta: runtime::Metadata::new_root("ordering.PlaceOrder", "acme"),
///     payload: serde_json::json!({}),
/// };
/// assert_eq!(h.handle(msg.clone()).await, HandleOutcome::Ack);
/// assert_eq!(h.handle(msg).await, HandleOutcome::Ack); // duplicate: still one record
/// assert_eq!(h.0.lock().unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    /// Handles the message; the outcome decides ack, retry or dead-letter.
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome;

    /// The ordering key of a message: a [`super::Consumer`] handles messages with the same key
    /// one at a time, in delivery order, and messages with different keys concurrently.
    /// `None`: no order needed. The default is [`aggregate_key`]: the tenant and aggregate of
    /// a command or event, so that an aggregate's messages never overtake each other.
    fn ordering_key(&self, msg: &RawEnvelope) -> Option<String> {
        aggregate_key(msg)
    }
}

#[async_trait]
impl<H: MessageHandler + ?Sized> MessageHandler for Arc<H> {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        (**self).handle(msg).await
    }

    fn ordering_key(&self, msg: &RawEnvelope) -> Option<String> {
        (**self).ordering_key(msg)
    }
}

/// `<tenant>/<aggregate id>` of a message that names its aggregate, else `None`: the default
/// [`MessageHandler::ordering_key`].
///
/// ```
/// let mut meta = runtime::Metadata::new_root("ordering.PlaceOrder", "acme");
/// let msg = runtime::Envelope { meta: meta.clone(), payload: serde_json::json!({}) };
/// assert_eq!(runtime::amqp::aggregate_key(&msg), None);
/// meta.aggregate_id = Some("o-1".into());
/// let msg = runtime::Envelope { meta, payload: serde_json::json!({}) };
/// assert_eq!(runtime::amqp::aggregate_key(&msg).as_deref(), Some("acme/o-1"));
/// ```
pub fn aggregate_key(msg: &RawEnvelope) -> Option<String> {
    let aggregate = msg.meta.aggregate_id.as_deref()?;
    Some(format!("{}/{aggregate}", msg.meta.tenant_id))
}
