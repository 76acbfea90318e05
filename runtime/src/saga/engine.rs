//! The generic saga engine: runs any [`SagaMachine`] against a [`SagaStore`] and a
//! [`MessageBus`].
//!
//! Every change follows the same path: load the instance → decide (pure, in memory) → save
//! the document together with the commands just decided (`pending`, compare-and-set on
//! `version`; on conflict reload and decide again) → publish the pending commands (broker
//! confirms) → clear them (compare-and-set). A crash between the save and the publish leaves
//! the commands in `pending`; [`SagaEngine::recover`] (at start and periodically, and also
//! any redelivery of the event) republishes them with the same deterministic ids, so the
//! command handlers' processed-command markers drop duplicates: no effect is lost or doubled.

use crate::bus::{BusError, MessageBus};
use crate::envelope::{Envelope, Metadata, RawEnvelope, deterministic_id};
use crate::message::DecodeError;
use crate::observability::{SagaEnd, record_saga_finished, record_saga_started};
use crate::saga::clock::Clock;
use crate::saga::document::{
    CompensationRecord, PendingCommand, SagaDocument, SagaStatus, SagaTimeout, TimerKind,
};
use crate::saga::machine::{
    CommandSpec, MachineError, SagaMachine, SagaOutcome, SagaStateSpec, TransitionSpec,
};
use crate::saga::store::{SagaStore, SagaStoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Namespace of saga instance ids (UUID v5 of `"<saga type>/<correlation key>"`).
pub const SAGA_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3b7e_91c4_5d2a_4f60_8c1e_a7d3_5a6a_9a11);

/// How many times a change is re-decided after a version conflict before giving up.
const MAX_CAS_ATTEMPTS: usize = 16;
/// How many instances one `tick` or `recover` page handles.
const BATCH: usize = 100;

/// The deterministic id of the instance of saga `saga_type` for `correlation_key`.
pub fn saga_id(saga_type: &str, correlation_key: &str) -> Uuid {
    Uuid::new_v5(
        &SAGA_ID_NAMESPACE,
        format!("{saga_type}/{correlation_key}").as_bytes(),
    )
}

/// Error of the saga engine.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// The saga store failed.
    #[error(transparent)]
    Store(#[from] SagaStoreError),
    /// Publishing a command failed; it stays pending and is republished by `recover`.
    #[error("publishing a saga command failed: {0}")]
    Bus(#[from] BusError),
    /// The event could not be decoded by `init` or `capture` (permanent: dead-letter it).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The stored saga data does not match the machine's data type (permanent).
    #[error("saga data of `{saga_id}` cannot be read: {source}")]
    Data {
        /// The instance.
        saga_id: Uuid,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The stored current step is not a state of the machine (permanent).
    #[error("saga `{saga}` has no state `{state}`")]
    UnknownState {
        /// Saga type.
        saga: String,
        /// The stored step.
        state: String,
    },
    /// Too many concurrent writers on one instance; retry later.
    #[error("saga instance `{0}` is too contended")]
    Contention(Uuid),
}

impl SagaError {
    /// `true` when retrying the same input cannot succeed (dead-letter the message).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SagaError::Decode(_) | SagaError::Data { .. } | SagaError::UnknownState { .. }
        )
    }
}

/// What [`SagaEngine::handle_event`] did with an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// The event started a new instance, which entered its initial state.
    Started {
        /// The new instance.
        saga_id: Uuid,
    },
    /// The event moved the instance from one state to another.
    Transitioned {
        /// Previous state.
        from: String,
        /// New state.
        to: String,
    },
    /// The instance exists but the event matches no transition of its current state (late
    /// duplicate, out-of-order noise, second start event): recorded, otherwise ignored.
    Ignored,
    /// The event was already handled (its id is recorded): nothing changed.
    Duplicate,
    /// `correlate` found no key: the event does not concern this saga.
    NotCorrelated,
    /// No instance exists for the event's key (and it is not the start event).
    NoInstance,
    /// The instance has already ended.
    Finished,
}

/// Who and what caused the commands decided in one change.
struct Cause {
    causation: Option<Uuid>,
    tenant_id: String,
    user_id: Option<String>,
    traceparent: Option<String>,
}

impl Cause {
    fn event(event: &RawEnvelope) -> Self {
        Cause {
            causation: Some(event.meta.message_id),
            tenant_id: event.meta.tenant_id.clone(),
            user_id: event.meta.user_id.clone(),
            traceparent: event.meta.traceparent.clone(),
        }
    }

    fn timer(doc: &SagaDocument) -> Self {
        Cause {
            causation: doc.last_event_id,
            tenant_id: doc.tenant_id.clone(),
            user_id: doc.user_id.clone(),
            traceparent: doc.traceparent.clone(),
        }
    }
}

/// Runs one [`SagaMachine`]: events in, commands out, timers in between.
///
/// ```
/// use runtime::memory::{MemoryBus, saga::MemorySagaStore};
/// use runtime::saga::*;
/// use runtime::{Metadata, RawEnvelope};
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A one-step saga: on `ordering.OrderPlaced` ask inventory to reserve, complete on
/// // `inventory.StockReserved`.
/// let machine: SagaMachine<serde_json::Value> = SagaMachine {
///     name: "demo",
///     start_event: "ordering.OrderPlaced",
///     initial_state: "Reserving",
///     correlate: |e| e.payload["order_id"].as_str().map(str::to_owned),
///     init: |e| Ok(e.payload.clone()),
///     states: vec![
///         SagaStateSpec {
///             command: Some(CommandSpec {
///                 context: "inventory",
///                 message_type: "inventory.ReserveStock",
///                 schema_version: 1,
///                 build: |d| (d["order_id"].as_str().unwrap_or_default().to_owned(), d.clone()),
///             }),
///             transitions: vec![TransitionSpec::to("inventory.StockReserved", "Done")],
///             ..SagaStateSpec::new("Reserving")
///         },
///         SagaStateSpec::terminal("Done", SagaOutcome::Completed),
///     ],
/// };
/// let store = Arc::new(MemorySagaStore::new());
/// let bus = Arc::new(MemoryBus::new());
/// let engine = SagaEngine::new(machine, store.clone(), bus.clone(), Arc::new(SystemClock)).unwrap();
/// let placed = RawEnvelope {
///     meta: Metadata::new_root("ordering.OrderPlaced", "acme"),
///     payload: serde_json::json!({ "order_id": "o-1" }),
/// };
/// let outcome = engine.handle_event(&placed).await.unwrap();
/// assert!(matches!(outcome, EventOutcome::Started { .. }));
/// assert_eq!(store.all()[0].current_step, "Reserving");
/// # }
/// ```
pub struct SagaEngine<D> {
    machine: SagaMachine<D>,
    store: Arc<dyn SagaStore>,
    bus: Arc<dyn MessageBus>,
    clock: Arc<dyn Clock>,
}

impl<D> SagaEngine<D>
where
    D: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// An engine for `machine` (validated first).
    pub fn new(
        machine: SagaMachine<D>,
        store: Arc<dyn SagaStore>,
        bus: Arc<dyn MessageBus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, MachineError> {
        machine.validate()?;
        Ok(SagaEngine {
            machine,
            store,
            bus,
            clock,
        })
    }

    /// The machine this engine runs.
    pub fn machine(&self) -> &SagaMachine<D> {
        &self.machine
    }

    /// The instance id for `correlation_key`.
    pub fn saga_id(&self, correlation_key: &str) -> Uuid {
        saga_id(self.machine.name, correlation_key)
    }

    /// The correlation key of `event` for this saga (`None`: the event does not concern it).
    pub fn correlation_key(&self, event: &RawEnvelope) -> Option<String> {
        (self.machine.correlate)(event)
    }

    /// Handles one event: starts an instance (start event), moves one (an event matching a
    /// transition of its current state) or records it as ignored. Duplicates (same message id)
    /// change nothing but republish the instance's pending commands.
    ///
    /// `Err` with [`SagaError::is_permanent`] means the event should be dead-lettered; other
    /// errors are transient (the consumer should redeliver it later).
    pub async fn handle_event(&self, event: &RawEnvelope) -> Result<EventOutcome, SagaError> {
        let Some(key) = (self.machine.correlate)(event) else {
            return Ok(EventOutcome::NotCorrelated);
        };
        let is_start = event.meta.message_type == self.machine.start_event;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let now = self.clock.now();
            let (doc, outcome, before) = match self.store.load(self.machine.name, &key).await? {
                None if is_start => {
                    let doc = self.start(event, &key, now)?;
                    match self.store.insert(&doc).await {
                        Ok(()) => {}
                        Err(SagaStoreError::AlreadyExists(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    record_saga_started(self.machine.name);
                    let outcome = EventOutcome::Started {
                        saga_id: doc.saga_id,
                    };
                    (doc, outcome, None)
                }
                None => {
                    tracing::debug!(saga = self.machine.name, key, event_type = %event.meta.message_type,
                        "no saga instance for event; ignored");
                    return Ok(EventOutcome::NoInstance);
                }
                Some(mut doc) => {
                    if doc.has_processed(event.meta.message_id) {
                        self.publish_pending(doc).await?;
                        return Ok(EventOutcome::Duplicate);
                    }
                    if doc.status.is_terminal() {
                        tracing::debug!(
                            saga = self.machine.name,
                            key,
                            "event for a finished saga instance; ignored"
                        );
                        return Ok(EventOutcome::Finished);
                    }
                    let before = doc.status;
                    let expected = doc.version;
                    let outcome = self.apply_event(&mut doc, event, now)?;
                    doc.version += 1;
                    doc.updated_at = now;
                    match self.store.save(&doc, expected).await {
                        Ok(()) => {}
                        Err(SagaStoreError::Conflict { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    (doc, outcome, Some(before))
                }
            };
            self.observe(before, &doc);
            self.publish_pending(doc).await?;
            return Ok(outcome);
        }
        Err(SagaError::Contention(self.saga_id(&key)))
    }

    /// Fires the timers due now (per the engine's clock). See [`SagaEngine::tick_at`].
    pub async fn tick(&self) -> Result<usize, SagaError> {
        self.tick_at(self.clock.now()).await
    }

    /// Fires every timer due at or before `now`: a step timeout schedules (or, without
    /// back-off, sends) the next attempt of the step command while attempts remain, and
    /// follows `on_timeout` when they are exhausted; a due retry sends the attempt and starts
    /// its timeout. Returns how many instances changed.
    pub async fn tick_at(&self, now: DateTime<Utc>) -> Result<usize, SagaError> {
        let mut changed = 0;
        loop {
            let due = self.store.due(self.machine.name, now, BATCH).await?;
            let page = due.len();
            for doc in due {
                if self.fire(doc, now).await? {
                    changed += 1;
                }
            }
            if page < BATCH {
                return Ok(changed);
            }
        }
    }

    /// Republishes the pending commands of every instance (after a crash between a save and
    /// its publish). Returns how many commands were published.
    pub async fn recover(&self) -> Result<usize, SagaError> {
        let mut published = 0;
        loop {
            let docs = self.store.with_pending(self.machine.name, BATCH).await?;
            let page = docs.len();
            for doc in docs {
                published += self.publish_pending(doc).await?;
            }
            if page < BATCH {
                return Ok(published);
            }
        }
    }

    /// Timer and recovery loop of an orchestrator process: recovers once, then fires due
    /// timers every `tick_every` and recovers every `recover_every`, until `shutdown`
    /// completes. Errors are logged and retried on the next round. Events are fed separately:
    /// the process wires its consumer to [`SagaEngine::handle_event`].
    pub async fn run(
        &self,
        tick_every: Duration,
        recover_every: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(tick_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut recoveries = tokio::time::interval(recover_every);
        recoveries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = recoveries.tick() => {
                    if let Err(e) = self.recover().await {
                        tracing::warn!(saga = self.machine.name, error = %e, "saga recovery failed");
                    }
                }
                _ = ticks.tick() => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!(saga = self.machine.name, error = %e, "saga timers failed");
                    }
                }
            }
        }
    }

    // ----- decisions (pure, on an in-memory document) -----

    fn start(
        &self,
        event: &RawEnvelope,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<SagaDocument, SagaError> {
        let saga_id = self.saga_id(key);
        let mut data = (self.machine.init)(event)?;
        let mut doc = SagaDocument {
            saga_id,
            saga_type: self.machine.name.to_owned(),
            correlation_key: key.to_owned(),
            correlation_id: event.meta.correlation_id,
            tenant_id: event.meta.tenant_id.clone(),
            user_id: event.meta.user_id.clone(),
            traceparent: event.meta.traceparent.clone(),
            current_step: self.machine.initial_state.to_owned(),
            visits: Default::default(),
            status: SagaStatus::Running,
            data: serde_json::Value::Null,
            timeouts: Vec::new(),
            completed_steps: Vec::new(),
            compensations: Vec::new(),
            processed_events: vec![event.meta.message_id],
            last_event_id: Some(event.meta.message_id),
            pending: Vec::new(),
            timed_out: false,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.enter(
            &mut doc,
            &mut data,
            self.machine.initial_state,
            &Cause::event(event),
            now,
        )?;
        doc.data = self.encode(&doc, &data)?;
        Ok(doc)
    }

    fn apply_event(
        &self,
        doc: &mut SagaDocument,
        event: &RawEnvelope,
        now: DateTime<Utc>,
    ) -> Result<EventOutcome, SagaError> {
        doc.processed_events.push(event.meta.message_id);
        doc.last_event_id = Some(event.meta.message_id);
        let state = self.state(&doc.current_step)?;
        let Some(transition) = state
            .transitions
            .iter()
            .find(|t| t.on_event == event.meta.message_type)
        else {
            tracing::debug!(saga = self.machine.name, step = %doc.current_step,
                event_type = %event.meta.message_type, "event matches no transition; recorded and ignored");
            return Ok(EventOutcome::Ignored);
        };
        let mut data = self.decode(doc)?;
        (transition.capture)(&mut data, event)?;
        let from = doc.current_step.clone();
        self.follow(doc, &mut data, state, transition, &Cause::event(event), now)?;
        doc.data = self.encode(doc, &data)?;
        Ok(EventOutcome::Transitioned {
            from,
            to: doc.current_step.clone(),
        })
    }

    /// Fires the due timers of one document (`true` when something changed).
    fn fire_timers(&self, doc: &mut SagaDocument, now: DateTime<Utc>) -> Result<bool, SagaError> {
        let mut data = self.decode(doc)?;
        let mut changed = false;
        // Every new timer is due strictly later than `now` unless a duration is zero; the
        // bound only protects against zero timeouts.
        for _ in 0..64 {
            if doc.status.is_terminal() {
                break;
            }
            let Some(idx) = doc
                .timeouts
                .iter()
                .enumerate()
                .filter(|(_, t)| t.due_at <= now)
                .min_by_key(|(_, t)| t.due_at)
                .map(|(i, _)| i)
            else {
                break;
            };
            let timer = doc.timeouts.remove(idx);
            changed = true;
            let state = self.state(&doc.current_step)?;
            if timer.step != state.name {
                continue; // stale timer of a previous step
            }
            let cause = Cause::timer(doc);
            match timer.kind {
                TimerKind::Retry => {
                    self.send_attempt(doc, &data, state, timer.attempt, &cause, now)
                }
                TimerKind::StepTimeout if timer.attempt < state.retry.attempts() => {
                    let next = timer.attempt + 1;
                    let delay = state.retry.delay_after(timer.attempt);
                    if delay.is_zero() {
                        self.send_attempt(doc, &data, state, next, &cause, now);
                    } else {
                        doc.timeouts.push(SagaTimeout {
                            step: state.name.to_owned(),
                            attempt: next,
                            due_at: add(now, delay),
                            kind: TimerKind::Retry,
                        });
                    }
                }
                TimerKind::StepTimeout => {
                    doc.timed_out = true;
                    tracing::info!(saga = self.machine.name, saga_id = %doc.saga_id, step = state.name,
                        attempts = timer.attempt, "saga step timed out");
                    // The step's command may still take effect after the timeout: with
                    // `compensate_on_timeout` it counts as completed, so a compensating
                    // `on_timeout` undoes it too (the compensation must then be a no-op when
                    // the command never took effect, and make a late command a no-op).
                    if state.compensate_on_timeout {
                        complete_step(doc, state);
                    }
                    match &state.on_timeout {
                        Some(t) => self.follow(doc, &mut data, state, t, &cause, now)?,
                        None => {
                            doc.timeouts.clear();
                            doc.status = SagaStatus::TimedOut;
                        }
                    }
                }
            }
        }
        if changed {
            doc.data = self.encode(doc, &data)?;
        }
        Ok(changed)
    }

    /// Takes `transition` out of `state`: compensates or completes the step, enters the target.
    fn follow(
        &self,
        doc: &mut SagaDocument,
        data: &mut D,
        state: &SagaStateSpec<D>,
        transition: &TransitionSpec<D>,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Result<(), SagaError> {
        if transition.compensate {
            self.compensate(doc, data, cause, now)?;
        } else if transition.target != state.name {
            // A transition back into the same state tries the step again: it did not complete.
            complete_step(doc, state);
        }
        self.enter(doc, data, transition.target, cause, now)
    }

    /// Sends the compensation of every completed step not compensated yet, newest first.
    fn compensate(
        &self,
        doc: &mut SagaDocument,
        data: &D,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Result<(), SagaError> {
        let steps: Vec<String> = doc.completed_steps.iter().rev().cloned().collect();
        for step in steps {
            if doc.compensations.iter().any(|c| c.step == step) {
                continue;
            }
            let Some(spec) = self.state(&step)?.compensation else {
                continue;
            };
            let id = deterministic_id(doc.saga_id, &format!("compensate/{step}"));
            // Every command the step may have sent (each attempt of each visit) is voided by
            // the compensation: one still in flight (a retry tier, a slow handler) then does
            // nothing when it arrives after it.
            // Newest visit first, at most MAX_VOIDS ids (a header must fit in one AMQP frame).
            let attempts = self.state(&step)?.retry.attempts();
            let saga_id = doc.saga_id;
            let mut voids = Vec::new();
            for v in (1..=self.visit(doc, &step).max(1)).rev() {
                voids.extend((1..=attempts).map(|a| attempt_id(saga_id, &step, v, a)));
                if voids.len() >= MAX_VOIDS {
                    voids.truncate(MAX_VOIDS);
                    break;
                }
            }
            self.push_command(doc, data, &spec, id, cause, now);
            if let Some(sent) = doc.pending.last_mut() {
                sent.envelope.meta.voids = voids;
            }
            doc.compensations.push(CompensationRecord {
                step,
                command_id: id,
                sent: false,
            });
        }
        Ok(())
    }

    fn enter(
        &self,
        doc: &mut SagaDocument,
        data: &mut D,
        target: &str,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Result<(), SagaError> {
        let mut state = self.state(target)?;
        // A state entered once more than its bound allows leads to its `on_exhausted` state
        // (the machine is validated so that such a chain ends).
        for _ in 0..=self.machine.states.len() {
            let visit = self.visit(doc, state.name) + 1;
            match state.visits {
                Some(limit) if visit > limit.max => {
                    tracing::info!(saga = self.machine.name, saga_id = %doc.saga_id, step = state.name,
                        visits = limit.max, "saga state visited as often as allowed");
                    if limit.compensate {
                        self.compensate(doc, data, cause, now)?;
                    }
                    state = self.state(limit.on_exhausted)?;
                }
                _ => break,
            }
        }
        let visit = self.visit(doc, state.name) + 1;
        doc.visits.insert(state.name.to_owned(), visit);
        doc.current_step = state.name.to_owned();
        doc.timeouts.clear();
        if let Some(outcome) = state.terminal {
            doc.status = match outcome {
                SagaOutcome::Completed => SagaStatus::Completed,
                SagaOutcome::Failed if doc.timed_out => SagaStatus::TimedOut,
                SagaOutcome::Failed => SagaStatus::Failed,
            };
            // A terminal state may still send one final command (confirm, cancel).
            self.send_attempt(doc, data, state, 1, cause, now);
            return Ok(());
        }
        doc.status = if doc.compensations.is_empty() {
            SagaStatus::Running
        } else {
            SagaStatus::Compensating
        };
        self.send_attempt(doc, data, state, 1, cause, now);
        Ok(())
    }

    /// Sends attempt `attempt` of the state's command (if any) and starts its timeout (if any).
    fn send_attempt(
        &self,
        doc: &mut SagaDocument,
        data: &D,
        state: &SagaStateSpec<D>,
        attempt: u32,
        cause: &Cause,
        now: DateTime<Utc>,
    ) {
        if let Some(spec) = &state.command {
            let id = attempt_id(
                doc.saga_id,
                state.name,
                self.visit(doc, state.name),
                attempt,
            );
            self.push_command(doc, data, spec, id, cause, now);
        }
        if let Some(timeout) = state.timeout {
            doc.timeouts.push(SagaTimeout {
                step: state.name.to_owned(),
                attempt,
                due_at: add(now, timeout),
                kind: TimerKind::StepTimeout,
            });
        }
    }

    fn push_command(
        &self,
        doc: &mut SagaDocument,
        data: &D,
        spec: &CommandSpec<D>,
        id: Uuid,
        cause: &Cause,
        now: DateTime<Utc>,
    ) {
        let (aggregate_id, payload) = (spec.build)(data);
        let mut meta = Metadata::new_root(spec.message_type, cause.tenant_id.clone());
        meta.message_id = id;
        meta.schema_version = spec.schema_version;
        meta.correlation_id = doc.correlation_id;
        meta.causation_id = cause.causation;
        meta.user_id = cause.user_id.clone();
        meta.created_at = now;
        meta.aggregate_id = Some(aggregate_id);
        // A child span of the cause: the same trace through every hop.
        meta.traceparent = cause
            .traceparent
            .as_deref()
            .map(|p| crate::observability::child_traceparent(Some(p)));
        doc.pending.push(PendingCommand {
            context: spec.context.to_owned(),
            envelope: Envelope { meta, payload },
        });
    }

    // ----- persistence and publishing -----

    /// Fires the due timers of `doc`, saving with compare-and-set (reload on conflict).
    async fn fire(&self, mut doc: SagaDocument, now: DateTime<Utc>) -> Result<bool, SagaError> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            if doc.status.is_terminal() {
                return Ok(false);
            }
            let before = doc.status;
            let expected = doc.version;
            if !self.fire_timers(&mut doc, now)? {
                return Ok(false);
            }
            doc.version += 1;
            doc.updated_at = now;
            match self.store.save(&doc, expected).await {
                Ok(()) => {
                    self.observe(Some(before), &doc);
                    self.publish_pending(doc).await?;
                    return Ok(true);
                }
                Err(SagaStoreError::Conflict { .. }) => {
                    match self
                        .store
                        .load(&doc.saga_type, &doc.correlation_key)
                        .await?
                    {
                        Some(fresh) => doc = fresh,
                        None => return Ok(false),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SagaError::Contention(doc.saga_id))
    }

    /// Publishes the pending commands of a saved document in order, then removes the
    /// confirmed ones (compare-and-set). Returns how many were published.
    async fn publish_pending(&self, doc: SagaDocument) -> Result<usize, SagaError> {
        if doc.pending.is_empty() {
            return Ok(0);
        }
        let mut published = Vec::new();
        let mut failure = None;
        for p in &doc.pending {
            match self.bus.send_command(&p.context, &p.envelope).await {
                Ok(()) => published.push(p.envelope.meta.message_id),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let count = published.len();
        if count > 0 {
            self.clear_pending(doc, &published).await?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(count),
        }
    }

    async fn clear_pending(
        &self,
        mut doc: SagaDocument,
        published: &[Uuid],
    ) -> Result<(), SagaError> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let expected = doc.version;
            doc.pending
                .retain(|p| !published.contains(&p.envelope.meta.message_id));
            for c in &mut doc.compensations {
                if published.contains(&c.command_id) {
                    c.sent = true;
                }
            }
            doc.version += 1;
            match self.store.save(&doc, expected).await {
                Ok(()) => return Ok(()),
                Err(SagaStoreError::Conflict { .. }) => {
                    match self
                        .store
                        .load(&doc.saga_type, &doc.correlation_key)
                        .await?
                    {
                        Some(fresh) => doc = fresh,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SagaError::Contention(doc.saga_id))
    }

    // ----- helpers -----

    /// How often the instance has entered `state` (0 for instances saved before visits were
    /// counted: they never loop).
    fn visit(&self, doc: &SagaDocument, state: &str) -> u32 {
        doc.visits.get(state).copied().unwrap_or(0)
    }

    fn state(&self, name: &str) -> Result<&SagaStateSpec<D>, SagaError> {
        self.machine
            .state(name)
            .ok_or_else(|| SagaError::UnknownState {
                saga: self.machine.name.to_owned(),
                state: name.to_owned(),
            })
    }

    fn decode(&self, doc: &SagaDocument) -> Result<D, SagaError> {
        serde_json::from_value(doc.data.clone()).map_err(|source| SagaError::Data {
            saga_id: doc.saga_id,
            source,
        })
    }

    fn encode(&self, doc: &SagaDocument, data: &D) -> Result<serde_json::Value, SagaError> {
        serde_json::to_value(data).map_err(|source| SagaError::Data {
            saga_id: doc.saga_id,
            source,
        })
    }

    /// Records metrics for a saved change (`before` is `None` for a new instance): when the
    /// instance ends, exactly one of `saga_{completed,compensated,timed_out,failed}_total`
    /// and the completion ratio (see `crate::observability`).
    fn observe(&self, before: Option<SagaStatus>, doc: &SagaDocument) {
        let was_terminal = before.is_some_and(SagaStatus::is_terminal);
        if was_terminal || !doc.status.is_terminal() {
            return;
        }
        let end = match doc.status {
            SagaStatus::Completed => SagaEnd::Completed,
            SagaStatus::TimedOut => SagaEnd::TimedOut,
            _ if !doc.compensations.is_empty() => SagaEnd::Compensated,
            _ => SagaEnd::Failed,
        };
        record_saga_finished(self.machine.name, end);
        tracing::info!(saga = self.machine.name, saga_id = %doc.saga_id, status = ?doc.status,
            step = %doc.current_step, "saga instance ended");
    }
}

/// The most command ids a compensation voids (the attempts of the step's newest visits): 256
/// ids take about 9 KB of header.
pub const MAX_VOIDS: usize = 256;

/// The id of attempt `attempt` of the command of `state` in visit `visit`; the first visit
/// keeps the ids of machines without loops.
fn attempt_id(saga_id: Uuid, state: &str, visit: u32, attempt: u32) -> Uuid {
    match visit {
        0 | 1 => deterministic_id(saga_id, &format!("{state}/attempt-{attempt}")),
        v => deterministic_id(saga_id, &format!("{state}/visit-{v}/attempt-{attempt}")),
    }
}

/// Records `state` as a completed step, once, when it has a compensation to undo it with.
fn complete_step<D>(doc: &mut SagaDocument, state: &SagaStateSpec<D>) {
    if state.compensation.is_some() && !doc.completed_steps.iter().any(|s| s == state.name) {
        doc.completed_steps.push(state.name.to_owned());
    }
}

fn add(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::days(365 * 100))
}
