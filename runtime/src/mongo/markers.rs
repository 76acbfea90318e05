//! Markers of the EventHandler's side effects in the `_watermarks` collection: that the
//! reactions of an event were sent, that a hook ran for an event. Each is one document whose
//! `_id` names the projection, the kind and the event; a read-model rebuild keeps them.

use super::read_model::{MongoReadModelStore, store_error};
use crate::read_model::{ReadModelError, WATERMARKS};
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

    async fn mark(&self, id: &str, projection: &str) -> Result<(), ReadModelError> {
        self.collection(WATERMARKS)
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "reactions": projection } },
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
