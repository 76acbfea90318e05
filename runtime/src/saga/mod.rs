//! Sagas (the plan's section C): data-driven state machines run by one generic engine.
//!
//! The code generator emits one [`SagaMachine`] per saga: static names and plain `fn`
//! pointers (correlate, init, capture, build). [`SagaEngine`] does everything else:
//!
//! - **Start**: the start event creates the instance `saga_id = UUID v5(saga type,
//!   correlation key)` — a duplicated start event cannot create a second instance — and
//!   enters the initial state. Other events are routed to the instance of their correlation
//!   key (none: ignored). Every handled event id is recorded; duplicates change nothing.
//! - **Entering a state** sends its command with id
//!   `deterministic_id(saga_id, "<state>/attempt-<n>")`, the saga's correlation id, the
//!   causing event as causation and its tenant/user, and arms the step timeout. A terminal
//!   state ends the instance (`Completed`, `Failed`, or `TimedOut` when a timeout led there).
//! - **A matching event** runs `capture`; without `compensate` the current step counts as
//!   completed and the target is entered; with `compensate` the compensations of all
//!   completed steps are sent newest first (ids `deterministic_id(saga_id,
//!   "compensate/<state>")`, each once) and then the target is entered. Non-matching events
//!   are recorded and ignored.
//! - **Timeouts** ([`SagaEngine::tick`]): the step command is resent as attempt `n + 1` after
//!   the back-off while attempts remain; then `on_timeout` is followed.
//! - **Persistence**: one [`SagaDocument`] per instance in a [`SagaStore`], saved with
//!   compare-and-set together with the commands it decided (`pending`); see
//!   [`engine`] for the publish/recover protocol.
//!
//! - **Metrics** (names in `crate::observability::names`): `saga_started_total` per new
//!   instance; when an instance ends, one of `saga_completed_total`, `saga_compensated_total`
//!   (failed after compensations), `saga_timed_out_total`, `saga_failed_total`, and the
//!   `saga_completion_ratio` gauge, all labelled `saga`.
//!
//! Limitation: a state entered twice by one instance (a loop) reuses its command ids, so the
//! second visit's commands are dropped as duplicates downstream; machines are acyclic.

pub mod clock;
pub mod document;
pub mod engine;
pub mod machine;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use document::{
    CompensationRecord, PendingCommand, SagaDocument, SagaStatus, SagaTimeout, TimerKind,
};
pub use engine::{EventOutcome, SagaEngine, SagaError, saga_id};
pub use machine::{
    CommandSpec, MachineError, RetryPolicy, SagaMachine, SagaOutcome, SagaStateSpec,
    TransitionSpec, VisitLimit, capture_nothing,
};
pub use store::{SagaStore, SagaStoreError};
