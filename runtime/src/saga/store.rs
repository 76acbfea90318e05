//! The saga store port: one [`SagaDocument`] per instance, compare-and-set on `version`.

use crate::saga::document::SagaDocument;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Error of a saga store.
#[derive(Debug, thiserror::Error)]
pub enum SagaStoreError {
    /// An instance with the same saga type and correlation key (or id) already exists.
    #[error("saga instance `{0}` already exists")]
    AlreadyExists(String),
    /// The stored version is not the expected one (another writer saved first), or the
    /// instance is gone.
    #[error("saga instance `{saga_id}` was changed concurrently (expected version {expected})")]
    Conflict {
        /// The instance.
        saga_id: String,
        /// The version the writer expected.
        expected: i64,
    },
    /// The database failed or is unreachable.
    #[error("saga store unavailable: {0}")]
    Unavailable(String),
    /// A stored document could not be encoded or decoded.
    #[error("saga document encoding: {0}")]
    Encoding(String),
}

/// Persists saga instances.
///
/// Adapters: [`crate::memory::saga::MemorySagaStore`] and `crate::mongo::saga_store::MongoSagaStore`.
///
/// ```
/// use runtime::memory::saga::MemorySagaStore;
/// use runtime::saga::{SagaStore, SagaStoreError};
/// # async fn demo(doc: runtime::saga::SagaDocument) -> Result<(), SagaStoreError> {
/// let store = MemorySagaStore::new();
/// store.insert(&doc).await?;
/// let mut loaded = store.load(&doc.saga_type, &doc.correlation_key).await?.unwrap();
/// loaded.current_step = "ChargingPayment".into();
/// loaded.version += 1;
/// store.save(&loaded, loaded.version - 1).await?; // a second save with the old version conflicts
/// # Ok(()) }
/// ```
#[async_trait]
pub trait SagaStore: Send + Sync {
    /// Inserts a new instance; `AlreadyExists` when `(saga_type, correlation_key)` is taken.
    async fn insert(&self, doc: &SagaDocument) -> Result<(), SagaStoreError>;
    /// The instance of `saga_type` for `correlation_key`.
    async fn load(
        &self,
        saga_type: &str,
        correlation_key: &str,
    ) -> Result<Option<SagaDocument>, SagaStoreError>;
    /// Replaces the instance when its stored version is `expected_version` (`doc.version` is
    /// the new version); `Conflict` otherwise.
    async fn save(&self, doc: &SagaDocument, expected_version: i64) -> Result<(), SagaStoreError>;
    /// Non-terminal instances of `saga_type` with a timer due at or before `now`, earliest first.
    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError>;
    /// Instances of `saga_type` with commands not yet confirmed published.
    async fn with_pending(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError>;
}
