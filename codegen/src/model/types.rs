//! Types and fields of the model.

use std::fmt;

/// A reference to a value type: its context and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeName {
    /// The context that declares the type.
    pub context: String,
    /// The type name (PascalCase).
    pub name: String,
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.context, self.name)
    }
}

/// A resolved field type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// UTF-8 text.
    String,
    /// `true` or `false`.
    Bool,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit unsigned integer.
    U64,
    /// An amount of money in integer minor units (cents), 64-bit signed.
    Money,
    /// A UUID.
    Uuid,
    /// An instant in UTC (RFC 3339 on the wire).
    Timestamp,
    /// A calendar date (`YYYY-MM-DD` on the wire).
    Date,
    /// An ordered list.
    List(Box<Type>),
    /// A value that may be absent.
    Optional(Box<Type>),
    /// A record value type.
    Record(TypeName),
    /// An enum value type (aggregate statuses are enums too).
    Enum(TypeName),
    /// The type of a `usize` produced by `.len()`; never declared, only in expressions.
    Usize,
}

impl Type {
    /// Whether the type is an integer type (money included).
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Type::I32 | Type::I64 | Type::U32 | Type::U64 | Type::Money | Type::Usize
        )
    }

    /// The inclusive range of an integer type.
    pub fn integer_range(&self) -> Option<(i128, i128)> {
        Some(match self {
            Type::I32 => (i32::MIN.into(), i32::MAX.into()),
            Type::I64 | Type::Money => (i64::MIN.into(), i64::MAX.into()),
            Type::U32 => (0, u32::MAX.into()),
            Type::U64 | Type::Usize => (0, u64::MAX.into()),
            _ => return None,
        })
    }

    /// The item type of a list.
    pub fn list_item(&self) -> Option<&Type> {
        match self {
            Type::List(t) => Some(t),
            _ => None,
        }
    }

    /// Adds every context whose value types this type refers to (once each).
    pub fn referenced_contexts(&self, out: &mut Vec<String>) {
        match self {
            Type::List(t) | Type::Optional(t) => t.referenced_contexts(out),
            Type::Record(n) | Type::Enum(n) if !out.contains(&n.context) => {
                out.push(n.context.clone())
            }
            _ => {}
        }
    }

    /// Whether values of the type may be compared with `<`, `>` and the like.
    pub fn is_ordered(&self) -> bool {
        self.is_integer() || matches!(self, Type::String | Type::Timestamp | Type::Date)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Bool => f.write_str("bool"),
            Type::I32 => f.write_str("i32"),
            Type::I64 => f.write_str("i64"),
            Type::U32 => f.write_str("u32"),
            Type::U64 => f.write_str("u64"),
            Type::Money => f.write_str("money"),
            Type::Uuid => f.write_str("uuid"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Date => f.write_str("date"),
            Type::Usize => f.write_str("usize"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Optional(t) => write!(f, "optional<{t}>"),
            Type::Record(n) | Type::Enum(n) => write!(f, "{n}"),
        }
    }
}

/// Boundary constraints of a field, checked by the generated DTO validation and published in
/// the JSON Schemas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Smallest allowed value.
    pub min: Option<i64>,
    /// Largest allowed value.
    pub max: Option<i64>,
    /// Smallest length (characters or items).
    pub min_length: Option<u64>,
    /// Largest length (characters or items).
    pub max_length: Option<u64>,
    /// Regular expression a string must match.
    pub pattern: Option<String>,
    /// Allowed string values.
    pub one_of: Vec<String>,
}

impl Constraints {
    /// Whether the field has no constraint.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A field of a message, state, value type, read model or saga data.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Name (snake_case).
    pub name: String,
    /// What the field means.
    pub description: Option<String>,
    /// Its type.
    pub ty: Type,
    /// Its boundary constraints.
    pub constraints: Constraints,
    /// An example value from the catalog.
    pub example: Option<serde_json::Value>,
    /// The value readers use when the field is missing (checked against the type).
    pub default: Option<serde_json::Value>,
    /// Set when the field is deprecated.
    pub deprecated: Option<super::Deprecation>,
}

impl Field {
    /// Whether a reader accepts a payload or snapshot that lacks the field: it is optional or
    /// has a default.
    pub fn may_be_missing(&self) -> bool {
        matches!(self.ty, Type::Optional(_)) || self.default.is_some()
    }
}

/// A value type declared by a context.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueType {
    /// Name (PascalCase).
    pub name: String,
    /// What it means.
    pub description: Option<String>,
    /// Record or enum.
    pub kind: ValueKind,
}

/// The shape of a value type.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// A record with fields.
    Record(Vec<Field>),
    /// An enum with snake_case variants.
    Enum(Vec<String>),
}
