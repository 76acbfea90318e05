//! A saga orchestrator crate: the state machine as data and its wiring.

use super::doc;
use super::names::{contracts_crate, ident, saga_port};
use super::rust_expr::{ExprSite, Meta};
use super::rust_type::Site;
use crate::model::expr::Root;
use crate::model::{MessageName, Model, Saga, SagaCommand, SourceExpr, Terminal, Transition, Type};
use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;
use std::time::Duration;

const SITE: Site<'static> = Site { context: None };

/// The `machine.rs` module of a saga crate.
pub fn machine(model: &Model, saga: &Saga) -> TokenStream {
    let data_ident = ident("Data");
    let data_fields = super::value_types::struct_fields(&data_ident, &saga.data, SITE);
    let data_derive = super::defaults::derive(&saga.data, quote!());
    let data_defaults = super::defaults::items(&data_ident, &saga.data, &[], SITE);
    let env = ExprSite {
        site: SITE,
        meta: Meta::Envelope,
    };
    let correlate_arms = saga.correlate.iter().map(|(event, expr)| {
        let prelude = event_prelude(model, event, std::slice::from_ref(expr), true);
        let ty = event.to_string();
        let key = key_string(env, expr);
        quote!(#ty => { #prelude Some(#key) })
    });
    let init_prelude = event_prelude(
        model,
        &saga.start,
        &saga.init.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        false,
    );
    let init_fields = saga.init.iter().map(|(f, e)| {
        let f = ident(f);
        let v = env.value(&e.expr);
        quote!(#f: #v)
    });
    let init_rest = (saga.init.len() < saga.data.len()).then(|| quote!(..Data::default()));
    let mut helpers = Vec::new();
    let states = saga.states.iter().map(|s| {
        let name = &s.name;
        let terminal = match s.terminal {
            Some(Terminal::Completed) => quote!(Some(SagaOutcome::Completed)),
            Some(Terminal::Failed) => quote!(Some(SagaOutcome::Failed)),
            None => quote!(None),
        };
        let command = match &s.send {
            Some(c) => {
                let f = ident(&format!("send_{}", s.name.to_snake_case()));
                helpers.push(command_builder(&f, c, &format!("The command sent on entering `{}`.", s.name)));
                command_spec(c, &f)
            }
            None => quote!(None),
        };
        let compensation = match &s.compensation {
            Some(c) => {
                let f = ident(&format!("compensate_{}", s.name.to_snake_case()));
                helpers.push(command_builder(&f, c, &format!("The compensation of `{}`.", s.name)));
                command_spec(c, &f)
            }
            None => quote!(None),
        };
        let timeout = match s.timeout {
            Some(t) => duration(t),
            None => quote!(None),
        };
        let timeout = if s.timeout.is_some() { quote!(Some(#timeout)) } else { timeout };
        let retry = if s.retry.max_attempts <= 1 {
            quote!(RetryPolicy::NONE)
        } else {
            let attempts = s.retry.max_attempts;
            let initial = duration(s.retry.initial_delay);
            let backoff = s.retry.backoff;
            let max = duration(s.retry.max_delay);
            quote!(RetryPolicy { max_attempts: #attempts, initial_delay: #initial, backoff: #backoff, max_delay: #max })
        };
        let transitions = super::contracts::vec_of(s.transitions.iter().enumerate().map(|(i, t)| transition(model, saga, &s.name, i, t, &mut helpers)).collect());
        let on_timeout = match &s.on_timeout {
            Some(t) => {
                let tr = transition(model, saga, &s.name, usize::MAX, t, &mut helpers);
                quote!(Some(#tr))
            }
            None => quote!(None),
        };
        let compensate_on_timeout = s.compensate_on_timeout && s.compensation.is_some();
        let visits = match &s.visits {
            Some(v) => {
                let (max, target, compensate) =
                    (v.max, &v.on_exhausted.target, v.on_exhausted.compensate);
                quote!(Some(runtime::saga::machine::VisitLimit {
                    max: #max,
                    on_exhausted: #target,
                    compensate: #compensate,
                }))
            }
            None => quote!(None),
        };
        quote! {
            SagaStateSpec {
                name: #name,
                terminal: #terminal,
                command: #command,
                timeout: #timeout,
                retry: #retry,
                on_timeout: #on_timeout,
                compensation: #compensation,
                compensate_on_timeout: #compensate_on_timeout,
                transitions: #transitions,
                visits: #visits,
            }
        }
    }).collect::<Vec<_>>();
    let saga_name = &saga.name;
    let start = saga.start.to_string();
    let initial = &saga.initial;
    let data_doc = doc(&format!(
        "Data kept by each `{}` instance (one MongoDB document).",
        saga.name
    ));
    let machine_doc = doc(&format!(
        "The `{}` state machine.\n\n{}",
        saga.name,
        saga.description.as_deref().unwrap_or("")
    ));
    quote! {
        //! The saga as data: states, the commands they send, their timeouts, retries, compensations and transitions.

        use runtime::message::DecodeError;
        #[allow(unused_imports)]
        use runtime::saga::machine::{CommandSpec, RetryPolicy, SagaMachine, SagaOutcome, SagaStateSpec, TransitionSpec, capture_nothing};
        use runtime::RawEnvelope;
        #[allow(unused_imports)]
        use std::time::Duration;

        #data_doc
        #data_derive
        pub struct Data { #data_fields }
        #data_defaults

        /// The correlation key of an event of this saga (`None` for any other event).
        fn correlate(envelope: &RawEnvelope) -> Option<String> {
            match envelope.meta.message_type.as_str() {
                #(#correlate_arms)*
                _ => None,
            }
        }

        /// The data of a new instance, from its start event.
        fn init(envelope: &RawEnvelope) -> Result<Data, DecodeError> {
            #init_prelude
            Ok(Data { #(#init_fields,)* #init_rest })
        }

        #(#helpers)*

        #machine_doc
        pub fn machine() -> SagaMachine<Data> {
            SagaMachine {
                name: #saga_name,
                start_event: #start,
                initial_state: #initial,
                correlate,
                init,
                states: Vec::from([#(#states),*]),
            }
        }
    }
}

fn duration(d: Duration) -> TokenStream {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    quote!(Duration::from_millis(#ms))
}

fn key_string(env: ExprSite<'_>, e: &SourceExpr) -> TokenStream {
    if e.expr.ty == Type::String {
        env.value(&e.expr)
    } else {
        let p = env.operand(&e.expr);
        quote!(#p.to_string())
    }
}

/// Decodes the event and its aggregate id when the expressions read them. With `optional`,
/// failures yield `None` (in `correlate`); otherwise they are returned as errors.
fn event_prelude(
    model: &Model,
    event: &MessageName,
    exprs: &[SourceExpr],
    optional: bool,
) -> TokenStream {
    let mut roots = Vec::new();
    for e in exprs {
        e.expr.roots(&mut roots);
    }
    let ev = model.event(event).expect("validated event");
    let krate = contracts_crate(&event.context);
    let ev_ty = ident(&ev.name);
    let tail = if optional { quote!(.ok()?) } else { quote!(?) };
    let decode = roots.contains(&Root::Event).then(
        || quote!(let event: #krate::#ev_ty = runtime::message::decode_payload(envelope) #tail;),
    );
    let reads_id = exprs.iter().any(|e| e.source.contains("meta.aggregate_id"));
    let id = reads_id.then(|| {
        let agg = model
            .context(&event.context)
            .and_then(|c| c.aggregate(&ev.aggregate))
            .expect("validated aggregate");
        let id_ty = SITE.rust_type(&agg.id.ty());
        quote!(let aggregate_id: #id_ty = runtime::message::aggregate_id(envelope) #tail;)
    });
    quote!(#decode #id)
}

fn command_builder(f: &proc_macro2::Ident, c: &SagaCommand, text: &str) -> TokenStream {
    let krate = contracts_crate(&c.command.context);
    let cmd = ident(&c.command.name);
    let es = ExprSite {
        site: SITE,
        meta: Meta::Envelope,
    };
    let fields = c.values.iter().map(|(name, v)| {
        let n = ident(name);
        let value = es.value(&v.expr);
        quote!(#n: #value)
    });
    let to = key_string(es, &c.to);
    let d = doc(text);
    let mut roots = Vec::new();
    c.to.expr.roots(&mut roots);
    for (_, v) in &c.values {
        v.expr.roots(&mut roots);
    }
    let data = if roots.contains(&Root::Data) {
        quote!(data)
    } else {
        quote!(_data)
    };
    quote! {
        #d
        fn #f(#data: &Data) -> (String, runtime::serde_json::Value) {
            let command = #krate::#cmd { #(#fields,)* };
            (#to, runtime::serde_json::to_value(&command).unwrap_or_default())
        }
    }
}

fn command_spec(c: &SagaCommand, f: &proc_macro2::Ident) -> TokenStream {
    let ctx = &c.command.context;
    let ty = c.command.to_string();
    let krate = contracts_crate(ctx);
    let cmd = ident(&c.command.name);
    quote!(Some(CommandSpec {
        context: #ctx,
        message_type: #ty,
        schema_version: <#krate::#cmd as runtime::Message>::VERSION,
        build: #f,
    }))
}

fn transition(
    model: &Model,
    saga: &Saga,
    state: &str,
    index: usize,
    t: &Transition,
    helpers: &mut Vec<TokenStream>,
) -> TokenStream {
    let on = t.event.as_ref().map(|e| e.to_string()).unwrap_or_default();
    let target = &t.target;
    let compensate = t.compensate;
    let capture = if t.capture.is_empty() {
        quote!(capture_nothing)
    } else {
        let suffix = if index == usize::MAX {
            "timeout".to_owned()
        } else {
            index.to_string()
        };
        let f = ident(&format!("capture_{}_{suffix}", state.to_snake_case()));
        let event = t.event.as_ref().expect("captures come with events");
        let exprs: Vec<SourceExpr> = t.capture.iter().map(|(_, e)| e.clone()).collect();
        let prelude = event_prelude(model, event, &exprs, false);
        let env = ExprSite {
            site: SITE,
            meta: Meta::Envelope,
        };
        let sets = t.capture.iter().map(|(field, e)| {
            let f = ident(field);
            let v = env.value(&e.expr);
            quote!(data.#f = #v;)
        });
        let d = doc(&format!(
            "Data captured when `{state}` of `{}` receives `{}`.",
            saga.name, event
        ));
        helpers.push(quote! {
            #d
            fn #f(data: &mut Data, envelope: &RawEnvelope) -> Result<(), DecodeError> {
                #prelude
                #(#sets)*
                Ok(())
            }
        });
        quote!(#f)
    };
    quote!(TransitionSpec { on_event: #on, target: #target, compensate: #compensate, capture: #capture })
}

/// The `wiring.rs` module of a saga crate.
pub fn wiring(model: &Model, saga: &Saga) -> TokenStream {
    let name = super::names::saga_package(saga);
    let saga_name = &saga.name;
    let queue = &model
        .topology
        .sagas
        .iter()
        .find(|s| s.saga == saga.name)
        .expect("saga topology")
        .queue
        .name;
    let addr = format!("127.0.0.1:{}", saga_port(model, saga));
    quote! {
        //! Wiring of the saga orchestrator: events in, commands out, timeouts and recovery, state in MongoDB.

        use runtime::process::{ProcessInfo, main_exit, run_saga, topology_from_json};
        use std::process::ExitCode;

        /// Identity and defaults of this process.
        const INFO: ProcessInfo = ProcessInfo {
            name: #name,
            context: #saga_name,
            queue: Some(#queue),
            default_http_addr: #addr,
        };
        /// The RabbitMQ topology of the whole system, generated from the catalog.
        const TOPOLOGY: &str = include_str!("../../../topology.json");

        /// Runs the process until Ctrl-C or SIGTERM.
        #[tokio::main]
        pub async fn main() -> ExitCode {
            let result = match topology_from_json(TOPOLOGY) {
                Ok(topology) => run_saga(INFO, topology, crate::machine::machine()).await,
                Err(e) => Err(e),
            };
            main_exit(result)
        }
    }
}
