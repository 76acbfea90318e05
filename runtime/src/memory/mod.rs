//! In-memory adapters of the ports, for simulation and process-isolation tests: no broker, no
//! database. They behave like the real adapters where the engines can observe it (ordering,
//! confirmation, isolation per context) and let the test inspect what happened.

pub mod bus;
pub mod read_model;
pub mod saga;
pub mod state;

pub use bus::{MemoryBus, SentKind, SentMessage};
