//! The EventHandler process: projects the subscribed events into MongoDB read models and
//! sends their reactions (public events, policy commands).

use super::support::{self, Check, Process};
use super::{ProcessError, ProcessInfo, RunOptions};
use crate::amqp::{AmqpBus, HandleOutcome, MessageHandler};
use crate::bus::{BusError, MessageBus, Outgoing};
use crate::envelope::RawEnvelope;
use crate::hook::{HookCall, HookError};
use crate::message::DecodeError;
use crate::mongo::MongoReadModelStore;
use crate::reaction::Reaction;
use crate::read_model::{DocumentUpdate, IndexSpec, ProjectOutcome, Projector};
use crate::store::Retention;
use crate::topology::Topology;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Delay hint of the retry asked for an event whose predecessor has not been applied yet.
pub const NOT_YET_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Waits in place before an event whose predecessor is not applied yet is deferred through
/// the retry tier: with several replicas of an EventHandler, the predecessor is usually being
/// applied by another replica at that very moment, so a few milliseconds save a second.
pub const NOT_YET_LOCAL_WAITS: [Duration; 3] = [
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(100),
];

/// The read-model projection of one EventHandler process (generated per context).
///
/// ```
/// use runtime::message::DecodeError;
/// use runtime::process::Projection;
/// use runtime::read_model::{DocumentUpdate, IndexSpec, UpdateOp};
/// use runtime::RawEnvelope;
///
/// struct Orders;
/// impl Projection for Orders {
///     fn name(&self) -> &'static str { "ordering-read-models" }
///     fn event_sources(&self) -> &'static [(&'static str, &'static str)] {
///         &[("ordering.OrderPlaced", "ordering.Order")]
///     }
///     fn indexes(&self) -> Vec<(&'static str, IndexSpec)> {
///         vec![("orders", IndexSpec { fields: vec![("status".into(), false)], unique: false })]
///     }
///     fn updates(&self, event: &RawEnvelope) -> Result<Vec<DocumentUpdate>, DecodeError> {
///         if event.meta.message_type != "ordering.OrderPlaced" {
///             return Ok(vec![]);
///         }
///         Ok(vec![DocumentUpdate {
///             collection: "orders".into(),
///             tenant_id: event.meta.tenant_id.clone(),
///             key: event.meta.aggregate_id.clone().unwrap_or_default(),
///             ops: vec![UpdateOp::Set { field: "status".into(), value: "placed".into() }],
///             upsert: true,
///         }])
///     }
/// }
/// let meta = runtime::Metadata::new_root("billing.Paid", "acme");
/// let other = RawEnvelope { meta, payload: serde_json::json!({}) };
/// assert!(Orders.updates(&other).unwrap().is_empty());
/// ```
pub trait Projection: Send + Sync + 'static {
    /// The projection's name, the namespace of its watermarks (`ordering-read-models`).
    fn name(&self) -> &'static str;
    /// `(event type, aggregate type)` for every event of the subscribed contexts.
    fn event_sources(&self) -> &'static [(&'static str, &'static str)];
    /// `(collection, index)` for every index of the read models.
    fn indexes(&self) -> Vec<(&'static str, IndexSpec)>;
    /// The document updates `event` causes (empty for events the read models do not use);
    /// a [`DecodeError`] dead-letters the event.
    fn updates(&self, event: &RawEnvelope) -> Result<Vec<DocumentUpdate>, DecodeError>;
    /// Every collection the read models write (what a rebuild replaces).
    fn collections(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether any event has reactions (the process then opens a publisher).
    fn has_reactions(&self) -> bool {
        false
    }
    /// The messages `event` causes besides document updates: public events mapped from it
    /// and the commands of policies on it (see [`crate::reaction`]); a [`DecodeError`]
    /// dead-letters the event. A rebuild never calls it.
    fn reactions(&self, event: &RawEnvelope) -> Result<Vec<Reaction>, DecodeError> {
        let _ = event;
        Ok(Vec::new())
    }
    /// Whether any event has hooks (the process then deletes old hook markers).
    fn has_hooks(&self) -> bool {
        false
    }
    /// The hand-written hooks `event` triggers, run after its reactions (see
    /// [`crate::hook`]); a [`DecodeError`] dead-letters the event. A rebuild never calls it.
    fn hooks<'a>(&'a self, event: &'a RawEnvelope) -> Result<Vec<HookCall<'a>>, DecodeError> {
        let _ = event;
        Ok(Vec::new())
    }
}

/// Runs an EventHandler process with the configuration from the environment until
/// [`super::shutdown_signal`]; see [`run_event_handler_with`]. With the arguments
/// `rebuild [--wait <duration>] [--allow-gaps]` (and the `postgres` feature) it rebuilds the
/// read models from the retained events instead and exits (see [`super::rebuild`]).
pub async fn run_event_handler<P: Projection>(
    info: ProcessInfo,
    topology: Topology,
    projection: P,
) -> Result<(), ProcessError> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => {
            run_event_handler_with(info, RunOptions::from_env(&info)?, topology, projection).await
        }
        #[cfg(feature = "postgres")]
        Some("rebuild") => {
            let options = RunOptions::from_env(&info)?;
            let rebuild = super::rebuild::RebuildOptions::parse(args)?;
            let process = Process::start(info, options)?;
            let report =
                super::rebuild::rebuild(&info, &process.options.config, &projection, &rebuild)
                    .await?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            Ok(())
        }
        Some(other) => Err(ProcessError::Usage(format!(
            "unknown argument {other:?}: `{}` runs without arguments, or `{} rebuild [--wait <duration>] [--allow-gaps]`",
            info.name, info.name
        ))),
    }
}

/// Runs an EventHandler process with `options`:
///
/// 1. connects to MongoDB (`MONGODB_URL`, `MONGODB_DATABASE`, retrying until it answers),
///    ensures the projection's indexes;
/// 2. builds a [`Projector`] named `projection.name()` with every event source;
/// 3. consumes `info.queue`: `updates(event)` (a [`DecodeError`] dead-letters the event), then
///    `project`: applied or duplicate → ack; not yet (an earlier event of the aggregate is
///    missing) → tried again after each of [`NOT_YET_LOCAL_WAITS`], then deferred for
///    [`NOT_YET_RETRY_DELAY`] (waiting is not a failed attempt, see
///    [`HandleOutcome::Defer`]). The consumer's lanes keep one aggregate's events in order
///    within a process; the waits cover replicas that split an aggregate's events; store unavailable → retry; any other
///    store error → dead-letter;
///    Once an event is applied (or was already), its [`Projection::reactions`] are published
///    with confirms, unless a marker says they were sent before; then the marker is written
///    and the event acked. A broker that is down retries the event; a crash between the
///    confirms and the marker sends them again with the same ids (their consumers drop them).
///    Then every [`Projection::hooks`] not marked done for the event runs within its timeout:
///    `Ok` marks it done; [`HookError::Retry`] or the timeout retries the event (hooks marked
///    done are not run again), [`HookError::Reject`] dead-letters it;
/// 4. serves `/health/*` (checks: `mongodb`, `event-consumer`, `rabbitmq` when it has
///    reactions) and `/metrics`.
///
/// Needs no PostgreSQL.
pub async fn run_event_handler_with<P: Projection>(
    info: ProcessInfo,
    options: RunOptions,
    topology: Topology,
    projection: P,
) -> Result<(), ProcessError> {
    let mut process = Process::start(info, options)?;
    let topology = topology.with_prefix(&process.options.config.name_prefix);
    topology.validate()?;
    let queue = process.queue(&topology)?;

    let Some(db) = support::connect_mongo(&process).await? else {
        return process.run().await;
    };
    let store = MongoReadModelStore::new(db.clone());
    support::ensure_indexes(&store, &projection.indexes()).await?;
    let bus = if projection.has_reactions() {
        let Some(bus) = support::connect_bus(&process, &topology).await? else {
            return process.run().await;
        };
        Some(bus)
    } else {
        None
    };
    let projector = projection.event_sources().iter().fold(
        Projector::new(store.clone(), projection.name()),
        |p, (event, aggregate)| p.with_event_source(*event, *aggregate),
    );

    if projection.has_reactions() || projection.has_hooks() {
        let (stop, store, retention) = (
            process.stop.wait(),
            store.clone(),
            process.options.retention,
        );
        let name = projection.name();
        process.spawn("marker-retention", async move {
            run_marker_retention(store, name, retention, stop).await;
            Ok(())
        });
    }
    let ready = Arc::new(AtomicBool::new(false));
    let consumer = support::consumer(&process, &topology, &queue, ready.clone())?;
    support::spawn_consumer(
        &mut process,
        consumer,
        EventConsumer {
            projection,
            projector,
            reactions: bus.clone().map(|bus| Reactor {
                store: store.clone(),
                bus,
            }),
            store,
        },
    );
    let mut checks = vec![
        support::mongo_check(db.clone()),
        Check::flag("event-consumer", ready),
    ];
    if let Some(bus) = bus {
        checks.push(support::bus_check(
            bus,
            process.options.config.amqp_url.clone(),
        ));
    }
    process.serve(axum::Router::new(), checks).await?;
    let result = process.run().await;
    support::close_mongo(db).await;
    result
}

/// Markers deleted per round of [`run_marker_retention`].
const MARKER_PURGE_BATCH: usize = 5_000;

/// Deletes the reaction and hook markers of `projection` older than
/// [`Retention::reaction_markers`] every [`Retention::every`] until `shutdown`, counting them in
/// `retention_deleted_total{table="reaction_markers"}`; a failed round is logged and tried again
/// at the next one.
async fn run_marker_retention(
    store: MongoReadModelStore,
    projection: &'static str,
    retention: Retention,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        loop {
            match store
                .purge_markers(projection, retention.reaction_markers, MARKER_PURGE_BATCH)
                .await
            {
                Ok(n) => {
                    metrics::counter!(crate::observability::names::RETENTION_DELETED_TOTAL, "table" => "reaction_markers")
                        .increment(n);
                    if n < MARKER_PURGE_BATCH as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "deleting old reaction markers failed; trying again later");
                    break;
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(retention.every) => {}
        }
    }
}

struct EventConsumer<P> {
    projection: P,
    projector: Projector<MongoReadModelStore>,
    reactions: Option<Reactor>,
    store: MongoReadModelStore,
}

/// Runs the hooks of `event` that have not succeeded for it before, in order, marking each
/// done when it returns `Ok`.
async fn run_hooks(
    store: &MongoReadModelStore,
    projection: &str,
    event: &RawEnvelope,
    calls: Vec<HookCall<'_>>,
) -> Result<(), HandleOutcome> {
    let id = event.meta.message_id;
    for call in calls {
        let hook = call.name;
        match store.hook_ran(projection, hook, id).await {
            Ok(true) => {
                tracing::debug!(hook, "hook ran before");
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "read-model store unavailable; retrying the event");
                return Err(HandleOutcome::retry(e.to_string()));
            }
        }
        match tokio::time::timeout(call.timeout, call.run).await {
            Ok(Ok(())) => {
                if let Err(e) = store.mark_hook_ran(projection, hook, id).await {
                    tracing::warn!(hook, error = %e, "hook done but not marked; retrying the event");
                    return Err(HandleOutcome::retry(e.to_string()));
                }
                tracing::debug!(hook, "hook done");
            }
            Ok(Err(HookError::Retry(e))) => {
                tracing::warn!(hook, error = %e, "hook failed; retrying the event");
                return Err(HandleOutcome::retry(format!("hook `{hook}`: {e}")));
            }
            Ok(Err(HookError::Reject(e))) => {
                tracing::error!(hook, error = %e, "hook rejected the event; dead-lettering it");
                return Err(HandleOutcome::DeadLetter {
                    reason: format!("hook `{hook}` rejected the event: {e}"),
                });
            }
            Err(_) => {
                let e = format!("hook `{hook}` took longer than {:?}", call.timeout);
                tracing::warn!(hook, "{e}; retrying the event");
                return Err(HandleOutcome::retry(e));
            }
        }
    }
    Ok(())
}

/// Sends the reactions of events, once per event as far as a marker can tell.
struct Reactor {
    store: MongoReadModelStore,
    bus: Arc<AmqpBus>,
}

impl Reactor {
    /// Publishes `reactions` of `event` with confirms unless projection `name` marked them
    /// sent before, then marks them sent.
    async fn send(
        &self,
        name: &str,
        event: &RawEnvelope,
        reactions: &[Reaction],
    ) -> Result<(), HandleOutcome> {
        let id = event.meta.message_id;
        let unavailable = |what: &str, e: String| {
            tracing::warn!(error = %e, "{what}; retrying the event");
            HandleOutcome::retry(e)
        };
        match self.store.reacted(name, id).await {
            Ok(true) => {
                tracing::debug!("reactions sent before");
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => return Err(unavailable("read-model store unavailable", e.to_string())),
        }
        let batch: Vec<Outgoing<'_>> = reactions
            .iter()
            .map(|r| Outgoing {
                route: r.route,
                context: r.context,
                envelope: &r.envelope,
            })
            .collect();
        for result in self.bus.publish_batch(&batch).await {
            match result {
                Ok(()) => {}
                Err(BusError::Unavailable(e)) => {
                    return Err(unavailable("broker unavailable for a reaction", e));
                }
                // Unroutable or refused: the topology is missing a queue or exchange, which a
                // redeployment fixes; the retries and then the dead-letter queue keep the event.
                Err(e) => return Err(unavailable("a reaction was refused", e.to_string())),
            }
        }
        self.store
            .mark_reacted(name, id)
            .await
            .map_err(|e| unavailable("read-model store unavailable", e.to_string()))?;
        tracing::debug!(reactions = reactions.len(), "reactions sent");
        Ok(())
    }
}

#[async_trait]
impl<P: Projection> MessageHandler for EventConsumer<P> {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        let decoded = self.projection.updates(&msg).and_then(|u| {
            let r = match &self.reactions {
                Some(_) => self.projection.reactions(&msg)?,
                None => Vec::new(),
            };
            Ok((u, r, self.projection.hooks(&msg)?))
        });
        let (updates, reactions, hooks) = match decoded {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "undecodable event; dead-lettering it");
                return HandleOutcome::DeadLetter {
                    reason: e.to_string(),
                };
            }
        };
        let mut outcome = self.projector.project(&msg, updates.clone()).await;
        for wait in NOT_YET_LOCAL_WAITS {
            if !matches!(outcome, Ok(ProjectOutcome::NotYet { .. })) {
                break;
            }
            tokio::time::sleep(wait).await;
            outcome = self.projector.project(&msg, updates.clone()).await;
        }
        match outcome {
            Ok(o @ (ProjectOutcome::Applied | ProjectOutcome::Duplicate)) => {
                tracing::debug!(outcome = ?o, "event projected");
                if let (Some(reactor), false) = (&self.reactions, reactions.is_empty())
                    && let Err(outcome) =
                        reactor.send(self.projection.name(), &msg, &reactions).await
                {
                    return outcome;
                }
                if !hooks.is_empty()
                    && let Err(outcome) =
                        run_hooks(&self.store, self.projection.name(), &msg, hooks).await
                {
                    return outcome;
                }
                HandleOutcome::Ack
            }
            Ok(ProjectOutcome::NotYet { watermark }) => {
                tracing::debug!(watermark, "an earlier event is not applied yet; retrying");
                HandleOutcome::Defer {
                    delay: NOT_YET_RETRY_DELAY,
                    reason: format!(
                        "an earlier event is not applied yet (applied up to version {watermark})"
                    ),
                }
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "read-model store unavailable; retrying");
                HandleOutcome::retry(e.to_string())
            }
            Err(e) => {
                tracing::error!(error = %e, "event cannot be projected; dead-lettering it");
                HandleOutcome::DeadLetter {
                    reason: e.to_string(),
                }
            }
        }
    }
}
