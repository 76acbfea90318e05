//! Event hooks: hand-written Rust that a policy runs for an event ("on event X, run hook H").
//!
//! The EventHandler runs the hooks of an event after its read-model updates and its other
//! reactions (public events, policy commands). A hook that returns `Ok` is marked done for that
//! event (`<projection>/hook/<hook>/<event id>` in `_watermarks`) and never runs again for it,
//! whatever happens to the event afterwards; a hook that fails makes the whole event go through
//! the queue's retry tiers ([`HookError::Retry`], or a run longer than the hook's timeout) or
//! straight to the dead-letter queue ([`HookError::Reject`]); a hook that panics counts as a
//! failed attempt, like any handler. Another hook of the same event that succeeded before is
//! not run again on the retry.
//!
//! That is at-least-once: a process that stops between a hook's success and its marker runs
//! the hook again with the same [`EventContext::idempotency_key`], so a hook whose side effect
//! must happen once hands that key to the system it calls (an `Idempotency-Key` header, a
//! unique column) or checks it itself.

use crate::envelope::{RawEnvelope, deterministic_id};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

/// What a hook learns about its event besides the payload.
#[derive(Clone, Debug, PartialEq)]
pub struct EventContext {
    /// The hook's name (its method).
    pub hook: &'static str,
    /// The event's id: the same on every delivery of the event.
    pub event_id: Uuid,
    /// The event's type (`context.Event`).
    pub event_type: String,
    /// Derived from the event id and the hook's name: the same on every run of this hook for
    /// this event, different for another hook of the same event. Give it to the system the
    /// hook calls so that a run repeated after a crash has no second effect.
    pub idempotency_key: Uuid,
    /// The correlation id of the flow the event belongs to.
    pub correlation_id: Uuid,
    /// The tenant.
    pub tenant_id: String,
    /// The user whose command caused the event, if known.
    pub user_id: Option<String>,
    /// The id of the aggregate that raised the event.
    pub aggregate_id: Option<String>,
    /// The W3C trace context of the event, to continue the trace in outgoing calls.
    pub traceparent: Option<String>,
}

impl EventContext {
    /// The context of hook `hook` for `event`.
    ///
    /// ```
    /// use runtime::hook::EventContext;
    /// use runtime::{Metadata, RawEnvelope};
    /// let event = RawEnvelope { meta: Metadata::new_root("shipping.Booked", "acme"), payload: serde_json::json!({}) };
    /// let a = EventContext::new(&event, "notify_customer");
    /// assert_eq!(a, EventContext::new(&event, "notify_customer"), "the same on every delivery");
    /// assert_ne!(a.idempotency_key, EventContext::new(&event, "bill_customer").idempotency_key);
    /// assert_eq!(a.event_id, event.meta.message_id);
    /// ```
    pub fn new(event: &RawEnvelope, hook: &'static str) -> Self {
        let m = &event.meta;
        Self {
            hook,
            event_id: m.message_id,
            event_type: m.message_type.clone(),
            idempotency_key: deterministic_id(m.message_id, &format!("hook/{hook}")),
            correlation_id: m.correlation_id,
            tenant_id: m.tenant_id.clone(),
            user_id: m.user_id.clone(),
            aggregate_id: m.aggregate_id.clone(),
            traceparent: m.traceparent.clone(),
        }
    }
}

/// Why a hook did not finish its work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// Try again later (a service that is down, a timeout): the event goes through the
    /// queue's retry tiers and, after its last attempt, to the dead-letter queue.
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help (the event asks for something the hook refuses): the event
    /// goes to the dead-letter queue now, where `dead-letters` can replay it after a fix.
    #[error("{0}")]
    Reject(String),
}

/// The future of one hook run.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HookError>> + Send + 'a>>;

/// One hook to run for an event, built by the generated EventHandler: the future does nothing
/// until the EventHandler polls it, which it does only when the hook has not succeeded for the
/// event before.
pub struct HookCall<'a> {
    /// The hook's name: part of its marker.
    pub name: &'static str,
    /// How long the run may take before it counts as a failed attempt.
    pub timeout: Duration,
    /// The run.
    pub run: HookFuture<'a>,
}

impl<'a> HookCall<'a> {
    /// Hook `name`, run by `run` within `timeout`.
    pub fn new(
        name: &'static str,
        timeout: Duration,
        run: impl Future<Output = Result<(), HookError>> + Send + 'a,
    ) -> Self {
        Self {
            name,
            timeout,
            run: Box::pin(run),
        }
    }
}

impl std::fmt::Debug for HookCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookCall")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
