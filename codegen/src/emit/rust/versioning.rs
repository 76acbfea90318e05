//! The schema version and upcaster of a message, as constants of its `runtime::Message`
//! implementation (the runtime applies them, see `runtime::evolution`).

use crate::model::{Deprecation, Versioning};
use proc_macro2::TokenStream;
use quote::quote;

/// `VERSION` and `UPCASTS` of a message, when they differ from the runtime's defaults.
pub fn message_consts(v: &Versioning) -> TokenStream {
    let version = (v.version != 1).then(|| {
        let n = v.version;
        quote!(const VERSION: u32 = #n;)
    });
    let upcasts = (!v.upcasts.is_empty()).then(|| {
        let steps = v.upcasts.iter().map(|u| {
            let from = u.from;
            let renames = u.renames.iter().map(|(o, n)| quote!((#o, #n)));
            let removes = &u.removes;
            let sets = u.sets.iter().map(|(f, value)| {
                let json = value.to_string();
                quote!((#f, #json))
            });
            quote!(runtime::evolution::Upcast {
                from: #from,
                renames: &[#(#renames),*],
                removes: &[#(#removes),*],
                sets: &[#(#sets),*],
            })
        });
        quote!(const UPCASTS: &'static [runtime::evolution::Upcast] = &[#(#steps),*];)
    });
    quote!(#version #upcasts)
}

/// The doc lines that mark a deprecated message. (Not `#[deprecated]`: the generated crates
/// use every message themselves and are built with warnings denied.)
pub fn deprecation_doc(d: Option<&Deprecation>) -> TokenStream {
    match d {
        None => quote!(),
        Some(d) => {
            let text = match &d.note {
                Some(n) => format!(" Deprecated: {n}"),
                None => " Deprecated.".to_owned(),
            };
            quote!(#[doc = ""] #[doc = #text])
        }
    }
}
