//! [`PgStateStore`]: the [`StateStore`] on PostgreSQL.

use super::{OUTBOX_CHANNEL, store_error};
use crate::store::{
    AggregateKey, CommandOutcome, Commit, CommitResult, StateStore, StoreError, StoredState,
    outbox_messages,
};
use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// Aggregate snapshots, processed-command markers and the outbox in PostgreSQL.
///
/// A commit is one transaction (READ COMMITTED):
/// 1. `INSERT INTO processed_commands .. ON CONFLICT DO NOTHING` — no row inserted means the
///    command was processed (by an earlier delivery or a concurrent handler, whose commit this
///    insert waited for): the transaction is rolled back and the stored outcome returned as
///    [`StoreError::AlreadyProcessed`];
/// 2. the markers of the commands it voids (`ON CONFLICT DO NOTHING`: one processed before
///    keeps its outcome);
/// 3. the snapshot: `INSERT .. ON CONFLICT DO NOTHING` for version 0, otherwise
///    `UPDATE .. WHERE version = $expected`; no row changed means
///    [`StoreError::VersionConflict`]. A commit without a new state (a rejection) reads the
///    version `FOR SHARE`, so it waits for a concurrent writer and never commits a decision
///    based on a stale version;
/// 4. the outbox rows (events, then the outcome), in order, and `pg_notify('outbox', context)`.
///
/// Because a commit holds the snapshot's row lock until it commits, outbox ids of the accepted
/// events of one aggregate increase in version order.
#[derive(Clone, Debug)]
pub struct PgStateStore {
    pool: PgPool,
}

impl PgStateStore {
    /// A store on `pool` (run [`super::run_migrations`] first).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn current_version(
        tx: &mut Transaction<'static, Postgres>,
        key: &AggregateKey,
        lock: bool,
    ) -> Result<Option<i64>, StoreError> {
        let sql = if lock {
            "SELECT version FROM aggregate_snapshots \
             WHERE tenant_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 FOR SHARE"
        } else {
            "SELECT version FROM aggregate_snapshots \
             WHERE tenant_id = $1 AND aggregate_type = $2 AND aggregate_id = $3"
        };
        let row = sqlx::query(sql)
            .bind(&key.tenant_id)
            .bind(&key.aggregate_type)
            .bind(&key.aggregate_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(store_error)?;
        row.map(|r| r.try_get::<i64, _>("version"))
            .transpose()
            .map_err(store_error)
    }

    async fn commit_in(
        tx: &mut Transaction<'static, Postgres>,
        commit: &Commit,
    ) -> Result<CommitResult, StoreError> {
        let key = &commit.key;
        let inserted = sqlx::query(
            "INSERT INTO processed_commands (command_id, outcome) VALUES ($1, $2) \
             ON CONFLICT (command_id) DO NOTHING",
        )
        .bind(commit.command_id)
        .bind(Json(&commit.outcome))
        .execute(&mut **tx)
        .await
        .map_err(store_error)?
        .rows_affected();
        if inserted == 0 {
            let row = sqlx::query("SELECT outcome FROM processed_commands WHERE command_id = $1")
                .bind(commit.command_id)
                .fetch_one(&mut **tx)
                .await
                .map_err(store_error)?;
            let Json(outcome): Json<CommandOutcome> =
                row.try_get("outcome").map_err(store_error)?;
            return Err(StoreError::AlreadyProcessed(Box::new(outcome)));
        }
        for voided in &commit.voided {
            sqlx::query(
                "INSERT INTO processed_commands (command_id, outcome) VALUES ($1, $2) \
                 ON CONFLICT (command_id) DO NOTHING",
            )
            .bind(voided.command_id)
            .bind(Json(voided))
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        }

        let version = commit.new_version();
        let conflict = |actual| StoreError::VersionConflict {
            key: key.clone(),
            expected: commit.expected_version,
            actual,
        };
        match &commit.new_state {
            Some(state) => {
                let changed = if commit.expected_version == 0 {
                    sqlx::query(
                        "INSERT INTO aggregate_snapshots \
                         (tenant_id, aggregate_type, aggregate_id, version, state) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(&key.tenant_id)
                    .bind(&key.aggregate_type)
                    .bind(&key.aggregate_id)
                    .bind(version)
                    .bind(Json(state))
                    .execute(&mut **tx)
                    .await
                } else {
                    sqlx::query(
                        "UPDATE aggregate_snapshots SET version = $4, state = $5, updated_at = now() \
                         WHERE tenant_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 \
                         AND version = $6",
                    )
                    .bind(&key.tenant_id)
                    .bind(&key.aggregate_type)
                    .bind(&key.aggregate_id)
                    .bind(version)
                    .bind(Json(state))
                    .bind(commit.expected_version)
                    .execute(&mut **tx)
                    .await
                }
                .map_err(store_error)?
                .rows_affected();
                if changed == 0 {
                    let actual = Self::current_version(tx, key, false).await?;
                    return Err(conflict(actual));
                }
            }
            None => {
                let actual = Self::current_version(tx, key, true).await?;
                if actual.unwrap_or(0) != commit.expected_version {
                    return Err(conflict(actual));
                }
            }
        }

        // The outbox rows and the relay's wake-up in one statement (one round trip), the rows
        // in commit order.
        let rows = outbox_messages(commit);
        let destinations: Vec<&str> = rows.iter().map(|(d, _, _)| d.as_str()).collect();
        let contexts: Vec<&str> = rows.iter().map(|(_, c, _)| c.as_str()).collect();
        let ids: Vec<Uuid> = rows.iter().map(|(_, _, e)| e.meta.message_id).collect();
        let envelopes: Vec<Json<&crate::envelope::RawEnvelope>> =
            rows.iter().map(|(_, _, e)| Json(e)).collect();
        sqlx::query(
            "WITH inserted AS ( \
               INSERT INTO outbox (tenant_id, aggregate_type, aggregate_id, destination, \
                 context, message_id, envelope) \
               SELECT $1, $2, $3, d, c, m, e \
               FROM UNNEST($4::text[], $5::text[], $6::uuid[], $7::jsonb[]) \
                 WITH ORDINALITY AS t(d, c, m, e, n) \
               ORDER BY n \
               RETURNING 1) \
             SELECT pg_notify($8, $9) FROM (SELECT count(*) FROM inserted) AS done",
        )
        .bind(&key.tenant_id)
        .bind(&key.aggregate_type)
        .bind(&key.aggregate_id)
        .bind(&destinations)
        .bind(&contexts)
        .bind(&ids)
        .bind(&envelopes)
        .bind(OUTBOX_CHANNEL)
        .bind(key.context())
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
        Ok(CommitResult {
            version,
            outbox_rows: rows.len(),
        })
    }
}

#[async_trait]
impl StateStore for PgStateStore {
    async fn load(&self, key: &AggregateKey) -> Result<Option<StoredState>, StoreError> {
        let row = sqlx::query(
            "SELECT version, state FROM aggregate_snapshots \
             WHERE tenant_id = $1 AND aggregate_type = $2 AND aggregate_id = $3",
        )
        .bind(&key.tenant_id)
        .bind(&key.aggregate_type)
        .bind(&key.aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|r| {
            let Json(state): Json<serde_json::Value> = r.try_get("state")?;
            Ok(StoredState {
                state,
                version: r.try_get("version")?,
            })
        })
        .transpose()
        .map_err(store_error)
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        commit.validate()?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        match Self::commit_in(&mut tx, &commit).await {
            Ok(result) => {
                tx.commit().await.map_err(store_error)?;
                Ok(result)
            }
            Err(e) => {
                // Dropping the transaction would roll back too; doing it explicitly returns
                // the connection to the pool in a clean state right away.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn processed(&self, command_id: Uuid) -> Result<Option<CommandOutcome>, StoreError> {
        let row = sqlx::query("SELECT outcome FROM processed_commands WHERE command_id = $1")
            .bind(command_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|r| r.try_get::<Json<CommandOutcome>, _>("outcome").map(|j| j.0))
            .transpose()
            .map_err(store_error)
    }
}
