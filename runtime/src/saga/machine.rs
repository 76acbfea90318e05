//! Saga state machines as data: the code generator emits one [`SagaMachine`] per saga (static
//! names plus plain `fn` pointers); all behaviour lives in [`crate::saga::SagaEngine`].

use crate::envelope::RawEnvelope;
use crate::message::DecodeError;
use std::collections::HashSet;
use std::time::Duration;

/// How a terminal state ends a saga instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaOutcome {
    /// The workflow reached its goal.
    Completed,
    /// The workflow gave up (after its compensations, if any).
    Failed,
}

/// Retries of a step command when the step's timeout elapses.
///
/// `max_attempts` counts every send of the command, the first one included: `1` means "no
/// retry". The delay before attempt `n + 1` is `initial_delay * backoff^(n - 1)`, capped at
/// `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Total number of sends of the step command (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Multiplier applied to the delay for every further attempt.
    pub backoff: f64,
    /// Upper bound of the delay.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// No retry: the first timeout follows `on_timeout`.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_delay: Duration::ZERO,
        backoff: 1.0,
        max_delay: Duration::ZERO,
    };

    /// The delay to wait, after attempt `attempt` timed out, before sending attempt
    /// `attempt + 1`: `initial_delay * backoff^(attempt - 1)`, capped at `max_delay`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let factor = if self.backoff.is_finite() && self.backoff > 0.0 {
            self.backoff.powi(exp)
        } else {
            1.0
        };
        let secs = self.initial_delay.as_secs_f64() * factor;
        let capped = secs.min(self.max_delay.as_secs_f64()).max(0.0);
        if capped.is_finite() {
            Duration::from_secs_f64(capped)
        } else {
            self.max_delay
        }
    }

    /// The effective number of attempts (`max_attempts`, at least 1).
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::NONE
    }
}

/// A command the saga sends: on entering a state, or to compensate a completed step.
pub struct CommandSpec<D> {
    /// Bounded context whose command queue receives the command.
    pub context: &'static str,
    /// Fully qualified command type (`context.Name`).
    pub message_type: &'static str,
    /// Schema version of the command's payload (its `Message::VERSION`).
    pub schema_version: u32,
    /// Builds `(aggregate id, JSON payload)` from the saga data.
    pub build: fn(&D) -> (String, serde_json::Value),
}

impl<D> Clone for CommandSpec<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for CommandSpec<D> {}

/// A transition of a state: on an event (or on timeout), optionally capture data from the
/// event, optionally compensate the completed steps, and enter `target`.
pub struct TransitionSpec<D> {
    /// Event type that triggers the transition (empty for `on_timeout`).
    pub on_event: &'static str,
    /// The state entered.
    pub target: &'static str,
    /// `true`: send the compensations of every completed step, newest first, before
    /// entering `target`. `false`: the current step counts as completed.
    pub compensate: bool,
    /// Copies what the saga needs from the event into its data (not called on timeout).
    pub capture: fn(&mut D, &RawEnvelope) -> Result<(), DecodeError>,
}

impl<D> Clone for TransitionSpec<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for TransitionSpec<D> {}

/// A `capture` that keeps the data unchanged.
pub fn capture_nothing<D>(_: &mut D, _: &RawEnvelope) -> Result<(), DecodeError> {
    Ok(())
}

impl<D> TransitionSpec<D> {
    /// A transition on `on_event` into `target` that captures nothing and does not compensate.
    pub fn to(on_event: &'static str, target: &'static str) -> Self {
        TransitionSpec {
            on_event,
            target,
            compensate: false,
            capture: capture_nothing::<D>,
        }
    }

    /// A transition on `on_event` into `target` that first compensates the completed steps.
    pub fn compensate_to(on_event: &'static str, target: &'static str) -> Self {
        TransitionSpec {
            compensate: true,
            ..TransitionSpec::to(on_event, target)
        }
    }

    /// The same transition with a `capture` function.
    pub fn with_capture(
        mut self,
        capture: fn(&mut D, &RawEnvelope) -> Result<(), DecodeError>,
    ) -> Self {
        self.capture = capture;
        self
    }
}

/// One state of a saga.
pub struct SagaStateSpec<D> {
    /// State name (unique within the machine; used in command ids).
    pub name: &'static str,
    /// `Some`: entering this state ends the instance.
    pub terminal: Option<SagaOutcome>,
    /// Command sent on entry (the step's action).
    pub command: Option<CommandSpec<D>>,
    /// How long to wait for one of `transitions` after each send of `command`.
    pub timeout: Option<Duration>,
    /// Retries of `command` when `timeout` elapses.
    pub retry: RetryPolicy,
    /// Followed when the retries are exhausted (typically `compensate: true` into a failed
    /// terminal state). `None`: the instance ends with status `TimedOut`.
    pub on_timeout: Option<TransitionSpec<D>>,
    /// Undoes this step once it has completed.
    pub compensation: Option<CommandSpec<D>>,
    /// Whether a timeout after the last attempt counts the step as completed, so that a
    /// compensating `on_timeout` sends its compensation too (its command may still take
    /// effect late).
    pub compensate_on_timeout: bool,
    /// Transitions on events.
    pub transitions: Vec<TransitionSpec<D>>,
    /// How often an instance may enter the state (a state on a loop); `None`: once.
    pub visits: Option<VisitLimit>,
}

/// The bound of a state that an instance may enter more than once (a loop of the machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitLimit {
    /// Entries allowed; entering once more goes to `on_exhausted` instead.
    pub max: u32,
    /// The state entered instead of a visit beyond `max`.
    pub on_exhausted: &'static str,
    /// Whether the completed steps are compensated first (as a transition's `compensate`).
    pub compensate: bool,
}

impl<D> SagaStateSpec<D> {
    /// A non-terminal state with nothing set; fill the rest with struct update syntax
    /// (`SagaStateSpec { command: Some(..), ..SagaStateSpec::new("ReservingStock") }`).
    pub fn new(name: &'static str) -> Self {
        SagaStateSpec {
            name,
            terminal: None,
            command: None,
            timeout: None,
            retry: RetryPolicy::NONE,
            on_timeout: None,
            compensation: None,
            compensate_on_timeout: false,
            transitions: Vec::new(),
            visits: None,
        }
    }

    /// A terminal state.
    pub fn terminal(name: &'static str, outcome: SagaOutcome) -> Self {
        SagaStateSpec {
            terminal: Some(outcome),
            ..SagaStateSpec::new(name)
        }
    }
}

/// A saga: its start event, how events are correlated to instances, its data and its states.
pub struct SagaMachine<D> {
    /// Saga type name (unique per system; the saga store's partition key).
    pub name: &'static str,
    /// Event type that starts an instance.
    pub start_event: &'static str,
    /// State entered when an instance starts.
    pub initial_state: &'static str,
    /// The business correlation key of an event (for example the order id); `None` when the
    /// event does not belong to this saga.
    pub correlate: fn(&RawEnvelope) -> Option<String>,
    /// Initial saga data from the start event.
    pub init: fn(&RawEnvelope) -> Result<D, DecodeError>,
    /// Every state.
    pub states: Vec<SagaStateSpec<D>>,
}

/// A saga machine that is not well formed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MachineError {
    /// Two states have the same name.
    #[error("saga `{saga}`: state `{state}` is defined twice")]
    DuplicateState {
        /// Saga name.
        saga: String,
        /// State name.
        state: String,
    },
    /// A state name is referenced but not defined.
    #[error("saga `{saga}`: unknown state `{state}` referenced from `{from}`")]
    UnknownState {
        /// Saga name.
        saga: String,
        /// Missing state name.
        state: String,
        /// Where it is referenced.
        from: String,
    },
    /// A non-terminal state has no way out.
    #[error("saga `{saga}`: state `{state}` is not terminal but has no transition and no timeout")]
    DeadEnd {
        /// Saga name.
        saga: String,
        /// State name.
        state: String,
    },
}

impl<D> SagaMachine<D> {
    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<&SagaStateSpec<D>> {
        self.states.iter().find(|s| s.name == name)
    }

    /// Checks that state names are unique, every referenced state exists and every
    /// non-terminal state has a transition or a timeout.
    pub fn validate(&self) -> Result<(), MachineError> {
        let saga = self.name.to_owned();
        let mut names = HashSet::new();
        for s in &self.states {
            if !names.insert(s.name) {
                return Err(MachineError::DuplicateState {
                    saga,
                    state: s.name.to_owned(),
                });
            }
        }
        if !names.contains(self.initial_state) {
            return Err(MachineError::UnknownState {
                saga,
                state: self.initial_state.to_owned(),
                from: "initial_state".to_owned(),
            });
        }
        for s in &self.states {
            for t in s.transitions.iter().chain(s.on_timeout.iter()) {
                if !names.contains(t.target) {
                    return Err(MachineError::UnknownState {
                        saga,
                        state: t.target.to_owned(),
                        from: s.name.to_owned(),
                    });
                }
            }
            if let Some(limit) = s.visits
                && !names.contains(limit.on_exhausted)
            {
                return Err(MachineError::UnknownState {
                    saga,
                    state: limit.on_exhausted.to_owned(),
                    from: format!("{} (on_exhausted)", s.name),
                });
            }
            if s.terminal.is_none() && s.transitions.is_empty() && s.timeout.is_none() {
                return Err(MachineError::DeadEnd {
                    saga,
                    state: s.name.to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_secs(1),
            backoff: 2.0,
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(p.delay_after(1), Duration::from_secs(1));
        assert_eq!(p.delay_after(2), Duration::from_secs(2));
        assert_eq!(p.delay_after(3), Duration::from_secs(4));
        assert_eq!(p.delay_after(4), Duration::from_secs(5));
        assert_eq!(RetryPolicy::NONE.attempts(), 1);
    }

    #[test]
    fn validation_finds_unknown_targets_and_dead_ends() {
        let m: SagaMachine<()> = SagaMachine {
            name: "s",
            start_event: "a.Started",
            initial_state: "A",
            correlate: |_| None,
            init: |_| Ok(()),
            states: vec![SagaStateSpec {
                transitions: vec![TransitionSpec::to("a.X", "B")],
                ..SagaStateSpec::new("A")
            }],
        };
        assert!(matches!(
            m.validate(),
            Err(MachineError::UnknownState { .. })
        ));
        let m2: SagaMachine<()> = SagaMachine {
            states: vec![SagaStateSpec::new("A")],
            ..m
        };
        assert!(matches!(m2.validate(), Err(MachineError::DeadEnd { .. })));
    }
}
