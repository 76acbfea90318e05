//! Parsing (with `syn`) and type-checking of catalog expressions.
//!
//! The accepted subset of Rust: field paths from the roots in scope (`cmd.quantity`,
//! `state.address.city`), integer, string and boolean literals, enum variants
//! (`PaymentMethod::Card`, `ordering::OrderStatus::Placed`), `!`, unary `-`, arithmetic
//! (`+ - * / %`) on integers of one type, comparisons, `&&`, `||`, parentheses, and the methods
//! `len`, `is_empty`, `contains`, `is_some`, `is_none`, `unwrap_or`.

use crate::model::expr::{BinOp, Expr, ExprKind, Literal, Method, Root, UnOp};
use crate::model::{Type, TypeName};
use heck::ToUpperCamelCase;
use proc_macro2::Span;
use syn::spanned::Spanned;

/// What the checker needs to know about value types.
pub trait TypeLookup {
    /// Fields of a record type.
    fn record_fields(&self, name: &TypeName) -> Option<Vec<(String, Type)>>;
    /// Variants (snake_case) of an enum type.
    fn enum_variants(&self, name: &TypeName) -> Option<Vec<String>>;
    /// Whether a context of this name exists.
    fn has_context(&self, name: &str) -> bool;
    /// Whether a field of this name failed to resolve (and was already reported), so that a
    /// reference to it must not be reported again.
    fn is_broken_field(&self, name: &str) -> bool;
    /// Whether the file of this context did not parse (already reported), so that a
    /// reference into it must not be reported again.
    fn is_unparsed_context(&self, _name: &str) -> bool {
        false
    }
}

/// The variables an expression may read, and where it is written.
pub struct Scope<'a> {
    /// Roots in scope with their top-level fields.
    pub roots: Vec<(Root, Vec<(String, Type)>)>,
    /// Roots that exist elsewhere but not here, with the reason.
    pub unavailable: Vec<(Root, String)>,
    /// Value types.
    pub types: &'a dyn TypeLookup,
    /// The context the expression belongs to (for unqualified enum paths).
    pub context: &'a str,
    /// Top-level fields left out of scope because of a problem already reported; a reference
    /// to one is not reported again.
    pub silenced: Vec<String>,
}

/// A problem in an expression, positioned within its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based line within the expression.
    pub line: usize,
    /// 0-based column (characters) within that line.
    pub column: usize,
    /// Characters to underline.
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// Whether the problem follows from one already reported (it is then not reported).
    pub silent: bool,
}

type Checked = Result<Expr, ExprError>;

/// A top-level field of a root: its name and type.
type Named = (String, Type);

fn error_at(span: Span, message: impl Into<String>) -> ExprError {
    let start = span.start();
    let end = span.end();
    let len = if end.line == start.line {
        end.column.saturating_sub(start.column).max(1)
    } else {
        1
    };
    ExprError {
        line: start.line.max(1),
        column: start.column,
        len,
        message: message.into(),
        silent: false,
    }
}

/// Parses and checks `source`; `expected` is the type the context requires (a value of `T`
/// is accepted where `optional<T>` is expected).
pub fn check(source: &str, scope: &Scope<'_>, expected: Option<&Type>) -> Checked {
    // Before `syn`, whose parser recurses: a deeply nested text must not overflow the stack.
    super::expr_limits::check(source)?;
    let parsed: syn::Expr = syn::parse_str(source).map_err(|e| {
        let mut err = error_at(e.span(), format!("not a Rust expression: {e}"));
        if source.trim().is_empty() {
            err.message = "the expression is empty".into();
        }
        err
    })?;
    if is_none(&parsed) {
        return match expected {
            Some(want @ Type::Optional(_)) => Ok(Expr {
                ty: want.clone(),
                kind: ExprKind::Lit(Literal::None),
            }),
            Some(want) => Err(error_at(
                parsed.span(),
                format!(
                    "`None` is no value of type `{want}`: only an optional field (`T?`) may be empty"
                ),
            )),
            None => Err(error_at(
                parsed.span(),
                "`None` needs an optional field to fill: write it as the whole value of a `T?` field",
            )),
        };
    }
    let expr = Checker { scope }.expr(&parsed, expected)?;
    match expected {
        Some(want) => coerce(expr, want, parsed.span()),
        None => Ok(expr),
    }
}

/// Whether `e` is the bare path `None`.
fn is_none(e: &syn::Expr) -> bool {
    matches!(e, syn::Expr::Path(p) if p.qself.is_none() && p.path.is_ident("None"))
}

/// Whether two types are the same Rust type (money is an `i64`).
pub fn same_type(a: &Type, b: &Type) -> bool {
    fn norm(t: &Type) -> Type {
        match t {
            Type::Money => Type::I64,
            Type::List(i) => Type::List(Box::new(norm(i))),
            Type::Optional(i) => Type::Optional(Box::new(norm(i))),
            other => other.clone(),
        }
    }
    norm(a) == norm(b)
}

fn coerce(expr: Expr, want: &Type, span: Span) -> Checked {
    if same_type(&expr.ty, want) {
        return Ok(expr);
    }
    if let Type::Optional(inner) = want
        && same_type(&expr.ty, inner)
    {
        return Ok(Expr {
            ty: want.clone(),
            kind: ExprKind::Some(Box::new(expr)),
        });
    }
    Err(error_at(
        span,
        format!("expected a value of type `{want}`, found `{}`", expr.ty),
    ))
}

struct Checker<'s, 'a> {
    scope: &'s Scope<'a>,
}

impl Checker<'_, '_> {
    fn expr(&self, e: &syn::Expr, expected: Option<&Type>) -> Checked {
        match e {
            syn::Expr::Paren(p) => self.expr(&p.expr, expected),
            syn::Expr::Group(g) => self.expr(&g.expr, expected),
            syn::Expr::Lit(lit) => self.literal(&lit.lit, expected),
            syn::Expr::Path(p) => self.path(p),
            syn::Expr::Field(f) => self.field(f),
            syn::Expr::Unary(u) => self.unary(u, expected),
            syn::Expr::Binary(b) => self.binary(b, expected),
            syn::Expr::MethodCall(m) => self.method(m),
            syn::Expr::Cast(c) => self.cast(c),
            syn::Expr::Reference(r) => Err(error_at(
                r.span(),
                "`&` is only allowed on the argument of `contains`",
            )),
            other => Err(error_at(
                other.span(),
                "this kind of expression is not supported: use field paths, literals, enum variants, operators and the methods len, is_empty, contains, is_some, is_none, unwrap_or",
            )),
        }
    }

    fn literal(&self, lit: &syn::Lit, expected: Option<&Type>) -> Checked {
        match lit {
            syn::Lit::Bool(b) => Ok(Expr {
                kind: ExprKind::Lit(Literal::Bool(b.value)),
                ty: Type::Bool,
            }),
            syn::Lit::Str(s) => Ok(Expr {
                kind: ExprKind::Lit(Literal::Str(s.value())),
                ty: Type::String,
            }),
            syn::Lit::Int(i) => {
                if !i.suffix().is_empty() {
                    return Err(error_at(
                        i.span(),
                        "integer literals take no suffix: their type comes from the other operand",
                    ));
                }
                let value: i128 = i
                    .base10_parse()
                    .map_err(|_| error_at(i.span(), "integer literal out of range"))?;
                let ty = match expected {
                    Some(t) if t.is_integer() => t.clone(),
                    Some(Type::Optional(t)) if t.is_integer() => (**t).clone(),
                    _ => Type::I64,
                };
                check_range(value, &ty, i.span())?;
                Ok(Expr {
                    kind: ExprKind::Lit(Literal::Int(value)),
                    ty,
                })
            }
            other => Err(error_at(
                other.span(),
                "only integer, string and boolean literals are supported",
            )),
        }
    }

    fn root_fields(&self, ident: &syn::Ident) -> Result<(Root, &[Named]), ExprError> {
        let name = ident.to_string();
        if let Some((root, fields)) = self.scope.roots.iter().find(|(r, _)| r.name() == name) {
            return Ok((*root, fields.as_slice()));
        }
        if let Some((_, why)) = self
            .scope
            .unavailable
            .iter()
            .find(|(r, _)| r.name() == name)
        {
            return Err(error_at(
                ident.span(),
                format!("`{name}` is not available here: {why}"),
            ));
        }
        let names: Vec<&str> = self.scope.roots.iter().map(|(r, _)| r.name()).collect();
        Err(error_at(
            ident.span(),
            format!(
                "unknown variable `{name}`: expressions here can read {}",
                names
                    .iter()
                    .map(|n| format!("`{n}.*`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn path(&self, p: &syn::ExprPath) -> Checked {
        if p.qself.is_some() {
            return Err(error_at(p.span(), "qualified paths are not supported"));
        }
        let segments: Vec<&syn::PathSegment> = p.path.segments.iter().collect();
        if segments.iter().any(|s| !s.arguments.is_none()) {
            return Err(error_at(p.span(), "generic arguments are not supported"));
        }
        match segments.as_slice() {
            [single] if single.ident == "None" => Err(error_at(
                single.ident.span(),
                "`None` stands only as the whole value of an optional field; test an optional with `.is_none()` or `.is_some()`",
            )),
            [single] => {
                let (root, _) = self.root_fields(&single.ident)?;
                Err(error_at(
                    single.ident.span(),
                    format!(
                        "`{}` alone is not a value: name a field, as in `{}.field`",
                        root.name(),
                        root.name()
                    ),
                ))
            }
            [ty, variant] => self.variant(None, &ty.ident, &variant.ident, p.span()),
            [ctx, ty, variant] => {
                self.variant(Some(&ctx.ident), &ty.ident, &variant.ident, p.span())
            }
            _ => Err(error_at(p.span(), "not a field path or an enum variant")),
        }
    }

    fn variant(
        &self,
        ctx: Option<&syn::Ident>,
        ty: &syn::Ident,
        variant: &syn::Ident,
        span: Span,
    ) -> Checked {
        let context = match ctx {
            Some(c) => {
                let c = c.to_string();
                if !self.scope.types.has_context(&c) {
                    let mut e = error_at(span, format!("unknown context `{c}`"));
                    e.silent = self.scope.types.is_unparsed_context(&c);
                    return Err(e);
                }
                c
            }
            None => self.scope.context.to_owned(),
        };
        let name = TypeName {
            context,
            name: ty.to_string(),
        };
        let Some(variants) = self.scope.types.enum_variants(&name) else {
            return Err(error_at(ty.span(), format!("unknown enum type `{name}`")));
        };
        let written = variant.to_string();
        // The catalog variant whose Rust name is the one written (`a_b_c` is `ABC`).
        let Some(snake) = variants
            .iter()
            .find(|v| v.to_upper_camel_case() == written)
            .cloned()
        else {
            return Err(error_at(
                variant.span(),
                format!(
                    "`{name}` has no variant `{written}`; its variants are {}",
                    variants
                        .iter()
                        .map(|v| format!("`{}`", v.to_upper_camel_case()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        Ok(Expr {
            ty: Type::Enum(name.clone()),
            kind: ExprKind::Variant {
                ty: name,
                variant: snake,
            },
        })
    }

    fn field(&self, f: &syn::ExprField) -> Checked {
        let syn::Member::Named(member) = &f.member else {
            return Err(error_at(f.member.span(), "tuple fields are not supported"));
        };
        let member_name = member.to_string();
        // A root followed by a field: `cmd.quantity`.
        if let syn::Expr::Path(p) = &*f.base
            && p.path.segments.len() == 1
            && p.qself.is_none()
        {
            let (root, fields) = self.root_fields(&p.path.segments[0].ident)?;
            let Some((_, ty)) = fields.iter().find(|(n, _)| *n == member_name) else {
                let mut e = error_at(
                    member.span(),
                    unknown_field(&format!("`{}`", root.name()), &member_name, fields),
                );
                e.silent = self.scope.types.is_broken_field(&member_name)
                    || self.scope.silenced.contains(&member_name);
                return Err(e);
            };
            return Ok(Expr {
                ty: ty.clone(),
                kind: ExprKind::Path {
                    root,
                    fields: vec![member_name],
                },
            });
        }
        let base = self.expr(&f.base, None)?;
        let ExprKind::Path {
            root,
            fields: mut path,
        } = base.kind
        else {
            return Err(error_at(
                f.span(),
                "fields can only be read from field paths",
            ));
        };
        let record = match &base.ty {
            Type::Record(name) => name.clone(),
            Type::Optional(inner) if matches!(**inner, Type::Record(_)) => {
                return Err(error_at(
                    f.base.span(),
                    format!(
                        "`{}.{}` is optional: its fields cannot be read directly",
                        root.name(),
                        path.join(".")
                    ),
                ));
            }
            other => {
                return Err(error_at(
                    member.span(),
                    format!(
                        "`{}.{}` is a `{other}`, which has no fields",
                        root.name(),
                        path.join(".")
                    ),
                ));
            }
        };
        let fields = self.scope.types.record_fields(&record).unwrap_or_default();
        let Some((_, ty)) = fields.iter().find(|(n, _)| *n == member_name) else {
            let mut e = error_at(
                member.span(),
                unknown_field(&format!("`{record}`"), &member_name, &fields),
            );
            e.silent = self.scope.types.is_broken_field(&member_name);
            return Err(e);
        };
        path.push(member_name);
        Ok(Expr {
            ty: ty.clone(),
            kind: ExprKind::Path { root, fields: path },
        })
    }

    fn unary(&self, u: &syn::ExprUnary, expected: Option<&Type>) -> Checked {
        match u.op {
            syn::UnOp::Not(_) => {
                let inner = self.expr(&u.expr, Some(&Type::Bool))?;
                expect_type(&inner, &Type::Bool, u.expr.span(), "`!` needs a bool")?;
                Ok(Expr {
                    ty: Type::Bool,
                    kind: ExprKind::Unary {
                        op: UnOp::Not,
                        expr: Box::new(inner),
                    },
                })
            }
            syn::UnOp::Neg(_) => {
                let inner = self.expr(&u.expr, expected)?;
                if !matches!(inner.ty, Type::I32 | Type::I64 | Type::Money) {
                    return Err(error_at(
                        u.span(),
                        format!("unary `-` needs a signed integer, found `{}`", inner.ty),
                    ));
                }
                if let ExprKind::Lit(Literal::Int(v)) = inner.kind {
                    check_range(-v, &inner.ty, u.span())?;
                    return Ok(Expr {
                        ty: inner.ty,
                        kind: ExprKind::Lit(Literal::Int(-v)),
                    });
                }
                Ok(Expr {
                    ty: inner.ty.clone(),
                    kind: ExprKind::Unary {
                        op: UnOp::Neg,
                        expr: Box::new(inner),
                    },
                })
            }
            _ => Err(error_at(u.span(), "dereferencing is not supported")),
        }
    }

    fn operands(
        &self,
        b: &syn::ExprBinary,
        expected: Option<&Type>,
    ) -> Result<(Expr, Expr), ExprError> {
        // A literal operand takes the type of the other operand.
        if is_int_literal(&b.left) && !is_int_literal(&b.right) {
            let rhs = self.expr(&b.right, expected)?;
            let lhs = self.expr(&b.left, Some(&rhs.ty))?;
            Ok((lhs, rhs))
        } else {
            let lhs = self.expr(&b.left, expected)?;
            let rhs = self.expr(&b.right, Some(&lhs.ty))?;
            Ok((lhs, rhs))
        }
    }

    fn binary(&self, b: &syn::ExprBinary, expected: Option<&Type>) -> Checked {
        use syn::BinOp as S;
        let op = match b.op {
            S::Add(_) => BinOp::Add,
            S::Sub(_) => BinOp::Sub,
            S::Mul(_) => BinOp::Mul,
            S::Div(_) => BinOp::Div,
            S::Rem(_) => BinOp::Rem,
            S::Eq(_) => BinOp::Eq,
            S::Ne(_) => BinOp::Ne,
            S::Lt(_) => BinOp::Lt,
            S::Le(_) => BinOp::Le,
            S::Gt(_) => BinOp::Gt,
            S::Ge(_) => BinOp::Ge,
            S::And(_) => BinOp::And,
            S::Or(_) => BinOp::Or,
            _ => {
                return Err(error_at(
                    b.op.span(),
                    "operator not supported: use + - * / % == != < <= > >= && ||",
                ));
            }
        };
        let ty = match op {
            BinOp::And | BinOp::Or => {
                let lhs = self.expr(&b.left, Some(&Type::Bool))?;
                expect_type(
                    &lhs,
                    &Type::Bool,
                    b.left.span(),
                    &format!("`{}` needs bool operands", op.symbol()),
                )?;
                let rhs = self.expr(&b.right, Some(&Type::Bool))?;
                expect_type(
                    &rhs,
                    &Type::Bool,
                    b.right.span(),
                    &format!("`{}` needs bool operands", op.symbol()),
                )?;
                return Ok(binary(op, lhs, rhs, Type::Bool));
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let numeric = expected.filter(|t| t.is_integer());
                let (lhs, rhs) = self.operands(b, numeric)?;
                if !lhs.ty.is_integer() {
                    return Err(error_at(
                        b.left.span(),
                        format!(
                            "`{}` needs integer operands, found `{}`",
                            op.symbol(),
                            lhs.ty
                        ),
                    ));
                }
                if !same_type(&lhs.ty, &rhs.ty) {
                    return Err(mismatch(b, op, &lhs.ty, &rhs.ty));
                }
                let ty = lhs.ty.clone();
                return Ok(binary(op, lhs, rhs, ty));
            }
            _ => Type::Bool,
        };
        let (lhs, rhs) = self.operands(b, None)?;
        if !same_type(&lhs.ty, &rhs.ty) {
            let hint = match (&lhs.ty, &rhs.ty) {
                (Type::Optional(_), _) | (_, Type::Optional(_)) => {
                    "; compare `x.unwrap_or(..)` or test `x.is_some()`"
                }
                _ => "",
            };
            let mut e = mismatch(b, op, &lhs.ty, &rhs.ty);
            e.message.push_str(hint);
            return Err(e);
        }
        if matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) && !lhs.ty.is_ordered() {
            return Err(error_at(
                b.span(),
                format!(
                    "values of type `{}` cannot be ordered with `{}`",
                    lhs.ty,
                    op.symbol()
                ),
            ));
        }
        Ok(binary(op, lhs, rhs, ty))
    }

    fn cast(&self, c: &syn::ExprCast) -> Checked {
        let target = match &*c.ty {
            syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                match p.path.segments[0].ident.to_string().as_str() {
                    "i32" => Type::I32,
                    "i64" => Type::I64,
                    "u32" => Type::U32,
                    "u64" => Type::U64,
                    other => {
                        return Err(error_at(
                            c.ty.span(),
                            format!(
                                "cannot convert to `{other}`: `as` converts to i32, i64, u32 or u64"
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(error_at(
                    c.ty.span(),
                    "`as` converts to i32, i64, u32 or u64",
                ));
            }
        };
        let inner = self.expr(&c.expr, None)?;
        let lossless = same_type(&inner.ty, &target)
            || matches!(
                (&inner.ty, &target),
                (Type::I32, Type::I64)
                    | (Type::U32, Type::I64 | Type::U64)
                    | (Type::Usize, Type::U64)
            );
        if !lossless {
            return Err(error_at(
                c.span(),
                format!(
                    "`{}` as `{target}` could lose information: only widening integer conversions are allowed",
                    inner.ty
                ),
            ));
        }
        Ok(Expr {
            ty: target,
            kind: ExprKind::Cast {
                expr: Box::new(inner),
            },
        })
    }

    fn method(&self, m: &syn::ExprMethodCall) -> Checked {
        if m.turbofish.is_some() {
            return Err(error_at(m.span(), "turbofish is not supported"));
        }
        let receiver = self.expr(&m.receiver, None)?;
        let name = m.method.to_string();
        let args: Vec<&syn::Expr> = m.args.iter().collect();
        let method = match name.as_str() {
            "len" => Method::Len,
            "is_empty" => Method::IsEmpty,
            "contains" => Method::Contains,
            "is_some" => Method::IsSome,
            "is_none" => Method::IsNone,
            "unwrap_or" => Method::UnwrapOr,
            _ => {
                return Err(error_at(
                    m.method.span(),
                    format!(
                        "unknown method `{name}`: supported are len, is_empty, contains, is_some, is_none, unwrap_or"
                    ),
                ));
            }
        };
        let want_args = usize::from(matches!(method, Method::Contains | Method::UnwrapOr));
        if args.len() != want_args {
            return Err(error_at(
                m.span(),
                format!(
                    "`{name}` takes {want_args} argument{}",
                    if want_args == 1 { "" } else { "s" }
                ),
            ));
        }
        let wrong_receiver = |what: &str| {
            error_at(
                m.receiver.span(),
                format!("`{name}` needs {what}, found `{}`", receiver.ty),
            )
        };
        let (ty, args) = match method {
            Method::Len | Method::IsEmpty => {
                if !matches!(receiver.ty, Type::String | Type::List(_)) {
                    return Err(wrong_receiver("a string or a list"));
                }
                let ty = if method == Method::Len {
                    Type::Usize
                } else {
                    Type::Bool
                };
                (ty, vec![])
            }
            Method::IsSome | Method::IsNone => {
                if !matches!(receiver.ty, Type::Optional(_)) {
                    return Err(wrong_receiver("an optional"));
                }
                (Type::Bool, vec![])
            }
            Method::Contains => {
                let item = match &receiver.ty {
                    Type::List(item) => (**item).clone(),
                    Type::String => Type::String,
                    _ => return Err(wrong_receiver("a list or a string")),
                };
                let arg = match args[0] {
                    syn::Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
                    other => other,
                };
                let checked = self.expr(arg, Some(&item))?;
                expect_type(
                    &checked,
                    &item,
                    arg.span(),
                    &format!("`contains` needs a `{item}` here"),
                )?;
                (Type::Bool, vec![checked])
            }
            Method::UnwrapOr => {
                let Type::Optional(inner) = &receiver.ty else {
                    return Err(wrong_receiver("an optional"));
                };
                let inner = (**inner).clone();
                let checked = self.expr(args[0], Some(&inner))?;
                expect_type(
                    &checked,
                    &inner,
                    args[0].span(),
                    &format!("`unwrap_or` needs a `{inner}` here"),
                )?;
                (inner, vec![checked])
            }
        };
        Ok(Expr {
            ty,
            kind: ExprKind::Call {
                receiver: Box::new(receiver),
                method,
                args,
            },
        })
    }
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr, ty: Type) -> Expr {
    Expr {
        ty,
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
    }
}

fn is_int_literal(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Lit(l) => matches!(l.lit, syn::Lit::Int(_)),
        syn::Expr::Paren(p) => is_int_literal(&p.expr),
        syn::Expr::Unary(u) => matches!(u.op, syn::UnOp::Neg(_)) && is_int_literal(&u.expr),
        _ => false,
    }
}

fn mismatch(b: &syn::ExprBinary, op: BinOp, lhs: &Type, rhs: &Type) -> ExprError {
    error_at(
        b.span(),
        format!("mismatched types: `{lhs}` {} `{rhs}`", op.symbol()),
    )
}

fn expect_type(e: &Expr, want: &Type, span: Span, message: &str) -> Result<(), ExprError> {
    if same_type(&e.ty, want) {
        Ok(())
    } else {
        Err(error_at(span, format!("{message}, found `{}`", e.ty)))
    }
}

fn check_range(value: i128, ty: &Type, span: Span) -> Result<(), ExprError> {
    if let Some((lo, hi)) = ty.integer_range()
        && (value < lo || value > hi)
    {
        return Err(error_at(span, format!("{value} does not fit in `{ty}`")));
    }
    Ok(())
}

fn unknown_field(owner: &str, name: &str, fields: &[(String, Type)]) -> String {
    let mut msg = format!("{owner} has no field `{name}`");
    if let Some(s) = crate::diagnostic::suggest(name, fields.iter().map(|(n, _)| n.as_str())) {
        msg.push_str("; ");
        msg.push_str(&s);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoTypes;
    impl TypeLookup for NoTypes {
        fn record_fields(&self, _: &TypeName) -> Option<Vec<(String, Type)>> {
            None
        }
        fn enum_variants(&self, n: &TypeName) -> Option<Vec<String>> {
            (n.name == "Color").then(|| vec!["dark_red".to_string(), "blue".to_string()])
        }
        fn has_context(&self, _: &str) -> bool {
            false
        }
        fn is_broken_field(&self, _: &str) -> bool {
            false
        }
    }

    fn scope() -> Scope<'static> {
        Scope {
            roots: vec![
                (
                    Root::Cmd,
                    vec![
                        ("quantity".into(), Type::I32),
                        ("note".into(), Type::Optional(Box::new(Type::String))),
                        ("tags".into(), Type::List(Box::new(Type::String))),
                    ],
                ),
                (
                    Root::State,
                    vec![("available".into(), Type::I32), ("total".into(), Type::I64)],
                ),
            ],
            unavailable: vec![(Root::Event, "no event here".into())],
            types: &NoTypes,
            context: "shop",
            silenced: vec![],
        }
    }

    fn ok(src: &str) -> Expr {
        check(src, &scope(), None).unwrap_or_else(|e| panic!("{src}: {e:?}"))
    }

    fn err(src: &str) -> String {
        check(src, &scope(), None).expect_err(src).message
    }

    #[test]
    fn accepts_the_subset() {
        assert_eq!(ok("state.available >= cmd.quantity").ty, Type::Bool);
        assert_eq!(ok("cmd.quantity * 2 + 1").ty, Type::I32);
        assert_eq!(ok("1 + cmd.quantity").ty, Type::I32);
        assert_eq!(ok("cmd.tags.len() < 10").ty, Type::Bool);
        assert_eq!(
            ok("cmd.tags.contains(&\"x\") || cmd.note.is_none()").ty,
            Type::Bool
        );
        assert_eq!(ok("cmd.note.unwrap_or(\"\") == \"vip\"").ty, Type::Bool);
        assert_eq!(
            ok("Color::DarkRed").ty,
            Type::Enum(TypeName {
                context: "shop".into(),
                name: "Color".into()
            })
        );
        assert_eq!(ok("-5 < cmd.quantity").ty, Type::Bool);
        assert_eq!(ok("cmd.quantity as i64 * state.total").ty, Type::I64);
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(err("state.availble >= 1").contains("did you mean `available`"));
        assert!(err("state.available >= state.total").contains("mismatched types"));
        assert!(err("event.x").contains("not available here"));
        assert!(err("foo.x").contains("unknown variable"));
        assert!(err("cmd.quantity > 3000000000").contains("does not fit"));
        assert!(err("cmd.note == \"x\"").contains("unwrap_or"));
        assert!(err("cmd.quantity.len()").contains("needs a string or a list"));
        assert!(err("Color::Green").contains("has no variant"));
        assert!(err("state.available >=").contains("not a Rust expression"));
        assert!(err("{ 1 }").contains("not supported"));
        assert!(err("state.total as i32").contains("could lose information"));
    }

    #[test]
    fn positions_point_into_the_text() {
        let e = check("cmd.quantity > state.nope", &scope(), None).unwrap_err();
        assert_eq!((e.line, e.column, e.len), (1, 21, 4));
    }

    #[test]
    fn wraps_values_where_optionals_are_expected() {
        let e = check(
            "cmd.quantity",
            &scope(),
            Some(&Type::Optional(Box::new(Type::I32))),
        )
        .unwrap();
        assert!(matches!(e.kind, ExprKind::Some(_)));
    }
}
