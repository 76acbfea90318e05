//! The contracts crate of a context: value types, aggregate state, commands, events, rules
//! compiled to Rust, read-model projections and the hooks trait.

use super::names::{
    aggregate_module, aggregate_module_name, collection, command_enum, decide_fn, event_enum, hooks_trait, ident, variant,
};
use super::rust_expr::{ExprSite, Meta};
use super::rust_type::Site;
use super::{RustFile, doc};
use crate::model::expr::Root;
use crate::model::{
    Aggregate, ChangeOp, Command, Context, Emit, Event, Field, IdType, Model, ReadModel, RuleCheck,
    SourceExpr, Type, ValueKind, ValueType,
};
use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;

/// The Rust modules of a context's contracts crate (path relative to `src/`, file).
pub fn modules(ctx: &Context) -> Vec<(String, RustFile)> {
    let site = Site {
        context: Some(&ctx.name),
    };
    let mut out = vec![("types.rs".to_owned(), RustFile::new(types(ctx, site)))];
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

fn derive_struct() -> TokenStream {
    quote!(#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)])
}

fn types(ctx: &Context, site: Site<'_>) -> TokenStream {
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
                let rename = (id.to_string().to_snake_case() != *v)
                    .then(|| quote!(#[serde(rename = #v)]));
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
            let derive = derive_struct();
            let body = struct_fields(fields, site);
            let validate = validate_impl(&name, fields);
            quote! {
                #docs
                #derive
                pub struct #name { #body }
                #validate
            }
        }
    }
}

/// Struct fields with their doc comments and serde attributes.
fn struct_fields(fields: &[Field], site: Site<'_>) -> TokenStream {
    let fs = fields.iter().map(|f| {
        let name = ident(&f.name);
        let ty = site.rust_type(&f.ty);
        let d = doc(f.description.as_deref().unwrap_or(&format!("`{}`", f.name)));
        let default = matches!(f.ty, Type::Optional(_)).then(|| quote!(#[serde(default)]));
        quote!(#d #default pub #name: #ty)
    });
    quote!(#(#fs,)*)
}

/// `ValidateAt` for a DTO or record: one check per constraint, nested records included.
fn validate_impl(name: &proc_macro2::Ident, fields: &[Field]) -> TokenStream {
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

fn aggregate(ctx: &Context, agg: &Aggregate, site: Site<'_>) -> TokenStream {
    let name = ident(&agg.name);
    let status_ty = ident(&agg.status_type.name);
    let id_ty = site.rust_type(&agg.id.ty());
    let docs = doc(agg.description.as_deref().unwrap_or("An aggregate."));
    let derive = derive_struct();
    let fields = struct_fields(&agg.fields, site);
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
    let root = if commands.is_empty() {
        quote!()
    } else {
        aggregate_root(ctx, agg, &commands, &events, site)
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
    let fields = struct_fields(&c.fields, site);
    let ty = format!("{}.{}", ctx.name, c.name);
    let agg_ty = format!("{}.{}", ctx.name, agg.name);
    let validate = validate_impl(&name, &c.fields);
    quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct #name { #fields }
        impl runtime::Message for #name {
            const TYPE: &'static str = #ty;
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
    let docs = doc(&text);
    let fields = struct_fields(&e.fields, site);
    let ty = format!("{}.{}", ctx.name, e.name);
    quote! {
        #docs
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        pub struct #name { #fields }
        impl runtime::Message for #name {
            const TYPE: &'static str = #ty;
        }
        impl runtime::DomainEvent for #name {}
    }
}

/// The roots an expression list reads.
fn roots<'a>(exprs: impl IntoIterator<Item = &'a SourceExpr>) -> Vec<Root> {
    let mut out = Vec::new();
    for e in exprs {
        e.expr.roots(&mut out);
    }
    out
}

fn reads_meta_field<'a>(exprs: impl IntoIterator<Item = &'a SourceExpr>, field: &str) -> bool {
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
        quote!(#cmd_enum::#v(cmd) => #f(hooks, state, ctx, cmd))
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

/// The read-model module of a context's read-models crate (its own crate, because read models
/// use events and types of other contexts, whose contracts may use this context's types).
pub fn read_models(model: &Model, ctx: &Context) -> TokenStream {
    let site = Site { context: None };
    let docs_structs = ctx.read_models.iter().map(|rm| {
        let name = ident(&rm.name);
        let d = doc(rm.description.as_deref().unwrap_or("A read model."));
        let derive = derive_struct();
        let fields = struct_fields(&rm.fields, site);
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
            _ => quote!(-#by),
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
