//! The reactions module of a context's EventHandler crate: the public events it publishes
//! for its domain events, the commands its policies send (see `runtime::reaction`) and the
//! hand-written hooks its policies run (see `runtime::hook`).

use super::contracts::{reads_meta_field, roots};
use super::names::{contracts_crate, ident};
use super::rust_expr::{ExprSite, Meta};
use super::rust_type::{self, Site};
use crate::model::expr::Root;
use crate::model::{Context, Field, MessageName, Model, SourceExpr};
use proc_macro2::TokenStream;
use quote::quote;

/// Whether the EventHandler of `ctx` sends messages (public events or policy commands).
pub fn any(ctx: &Context) -> bool {
    ctx.public_events().next().is_some() || ctx.policies.iter().any(|p| p.command().is_some())
}

/// Whether the EventHandler of `ctx` has a reactions module: it sends messages or runs hooks.
pub fn module_needed(ctx: &Context) -> bool {
    any(ctx) || ctx.has_event_hooks()
}

/// The contexts whose contracts the reactions module uses.
pub fn contexts(model: &Model, ctx: &Context) -> Vec<String> {
    let mut out = vec![ctx.name.clone()];
    // The fields of every message read or built: a literal of an enum, or a field copied
    // from it, names the type's context.
    let mut fields: Vec<&[Field]> = Vec::new();
    for e in ctx.public_events() {
        fields.push(&e.fields);
        if let Some(publication) = &e.public {
            fields.extend(ctx.event(&publication.from).map(|s| s.fields.as_slice()));
        }
    }
    for p in &ctx.policies {
        out.push(p.on.context.clone());
        if let Some(send) = p.command() {
            out.push(send.command.context.clone());
            fields.extend(model.event(&p.on).map(|e| e.fields.as_slice()));
            fields.extend(model.command(&send.command).map(|c| c.fields.as_slice()));
        }
    }
    for f in fields.into_iter().flatten() {
        rust_type::referenced_contexts(&f.ty, &mut out);
    }
    out
}

/// One message built from the event: the code that pushes its reaction, and the expressions
/// it reads.
struct Built<'m> {
    code: TokenStream,
    exprs: Vec<&'m SourceExpr>,
}

/// `items` grouped by their event, the events in the order they first appear.
pub(super) fn by_event<T>(items: Vec<(MessageName, T)>) -> Vec<(MessageName, Vec<T>)> {
    let mut out: Vec<(MessageName, Vec<T>)> = Vec::new();
    for (event, item) in items {
        match out.iter_mut().find(|(e, _)| *e == event) {
            Some((_, v)) => v.push(item),
            None => out.push((event, vec![item])),
        }
    }
    out
}

/// Runs the code of the arm whose message type (`context.Event`) is the envelope's: an `if` for
/// one arm (clippy's `single_match`), a `match` for several.
pub(super) fn by_message_type(arms: &[(String, TokenStream)]) -> TokenStream {
    match arms {
        [(ty, body)] => quote! {
            if envelope.meta.message_type == #ty {
                #body
            }
        },
        arms => {
            let arms = arms.iter().map(|(ty, body)| quote!(#ty => { #body }));
            quote! {
                match envelope.meta.message_type.as_str() {
                    #(#arms)*
                    _ => {}
                }
            }
        }
    }
}

/// The module: `react(envelope)`, one arm per event that has reactions.
pub fn module(model: &Model, ctx: &Context) -> TokenStream {
    let site = Site { context: None };
    let es = ExprSite {
        site,
        meta: Meta::Envelope,
    };
    let mut built: Vec<(MessageName, Built<'_>)> = Vec::new();
    let own = &ctx.name;
    let own_crate = contracts_crate(own);
    for e in ctx.public_events() {
        let Some(p) = &e.public else { continue };
        let name = ident(&e.name);
        let fields = p.values.iter().map(|(f, v)| {
            let f = ident(f);
            let v = es.value(&v.expr);
            quote!(#f: #v)
        });
        built.push((
            MessageName {
                context: own.clone(),
                name: p.from.clone(),
            },
            Built {
                code: quote! {
                    reactions.push(encoded(
                        Reaction::public_event(#own, envelope, &#own_crate::#name { #(#fields),* }),
                        envelope,
                    )?);
                },
                exprs: p.values.iter().map(|(_, v)| v).collect(),
            },
        ));
    }
    for (policy, send) in ctx.policies.iter().filter_map(|p| Some((p, p.command()?))) {
        let cmd = &send.command;
        let krate = contracts_crate(&cmd.context);
        let name = ident(&cmd.name);
        let fields = send.values.iter().map(|(f, v)| {
            let f = ident(f);
            let v = es.value(&v.expr);
            quote!(#f: #v)
        });
        let target = model
            .command(cmd)
            .and_then(|c| model.context(&cmd.context)?.aggregate(&c.aggregate));
        let to = &send.to.expr;
        let to = match target.map(|a| a.id) {
            Some(crate::model::IdType::String) => es.value(to),
            _ => {
                let v = es.operand(to);
                quote!(#v.to_string())
            }
        };
        let policy_name = &policy.name;
        let target_ctx = &cmd.context;
        let mut exprs: Vec<&SourceExpr> = vec![&send.to];
        exprs.extend(send.values.iter().map(|(_, v)| v));
        built.push((
            policy.on.clone(),
            Built {
                code: quote! {
                    reactions.push(encoded(
                        Reaction::command(#policy_name, #target_ctx, envelope, #to, &#krate::#name { #(#fields),* }),
                        envelope,
                    )?);
                },
                exprs,
            },
        ));
    }
    let arms: Vec<(String, TokenStream)> = by_event(built)
        .iter()
        .map(|(event, built)| {
            let exprs: Vec<&SourceExpr> = built.iter().flat_map(|b| b.exprs.clone()).collect();
            let used = roots(exprs.iter().copied());
            let decode = if used.contains(&Root::Event) {
                let k = contracts_crate(&event.context);
                let e = ident(&event.name);
                quote!(let event: #k::#e = runtime::message::decode_payload(envelope)?;)
            } else {
                quote!()
            };
            let owner = model
                .event(event)
                .and_then(|ev| model.context(&event.context)?.aggregate(&ev.aggregate));
            let id = match (
                reads_meta_field(exprs.iter().copied(), "aggregate_id"),
                owner,
            ) {
                (true, Some(a)) => {
                    let id_ty = site.rust_type(&a.id.ty());
                    quote!(let aggregate_id: #id_ty = runtime::message::aggregate_id(envelope)?;)
                }
                _ => quote!(),
            };
            let code = built.iter().map(|b| &b.code);
            (
                event.to_string(),
                quote! {
                    #decode
                    #id
                    #(#code)*
                },
            )
        })
        .collect();
    let body = match arms.as_slice() {
        [] => quote! {
            let _ = envelope;
            Ok(::std::vec::Vec::new())
        },
        arms => {
            let dispatch = by_message_type(arms);
            quote! {
                let mut reactions = ::std::vec::Vec::new();
                #dispatch
                Ok(reactions)
            }
        }
    };
    let react = any(ctx).then(|| {
        quote! {
            /// The messages `envelope` causes (none for an event without reactions).
            pub fn react(envelope: &RawEnvelope) -> ::std::result::Result<::std::vec::Vec<Reaction>, DecodeError> {
                #body
            }

            /// A reaction, or the encoding error as a [`DecodeError`] of the event.
            fn encoded(
                reaction: runtime::serde_json::Result<Reaction>,
                envelope: &RawEnvelope,
            ) -> ::std::result::Result<Reaction, DecodeError> {
                reaction.map_err(|source| DecodeError::InvalidPayload {
                    message_type: envelope.meta.message_type.clone(),
                    source,
                })
            }
        }
    });
    let hooks = ctx
        .has_event_hooks()
        .then(|| super::event_hooks::calls(ctx));
    let reaction_use = react.is_some().then(|| {
        quote!(
            use runtime::reaction::Reaction;
        )
    });
    let hook_use = hooks.is_some().then(|| {
        quote!(
            use runtime::hook::{EventContext, HookCall};
        )
    });
    quote! {
        //! Reactions of the EventHandler: the public events it publishes for domain events of
        //! the context, the commands its policies send and the hooks they run.

        use runtime::message::DecodeError;
        #reaction_use
        #hook_use
        use runtime::RawEnvelope;

        #react
        #hooks
    }
}
