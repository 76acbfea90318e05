//! In-memory [`StateStore`] with the same semantics as the PostgreSQL adapter, and an
//! in-memory outbox that tests and simulations drain.

use crate::bus::{BusError, MessageBus};
use crate::store::{
    AggregateKey, CommandOutcome, Commit, CommitResult, OutboxMessage, StateStore, StoreError,
    StoredState, outbox_messages,
};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use uuid::Uuid;

#[derive(Default)]
struct Inner {
    states: HashMap<AggregateKey, StoredState>,
    processed: HashMap<Uuid, CommandOutcome>,
    outbox: VecDeque<OutboxMessage>,
    next_outbox_id: i64,
    fail_next_commits: usize,
}

/// An in-memory state store: snapshots, processed-command markers and an outbox behind one
/// mutex, so a commit is atomic.
#[derive(Default)]
pub struct MemoryStateStore {
    inner: Mutex<Inner>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written commit (every commit is
        // checked before it mutates), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every unpublished outbox message, oldest first.
    pub fn drain_outbox(&self) -> Vec<OutboxMessage> {
        self.lock().outbox.drain(..).collect()
    }

    /// The unpublished outbox messages, oldest first, without taking them.
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.lock().outbox.iter().cloned().collect()
    }

    /// Makes the next `n` commits fail with [`StoreError::Unavailable`] before writing
    /// anything (to test failure handling).
    pub fn fail_next_commits(&self, n: usize) {
        self.lock().fail_next_commits = n;
    }

    /// Publishes the outbox on `bus` in order; stops at the first failure, leaving that message
    /// and the later ones in the outbox. Returns how many were published.
    pub async fn relay_to(&self, bus: &dyn MessageBus) -> Result<usize, BusError> {
        let mut published = 0;
        loop {
            let Some(next) = self.lock().outbox.front().cloned() else {
                return Ok(published);
            };
            next.publish(bus).await?;
            let mut inner = self.lock();
            if inner.outbox.front().map(|m| m.id) == Some(next.id) {
                inner.outbox.pop_front();
            }
            published += 1;
        }
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, key: &AggregateKey) -> Result<Option<StoredState>, StoreError> {
        Ok(self.lock().states.get(key).cloned())
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        commit.validate()?;
        let mut inner = self.lock();
        if inner.fail_next_commits > 0 {
            inner.fail_next_commits -= 1;
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        if let Some(outcome) = inner.processed.get(&commit.command_id) {
            return Err(StoreError::AlreadyProcessed(Box::new(outcome.clone())));
        }
        let actual = inner.states.get(&commit.key).map(|s| s.version);
        if actual.unwrap_or(0) != commit.expected_version
            || (commit.expected_version > 0) != actual.is_some()
        {
            return Err(StoreError::VersionConflict {
                key: commit.key.clone(),
                expected: commit.expected_version,
                actual,
            });
        }
        let version = commit.new_version();
        let rows = outbox_messages(&commit);
        let outbox_rows = rows.len();
        if let Some(state) = commit.new_state {
            inner
                .states
                .insert(commit.key.clone(), StoredState { state, version });
        }
        inner.processed.insert(commit.command_id, commit.outcome);
        for voided in commit.voided {
            inner.processed.entry(voided.command_id).or_insert(voided);
        }
        for (destination, context, envelope) in rows {
            inner.next_outbox_id += 1;
            let id = inner.next_outbox_id;
            inner.outbox.push_back(OutboxMessage {
                id,
                key: commit.key.clone(),
                destination,
                context,
                envelope,
            });
        }
        Ok(CommitResult {
            version,
            outbox_rows,
        })
    }

    async fn processed(&self, command_id: Uuid) -> Result<Option<CommandOutcome>, StoreError> {
        Ok(self.lock().processed.get(&command_id).cloned())
    }
}
