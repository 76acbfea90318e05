//! Starter crates for hand-written hooks, written once outside `generated/` and never
//! overwritten: they fail the build with a clear message until the hooks are implemented.

use super::names::{
    aggregate_module, contracts_crate, contracts_package, hooks_package, hooks_trait, ident,
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
    for ctx in model.contexts.iter().filter(|c| c.hooks().next().is_some()) {
        let dir = format!("{HOOKS_DIR}/{}", ctx.name);
        out.push((format!("{dir}/Cargo.toml"), cargo_toml(ctx, runtime)));
        out.push((format!("{dir}/src/lib.rs"), lib_rs(ctx)?));
    }
    Ok(out)
}

fn cargo_toml(ctx: &Context, runtime: &RuntimeSource) -> String {
    let contracts = contracts_package(&ctx.name);
    format!(
        "# Hand-written hooks of the `{ctx}` context. Written once by `codegen generate`; yours to edit.\n\
         [package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{contracts} = {{ path = \"../../generated/crates/{contracts}\" }}\n\
         runtime = {{ {runtime} }}\n",
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
    let methods = ctx.hooks().map(|(c, r, h)| {
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
    });
    let struct_doc = doc(&format!(
        "The hand-written rules of the `{}` context.",
        ctx.name
    ));
    let tokens = quote! {
        //! Hand-written rules of the context. `codegen generate` wrote this file once and never
        //! overwrites it: implement every method, then delete the `compile_error!` below.

        compile_error!(#message);

        #struct_doc
        pub struct Hooks;

        impl #krate::hooks::#t for Hooks {
            #(#methods)*
        }
    };
    let text = RustFile::new(tokens).render(&format!("catalog/{}.yaml (starter)", ctx.name))?;
    // The starter is hand-written code from now on: no "generated" header.
    Ok(text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n")
}
