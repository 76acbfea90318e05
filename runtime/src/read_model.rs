//! Read models: the `ReadModelStore` port (denormalised documents per tenant), update
//! operations, queries with filters, sorting and paging, and the projection engine
//! ([`Projector`]) that makes event handling ordered and idempotent.
//!
//! Adapters: [`crate::memory::read_model::MemoryReadModelStore`] and
//! `crate::mongo::read_model::MongoReadModelStore` (feature `mongo`).
//!
//! ## Documents
//! A document is addressed by `(collection, tenant_id, key)`. The store keeps `_id`
//! (`<tenant_id>/<key>`), `_key`, `tenant_id` and the fields written by [`UpdateOp`]s. Fields
//! whose name starts with `_` are bookkeeping: [`ReadModelStore::get`] and
//! [`ReadModelStore::query`] never return them, and update operations may not write them (nor
//! `tenant_id`). Field names may be dotted paths (`address.city`).
//!
//! ## Ordering and idempotency
//! The EventHandler process receives every event of the contexts it subscribes to, possibly
//! twice and possibly out of order (redelivery, retries). It calls [`Projector::project`] for
//! every one of them, with the document updates the event causes (possibly none). The store
//! applies, atomically, the updates and the bookkeeping:
//! - an event with an `aggregate_version` is applied only when it is the next one of its source
//!   aggregate for this projection: a watermark per (projection, tenant, aggregate type,
//!   aggregate id) is kept in the [`WATERMARKS`] collection. `version == watermark + 1`: apply
//!   and advance; `version <= watermark`: [`ProjectOutcome::Duplicate`]; `version > watermark + 1`:
//!   [`ProjectOutcome::NotYet`] — nothing is written, the consumer retries the event later (an
//!   event is never applied out of order). Watermarks start at 0, so a projection must see an
//!   aggregate's events from its first one (deploy the projection's queue before the
//!   aggregate's first event, or rebuild it).
//! - an event without a version (a rejection event) is de-duplicated by its id: a marker
//!   `<projection>/event/<event id>` is kept in the same collection.

use crate::envelope::RawEnvelope;
use crate::store::context_of;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use uuid::Uuid;

/// Name of the collection holding projection watermarks and event markers.
pub const WATERMARKS: &str = "_watermarks";

/// The largest page number a list query accepts, so that `(page - 1) * page_size` always fits
/// the stores' signed 64-bit offsets.
pub const MAX_PAGE: u64 = 1_000_000;

/// One change to one field of a document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum UpdateOp {
    /// Sets the field to the value.
    Set {
        /// Field (dotted path).
        field: String,
        /// New value.
        value: Value,
    },
    /// Removes the field.
    Unset {
        /// Field (dotted path).
        field: String,
    },
    /// Adds `by` to the numeric field (a missing field counts as 0).
    Increment {
        /// Field (dotted path).
        field: String,
        /// Amount (may be negative).
        by: i64,
    },
    /// Appends the value to the array field (a missing field becomes an array).
    Push {
        /// Field (dotted path).
        field: String,
        /// Value to append.
        value: Value,
    },
    /// Removes every element equal to the value from the array field.
    Pull {
        /// Field (dotted path).
        field: String,
        /// Value to remove (scalars; for objects MongoDB matches them as a query).
        value: Value,
    },
}

impl UpdateOp {
    /// Sets `field` to the JSON form of `value`.
    pub fn set<T: Serialize + ?Sized>(field: &str, value: &T) -> Self {
        UpdateOp::Set {
            field: field.to_owned(),
            value: serde_json::to_value(value).unwrap_or(Value::Null),
        }
    }

    /// Adds `by` (possibly negative) to the numeric `field`.
    pub fn increment(field: &str, by: i64) -> Self {
        UpdateOp::Increment {
            field: field.to_owned(),
            by,
        }
    }

    /// Appends the JSON form of `value` to the array `field`.
    pub fn push<T: Serialize + ?Sized>(field: &str, value: &T) -> Self {
        UpdateOp::Push {
            field: field.to_owned(),
            value: serde_json::to_value(value).unwrap_or(Value::Null),
        }
    }

    /// Removes every element equal to the JSON form of `value` from the array `field`.
    pub fn pull<T: Serialize + ?Sized>(field: &str, value: &T) -> Self {
        UpdateOp::Pull {
            field: field.to_owned(),
            value: serde_json::to_value(value).unwrap_or(Value::Null),
        }
    }

    /// The field the operation changes.
    pub fn field(&self) -> &str {
        match self {
            UpdateOp::Set { field, .. }
            | UpdateOp::Unset { field }
            | UpdateOp::Increment { field, .. }
            | UpdateOp::Push { field, .. }
            | UpdateOp::Pull { field, .. } => field,
        }
    }
}

/// Changes to one document, applied in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentUpdate {
    /// The read-model collection.
    pub collection: String,
    /// Tenant of the document.
    pub tenant_id: String,
    /// Key of the document within the collection and tenant.
    pub key: String,
    /// Operations, applied in order.
    pub ops: Vec<UpdateOp>,
    /// Create the document when it does not exist (otherwise the update is skipped).
    pub upsert: bool,
}

impl DocumentUpdate {
    /// The changes an event makes to the document `key` of `collection`, in the event's tenant.
    pub fn for_event(
        collection: &str,
        event: &RawEnvelope,
        key: String,
        upsert: bool,
        ops: Vec<UpdateOp>,
    ) -> Self {
        DocumentUpdate {
            collection: collection.to_owned(),
            tenant_id: event.meta.tenant_id.clone(),
            key,
            ops,
            upsert,
        }
    }
}

/// Comparison of a [`FieldFilter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// Equal (an array field matches when one element is equal).
    Eq,
    /// Not equal.
    Ne,
    /// Greater than (same type only).
    Gt,
    /// Greater than or equal (same type only).
    Gte,
    /// Less than (same type only).
    Lt,
    /// Less than or equal (same type only).
    Lte,
    /// Equal to one of the values of the array `value`.
    In,
}

/// A condition on one field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldFilter {
    /// Field (dotted path).
    pub field: String,
    /// Comparison.
    pub op: FilterOp,
    /// Operand (an array for [`FilterOp::In`]).
    pub value: Value,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    /// Field (dotted path).
    pub field: String,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// A query on one collection, always restricted to one tenant. Filters are combined with AND;
/// results are sorted by the sort keys, then by key (stable paging).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// The tenant whose documents are searched (the only ones ever returned).
    pub tenant_id: String,
    /// Conditions, all of which must hold.
    pub filters: Vec<FieldFilter>,
    /// Sort order.
    pub sort: Vec<SortKey>,
    /// Number of matching documents to skip.
    pub offset: u64,
    /// Maximum number of documents to return (0: none, only the total).
    pub limit: u64,
}

impl Query {
    /// All documents of a tenant, first page of `limit`.
    pub fn all(tenant_id: impl Into<String>, limit: u64) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            filters: Vec::new(),
            sort: Vec::new(),
            offset: 0,
            limit,
        }
    }

    /// Adds a filter.
    pub fn filter(mut self, field: impl Into<String>, op: FilterOp, value: Value) -> Self {
        self.filters.push(FieldFilter {
            field: field.into(),
            op,
            value,
        });
        self
    }

    /// Adds a sort key.
    pub fn sort_by(mut self, field: impl Into<String>, descending: bool) -> Self {
        self.sort.push(SortKey {
            field: field.into(),
            descending,
        });
        self
    }

    /// Sets the offset.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
}

/// One page of query results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The documents (without bookkeeping fields).
    pub items: Vec<Value>,
    /// Number of documents matching the filters (all pages).
    pub total: u64,
    /// The query's offset.
    pub offset: u64,
    /// The query's limit.
    pub limit: u64,
}

/// An index of a collection. `tenant_id` is always prepended, so a unique index is unique per
/// tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// Fields with `true` for descending.
    pub fields: Vec<(String, bool)>,
    /// Unique within a tenant.
    pub unique: bool,
}

/// Position of an event in the stream of its source aggregate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourcePosition {
    /// Tenant of the aggregate.
    pub tenant_id: String,
    /// Aggregate type, `context.Aggregate`.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Version of the aggregate after the event.
    pub version: i64,
}

impl SourcePosition {
    /// The id of the watermark of this source for `projection`.
    pub fn watermark_id(&self, projection: &str) -> String {
        watermark_id(
            projection,
            &self.tenant_id,
            &self.aggregate_type,
            &self.aggregate_id,
        )
    }
}

/// The id of the watermark of one source aggregate for `projection`.
pub fn watermark_id(
    projection: &str,
    tenant_id: &str,
    aggregate_type: &str,
    aggregate_id: &str,
) -> String {
    format!("{projection}/{tenant_id}/{aggregate_type}/{aggregate_id}")
}

/// The id of the de-duplication marker of a version-less event for `projection`.
pub fn event_marker_id(projection: &str, event_id: Uuid) -> String {
    format!("{projection}/event/{event_id}")
}

/// Everything one event does to the read models of one projection, applied atomically.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionWrite {
    /// Name of the projection (the EventHandler's watermark namespace).
    pub projection: String,
    /// Id of the event.
    pub event_id: Uuid,
    /// Position in the source aggregate's stream (`None`: de-duplicate by id only).
    pub position: Option<SourcePosition>,
    /// Document updates (possibly none).
    pub updates: Vec<DocumentUpdate>,
}

/// What projecting an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectOutcome {
    /// The updates were applied and the watermark advanced.
    Applied,
    /// The event was already applied; nothing was written.
    Duplicate,
    /// An earlier event of the same source has not been applied yet; nothing was written.
    /// Retry the event later.
    NotYet {
        /// Current watermark (the last version applied).
        watermark: i64,
    },
}

/// Error of a [`ReadModelStore`].
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The backend is unavailable or a transaction conflicted: retry later.
    #[error("read-model store unavailable: {0}")]
    Unavailable(String),
    /// A field name is not allowed (empty, `$`, leading `_`, `tenant_id`).
    #[error("invalid field `{0}`")]
    InvalidField(String),
    /// An operation does not fit the stored value (increment a string, push to a non-array, ...)
    /// or a value cannot be stored.
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    /// A query is malformed (e.g. `In` without an array).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

impl ReadModelError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadModelError::Unavailable(_))
    }
}

/// Storage of denormalised read-model documents.
///
/// # Example
/// ```
/// use runtime::memory::read_model::MemoryReadModelStore;
/// use runtime::read_model::*;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryReadModelStore::new();
/// store.write(vec![DocumentUpdate {
///     collection: "items".into(),
///     tenant_id: "acme".into(),
///     key: "sku-1".into(),
///     ops: vec![UpdateOp::Set { field: "stock".into(), value: json!(3) }],
///     upsert: true,
/// }]).await.unwrap();
///
/// let page = store
///     .query("items", &Query::all("acme", 10).filter("stock", FilterOp::Gt, json!(1)))
///     .await
///     .unwrap();
/// assert_eq!(page.total, 1);
/// assert_eq!(page.items[0]["stock"], json!(3));
/// // Another tenant sees nothing.
/// assert_eq!(store.query("items", &Query::all("other", 10)).await.unwrap().total, 0);
/// # });
/// ```
#[async_trait]
pub trait ReadModelStore: Send + Sync {
    /// Applies a projection write atomically (see the module documentation).
    async fn apply(&self, write: ProjectionWrite) -> Result<ProjectOutcome, ReadModelError>;
    /// Applies updates without projection bookkeeping (rebuilds, tests, tools).
    async fn write(&self, updates: Vec<DocumentUpdate>) -> Result<(), ReadModelError>;
    /// One document without bookkeeping fields.
    async fn get(
        &self,
        collection: &str,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<Value>, ReadModelError>;
    /// A page of documents of one tenant.
    async fn query(&self, collection: &str, query: &Query) -> Result<Page, ReadModelError>;
    /// Creates the indexes if missing.
    async fn ensure_indexes(
        &self,
        collection: &str,
        indexes: &[IndexSpec],
    ) -> Result<(), ReadModelError>;
    /// The last version of `source` applied by `projection` (0: none).
    async fn watermark(
        &self,
        projection: &str,
        tenant_id: &str,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, ReadModelError>;
}

#[async_trait]
impl<S: ReadModelStore + ?Sized> ReadModelStore for std::sync::Arc<S> {
    async fn apply(&self, write: ProjectionWrite) -> Result<ProjectOutcome, ReadModelError> {
        (**self).apply(write).await
    }
    async fn write(&self, updates: Vec<DocumentUpdate>) -> Result<(), ReadModelError> {
        (**self).write(updates).await
    }
    async fn get(
        &self,
        collection: &str,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<Value>, ReadModelError> {
        (**self).get(collection, tenant_id, key).await
    }
    async fn query(&self, collection: &str, query: &Query) -> Result<Page, ReadModelError> {
        (**self).query(collection, query).await
    }
    async fn ensure_indexes(
        &self,
        collection: &str,
        indexes: &[IndexSpec],
    ) -> Result<(), ReadModelError> {
        (**self).ensure_indexes(collection, indexes).await
    }
    async fn watermark(
        &self,
        projection: &str,
        tenant_id: &str,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, ReadModelError> {
        (**self)
            .watermark(projection, tenant_id, aggregate_type, aggregate_id)
            .await
    }
}

#[async_trait]
impl<S: ReadModelStore + ?Sized> ReadModelStore for &S {
    async fn apply(&self, write: ProjectionWrite) -> Result<ProjectOutcome, ReadModelError> {
        (**self).apply(write).await
    }
    async fn write(&self, updates: Vec<DocumentUpdate>) -> Result<(), ReadModelError> {
        (**self).write(updates).await
    }
    async fn get(
        &self,
        collection: &str,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<Value>, ReadModelError> {
        (**self).get(collection, tenant_id, key).await
    }
    async fn query(&self, collection: &str, query: &Query) -> Result<Page, ReadModelError> {
        (**self).query(collection, query).await
    }
    async fn ensure_indexes(
        &self,
        collection: &str,
        indexes: &[IndexSpec],
    ) -> Result<(), ReadModelError> {
        (**self).ensure_indexes(collection, indexes).await
    }
    async fn watermark(
        &self,
        projection: &str,
        tenant_id: &str,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, ReadModelError> {
        (**self)
            .watermark(projection, tenant_id, aggregate_type, aggregate_id)
            .await
    }
}

/// The projection engine of an EventHandler process: turns an event and the updates it causes
/// into an ordered, idempotent [`ProjectionWrite`].
///
/// The source aggregate type of an event is looked up in the map given with
/// [`with_event_source`](Self::with_event_source); an unmapped event's source type is its
/// context (`inventory.ItemCreated` → `inventory`), which is correct as long as aggregate ids
/// are unique across the aggregate types of the context.
pub struct Projector<S: ReadModelStore> {
    store: S,
    projection: String,
    sources: HashMap<String, String>,
}

impl<S: ReadModelStore> Projector<S> {
    /// A projector writing to `store`, keeping its watermarks under the name `projection`.
    pub fn new(store: S, projection: impl Into<String>) -> Self {
        Self {
            store,
            projection: projection.into(),
            sources: HashMap::new(),
        }
    }

    /// Declares that events of type `event_type` are raised by aggregates of type
    /// `aggregate_type`.
    pub fn with_event_source(
        mut self,
        event_type: impl Into<String>,
        aggregate_type: impl Into<String>,
    ) -> Self {
        self.sources
            .insert(event_type.into(), aggregate_type.into());
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The projection's name.
    pub fn projection(&self) -> &str {
        &self.projection
    }

    /// The source position of an event (`None` without `aggregate_version` or
    /// `aggregate_id`).
    pub fn position(&self, event: &RawEnvelope) -> Option<SourcePosition> {
        let meta = &event.meta;
        let version = meta.aggregate_version?;
        let aggregate_id = meta.aggregate_id.clone()?;
        let aggregate_type = self
            .sources
            .get(&meta.message_type)
            .cloned()
            .unwrap_or_else(|| context_of(&meta.message_type).to_owned());
        Some(SourcePosition {
            tenant_id: meta.tenant_id.clone(),
            aggregate_type,
            aggregate_id,
            version,
        })
    }

    /// Applies the updates `event` causes, in order and once (see the module documentation).
    pub async fn project(
        &self,
        event: &RawEnvelope,
        updates: Vec<DocumentUpdate>,
    ) -> Result<ProjectOutcome, ReadModelError> {
        for u in &updates {
            validate_update(u)?;
        }
        self.store
            .apply(ProjectionWrite {
                projection: self.projection.clone(),
                event_id: event.meta.message_id,
                position: self.position(event),
                updates,
            })
            .await
    }
}

/// Checks a field name: non-empty segments, no `$`, no leading `_`, not `tenant_id`.
pub fn validate_field(field: &str) -> Result<(), ReadModelError> {
    let bad = field.is_empty()
        || field.contains('$')
        || field.contains('\0')
        || field.starts_with('_')
        || field == "tenant_id"
        || field.starts_with("tenant_id.")
        || field.split('.').any(str::is_empty);
    if bad {
        Err(ReadModelError::InvalidField(field.to_owned()))
    } else {
        Ok(())
    }
}

/// Checks every field of an update.
pub fn validate_update(update: &DocumentUpdate) -> Result<(), ReadModelError> {
    update
        .ops
        .iter()
        .try_for_each(|op| validate_field(op.field()))
}

/// Checks the fields of a query (filters and sort keys may not address bookkeeping fields,
/// except `tenant_id`, which is implied anyway).
pub fn validate_query(query: &Query) -> Result<(), ReadModelError> {
    let check = |f: &str| {
        if f == "tenant_id" {
            Ok(())
        } else {
            validate_field(f)
        }
    };
    for f in &query.filters {
        check(&f.field)?;
        if f.op == FilterOp::In && !f.value.is_array() {
            return Err(ReadModelError::InvalidQuery(format!(
                "`in` on `{}` needs an array",
                f.field
            )));
        }
    }
    query.sort.iter().try_for_each(|s| check(&s.field))
}

/// Removes bookkeeping fields (`_id`, `_key`, anything starting with `_`) from a document.
pub fn strip_bookkeeping(doc: &mut Map<String, Value>) {
    doc.retain(|k, _| !k.starts_with('_'));
}

/// The value at a dotted path.
pub fn get_path<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = doc.get(parts.next()?)?;
    for p in parts {
        current = current.as_object()?.get(p)?;
    }
    Some(current)
}

fn slot<'a>(doc: &'a mut Map<String, Value>, path: &str) -> Result<&'a mut Value, ReadModelError> {
    let (parents, last) = match path.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, path),
    };
    let mut map = doc;
    if let Some(parents) = parents {
        for p in parents.split('.') {
            let entry = map
                .entry(p.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            map = entry.as_object_mut().ok_or_else(|| {
                ReadModelError::InvalidUpdate(format!("`{p}` of `{path}` is not an object"))
            })?;
        }
    }
    Ok(map.entry(last.to_owned()).or_insert(Value::Null))
}

/// Applies operations to a document in memory with MongoDB's semantics (used by the
/// in-memory adapter). On error the document may be partly changed: apply to a copy.
pub fn apply_ops(doc: &mut Map<String, Value>, ops: &[UpdateOp]) -> Result<(), ReadModelError> {
    for op in ops {
        validate_field(op.field())?;
        match op {
            UpdateOp::Set { field, value } => *slot(doc, field)? = value.clone(),
            UpdateOp::Unset { field } => {
                let (parent, last) = match field.rsplit_once('.') {
                    Some((p, l)) => (get_path_mut(doc, p), l),
                    None => (Some(&mut *doc), field.as_str()),
                };
                if let Some(parent) = parent {
                    parent.remove(last);
                }
            }
            UpdateOp::Increment { field, by } => {
                let s = slot(doc, field)?;
                *s = match &*s {
                    Value::Null => Value::from(*by),
                    Value::Number(n) => {
                        if let Some(i) = n.as_i64() {
                            Value::from(i.checked_add(*by).ok_or_else(|| {
                                ReadModelError::InvalidUpdate(format!("overflow on `{field}`"))
                            })?)
                        } else {
                            Value::from(n.as_f64().unwrap_or(0.0) + *by as f64)
                        }
                    }
                    other => {
                        return Err(ReadModelError::InvalidUpdate(format!(
                            "cannot increment non-number `{field}` = {other}"
                        )));
                    }
                };
            }
            UpdateOp::Push { field, value } => {
                let s = slot(doc, field)?;
                if s.is_null() {
                    *s = Value::Array(Vec::new());
                }
                s.as_array_mut()
                    .ok_or_else(|| {
                        ReadModelError::InvalidUpdate(format!("`{field}` is not an array"))
                    })?
                    .push(value.clone());
            }
            UpdateOp::Pull { field, value } => {
                if let Some(existing) = get_path_mut_value(doc, field) {
                    let arr = existing.as_array_mut().ok_or_else(|| {
                        ReadModelError::InvalidUpdate(format!("`{field}` is not an array"))
                    })?;
                    arr.retain(|v| !values_equal(v, value));
                }
            }
        }
    }
    Ok(())
}

fn get_path_mut<'a>(
    doc: &'a mut Map<String, Value>,
    path: &str,
) -> Option<&'a mut Map<String, Value>> {
    let mut map = doc;
    for p in path.split('.') {
        map = map.get_mut(p)?.as_object_mut()?;
    }
    Some(map)
}

fn get_path_mut_value<'a>(doc: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Value> {
    match path.rsplit_once('.') {
        Some((p, l)) => get_path_mut(doc, p)?.get_mut(l),
        None => doc.get_mut(path),
    }
}

/// Equality with numbers compared by value (`1 == 1.0`), as MongoDB does.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn type_rank(v: Option<&Value>) -> u8 {
    match v {
        None | Some(Value::Null) => 0,
        Some(Value::Number(_)) => 1,
        Some(Value::String(_)) => 2,
        Some(Value::Object(_)) => 3,
        Some(Value::Array(_)) => 4,
        Some(Value::Bool(_)) => 5,
    }
}

/// Sort order of two optional values, MongoDB-like: missing/null < numbers < strings < objects
/// < arrays < booleans.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for (a, b) in x.iter().zip(y) {
                let o = compare_values(Some(a), Some(b));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// Whether a document matches a filter, MongoDB-like (used by the in-memory adapter).
pub fn matches_filter(doc: &Map<String, Value>, filter: &FieldFilter) -> bool {
    let field = get_path(doc, &filter.field);
    let eq = |operand: &Value| -> bool {
        match field {
            None => operand.is_null(),
            Some(v) => {
                values_equal(v, operand)
                    || v.as_array()
                        .is_some_and(|a| a.iter().any(|e| values_equal(e, operand)))
            }
        }
    };
    let ordered = |want: &[Ordering]| -> bool {
        let Some(v) = field else { return false };
        let candidates: Vec<&Value> = match v {
            Value::Array(a) if !filter.value.is_array() => a.iter().collect(),
            _ => vec![v],
        };
        candidates.into_iter().any(|c| {
            type_rank(Some(c)) == type_rank(Some(&filter.value))
                && want.contains(&compare_values(Some(c), Some(&filter.value)))
        })
    };
    match filter.op {
        FilterOp::Eq => eq(&filter.value),
        FilterOp::Ne => !eq(&filter.value),
        FilterOp::Gt => ordered(&[Ordering::Greater]),
        FilterOp::Gte => ordered(&[Ordering::Greater, Ordering::Equal]),
        FilterOp::Lt => ordered(&[Ordering::Less]),
        FilterOp::Lte => ordered(&[Ordering::Less, Ordering::Equal]),
        FilterOp::In => filter
            .value
            .as_array()
            .is_some_and(|vals| vals.iter().any(eq)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ops_follow_mongodb_semantics() {
        let mut d = obj(json!({"a": 1, "tags": ["x", "y", "x"]}));
        apply_ops(
            &mut d,
            &[
                UpdateOp::Increment {
                    field: "a".into(),
                    by: 2,
                },
                UpdateOp::Increment {
                    field: "n.count".into(),
                    by: -1,
                },
                UpdateOp::Set {
                    field: "addr.city".into(),
                    value: json!("Oslo"),
                },
                UpdateOp::Pull {
                    field: "tags".into(),
                    value: json!("x"),
                },
                UpdateOp::Push {
                    field: "list".into(),
                    value: json!(1),
                },
                UpdateOp::Unset {
                    field: "addr.city".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            Value::Object(d),
            json!({"a": 3, "tags": ["y"], "n": {"count": -1}, "addr": {}, "list": [1]})
        );
        let mut d = obj(json!({"s": "text"}));
        assert!(
            apply_ops(
                &mut d,
                &[UpdateOp::Increment {
                    field: "s".into(),
                    by: 1
                }]
            )
            .is_err()
        );
        assert!(
            apply_ops(
                &mut d,
                &[UpdateOp::Set {
                    field: "_x".into(),
                    value: json!(1)
                }]
            )
            .is_err()
        );
        assert!(validate_field("tenant_id").is_err());
        assert!(validate_field("a..b").is_err());
    }

    #[test]
    fn filters_compare_like_mongodb() {
        let d = obj(json!({"n": 5, "s": "b", "tags": ["x", "y"]}));
        let f = |field: &str, op, value| FieldFilter {
            field: field.into(),
            op,
            value,
        };
        assert!(matches_filter(&d, &f("n", FilterOp::Eq, json!(5.0))));
        assert!(matches_filter(&d, &f("n", FilterOp::Gt, json!(4))));
        assert!(!matches_filter(&d, &f("n", FilterOp::Gt, json!("4"))));
        assert!(matches_filter(&d, &f("s", FilterOp::Lte, json!("b"))));
        assert!(matches_filter(&d, &f("tags", FilterOp::Eq, json!("y"))));
        assert!(matches_filter(&d, &f("n", FilterOp::In, json!([1, 5]))));
        assert!(matches_filter(&d, &f("missing", FilterOp::Ne, json!(1))));
        assert!(!matches_filter(&d, &f("missing", FilterOp::Lt, json!(1))));
    }
}
