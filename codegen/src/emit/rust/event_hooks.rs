//! The event-hooks crate of a context (`<context>-event-hooks-api`): the trait of the
//! hand-written hooks its policies run for events. The trait lives in a crate of its own
//! because it names events of other contexts: in the contracts crate it would make contracts
//! crates depend on each other.

use super::names::{contracts_crate, event_hooks_package, event_hooks_trait, ident};
use super::reactions::{by_event, by_message_type};
use super::{CRATES_DIR, CargoToml, LibRs, RustFile, TO_ROOT, contracts_deps, doc, render};
use super::{RustOptions, toml_string};
use crate::emit::docs::saga_diagram::duration;
use crate::emit::{EmitError, Output};
use crate::model::{Context, EventHook, MessageName, Policy};
use proc_macro2::TokenStream;
use quote::quote;

/// The contexts whose events the hooks of `ctx` take.
pub fn contexts(ctx: &Context) -> Vec<String> {
    ctx.event_hooks()
        .map(|(p, _)| p.on.context.clone())
        .collect()
}

/// Adds the event-hooks crate of `ctx` to `out` when its policies run hooks.
pub fn emit(ctx: &Context, options: &RustOptions, out: &mut Output) -> Result<(), EmitError> {
    if !ctx.has_event_hooks() {
        return Ok(());
    }
    let package = event_hooks_package(&ctx.name);
    let dir = format!("{CRATES_DIR}/{package}");
    let source = ctx.source.as_str();
    let cargo = CargoToml {
        source,
        name: &package,
        description: toml_string(&format!(
            "The trait of the hand-written event hooks of the `{}` context.",
            ctx.name
        )),
        runtime: options.runtime.toml_keys(TO_ROOT),
        features: vec![],
        path_deps: contracts_deps(contexts(ctx)),
        registry_deps: vec![],
    };
    out.add(format!("{dir}/Cargo.toml"), render(&cargo)?);
    let lib = LibRs {
        source,
        title: format!(
            "The hooks the EventHandler of the `{}` context runs for events; implement them in the `{}` crate (`hooks/{}/`, outside `generated/`).",
            ctx.name,
            super::names::hooks_package(&ctx.name),
            ctx.name
        ),
        doc_lines: Vec::new(),
        modules: vec!["event_hooks".into()],
        reexports: vec!["event_hooks".into()],
    };
    out.add(format!("{dir}/src/lib.rs"), render(&lib)?);
    out.add(
        format!("{dir}/src/event_hooks.rs"),
        RustFile::new(trait_module(ctx)).render(source)?,
    );
    Ok(())
}

/// The contracts type of `event`, which a hook takes.
fn event_type(event: &MessageName) -> TokenStream {
    let k = contracts_crate(&event.context);
    let e = ident(&event.name);
    quote!(#k::#e)
}

/// What the documentation of a hook method says.
fn method_doc(ctx: &Context, policy: &Policy, hook: &EventHook) -> String {
    format!(
        "Policy `{}` of `{}`, on `{}`: {}\n\nRuns once the event is in the read models, at least once per event, until it returns `Ok`; a run longer than {} counts as failed. `Err(HookError::Retry)` retries the event through the queue's retry tiers (then the dead-letter queue), `Err(HookError::Reject)` dead-letters it now. `ctx.idempotency_key` is the same on every run for this event: give it to the system you call.",
        policy.name,
        ctx.name,
        policy.on,
        policy.description.as_deref().unwrap_or(""),
        duration(hook.timeout),
    )
}

fn trait_module(ctx: &Context) -> TokenStream {
    let t = event_hooks_trait(&ctx.name);
    let methods = ctx.event_hooks().map(|(p, h)| {
        let m = ident(&h.name);
        let ty = event_type(&p.on);
        let d = doc(&method_doc(ctx, p, h));
        quote! {
            #d
            fn #m(&self, event: &#ty, ctx: &EventContext)
                -> impl ::core::future::Future<Output = ::core::result::Result<(), HookError>> + Send;
        }
    });
    let trait_doc = doc(&format!(
        "Hand-written side effects of the `{}` context, run by its EventHandler. Implement this trait for `Hooks` in the `{}` crate (outside `generated/`), with `async fn`s; regeneration never touches it.",
        ctx.name,
        super::names::hooks_package(&ctx.name)
    ));
    quote! {
        //! The event-hooks trait of the context.

        use runtime::hook::{EventContext, HookError};

        #trait_doc
        pub trait #t: Send + Sync + 'static {
            #(#methods)*
        }
    }
}

/// The `hooks` function of the EventHandler's reactions module: the calls of every hook the
/// event triggers.
pub fn calls(ctx: &Context) -> TokenStream {
    let krate = super::names::event_hooks_crate(&ctx.name);
    let t = event_hooks_trait(&ctx.name);
    let hooks = ctx.event_hooks().map(|(p, h)| (p.on.clone(), h)).collect();
    let arms: Vec<(String, TokenStream)> = by_event(hooks)
        .iter()
        .map(|(event, hooks)| {
            let ty = event_type(event);
            let ty_name = event.to_string();
            let last = hooks.len() - 1;
            let pushes = hooks.iter().enumerate().map(|(i, h)| {
                let name = &h.name;
                let m = ident(&h.name);
                let millis = u64::try_from(h.timeout.as_millis()).unwrap_or(u64::MAX);
                // Every hook but the last takes a copy of the event; the last takes the event.
                let copy = (i < last).then(|| quote!(let event = event.clone();));
                quote! {
                    {
                        #copy
                        let ctx = EventContext::new(envelope, #name);
                        calls.push(HookCall::new(
                            #name,
                            ::std::time::Duration::from_millis(#millis),
                            async move { <H as #krate::#t>::#m(hooks, &event, &ctx).await },
                        ));
                    }
                }
            });
            let body = quote! {
                let event: #ty = runtime::message::decode_payload(envelope)?;
                #(#pushes)*
            };
            (ty_name, body)
        })
        .collect();
    let dispatch = by_message_type(&arms);
    quote! {
        /// The hooks `envelope` triggers (none for an event without hooks), not yet run.
        pub fn hooks<'a, H: #krate::#t>(
            hooks: &'a H,
            envelope: &'a RawEnvelope,
        ) -> ::std::result::Result<::std::vec::Vec<HookCall<'a>>, DecodeError> {
            let mut calls = ::std::vec::Vec::new();
            #dispatch
            Ok(calls)
        }
    }
}
