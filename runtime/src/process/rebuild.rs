//! `<context>-event-handler rebuild`: rebuilds every read model of a context from the events
//! retained in the outboxes of its source contexts (PostgreSQL), for a read model that was added
//! or changed on a running system.
//!
//! 1. Replays every retained event (`destination = 'event'`, in outbox order) through the same
//!    projection the EventHandler runs, into fresh collections (`<collection>__rebuild_<stamp>`)
//!    under a projection namespace of its own (`<projection>~rebuild-<stamp>`), so the live
//!    read models keep serving and updating meanwhile. Projections are pure document updates:
//!    replaying has no side effect.
//!    Each later pass also looks back over the last 10,000 outbox ids for rows it has not
//!    applied (a transaction can commit after a later id was read), and tries again the events
//!    whose predecessor was not applied yet.
//! 2. Catches up with the outbox, pass after pass, until no EventHandler replica consumes the
//!    context's queue (the operator stops them; the Query API keeps serving the old documents).
//! 3. Replays what arrived last, renames each rebuilt collection over the live one (MongoDB's
//!    `renameCollection` with `dropTarget`, one atomic step per collection) and replaces the
//!    live projection's watermarks with the rebuild's, so the restarted EventHandler continues
//!    exactly after the last replayed event (what it finds queued is a duplicate and acked).
//!
//! The rebuild is complete only when every source aggregate's events are retained from its
//! first one: a later event whose predecessor is gone (deleted by `OUTBOX_RETENTION`) is a gap,
//! and the rebuild stops without switching unless `--allow-gaps` is given.

use super::ProcessInfo;
use super::event_handler::Projection;
use crate::config::ServiceConfig;
use crate::envelope::RawEnvelope;
use crate::mongo::MongoReadModelStore;
use crate::read_model::{ProjectOutcome, Projector, ReadModelError, ReadModelStore};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Rows read from the outbox per query.
const BATCH: i64 = 500;

/// What the rebuild is asked to do.
#[derive(Clone, Debug)]
pub struct RebuildOptions {
    /// How long to wait for the EventHandler replicas to stop before giving up the switch.
    pub wait: Duration,
    /// Switch over even when some aggregates' first events are no longer retained.
    pub allow_gaps: bool,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(600),
            allow_gaps: false,
        }
    }
}

impl RebuildOptions {
    /// Parses the arguments after `rebuild`: `[--wait <duration>] [--allow-gaps]`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, RebuildError> {
        let mut o = Self::default();
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--allow-gaps" => o.allow_gaps = true,
                "--wait" => {
                    let v = args.next().unwrap_or_default();
                    o.wait = humantime::parse_duration(&v)
                        .map_err(|e| RebuildError::Usage(format!("--wait {v:?}: {e}")))?;
                }
                other => {
                    return Err(RebuildError::Usage(format!(
                        "unknown argument {other:?}; usage: rebuild [--wait <duration, e.g. 10m>] [--allow-gaps]"
                    )));
                }
            }
        }
        Ok(o)
    }
}

/// What a rebuild did (printed as JSON when it ends).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RebuildReport {
    /// Retained events read from the outboxes.
    pub events: u64,
    /// Events applied to the rebuilt read models (every event advances its watermark).
    pub applied: u64,
    /// Events whose predecessor of the same aggregate is not retained (after the last pass).
    pub gaps: u64,
    /// Events the projection cannot decode (the live EventHandler dead-letters them too).
    pub undecodable: u64,
    /// Catch-up passes over the outbox.
    pub passes: u32,
    /// Documents per live collection after the switch.
    pub documents: BTreeMap<String, u64>,
}

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Bad command-line arguments.
    #[error("{0}")]
    Usage(String),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// MongoDB failed.
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    /// The read-model store refused a write.
    #[error("read-model store: {0}")]
    Store(#[from] ReadModelError),
    /// RabbitMQ failed.
    #[error("RabbitMQ: {0}")]
    Amqp(String),
    /// An outbox row is not an envelope.
    #[error("outbox row {id} is not an envelope: {source}")]
    Row {
        /// The row id.
        id: i64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The EventHandler kept consuming; the live read models are untouched.
    #[error(
        "the `{queue}` queue still has {consumers} consumer(s) after {waited:?}: stop the EventHandler replicas to switch over (nothing was switched; the rebuilt collections were dropped)"
    )]
    StillConsumed {
        /// The queue.
        queue: String,
        /// Its consumers.
        consumers: u32,
        /// How long the rebuild waited.
        waited: Duration,
    },
    /// Some aggregates' earlier events are not retained any more.
    #[error(
        "{gaps} event(s) follow events that are no longer in the outbox (OUTBOX_RETENTION deleted them): the rebuilt read models would miss their effects; nothing was switched (pass --allow-gaps to switch anyway)"
    )]
    Gaps {
        /// Events not applied.
        gaps: u64,
    },
}

/// Rebuilds the read models of `projection` (see the module documentation).
pub async fn rebuild<P: Projection>(
    info: &ProcessInfo,
    config: &ServiceConfig,
    projection: &P,
    options: &RebuildOptions,
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let pool = crate::postgres::connect(&config.database_url, 2).await?;
    let db = crate::mongo::connect(&config.mongodb_url, &config.mongodb_database).await?;
    let store = MongoReadModelStore::new(db.clone());
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S%3f").to_string();
    let live = projection.name();
    let namespace = format!("{live}~rebuild-{stamp}");
    let temp = |c: &str| format!("{c}__rebuild_{stamp}");
    let collections: Vec<&str> = projection.collections().to_vec();

    for (collection, index) in projection.indexes() {
        store
            .ensure_indexes(&temp(collection), std::slice::from_ref(&index))
            .await?;
    }
    for c in &collections {
        ensure_collection(&db, &temp(c)).await?;
    }
    let projector = projection.event_sources().iter().fold(
        Projector::new(store.clone(), namespace.clone()),
        |p, (event, aggregate)| p.with_event_source(*event, *aggregate),
    );
    let mut sources: Vec<String> = projection
        .event_sources()
        .iter()
        .map(|(e, _)| e.split_once('.').map_or(*e, |(c, _)| c).to_owned())
        .collect();
    sources.sort();
    sources.dedup();

    let mut report = RebuildReport::default();
    let mut replay = Replay {
        pool: &pool,
        sources: &sources,
        projection,
        projector: &projector,
        temp: &temp,
        last_id: 0,
        done: Default::default(),
        waiting: Default::default(),
    };
    replay.pass(&mut report).await?;
    tracing::info!(
        events = report.events,
        "replayed the retained events; catching up"
    );

    let queue = prefixed(&config.name_prefix, info.queue.unwrap_or_default());
    let amqp = |e: crate::amqp::AmqpError| RebuildError::Amqp(format!("queue `{queue}`: {e}"));
    let broker = crate::amqp::connection::connect(&config.amqp_url)
        .await
        .map_err(amqp)?;
    let waiting = Instant::now();
    loop {
        let consumers = crate::amqp::depth::queue_consumers(&broker, &queue)
            .await
            .map_err(amqp)?;
        if consumers == 0 {
            break;
        }
        if waiting.elapsed() >= options.wait {
            drop_rebuild(&store, &collections, &temp, &namespace).await?;
            return Err(RebuildError::StillConsumed {
                queue,
                consumers,
                waited: waiting.elapsed(),
            });
        }
        tracing::info!(
            %queue, consumers, outbox_row = replay.last_id,
            "caught up; stop the EventHandler replicas of this context to switch over"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        replay.pass(&mut report).await?;
    }
    let _ = broker.close(200, "rebuild".into()).await;
    replay.pass(&mut report).await?;
    if report.gaps > 0 && !options.allow_gaps {
        drop_rebuild(&store, &collections, &temp, &namespace).await?;
        return Err(RebuildError::Gaps { gaps: report.gaps });
    }

    for c in &collections {
        let n = store.replace_collection(c, &temp(c)).await?;
        report.documents.insert((*c).to_owned(), n);
    }
    store.move_projection(&namespace, live).await?;
    tracing::info!(
        events = report.events,
        applied = report.applied,
        gaps = report.gaps,
        undecodable = report.undecodable,
        passes = report.passes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "read models rebuilt and switched over; start the EventHandler replicas"
    );
    Ok(report)
}

fn prefixed(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// How far back (in outbox ids) each pass looks again: a transaction may commit after a
/// later id was read (ids are taken at insert, rows appear at commit), so a pass re-reads the
/// rows of this window it has not applied yet.
const LOOK_BACK: i64 = 10_000;

/// The replay position and what it needs.
struct Replay<'a, P, T> {
    pool: &'a sqlx::PgPool,
    sources: &'a [String],
    projection: &'a P,
    projector: &'a Projector<MongoReadModelStore>,
    temp: &'a T,
    /// The highest outbox id read.
    last_id: i64,
    /// Ids within the look-back window that are done (applied, duplicate or undecodable).
    done: std::collections::BTreeSet<i64>,
    /// Ids whose predecessor of the same aggregate was not applied yet: tried again by the
    /// next pass, gaps if they still wait after the last one.
    waiting: std::collections::BTreeSet<i64>,
}

impl<P: Projection, T: Fn(&str) -> String> Replay<'_, P, T> {
    /// Replays every retained event not replayed yet, and tries the waiting ones again.
    async fn pass(&mut self, report: &mut RebuildReport) -> Result<(), RebuildError> {
        report.passes += 1;
        let mut from = (self.last_id - LOOK_BACK).max(0);
        if let Some(first) = self.waiting.first() {
            from = from.min(first - 1);
        }
        loop {
            let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
                "SELECT id, envelope FROM outbox \
                 WHERE destination = 'event' AND context = ANY($1) AND id > $2 \
                 ORDER BY id LIMIT $3",
            )
            .bind(self.sources)
            .bind(from)
            .bind(BATCH)
            .fetch_all(self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for (id, envelope) in rows {
                from = id;
                if self.done.contains(&id) {
                    continue;
                }
                if !self.waiting.contains(&id) {
                    report.events += 1;
                }
                self.last_id = self.last_id.max(id);
                let event: RawEnvelope = serde_json::from_value(envelope)
                    .map_err(|source| RebuildError::Row { id, source })?;
                let mut updates = match self.projection.updates(&event) {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::warn!(outbox_row = id, error = %e, "undecodable event skipped");
                        report.undecodable += 1;
                        self.done.insert(id);
                        continue;
                    }
                };
                for u in &mut updates {
                    u.collection = (self.temp)(&u.collection);
                }
                match self.projector.project(&event, updates).await? {
                    ProjectOutcome::Applied => {
                        report.applied += 1;
                        self.done.insert(id);
                        self.waiting.remove(&id);
                    }
                    ProjectOutcome::Duplicate => {
                        self.done.insert(id);
                        self.waiting.remove(&id);
                    }
                    ProjectOutcome::NotYet { watermark } => {
                        tracing::debug!(outbox_row = id, watermark, message_type = %event.meta.message_type,
                            aggregate_id = ?event.meta.aggregate_id, "an earlier event of the aggregate is not applied yet");
                        self.waiting.insert(id);
                    }
                }
            }
        }
        let horizon = self.last_id - LOOK_BACK;
        self.done = self.done.split_off(&horizon);
        report.gaps = self.waiting.len() as u64;
        Ok(())
    }
}

/// Creates a collection (a read model without documents still replaces the live one).
async fn ensure_collection(db: &mongodb::Database, name: &str) -> Result<(), RebuildError> {
    let existing = db.list_collection_names().await?;
    if !existing.iter().any(|n| n == name) {
        db.create_collection(name).await?;
    }
    Ok(())
}

/// Drops what an abandoned rebuild wrote.
async fn drop_rebuild<T: Fn(&str) -> String>(
    store: &MongoReadModelStore,
    collections: &[&str],
    temp: &T,
    namespace: &str,
) -> Result<(), RebuildError> {
    for c in collections {
        store
            .database()
            .collection::<mongodb::bson::Document>(&temp(c))
            .drop()
            .await?;
    }
    store.drop_projection(namespace).await?;
    Ok(())
}
