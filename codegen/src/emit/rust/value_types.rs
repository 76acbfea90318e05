//! The value types of a context (records and enums, aggregate statuses included), their
//! struct fields and their boundary validation.

use super::contracts::derive_struct;
use super::defaults;
use super::doc;
use super::names::{ident, variant};
use super::rust_type::Site;
use crate::model::{Context, Field, Type, ValueKind, ValueType};
use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;

/// The `types` module of a contracts crate.
pub fn module(ctx: &Context, site: Site<'_>) -> TokenStream {
    let items = ctx.types.iter().map(|t| value_type(t, site));
    quote! {
        //! Value types of the context (records and enums, aggregate statuses included).
        #(#items)*
    }
}

fn value_type(t: &ValueType, site: Site<'_>) -> TokenStream {
    let name = ident(&t.name);
    let docs = doc(t.description.as_deref().unwrap_or("A value type."));
    match &t.kind {
        ValueKind::Enum(variants) => {
            let vs = variants.iter().enumerate().map(|(i, v)| {
                let id = variant(v);
                let d = doc(&format!("`{v}`"));
                let default = (i == 0).then(|| quote!(#[default]));
                // `rename_all` spells `V2` as `v2`: keep `v_2` as written.
                let rename =
                    (id.to_string().to_snake_case() != *v).then(|| quote!(#[serde(rename = #v)]));
                quote!(#d #default #rename #id)
            });
            quote! {
                #docs
                #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
                #[serde(rename_all = "snake_case")]
                pub enum #name { #(#vs,)* }
            }
        }
        ValueKind::Record(fields) => {
            let derive = derive_struct(fields);
            let body = struct_fields(&name, fields, site);
            let defaults = defaults::items(&name, fields, &[], site);
            let validate = validate_impl(&name, fields);
            quote! {
                #docs
                #derive
                pub struct #name { #body }
                #defaults
                #validate
            }
        }
    }
}

/// Struct fields of `owner` with their doc comments and serde attributes.
pub(super) fn struct_fields(
    owner: &proc_macro2::Ident,
    fields: &[Field],
    site: Site<'_>,
) -> TokenStream {
    let fs = fields.iter().map(|f| {
        let name = ident(&f.name);
        let ty = site.rust_type(&f.ty);
        let d = doc(&field_doc(f));
        let default = defaults::serde_attr(owner, f);
        quote!(#d #default pub #name: #ty)
    });
    quote!(#(#fs,)*)
}

/// The doc comment of a field: its description, its default and its deprecation.
fn field_doc(f: &Field) -> String {
    let mut text = f
        .description
        .clone()
        .unwrap_or_else(|| format!("`{}`", f.name));
    if let Some(d) = &f.default {
        text.push_str(&format!("\n\nDefault: `{d}`."));
    }
    if let Some(dep) = &f.deprecated {
        text.push_str("\n\nDeprecated");
        match &dep.note {
            Some(n) => text.push_str(&format!(": {n}")),
            None => text.push('.'),
        }
    }
    text
}

/// `ValidateAt` for a DTO or record: one check per constraint, nested records included.
pub(super) fn validate_impl(name: &proc_macro2::Ident, fields: &[Field]) -> TokenStream {
    let checks: Vec<TokenStream> = fields.iter().filter_map(field_checks).collect();
    let (at, v) = if checks.is_empty() {
        (quote!(_at), quote!(_v))
    } else {
        (quote!(at), quote!(v))
    };
    quote! {
        impl runtime::validation::ValidateAt for #name {
            fn validate_at(&self, #at: &str, #v: &mut runtime::validation::Violations) {
                #(#checks)*
            }
        }
    }
}

fn contains_record(ty: &Type) -> bool {
    match ty {
        Type::Record(_) => true,
        Type::List(t) | Type::Optional(t) => contains_record(t),
        _ => false,
    }
}

fn field_checks(f: &Field) -> Option<TokenStream> {
    let name = ident(&f.name);
    let pointer = format!("{{at}}/{}", f.name);
    let (base, optional) = match &f.ty {
        Type::Optional(inner) => (&**inner, true),
        t => (t, false),
    };
    // How the value is read: as a receiver, as a reference argument, as a copied number.
    let (place, reference, copied) = if optional {
        (quote!(value), quote!(value), quote!(*value))
    } else {
        (quote!(self.#name), quote!(&self.#name), quote!(self.#name))
    };
    let c = &f.constraints;
    let mut checks = Vec::new();
    let opt = |v: Option<i64>| match v {
        Some(v) => {
            let v = proc_macro2::Literal::i64_unsuffixed(v);
            quote!(Some(#v))
        }
        None => quote!(None),
    };
    let optu = |v: Option<u64>| match v {
        Some(v) => {
            let v = proc_macro2::Literal::u64_unsuffixed(v);
            quote!(Some(#v))
        }
        None => quote!(None),
    };
    if c.min.is_some() || c.max.is_some() {
        let (min, max) = (opt(c.min), opt(c.max));
        checks.push(quote!(v.range(&format!(#pointer), i128::from(#copied), #min, #max);));
    }
    if c.min_length.is_some() || c.max_length.is_some() {
        let len = if *base == Type::String {
            quote!(#place.chars().count())
        } else {
            quote!(#place.len())
        };
        let (min, max) = (optu(c.min_length), optu(c.max_length));
        checks.push(quote!(v.length(&format!(#pointer), #len, #min, #max);));
    }
    if let Some(p) = &c.pattern {
        checks.push(quote!(v.pattern(&format!(#pointer), #reference, #p);));
    }
    if !c.one_of.is_empty() {
        let allowed = &c.one_of;
        checks.push(quote!(v.one_of(&format!(#pointer), #reference, &[#(#allowed),*]);));
    }
    if contains_record(base) {
        checks.push(quote!(v.nested(&format!(#pointer), #reference);));
    }
    if checks.is_empty() {
        return None;
    }
    Some(if optional {
        quote!(if let Some(value) = &self.#name { #(#checks)* })
    } else {
        quote!(#(#checks)*)
    })
}
