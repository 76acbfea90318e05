//! Property test of the generated saga orchestrators: whatever the participants answer
//! (success, rejection, silence), in whatever order, with duplicates and unrelated events,
//! every instance ends in a terminal state, each compensation is sent exactly once, and the
//! compensations run newest step first.

use proptest::prelude::*;
use runtime::RawEnvelope;
use runtime::saga::SagaMachine;
use std::time::Duration;
use system_tests::{Sim, envelope};
use uuid::Uuid;

/// What a participant does with the command of the current step.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Answers with the success event (twice when `dup`).
    Succeed { dup: bool },
    /// Answers with the rejection event (twice when `dup`).
    Reject { dup: bool },
    /// Does not answer; time passes.
    Wait { secs: u64 },
    /// Re-delivers an event already handled.
    Redeliver,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => any::<bool>().prop_map(|dup| Act::Succeed { dup }),
        1 => any::<bool>().prop_map(|dup| Act::Reject { dup }),
        2 => (1u64..120).prop_map(|secs| Act::Wait { secs }),
        1 => Just(Act::Redeliver),
    ]
}

/// The success and rejection events answering each step of a saga.
struct Script {
    start: fn() -> (RawEnvelope, String),
    answer: fn(step: &str, success: bool, key: &str, start: &RawEnvelope) -> Option<RawEnvelope>,
    /// Step that sends each compensation command type.
    compensation_of: &'static [(&'static str, &'static str)],
}

fn run<D>(
    machine: fn() -> SagaMachine<D>,
    script: &Script,
    acts: &[Act],
) -> Result<(), TestCaseError>
where
    D: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = Sim::new(machine());
        let (start, key) = (script.start)();
        s.feed(&start).await;
        let mut handled: Vec<RawEnvelope> = vec![start.clone()];
        for a in acts {
            let doc = s.doc();
            if doc.status.is_terminal() {
                break;
            }
            match *a {
                Act::Succeed { dup } | Act::Reject { dup } => {
                    let success = matches!(a, Act::Succeed { .. });
                    if let Some(e) = (script.answer)(&doc.current_step, success, &key, &start) {
                        s.feed(&e).await;
                        if dup {
                            s.feed(&e).await;
                        }
                        handled.push(e);
                    }
                }
                Act::Wait { secs } => {
                    s.clock.advance(Duration::from_secs(secs));
                    s.engine.tick().await.expect("tick");
                }
                Act::Redeliver => {
                    let e = handled[handled.len() / 2].clone();
                    s.feed(&e).await;
                }
            }
        }
        // Whatever happened, time alone ends every instance.
        s.run_timers(Duration::from_secs(5), Duration::from_secs(3600))
            .await;
        let doc = s.doc();
        prop_assert!(
            doc.status.is_terminal(),
            "not terminal: {:?} in {}",
            doc.status,
            doc.current_step
        );
        let sent = s.sent();
        let ids: Vec<Uuid> = sent.iter().map(|c| c.3).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), ids.len(), "a command id was sent twice");
        // Compensations: each once, newest completed step first.
        let compensations: Vec<&str> = sent
            .iter()
            .filter_map(|c| {
                script
                    .compensation_of
                    .iter()
                    .find(|(t, _)| *t == c.1)
                    .map(|(_, step)| *step)
            })
            .collect();
        let mut expected: Vec<&str> = doc
            .completed_steps
            .iter()
            .filter(|s| compensations.contains(&s.as_str()))
            .map(String::as_str)
            .collect();
        expected.reverse();
        prop_assert_eq!(&compensations, &expected);
        prop_assert_eq!(doc.compensations.len(), compensations.len());
        Ok(())
    })
}

mod order {
    use super::*;
    use inventory_contracts::product::{StockReservationFailed, StockReserved};
    use ordering_contracts::order::OrderPlaced;
    use payments_contracts::payment::{PaymentCharged, PaymentDeclined};
    use shipping_contracts::shipment::{ShipmentRejected, ShipmentScheduled};

    pub fn start() -> (RawEnvelope, String) {
        let id = Uuid::new_v4();
        let placed = OrderPlaced {
            quantity: 1,
            total: 100,
            product_id: Uuid::new_v4(),
            ..Default::default()
        };
        (envelope(&placed, &id.to_string(), None), id.to_string())
    }

    pub fn answer(
        step: &str,
        success: bool,
        key: &str,
        start: &RawEnvelope,
    ) -> Option<RawEnvelope> {
        let order_id: Uuid = key.parse().ok()?;
        Some(match (step, success) {
            ("ReservingStock", true) => envelope(
                &StockReserved {
                    order_id,
                    quantity: 1,
                },
                key,
                Some(start),
            ),
            ("ReservingStock", false) => envelope(
                &StockReservationFailed {
                    order_id,
                    quantity: 1,
                    available: 0,
                },
                key,
                Some(start),
            ),
            ("ChargingPayment", true) => envelope(
                &PaymentCharged {
                    order_id,
                    amount: 100,
                    ..Default::default()
                },
                key,
                Some(start),
            ),
            ("ChargingPayment", false) => envelope(
                &PaymentDeclined {
                    order_id,
                    amount: 100,
                },
                key,
                Some(start),
            ),
            ("SchedulingShipment", true) => envelope(
                &ShipmentScheduled {
                    order_id,
                    ..Default::default()
                },
                key,
                Some(start),
            ),
            ("SchedulingShipment", false) => {
                envelope(&ShipmentRejected { order_id }, key, Some(start))
            }
            _ => return None,
        })
    }

    pub const SCRIPT: Script = Script {
        start,
        answer,
        compensation_of: &[
            ("inventory.ReleaseStock", "ReservingStock"),
            ("payments.RefundPayment", "ChargingPayment"),
            ("shipping.CancelShipment", "SchedulingShipment"),
        ],
    };
}

mod trip {
    use super::*;
    use cars_contracts::rental::{CarRented, CarUnavailable};
    use cars_contracts::trip::TripRequested;
    use flights_contracts::booking::{FlightBooked, FlightUnavailable};
    use hotels_contracts::reservation::{RoomReserved, RoomUnavailable};

    pub fn start() -> (RawEnvelope, String) {
        let id = Uuid::new_v4();
        let requested = TripRequested {
            traveller: "t".into(),
            flight: "AB12".into(),
            seats: 1,
            nights: 2,
            ..Default::default()
        };
        (envelope(&requested, &id.to_string(), None), id.to_string())
    }

    pub fn answer(
        step: &str,
        success: bool,
        key: &str,
        start: &RawEnvelope,
    ) -> Option<RawEnvelope> {
        let trip_id: Uuid = key.parse().ok()?;
        Some(match (step, success) {
            ("BookingFlight", true) => envelope(
                &FlightBooked {
                    trip_id,
                    flight: "AB12".into(),
                    seats: 1,
                },
                key,
                Some(start),
            ),
            ("BookingFlight", false) => envelope(
                &FlightUnavailable {
                    trip_id,
                    flight: "AB12".into(),
                },
                key,
                Some(start),
            ),
            ("ReservingRoom", true) => {
                envelope(&RoomReserved { trip_id, nights: 2 }, key, Some(start))
            }
            ("ReservingRoom", false) => envelope(&RoomUnavailable { trip_id }, key, Some(start)),
            ("RentingCar", true) => envelope(
                &CarRented {
                    trip_id,
                    ..Default::default()
                },
                key,
                Some(start),
            ),
            ("RentingCar", false) => envelope(&CarUnavailable { trip_id }, key, Some(start)),
            _ => return None,
        })
    }

    pub const SCRIPT: Script = Script {
        start,
        answer,
        compensation_of: &[
            ("flights.CancelFlight", "BookingFlight"),
            ("hotels.CancelRoom", "ReservingRoom"),
            ("cars.ReturnCar", "RentingCar"),
        ],
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn order_fulfillment_always_ends_with_compensations_once_in_reverse(acts in prop::collection::vec(act(), 0..24)) {
        run(order_fulfillment_saga::machine::machine, &order::SCRIPT, &acts)?;
    }

    #[test]
    fn trip_booking_always_ends_with_compensations_once_in_reverse(acts in prop::collection::vec(act(), 0..24)) {
        run(trip_booking_saga::machine::machine, &trip::SCRIPT, &acts)?;
    }
}
