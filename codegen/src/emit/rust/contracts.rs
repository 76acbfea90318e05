//! The contracts crate of a context: aggregate state, commands, events, the rules compiled to
//! Rust and the hooks trait (value types are in [`super::value_types`], read models in
//! [`super::read_models`]).

use super::names::{
    aggregate_module, aggregate_module_name, command_enum, decide_fn, event_enum, hooks_trait,
    ident, variant,
};
use super::rust_expr::{ExprSite, Meta};
use super::rust_type::Site;
use super::value_types::{struct_fields, validate_impl};
use super::{RustFile, doc};
use crate::model::expr::Root;
use crate::model::{
    Aggregate, ChangeOp, Command, Context, Emit, Event, IdType, RuleCheck, SourceExpr,
};
use proc_macro2::TokenStream;
use quote::quote;

/// The Rust modules of a context's contracts crate (path relative to `src/`, file).
pub fn modules(ctx: &Context) -> Vec<(String, RustFile)> {
    let site = Site {
        context: Some(&ctx.name),
    };
    let mut out = vec![(
        "types.rs".to_owned(),
        RustFile::new(super::value_types::module(ctx, site)),
    )];
    for agg in &ctx.aggregates {
        out.push((
            format!("{}.rs", aggregate_module_name(&agg.name)),
            RustFile::new(aggregate(ctx, agg, site)),
        ));
    }
    if ctx.hooks().next().is_some() {
        out.push(("hooks.rs".to_owned(), RustFile::new(hooks(ctx))));
    }
    out
}

/// The derive line of a generated struct with these fields.
pub(super) fn derive_struct(fields: &[crate::model::Field]) -> TokenStream {
    super::defaults::derive(fields, quote!(, schemars::JsonSchema))
}

fn aggregate(ctx: &Context, agg: &Aggregate, site: Site<'_>) -> TokenStream {
    let name = ident(&agg.name);
    let status_ty = ident(&agg.status_type.name);
    let id_ty = site.rust_type(&agg.id.ty());
    let docs = doc(agg.description.as_deref().unwrap_or("An aggregate."));
    let derive = derive_struct(&agg.fields);
    let fields = struct_fields(&name, &agg.fields, site);
    let defaults = super::defaults::items(&name, &agg.fields, &["id", "status"], site);
    let commands: Vec<&Command> = ctx
        .commands
        .iter()
        .filter(|c| c.aggregate == agg.name)
        .collect();
    let events: Vec<&Event> = ctx
        .events
        .iter()
        .filter(|e| e.aggregate == agg.name)
        .collect();
    let command_structs = commands.iter().map(|c| command_struct(ctx, agg, c, site));
    let event_structs = events.iter().map(|e| event_struct(ctx, e, site));
    // Public events are published by the EventHandler, never raised or applied.
    let domain: Vec<&Event> = events.iter().copied().filter(|e| !e.is_public()).collect();
    let root = if commands.is_empty() {
        quote!()
    } else {
        aggregate_root(ctx, agg, &commands, &domain, site)
    };
    let agg_type = format!("{}.{}", ctx.name, agg.name);
    let state_doc = doc(&format!(
        "The full state snapshot of `{agg_type}`, stored with a version."
    ));
    quote! {
        //! The aggregate, its commands, its events, and the rules that turn one into the other.

        use crate::types::#status_ty;

        #docs
        #state_doc
        #derive
        pub struct #name {
            /// The aggregate id.
            pub id: #id_ty,
            /// The lifecycle status.
            pub status: #status_ty,
            #fields
        }
        #defaults

        #(#command_structs)*
        #(#event_structs)*
        #root
    }
}

fn command_struct(ctx: &Context, agg: &Aggregate, c: &Command, site: Site<'_>) -> TokenStream {
    let name = ident(&c.name);
    let mut text = c
        .description
        .clone()
        .unwrap_or_else(|| format!("Command `{}`.", c.name));
    if let Some(r) = &c.route {
        text.push_str(&format!(
            "\n\nRoute: `{} {}`; roles: {}.",
            r.method,
            r.path,
            c.roles.join(", ")
        ));
    } else {
        text.push_str("\n\nInternal: sent by sagas, no HTTP route.");
    }
    let docs = doc(&text);
    let fields = struct_fields(&name, &c.fields, site);
    let defaults = super::defaults::items(&name, &c.fields, &[], site);
    let ty = format!("{}.{}", ctx.name, c.name);
    let agg_ty = format!("{}.{}", ctx.name, agg.name);
    let validate = validate_impl(&name, &c.fields);
    let versioning = super::versioning::message_consts(&c.versioning);
    let deprecated = super::versioning::deprecation_doc(c.versioning.deprecated.as_ref());
    quote! {
        #docs
        #deprecated
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct #name { #fields }
        #defaults
        impl runtime::Message for #name {
            const TYPE: &'static str = #ty;
            #versioning
        }
        impl runtime::Command for #name {
            const AGGREGATE: &'static str = #agg_ty;
        }
        #validate
    }
}

fn event_struct(ctx: &Context, e: &Event, site: Site<'_>) -> TokenStream {
    let name = ident(&e.name);
    let mut text = e
        .description
        .clone()
        .unwrap_or_else(|| format!("Event `{}`.", e.name));
    if e.is_rejection {
        text.push_str("\n\nA rejection: it changes no state.");
    }
    if let Some(p) = &e.public {
        text.push_str(&format!(
            "\n\nPublic: published on the context's public exchange for every `{}`.",
            p.from
        ));
    }
    let docs = doc(&text);
    let fields = struct_fields(&name, &e.fields, site);
    let derive = derive_struct(&e.fields);
    let defaults = super::defaults::items(&name, &e.fields, &[], site);
    let ty = format!("{}.{}", ctx.name, e.name);
    let versioning = super::versioning::message_consts(&e.versioning);
    let deprecated = super::versioning::deprecation_doc(e.versioning.deprecated.as_ref());
    quote! {
        #docs
        #deprecated
        #derive
        pub struct #name { #fields }
        #defaults
        impl runtime::Message for #name {
            const TYPE: &'static str = #ty;
            #versioning
        }
        impl runtime::DomainEvent for #name {}
    }
}

/// The roots an expression list reads.
pub(super) fn roots<'a>(exprs: impl IntoIterator<Item = &'a SourceExpr>) -> Vec<Root> {
    let mut out = Vec::new();
    for e in exprs {
        e.expr.roots(&mut out);
    }
    out
}

pub(super) fn reads_meta_field<'a>(
    exprs: impl IntoIterator<Item = &'a SourceExpr>,
    field: &str,
) -> bool {
    fn walk(e: &crate::model::Expr, field: &str) -> bool {
        use crate::model::ExprKind as K;
        match &e.kind {
            K::Path {
                root: Root::Meta,
                fields,
            } => fields.first().is_some_and(|f| f == field),
            K::Path { .. } | K::Lit(_) | K::Variant { .. } => false,
            K::Unary { expr, .. } | K::Some(expr) | K::Cast { expr } => walk(expr, field),
            K::Binary { lhs, rhs, .. } => walk(lhs, field) || walk(rhs, field),
            K::Call { receiver, args, .. } => {
                walk(receiver, field) || args.iter().any(|a| walk(a, field))
            }
        }
    }
    exprs.into_iter().any(|e| walk(&e.expr, field))
}

fn aggregate_root(
    ctx: &Context,
    agg: &Aggregate,
    commands: &[&Command],
    events: &[&Event],
    site: Site<'_>,
) -> TokenStream {
    let name = ident(&agg.name);
    let cmd_enum = command_enum(&agg.name);
    let ev_enum = event_enum(&agg.name);
    let cmd_variants = commands.iter().map(|c| ident(&c.name));
    let ev_variants = events.iter().map(|e| ident(&e.name));
    let agg_type = format!("{}.{}", ctx.name, agg.name);
    let has_hooks = ctx.hooks().any(|(c, _, _)| c.aggregate == agg.name);
    let hooks_ty = if has_hooks {
        let t = hooks_trait(&ctx.name);
        quote!(::std::sync::Arc<dyn crate::hooks::#t>)
    } else {
        quote!(())
    };
    let arms = commands.iter().map(|c| {
        let v = ident(&c.name);
        let f = decide_fn(&c.name);
        // `self::`: a command named `Command`, `Hooks` or `State` is decided by a function
        // named like a parameter of `decide`.
        quote!(#cmd_enum::#v(cmd) => self::#f(hooks, state, ctx, cmd))
    });
    let decide_fns = commands
        .iter()
        .map(|c| decide(ctx, agg, c, &hooks_ty, site));
    let apply_arms = events.iter().map(|e| apply_arm(agg, e, site));
    let status0 = variant(&agg.statuses[0]);
    let status_ty = ident(&agg.status_type.name);
    let id_init = match agg.id {
        IdType::String => quote!(ctx.aggregate_id.clone()),
        _ => quote!(ctx.aggregate_id.parse().unwrap_or_default()),
    };
    let mutates = events
        .iter()
        .any(|e| !e.changes.is_empty() || e.status.is_some());
    let state_binding = if mutates {
        quote!(mut state)
    } else {
        quote!(state)
    };
    let cmd_doc = doc(&format!("Every command of `{agg_type}`."));
    let ev_doc = doc(&format!("Every event of `{agg_type}`."));
    quote! {
        runtime::message_set! {
            #cmd_doc
            pub enum #cmd_enum { #(#cmd_variants),* }
        }
        runtime::message_set! {
            #ev_doc
            pub enum #ev_enum { #(#ev_variants),* }
        }

        impl runtime::AggregateRoot for #name {
            const TYPE: &'static str = #agg_type;
            type Command = #cmd_enum;
            type Event = #ev_enum;
            type Hooks = #hooks_ty;

            fn decide(
                hooks: &Self::Hooks,
                state: ::std::option::Option<&Self>,
                ctx: &runtime::CommandContext,
                command: &Self::Command,
            ) -> runtime::Decision<Self::Event> {
                match command { #(#arms,)* }
            }

            fn apply(state: ::std::option::Option<Self>, ctx: &runtime::CommandContext, event: &Self::Event) -> Self {
                let #state_binding = state.unwrap_or_else(|| #name {
                    id: #id_init,
                    status: #status_ty::#status0,
                    ..#name::default()
                });
                match event { #(#apply_arms)* }
                state
            }
        }

        #(#decide_fns)*
    }
}

/// `Vec::new()` or `Vec::from([..])` (prettyplease formats calls, not `vec!`), with the full
/// path: a catalog may name a type `Vec`.
pub(super) fn vec_of(items: Vec<TokenStream>) -> TokenStream {
    if items.is_empty() {
        quote!(::std::vec::Vec::new())
    } else {
        quote!(::std::vec::Vec::from([#(#items),*]))
    }
}

fn emit_event(agg: &Aggregate, emit: &Emit, es: ExprSite<'_>) -> TokenStream {
    let ev_enum = event_enum(&agg.name);
    let ev = ident(&emit.event);
    let fields = emit.values.iter().map(|(f, v)| {
        let f = ident(f);
        let value = es.value(&v.expr);
        quote!(#f: #value)
    });
    quote!(#ev_enum::#ev(#ev { #(#fields,)* }))
}

fn decide(
    ctx: &Context,
    agg: &Aggregate,
    c: &Command,
    hooks_ty: &TokenStream,
    site: Site<'_>,
) -> TokenStream {
    let f = decide_fn(&c.name);
    let cmd_ty = ident(&c.name);
    let name = ident(&agg.name);
    let ev_enum = event_enum(&agg.name);
    let es = ExprSite {
        site,
        meta: Meta::Command,
    };
    let agg_type = format!("{}.{}", ctx.name, agg.name);
    let mut exprs: Vec<&SourceExpr> = Vec::new();
    for r in &c.rules {
        if let RuleCheck::Expr(e) = &r.check {
            exprs.push(e);
        }
        if let Some(e) = &r.reject {
            exprs.extend(e.values.iter().map(|(_, v)| v));
        }
    }
    for e in c.emits.iter().chain(c.on_wrong_status.as_ref()) {
        exprs.extend(e.values.iter().map(|(_, v)| v));
    }
    let used = roots(exprs.iter().copied());
    let uses_hooks = c
        .rules
        .iter()
        .any(|r| matches!(r.check, RuleCheck::Hook(_)));
    let uses_state = used.contains(&Root::State) || !c.allowed_in.is_empty() || uses_hooks;
    let uses_cmd = used.contains(&Root::Cmd) || uses_hooks;
    let needs_id = reads_meta_field(exprs.iter().copied(), "aggregate_id");
    let id_ty = site.rust_type(&agg.id.ty());
    let id_check = match (agg.id, needs_id) {
        (IdType::String, true) => quote!(let id = ctx.aggregate_id.clone();),
        (IdType::String, false) => quote!(),
        (_, true) => quote! {
            let id: #id_ty = match ctx.aggregate_id.parse() {
                Ok(id) => id,
                Err(_) => return runtime::Decision::invalid_id(#agg_type, &ctx.aggregate_id),
            };
        },
        (_, false) => quote! {
            if ctx.aggregate_id.parse::<#id_ty>().is_err() {
                return runtime::Decision::invalid_id(#agg_type, &ctx.aggregate_id);
            }
        },
    };
    let existence = if c.creates {
        quote! {
            if state.is_some() {
                return runtime::Decision::already_exists(#agg_type, &ctx.aggregate_id);
            }
        }
    } else if uses_state {
        quote! {
            let Some(state) = state else {
                return runtime::Decision::not_found(#agg_type, &ctx.aggregate_id);
            };
        }
    } else {
        quote! {
            if state.is_none() {
                return runtime::Decision::not_found(#agg_type, &ctx.aggregate_id);
            }
        }
    };
    let status_check = if c.allowed_in.is_empty() {
        quote!()
    } else {
        let status_ty = ident(&agg.status_type.name);
        let allowed = c.allowed_in.iter().map(|s| {
            let v = variant(s);
            quote!(#status_ty::#v)
        });
        let events = vec_of(
            c.on_wrong_status
                .iter()
                .map(|e| emit_event(agg, e, es))
                .collect(),
        );
        let list = c.allowed_in.join(", ");
        quote! {
            if !matches!(state.status, #(#allowed)|*) {
                return runtime::Decision::reject(
                    "wrong_status",
                    format!("{} is {:?}; allowed in: {}", #agg_type, state.status, #list),
                    #events,
                );
            }
        }
    };
    let rules = c.rules.iter().map(|r| {
        let var = ident(&format!("rule_{}", r.name));
        let code = &r.name;
        let message = &r.message;
        let check = match &r.check {
            RuleCheck::Expr(e) => es.place(&e.expr),
            RuleCheck::Hook(h) => {
                let m = ident(h);
                let state_arg = if c.creates {
                    quote!(state)
                } else {
                    quote!(Some(state))
                };
                // Called through the trait: a hook may be named like a method of `Arc`
                // (`clone`, `as_ref`, `into`).
                let t = hooks_trait(&ctx.name);
                quote!(crate::hooks::#t::#m(&**hooks, #state_arg, cmd, ctx))
            }
        };
        let events = vec_of(r.reject.iter().map(|e| emit_event(agg, e, es)).collect());
        quote! {
            let #var = #check;
            if !#var {
                return runtime::Decision::reject(#code, #message, #events);
            }
        }
    });
    let accepted = vec_of(c.emits.iter().map(|e| emit_event(agg, e, es)).collect());
    let hooks = if uses_hooks {
        quote!(hooks)
    } else {
        quote!(_hooks)
    };
    let cmd = if uses_cmd { quote!(cmd) } else { quote!(_cmd) };
    let doc_text = format!(
        "Decides `{}`: {}",
        c.name,
        c.description
            .as_deref()
            .unwrap_or("checks the rules and emits the events.")
    );
    let d = doc(&doc_text);
    quote! {
        #d
        fn #f(
            #hooks: &#hooks_ty,
            state: ::std::option::Option<&#name>,
            ctx: &runtime::CommandContext,
            #cmd: &#cmd_ty,
        ) -> runtime::Decision<#ev_enum> {
            #id_check
            #existence
            #status_check
            #(#rules)*
            runtime::Decision::Accept(#accepted)
        }
    }
}

fn apply_arm(agg: &Aggregate, e: &Event, site: Site<'_>) -> TokenStream {
    let ev_enum = event_enum(&agg.name);
    let v = ident(&e.name);
    let es = ExprSite {
        site,
        meta: Meta::Command,
    };
    let exprs: Vec<&SourceExpr> = e.changes.iter().map(|c| &c.value).collect();
    let used = roots(exprs.iter().copied());
    let needs_id = reads_meta_field(exprs.iter().copied(), "aggregate_id");
    let binding = if used.contains(&Root::Event) {
        quote!(event)
    } else {
        quote!(_)
    };
    let id = needs_id.then(|| {
        if agg.id == IdType::String {
            quote!(let id = state.id.clone();)
        } else {
            quote!(let id = state.id;)
        }
    });
    let changes = e.changes.iter().map(|c| {
        let f = ident(&c.field);
        let value = es.value(&c.value.expr);
        match c.op {
            ChangeOp::Set => quote!(state.#f = #value;),
            ChangeOp::Increment => quote!(state.#f += #value;),
            ChangeOp::Decrement => quote!(state.#f -= #value;),
            ChangeOp::Add => quote!(state.#f.push(#value);),
            ChangeOp::Remove => quote! {
                let removed = #value;
                state.#f.retain(|item| *item != removed);
            },
        }
    });
    let status = e.status.as_ref().map(|s| {
        let st = ident(&agg.status_type.name);
        let sv = variant(s);
        quote!(state.status = #st::#sv;)
    });
    quote! {
        #ev_enum::#v(#binding) => {
            #id
            #(#changes)*
            #status
        }
    }
}

fn hooks(ctx: &Context) -> TokenStream {
    let t = hooks_trait(&ctx.name);
    let methods = ctx.hooks().map(|(c, r, h)| {
        let m = ident(h);
        let agg_mod = aggregate_module(&c.aggregate);
        let agg = ident(&c.aggregate);
        let cmd = ident(&c.name);
        let d = doc(&format!(
            "Rule `{}` of `{}`: {}\n\nReturns whether the rule holds; when it does not, the command is rejected with \"{}\".",
            r.name,
            c.name,
            r.description.as_deref().unwrap_or(""),
            r.message
        ));
        quote! {
            #d
            fn #m(
                &self,
                state: Option<&crate::#agg_mod::#agg>,
                cmd: &crate::#agg_mod::#cmd,
                ctx: &runtime::CommandContext,
            ) -> bool;
        }
    });
    let d = doc(&format!(
        "Hand-written rules of the `{}` context. Implement this trait in the `{}` crate (outside `generated/`); regeneration never touches it.",
        ctx.name,
        super::names::hooks_package(&ctx.name)
    ));
    quote! {
        //! Rules implemented by hand.

        #d
        pub trait #t: Send + Sync + 'static {
            #(#methods)*
        }
    }
}
