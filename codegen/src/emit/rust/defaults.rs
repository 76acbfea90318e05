//! Field defaults in generated structs: a `#[serde(default = ...)]` function per defaulted
//! field, so snapshots, saga instances and messages written before the field existed still
//! load, and a `Default` implementation that starts new values from the same defaults.

use super::names::{ident, variant};
use super::rust_type::Site;
use crate::model::{Field, Type};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// The derive line of a generated struct: `Default` is derived unless a field has a catalog
/// default (then [`items`] implements it).
pub fn derive(fields: &[Field], extra: TokenStream) -> TokenStream {
    if fields.iter().any(|f| f.default.is_some()) {
        quote!(#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize #extra)])
    } else {
        quote!(#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize #extra)])
    }
}

/// The serde attribute of a field: its default function, or `default` for an optional field.
pub fn serde_attr(owner: &Ident, f: &Field) -> Option<TokenStream> {
    if f.default.is_some() {
        let path = format!("{owner}::{}", default_fn(f));
        Some(quote!(#[serde(default = #path)]))
    } else {
        matches!(f.ty, Type::Optional(_)).then(|| quote!(#[serde(default)]))
    }
}

/// The default functions of `owner` and, when it has any, its `Default` implementation
/// (`implicit` names fields outside `fields`, such as an aggregate's `id` and `status`).
pub fn items(owner: &Ident, fields: &[Field], implicit: &[&str], site: Site<'_>) -> TokenStream {
    let defaulted: Vec<&Field> = fields.iter().filter(|f| f.default.is_some()).collect();
    if defaulted.is_empty() {
        return quote!();
    }
    let fns = defaulted.iter().map(|f| {
        let name = default_fn(f);
        let ty = site.rust_type(&f.ty);
        let value = f
            .default
            .as_ref()
            .map(|v| literal(&f.ty, v, site))
            .unwrap_or_default();
        let d = format!(
            " The catalog default of `{}`: what a payload or snapshot without it reads as.",
            f.name
        );
        quote! {
            #[doc = #d]
            pub fn #name() -> #ty { #value }
        }
    });
    let inits = implicit
        .iter()
        .map(|name| {
            let n = ident(name);
            quote!(#n: ::std::default::Default::default())
        })
        .chain(fields.iter().map(|f| {
            let n = ident(&f.name);
            if f.default.is_some() {
                let d = default_fn(f);
                quote!(#n: Self::#d())
            } else {
                quote!(#n: ::std::default::Default::default())
            }
        }));
    quote! {
        impl #owner {
            #(#fns)*
        }
        impl ::std::default::Default for #owner {
            fn default() -> Self {
                Self { #(#inits,)* }
            }
        }
    }
}

fn default_fn(f: &Field) -> Ident {
    format_ident!("default_{}", f.name)
}

/// A Rust expression of type `ty` for a JSON value validated against it.
pub fn literal(ty: &Type, value: &serde_json::Value, site: Site<'_>) -> TokenStream {
    use serde_json::Value as J;
    match (ty, value) {
        (Type::Optional(_), J::Null) => quote!(::std::option::Option::None),
        (Type::Optional(inner), v) => {
            let v = literal(inner, v, site);
            quote!(::std::option::Option::Some(#v))
        }
        (Type::String, J::String(s)) => quote!(::std::string::String::from(#s)),
        (Type::Bool, J::Bool(b)) => quote!(#b),
        (Type::I32, J::Number(n)) => lit(n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .map(Literal::i32_suffixed)),
        (Type::I64 | Type::Money, J::Number(n)) => lit(n.as_i64().map(Literal::i64_suffixed)),
        (Type::U32, J::Number(n)) => lit(n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Literal::u32_suffixed)),
        (Type::U64, J::Number(n)) => lit(n.as_u64().map(Literal::u64_suffixed)),
        (Type::Uuid, J::String(s)) => {
            let bits = runtime::uuid::Uuid::try_parse(s)
                .map(|u| u.as_u128())
                .unwrap_or_default();
            let bits = Literal::u128_unsuffixed(bits);
            quote!(runtime::uuid::Uuid::from_u128(#bits))
        }
        (Type::Timestamp, J::String(s)) => {
            let (secs, nanos) = runtime::chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
                .unwrap_or_default();
            let (secs, nanos) = (Literal::i64_suffixed(secs), Literal::u32_suffixed(nanos));
            quote!(runtime::chrono::DateTime::from_timestamp(#secs, #nanos).unwrap_or_default())
        }
        (Type::Date, J::String(s)) => {
            use runtime::chrono::Datelike;
            let d = runtime::chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
            let (y, m, day) = (
                Literal::i32_suffixed(d.year()),
                Literal::u32_suffixed(d.month()),
                Literal::u32_suffixed(d.day()),
            );
            quote!(runtime::chrono::NaiveDate::from_ymd_opt(#y, #m, #day).unwrap_or_default())
        }
        (Type::Enum(name), J::String(v)) => {
            let path = site.type_path(name);
            let v = variant(v);
            quote!(#path::#v)
        }
        (Type::List(item), J::Array(items)) => {
            let items = items.iter().map(|i| literal(item, i, site));
            quote!(::std::vec![#(#items),*])
        }
        // Validation accepts nothing else; a default that slipped through reads as zero.
        _ => quote!(::std::default::Default::default()),
    }
}

fn lit(l: Option<Literal>) -> TokenStream {
    match l {
        Some(l) => quote!(#l),
        None => quote!(::std::default::Default::default()),
    }
}
