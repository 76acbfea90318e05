//! Boundary validation of request DTOs; the types live in [`crate::validation`] so that
//! contracts crates can implement them without the HTTP stack.

pub use crate::validation::{FieldViolation, Validate, ValidateAt, Violations};
