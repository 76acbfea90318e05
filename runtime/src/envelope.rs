//! Message envelopes: the metadata every command and event carries across every hop.
//!
//! On the wire an envelope is the JSON payload as the AMQP body and the [`Metadata`] as AMQP
//! properties and headers (see the `amqp` module). In stores (outbox, saga documents) the whole
//! envelope is kept as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Metadata carried by every message: identity, tracing, security and aggregate context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Unique id of this message; the idempotency key of its consumer.
    pub message_id: Uuid,
    /// Fully qualified message type, `context.Name` (for example `inventory.ReserveStock`).
    pub message_type: String,
    /// Schema version of the payload.
    pub schema_version: u32,
    /// Id shared by every message of one business flow, from the first HTTP request on.
    pub correlation_id: Uuid,
    /// Id of the message that caused this one (`None` for a message born from an HTTP request).
    pub causation_id: Option<Uuid>,
    /// Subject of the JWT that started the flow, if a user did.
    pub user_id: Option<String>,
    /// Tenant the message belongs to.
    pub tenant_id: String,
    /// When the message was created.
    pub created_at: DateTime<Utc>,
    /// Id of the aggregate the command targets or the event was raised by.
    pub aggregate_id: Option<String>,
    /// Version of the aggregate after the event (events only).
    pub aggregate_version: Option<i64>,
    /// W3C trace context (`traceparent` header), when the flow is traced.
    pub traceparent: Option<String>,
    /// Ids of commands this command makes void (commands only; empty for most): a saga's
    /// compensation lists every command the step it undoes may have sent. The CommandHandler
    /// records them as processed, with the outcome `voided`, in the transaction of this
    /// command, so one that arrives later (from a retry tier, a slow replica) does nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voids: Vec<Uuid>,
}

impl Metadata {
    /// Metadata for a message that starts a new flow (an API request).
    pub fn new_root(message_type: impl Into<String>, tenant_id: impl Into<String>) -> Self {
        Self {
            message_id: Uuid::new_v4(),
            message_type: message_type.into(),
            schema_version: 1,
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            user_id: None,
            tenant_id: tenant_id.into(),
            created_at: Utc::now(),
            aggregate_id: None,
            aggregate_version: None,
            traceparent: None,
            voids: Vec::new(),
        }
    }

    /// Metadata for a message caused by `self`: same correlation, tenant, user and trace (a
    /// child span of `self`'s `traceparent`, when it has one); causation is `self.message_id`;
    /// `message_id` is the given (often deterministic) id.
    pub fn caused(&self, message_id: Uuid, message_type: impl Into<String>) -> Self {
        Self {
            message_id,
            message_type: message_type.into(),
            schema_version: 1,
            correlation_id: self.correlation_id,
            causation_id: Some(self.message_id),
            user_id: self.user_id.clone(),
            tenant_id: self.tenant_id.clone(),
            created_at: Utc::now(),
            aggregate_id: None,
            aggregate_version: None,
            traceparent: self
                .traceparent
                .as_deref()
                .map(|p| crate::observability::child_traceparent(Some(p))),
            voids: Vec::new(),
        }
    }
}

/// A typed message with its metadata (the plan's `EventEnvelope<T>`, used for commands too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Identity, tracing and security metadata.
    pub meta: Metadata,
    /// The message itself.
    pub payload: T,
}

/// An envelope whose payload is still JSON: what buses, outboxes and saga stores move around.
pub type RawEnvelope = Envelope<serde_json::Value>;

impl<T: Serialize> Envelope<T> {
    /// Converts the payload to JSON, keeping the metadata.
    pub fn to_raw(&self) -> serde_json::Result<RawEnvelope> {
        Ok(Envelope {
            meta: self.meta.clone(),
            payload: serde_json::to_value(&self.payload)?,
        })
    }
}

impl RawEnvelope {
    /// Decodes the JSON payload into `T`, keeping the metadata.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<Envelope<T>> {
        Ok(Envelope {
            meta: self.meta.clone(),
            payload: serde_json::from_value(self.payload.clone())?,
        })
    }
}

/// Namespace for deterministic message ids (UUID v5), so that a retried step re-creates the
/// same id and is de-duplicated downstream.
pub const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2d7e_8a4b_4c11_9e3a_52d0_c0de_9e11);

/// A deterministic message id derived from a parent id and a discriminator
/// (for example a saga id and `"ReservingStock/attempt-2"`).
pub fn deterministic_id(parent: Uuid, discriminator: &str) -> Uuid {
    let mut name = parent.as_bytes().to_vec();
    name.extend_from_slice(discriminator.as_bytes());
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caused_keeps_flow_and_sets_causation() {
        let root = Metadata::new_root("ordering.PlaceOrder", "acme");
        let child = root.caused(
            deterministic_id(root.message_id, "x"),
            "ordering.OrderPlaced",
        );
        assert_eq!(child.correlation_id, root.correlation_id);
        assert_eq!(child.causation_id, Some(root.message_id));
        assert_eq!(child.tenant_id, "acme");
        assert_ne!(child.message_id, root.message_id);
        assert_eq!(child.traceparent, None, "no trace, none invented");
    }

    #[test]
    fn caused_continues_the_trace_with_a_new_span() {
        let mut root = Metadata::new_root("ordering.PlaceOrder", "acme");
        root.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
        let child = root.caused(Uuid::new_v4(), "ordering.OrderPlaced");
        let tp = child.traceparent.expect("traced");
        assert!(
            tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{tp}"
        );
        assert!(tp.ends_with("-01"), "{tp}");
        assert_ne!(&tp[36..52], "b7ad6b7169203331", "a new span id");
    }

    #[test]
    fn deterministic_ids_are_stable_and_distinct() {
        let p = Uuid::from_u128(42);
        assert_eq!(deterministic_id(p, "a"), deterministic_id(p, "a"));
        assert_ne!(deterministic_id(p, "a"), deterministic_id(p, "b"));
    }
}
