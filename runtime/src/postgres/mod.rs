//! PostgreSQL adapter (feature `postgres`, sqlx with runtime-checked queries): the state store
//! of a CommandHandler process ([`PgStateStore`]) and its outbox relay ([`OutboxRelay`]).
//!
//! Tables (created by [`run_migrations`] from `runtime/migrations/`):
//! - `aggregate_snapshots (tenant_id, aggregate_type, aggregate_id, version, state jsonb, updated_at)`;
//! - `processed_commands (command_id pk, outcome jsonb, processed_at)`;
//! - `outbox (id bigserial, tenant_id, aggregate_type, aggregate_id, destination event|outcome,
//!   context, message_id, envelope jsonb, created_at, published_at null)`.
//!
//! Every commit sends `NOTIFY outbox` (delivered when it commits), which wakes the relay.
//! [`run_retention`] deletes old markers and published rows.

mod outbox_relay;
mod retention;
mod state_store;

pub use outbox_relay::{
    ADVISORY_LOCK_CLASS, BatchReport, OUTBOX_BACKLOG_METRIC, OUTBOX_LAG_METRIC,
    OUTBOX_PUBLISHED_METRIC, OUTBOX_REJECTED_METRIC, OutboxRelay, OutboxStats, RelayError,
};
pub use retention::{
    DEFAULT_RETENTION_BATCH, Purged, RETENTION_DELETED_METRIC, purge, purge_processed_commands,
    purge_published, run_retention,
};
pub use state_store::PgStateStore;

use crate::store::StoreError;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The notification channel the state store notifies and the relay listens on.
pub const OUTBOX_CHANNEL: &str = "outbox";

/// The embedded migrations of `runtime/migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Applies the runtime's migrations (idempotent; concurrent callers are serialised by sqlx's
/// migration lock).
pub async fn run_migrations(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Opens a connection pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(url)
        .await
}

/// Maps a sqlx error to a store error: undecodable data is [`StoreError::Corrupt`], anything
/// else (connection, pool, server errors such as serialization failures) is
/// [`StoreError::Unavailable`] — the caller retries.
pub fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}
