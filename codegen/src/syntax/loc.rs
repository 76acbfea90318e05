//! Source locations attached to parsed values, and ordered name-keyed mappings.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A 1-based line and column in a catalog file (column counted in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Pos {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
}

impl Pos {
    /// A position; `line` and `column` are 1-based.
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }

    /// Whether the parser knew the position.
    pub fn is_known(self) -> bool {
        self.line > 0
    }

    fn from_saphyr(loc: &serde_saphyr::Location) -> Self {
        Self {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
            column: u32::try_from(loc.column()).unwrap_or(u32::MAX),
        }
    }
}

/// A value together with the position of the YAML node it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc<T> {
    /// The value.
    pub value: T,
    /// Where the value starts.
    pub pos: Pos,
}

impl<T> Loc<T> {
    /// Wraps a value with a position.
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

impl<T> std::ops::Deref for Loc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loc<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Self {
            pos: Pos::from_saphyr(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Loc<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A YAML mapping from names to values that keeps the order of the file and the position of
/// every key. (Duplicate keys are rejected by the YAML parser itself.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedMap<V>(pub Vec<(Loc<String>, V)>);

impl<V> Default for NamedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> NamedMap<V> {
    /// Iterates over the entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&Loc<String>, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Whether the mapping has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NamedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = NamedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to definitions")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(NamedMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Loc<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(NamedMap(entries))
            }
        }
        // `deserialize_any`, not `deserialize_map`: an empty key (`types:`, a YAML null) means
        // an empty mapping, as the schema says, and only `visit_unit` sees it.
        deserializer.deserialize_any(MapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for NamedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<V>();
        json_schema!({
            "type": ["object", "null"],
            "additionalProperties": value,
        })
    }
}

/// Schema of an expression written in the catalog: Rust expression syntax, usually a YAML
/// string; plain YAML numbers and booleans (`100`, `true`) are expressions too.
pub struct ExpressionSchema;

impl JsonSchema for ExpressionSchema {
    fn schema_name() -> Cow<'static, str> {
        "Expression".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A Rust expression, e.g. `state.available >= cmd.quantity`.",
            "type": ["string", "number", "boolean"],
        })
    }
}
