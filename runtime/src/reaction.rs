//! Reactions: what an EventHandler sends because of one event, besides read-model updates —
//! public (integration) events mapped from a domain event, and the commands of policies
//! ("on event X, send command C").
//!
//! Every reaction has a deterministic message id derived from the id of the event that caused
//! it, so that handling the event again (a redelivery, a restart before the ack) sends a
//! message its consumers recognise as the same one: a CommandHandler's processed-command
//! marker drops a policy command seen before, a read model's event marker a public event seen
//! before. The EventHandler also records, per event, that its reactions were sent, and sends
//! them again only when that record is missing (see
//! `crate::process::run_event_handler_with`).

use crate::bus::Route;
use crate::envelope::{RawEnvelope, deterministic_id};
use crate::message::{Command, Message};

/// One message an event causes.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    /// Where it goes: [`Route::Public`] for a public event, [`Route::Command`] for a policy's
    /// command.
    pub route: Route,
    /// The context whose public exchange or command queue receives it.
    pub context: &'static str,
    /// The message.
    pub envelope: RawEnvelope,
}

impl Reaction {
    /// The public event `event` of `context`, mapped from the domain event `cause`.
    ///
    /// Its id is derived from the cause's id and the public event's type; it keeps the
    /// cause's correlation, tenant, user, aggregate id and creation time (the fact happened
    /// then), continues its trace, and names the cause as its causation. It carries no
    /// aggregate version: public events are a subset of an aggregate's events, so consumers
    /// de-duplicate them by id instead of ordering them by version.
    ///
    /// ```
    /// use runtime::reaction::Reaction;
    /// use runtime::{Metadata, RawEnvelope};
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Booked { order: u32 }
    /// # impl runtime::message::Message for Booked { const TYPE: &'static str = "shipping.Booked"; }
    /// let mut meta = Metadata::new_root("shipping.ShipmentScheduled", "acme");
    /// meta.aggregate_id = Some("s-1".into());
    /// meta.aggregate_version = Some(3);
    /// let cause = RawEnvelope { meta, payload: serde_json::json!({}) };
    /// let a = Reaction::public_event("shipping", &cause, &Booked { order: 7 }).unwrap();
    /// let b = Reaction::public_event("shipping", &cause, &Booked { order: 7 }).unwrap();
    /// assert_eq!(a.envelope.meta.message_id, b.envelope.meta.message_id, "same id when handled again");
    /// assert_eq!(a.envelope.meta.causation_id, Some(cause.meta.message_id));
    /// assert_eq!(a.envelope.meta.aggregate_id.as_deref(), Some("s-1"));
    /// assert_eq!(a.envelope.meta.aggregate_version, None);
    /// ```
    pub fn public_event<E: Message>(
        context: &'static str,
        cause: &RawEnvelope,
        event: &E,
    ) -> serde_json::Result<Self> {
        let id = deterministic_id(cause.meta.message_id, &format!("public/{}", E::TYPE));
        let mut meta = cause.meta.caused(id, E::TYPE);
        meta.schema_version = E::VERSION;
        meta.aggregate_id = cause.meta.aggregate_id.clone();
        meta.created_at = cause.meta.created_at;
        Ok(Self {
            route: Route::Public,
            context,
            envelope: RawEnvelope {
                meta,
                payload: serde_json::to_value(event)?,
            },
        })
    }

    /// The command `command` that policy `policy` sends to aggregate `aggregate_id` of
    /// `context` because of `cause`: its id is derived from the cause's id and the policy's
    /// name; it keeps the cause's correlation, tenant and user, continues its trace and names
    /// the cause as its causation.
    ///
    /// ```
    /// use runtime::reaction::Reaction;
    /// use runtime::{Metadata, RawEnvelope};
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Record { carrier: String }
    /// # impl runtime::message::Message for Record { const TYPE: &'static str = "ordering.Record"; }
    /// # impl runtime::message::Command for Record { const AGGREGATE: &'static str = "ordering.Order"; }
    /// let cause = RawEnvelope {
    ///     meta: Metadata::new_root("shipping.Booked", "acme"),
    ///     payload: serde_json::json!({}),
    /// };
    /// let r = Reaction::command("RecordCarrier", "ordering", &cause, "o-1".into(), &Record { carrier: "dhl".into() }).unwrap();
    /// assert_eq!(r.envelope.meta.correlation_id, cause.meta.correlation_id);
    /// assert_eq!(r.envelope.meta.aggregate_id.as_deref(), Some("o-1"));
    /// assert_ne!(r.envelope.meta.message_id, cause.meta.message_id);
    /// ```
    pub fn command<C: Command>(
        policy: &str,
        context: &'static str,
        cause: &RawEnvelope,
        aggregate_id: String,
        command: &C,
    ) -> serde_json::Result<Self> {
        let id = deterministic_id(cause.meta.message_id, &format!("policy/{policy}"));
        let mut meta = cause.meta.caused(id, C::TYPE);
        meta.schema_version = C::VERSION;
        meta.aggregate_id = Some(aggregate_id);
        Ok(Self {
            route: Route::Command,
            context,
            envelope: RawEnvelope {
                meta,
                payload: serde_json::to_value(command)?,
            },
        })
    }
}
