//! In-memory [`SagaStore`]: saga documents in a map, with the same compare-and-set semantics
//! as the MongoDB adapter. For simulation tests and single-process demos.

use crate::saga::{SagaDocument, SagaStore, SagaStoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Saga documents kept in memory, keyed by `(saga_type, correlation_key)`.
#[derive(Default)]
pub struct MemorySagaStore {
    docs: Mutex<BTreeMap<(String, String), SagaDocument>>,
}

impl MemorySagaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored document (for test assertions).
    pub fn all(&self) -> Vec<SagaDocument> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), SagaDocument>> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SagaStore for MemorySagaStore {
    async fn insert(&self, doc: &SagaDocument) -> Result<(), SagaStoreError> {
        let mut docs = self.lock();
        let key = (doc.saga_type.clone(), doc.correlation_key.clone());
        if docs.contains_key(&key) || docs.values().any(|d| d.saga_id == doc.saga_id) {
            return Err(SagaStoreError::AlreadyExists(doc.saga_id.to_string()));
        }
        docs.insert(key, doc.clone());
        Ok(())
    }

    async fn load(
        &self,
        saga_type: &str,
        correlation_key: &str,
    ) -> Result<Option<SagaDocument>, SagaStoreError> {
        Ok(self
            .lock()
            .get(&(saga_type.to_owned(), correlation_key.to_owned()))
            .cloned())
    }

    async fn save(&self, doc: &SagaDocument, expected_version: i64) -> Result<(), SagaStoreError> {
        let mut docs = self.lock();
        let key = (doc.saga_type.clone(), doc.correlation_key.clone());
        match docs.get_mut(&key) {
            Some(stored) if stored.version == expected_version && stored.saga_id == doc.saga_id => {
                *stored = doc.clone();
                Ok(())
            }
            _ => Err(SagaStoreError::Conflict {
                saga_id: doc.saga_id.to_string(),
                expected: expected_version,
            }),
        }
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError> {
        let mut due: Vec<SagaDocument> = self
            .lock()
            .values()
            .filter(|d| d.saga_type == saga_type && !d.status.is_terminal())
            .filter(|d| d.next_due_at().is_some_and(|t| t <= now))
            .cloned()
            .collect();
        due.sort_by_key(|d| d.next_due_at());
        due.truncate(limit);
        Ok(due)
    }

    async fn with_pending(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|d| d.saga_type == saga_type && !d.pending.is_empty())
            .take(limit)
            .cloned()
            .collect())
    }
}
