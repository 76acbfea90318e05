//! Boundary validation of command DTOs: shape and constraints, no domain rules.
//!
//! Generated DTOs implement [`ValidateAt`] with calls to the [`Violations`] collector, one per
//! constraint of the catalog; [`Validate`] follows for every such type. Violations become a
//! `422` problem with one `errors` entry per field (see `http::command_api`).

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

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

/// Checks constraints after JSON parsing.
///
/// ```
/// use runtime::validation::{FieldViolation, Validate};
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

/// Validation of a value found at a JSON pointer: what generated DTOs and records implement,
/// so that records nested in commands report pointers such as `/address/city`.
///
/// ```
/// use runtime::validation::{Validate, ValidateAt, Violations};
///
/// struct Line { sku: String, quantity: i32 }
/// impl ValidateAt for Line {
///     fn validate_at(&self, at: &str, v: &mut Violations) {
///         v.pattern(&format!("{at}/sku"), &self.sku, "^[A-Z]{3}$");
///         v.range(&format!("{at}/quantity"), self.quantity.into(), Some(1), None);
///     }
/// }
/// let errors = Line { sku: "abc".into(), quantity: 0 }.validate().unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert_eq!(errors[1].pointer, "/quantity");
/// ```
pub trait ValidateAt {
    /// Records every violation of `self`, found at pointer `at` (`""` for the body itself).
    fn validate_at(&self, at: &str, violations: &mut Violations);
}

impl<T: ValidateAt> Validate for T {
    fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        let mut v = Violations::default();
        self.validate_at("", &mut v);
        v.finish()
    }
}

impl<T: ValidateAt> ValidateAt for Option<T> {
    fn validate_at(&self, at: &str, violations: &mut Violations) {
        if let Some(inner) = self {
            inner.validate_at(at, violations);
        }
    }
}

impl<T: ValidateAt> ValidateAt for Vec<T> {
    fn validate_at(&self, at: &str, violations: &mut Violations) {
        for (i, item) in self.iter().enumerate() {
            item.validate_at(&format!("{at}/{i}"), violations);
        }
    }
}

/// Collects the violations of one request body.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<FieldViolation>,
}

impl Violations {
    /// Records a violation.
    pub fn push(&mut self, pointer: &str, message: impl Into<String>) {
        self.items.push(FieldViolation::new(pointer, message));
    }

    /// An integer within `[min, max]`.
    pub fn range(&mut self, pointer: &str, value: i128, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min
            && value < i128::from(min)
        {
            self.push(pointer, format!("must be at least {min}"));
        }
        if let Some(max) = max
            && value > i128::from(max)
        {
            self.push(pointer, format!("must be at most {max}"));
        }
    }

    /// A length (characters of a string, items of a list) within `[min, max]`.
    pub fn length(&mut self, pointer: &str, len: usize, min: Option<u64>, max: Option<u64>) {
        let len = len as u64;
        if let Some(min) = min
            && len < min
        {
            if min == 1 {
                self.push(pointer, "must not be empty");
            } else {
                self.push(
                    pointer,
                    format!("must have at least {min} characters or items"),
                );
            }
        }
        if let Some(max) = max
            && len > max
        {
            self.push(
                pointer,
                format!("must have at most {max} characters or items"),
            );
        }
    }

    /// A string matching a regular expression (compiled once per pattern and process).
    pub fn pattern(&mut self, pointer: &str, value: &str, pattern: &'static str) {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<Regex>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        let regex = cache
            .entry(pattern)
            .or_insert_with(|| Regex::new(pattern).ok());
        match regex {
            Some(r) if r.is_match(value) => {}
            _ => self.push(pointer, format!("must match `{pattern}`")),
        }
    }

    /// A string among allowed values.
    pub fn one_of(&mut self, pointer: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.push(pointer, format!("must be one of {}", allowed.join(", ")));
        }
    }

    /// A nested value (record, list of records, optional record).
    pub fn nested<T: ValidateAt + ?Sized>(&mut self, pointer: &str, value: &T) {
        value.validate_at(pointer, self);
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.items.is_empty() {
            Ok(())
        } else {
            Err(self.items)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_every_kind_of_constraint() {
        let mut v = Violations::default();
        v.range("/a", 0, Some(1), Some(5));
        v.range("/b", 3, Some(1), Some(5));
        v.length("/c", 0, Some(1), None);
        v.length("/d", 11, None, Some(10));
        v.pattern("/e", "gb", "^[A-Z]{2}$");
        v.pattern("/f", "GB", "^[A-Z]{2}$");
        v.one_of("/g", "x", &["a", "b"]);
        let errors = v.finish().unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/a", "/c", "/d", "/e", "/g"]);
    }
}
