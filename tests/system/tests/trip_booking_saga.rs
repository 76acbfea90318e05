//! Saga simulation of the generated `TripBooking` orchestrator of the `travel` test catalog: a
//! saga across three contexts with a compensation per step.

use cars_contracts::rental::{CarRented, CarUnavailable};
use cars_contracts::trip::TripRequested;
use cars_contracts::types::CarClass;
use flights_contracts::booking::{FlightBooked, FlightUnavailable};
use hotels_contracts::reservation::{RoomReserved, RoomUnavailable};
use runtime::RawEnvelope;
use runtime::saga::SagaStatus;
use serde_json::json;
use std::time::Duration;
use system_tests::{Sim, envelope};
use trip_booking_saga::machine::machine;
use uuid::Uuid;

fn request() -> (Uuid, RawEnvelope) {
    let id = Uuid::new_v4();
    let e = TripRequested {
        traveller: "tom".into(),
        flight: "LH123".into(),
        seats: 2,
        nights: 3,
        class: CarClass::Estate,
    };
    (id, envelope(&e, &id.to_string(), None))
}

#[tokio::test]
async fn happy_path_books_flight_room_and_car_then_confirms() {
    let s = Sim::new(machine());
    let (id, start) = request();
    let key = id.to_string();
    s.feed(&start).await;
    s.feed(&envelope(
        &FlightBooked {
            trip_id: id,
            flight: "LH123".into(),
            seats: 2,
        },
        &key,
        Some(&start),
    ))
    .await;
    s.feed(&envelope(
        &RoomReserved {
            trip_id: id,
            nights: 3,
        },
        &key,
        Some(&start),
    ))
    .await;
    s.feed(&envelope(
        &CarRented {
            trip_id: id,
            class: CarClass::Estate,
        },
        &key,
        Some(&start),
    ))
    .await;
    assert_eq!(
        s.sent_types(),
        [
            "flights.BookFlight",
            "hotels.ReserveRoom",
            "cars.RentCar",
            "cars.ConfirmTrip"
        ]
    );
    let sent = s.sent();
    assert_eq!(
        sent[0].2,
        json!({ "trip_id": id, "flight": "LH123", "seats": 2 })
    );
    assert_eq!(sent[2].2, json!({ "trip_id": id, "class": "estate" }));
    assert_eq!(s.doc().status, SagaStatus::Completed);
}

#[tokio::test]
async fn unavailable_flight_abandons_without_compensation() {
    let s = Sim::new(machine());
    let (id, start) = request();
    s.feed(&start).await;
    s.feed(&envelope(
        &FlightUnavailable {
            trip_id: id,
            flight: "LH123".into(),
        },
        &id.to_string(),
        Some(&start),
    ))
    .await;
    assert_eq!(s.sent_types(), ["flights.BookFlight", "cars.AbandonTrip"]);
    assert_eq!(s.doc().status, SagaStatus::Failed);
}

#[tokio::test]
async fn unavailable_car_cancels_room_then_flight() {
    let s = Sim::new(machine());
    let (id, start) = request();
    let key = id.to_string();
    s.feed(&start).await;
    s.feed(&envelope(
        &FlightBooked {
            trip_id: id,
            flight: "LH123".into(),
            seats: 2,
        },
        &key,
        Some(&start),
    ))
    .await;
    s.feed(&envelope(
        &RoomReserved {
            trip_id: id,
            nights: 3,
        },
        &key,
        Some(&start),
    ))
    .await;
    // Renting is tried three times (`max_visits: 3`), then the trip is abandoned.
    for _ in 0..3 {
        s.feed(&envelope(
            &CarUnavailable { trip_id: id },
            &key,
            Some(&start),
        ))
        .await;
    }
    assert_eq!(
        s.sent_types(),
        [
            "flights.BookFlight",
            "hotels.ReserveRoom",
            "cars.RentCar",
            "cars.RentCar",
            "cars.RentCar",
            "hotels.CancelRoom",
            "flights.CancelFlight",
            "cars.AbandonTrip"
        ]
    );
    assert_eq!(s.doc().status, SagaStatus::Failed);
}

#[tokio::test]
async fn a_silent_hotel_times_out_and_cancels_the_flight() {
    let s = Sim::new(machine());
    let (id, start) = request();
    s.feed(&start).await;
    s.feed(&envelope(
        &FlightBooked {
            trip_id: id,
            flight: "LH123".into(),
            seats: 2,
        },
        &id.to_string(),
        Some(&start),
    ))
    .await;
    s.run_timers(Duration::from_secs(1), Duration::from_secs(600))
        .await;
    // ReservingRoom has no retry: one attempt, then its timeout cancels the room (it may
    // still be reserved late: `compensate_on_timeout`) and the flight.
    assert_eq!(
        s.sent_types(),
        [
            "flights.BookFlight",
            "hotels.ReserveRoom",
            "hotels.CancelRoom",
            "flights.CancelFlight",
            "cars.AbandonTrip"
        ]
    );
    assert_eq!(s.doc().status, SagaStatus::TimedOut);
}

#[tokio::test]
async fn a_rejected_room_cancels_the_flight() {
    let s = Sim::new(machine());
    let (id, start) = request();
    let key = id.to_string();
    s.feed(&start).await;
    s.feed(&envelope(
        &FlightBooked {
            trip_id: id,
            flight: "LH123".into(),
            seats: 2,
        },
        &key,
        Some(&start),
    ))
    .await;
    s.feed(&envelope(
        &RoomUnavailable { trip_id: id },
        &key,
        Some(&start),
    ))
    .await;
    assert_eq!(
        s.sent_types(),
        [
            "flights.BookFlight",
            "hotels.ReserveRoom",
            "flights.CancelFlight",
            "cars.AbandonTrip"
        ]
    );
}
