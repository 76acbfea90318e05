//! Field lists compared the way the generated code reads JSON.
//!
//! Every struct the generator emits (messages, state, records, saga data, documents) is read
//! with serde from JSON written by an earlier (or later) version of the same struct. What
//! serde does with a difference is fixed by the generated attributes
//! (`codegen/src/emit/rust/{contracts,value_types,saga}.rs`):
//!
//! - a field missing from the JSON: `Option<T>` fields read as `None` (serde's derive does so
//!   for `Option`, and `optional<T>` fields also carry `#[serde(default)]`); a field with a
//!   catalog `default` reads as that value (`#[serde(default = ...)]`, `emit/rust/defaults.rs`);
//!   any other missing field is an error. No struct has a container-level `#[serde(default)]`.
//! - a JSON key the struct does not have: ignored, except in **command** structs, which carry
//!   `#[serde(deny_unknown_fields)]` (the Command API and the CommandHandler reject them).
//!   Records nested in a command do not deny unknown keys.
//! - `None` is written as `null` (no `skip_serializing_if`), so a new optional field is
//!   always present in what new code writes.
//! - enums are written as their snake_case variant name; an unknown name is an error.
//!
//! A change is judged in two directions: **forward** (new code reads what old code wrote:
//! queued messages, outbox rows, snapshots, saga instances) and **rollout** (old code, still
//! running while the new version rolls out, reads what new code writes).

use crate::model::{Field, Model, Type, TypeName, ValueKind};

/// One difference between two field lists.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// A field only the new list has.
    Added(&'a Field),
    /// A field only the old list has.
    Removed(&'a Field),
    /// A field of both lists whose type differs (old, new).
    Retyped(&'a Field, &'a Field),
}

impl<'a> Change<'a> {
    /// The field's name.
    pub fn name(&self) -> &'a str {
        match self {
            Change::Added(f) | Change::Removed(f) | Change::Retyped(_, f) => &f.name,
        }
    }
}

/// The differences between two field lists: added and retyped fields in the new list's
/// order, then removed fields in the old list's order. Descriptions, examples and
/// constraints are not compared.
pub fn changes<'a>(old: &'a [Field], new: &'a [Field]) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.name == n.name) {
            None => out.push(Change::Added(n)),
            Some(o) if o.ty != n.ty => out.push(Change::Retyped(o, n)),
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|n| n.name == o.name) {
            out.push(Change::Removed(o));
        }
    }
    out
}

/// Whether a field of this type may be missing from the JSON (`optional<T>`).
pub fn is_optional(ty: &Type) -> bool {
    matches!(ty, Type::Optional(_))
}

/// Whether every JSON value written for `from` is read as `to`: the same type; a lossless
/// integer widening (`i32` into `i64`/`money`, `u32` into `u64`/`i64`/`money`, `i64` and
/// `money` into each other: both are `i64`); anything written as a JSON string (`uuid`,
/// `timestamp`, `date`, an enum) into a `string`; `T` into
/// `optional<U>` when `T` reads as `U`; lists and optionals item by item. Value types of the
/// same name read as themselves: their own changes are judged where they are declared.
pub fn reads(from: &Type, to: &Type) -> bool {
    use Type as T;
    match (from, to) {
        _ if from == to => true,
        (T::I32, T::I64 | T::Money)
        | (T::U32, T::U64 | T::I64 | T::Money)
        | (T::I64, T::Money)
        | (T::Money, T::I64)
        | (T::Uuid | T::Timestamp | T::Date | T::Enum(_), T::String) => true,
        (T::Optional(a), T::Optional(b)) | (T::List(a), T::List(b)) => reads(a, b),
        (a, T::Optional(b)) => reads(a, b),
        _ => false,
    }
}

/// How a change reads in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compat {
    /// New code reads what old code wrote.
    pub forward: bool,
    /// Old code reads what new code writes.
    pub rollout: bool,
}

/// How a field change reads, in a struct that denies unknown keys or not.
pub fn compat(change: &Change<'_>, deny_unknown: bool) -> Compat {
    match change {
        Change::Added(f) => Compat {
            forward: f.may_be_missing(),
            rollout: !deny_unknown,
        },
        Change::Removed(f) => Compat {
            forward: !deny_unknown,
            rollout: f.may_be_missing(),
        },
        Change::Retyped(o, n) => Compat {
            forward: reads(&o.ty, &n.ty),
            rollout: reads(&n.ty, &o.ty),
        },
    }
}

/// Whether a field of type `ty` holds a value of the value type `target`, directly, in a
/// list or optional, or inside a record (at any depth).
pub fn uses_type(model: &Model, ty: &Type, target: &TypeName) -> bool {
    fn walk(model: &Model, ty: &Type, target: &TypeName, seen: &mut Vec<TypeName>) -> bool {
        match ty {
            Type::List(t) | Type::Optional(t) => walk(model, t, target, seen),
            Type::Enum(n) => n == target,
            Type::Record(n) if n == target => true,
            Type::Record(n) => {
                if seen.contains(n) {
                    return false;
                }
                seen.push(n.clone());
                match model.value_type(n).map(|v| &v.kind) {
                    Some(ValueKind::Record(fields)) => {
                        fields.iter().any(|f| walk(model, &f.ty, target, seen))
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
    walk(model, ty, target, &mut Vec::new())
}

/// Whether any of the fields holds a value of `target`.
pub fn fields_use(model: &Model, fields: &[Field], target: &TypeName) -> bool {
    fields.iter().any(|f| uses_type(model, &f.ty, target))
}

/// A field's type as the catalog writes it, for messages.
pub fn describe(f: &Field) -> String {
    if is_optional(&f.ty) {
        format!("optional `{}: {}`", f.name, f.ty)
    } else if let Some(d) = &f.default {
        format!("`{}: {}` with default `{d}`", f.name, f.ty)
    } else {
        format!("required `{}: {}`", f.name, f.ty)
    }
}

/// What a reader makes of the field when it is missing: `none` or `its default `…``.
pub fn absent_reads_as(f: &Field) -> String {
    match &f.default {
        Some(d) => format!("its default `{d}`"),
        None => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(t: Type) -> Type {
        Type::Optional(Box::new(t))
    }

    #[test]
    fn widening_reads_and_narrowing_does_not() {
        assert!(reads(&Type::I32, &Type::I64));
        assert!(!reads(&Type::I64, &Type::I32));
        assert!(reads(&Type::I32, &opt(Type::I64)));
        assert!(!reads(&opt(Type::I32), &Type::I32));
        assert!(reads(&Type::Uuid, &Type::String));
        assert!(!reads(&Type::String, &Type::Uuid));
        assert!(reads(&Type::Date, &opt(Type::String)));
        assert!(!reads(&Type::I32, &Type::U32));
        assert!(reads(
            &Type::List(Box::new(Type::U32)),
            &Type::List(Box::new(Type::U64))
        ));
    }
}
