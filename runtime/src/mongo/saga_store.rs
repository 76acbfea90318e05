//! [`MongoSagaStore`]: saga instances in MongoDB, one document per instance.
//!
//! Layout of a stored document (collection `sagas` by default):
//! `{ _id: <saga id>, saga_type, correlation_key, version, status, terminal, next_due_at:
//! Date|null, has_pending, doc: <the SagaDocument as JSON-compatible BSON> }`. The top-level
//! fields exist for the indexes and queries: a unique index on `(saga_type, correlation_key)`,
//! one on `(saga_type, terminal, next_due_at)` for due timers and one on
//! `(saga_type, has_pending)` for recovery. Saves are compare-and-set on `version`.

use crate::saga::{SagaDocument, SagaStore, SagaStoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

/// Default collection name.
pub const DEFAULT_COLLECTION: &str = "sagas";

const DUPLICATE_KEY: i32 = 11000;

/// Saga documents in a MongoDB collection.
#[derive(Clone, Debug)]
pub struct MongoSagaStore {
    coll: Collection<Document>,
}

fn unavailable(e: mongodb::error::Error) -> SagaStoreError {
    SagaStoreError::Unavailable(e.to_string())
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

fn bson_time(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(mongodb::bson::DateTime::from_millis(t.timestamp_millis()))
}

fn encode(doc: &SagaDocument) -> Result<Document, SagaStoreError> {
    let json = serde_json::to_value(doc).map_err(|e| SagaStoreError::Encoding(e.to_string()))?;
    let body = mongodb::bson::serialize_to_bson(&json)
        .map_err(|e| SagaStoreError::Encoding(e.to_string()))?;
    Ok(doc! {
        "_id": doc.saga_id.to_string(),
        "saga_type": &doc.saga_type,
        "correlation_key": &doc.correlation_key,
        "version": doc.version,
        "status": format!("{:?}", doc.status),
        "terminal": doc.status.is_terminal(),
        "next_due_at": doc.next_due_at().map(bson_time).unwrap_or(Bson::Null),
        "has_pending": !doc.pending.is_empty(),
        "doc": body,
    })
}

fn decode(stored: Document) -> Result<SagaDocument, SagaStoreError> {
    let body = stored
        .get("doc")
        .cloned()
        .ok_or_else(|| SagaStoreError::Encoding("stored saga without `doc`".into()))?;
    let json: serde_json::Value = mongodb::bson::deserialize_from_bson(body)
        .map_err(|e| SagaStoreError::Encoding(e.to_string()))?;
    serde_json::from_value(json).map_err(|e| SagaStoreError::Encoding(e.to_string()))
}

impl MongoSagaStore {
    /// A store on `collection` of `db`; creates the indexes when missing.
    pub async fn open(db: &Database, collection: &str) -> Result<Self, SagaStoreError> {
        let store = MongoSagaStore {
            coll: db.collection(collection),
        };
        store.ensure_indexes().await?;
        Ok(store)
    }

    /// Creates the unique `(saga_type, correlation_key)` index and the scan indexes.
    pub async fn ensure_indexes(&self) -> Result<(), SagaStoreError> {
        let indexes = [
            (doc! { "saga_type": 1, "correlation_key": 1 }, true),
            (
                doc! { "saga_type": 1, "terminal": 1, "next_due_at": 1 },
                false,
            ),
            (doc! { "saga_type": 1, "has_pending": 1 }, false),
        ];
        for (keys, unique) in indexes {
            let model = IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(unique).build())
                .build();
            self.coll.create_index(model).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn find(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError> {
        let cursor = self
            .coll
            .find(filter)
            .sort(sort)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(unavailable)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
        docs.into_iter().map(decode).collect()
    }
}

#[async_trait]
impl SagaStore for MongoSagaStore {
    async fn insert(&self, doc: &SagaDocument) -> Result<(), SagaStoreError> {
        match self.coll.insert_one(encode(doc)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => {
                Err(SagaStoreError::AlreadyExists(doc.saga_id.to_string()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn load(
        &self,
        saga_type: &str,
        correlation_key: &str,
    ) -> Result<Option<SagaDocument>, SagaStoreError> {
        let found = self
            .coll
            .find_one(doc! { "saga_type": saga_type, "correlation_key": correlation_key })
            .await
            .map_err(unavailable)?;
        found.map(decode).transpose()
    }

    async fn save(&self, doc: &SagaDocument, expected_version: i64) -> Result<(), SagaStoreError> {
        let result = self
            .coll
            .replace_one(
                doc! { "_id": doc.saga_id.to_string(), "version": expected_version },
                encode(doc)?,
            )
            .await
            .map_err(unavailable)?;
        if result.matched_count == 1 {
            Ok(())
        } else {
            Err(SagaStoreError::Conflict {
                saga_id: doc.saga_id.to_string(),
                expected: expected_version,
            })
        }
    }

    async fn due(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError> {
        self.find(
            doc! { "saga_type": saga_type, "terminal": false, "next_due_at": { "$lte": bson_time(now) } },
            doc! { "next_due_at": 1, "_id": 1 },
            limit,
        )
        .await
    }

    async fn with_pending(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaDocument>, SagaStoreError> {
        self.find(
            doc! { "saga_type": saga_type, "has_pending": true },
            doc! { "_id": 1 },
            limit,
        )
        .await
    }
}
