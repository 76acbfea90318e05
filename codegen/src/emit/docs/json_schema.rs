//! JSON Schema (draft 2020-12) of every message payload, from the model's field types and
//! constraints. Built as `serde_json` values (not templates) and serialized with sorted
//! `$defs`, so output is deterministic.
//!
//! | model type            | schema                                                        |
//! |-----------------------|---------------------------------------------------------------|
//! | `string`              | `string` (+ `minLength`, `maxLength`, `pattern`, `enum`)      |
//! | `bool`                | `boolean`                                                     |
//! | `i32`, `u32`          | `integer` with the type's range (narrowed by `min`/`max`)     |
//! | `i64`, `u64`          | `integer` (`u64`: `minimum: 0`)                               |
//! | `money`               | `integer`, int64, integer minor units (cents)                 |
//! | `uuid`                | `string`, `format: uuid`                                      |
//! | `timestamp`           | `string`, `format: date-time` (RFC 3339, UTC)                 |
//! | `date`                | `string`, `format: date`                                      |
//! | `list<T>`             | `array` of `T` (+ `minItems`, `maxItems`)                     |
//! | `T?`                  | not required, `anyOf: [T, null]`                              |
//! | a field with `default` | not required, `default`                                      |
//! | a deprecated field    | `deprecated: true`                                            |
//! | records and enums     | `$ref` to `$defs` (`<context>.<Type>`)                        |
//!
//! The same builder produces the component schemas of the AsyncAPI and OpenAPI documents
//! (only the `$ref` prefix differs).

use crate::model::{Constraints, Field, Model, Type, TypeName, ValueKind, Versioning};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The JSON Schema dialect URI.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Builds schemas for fields, collecting the value types they use.
pub struct SchemaBuilder<'m> {
    model: &'m Model,
    ref_prefix: &'static str,
    defs: BTreeMap<String, Value>,
}

/// The `$defs` / component key of a value type: `ordering.Address`.
pub fn def_key(name: &TypeName) -> String {
    format!("{}.{}", name.context, name.name)
}

impl<'m> SchemaBuilder<'m> {
    /// The model the schemas come from.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// A builder whose references start with `ref_prefix` (`#/$defs/`,
    /// `#/components/schemas/`).
    pub fn new(model: &'m Model, ref_prefix: &'static str) -> Self {
        Self {
            model,
            ref_prefix,
            defs: BTreeMap::new(),
        }
    }

    /// The value types referenced so far, by key, sorted.
    pub fn into_defs(self) -> BTreeMap<String, Value> {
        self.defs
    }

    /// An object schema with one property per field; fields that are neither optional nor
    /// defaulted are required.
    pub fn object(&mut self, fields: &[Field]) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for f in fields {
            props.insert(f.name.clone(), self.field(f));
            if !f.may_be_missing() {
                required.push(Value::String(f.name.clone()));
            }
        }
        let mut o = Map::new();
        o.insert("type".into(), json!("object"));
        o.insert("properties".into(), Value::Object(props));
        if !required.is_empty() {
            o.insert("required".into(), Value::Array(required));
        }
        Value::Object(o)
    }

    /// The schema of one field (type, constraints, description, example).
    pub fn field(&mut self, f: &Field) -> Value {
        let mut v = self.ty(&f.ty, &f.constraints);
        if let Value::Object(o) = &mut v {
            if let Some(d) = &f.description {
                o.insert("description".into(), json!(d));
            }
            if let Some(e) = &f.example {
                o.insert("examples".into(), json!([e]));
            }
            if let Some(d) = &f.default {
                o.insert("default".into(), d.clone());
            }
            if f.deprecated.is_some() {
                o.insert("deprecated".into(), json!(true));
            }
        }
        v
    }

    /// The schema of a type with constraints.
    pub fn ty(&mut self, ty: &Type, c: &Constraints) -> Value {
        let mut o = Map::new();
        match ty {
            Type::String => {
                o.insert("type".into(), json!("string"));
                string_constraints(&mut o, c);
            }
            Type::Bool => {
                o.insert("type".into(), json!("boolean"));
            }
            Type::I32 | Type::U32 | Type::I64 | Type::U64 | Type::Money | Type::Usize => {
                o.insert("type".into(), json!("integer"));
                let format = match ty {
                    Type::I32 => Some("int32"),
                    Type::I64 | Type::Money => Some("int64"),
                    _ => None,
                };
                if let Some(f) = format {
                    o.insert("format".into(), json!(f));
                }
                let (tmin, tmax) = match ty {
                    Type::I32 => (Some(i64::from(i32::MIN)), Some(i64::from(i32::MAX))),
                    Type::U32 => (Some(0), Some(i64::from(u32::MAX))),
                    Type::U64 | Type::Usize => (Some(0), None),
                    _ => (None, None),
                };
                let min = match (c.min, tmin) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                let max = match (c.max, tmax) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(m) = min {
                    o.insert("minimum".into(), json!(m));
                }
                if let Some(m) = max {
                    o.insert("maximum".into(), json!(m));
                }
                if *ty == Type::Money {
                    o.insert(
                        "description".into(),
                        json!("Amount of money in integer minor units (cents)."),
                    );
                }
            }
            Type::Uuid => {
                o.insert("type".into(), json!("string"));
                o.insert("format".into(), json!("uuid"));
            }
            Type::Timestamp => {
                o.insert("type".into(), json!("string"));
                o.insert("format".into(), json!("date-time"));
            }
            Type::Date => {
                o.insert("type".into(), json!("string"));
                o.insert("format".into(), json!("date"));
            }
            Type::List(item) => {
                o.insert("type".into(), json!("array"));
                o.insert("items".into(), self.ty(item, &Constraints::default()));
                if let Some(n) = c.min_length {
                    o.insert("minItems".into(), json!(n));
                }
                if let Some(n) = c.max_length {
                    o.insert("maxItems".into(), json!(n));
                }
            }
            Type::Optional(inner) => {
                let inner = self.ty(inner, c);
                o.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
            Type::Record(name) | Type::Enum(name) => {
                self.define(name);
                o.insert(
                    "$ref".into(),
                    json!(format!("{}{}", self.ref_prefix, def_key(name))),
                );
            }
        }
        Value::Object(o)
    }

    fn define(&mut self, name: &TypeName) {
        let key = def_key(name);
        if self.defs.contains_key(&key) {
            return;
        }
        let Some(vt) = self.model.value_type(name) else {
            return;
        };
        // Reserve the key first: records may refer to each other.
        self.defs.insert(key.clone(), Value::Null);
        let mut v = match &vt.kind {
            ValueKind::Record(fields) => {
                let fields = fields.clone();
                self.object(&fields)
            }
            ValueKind::Enum(variants) => json!({"type": "string", "enum": variants}),
        };
        if let (Value::Object(o), Some(d)) = (&mut v, &vt.description) {
            o.insert("description".into(), json!(d));
        }
        if let Value::Object(o) = &mut v {
            o.insert("title".into(), json!(key));
        }
        self.defs.insert(key, v);
    }
}

fn string_constraints(o: &mut Map<String, Value>, c: &Constraints) {
    if let Some(n) = c.min_length {
        o.insert("minLength".into(), json!(n));
    }
    if let Some(n) = c.max_length {
        o.insert("maxLength".into(), json!(n));
    }
    if let Some(p) = &c.pattern {
        o.insert("pattern".into(), json!(p));
    }
    if !c.one_of.is_empty() {
        o.insert("enum".into(), json!(c.one_of));
    }
}

/// The standalone schema of a message payload, with `$defs`. A schema version above 1 is
/// `x-schema-version` (the `x-schema-version` header of the message); a deprecated message
/// is `deprecated: true`.
pub fn message_schema(
    model: &Model,
    title: &str,
    description: Option<&str>,
    fields: &[Field],
    versioning: &Versioning,
) -> Value {
    let mut b = SchemaBuilder::new(model, "#/$defs/");
    let body = b.object(fields);
    let defs = b.into_defs();
    let mut o = Map::new();
    o.insert("$schema".into(), json!(DIALECT));
    o.insert("title".into(), json!(title));
    if let Some(d) = description {
        o.insert("description".into(), json!(d));
    }
    if versioning.version != 1 {
        o.insert("x-schema-version".into(), json!(versioning.version));
    }
    if versioning.deprecated.is_some() {
        o.insert("deprecated".into(), json!(true));
    }
    if let Value::Object(body) = body {
        o.extend(body);
    }
    if !defs.is_empty() {
        o.insert("$defs".into(), Value::Object(defs.into_iter().collect()));
    }
    Value::Object(o)
}

/// An example value of a type: the field's own example when given, else one built from the
/// type and constraints (deterministic).
pub fn example(model: &Model, ty: &Type, c: &Constraints, given: Option<&Value>) -> Value {
    if let Some(v) = given {
        return v.clone();
    }
    match ty {
        Type::String => {
            if let Some(first) = c.one_of.first() {
                return json!(first);
            }
            let min = c.min_length.unwrap_or(0) as usize;
            let mut s = String::from("text");
            while s.len() < min {
                s.push('x');
            }
            if let Some(max) = c.max_length {
                s.truncate(max as usize);
            }
            json!(s)
        }
        Type::Bool => json!(true),
        Type::I32 | Type::U32 | Type::I64 | Type::U64 | Type::Usize | Type::Money => {
            let base: i64 = if *ty == Type::Money { 1999 } else { 1 };
            let v = c.min.map_or(base, |m| m.max(base));
            let v = c.max.map_or(v, |m| v.min(m));
            json!(v)
        }
        Type::Uuid => json!("3f8e2b6a-1c4d-4e5f-9a7b-0c1d2e3f4a5b"),
        Type::Timestamp => json!("2026-01-15T09:30:00Z"),
        Type::Date => json!("2026-01-15"),
        Type::List(item) => {
            let n = c.min_length.unwrap_or(1).max(1) as usize;
            let n = c.max_length.map_or(n, |m| n.min(m as usize));
            let one = example(model, item, &Constraints::default(), None);
            Value::Array(vec![one; n])
        }
        Type::Optional(inner) => example(model, inner, c, None),
        Type::Enum(name) => match model.value_type(name).map(|v| &v.kind) {
            Some(ValueKind::Enum(vs)) => json!(vs.first().cloned().unwrap_or_default()),
            _ => Value::Null,
        },
        Type::Record(name) => match model.value_type(name).map(|v| &v.kind) {
            Some(ValueKind::Record(fields)) => example_object(model, fields),
            _ => Value::Null,
        },
    }
}

/// An example object with every field.
pub fn example_object(model: &Model, fields: &[Field]) -> Value {
    let mut o = Map::new();
    for f in fields {
        o.insert(
            f.name.clone(),
            example(model, &f.ty, &f.constraints, f.example.as_ref()),
        );
    }
    Value::Object(o)
}

/// A human-readable summary of a field's constraints (`1 ≤ value ≤ 1000`, `length ≤ 120`, ...).
pub fn constraint_summary(c: &Constraints) -> Vec<String> {
    let mut out = Vec::new();
    match (c.min, c.max) {
        (Some(a), Some(b)) => out.push(format!("{a} ≤ value ≤ {b}")),
        (Some(a), None) => out.push(format!("value ≥ {a}")),
        (None, Some(b)) => out.push(format!("value ≤ {b}")),
        (None, None) => {}
    }
    match (c.min_length, c.max_length) {
        (Some(a), Some(b)) => out.push(format!("{a} ≤ length ≤ {b}")),
        (Some(a), None) => out.push(format!("length ≥ {a}")),
        (None, Some(b)) => out.push(format!("length ≤ {b}")),
        (None, None) => {}
    }
    if let Some(p) = &c.pattern {
        out.push(format!("matches `{p}`"));
    }
    if !c.one_of.is_empty() {
        out.push(format!("one of {}", c.one_of.join(", ")));
    }
    out
}

/// Pretty JSON with a final newline (keys in insertion order, which the builders keep stable).
pub fn to_pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialize");
    s.push('\n');
    s
}
