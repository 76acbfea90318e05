//! Starter crates for hand-written hooks, written once outside `generated/` and never
//! overwritten: they fail the build with a clear message until the hooks are implemented.

use super::names::{
    aggregate_module, contracts_crate, contracts_package, event_hooks_crate, event_hooks_package,
    event_hooks_trait, hooks_package, hooks_trait, ident,
};
use super::{RustFile, doc};
use crate::emit::EmitError;
use crate::model::{Context, Model};
use crate::project::RuntimeSource;
use quote::quote;

/// Folder of the hooks crates, relative to the catalog root.
pub const HOOKS_DIR: &str = "hooks";

/// The starter files of every context with hooks: (path relative to the catalog root, text).
pub fn starters(
    model: &Model,
    runtime: &RuntimeSource,
) -> Result<Vec<(String, String)>, EmitError> {
    let mut out = Vec::new();
    for ctx in model.contexts.iter().filter(|c| c.has_hooks_crate()) {
        let dir = format!("{HOOKS_DIR}/{}", ctx.name);
        out.push((format!("{dir}/Cargo.toml"), cargo_toml(ctx, runtime)));
        out.push((format!("{dir}/src/lib.rs"), lib_rs(ctx)?));
    }
    Ok(out)
}

/// The generated packages the hooks crate of `ctx` depends on: its contracts when rules name
/// hooks; its event-hooks crate and the contracts of the hooked events when policies do.
pub fn dependencies(ctx: &Context) -> Vec<String> {
    let mut deps = Vec::new();
    if ctx.hooks().next().is_some() {
        deps.push(contracts_package(&ctx.name));
    }
    if ctx.has_event_hooks() {
        deps.push(event_hooks_package(&ctx.name));
        deps.extend(
            super::event_hooks::contexts(ctx)
                .iter()
                .map(|c| contracts_package(c)),
        );
    }
    deps.sort();
    deps.dedup();
    deps
}

/// The line of a hooks crate's `Cargo.toml` that adds the generated package `package`.
pub fn dependency_line(package: &str) -> String {
    format!("{package} = {{ path = \"../../generated/crates/{package}\" }}")
}

fn cargo_toml(ctx: &Context, runtime: &RuntimeSource) -> String {
    let deps: String = dependencies(ctx)
        .iter()
        .map(|d| dependency_line(d) + "\n")
        .collect();
    format!(
        "# Hand-written hooks of the `{ctx}` context. Written once by `codegen generate`; yours to edit.\n\
         [package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{deps}runtime = {{ {runtime} }}\n",
        ctx = ctx.name,
        name = hooks_package(&ctx.name),
        runtime = runtime.toml_keys("../.."),
    )
}

fn lib_rs(ctx: &Context) -> Result<String, EmitError> {
    let krate = contracts_crate(&ctx.name);
    let t = hooks_trait(&ctx.name);
    let message = format!(
        "implement the hooks of the `{}` context in hooks/{}/src/lib.rs, then delete this compile_error!",
        ctx.name, ctx.name
    );
    let methods: Vec<_> = ctx
        .hooks()
        .map(|(c, r, h)| {
            let m = ident(h);
            let module = aggregate_module(&c.aggregate);
            let agg = ident(&c.aggregate);
            let cmd = ident(&c.name);
            let d = doc(&format!(
                "Rule `{}` of `{}`: {}\n\nReturn whether the rule holds; when it does not, `{}` is rejected with \"{}\".",
                r.name,
                c.name,
                r.description.as_deref().unwrap_or(""),
                c.name,
                r.message
            ));
            quote! {
                #d
                fn #m(
                    &self,
                    state: Option<&#krate::#module::#agg>,
                    cmd: &#krate::#module::#cmd,
                    ctx: &runtime::CommandContext,
                ) -> bool {
                    let _ = (state, cmd, ctx);
                    true
                }
            }
        })
        .collect();
    let rule_impl = (!methods.is_empty()).then(|| {
        quote! {
            impl #krate::hooks::#t for Hooks {
                #(#methods)*
            }
        }
    });
    let event_methods: Vec<_> = ctx
        .event_hooks()
        .map(|(p, h)| {
            let m = ident(&h.name);
            let k = contracts_crate(&p.on.context);
            let e = ident(&p.on.name);
            let d = doc(&format!(
                "Policy `{}`, on `{}`: {}\n\nReturn `Err(HookError::Retry(..))` to try again later, `Err(HookError::Reject(..))` to dead-letter the event.",
                p.name,
                p.on,
                p.description.as_deref().unwrap_or("")
            ));
            quote! {
                #d
                async fn #m(
                    &self,
                    event: &#k::#e,
                    ctx: &runtime::hook::EventContext,
                ) -> ::core::result::Result<(), runtime::hook::HookError> {
                    let _ = (event, ctx);
                    Ok(())
                }
            }
        })
        .collect();
    let event_impl = (!event_methods.is_empty()).then(|| {
        let api = event_hooks_crate(&ctx.name);
        let et = event_hooks_trait(&ctx.name);
        quote! {
            impl #api::#et for Hooks {
                #(#event_methods)*
            }
        }
    });
    let struct_doc = doc(&format!(
        "The hand-written rules and side effects of the `{}` context (a unit struct: the generated processes build it as `Hooks`; keep clients in a `std::sync::LazyLock`).",
        ctx.name
    ));
    let tokens = quote! {
        //! Hand-written rules and side effects of the context. `codegen generate` wrote this file
        //! once and never overwrites it: implement every method, then delete the
        //! `compile_error!` below.

        compile_error!(#message);

        #struct_doc
        pub struct Hooks;

        #rule_impl
        #event_impl
    };
    let text = RustFile::new(tokens).render(&format!("catalog/{}.yaml (starter)", ctx.name))?;
    // The starter is hand-written code from now on: no "generated" header.
    Ok(text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n")
}
