//! What a catalog says about its own history: field defaults, deprecations, and the schema
//! versions and upcasters of messages. Defaults and upcaster values are YAML values checked
//! against the field's type here, so the generated code can never fail to read them.

use super::Validator;
use crate::model::{Constraints, Deprecation, Field, Type, Upcast, ValueKind, Versioning};
use crate::source::FileId;
use crate::syntax::context::{self as syn_ctx, UpcastDef};
use crate::syntax::{Loc, Pos};

/// The evolution attributes of a command or event as written in the catalog.
pub(crate) struct MessageEvolution<'a> {
    /// Kind and name, for messages (`command `Reserve``).
    pub what: String,
    /// `version:`
    pub version: Option<&'a Loc<u32>>,
    /// `upcast:`
    pub upcast: &'a [Loc<UpcastDef>],
    /// `deprecated:`
    pub deprecated: Option<&'a Loc<syn_ctx::Deprecation>>,
    /// `owner:` of the message, else of the context.
    pub owner: Option<String>,
    /// Position of the message's name.
    pub pos: Pos,
}

/// The model form of `deprecated:` (`false` is no deprecation).
pub(super) fn deprecation(d: Option<&Loc<syn_ctx::Deprecation>>) -> Option<Deprecation> {
    match &d?.value {
        syn_ctx::Deprecation::Flag(false) => None,
        syn_ctx::Deprecation::Flag(true) => Some(Deprecation { note: None }),
        syn_ctx::Deprecation::Note(n) => Some(Deprecation {
            note: Some(n.clone()),
        }),
    }
}

impl Validator<'_> {
    /// Checks a field's `default` against its type and constraints, and that a deprecated
    /// field may be left out by writers.
    pub(super) fn field_evolution(
        &mut self,
        file: FileId,
        owner: &str,
        field: &Loc<String>,
        def: &syn_ctx::FieldDef,
        ty: &Type,
        constraints: &Constraints,
    ) -> (Option<serde_json::Value>, Option<Deprecation>) {
        let (default, deprecated) = (def.default.as_ref(), def.deprecated.as_ref());
        if let (Some(d), "a read model") = (default, owner) {
            self.error(
                file,
                d.pos,
                field.pos,
                format!("read-model field `{}` cannot have a `default`: events change documents in place and the Query API serves them as stored", field.value),
            )
            .help = Some("make the field optional (`T?`), or set it in the first `from` entry and rebuild the read model".to_owned());
            return (None, deprecation(deprecated));
        }
        let default = default.and_then(|d| {
            let what = format!("the default of `{}`", field.value);
            let checked = self.literal(file, d, &d.value, ty, &what, field.pos)?;
            self.default_meets_constraints(file, d, &checked, constraints, &what)
                .then_some(checked)
        });
        let dep = deprecation(deprecated);
        if let (Some(_), Some(loc)) = (&dep, deprecated)
            && !matches!(ty, Type::Optional(_))
            && default.is_none()
        {
            self.error(
                file,
                loc.pos,
                field.pos,
                format!(
                    "deprecated field `{}` is required: writers could not leave it out",
                    field.value
                ),
            )
            .help = Some(format!("make it optional (`{ty}?`) or give it a `default`"));
        }
        (default, dep)
    }

    /// Checks a message's `version` and `upcast` steps against its current fields.
    pub(super) fn versioning(
        &mut self,
        file: FileId,
        m: MessageEvolution<'_>,
        fields: &[Field],
    ) -> Versioning {
        let version = match m.version {
            Some(v) if v.value == 0 => {
                self.error(file, v.pos, m.pos, "`version` starts at 1");
                1
            }
            Some(v) => v.value,
            None => 1,
        };
        let mut upcasts: Vec<Upcast> = Vec::new();
        for step in m.upcast {
            let from = step.value.from.value;
            if from == 0 || from >= version {
                self.error(
                    file,
                    step.value.from.pos,
                    step.pos,
                    format!(
                        "`from: {from}` is not an earlier version of {} (version {version})",
                        m.what
                    ),
                )
                .help = Some(if version == 1 {
                    "raise the message's `version` above every step's `from`".to_owned()
                } else {
                    format!("a step reads a version from 1 to {}", version - 1)
                });
                continue;
            }
            if let Some(last) = upcasts.last()
                && last.from >= from
            {
                self.error(
                    file,
                    step.value.from.pos,
                    step.pos,
                    format!(
                        "upcast steps must be in increasing `from` order, one per version: `from: {from}` follows `from: {}`",
                        last.from
                    ),
                );
                continue;
            }
            upcasts.push(self.upcast_step(file, step, fields));
        }
        // A renamed field must end up a field of the current message (or be renamed or
        // removed again by a later step).
        for (i, step) in m.upcast.iter().enumerate() {
            for (old, new) in step.value.rename.iter() {
                let later_handles = m.upcast[i + 1..].iter().any(|s| {
                    s.value.rename.iter().any(|(o, _)| o.value == new.value)
                        || s.value.remove.iter().any(|r| r.value == new.value)
                });
                if !later_handles && !fields.iter().any(|f| f.name == new.value) {
                    self.error_at(
                        file,
                        new,
                        old.pos,
                        format!(
                            "`{}` is not a field of {}: a rename must end at a current field",
                            new.value, m.what
                        ),
                    );
                }
            }
        }
        Versioning {
            version,
            upcasts,
            deprecated: deprecation(m.deprecated),
            owner: m.owner,
        }
    }

    fn upcast_step(&mut self, file: FileId, step: &Loc<UpcastDef>, fields: &[Field]) -> Upcast {
        let def = &step.value;
        let mut renames = Vec::new();
        for (old, new) in def.rename.iter() {
            for n in [old, new] {
                self.check_name(
                    file,
                    n,
                    step.pos,
                    super::names::check_snake(&n.value, "field name"),
                );
            }
            renames.push((old.value.clone(), new.value.clone()));
        }
        let removes = def.remove.iter().map(|r| r.value.clone()).collect();
        let mut sets = Vec::new();
        for (name, value) in def.set.iter() {
            let Some(field) = fields.iter().find(|f| f.name == name.value) else {
                self.error_at(
                    file,
                    name,
                    step.pos,
                    format!(
                        "`set` names `{}`, which is not a field of the message",
                        name.value
                    ),
                );
                continue;
            };
            let what = format!("`set: {}`", name.value);
            if let Some(v) = self.literal(file, value, &value.value, &field.ty, &what, name.pos) {
                sets.push((name.value.clone(), v));
            }
        }
        Upcast {
            from: def.from.value,
            renames,
            removes,
            sets,
        }
    }

    /// Checks a YAML value against a type; returns it when it is one.
    fn literal(
        &mut self,
        file: FileId,
        at: &Loc<serde_json::Value>,
        value: &serde_json::Value,
        ty: &Type,
        what: &str,
        fallback: Pos,
    ) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        let ok = match (ty, value) {
            (Type::Optional(_), J::Null) => true,
            (Type::Optional(inner), v) => {
                return self.literal(file, at, v, inner, what, fallback);
            }
            (Type::String, J::String(_)) | (Type::Bool, J::Bool(_)) => true,
            (t, J::Number(n)) if t.is_integer() => {
                let (lo, hi) = t.integer_range().unwrap_or((0, 0));
                let v = n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from));
                matches!(v, Some(v) if v >= lo && v <= hi)
            }
            (Type::Uuid, J::String(s)) => runtime::uuid::Uuid::try_parse(s).is_ok(),
            (Type::Timestamp, J::String(s)) => {
                runtime::chrono::DateTime::parse_from_rfc3339(s).is_ok()
            }
            (Type::Date, J::String(s)) => {
                runtime::chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            }
            (Type::Enum(n), J::String(s)) => {
                matches!(self.types.kinds.get(n), Some(ValueKind::Enum(vs)) if vs.contains(s))
            }
            (Type::List(item), J::Array(items)) => {
                let mut all = true;
                for i in items {
                    all &= self.literal(file, at, i, item, what, fallback).is_some();
                }
                return all.then(|| value.clone());
            }
            (Type::Record(_), _) => {
                self.error(
                    file,
                    at.pos,
                    fallback,
                    format!("{what}: a record cannot have a default or a constant value"),
                )
                .help = Some("make the field optional (`T?`) instead".to_owned());
                return None;
            }
            _ => false,
        };
        if ok {
            return Some(value.clone());
        }
        let expected = match ty {
            Type::Enum(n) => match self.types.kinds.get(n) {
                Some(ValueKind::Enum(vs)) => format!("one of the variants {}", vs.join(", ")),
                _ => format!("a value of type `{ty}`"),
            },
            Type::Timestamp => "an RFC 3339 timestamp (`2026-01-31T12:00:00Z`)".to_owned(),
            Type::Date => "a date (`2026-01-31`)".to_owned(),
            _ => format!("a value of type `{ty}`"),
        };
        self.error(
            file,
            at.pos,
            fallback,
            format!("{what}: `{value}` is not {expected}"),
        );
        None
    }

    /// A default must pass the checks the Command API applies to the field.
    fn default_meets_constraints(
        &mut self,
        file: FileId,
        at: &Loc<serde_json::Value>,
        value: &serde_json::Value,
        c: &Constraints,
        what: &str,
    ) -> bool {
        use serde_json::Value as J;
        let len = match value {
            J::String(s) => Some(s.chars().count() as u64),
            J::Array(a) => Some(a.len() as u64),
            _ => None,
        };
        let number = value.as_i64();
        let broken = [
            (
                matches!((number, c.min), (Some(v), Some(m)) if v < m),
                "is below `min`",
            ),
            (
                matches!((number, c.max), (Some(v), Some(m)) if v > m),
                "is above `max`",
            ),
            (
                matches!((len, c.min_length), (Some(l), Some(m)) if l < m),
                "is shorter than `min_length`",
            ),
            (
                matches!((len, c.max_length), (Some(l), Some(m)) if l > m),
                "is longer than `max_length`",
            ),
            (
                matches!(value, J::String(s) if !c.one_of.is_empty() && !c.one_of.contains(s)),
                "is not one of `enum`",
            ),
            (
                matches!((value, &c.pattern), (J::String(s), Some(p))
                    if regex::Regex::new(p).is_ok_and(|r| !r.is_match(s))),
                "does not match `pattern`",
            ),
        ];
        match broken.iter().find(|(b, _)| *b) {
            Some((_, why)) => {
                self.error(
                    file,
                    at.pos,
                    Pos::default(),
                    format!("{what}: `{value}` {why}"),
                );
                false
            }
            None => true,
        }
    }
}
