//! Hand-written side effects of the `ordering` context (the example's implementation of its
//! event hooks; `codegen generate` wrote the starter once and never touches this file).

use ordering_event_hooks_api::OrderingEventHooks;
use runtime::hook::{EventContext, HookError};
use shipping_contracts::ShipmentBooked;

/// The hand-written side effects of the `ordering` context.
pub struct Hooks;

impl OrderingEventHooks for Hooks {
    /// Tells the customer that the order ships. The example writes the notification to the
    /// log; a real implementation sends it through the mail service, passing
    /// `ctx.idempotency_key` so that a run repeated after a crash sends nothing twice.
    async fn notify_customer_of_shipment(
        &self,
        event: &ShipmentBooked,
        ctx: &EventContext,
    ) -> Result<(), HookError> {
        tracing::info!(
            order_id = %event.order_id,
            shipment_id = %event.shipment_id,
            carrier = ?event.carrier,
            idempotency_key = %ctx.idempotency_key,
            "customer notified of shipment"
        );
        Ok(())
    }
}
