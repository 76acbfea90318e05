//! [`OutboxRelay`]: publishes the outbox on the message bus, in order, at least once.

use super::OUTBOX_CHANNEL;
use crate::bus::{BusError, MessageBus, Outgoing};
use crate::envelope::RawEnvelope;
use crate::store::{AggregateKey, OutboxDestination, OutboxMessage};
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Gauge: number of unpublished outbox rows.
pub const OUTBOX_BACKLOG_METRIC: &str = crate::observability::names::OUTBOX_BACKLOG;
/// Gauge: age in seconds of the oldest unpublished outbox row (0 when empty).
pub const OUTBOX_LAG_METRIC: &str = crate::observability::names::OUTBOX_LAG_SECONDS;
/// Counter: outbox rows published.
pub const OUTBOX_PUBLISHED_METRIC: &str = "outbox_published_total";
/// Counter: outbox rows the broker refused for good (kept with `publish_error`).
pub const OUTBOX_REJECTED_METRIC: &str = "outbox_rejected_total";

/// First argument of the relay's `pg_try_advisory_xact_lock(int, int)` calls (a namespace
/// for the per-aggregate locks; the second argument is `hashtext` of the aggregate key).
pub const ADVISORY_LOCK_CLASS: i32 = 0x0B0C;

/// Error of the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error("outbox database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row could not be decoded.
    #[error("corrupt outbox row {id}: {reason}")]
    Corrupt {
        /// Row id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
}

/// What one [`OutboxRelay::relay_batch`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Rows published and marked.
    pub published: usize,
    /// Rows the broker refused for good ([`BusError::Rejected`] or [`BusError::Encode`]):
    /// marked published with their `publish_error`, so they do not block later rows.
    pub rejected: usize,
    /// Rows taken by this batch.
    pub taken: usize,
    /// The publish error that stopped the batch, if any (the row and the later ones stay
    /// unpublished).
    pub failure: Option<String>,
}

/// Backlog statistics of the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxStats {
    /// Unpublished rows.
    pub backlog: i64,
    /// Age of the oldest unpublished row.
    pub lag: Duration,
}

/// Publishes outbox rows on a [`MessageBus`]: events with `publish_event(context, ..)`,
/// outcomes with `publish_outcome(context, ..)`.
///
/// Each batch is one transaction that selects unpublished rows `ORDER BY id FOR UPDATE SKIP
/// LOCKED`, publishes them in order with [`MessageBus::publish_batch`] (pipelined on
/// RabbitMQ: every publish sent, then every confirm awaited), marks the confirmed ones
/// published and commits. Delivery is at least once (a crash between the confirm and the commit republishes;
/// consumers de-duplicate by message id).
///
/// **Per-aggregate order with several relays.** A batch only takes rows of aggregates whose
/// transaction-scoped advisory lock `pg_try_advisory_xact_lock(ADVISORY_LOCK_CLASS,
/// hashtext(tenant/type/id))` it obtains (evaluated in the `WHERE` clause). So while one relay
/// holds rows of an aggregate, every other relay skips *all* rows of that aggregate — it can
/// never publish a later row while an earlier one is held elsewhere; and a batch drops the rows
/// of an aggregate unless it holds that aggregate's oldest unpublished row (the locks are
/// tried during the scan, so a lock freed mid-scan could otherwise let a batch skip a row and
/// take a later one). (A hash collision only
/// serialises two aggregates.) On a publish failure the batch stops: the rows published so
/// far are marked, the failed row and the rest stay unpublished and are retried after a
/// back-off, still in order. A row the broker refuses for good ([`BusError::Rejected`], e.g.
/// an unroutable mandatory message, or [`BusError::Encode`]) would block its aggregate forever:
/// it is logged, counted ([`OUTBOX_REJECTED_METRIC`]) and marked published with its
/// `publish_error`, and the batch goes on.
///
/// The relay sleeps on `LISTEN outbox` (every commit notifies it) with a polling fallback
/// every `poll_interval`, and after each pass reports [`OUTBOX_BACKLOG_METRIC`] and
/// [`OUTBOX_LAG_METRIC`].
pub struct OutboxRelay {
    pool: PgPool,
    bus: Arc<dyn MessageBus>,
    batch_size: i64,
    poll_interval: Duration,
    max_backoff: Duration,
}

impl OutboxRelay {
    /// A relay with batches of 100, polling every second, backing off up to 5 s.
    pub fn new(pool: PgPool, bus: Arc<dyn MessageBus>) -> Self {
        Self {
            pool,
            bus,
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// Sets the maximum number of rows per batch (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.clamp(1, i64::MAX as usize) as i64;
        self
    }

    /// Sets the polling fallback interval.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Sets the longest back-off after a failure (the back-off starts at 50 ms and doubles).
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Keeps only the rows of aggregates whose oldest unpublished row is the first row this
    /// batch took. The advisory locks are tried row by row while the `SELECT` scans, with the
    /// statement's snapshot: when another relay commits (and releases an aggregate's lock)
    /// during the scan, this batch can skip that aggregate's next row (lock still held) and
    /// then take a later one (lock just freed). A fresh statement sees the other relay's
    /// commit, so the gap shows, and those rows wait for the next batch instead of being
    /// published out of order.
    async fn oldest_first(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        messages: Vec<OutboxMessage>,
    ) -> Result<Vec<OutboxMessage>, RelayError> {
        // The batch is in id order: an aggregate's first row in it is its oldest taken row.
        let mut seen: HashSet<&AggregateKey> = HashSet::new();
        let firsts: Vec<(&AggregateKey, i64)> = messages
            .iter()
            .filter(|m| seen.insert(&m.key))
            .map(|m| (&m.key, m.id))
            .collect();
        if firsts.is_empty() {
            return Ok(messages);
        }
        // One statement for the whole batch (index `outbox_unpublished_by_aggregate`).
        let tenants: Vec<&str> = firsts.iter().map(|(k, _)| k.tenant_id.as_str()).collect();
        let types: Vec<&str> = firsts
            .iter()
            .map(|(k, _)| k.aggregate_type.as_str())
            .collect();
        let ids: Vec<&str> = firsts
            .iter()
            .map(|(k, _)| k.aggregate_id.as_str())
            .collect();
        let oldest: Vec<Option<i64>> = sqlx::query_scalar(
            "SELECT (SELECT min(o.id) FROM outbox o \
                      WHERE o.published_at IS NULL AND o.tenant_id = k.t \
                        AND o.aggregate_type = k.a AND o.aggregate_id = k.i) \
             FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(t, a, i, n) \
             ORDER BY k.n",
        )
        .bind(&tenants)
        .bind(&types)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
        let in_order: HashSet<AggregateKey> = firsts
            .iter()
            .zip(oldest)
            .filter(|((_, first), oldest)| *oldest == Some(*first))
            .map(|((key, _), _)| (*key).clone())
            .collect();
        Ok(messages
            .into_iter()
            .filter(|m| in_order.contains(&m.key))
            .collect())
    }

    /// Publishes one batch (see the type documentation).
    pub async fn relay_batch(&self) -> Result<BatchReport, RelayError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, tenant_id, aggregate_type, aggregate_id, destination, context, envelope \
             FROM outbox \
             WHERE published_at IS NULL \
               AND pg_try_advisory_xact_lock($2, hashtext(tenant_id || '/' || aggregate_type || '/' || aggregate_id)) \
             ORDER BY id \
             LIMIT $1 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .bind(ADVISORY_LOCK_CLASS)
        .fetch_all(&mut *tx)
        .await?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let destination: String = row.try_get("destination")?;
            let Json(envelope): Json<RawEnvelope> = row.try_get("envelope")?;
            messages.push(OutboxMessage {
                id,
                key: AggregateKey {
                    tenant_id: row.try_get("tenant_id")?,
                    aggregate_type: row.try_get("aggregate_type")?,
                    aggregate_id: row.try_get("aggregate_id")?,
                },
                destination: OutboxDestination::parse(&destination).ok_or_else(|| {
                    RelayError::Corrupt {
                        id,
                        reason: format!("unknown destination `{destination}`"),
                    }
                })?,
                context: row.try_get("context")?,
                envelope,
            });
        }
        let messages = self.oldest_first(&mut tx, messages).await?;
        let mut report = BatchReport {
            taken: messages.len(),
            ..BatchReport::default()
        };
        let mut published: Vec<i64> = Vec::with_capacity(messages.len());
        let mut rejected: Vec<(i64, String)> = Vec::new();
        let batch: Vec<Outgoing<'_>> = messages.iter().map(OutboxMessage::outgoing).collect();
        let results = self.bus.publish_batch(&batch).await;
        for (m, result) in messages.iter().zip(results) {
            match result {
                Ok(()) => published.push(m.id),
                Err(e @ (BusError::Rejected(_) | BusError::Encode(_))) => {
                    tracing::error!(
                        outbox_id = m.id,
                        message_id = %m.envelope.meta.message_id,
                        error = %e,
                        "the broker refused an outbox message for good; skipping it"
                    );
                    rejected.push((m.id, e.to_string()));
                }
                Err(e) => {
                    tracing::warn!(outbox_id = m.id, error = %e, "outbox publish failed; stopping the batch");
                    report.failure = Some(e.to_string());
                    break;
                }
            }
        }
        if !published.is_empty() {
            sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                .bind(&published)
                .execute(&mut *tx)
                .await?;
        }
        for (id, error) in &rejected {
            sqlx::query("UPDATE outbox SET published_at = now(), publish_error = $2 WHERE id = $1")
                .bind(id)
                .bind(error)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        report.published = published.len();
        report.rejected = rejected.len();
        metrics::counter!(OUTBOX_REJECTED_METRIC).increment(rejected.len() as u64);
        metrics::counter!(OUTBOX_PUBLISHED_METRIC).increment(published.len() as u64);
        Ok(report)
    }

    /// Publishes batches until the outbox is empty (or a publish fails). Returns the number of
    /// rows published and the failure, if any.
    pub async fn drain(&self) -> Result<(usize, Option<BusError>), RelayError> {
        let mut total = 0;
        loop {
            let report = self.relay_batch().await?;
            total += report.published;
            if let Some(f) = report.failure {
                return Ok((total, Some(BusError::Unavailable(f))));
            }
            if report.taken < self.batch_size as usize {
                return Ok((total, None));
            }
        }
    }

    /// Backlog and lag of the outbox.
    pub async fn stats(&self) -> Result<OutboxStats, RelayError> {
        let row = sqlx::query(
            "SELECT count(*) AS backlog, \
             COALESCE(EXTRACT(EPOCH FROM (now() - min(created_at)))::float8, 0) AS lag \
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let lag: f64 = row.try_get("lag")?;
        Ok(OutboxStats {
            backlog: row.try_get("backlog")?,
            lag: Duration::from_secs_f64(lag.max(0.0)),
        })
    }

    async fn report_metrics(&self) {
        match self.stats().await {
            Ok(s) => crate::observability::set_outbox(s.backlog.max(0) as u64, s.lag),
            Err(e) => tracing::debug!(error = %e, "cannot read outbox stats"),
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for outbox notifications; polling");
                return None;
            }
        };
        match listener.listen(OUTBOX_CHANNEL).await {
            Ok(()) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for outbox notifications; polling");
                None
            }
        }
    }

    /// Runs until `shutdown` completes: drains the outbox, then waits for a notification, the
    /// poll interval or (after a failure) the back-off, and drains again. Failures (database or
    /// broker) are logged and retried with exponential back-off; this never gives up.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(50);
        loop {
            let failed = match self.drain().await {
                Ok((_, None)) => false,
                Ok((_, Some(e))) => {
                    tracing::warn!(error = %e, ?backoff, "outbox relay backing off");
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "outbox relay database error; backing off");
                    true
                }
            };
            self.report_metrics().await;
            if failed {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(self.max_backoff);
                continue;
            }
            backoff = Duration::from_millis(50);
            if listener.is_none() {
                listener = self.listen().await;
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()).map_err(|e| e.to_string()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                r = notified => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "outbox LISTEN connection failed; reconnecting");
                        listener = None;
                    }
                }
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }
}
