//! The file format of `sagas.yaml`: saga state machines that orchestrate several contexts.

use super::context::Fields;
use super::loc::{ExpressionSchema, Loc, NamedMap};
use super::shorthand::{ShortOr, Shorthand};
use schemars::JsonSchema;
use serde::Deserialize;

/// All sagas of the system.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagasFile {
    /// Sagas by name (PascalCase); each becomes an orchestrator process.
    #[serde(default)]
    pub sagas: NamedMap<Loc<SagaDef>>,
}

/// A saga: a state machine started by an event, reacting to events of several contexts and
/// sending commands, with per-step timeouts, retries and compensations.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaDef {
    /// What the workflow achieves.
    #[serde(default)]
    pub description: Option<String>,
    /// The event that starts an instance, `context.Event`.
    pub start: Loc<String>,
    /// The saga data field that correlates events with an instance.
    pub correlation: Loc<String>,
    /// How each event finds its instance: event type -> Rust expression over `event.*` and
    /// `meta.*` (default: the event field named like the correlation field).
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub correlate: NamedMap<Loc<String>>,
    /// Data kept by the instance (the correlation field at least).
    #[schemars(extend("minProperties" = 1))]
    pub data: Fields,
    /// Initial data from the start event: data field -> Rust expression over `event.*` and
    /// `meta.*` (default: the start event's field of the same name).
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub init: NamedMap<Loc<String>>,
    /// The state entered when the saga starts.
    pub initial: Loc<String>,
    /// The states, by name (PascalCase).
    #[schemars(extend("minProperties" = 1))]
    pub states: NamedMap<Loc<StateDef>>,
}

/// A saga state. A non-terminal state is a step: it sends a command on entry and waits for
/// one of the events in `on`, or for its timeout.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// What happens in this state.
    #[serde(default)]
    pub description: Option<String>,
    /// `completed` or `failed`: the saga ends in this state.
    #[serde(default)]
    pub terminal: Option<Loc<String>>,
    /// The command sent when the state is entered.
    #[serde(default)]
    pub send: Option<Loc<SendDef>>,
    /// How long to wait for an event before a retry (`30s`, `5m`, `1h`, `250ms`).
    #[serde(default)]
    pub timeout: Option<Loc<String>>,
    /// Retry policy on timeout (default: no retry).
    #[serde(default)]
    pub retry: Option<Loc<RetryDef>>,
    /// The command that undoes this step once it has completed.
    #[serde(default)]
    pub compensate_with: Option<Loc<SendDef>>,
    /// Whether a compensating `on_timeout` also undoes this step, whose command may still
    /// take effect after the timeout (default: true when the step has `compensate_with`).
    #[serde(default)]
    pub compensate_on_timeout: Option<Loc<bool>>,
    /// Transitions: `context.Event` -> target state, or `{ goto, compensate, capture }`.
    #[serde(default)]
    pub on: NamedMap<Loc<ShortOr<TransitionDef>>>,
    /// Where to go when the timeout expires and the retries are exhausted.
    #[serde(default)]
    pub on_timeout: Option<Loc<ShortOr<TransitionDef>>>,
    /// How often an instance may enter this state: needed for a state on a loop (a
    /// transition that leads back to it), so that every path ends.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_visits: Option<Loc<u32>>,
    /// With `max_visits`: where the saga goes instead of one visit too many (a state, or
    /// `{ goto, compensate }`).
    #[serde(default)]
    pub on_exhausted: Option<Loc<ShortOr<TransitionDef>>>,
}

/// A command sent by a saga.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendDef {
    /// The command, `context.Command`.
    pub command: Loc<String>,
    /// Id of the target aggregate, a Rust expression over `data.*`.
    #[schemars(with = "ExpressionSchema")]
    pub to: Loc<String>,
    /// Field values: command field -> Rust expression over `data.*` (default: the data field
    /// of the same name).
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub with: NamedMap<Loc<String>>,
}

/// A transition of a saga state.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    /// The target state.
    pub goto: Loc<String>,
    /// Run the compensations of every completed step, newest first, before entering the target.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub compensate: Loc<bool>,
    /// Data captured from the event: data field -> Rust expression over `event.*` and `meta.*`.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub capture: NamedMap<Loc<String>>,
}

impl Shorthand for TransitionDef {
    const EXPECTING: &'static str = "a state name or `{ goto, compensate, capture }`";
    fn from_short(short: String) -> Self {
        Self {
            goto: Loc::new(short, Default::default()),
            ..Self::default()
        }
    }
}

/// How a step retries after its timeout: the command is sent again after a delay that grows
/// by `backoff` from `initial_delay` up to `max_delay`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDef {
    /// Total number of attempts, the first included (at least 1).
    #[schemars(range(min = 1))]
    pub max_attempts: Loc<u32>,
    /// Delay before the second attempt (default `1s`).
    #[serde(default)]
    pub initial_delay: Option<Loc<String>>,
    /// Factor applied to the delay after each attempt (default 2.0, at least 1.0).
    #[serde(default)]
    pub backoff: Option<Loc<f64>>,
    /// Largest delay (default `1m`).
    #[serde(default)]
    pub max_delay: Option<Loc<String>>,
}
