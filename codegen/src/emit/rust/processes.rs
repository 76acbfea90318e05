//! The wiring of the four processes of a context: a few lines over `runtime::process`.

use super::names::{Process, aggregate_module, collection, contracts_crate, default_port, ident};
use crate::model::{Context, FilterOp, Model, Type};
use proc_macro2::TokenStream;
use quote::quote;

/// The `wiring.rs` module of a process crate.
pub fn wiring(model: &Model, ctx: &Context, process: Process) -> TokenStream {
    let name = super::names::process_package(&ctx.name, process);
    let context = &ctx.name;
    let topo = model
        .topology
        .context(&ctx.name)
        .expect("every context has a topology");
    let queue = match process {
        Process::CommandApi => {
            let q = &topo.outcome_queue.name;
            quote!(Some(#q))
        }
        Process::CommandHandler => {
            let q = &topo.command_queue.name;
            quote!(Some(#q))
        }
        Process::EventHandler => {
            let q = &topo.event_queue.name;
            quote!(Some(#q))
        }
        Process::QueryApi => quote!(None),
    };
    let addr = format!("127.0.0.1:{}", default_port(model, &ctx.name, process));
    let info = quote! {
        /// Identity and defaults of this process.
        pub const INFO: ProcessInfo = ProcessInfo {
            name: #name,
            context: #context,
            queue: #queue,
            default_http_addr: #addr,
        };
        /// The RabbitMQ topology of the whole system, generated from the catalog.
        const TOPOLOGY: &str = include_str!("../../../topology.json");
    };
    let contracts = contracts_crate(&ctx.name);
    let read_models = super::names::read_models_crate(&ctx.name);
    match process {
        Process::CommandApi => {
            let routes: Vec<TokenStream> = ctx.commands.iter().filter_map(|c| {
                let r = c.route.as_ref()?;
                let agg_mod = aggregate_module(&c.aggregate);
                let cmd = ident(&c.name);
                let method = ident(&r.method);
                let path = &r.path;
                let roles = &c.roles;
                let id = if !r.has_id() {
                    quote!(IdSource::Generated)
                } else {
                    match ctx.aggregate(&c.aggregate).map(|a| a.id) {
                        Some(crate::model::IdType::Uuid) => quote!(IdSource::PathUuid("id")),
                        Some(crate::model::IdType::I64) => quote!(IdSource::PathInteger("id")),
                        _ => quote!(IdSource::Path("id")),
                    }
                };
                Some(quote!(.command::<#contracts::#agg_mod::#cmd>(Method::#method, #path, &[#(#roles),*], #id)))
            }).collect();
            let imports = if routes.is_empty() {
                quote!(
                    use runtime::http::command_api::CommandApi;
                )
            } else {
                quote! {
                    use runtime::http::axum::http::Method;
                    use runtime::http::command_api::{CommandApi, IdSource};
                }
            };
            quote! {
                //! Wiring of the Command API: authenticate, authorize, validate, enqueue, `202 Accepted`.

                #imports
                use runtime::process::{ProcessInfo, main_exit, run_command_api, topology_from_json};
                use std::process::ExitCode;

                #info

                /// Every command of the context that has a route.
                pub fn routes(api: CommandApi) -> CommandApi {
                    api #(#routes)*
                }

                /// Runs the process until Ctrl-C or SIGTERM.
                #[tokio::main]
                pub async fn main() -> ExitCode {
                    let result = match topology_from_json(TOPOLOGY) {
                        Ok(topology) => run_command_api(INFO, topology, routes).await,
                        Err(e) => Err(e),
                    };
                    main_exit(result)
                }
            }
        }
        Process::CommandHandler => {
            let handlers = ctx.aggregates.iter().filter(|a| ctx.commands.iter().any(|c| c.aggregate == a.name)).map(|a| {
                let agg_mod = aggregate_module(&a.name);
                let agg = ident(&a.name);
                let hooks = if ctx.hooks().any(|(c, _, _)| c.aggregate == a.name) {
                    let krate = ident(&super::names::hooks_package(&ctx.name).replace('-', "_"));
                    quote!(std::sync::Arc::new(#krate::Hooks))
                } else {
                    quote!(())
                };
                quote!(.register(std::sync::Arc::new(AggregateCommandHandler::<#contracts::#agg_mod::#agg, _>::new(store.clone(), #hooks))))
            }).collect::<Vec<_>>();
            // A context without commands still runs its handler (it relays nothing).
            let (import, store) = if handlers.is_empty() {
                (quote!(CommandDispatcher), quote!(_store))
            } else {
                (
                    quote!({AggregateCommandHandler, CommandDispatcher}),
                    quote!(store),
                )
            };
            quote! {
                //! Wiring of the CommandHandler: consume commands, decide, save state and outbox atomically, relay events.

                use runtime::command_handler::#import;
                use runtime::store::StateStore;
                use runtime::process::{ProcessInfo, main_exit, run_command_handler, topology_from_json};
                use std::process::ExitCode;

                #info

                /// One handler per aggregate of the context, over any state store.
                pub fn handlers<S: StateStore + Clone + 'static>(#store: S) -> CommandDispatcher {
                    CommandDispatcher::new() #(#handlers)*
                }

                /// Runs the process until Ctrl-C or SIGTERM.
                #[tokio::main]
                pub async fn main() -> ExitCode {
                    let result = match topology_from_json(TOPOLOGY) {
                        Ok(topology) => run_command_handler(INFO, topology, handlers::<runtime::postgres::PgStateStore>).await,
                        Err(e) => Err(e),
                    };
                    main_exit(result)
                }
            }
        }
        Process::EventHandler => {
            let projection_name = format!("{}-read-models", ctx.name);
            // Every event of every context the handler's queue is bound to.
            let mut sources = Vec::new();
            for exchange in &topo.event_queue.bindings {
                let Some((c, public)) = model.topology.contexts.iter().find_map(|t| {
                    if &t.event_exchange == exchange {
                        Some((t, false))
                    } else if t.public_exchange.as_ref() == Some(exchange) {
                        Some((t, true))
                    } else {
                        None
                    }
                }) else {
                    continue;
                };
                let Some(source_ctx) = model.context(&c.context) else {
                    continue;
                };
                for e in source_ctx.events.iter().filter(|e| e.is_public() == public) {
                    let ty = format!("{}.{}", source_ctx.name, e.name);
                    let agg = format!("{}.{}", source_ctx.name, e.aggregate);
                    sources.push(quote!((#ty, #agg)));
                }
            }
            let reaction_methods = if super::reactions::any(ctx) {
                quote! {
                    fn has_reactions(&self) -> bool {
                        true
                    }
                    fn reactions(&self, event: &RawEnvelope) -> Result<Vec<runtime::reaction::Reaction>, DecodeError> {
                        crate::reactions::react(event)
                    }
                }
            } else {
                quote!()
            };
            let (fields, value, hook_method) = if ctx.has_event_hooks() {
                let hooks = super::names::hooks_crate(&ctx.name);
                (
                    quote!({
                        /// The hand-written event hooks.
                        hooks: #hooks::Hooks,
                    }),
                    quote!(ReadModels { hooks: #hooks::Hooks }),
                    quote! {
                        fn has_hooks(&self) -> bool {
                            true
                        }
                        fn hooks<'a>(&'a self, event: &'a RawEnvelope) -> Result<Vec<runtime::hook::HookCall<'a>>, DecodeError> {
                            crate::reactions::hooks(&self.hooks, event)
                        }
                    },
                )
            } else {
                (quote!(;), quote!(ReadModels), quote!())
            };
            quote! {
                //! Wiring of the EventHandler: every event of the subscribed contexts, projected into MongoDB in order, once.

                use runtime::message::DecodeError;
                use runtime::process::{ProcessInfo, Projection, main_exit, run_event_handler, topology_from_json};
                use runtime::read_model::{DocumentUpdate, IndexSpec};
                use runtime::RawEnvelope;
                use std::process::ExitCode;

                #info

                /// The read models of the context.
                pub struct ReadModels #fields

                impl Projection for ReadModels {
                    fn name(&self) -> &'static str {
                        #projection_name
                    }
                    fn event_sources(&self) -> &'static [(&'static str, &'static str)] {
                        &[#(#sources),*]
                    }
                    fn indexes(&self) -> Vec<(&'static str, IndexSpec)> {
                        #read_models::indexes()
                    }
                    fn updates(&self, event: &RawEnvelope) -> Result<Vec<DocumentUpdate>, DecodeError> {
                        #read_models::project(event)
                    }
                    fn collections(&self) -> &'static [&'static str] {
                        #read_models::COLLECTIONS
                    }
                    #reaction_methods
                    #hook_method
                }

                /// Runs the process until Ctrl-C or SIGTERM.
                #[tokio::main]
                pub async fn main() -> ExitCode {
                    let result = match topology_from_json(TOPOLOGY) {
                        Ok(topology) => run_event_handler(INFO, topology, #value).await,
                        Err(e) => Err(e),
                    };
                    main_exit(result)
                }
            }
        }
        Process::QueryApi => {
            let routes = ctx.read_models.iter().filter_map(|rm| {
                let q = rm.query.as_ref()?;
                let path = &q.path;
                let coll = collection(&rm.name);
                let roles = &q.roles;
                let filters = q.filters.iter().map(|(field, ops)| {
                    let ty = rm.fields.iter().find(|f| &f.name == field).map(|f| f.ty.clone()).unwrap_or(Type::String);
                    let base = match ty {
                        Type::Optional(t) => *t,
                        t => t,
                    };
                    let variants = match &base {
                        Type::Enum(name) => match model.value_type(name).map(|v| &v.kind) {
                            Some(crate::model::ValueKind::Enum(vs)) => Some(vs.clone()),
                            _ => None,
                        },
                        _ => None,
                    };
                    // The range of the field's type (documents hold signed 64-bit integers).
                    let range = match base {
                        Type::I32 => Some((quote!(i32::MIN as i64), quote!(i32::MAX as i64))),
                        Type::U32 => Some((quote!(0), quote!(u32::MAX as i64))),
                        Type::U64 | Type::Usize => Some((quote!(0), quote!(i64::MAX))),
                        Type::I64 | Type::Money => Some((quote!(i64::MIN), quote!(i64::MAX))),
                        _ => None,
                    };
                    let kind = if let Some((min, max)) = range {
                        quote!(ValueKind::Integer { min: #min, max: #max })
                    } else if base == Type::Timestamp {
                        quote!(ValueKind::Timestamp)
                    } else if base == Type::Date {
                        quote!(ValueKind::Date)
                    } else if base == Type::Uuid {
                        quote!(ValueKind::Uuid)
                    } else if base == Type::Bool {
                        quote!(ValueKind::Bool)
                    } else if let Some(vs) = variants {
                        quote!(ValueKind::OneOf(&[#(#vs),*]))
                    } else {
                        quote!(ValueKind::String)
                    };
                    let ops = ops.iter().map(|op| {
                        let v = ident(match op {
                            FilterOp::Eq => "Eq",
                            FilterOp::Ne => "Ne",
                            FilterOp::Gt => "Gt",
                            FilterOp::Gte => "Gte",
                            FilterOp::Lt => "Lt",
                            FilterOp::Lte => "Lte",
                            FilterOp::In => "In",
                        });
                        quote!(FilterOp::#v)
                    });
                    quote!(FilterField { field: #field, kind: #kind, ops: &[#(#ops),*] })
                });
                let sort = &q.sort;
                let default_sort = match &q.default_sort {
                    Some((f, true)) => format!("-{f}"),
                    Some((f, false)) => f.clone(),
                    None => String::new(),
                };
                let (page, max) = (u64::from(q.page_size), u64::from(q.max_page_size));
                let row = match &q.row_filter {
                    Some(r) => {
                        let field = &r.field;
                        let except = &r.except_roles;
                        quote!(Some(RowFilter { field: #field, claim: ClaimSource::Subject, except_roles: &[#(#except),*] }))
                    }
                    None => quote!(None),
                };
                Some(quote! {
                    ReadModelRoute {
                        path: #path,
                        collection: #coll,
                        roles: &[#(#roles),*],
                        filters: &[#(#filters),*],
                        sort_keys: &[#(#sort),*],
                        default_sort: #default_sort,
                        default_page_size: #page,
                        max_page_size: #max,
                        row_filter: #row,
                    }
                })
            });
            quote! {
                //! Wiring of the Query API: read models from MongoDB, filtered by tenant and row, paged and sorted.

                #[allow(unused_imports)]
                use runtime::http::query_api::{ClaimSource, FilterField, ReadModelRoute, RowFilter, ValueKind};
                use runtime::process::{ProcessInfo, main_exit, run_query_api};
                #[allow(unused_imports)]
                use runtime::read_model::FilterOp;
                use std::process::ExitCode;

                /// Identity and defaults of this process.
                pub const INFO: ProcessInfo = ProcessInfo {
                    name: #name,
                    context: #context,
                    queue: None,
                    default_http_addr: #addr,
                };

                /// The routes of every read model with a query.
                pub const ROUTES: &[ReadModelRoute] = &[#(#routes),*];

                /// Runs the process until Ctrl-C or SIGTERM.
                #[tokio::main]
                pub async fn main() -> ExitCode {
                    main_exit(run_query_api(INFO, ROUTES, #read_models::indexes()).await)
                }
            }
        }
    }
}
