//! The persisted state of one saga instance: one [`SagaDocument`] per instance.

use crate::envelope::RawEnvelope;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lifecycle status of a saga instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SagaStatus {
    /// Moving forward through its steps.
    Running,
    /// Compensations were sent; waiting in a non-terminal state (for example for their
    /// confirmations).
    Compensating,
    /// Ended in a `Completed` terminal state.
    Completed,
    /// Ended in a `Failed` terminal state (no timeout involved).
    Failed,
    /// A step timed out after its retries; the instance followed `on_timeout` and ended (or
    /// ended directly when the state has no `on_timeout`).
    TimedOut,
}

impl SagaStatus {
    /// `true` for `Completed`, `Failed` and `TimedOut`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SagaStatus::Completed | SagaStatus::Failed | SagaStatus::TimedOut
        )
    }
}

/// What a timer entry does when it is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// The step's answer did not arrive in time for `attempt`.
    StepTimeout,
    /// The back-off before sending `attempt` has elapsed.
    Retry,
}

/// A pending timer of the current step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaTimeout {
    /// Step (state) the timer belongs to.
    pub step: String,
    /// Attempt the timer is about (the attempt that times out, or the attempt to send).
    pub attempt: u32,
    /// When the timer fires.
    pub due_at: DateTime<Utc>,
    /// What happens then.
    pub kind: TimerKind,
}

/// A compensation decided for a completed step (each step is compensated at most once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompensationRecord {
    /// The compensated step.
    pub step: String,
    /// Id of the compensation command (`deterministic_id(saga_id, "compensate/<step>")`).
    pub command_id: Uuid,
    /// `true` once the broker confirmed the command.
    pub sent: bool,
}

/// A command decided by the saga but not yet confirmed by the broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingCommand {
    /// Bounded context whose command queue receives it.
    pub context: String,
    /// The command.
    pub envelope: RawEnvelope,
}

/// One saga instance, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SagaDocument {
    /// Instance id: UUID v5 of saga type and correlation key.
    pub saga_id: Uuid,
    /// Saga type (the machine's name).
    pub saga_type: String,
    /// Business correlation key (for example the order id).
    pub correlation_key: String,
    /// Flow correlation id, from the start event; carried by every command the saga sends.
    pub correlation_id: Uuid,
    /// Tenant of the start event.
    pub tenant_id: String,
    /// User of the start event.
    pub user_id: Option<String>,
    /// W3C trace context of the start event: commands sent on timers continue its trace.
    /// (Absent in documents written before it existed.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Current state.
    pub current_step: String,
    /// How often the instance entered each state; the command ids of a second or later visit
    /// carry its number. Empty in instances saved before visits were counted.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub visits: std::collections::BTreeMap<String, u32>,
    /// Lifecycle status.
    pub status: SagaStatus,
    /// Saga data (the machine's `D`, as JSON).
    pub data: serde_json::Value,
    /// Timers of the current step (at most one at a time).
    pub timeouts: Vec<SagaTimeout>,
    /// Completed steps that have a compensation, in order of completion.
    pub completed_steps: Vec<String>,
    /// Compensations decided so far, in the order they were sent.
    pub compensations: Vec<CompensationRecord>,
    /// Ids of every event handled by this instance (duplicates are ignored).
    pub processed_events: Vec<Uuid>,
    /// Id of the last handled event: causation of commands sent on timers.
    pub last_event_id: Option<Uuid>,
    /// Commands decided but not yet confirmed published (the saga's outbox).
    pub pending: Vec<PendingCommand>,
    /// Whether a step timed out after its retries.
    pub timed_out: bool,
    /// Optimistic-concurrency version (1 after insert, +1 per save).
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl SagaDocument {
    /// The earliest due time of the timers, if any (stores index it).
    pub fn next_due_at(&self) -> Option<DateTime<Utc>> {
        self.timeouts.iter().map(|t| t.due_at).min()
    }

    /// Whether event `id` was already handled.
    pub fn has_processed(&self, id: Uuid) -> bool {
        self.processed_events.contains(&id)
    }
}
