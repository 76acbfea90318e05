//! In-memory [`ReadModelStore`] with the semantics of the MongoDB adapter: tenant-scoped
//! documents, MongoDB-like update operations, filters and sorting, and atomic projection
//! writes with watermarks and event markers.
//!
//! Indexes are recorded but not used; unique indexes are not enforced.

use crate::read_model::{
    DocumentUpdate, IndexSpec, Page, ProjectOutcome, ProjectionWrite, Query, ReadModelError,
    ReadModelStore, SourcePosition, apply_ops, compare_values, event_marker_id, get_path,
    matches_filter, strip_bookkeeping, validate_query, validate_update,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

type Collection = BTreeMap<String, Map<String, Value>>;
/// Staged documents: (collection, `_id`, document).
type Staged = Vec<(String, String, Map<String, Value>)>;

#[derive(Default)]
struct Inner {
    collections: HashMap<String, Collection>,
    watermarks: HashMap<String, i64>,
    markers: HashSet<String>,
    indexes: HashMap<String, Vec<IndexSpec>>,
}

/// An in-memory read-model store (one mutex: every write is atomic).
#[derive(Default)]
pub struct MemoryReadModelStore {
    inner: Mutex<Inner>,
}

fn doc_id(tenant_id: &str, key: &str) -> String {
    format!("{tenant_id}/{key}")
}

impl MemoryReadModelStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The index specifications recorded for a collection.
    pub fn indexes(&self, collection: &str) -> Vec<IndexSpec> {
        self.lock()
            .indexes
            .get(collection)
            .cloned()
            .unwrap_or_default()
    }
}

/// Applies updates to copies of the touched documents; returns them for write-back.
fn stage(inner: &Inner, updates: &[DocumentUpdate]) -> Result<Staged, ReadModelError> {
    let mut staged: Staged = Vec::new();
    for u in updates {
        validate_update(u)?;
        let id = doc_id(&u.tenant_id, &u.key);
        let pos = staged
            .iter()
            .position(|(c, i, _)| *c == u.collection && *i == id);
        let current = match pos {
            Some(p) => Some(staged[p].2.clone()),
            None => inner
                .collections
                .get(&u.collection)
                .and_then(|c| c.get(&id))
                .cloned(),
        };
        let mut doc = match current {
            Some(d) => d,
            None if u.upsert => {
                let mut d = Map::new();
                d.insert("_id".into(), Value::String(id.clone()));
                d.insert("_key".into(), Value::String(u.key.clone()));
                d.insert("tenant_id".into(), Value::String(u.tenant_id.clone()));
                d
            }
            None => continue,
        };
        apply_ops(&mut doc, &u.ops)?;
        match pos {
            Some(p) => staged[p].2 = doc,
            None => staged.push((u.collection.clone(), id, doc)),
        }
    }
    Ok(staged)
}

fn commit(inner: &mut Inner, staged: Staged) {
    for (collection, id, doc) in staged {
        inner
            .collections
            .entry(collection)
            .or_default()
            .insert(id, doc);
    }
}

#[async_trait]
impl ReadModelStore for MemoryReadModelStore {
    async fn apply(&self, write: ProjectionWrite) -> Result<ProjectOutcome, ReadModelError> {
        let mut inner = self.lock();
        enum Mark {
            Watermark(String, i64),
            Marker(String),
        }
        let mark = match &write.position {
            Some(SourcePosition { version, .. }) => {
                let id = write
                    .position
                    .as_ref()
                    .unwrap()
                    .watermark_id(&write.projection);
                let current = inner.watermarks.get(&id).copied().unwrap_or(0);
                if *version <= current {
                    return Ok(ProjectOutcome::Duplicate);
                }
                if *version > current + 1 {
                    return Ok(ProjectOutcome::NotYet { watermark: current });
                }
                Mark::Watermark(id, *version)
            }
            None => {
                let id = event_marker_id(&write.projection, write.event_id);
                if inner.markers.contains(&id) {
                    return Ok(ProjectOutcome::Duplicate);
                }
                Mark::Marker(id)
            }
        };
        let staged = stage(&inner, &write.updates)?;
        commit(&mut inner, staged);
        match mark {
            Mark::Watermark(id, v) => {
                inner.watermarks.insert(id, v);
            }
            Mark::Marker(id) => {
                inner.markers.insert(id);
            }
        }
        Ok(ProjectOutcome::Applied)
    }

    async fn write(&self, updates: Vec<DocumentUpdate>) -> Result<(), ReadModelError> {
        let mut inner = self.lock();
        let staged = stage(&inner, &updates)?;
        commit(&mut inner, staged);
        Ok(())
    }

    async fn get(
        &self,
        collection: &str,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<Value>, ReadModelError> {
        let inner = self.lock();
        Ok(inner
            .collections
            .get(collection)
            .and_then(|c| c.get(&doc_id(tenant_id, key)))
            .map(|d| {
                let mut d = d.clone();
                strip_bookkeeping(&mut d);
                Value::Object(d)
            }))
    }

    async fn query(&self, collection: &str, query: &Query) -> Result<Page, ReadModelError> {
        validate_query(query)?;
        let inner = self.lock();
        let mut hits: Vec<&Map<String, Value>> = inner
            .collections
            .get(collection)
            .map(|c| {
                c.values()
                    .filter(|d| {
                        d.get("tenant_id").and_then(Value::as_str) == Some(&query.tenant_id)
                            && query.filters.iter().all(|f| matches_filter(d, f))
                    })
                    .collect()
            })
            .unwrap_or_default();
        hits.sort_by(|a, b| {
            for s in &query.sort {
                let o = compare_values(get_path(a, &s.field), get_path(b, &s.field));
                let o = if s.descending { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            compare_values(a.get("_id"), b.get("_id"))
        });
        let total = hits.len() as u64;
        let items = hits
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .map(|d| {
                let mut d = d.clone();
                strip_bookkeeping(&mut d);
                Value::Object(d)
            })
            .collect();
        Ok(Page {
            items,
            total,
            offset: query.offset,
            limit: query.limit,
        })
    }

    async fn ensure_indexes(
        &self,
        collection: &str,
        indexes: &[IndexSpec],
    ) -> Result<(), ReadModelError> {
        let mut inner = self.lock();
        let known = inner.indexes.entry(collection.to_owned()).or_default();
        for i in indexes {
            if !known.contains(i) {
                known.push(i.clone());
            }
        }
        Ok(())
    }

    async fn watermark(
        &self,
        projection: &str,
        tenant_id: &str,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, ReadModelError> {
        let id =
            crate::read_model::watermark_id(projection, tenant_id, aggregate_type, aggregate_id);
        Ok(self.lock().watermarks.get(&id).copied().unwrap_or(0))
    }
}
