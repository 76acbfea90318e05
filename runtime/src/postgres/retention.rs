//! Retention of a CommandHandler's bookkeeping ([`Retention`]): processed-command markers and
//! published outbox rows older than the configured ages are deleted by the command handler
//! itself, in batches of at most [`DEFAULT_RETENTION_BATCH`] rows, each its own short
//! statement, so the write path never waits behind a long delete. Unpublished outbox rows are
//! never deleted.

use crate::store::Retention;
use sqlx::PgPool;
use std::future::Future;
use std::time::Duration;

/// Counter: rows deleted by retention, labelled `table` (`processed_commands`, `outbox`).
pub const RETENTION_DELETED_METRIC: &str = crate::observability::names::RETENTION_DELETED_TOTAL;
/// Rows deleted per statement.
pub const DEFAULT_RETENTION_BATCH: i64 = 5_000;

/// Rows one [`purge`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Processed-command markers.
    pub processed_commands: u64,
    /// Published outbox rows.
    pub published_outbox: u64,
}

/// Deletes every marker and published outbox row older than `retention`, at most `batch` rows
/// per statement; returns how many.
pub async fn purge(
    pool: &PgPool,
    retention: &Retention,
    batch: i64,
) -> Result<Purged, sqlx::Error> {
    Ok(Purged {
        processed_commands: purge_in_batches(
            pool,
            PURGE_PROCESSED,
            retention.processed_commands,
            batch,
        )
        .await?,
        published_outbox: purge_in_batches(
            pool,
            PURGE_PUBLISHED,
            retention.published_outbox,
            batch,
        )
        .await?,
    })
}

/// Purges now and then every [`Retention::every`] until `shutdown`; a failed round is logged
/// and tried again at the next one.
pub async fn run_retention(pool: PgPool, retention: Retention, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match purge(&pool, &retention, DEFAULT_RETENTION_BATCH).await {
            Ok(p) => {
                metrics::counter!(RETENTION_DELETED_METRIC, "table" => "processed_commands")
                    .increment(p.processed_commands);
                metrics::counter!(RETENTION_DELETED_METRIC, "table" => "outbox")
                    .increment(p.published_outbox);
                if p != Purged::default() {
                    tracing::info!(
                        processed_commands = p.processed_commands,
                        published_outbox = p.published_outbox,
                        "retention deleted old rows"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention failed; trying again later"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(retention.every) => {}
        }
    }
}

/// Deletes the published outbox rows older than `older_than`, in batches; returns how many.
pub async fn purge_published(pool: &PgPool, older_than: Duration) -> Result<u64, sqlx::Error> {
    purge_in_batches(pool, PURGE_PUBLISHED, older_than, DEFAULT_RETENTION_BATCH).await
}

/// Deletes the processed-command markers older than `older_than`, in batches (a command
/// redelivered after that would be handled again: keep it well above the longest redelivery
/// delay); returns how many.
pub async fn purge_processed_commands(
    pool: &PgPool,
    older_than: Duration,
) -> Result<u64, sqlx::Error> {
    purge_in_batches(pool, PURGE_PROCESSED, older_than, DEFAULT_RETENTION_BATCH).await
}

/// One batch of published outbox rows older than `$1` seconds, at most `$2`.
const PURGE_PUBLISHED: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
     WHERE published_at IS NOT NULL AND published_at <= now() - make_interval(secs => $1) \
     ORDER BY published_at LIMIT $2)";

/// One batch of processed-command markers older than `$1` seconds, at most `$2`.
const PURGE_PROCESSED: &str = "DELETE FROM processed_commands WHERE command_id IN \
     (SELECT command_id FROM processed_commands \
     WHERE processed_at <= now() - make_interval(secs => $1) ORDER BY processed_at LIMIT $2)";

/// Runs the batch statement `sql` until a batch deletes fewer than `batch` rows.
async fn purge_in_batches(
    pool: &PgPool,
    sql: &'static str,
    older_than: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(older_than.as_secs_f64())
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < batch.unsigned_abs() {
            return Ok(total);
        }
    }
}
