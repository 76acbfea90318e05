//! The generic command-handler engine (the plan's `ICommandHandler`), run by the CommandHandler
//! process for every command it consumes:
//!
//! 1. de-duplicate: a command whose processed marker exists returns the stored outcome and
//!    does nothing else;
//! 2. decode the command (`A::Command::decode(meta.message_type, payload)`); an undecodable
//!    command is a permanent error (dead-letter);
//! 3. load the snapshot, run [`AggregateRoot::decide`];
//! 4. accepted: apply every event in order with [`AggregateRoot::apply`], stamp each event
//!    envelope (deterministic id from the command id and the event's index, `aggregate_id`,
//!    `aggregate_version` after that event) and commit state + marker + outbox atomically;
//!    rejected: commit the marker and the rejection events (`aggregate_version = None`) with
//!    the state untouched;
//! 5. on a version conflict (a concurrent handler changed the aggregate) reload and decide
//!    again, at most [`AggregateCommandHandler::with_max_attempts`] times, then give up with a
//!    transient error so the consumer redelivers the command later.
//!
//! [`HandlerError::is_transient`] separates "retry later" from "dead-letter": the AMQP consumer
//! maps it to its retry / dead-letter outcome.

use crate::envelope::{RawEnvelope, deterministic_id};
use crate::message::{AggregateRoot, CommandContext, Decision, DecodeError, MessageSet};
use crate::store::{AggregateKey, CommandOutcome, CommandStatus, Commit, StateStore, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// Default number of decide/commit attempts on version conflicts before giving up.
pub const DEFAULT_MAX_ATTEMPTS: usize = 5;

/// Why a command could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The command's type or payload is not one of the aggregate's commands (permanent).
    #[error("undecodable command: {0}")]
    Decode(#[from] DecodeError),
    /// The command envelope has no `aggregate_id` (permanent).
    #[error("command {0} has no aggregate_id")]
    MissingAggregateId(uuid::Uuid),
    /// No handler is registered for the command's type (permanent).
    #[error("no handler for command type `{0}`")]
    NoHandler(String),
    /// The stored snapshot or an event does not (de)serialize as the aggregate's types
    /// (permanent: a schema mismatch needs a fix, not a retry).
    #[error("state (de)serialization failed: {0}")]
    Serialization(String),
    /// The state store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Concurrent handlers kept changing the aggregate (transient).
    #[error("version conflict persisted after {attempts} attempts on {key}")]
    Conflict {
        /// The aggregate.
        key: AggregateKey,
        /// Attempts made.
        attempts: usize,
    },
}

impl HandlerError {
    /// Whether the command should be redelivered later (`true`) or dead-lettered (`false`).
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::Store(e) => e.is_transient(),
            HandlerError::Conflict { .. } => true,
            HandlerError::Decode(_)
            | HandlerError::MissingAggregateId(_)
            | HandlerError::NoHandler(_)
            | HandlerError::Serialization(_) => false,
        }
    }

    /// Whether the command is a poison message to dead-letter (`!is_transient()`).
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }
}

/// Something that handles raw command envelopes: an [`AggregateCommandHandler`] or a
/// [`CommandDispatcher`] over several of them. Object safe, so a process holds an
/// `Arc<dyn CommandHandler>`.
///
/// # Example
/// ```
/// use runtime::command_handler::{AggregateCommandHandler, CommandHandler};
/// use runtime::memory::state::MemoryStateStore;
/// use runtime::message::*;
/// use runtime::store::CommandStatus;
/// use runtime::{Envelope, Metadata};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Counter { value: i64 }
/// struct Add(i64);
/// #[derive(Clone)]
/// struct Added(i64);
///
/// impl MessageSet for Add {
///     const TYPES: &'static [&'static str] = &["demo.Add"];
///     fn decode(t: &str, p: serde_json::Value) -> Result<Self, DecodeError> {
///         match t {
///             "demo.Add" => serde_json::from_value(p)
///                 .map(Add)
///                 .map_err(|source| DecodeError::InvalidPayload { message_type: t.into(), source }),
///             _ => Err(DecodeError::UnknownType(t.into())),
///         }
///     }
///     fn message_type(&self) -> &'static str { "demo.Add" }
///     fn encode(&self) -> serde_json::Value { self.0.into() }
/// }
/// impl MessageSet for Added {
///     const TYPES: &'static [&'static str] = &["demo.Added"];
///     fn decode(t: &str, p: serde_json::Value) -> Result<Self, DecodeError> {
///         serde_json::from_value(p)
///             .map(Added)
///             .map_err(|source| DecodeError::InvalidPayload { message_type: t.into(), source })
///     }
///     fn message_type(&self) -> &'static str { "demo.Added" }
///     fn encode(&self) -> serde_json::Value { self.0.into() }
/// }
/// impl AggregateRoot for Counter {
///     const TYPE: &'static str = "demo.Counter";
///     type Command = Add;
///     type Event = Added;
///     type Hooks = ();
///     fn decide(_: &(), _: Option<&Self>, _: &CommandContext, c: &Add) -> Decision<Added> {
///         if c.0 > 0 {
///             Decision::Accept(vec![Added(c.0)])
///         } else {
///             Decision::Reject { code: "positive".into(), message: "must be > 0".into(), events: vec![] }
///         }
///     }
///     fn apply(s: Option<Self>, _: &CommandContext, e: &Added) -> Self {
///         Counter { value: s.map_or(0, |s| s.value) + e.0 }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let handler = AggregateCommandHandler::<Counter, _>::new(MemoryStateStore::new(), ());
/// let mut meta = Metadata::new_root("demo.Add", "acme");
/// meta.aggregate_id = Some("c-1".into());
/// let command = Envelope { meta, payload: serde_json::json!(5) };
///
/// let outcome = handler.handle(command.clone()).await.unwrap();
/// assert_eq!(outcome.status, CommandStatus::Processed);
/// assert_eq!(outcome.aggregate_version, Some(1));
/// // Redelivery: same outcome, nothing applied twice.
/// assert_eq!(handler.handle(command).await.unwrap(), outcome);
/// # });
/// ```
#[async_trait]
pub trait CommandHandler: Send + Sync {
    /// The command types this handler accepts.
    fn command_types(&self) -> Vec<&'static str>;
    /// Handles one command envelope; see the module documentation.
    async fn handle(&self, envelope: RawEnvelope) -> Result<CommandOutcome, HandlerError>;
}

/// The engine for one aggregate type `A` over a state store `S`.
pub struct AggregateCommandHandler<A: AggregateRoot, S: StateStore> {
    store: S,
    hooks: A::Hooks,
    max_attempts: usize,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: AggregateRoot, S: StateStore> AggregateCommandHandler<A, S> {
    /// A handler with the aggregate's rule hooks (`()` when it has none).
    pub fn new(store: S, hooks: A::Hooks) -> Self {
        Self {
            store,
            hooks,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            _aggregate: PhantomData,
        }
    }

    /// Sets how many times a command is decided again after a version conflict (at least 1).
    pub fn with_max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The state store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one command; see the module documentation. Returns the outcome (the stored
    /// one for a duplicate).
    pub async fn handle(&self, envelope: RawEnvelope) -> Result<CommandOutcome, HandlerError> {
        let meta = &envelope.meta;
        let command_id = meta.message_id;
        if let Some(outcome) = self
            .store
            .processed(command_id)
            .await
            .map_err(HandlerError::Store)?
        {
            tracing::debug!(%command_id, "duplicate command, returning the stored outcome");
            return Ok(outcome);
        }
        let command = A::Command::decode_versioned(
            &meta.message_type,
            meta.schema_version,
            envelope.payload.clone(),
        )?;
        let aggregate_id = meta
            .aggregate_id
            .clone()
            .ok_or(HandlerError::MissingAggregateId(command_id))?;
        let key = AggregateKey::new(meta.tenant_id.clone(), A::TYPE, aggregate_id.clone());
        let ctx = CommandContext {
            aggregate_id,
            tenant_id: meta.tenant_id.clone(),
            user_id: meta.user_id.clone(),
            now: chrono::Utc::now(),
        };

        for attempt in 1..=self.max_attempts {
            let stored = self.store.load(&key).await.map_err(HandlerError::Store)?;
            let (state, expected_version) = match stored {
                Some(s) => (
                    Some(serde_json::from_value::<A>(s.state).map_err(|e| {
                        HandlerError::Serialization(format!("stored state of {key}: {e}"))
                    })?),
                    s.version,
                ),
                None => (None, 0),
            };
            let commit =
                self.build_commit(&envelope, &key, &ctx, &command, state, expected_version)?;
            let outcome = commit.outcome.clone();
            match self.store.commit(commit).await {
                Ok(_) => return Ok(outcome),
                Err(StoreError::AlreadyProcessed(stored)) => {
                    tracing::debug!(%command_id, "command processed concurrently");
                    return Ok(*stored);
                }
                Err(StoreError::VersionConflict { .. }) => {
                    tracing::debug!(%command_id, %key, attempt, "version conflict, deciding again");
                    continue;
                }
                Err(e) => return Err(HandlerError::Store(e)),
            }
        }
        Err(HandlerError::Conflict {
            key,
            attempts: self.max_attempts,
        })
    }

    fn build_commit(
        &self,
        envelope: &RawEnvelope,
        key: &AggregateKey,
        ctx: &CommandContext,
        command: &A::Command,
        state: Option<A>,
        expected_version: i64,
    ) -> Result<Commit, HandlerError> {
        let meta = &envelope.meta;
        let stamp = |index: usize, event: &A::Event, version: Option<i64>| {
            let mut m = meta.caused(
                deterministic_id(meta.message_id, &format!("event/{index}")),
                event.message_type(),
            );
            m.schema_version = event.schema_version();
            m.aggregate_id = Some(key.aggregate_id.clone());
            m.aggregate_version = version;
            RawEnvelope {
                meta: m,
                payload: event.encode(),
            }
        };
        let (new_state, events, status, code, message, aggregate_version) =
            match A::decide(&self.hooks, state.as_ref(), ctx, command) {
                Decision::Accept(events) => {
                    if events.is_empty() {
                        // Nothing happened: the state and its version stay as they are.
                        (
                            None,
                            Vec::new(),
                            CommandStatus::Processed,
                            None,
                            None,
                            Some(expected_version),
                        )
                    } else {
                        let mut current = state;
                        let mut stamped = Vec::with_capacity(events.len());
                        for (i, event) in events.iter().enumerate() {
                            current = Some(A::apply(current, ctx, event));
                            stamped.push(stamp(i, event, Some(expected_version + i as i64 + 1)));
                        }
                        let json =
                            serde_json::to_value(current.expect("at least one event applied"))
                                .map_err(|e| {
                                    HandlerError::Serialization(format!("new state of {key}: {e}"))
                                })?;
                        let version = expected_version + events.len() as i64;
                        (
                            Some(json),
                            stamped,
                            CommandStatus::Processed,
                            None,
                            None,
                            Some(version),
                        )
                    }
                }
                Decision::Reject {
                    code,
                    message,
                    events,
                } => {
                    let stamped = events
                        .iter()
                        .enumerate()
                        .map(|(i, e)| stamp(i, e, None))
                        .collect();
                    (
                        None,
                        stamped,
                        CommandStatus::Rejected,
                        Some(code),
                        Some(message),
                        None,
                    )
                }
            };
        let outcome = CommandOutcome {
            command_id: meta.message_id,
            correlation_id: meta.correlation_id,
            status,
            code,
            message,
            event_ids: events
                .iter()
                .map(|e: &RawEnvelope| e.meta.message_id)
                .collect(),
            aggregate_version,
        };
        Ok(Commit {
            key: key.clone(),
            expected_version,
            new_state,
            events,
            command_id: meta.message_id,
            outcome_message: outcome.to_envelope(meta),
            outcome,
            voided: meta
                .voids
                .iter()
                .map(|id| CommandOutcome::voided(*id, meta))
                .collect(),
        })
    }
}

#[async_trait]
impl<A: AggregateRoot, S: StateStore> CommandHandler for AggregateCommandHandler<A, S> {
    fn command_types(&self) -> Vec<&'static str> {
        A::Command::TYPES.to_vec()
    }

    async fn handle(&self, envelope: RawEnvelope) -> Result<CommandOutcome, HandlerError> {
        AggregateCommandHandler::handle(self, envelope).await
    }
}

/// Routes commands by type to the handler of their aggregate (one CommandHandler process
/// serves every aggregate of its context).
#[derive(Clone, Default)]
pub struct CommandDispatcher {
    routes: HashMap<&'static str, Arc<dyn CommandHandler>>,
}

impl CommandDispatcher {
    /// An empty dispatcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a handler for every type it accepts (a later registration of the same type
    /// replaces the earlier one).
    pub fn register(mut self, handler: Arc<dyn CommandHandler>) -> Self {
        for t in handler.command_types() {
            self.routes.insert(t, handler.clone());
        }
        self
    }
}

#[async_trait]
impl CommandHandler for CommandDispatcher {
    fn command_types(&self) -> Vec<&'static str> {
        let mut types: Vec<_> = self.routes.keys().copied().collect();
        types.sort_unstable();
        types
    }

    async fn handle(&self, envelope: RawEnvelope) -> Result<CommandOutcome, HandlerError> {
        match self.routes.get(envelope.meta.message_type.as_str()) {
            Some(h) => h.handle(envelope).await,
            None => Err(HandlerError::NoHandler(envelope.meta.message_type.clone())),
        }
    }
}
