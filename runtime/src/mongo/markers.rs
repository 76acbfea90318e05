//! Markers of the EventHandler's side effects in the `_watermarks` collection: that the
//! reactions of an event were sent, that a hook ran for an event. Each is one document whose
//! `_id` names the projection, the kind and the event, with the time it was written (`at`); a
//! read-model rebuild keeps them, [`MongoReadModelStore::purge_markers`] deletes old ones.

use super::read_model::{MongoReadModelStore, store_error};
use crate::read_model::{ReadModelError, WATERMARKS};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use uuid::Uuid;

impl MongoReadModelStore {
    /// Whether `projection` has sent the reactions of event `event_id` (see
    /// [`Self::mark_reacted`]).
    pub async fn reacted(&self, projection: &str, event_id: Uuid) -> Result<bool, ReadModelError> {
        self.marked(&reaction_marker_id(projection, event_id)).await
    }

    /// Records that `projection` has sent (and the broker confirmed) the reactions of event
    /// `event_id`. The marker is keyed `reactions`, not `projection`, so that a read-model
    /// rebuild, which replaces a projection's watermarks, keeps it.
    pub async fn mark_reacted(
        &self,
        projection: &str,
        event_id: Uuid,
    ) -> Result<(), ReadModelError> {
        self.mark(&reaction_marker_id(projection, event_id), projection)
            .await
    }

    /// Whether `projection` has run hook `hook` for event `event_id` successfully (see
    /// [`Self::mark_hook_ran`]).
    pub async fn hook_ran(
        &self,
        projection: &str,
        hook: &str,
        event_id: Uuid,
    ) -> Result<bool, ReadModelError> {
        self.marked(&hook_marker_id(projection, hook, event_id))
            .await
    }

    /// Records that `projection` has run hook `hook` for event `event_id` successfully; like
    /// the reaction markers, a rebuild keeps it.
    pub async fn mark_hook_ran(
        &self,
        projection: &str,
        hook: &str,
        event_id: Uuid,
    ) -> Result<(), ReadModelError> {
        self.mark(&hook_marker_id(projection, hook, event_id), projection)
            .await
    }

    async fn marked(&self, id: &str) -> Result<bool, ReadModelError> {
        let found = self
            .collection(WATERMARKS)
            .find_one(doc! { "_id": id })
            .await
            .map_err(store_error)?;
        Ok(found.is_some())
    }

    /// Deletes the reaction and hook markers of `projection` written more than `age` ago (at
    /// most `batch` per call); returns how many. An event redelivered after its markers were
    /// deleted sends its reactions and runs its hooks again, so keep `age` well above the
    /// longest redelivery delay.
    pub async fn purge_markers(
        &self,
        projection: &str,
        age: std::time::Duration,
        batch: usize,
    ) -> Result<u64, ReadModelError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::days(365 * 100));
        let cutoff = mongodb::bson::DateTime::from_millis(cutoff.timestamp_millis());
        let filter = doc! { "reactions": projection, "at": { "$lt": cutoff } };
        let ids: Vec<mongodb::bson::Bson> = self
            .collection(WATERMARKS)
            .find(filter)
            .projection(doc! { "_id": 1 })
            .limit(i64::try_from(batch).unwrap_or(i64::MAX))
            .await
            .map_err(store_error)?
            .try_collect::<Vec<_>>()
            .await
            .map_err(store_error)?
            .into_iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = self
            .collection(WATERMARKS)
            .delete_many(doc! { "_id": { "$in": ids } })
            .await
            .map_err(store_error)?;
        Ok(deleted.deleted_count)
    }

    async fn mark(&self, id: &str, projection: &str) -> Result<(), ReadModelError> {
        let now = mongodb::bson::DateTime::from_millis(chrono::Utc::now().timestamp_millis());
        self.collection(WATERMARKS)
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "reactions": projection, "at": now } },
            )
            .upsert(true)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Id of the marker recording that `projection` sent the reactions of event `event_id`.
fn reaction_marker_id(projection: &str, event_id: Uuid) -> String {
    format!("{projection}/reacted/{event_id}")
}

/// Id of the marker recording that `projection` ran hook `hook` for event `event_id`.
fn hook_marker_id(projection: &str, hook: &str, event_id: Uuid) -> String {
    format!("{projection}/hook/{hook}/{event_id}")
}
