//! Names of generated crates, modules, items and collections.

use crate::model::{Model, Saga};
use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// An identifier token; a Rust keyword becomes a raw identifier (`r#type`, `r#gen`), so that
/// catalog names never need to avoid keywords of any edition.
pub fn ident(name: &str) -> Ident {
    if is_rust_keyword(name) && !PATH_KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// Keywords that cannot be raw identifiers: a name the generator derives must never be one
/// (the validator rejects catalog names that would produce them).
pub const PATH_KEYWORDS: [&str; 5] = ["self", "Self", "super", "crate", "_"];

/// Whether `name` is a Rust keyword of edition 2024 (strict, reserved, or `gen`).
pub fn is_rust_keyword(name: &str) -> bool {
    crate::validate::names::is_keyword(name) || name == "gen"
}

/// The Rust spelling of an identifier (with `r#` when it is a keyword).
pub fn ident_text(name: &str) -> String {
    ident(name).to_string()
}

/// The PascalCase identifier of a snake_case name (enum variants).
pub fn variant(name: &str) -> Ident {
    ident(&name.to_upper_camel_case())
}

/// Package name of a context's contracts crate.
pub fn contracts_package(context: &str) -> String {
    format!("{}-contracts", context.to_kebab_case())
}

/// Crate identifier of a context's contracts crate.
pub fn contracts_crate(context: &str) -> Ident {
    ident(&format!("{}_contracts", context.to_snake_case()))
}

/// Package name of a context's read-models crate.
pub fn read_models_package(context: &str) -> String {
    format!("{}-read-models", context.to_kebab_case())
}

/// Crate identifier of a context's read-models crate.
pub fn read_models_crate(context: &str) -> Ident {
    ident(&format!("{}_read_models", context.to_snake_case()))
}

/// Package name of one of a context's processes (`ordering-command-api`).
pub fn process_package(context: &str, process: Process) -> String {
    format!("{}-{}", context.to_kebab_case(), process.suffix())
}

/// Package name of a saga's orchestrator.
pub fn saga_package(saga: &Saga) -> String {
    format!("{}-saga", saga.name.to_kebab_case())
}

/// Package name of a context's hand-written hooks crate.
pub fn hooks_package(context: &str) -> String {
    format!("{}-hooks", context.to_kebab_case())
}

/// Package name of the generated crate holding a context's event-hooks trait
/// (`ordering-event-hooks-api`; the `-api` keeps it apart from the hooks crate of a context
/// named `ordering_event`).
pub fn event_hooks_package(context: &str) -> String {
    format!("{}-event-hooks-api", context.to_kebab_case())
}

/// Crate identifier of [`event_hooks_package`].
pub fn event_hooks_crate(context: &str) -> Ident {
    ident(&format!("{}_event_hooks_api", context.to_snake_case()))
}

/// The event-hooks trait of a context.
pub fn event_hooks_trait(context: &str) -> Ident {
    ident(&format!("{}EventHooks", context.to_upper_camel_case()))
}

/// Crate identifier of a context's hand-written hooks crate.
pub fn hooks_crate(context: &str) -> Ident {
    ident(&format!("{}_hooks", context.to_snake_case()))
}

/// Module of an aggregate in its contracts crate.
pub fn aggregate_module(aggregate: &str) -> Ident {
    ident(&aggregate_module_name(aggregate))
}

/// The file stem of an aggregate's module (`type` for the module `r#type`).
pub fn aggregate_module_name(aggregate: &str) -> String {
    aggregate.to_snake_case()
}

/// Module names an aggregate cannot take: the modules a contracts crate always has, and the
/// file names of crate roots (`src/lib.rs`, `src/main.rs`).
pub const CONTRACTS_MODULES: [&str; 4] = ["types", "hooks", "lib", "main"];

/// Read-model collection name.
pub fn collection(read_model: &str) -> String {
    read_model.to_snake_case()
}

/// The hooks trait of a context.
pub fn hooks_trait(context: &str) -> Ident {
    ident(&format!("{}Hooks", context.to_upper_camel_case()))
}

/// Command enum of an aggregate.
pub fn command_enum(aggregate: &str) -> Ident {
    ident(&format!("{aggregate}Command"))
}

/// Event enum of an aggregate.
pub fn event_enum(aggregate: &str) -> Ident {
    ident(&format!("{aggregate}Event"))
}

/// Decision function of a command.
pub fn decide_fn(command: &str) -> Ident {
    ident(&command.to_snake_case())
}

/// The four processes of a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    /// REST ingress of commands.
    CommandApi,
    /// Executes commands.
    CommandHandler,
    /// Builds read models.
    EventHandler,
    /// REST queries of read models.
    QueryApi,
}

impl Process {
    /// All four, in port order.
    pub const ALL: [Process; 4] = [
        Process::CommandApi,
        Process::CommandHandler,
        Process::EventHandler,
        Process::QueryApi,
    ];

    /// Suffix of the package name.
    pub fn suffix(self) -> &'static str {
        match self {
            Process::CommandApi => "command-api",
            Process::CommandHandler => "command-handler",
            Process::EventHandler => "event-handler",
            Process::QueryApi => "query-api",
        }
    }

    /// The runtime features the process links.
    pub fn features(self) -> &'static [&'static str] {
        // `otlp` everywhere: span export is switched on at run time, by the environment.
        match self {
            Process::CommandApi => &["auth", "amqp", "otlp"],
            Process::CommandHandler => &["amqp", "postgres", "http", "otlp"],
            // `postgres` for `rebuild`, which replays the events retained in the outboxes.
            Process::EventHandler => &["amqp", "mongo", "http", "postgres", "otlp"],
            Process::QueryApi => &["auth", "mongo", "otlp"],
        }
    }
}

/// Default HTTP port of a process: contexts in order get 8100, 8110, ...; the processes of a
/// context +1 to +4; sagas 8900, 8901, ...
pub fn default_port(model: &Model, context: &str, process: Process) -> u16 {
    let index = model
        .contexts
        .iter()
        .position(|c| c.name == context)
        .unwrap_or(0);
    let offset = Process::ALL.iter().position(|p| *p == process).unwrap_or(0);
    8100 + 10 * u16::try_from(index).unwrap_or(0) + 1 + u16::try_from(offset).unwrap_or(0)
}

/// Default HTTP port of a saga.
pub fn saga_port(model: &Model, saga: &Saga) -> u16 {
    8900 + u16::try_from(
        model
            .sagas
            .iter()
            .position(|s| s.name == saga.name)
            .unwrap_or(0),
    )
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_raw_identifiers_except_path_keywords() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("gen").to_string(), "r#gen");
        assert_eq!(ident("union").to_string(), "union");
        assert_eq!(ident("order_id").to_string(), "order_id");
        assert_eq!(ident_text("match"), "r#match");
        assert_eq!(aggregate_module_name("Type"), "type");
        assert_eq!(aggregate_module("Type").to_string(), "r#type");
        assert!(
            PATH_KEYWORDS
                .iter()
                .all(|k| is_rust_keyword(k) || *k == "_")
        );
    }
}
