//! Type-checked expressions: rules, field mappings and state changes written in Rust
//! expression syntax in the catalog.

use super::types::{Type, TypeName};

/// The variables an expression can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// `cmd.*`: the command payload.
    Cmd,
    /// `state.*`: the aggregate state before the change (`state.id`, `state.status` included).
    State,
    /// `event.*`: the event payload.
    Event,
    /// `doc.*`: the read-model document before the change.
    Doc,
    /// `data.*`: the saga data.
    Data,
    /// `meta.*`: message metadata (`aggregate_id`, `tenant_id`, `user_id`, `now`).
    Meta,
}

impl Root {
    /// The name written in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Root::Cmd => "cmd",
            Root::State => "state",
            Root::Event => "event",
            Root::Doc => "doc",
            Root::Data => "data",
            Root::Meta => "meta",
        }
    }
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer literal.
    Int(i128),
    /// A string literal.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `None`: no value, as the whole value of an optional field.
    None,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinOp {
    /// The operator as written in Rust.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

/// Methods an expression may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `.len()` of a string (characters) or list (items), a `usize`.
    Len,
    /// `.is_empty()` of a string or list.
    IsEmpty,
    /// `.contains(x)` of a list (an item) or string (a substring).
    Contains,
    /// `.is_some()` of an optional.
    IsSome,
    /// `.is_none()` of an optional.
    IsNone,
    /// `.unwrap_or(x)` of an optional.
    UnwrapOr,
}

impl Method {
    /// The method name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Len => "len",
            Method::IsEmpty => "is_empty",
            Method::Contains => "contains",
            Method::IsSome => "is_some",
            Method::IsNone => "is_none",
            Method::UnwrapOr => "unwrap_or",
        }
    }
}

/// The shape of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A field path, `cmd.address.city`.
    Path {
        /// The variable.
        root: Root,
        /// Field names after the variable.
        fields: Vec<String>,
    },
    /// A literal.
    Lit(Literal),
    /// An enum variant, `PaymentMethod::Card` (the variant is stored in snake_case).
    Variant {
        /// The enum.
        ty: TypeName,
        /// The variant in snake_case.
        variant: String,
    },
    /// A unary operation.
    Unary {
        /// The operator.
        op: UnOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// A method call.
    Call {
        /// The receiver.
        receiver: Box<Expr>,
        /// The method.
        method: Method,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `Some(x)`: an optional that holds `x` (inserted where a value meets an optional).
    Some(Box<Expr>),
    /// `x as T`: a lossless integer conversion.
    Cast {
        /// The converted value.
        expr: Box<Expr>,
    },
}

/// A type-checked expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// Its shape.
    pub kind: ExprKind,
    /// Its type.
    pub ty: Type,
}

/// An expression together with the text the catalog wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceExpr {
    /// The catalog text.
    pub source: String,
    /// The checked expression.
    pub expr: Expr,
}

impl Expr {
    /// Renames the first field after `root` in every path (`event.quantity` to
    /// `event.units`), as an upcast step renames a payload field.
    pub fn rename_field(&mut self, root: Root, old: &str, new: &str) {
        match &mut self.kind {
            ExprKind::Path { root: r, fields } => {
                if *r == root
                    && let Some(first) = fields.first_mut()
                    && first == old
                {
                    *first = new.to_owned();
                }
            }
            ExprKind::Lit(_) | ExprKind::Variant { .. } => {}
            ExprKind::Unary { expr, .. } | ExprKind::Some(expr) | ExprKind::Cast { expr } => {
                expr.rename_field(root, old, new)
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.rename_field(root, old, new);
                rhs.rename_field(root, old, new);
            }
            ExprKind::Call { receiver, args, .. } => {
                receiver.rename_field(root, old, new);
                for a in args {
                    a.rename_field(root, old, new);
                }
            }
        }
    }

    /// The roots the expression reads.
    pub fn roots(&self, out: &mut Vec<Root>) {
        match &self.kind {
            ExprKind::Path { root, .. } => {
                if !out.contains(root) {
                    out.push(*root);
                }
            }
            ExprKind::Lit(_) | ExprKind::Variant { .. } => {}
            ExprKind::Unary { expr, .. } | ExprKind::Some(expr) | ExprKind::Cast { expr } => {
                expr.roots(out)
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.roots(out);
                rhs.roots(out);
            }
            ExprKind::Call { receiver, args, .. } => {
                receiver.roots(out);
                for a in args {
                    a.roots(out);
                }
            }
        }
    }
}
