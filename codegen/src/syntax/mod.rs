//! The catalog file formats, exactly as written in YAML (before validation).
//!
//! These types are deserialized with `serde-saphyr`, which keeps the line and column of every
//! value ([`Loc`]), and they are the source of the committed JSON Schemas (`schemars`).
//! Nothing outside the loader and the validator reads them: emitters read the validated
//! [`crate::model`].

pub mod context;
pub mod loc;
pub mod project;
pub mod saga;
pub mod shorthand;
pub mod topology;

pub use loc::{Loc, NamedMap, Pos};
pub use shorthand::ShortOr;
