//! [`MongoReadModelStore`]: read models in MongoDB.
//!
//! Documents: `_id` = `<tenant_id>/<key>`, `_key`, `tenant_id` and the projected fields.
//! Projection writes run in a multi-document transaction (watermark/marker first, then the
//! document updates), retried on `TransientTransactionError`.

use crate::read_model::{
    DocumentUpdate, FilterOp, IndexSpec, Page, ProjectOutcome, ProjectionWrite, Query,
    ReadModelError, ReadModelStore, UpdateOp, WATERMARKS, event_marker_id, strip_bookkeeping,
    validate_query, validate_update,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{
    ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT, WriteFailure,
};
use mongodb::options::IndexOptions;
use mongodb::{ClientSession, Collection, Database, IndexModel};
use serde_json::Value;

const DUPLICATE_KEY: i32 = 11000;
const MAX_TRANSACTION_ATTEMPTS: usize = 8;

/// Read models in a MongoDB database.
#[derive(Clone, Debug)]
pub struct MongoReadModelStore {
    db: Database,
}

fn to_bson(v: &Value) -> Result<Bson, ReadModelError> {
    mongodb::bson::serialize_to_bson(v).map_err(|e| ReadModelError::InvalidUpdate(e.to_string()))
}

fn to_json(doc: Document) -> Value {
    match mongodb::bson::deserialize_from_bson::<Value>(Bson::Document(doc)) {
        Ok(Value::Object(mut m)) => {
            strip_bookkeeping(&mut m);
            Value::Object(m)
        }
        Ok(other) => other,
        Err(e) => {
            tracing::warn!(error = %e, "read-model document is not JSON");
            Value::Null
        }
    }
}

fn error_code(e: &mongodb::error::Error) -> Option<i32> {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    error_code(e) == Some(DUPLICATE_KEY)
}

fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        || error_code(e) == Some(112) // WriteConflict
}

pub(super) fn store_error(e: mongodb::error::Error) -> ReadModelError {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code != DUPLICATE_KEY => {
            ReadModelError::InvalidUpdate(w.message.clone())
        }
        _ => ReadModelError::Unavailable(e.to_string()),
    }
}

/// Whether two dotted paths touch the same data (equal, or one is a prefix of the other).
fn paths_conflict(a: &str, b: &str) -> bool {
    a == b
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('.'))
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('.'))
}

/// Translates operations into as few update documents as possible, in order: a new document
/// starts whenever an operation touches a path the current one already touches.
fn update_documents(u: &DocumentUpdate) -> Result<Vec<Document>, ReadModelError> {
    let mut out: Vec<(Document, Vec<String>)> = Vec::new();
    for op in &u.ops {
        let field = op.field().to_owned();
        let (operator, value) = match op {
            UpdateOp::Set { value, .. } => ("$set", to_bson(value)?),
            UpdateOp::Unset { .. } => ("$unset", Bson::String(String::new())),
            UpdateOp::Increment { by, .. } => ("$inc", Bson::Int64(*by)),
            UpdateOp::Push { value, .. } => ("$push", to_bson(value)?),
            UpdateOp::Pull { value, .. } => ("$pull", to_bson(value)?),
        };
        let fresh = match out.last() {
            None => true,
            Some((_, paths)) => paths.iter().any(|p| paths_conflict(p, &field)),
        };
        if fresh {
            out.push((Document::new(), Vec::new()));
        }
        let (update, paths) = out.last_mut().expect("pushed above");
        let section = update
            .entry(operator.to_owned())
            .or_insert_with(|| Bson::Document(Document::new()));
        if let Bson::Document(d) = section {
            d.insert(field.clone(), value);
        }
        paths.push(field);
    }
    let mut docs: Vec<Document> = out.into_iter().map(|(d, _)| d).collect();
    if u.upsert {
        let on_insert = doc! { "_key": &u.key, "tenant_id": &u.tenant_id };
        match docs.first_mut() {
            Some(first) => {
                first.insert("$setOnInsert", on_insert);
            }
            None => docs.push(doc! { "$setOnInsert": on_insert }),
        }
    }
    Ok(docs)
}

fn filter_document(query: &Query) -> Result<Document, ReadModelError> {
    let mut clauses = vec![Bson::Document(doc! { "tenant_id": &query.tenant_id })];
    for f in &query.filters {
        let op = match f.op {
            FilterOp::Eq => "$eq",
            FilterOp::Ne => "$ne",
            FilterOp::Gt => "$gt",
            FilterOp::Gte => "$gte",
            FilterOp::Lt => "$lt",
            FilterOp::Lte => "$lte",
            FilterOp::In => "$in",
        };
        let value = mongodb::bson::serialize_to_bson(&f.value)
            .map_err(|e| ReadModelError::InvalidQuery(e.to_string()))?;
        let mut cond = Document::new();
        cond.insert(op, value);
        let mut clause = Document::new();
        clause.insert(f.field.clone(), cond);
        clauses.push(Bson::Document(clause));
    }
    Ok(doc! { "$and": clauses })
}

/// Result of the watermark step of a transaction.
enum Gate {
    /// Watermark advanced (or marker inserted) inside the transaction.
    Proceed,
    /// Not the next event: decide after aborting.
    Check,
}

impl MongoReadModelStore {
    /// A store on `db` (see [`super::connect`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub(super) fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Replaces the collection `live` by `rebuilt` in one step (`renameCollection` with
    /// `dropTarget`); returns the number of documents `live` then holds.
    pub async fn replace_collection(
        &self,
        live: &str,
        rebuilt: &str,
    ) -> Result<u64, ReadModelError> {
        let name = self.db.name();
        self.db
            .client()
            .database("admin")
            .run_command(doc! {
                "renameCollection": format!("{name}.{rebuilt}"),
                "to": format!("{name}.{live}"),
                "dropTarget": true,
            })
            .await
            .map_err(store_error)?;
        self.collection(live)
            .count_documents(doc! {})
            .await
            .map_err(store_error)
    }

    /// Gives the watermarks and markers of projection `from` to projection `to`, replacing
    /// those `to` had (a rebuilt projection taking over from the live one).
    pub async fn move_projection(&self, from: &str, to: &str) -> Result<(), ReadModelError> {
        let marks = self.collection(WATERMARKS);
        marks
            .delete_many(doc! { "projection": to })
            .await
            .map_err(store_error)?;
        let moved: Vec<Document> = marks
            .find(doc! { "projection": from })
            .await
            .map_err(store_error)?
            .try_collect::<Vec<Document>>()
            .await
            .map_err(store_error)?
            .into_iter()
            .filter_map(|mut d| {
                // Ids start with the projection's name (`watermark_id`, `event_marker_id`).
                let rest = d.get_str("_id").ok()?.strip_prefix(from)?.to_owned();
                d.insert("_id", format!("{to}{rest}"));
                d.insert("projection", to);
                Some(d)
            })
            .collect();
        for chunk in moved.chunks(1000) {
            marks
                .insert_many(chunk.to_vec())
                .await
                .map_err(store_error)?;
        }
        self.drop_projection(from).await
    }

    /// Deletes the watermarks and markers of `projection`.
    pub async fn drop_projection(&self, projection: &str) -> Result<(), ReadModelError> {
        self.collection(WATERMARKS)
            .delete_many(doc! { "projection": projection })
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn gate(
        &self,
        session: &mut ClientSession,
        write: &ProjectionWrite,
    ) -> Result<Gate, mongodb::error::Error> {
        let marks = self.collection(WATERMARKS);
        match &write.position {
            Some(p) if p.version == 1 => {
                let id = p.watermark_id(&write.projection);
                match marks
                    .insert_one(
                        doc! { "_id": id, "projection": &write.projection, "version": 1_i64 },
                    )
                    .session(&mut *session)
                    .await
                {
                    Ok(_) => Ok(Gate::Proceed),
                    Err(e) if is_duplicate_key(&e) => Ok(Gate::Check),
                    Err(e) => Err(e),
                }
            }
            Some(p) => {
                let id = p.watermark_id(&write.projection);
                let r = marks
                    .update_one(
                        doc! { "_id": id, "version": p.version - 1 },
                        doc! { "$set": { "version": p.version } },
                    )
                    .session(&mut *session)
                    .await?;
                Ok(if r.matched_count == 1 {
                    Gate::Proceed
                } else {
                    Gate::Check
                })
            }
            None => {
                let id = event_marker_id(&write.projection, write.event_id);
                match marks
                    .insert_one(doc! { "_id": id, "projection": &write.projection })
                    .session(&mut *session)
                    .await
                {
                    Ok(_) => Ok(Gate::Proceed),
                    Err(e) if is_duplicate_key(&e) => Ok(Gate::Check),
                    Err(e) => Err(e),
                }
            }
        }
    }

    async fn write_updates(
        &self,
        updates: &[DocumentUpdate],
        mut session: Option<&mut ClientSession>,
    ) -> Result<(), mongodb::error::Error> {
        for u in updates {
            let docs =
                update_documents(u).map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
            let coll = self.collection(&u.collection);
            let id = format!("{}/{}", u.tenant_id, u.key);
            for d in docs {
                let action = coll.update_one(doc! { "_id": &id }, d).upsert(u.upsert);
                match session.as_deref_mut() {
                    Some(s) => action.session(s).await?,
                    None => action.await?,
                };
            }
        }
        Ok(())
    }

    /// The outcome of an event that did not pass the gate, from the committed watermark.
    async fn judge(
        &self,
        write: &ProjectionWrite,
    ) -> Result<Option<ProjectOutcome>, ReadModelError> {
        match &write.position {
            None => Ok(Some(ProjectOutcome::Duplicate)),
            Some(p) => {
                let current = self
                    .watermark(
                        &write.projection,
                        &p.tenant_id,
                        &p.aggregate_type,
                        &p.aggregate_id,
                    )
                    .await?;
                Ok(if p.version <= current {
                    Some(ProjectOutcome::Duplicate)
                } else if p.version > current + 1 {
                    Some(ProjectOutcome::NotYet { watermark: current })
                } else {
                    None // the watermark moved meanwhile: try again
                })
            }
        }
    }

    async fn try_apply(
        &self,
        write: &ProjectionWrite,
    ) -> Result<Option<ProjectOutcome>, mongodb::error::Error> {
        let mut session = self.db.client().start_session().await?;
        session.start_transaction().await?;
        let result = async {
            match self.gate(&mut session, write).await? {
                Gate::Check => Ok(false),
                Gate::Proceed => {
                    self.write_updates(&write.updates, Some(&mut session))
                        .await?;
                    Ok(true)
                }
            }
        }
        .await;
        match result {
            Ok(true) => {
                session.commit_transaction().await?;
                Ok(Some(ProjectOutcome::Applied))
            }
            Ok(false) => {
                let _ = session.abort_transaction().await;
                Ok(None)
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }
}

#[async_trait]
impl ReadModelStore for MongoReadModelStore {
    async fn apply(&self, write: ProjectionWrite) -> Result<ProjectOutcome, ReadModelError> {
        for u in &write.updates {
            validate_update(u)?;
            update_documents(u)?;
        }
        let mut last_error = String::new();
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            match self.try_apply(&write).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {
                    if let Some(outcome) = self.judge(&write).await? {
                        return Ok(outcome);
                    }
                }
                Err(e) if is_transient(&e) => {
                    tracing::debug!(error = %e, "read-model transaction conflict; retrying");
                    last_error = e.to_string();
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ReadModelError::Unavailable(format!(
            "transaction kept conflicting: {last_error}"
        )))
    }

    async fn write(&self, updates: Vec<DocumentUpdate>) -> Result<(), ReadModelError> {
        for u in &updates {
            validate_update(u)?;
        }
        self.write_updates(&updates, None)
            .await
            .map_err(store_error)
    }

    async fn get(
        &self,
        collection: &str,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<Value>, ReadModelError> {
        let found = self
            .collection(collection)
            .find_one(doc! { "_id": format!("{tenant_id}/{key}"), "tenant_id": tenant_id })
            .await
            .map_err(store_error)?;
        Ok(found.map(to_json))
    }

    async fn query(&self, collection: &str, query: &Query) -> Result<Page, ReadModelError> {
        validate_query(query)?;
        let filter = filter_document(query)?;
        let coll = self.collection(collection);
        let total = coll
            .count_documents(filter.clone())
            .await
            .map_err(store_error)?;
        let mut items = Vec::new();
        if query.limit > 0 {
            let mut sort = Document::new();
            for s in &query.sort {
                sort.insert(s.field.clone(), if s.descending { -1 } else { 1 });
            }
            sort.insert("_id", 1);
            let cursor = coll
                .find(filter)
                .sort(sort)
                .skip(query.offset)
                .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
                .await
                .map_err(store_error)?;
            let docs: Vec<Document> = cursor.try_collect().await.map_err(store_error)?;
            items = docs.into_iter().map(to_json).collect();
        }
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
        let coll = self.collection(collection);
        for spec in indexes {
            let mut keys = doc! { "tenant_id": 1 };
            for (field, descending) in &spec.fields {
                crate::read_model::validate_field(field)?;
                keys.insert(field.clone(), if *descending { -1 } else { 1 });
            }
            let model = IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(spec.unique).build())
                .build();
            coll.create_index(model).await.map_err(store_error)?;
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
        let found = self
            .collection(WATERMARKS)
            .find_one(doc! { "_id": id })
            .await
            .map_err(store_error)?;
        Ok(found
            .and_then(|d| match d.get("version") {
                Some(Bson::Int64(v)) => Some(*v),
                Some(Bson::Int32(v)) => Some(i64::from(*v)),
                _ => None,
            })
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conflicting_paths_split_update_documents() {
        let u = DocumentUpdate {
            collection: "c".into(),
            tenant_id: "t".into(),
            key: "k".into(),
            ops: vec![
                UpdateOp::Set {
                    field: "a".into(),
                    value: json!(1),
                },
                UpdateOp::Increment {
                    field: "b".into(),
                    by: 2,
                },
                UpdateOp::Increment {
                    field: "a".into(),
                    by: 1,
                },
                UpdateOp::Set {
                    field: "a.x".into(),
                    value: json!(1),
                },
                UpdateOp::Set {
                    field: "ab".into(),
                    value: json!(1),
                },
            ],
            upsert: true,
        };
        let docs = update_documents(&u).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(
            docs[0],
            doc! { "$set": { "a": 1_i64 }, "$inc": { "b": 2_i64 }, "$setOnInsert": { "_key": "k", "tenant_id": "t" } }
        );
        assert_eq!(docs[1], doc! { "$inc": { "a": 1_i64 } });
        assert_eq!(docs[2], doc! { "$set": { "a.x": 1_i64, "ab": 1_i64 } });
    }
}
