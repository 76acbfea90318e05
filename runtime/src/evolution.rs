//! Reading payloads written by earlier catalog versions: upcasters.
//!
//! A message that changed shape declares `version: N` in the catalog and one upcast step per
//! earlier version. Every envelope carries the schema version its writer used
//! ([`crate::Metadata::schema_version`], the `x-schema-version` AMQP header); a reader applies
//! the steps from that version up to its own before decoding, so consumers of the new catalog
//! read messages still queued (or kept in an outbox) from the old one during a rolling upgrade.
//!
//! A payload of a *newer* version than the reader's is decoded as it is: structs ignore unknown
//! fields, so an old reader keeps working while new fields are only added.
//!
//! ```
//! use runtime::evolution::{Upcast, upcast};
//! const STEPS: &[Upcast] = &[Upcast {
//!     from: 1,
//!     renames: &[("qty", "quantity")],
//!     removes: &["legacy"],
//!     sets: &[("currency", r#""EUR""#)],
//! }];
//! let mut old = serde_json::json!({"qty": 2, "legacy": true});
//! upcast(STEPS, 1, &mut old).unwrap();
//! assert_eq!(old, serde_json::json!({"quantity": 2, "currency": "EUR"}));
//! ```

use serde_json::Value;

/// One upcaster step: turns a payload of schema version `from` into version `from + 1`.
/// Applied in this order: renames, removals, sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upcast {
    /// The version the step reads.
    pub from: u32,
    /// Fields renamed, `(old, new)`; the new name wins when both are present.
    pub renames: &'static [(&'static str, &'static str)],
    /// Fields dropped.
    pub removes: &'static [&'static str],
    /// Fields added when missing, with a constant value written as JSON text.
    pub sets: &'static [(&'static str, &'static str)],
}

/// Applies every step of `steps` that reads `from_version` or later, in order. A payload that
/// is not a JSON object is left alone (decoding it fails with the usual error).
pub fn upcast(steps: &[Upcast], from_version: u32, payload: &mut Value) -> serde_json::Result<()> {
    let Value::Object(fields) = payload else {
        return Ok(());
    };
    for step in steps.iter().filter(|s| s.from >= from_version) {
        for (old, new) in step.renames {
            if let Some(v) = fields.remove(*old) {
                fields.entry(*new).or_insert(v);
            }
        }
        for gone in step.removes {
            fields.remove(*gone);
        }
        for (name, json) in step.sets {
            if !fields.contains_key(*name) {
                fields.insert((*name).to_owned(), serde_json::from_str(json)?);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STEPS: &[Upcast] = &[
        Upcast {
            from: 1,
            renames: &[("qty", "quantity")],
            removes: &[],
            sets: &[("unit", r#""piece""#)],
        },
        Upcast {
            from: 2,
            renames: &[],
            removes: &["note"],
            sets: &[("tags", "[]")],
        },
    ];

    #[test]
    fn applies_the_steps_from_the_writers_version_on() {
        let mut v1 = json!({"qty": 3, "note": "x"});
        upcast(STEPS, 1, &mut v1).unwrap();
        assert_eq!(v1, json!({"quantity": 3, "unit": "piece", "tags": []}));

        let mut v2 = json!({"quantity": 3, "unit": "box", "note": "x"});
        upcast(STEPS, 2, &mut v2).unwrap();
        assert_eq!(v2, json!({"quantity": 3, "unit": "box", "tags": []}));

        let mut v3 = json!({"quantity": 3, "unit": "box", "tags": ["a"], "note": "kept"});
        upcast(STEPS, 3, &mut v3).unwrap();
        assert_eq!(
            v3,
            json!({"quantity": 3, "unit": "box", "tags": ["a"], "note": "kept"}),
            "a current payload is untouched"
        );
    }

    #[test]
    fn a_present_value_is_never_overwritten() {
        let mut both = json!({"qty": 1, "quantity": 7, "unit": "box"});
        upcast(STEPS, 1, &mut both).unwrap();
        assert_eq!(both["quantity"], 7);
        assert_eq!(both["unit"], "box");
    }

    #[test]
    fn a_non_object_is_left_for_the_decoder_to_reject() {
        let mut v = json!([1, 2]);
        upcast(STEPS, 1, &mut v).unwrap();
        assert_eq!(v, json!([1, 2]));
    }
}
