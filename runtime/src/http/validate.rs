//! Boundary validation of request DTOs (shape and constraints, no domain rules).

use serde::{Deserialize, Serialize};

/// One invalid field: a JSON pointer (RFC 6901) into the request body and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    /// JSON pointer to the field, for example `/lines/0/quantity`.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldViolation {
    /// A violation at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        FieldViolation {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// Implemented by generated command DTOs: checks constraints after JSON parsing. Violations
/// become a `422` problem with one `errors` entry per field.
///
/// ```
/// use runtime::http::validate::{FieldViolation, Validate};
///
/// struct PlaceOrder { quantity: u32 }
/// impl Validate for PlaceOrder {
///     fn validate(&self) -> Result<(), Vec<FieldViolation>> {
///         if self.quantity == 0 {
///             return Err(vec![FieldViolation::new("/quantity", "must be at least 1")]);
///         }
///         Ok(())
///     }
/// }
/// assert!(PlaceOrder { quantity: 0 }.validate().is_err());
/// ```
pub trait Validate {
    /// `Ok` when every constraint holds; otherwise every violation found.
    fn validate(&self) -> Result<(), Vec<FieldViolation>>;
}
