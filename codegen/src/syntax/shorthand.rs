//! Values written either as a short string or as a full mapping
//! (`quantity: i32` or `quantity: { type: i32, min: 1 }`).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A full form that can also be written as one string.
pub trait Shorthand: Sized {
    /// What a reader should be told the value may be.
    const EXPECTING: &'static str;
    /// Builds the full form from the short string.
    fn from_short(short: String) -> Self;
}

/// Either form of a [`Shorthand`] value, always stored in its full form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortOr<T>(pub T);

impl<T> std::ops::Deref for ShortOr<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Shorthand + Deserialize<'de>> Deserialize<'de> for ShortOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShortVisitor<T>(PhantomData<T>);
        impl<'de, T: Shorthand + Deserialize<'de>> Visitor<'de> for ShortVisitor<T> {
            type Value = ShortOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ShortOr(T::from_short(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ShortOr(T::from_short(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(ShortOr)
            }
        }
        deserializer.deserialize_any(ShortVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for ShortOr<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}_or_shorthand", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let full = generator.subschema_for::<T>();
        json_schema!({ "anyOf": [ { "type": "string" }, full ] })
    }
}
