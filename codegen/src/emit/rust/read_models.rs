//! The read-models crate of a context: the documents, the projection of every event into
//! document updates, and the indexes.

use super::contracts::{derive_struct, reads_meta_field, roots, vec_of};
use super::doc;
use super::names::{collection, ident};
use super::rust_expr::{ExprSite, Meta};
use super::rust_type::Site;
use super::value_types::struct_fields;
use crate::model::expr::Root;
use crate::model::{ChangeOp, Context, Model, ReadModel, SourceExpr, Type};
use proc_macro2::TokenStream;
use quote::quote;

/// The read-model module of a context's read-models crate (its own crate, because read models
/// use events and types of other contexts, whose contracts may use this context's types).
pub fn module(model: &Model, ctx: &Context) -> TokenStream {
    let site = Site { context: None };
    let docs_structs = ctx.read_models.iter().map(|rm| {
        let name = ident(&rm.name);
        let d = doc(rm.description.as_deref().unwrap_or("A read model."));
        let derive = derive_struct(&rm.fields);
        let fields = struct_fields(&name, &rm.fields, site);
        let defaults = super::defaults::items(&name, &rm.fields, &[], site);
        let coll = collection(&rm.name);
        let cdoc = doc(&format!("Collection of `{}` documents.", rm.name));
        let cname = ident(&format!(
            "{}_COLLECTION",
            heck::ToShoutySnakeCase::to_shouty_snake_case(rm.name.as_str())
        ));
        quote! {
            #d
            #derive
            pub struct #name { #fields }
            #defaults
            #cdoc
            pub const #cname: &str = #coll;
        }
    });
    // Group projections by event, in the order events first appear.
    let mut events: Vec<&crate::model::MessageName> = Vec::new();
    for rm in &ctx.read_models {
        for p in &rm.projections {
            if !events.contains(&&p.event) {
                events.push(&p.event);
            }
        }
    }
    let arms = events.iter().map(|en| {
        let event = model.event(en).expect("validated event");
        let owner = model
            .context(&en.context)
            .and_then(|c| c.aggregate(&event.aggregate));
        let k = super::names::contracts_crate(&en.context);
        let e = ident(&event.name);
        let ev_ty = quote!(#k::#e);
        let ty = en.to_string();
        let es = ExprSite {
            site,
            meta: Meta::Envelope,
        };
        let mut all_exprs: Vec<&SourceExpr> = Vec::new();
        let mut updates = Vec::new();
        for rm in &ctx.read_models {
            for p in rm.projections.iter().filter(|p| &p.event == *en) {
                all_exprs.push(&p.key);
                all_exprs.extend(p.changes.iter().map(|c| &c.value));
                updates.push(projection_update(rm, p, es));
            }
        }
        let used = roots(all_exprs.iter().copied());
        let needs_id = reads_meta_field(all_exprs.iter().copied(), "aggregate_id");
        let decode = if used.contains(&Root::Event) {
            quote!(let event: #ev_ty = runtime::message::decode_payload(envelope)?;)
        } else {
            quote!()
        };
        let id = match (needs_id, owner) {
            (true, Some(a)) => {
                let id_ty = site.rust_type(&a.id.ty());
                quote!(let aggregate_id: #id_ty = runtime::message::aggregate_id(envelope)?;)
            }
            _ => quote!(),
        };
        (
            ty,
            quote! {
                #decode
                #id
                #(#updates)*
            },
        )
    });
    let arms: Vec<(String, TokenStream)> = arms.collect();
    let indexes = vec_of(ctx.read_models.iter().flat_map(|rm| {
        let coll = collection(&rm.name);
        let mut fields: Vec<String> = Vec::new();
        if let Some(q) = &rm.query {
            for (f, _) in &q.filters {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
            for f in &q.sort {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
        }
        fields.into_iter().map(move |f| {
            let c = coll.clone();
            quote!((#c, read_model::IndexSpec { fields: vec![(::std::string::String::from(#f), false)], unique: false }))
        })
    }).collect());
    let body = if let [(ty, body)] = arms.as_slice() {
        // One event: an `if` (a one-armed `match` is a clippy finding).
        quote! {
            let mut updates = ::std::vec::Vec::new();
            if envelope.meta.message_type == #ty {
                #body
            }
            Ok(updates)
        }
    } else if !arms.is_empty() {
        let arms = arms.iter().map(|(ty, body)| quote!(#ty => { #body }));
        quote! {
            let mut updates = ::std::vec::Vec::new();
            match envelope.meta.message_type.as_str() {
                #(#arms)*
                _ => {}
            }
            Ok(updates)
        }
    } else {
        quote! {
            let _ = envelope;
            Ok(::std::vec::Vec::new())
        }
    };
    let collections = ctx.read_models.iter().map(|rm| collection(&rm.name));
    quote! {
        //! Read models of the context: their documents and how events change them.

        // A module (snake_case) cannot collide with a read model's name (PascalCase).
        use runtime::read_model;

        #(#docs_structs)*

        /// The document changes one event makes to the read models of this context (none for
        /// an event they do not use).
        pub fn project(
            envelope: &runtime::RawEnvelope,
        ) -> ::std::result::Result<::std::vec::Vec<read_model::DocumentUpdate>, runtime::message::DecodeError> {
            #body
        }

        /// Indexes of the read-model collections (filterable and sortable fields).
        pub fn indexes() -> ::std::vec::Vec<(&'static str, read_model::IndexSpec)> {
            #indexes
        }

        /// Every read-model collection of the context.
        pub const COLLECTIONS: &[&str] = &[#(#collections),*];
    }
}

fn projection_update(
    rm: &ReadModel,
    p: &crate::model::Projection,
    es: ExprSite<'_>,
) -> TokenStream {
    let coll = collection(&rm.name);
    let key_field = rm.key_field();
    let key_place = es.operand(&p.key.expr);
    let key_string = if key_field.ty == Type::String {
        es.value(&p.key.expr)
    } else {
        quote!(#key_place.to_string())
    };
    let key_name = &rm.key;
    let key_value = es.value_operand(&p.key.expr);
    let mut ops = vec![quote!(read_model::UpdateOp::set(#key_name, &#key_value))];
    for c in &p.changes {
        let f = &c.field;
        // `v` alone is an argument; `operand` goes after `&`, `-` or before `as`.
        let v = es.value(&c.value.expr);
        let operand = es.value_operand(&c.value.expr);
        let ty = &c.value.expr.ty;
        let literal = match &c.value.expr.kind {
            crate::model::ExprKind::Lit(crate::model::expr::Literal::Int(n)) => {
                Some(proc_macro2::Literal::i128_unsuffixed(*n))
            }
            _ => None,
        };
        let by = match ty {
            // A literal is an `i64` as written (`1 as i64` is a clippy finding).
            _ if literal.is_some() => quote!(#literal),
            Type::I64 | Type::Money => v.clone(),
            Type::I32 | Type::U32 => quote!(i64::from(#v)),
            _ => quote!(#operand as i64),
        };
        let minus_by = match ty {
            _ if literal.is_some() => quote!(-#literal),
            Type::I64 | Type::Money => quote!(-#operand),
            Type::I32 | Type::U32 => quote!(-#by),
            // `-x as i64` negates the unsigned `x`.
            _ => quote!(-(#by)),
        };
        ops.push(match c.op {
            ChangeOp::Set => quote!(read_model::UpdateOp::set(#f, &#operand)),
            ChangeOp::Increment => quote!(read_model::UpdateOp::increment(#f, #by)),
            ChangeOp::Decrement => {
                quote!(read_model::UpdateOp::increment(#f, #minus_by))
            }
            ChangeOp::Add => quote!(read_model::UpdateOp::push(#f, &#operand)),
            ChangeOp::Remove => quote!(read_model::UpdateOp::pull(#f, &#operand)),
        });
    }
    let upsert = p.creates;
    quote! {
        updates.push(read_model::DocumentUpdate::for_event(#coll, envelope, #key_string, #upsert, ::std::vec::Vec::from([#(#ops),*])));
    }
}
