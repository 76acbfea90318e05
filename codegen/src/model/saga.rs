//! Sagas in the model.

use super::{Field, MessageName, SourceExpr};
use std::time::Duration;

/// A saga orchestrator.
#[derive(Clone, Debug)]
pub struct Saga {
    /// Name (PascalCase).
    pub name: String,
    /// What it achieves.
    pub description: Option<String>,
    /// The event that starts an instance.
    pub start: MessageName,
    /// The data field that correlates events with instances.
    pub correlation: String,
    /// Instance data.
    pub data: Vec<Field>,
    /// Initial data from the start event: a value for every data field that has one.
    pub init: Vec<(String, SourceExpr)>,
    /// For every event the saga handles (start included), how its correlation value is read.
    pub correlate: Vec<(MessageName, SourceExpr)>,
    /// The initial state.
    pub initial: String,
    /// States in file order.
    pub states: Vec<SagaState>,
}

impl Saga {
    /// The state with this name.
    pub fn state(&self, name: &str) -> Option<&SagaState> {
        self.states.iter().find(|s| s.name == name)
    }

    /// Every event type the saga listens to (start first), without duplicates.
    pub fn events(&self) -> Vec<&MessageName> {
        let mut out = vec![&self.start];
        for s in &self.states {
            for t in &s.transitions {
                if let Some(e) = &t.event
                    && !out.contains(&e)
                {
                    out.push(e);
                }
            }
        }
        out
    }
}

/// How a saga ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// The workflow succeeded.
    Completed,
    /// The workflow failed (after compensations, if any).
    Failed,
}

/// A state of a saga.
#[derive(Clone, Debug)]
pub struct SagaState {
    /// Name (PascalCase).
    pub name: String,
    /// What happens in it.
    pub description: Option<String>,
    /// Set when the saga ends here.
    pub terminal: Option<Terminal>,
    /// The command sent on entry.
    pub send: Option<SagaCommand>,
    /// How long to wait before a retry.
    pub timeout: Option<Duration>,
    /// Retry policy after a timeout.
    pub retry: RetryPolicy,
    /// The command that undoes the step once completed.
    pub compensation: Option<SagaCommand>,
    /// Whether a timeout after the last attempt counts the step as completed (its
    /// compensation is then sent by a compensating `on_timeout`).
    pub compensate_on_timeout: bool,
    /// Transitions on events.
    pub transitions: Vec<Transition>,
    /// Transition when the timeout expires after the last attempt.
    pub on_timeout: Option<Transition>,
    /// The bound of a state on a loop.
    pub visits: Option<VisitLimit>,
}

/// How often an instance may enter a state on a loop, and where it goes instead.
#[derive(Clone, Debug)]
pub struct VisitLimit {
    /// Entries allowed.
    pub max: u32,
    /// Taken instead of one visit too many (no event, no capture).
    pub on_exhausted: Transition,
}

/// A command sent by a saga (built over `data.*`) or a policy (over `event.*` and `meta.*`).
#[derive(Clone, Debug)]
pub struct SagaCommand {
    /// The command.
    pub command: MessageName,
    /// Target aggregate id.
    pub to: SourceExpr,
    /// A value for every command field, in field order.
    pub values: Vec<(String, SourceExpr)>,
}

/// A transition.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The event (none for the timeout transition).
    pub event: Option<MessageName>,
    /// Target state.
    pub target: String,
    /// Whether completed steps are compensated first.
    pub compensate: bool,
    /// Data captured from the event.
    pub capture: Vec<(String, SourceExpr)>,
}

/// Retry policy of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Delay growth factor.
    pub backoff: f64,
    /// Largest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            initial_delay: Duration::from_secs(1),
            backoff: 2.0,
            max_delay: Duration::from_secs(60),
        }
    }
}
