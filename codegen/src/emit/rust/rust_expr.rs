//! Rust code of checked catalog expressions.

use super::names::variant;
use super::rust_type::{Site, is_copy};
use crate::model::Type;
use crate::model::expr::{BinOp, Expr, ExprKind, Literal, Method, Root, UnOp};
use proc_macro2::{Literal as Lit, TokenStream};
use quote::quote;

/// How `meta.*` is read where the expression is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meta {
    /// Inside a command handler: `id` (typed aggregate id) and `ctx: &CommandContext`.
    Command,
    /// Over an envelope: `aggregate_id` (typed) and `envelope: &RawEnvelope`.
    Envelope,
}

/// Where an expression is evaluated.
#[derive(Clone, Copy, Debug)]
pub struct ExprSite<'a> {
    /// The crate the code is in.
    pub site: Site<'a>,
    /// How `meta.*` is read.
    pub meta: Meta,
}

impl ExprSite<'_> {
    /// The expression as an owned value (non-`Copy` values are cloned).
    pub fn value(&self, e: &Expr) -> TokenStream {
        match &e.kind {
            ExprKind::Lit(Literal::Str(s)) => quote!(::std::string::String::from(#s)),
            ExprKind::Path { .. } if !is_copy(&e.ty) => {
                let p = self.place(e);
                quote!(#p.clone())
            }
            _ => self.place(e),
        }
    }

    /// The expression where a borrow is enough (comparisons, receivers).
    pub fn place(&self, e: &Expr) -> TokenStream {
        match &e.kind {
            ExprKind::Path { root, fields } => self.path(*root, fields),
            ExprKind::Lit(Literal::Int(v)) => {
                let lit = Lit::i128_unsuffixed(*v);
                quote!(#lit)
            }
            ExprKind::Lit(Literal::Str(s)) => quote!(#s),
            ExprKind::Lit(Literal::Bool(b)) => quote!(#b),
            // Typed, so that a value handed to a generic (a read-model update) infers.
            ExprKind::Lit(Literal::None) => {
                let ty = self.site.rust_type(&e.ty);
                quote!(<#ty>::None)
            }
            ExprKind::Variant { ty, variant: v } => {
                let path = self.site.type_path(ty);
                let v = variant(v);
                quote!(#path::#v)
            }
            ExprKind::Unary { op, expr } => {
                let inner = self.operand(expr);
                match op {
                    UnOp::Not => quote!(!#inner),
                    UnOp::Neg => quote!(-#inner),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::Call {
                receiver,
                method,
                args,
            } => self.call(receiver, *method, args),
            ExprKind::Some(inner) => {
                let v = self.value(inner);
                quote!(Some(#v))
            }
            ExprKind::Cast { expr } => {
                let inner = self.operand(expr);
                let target = match e.ty {
                    Type::I32 => quote!(i32),
                    Type::U32 => quote!(u32),
                    Type::U64 => quote!(u64),
                    _ => quote!(i64),
                };
                quote!(#inner as #target)
            }
        }
    }

    /// An operand, parenthesized when it is itself an operation.
    pub fn operand(&self, e: &Expr) -> TokenStream {
        let inner = self.place(e);
        parenthesized(e, inner)
    }

    /// [`Self::value`] as an operand (of `&`, `-`, `as`, a method call), parenthesized when
    /// it is itself an operation.
    pub fn value_operand(&self, e: &Expr) -> TokenStream {
        let inner = self.value(e);
        parenthesized(e, inner)
    }

    fn path(&self, root: Root, fields: &[String]) -> TokenStream {
        let rest = fields.iter().skip(1).map(|f| super::names::ident(f));
        let first = fields.first().map(String::as_str).unwrap_or_default();
        let head = match (root, self.meta) {
            (Root::Meta, Meta::Command) => match first {
                "aggregate_id" => quote!(id),
                "tenant_id" => quote!(ctx.tenant_id),
                "user_id" => quote!(ctx.user_id),
                _ => quote!(ctx.now),
            },
            (Root::Meta, Meta::Envelope) => match first {
                "aggregate_id" => quote!(aggregate_id),
                "tenant_id" => quote!(envelope.meta.tenant_id),
                "user_id" => quote!(envelope.meta.user_id),
                _ => quote!(envelope.meta.created_at),
            },
            (root, _) => {
                let r = super::names::ident(root.name());
                let f = super::names::ident(first);
                quote!(#r.#f)
            }
        };
        quote!(#head #(.#rest)*)
    }

    fn binary(&self, op: BinOp, lhs: &Expr, rhs: &Expr) -> TokenStream {
        let mut l = self.operand(lhs);
        let mut r = self.operand(rhs);
        let ordering = matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
        if ordering && lhs.ty == Type::String {
            // `String` orders against `String` only; compare string slices instead.
            let lit = |e: &Expr| matches!(e.kind, ExprKind::Lit(Literal::Str(_)));
            if lit(rhs) && !lit(lhs) {
                l = quote!(#l.as_str());
            } else if lit(lhs) && !lit(rhs) {
                r = quote!(#r.as_str());
            }
        }
        let o: TokenStream = op.symbol().parse().expect("operator tokens");
        quote!(#l #o #r)
    }

    fn call(&self, receiver: &Expr, method: Method, args: &[Expr]) -> TokenStream {
        let recv = self.operand(receiver);
        match method {
            Method::Len if receiver.ty == Type::String => quote!(#recv.chars().count()),
            Method::Len => quote!(#recv.len()),
            Method::IsEmpty => quote!(#recv.is_empty()),
            Method::IsSome => quote!(#recv.is_some()),
            Method::IsNone => quote!(#recv.is_none()),
            Method::Contains => {
                let arg = &args[0];
                match &receiver.ty {
                    Type::String => match &arg.kind {
                        ExprKind::Lit(Literal::Str(s)) => quote!(#recv.contains(#s)),
                        _ => {
                            let a = self.operand(arg);
                            quote!(#recv.contains(#a.as_str()))
                        }
                    },
                    _ if matches!(arg.kind, ExprKind::Lit(Literal::Str(_))) => {
                        let a = self.place(arg);
                        quote!(#recv.iter().any(|item| item == #a))
                    }
                    _ => {
                        let a = self.operand(arg);
                        quote!(#recv.contains(&#a))
                    }
                }
            }
            Method::UnwrapOr => {
                let default = self.value(&args[0]);
                if is_copy(&receiver.ty) {
                    quote!(#recv.unwrap_or(#default))
                } else {
                    quote!(#recv.clone().unwrap_or_else(|| #default))
                }
            }
        }
    }
}

/// `code` in parentheses when the expression is an operation.
fn parenthesized(e: &Expr, code: TokenStream) -> TokenStream {
    match e.kind {
        ExprKind::Binary { .. } | ExprKind::Cast { .. } | ExprKind::Unary { .. } => {
            quote!((#code))
        }
        _ => code,
    }
}
