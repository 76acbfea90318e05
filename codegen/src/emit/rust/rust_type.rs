//! Rust types of model types.

use super::names::{contracts_crate, ident};
use crate::model::{Type, TypeName};
use proc_macro2::TokenStream;
use quote::quote;

/// Where generated code is written: inside a context's contracts crate or elsewhere.
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    /// The contracts crate being generated, if any.
    pub context: Option<&'a str>,
}

impl Site<'_> {
    /// The path of a value type seen from this site.
    pub fn type_path(&self, name: &TypeName) -> TokenStream {
        let n = ident(&name.name);
        if self.context == Some(name.context.as_str()) {
            quote!(crate::types::#n)
        } else {
            let krate = contracts_crate(&name.context);
            quote!(#krate::types::#n)
        }
    }

    /// The Rust type of a model type. Standard types are written with their full paths:
    /// a catalog may name its own types `String`, `Vec` or `Option`.
    pub fn rust_type(&self, ty: &Type) -> TokenStream {
        match ty {
            Type::String => quote!(::std::string::String),
            Type::Bool => quote!(bool),
            Type::I32 => quote!(i32),
            Type::I64 | Type::Money => quote!(i64),
            Type::U32 => quote!(u32),
            Type::U64 => quote!(u64),
            Type::Usize => quote!(usize),
            Type::Uuid => quote!(runtime::uuid::Uuid),
            Type::Timestamp => quote!(runtime::chrono::DateTime<runtime::chrono::Utc>),
            Type::Date => quote!(runtime::chrono::NaiveDate),
            Type::List(t) => {
                let t = self.rust_type(t);
                quote!(::std::vec::Vec<#t>)
            }
            Type::Optional(t) => {
                let t = self.rust_type(t);
                quote!(::std::option::Option<#t>)
            }
            Type::Record(n) | Type::Enum(n) => self.type_path(n),
        }
    }
}

/// Whether values of the type are `Copy` in generated code.
pub fn is_copy(ty: &Type) -> bool {
    match ty {
        Type::Bool
        | Type::I32
        | Type::I64
        | Type::U32
        | Type::U64
        | Type::Money
        | Type::Usize
        | Type::Uuid
        | Type::Timestamp
        | Type::Date
        | Type::Enum(_) => true,
        Type::Optional(inner) => is_copy(inner),
        Type::String | Type::List(_) | Type::Record(_) => false,
    }
}

/// Every other context whose value types a type refers to.
pub fn referenced_contexts(ty: &Type, out: &mut Vec<String>) {
    ty.referenced_contexts(out);
}
