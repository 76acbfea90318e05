//! Helpers shared by the system tests: envelopes of generated messages and a saga simulator
//! over the real engine with the in-memory store, bus and a manual clock.

use runtime::memory::MemoryBus;
use runtime::memory::saga::MemorySagaStore;
use runtime::saga::{ManualClock, SagaDocument, SagaEngine, SagaMachine};
use runtime::{Message, Metadata, RawEnvelope};
use std::sync::Arc;
use std::time::Duration;

/// The tenant of every test message.
pub const TENANT: &str = "acme";

/// An `OrderPlaced` of the example: `quantity` units of `product` paid by card, shipped to a
/// fixed address.
pub fn order_placed(
    product: uuid::Uuid,
    quantity: i32,
    unit_price: i64,
) -> ordering_contracts::order::OrderPlaced {
    ordering_contracts::order::OrderPlaced {
        customer_id: "alice".into(),
        product_id: product,
        quantity,
        unit_price,
        total: i64::from(quantity) * unit_price,
        payment_method: payments_contracts::types::PaymentMethod::Card,
        shipping_address: ordering_contracts::types::Address {
            recipient: "Ada".into(),
            street: "1 Loop".into(),
            city: "London".into(),
            postal_code: "NW1 6XE".into(),
            country: "GB".into(),
        },
    }
}

/// An envelope of a generated message about `aggregate_id`: a new flow when `parent` is
/// `None`, otherwise caused by `parent`.
pub fn envelope<T: Message>(
    message: &T,
    aggregate_id: &str,
    parent: Option<&RawEnvelope>,
) -> RawEnvelope {
    let mut meta = match parent {
        Some(p) => p.meta.caused(uuid::Uuid::new_v4(), T::TYPE),
        None => {
            let mut m = Metadata::new_root(T::TYPE, TENANT);
            m.user_id = Some("alice".into());
            m
        }
    };
    meta.aggregate_id = Some(aggregate_id.to_owned());
    RawEnvelope {
        meta,
        payload: serde_json::to_value(message).expect("messages serialize"),
    }
}

/// A generated saga machine run by the real engine, in memory.
pub struct Sim<D> {
    /// The engine.
    pub engine: SagaEngine<D>,
    /// The saga store.
    pub store: Arc<MemorySagaStore>,
    /// Where commands go.
    pub bus: MemoryBus,
    /// The engine's clock.
    pub clock: Arc<ManualClock>,
}

impl<D> Sim<D>
where
    D: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    /// A simulator of `machine`.
    pub fn new(machine: SagaMachine<D>) -> Self {
        let store = Arc::new(MemorySagaStore::new());
        let bus = MemoryBus::new();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let engine = SagaEngine::new(machine, store.clone(), Arc::new(bus.clone()), clock.clone())
            .expect("valid machine");
        Self {
            engine,
            store,
            bus,
            clock,
        }
    }

    /// Every command sent so far: (context, type, payload, message id).
    pub fn sent(&self) -> Vec<(String, String, serde_json::Value, uuid::Uuid)> {
        self.bus
            .sent()
            .into_iter()
            .map(|m| {
                (
                    m.context,
                    m.envelope.meta.message_type,
                    m.envelope.payload,
                    m.envelope.meta.message_id,
                )
            })
            .collect()
    }

    /// The types of the commands sent so far.
    pub fn sent_types(&self) -> Vec<String> {
        self.sent().into_iter().map(|(_, t, _, _)| t).collect()
    }

    /// The only instance.
    pub fn doc(&self) -> SagaDocument {
        let all = self.store.all();
        assert_eq!(all.len(), 1, "one saga instance");
        all.into_iter().next().expect("instance")
    }

    /// Handles an event.
    pub async fn feed(&self, e: &RawEnvelope) -> runtime::saga::EventOutcome {
        self.engine.handle_event(e).await.expect("event handled")
    }

    /// Advances the clock in steps, ticking each time, until the instance is terminal or the
    /// limit is reached.
    pub async fn run_timers(&self, step: Duration, limit: Duration) {
        let mut waited = Duration::ZERO;
        while waited < limit && !self.doc().status.is_terminal() {
            self.clock.advance(step);
            self.engine.tick().await.expect("tick");
            waited += step;
        }
    }
}
