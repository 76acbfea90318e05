//! Names in generated code: catalog names that would collide once the generator derives Rust
//! items, modules, files and packages from them.
//!
//! Most catalog names are kept free by the emitters (standard types are written with full
//! paths, keywords become raw identifiers, value types are referred to through their module).
//! What is left is reported here: names that only differ in letter case (one Rust module,
//! function or file for two names), enum variants that become one Rust variant, derived enum
//! names (`<Aggregate>Command`, `<Aggregate>Event`), aggregates whose module a contracts crate
//! already has (`types`, `hooks`, `lib`, `main`), and aggregates or commands whose module or
//! decide function would be a path keyword (`crate`, `super`, `self`).

use super::Validator;
use crate::emit::rust::names::{CONTRACTS_MODULES, PATH_KEYWORDS, aggregate_module_name};
use crate::source::FileId;
use crate::syntax::context::ContextFile;
use crate::syntax::saga::SagasFile;
use crate::syntax::{Loc, Pos};
use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use std::collections::HashMap;

impl Validator<'_> {
    /// Reports every catalog name that would collide in generated code.
    pub(super) fn generated_names(
        &mut self,
        contexts: &[(FileId, ContextFile)],
        sagas: Option<&(FileId, SagasFile)>,
    ) {
        for (file, cf) in contexts {
            self.context_namespace(*file, cf);
            for (name, def) in cf.types.iter() {
                if let Some(variants) = &def.value.variants {
                    self.variants_apart(*file, &format!("enum `{}`", name.value), variants);
                }
            }
            for (name, def) in cf.aggregates.iter() {
                let what = format!("the statuses of `{}`", name.value);
                self.variants_apart(*file, &what, &def.value.statuses.value);
            }
        }
        if let Some((file, f)) = sagas {
            self.saga_names(*file, f);
        }
    }

    /// Types, aggregates, commands, events and read models of a context: one Rust namespace,
    /// and snake_case modules, functions, collections and documentation files.
    fn context_namespace(&mut self, file: FileId, cf: &ContextFile) {
        let mut declared: Vec<(&Loc<String>, &str)> = Vec::new();
        declared.extend(cf.types.iter().map(|(n, _)| (n, "type")));
        declared.extend(cf.aggregates.iter().map(|(n, _)| (n, "aggregate")));
        declared.extend(cf.commands.iter().map(|(n, _)| (n, "command")));
        declared.extend(cf.events.iter().map(|(n, _)| (n, "event")));
        declared.extend(cf.read_models.iter().map(|(n, _)| (n, "read model")));
        declared.extend(cf.public_events.iter().map(|(n, _)| (n, "public event")));
        // Enums the generator declares for each aggregate (the status enum is reported where
        // the namespace is checked).
        let mut derived: HashMap<String, String> = HashMap::new();
        for (agg, _) in cf.aggregates.iter() {
            for (suffix, what) in [("Command", "commands"), ("Event", "events")] {
                derived.insert(
                    format!("{}{suffix}", agg.value),
                    format!(
                        "the generated enum of the {what} of aggregate `{}`",
                        agg.value
                    ),
                );
            }
        }
        // The spelling every name is compared under: lowercase without `_`, which is what
        // snake_case, kebab-case and case-insensitive file systems make of it.
        let folded = |s: &str| s.to_snake_case().replace('_', "");
        let mut seen: HashMap<String, (&Loc<String>, &str)> = HashMap::new();
        for (name, kind) in declared {
            let n = name.value.as_str();
            if n == "Self" {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!("{kind} name `Self` is a Rust keyword"),
                );
                continue;
            }
            if let Some(what) = derived.get(n) {
                let msg =
                    format!("`{n}` is the name of {what}: choose another name for this {kind}");
                self.error_at(file, name, Pos::default(), msg);
                continue;
            }
            if kind == "aggregate" {
                let module = aggregate_module_name(n);
                if CONTRACTS_MODULES.contains(&module.as_str())
                    || PATH_KEYWORDS.contains(&module.as_str())
                {
                    let msg = format!(
                        "aggregate `{n}` would be the module `{module}` of the contracts crate, which is {}",
                        if PATH_KEYWORDS.contains(&module.as_str()) {
                            "a Rust path keyword"
                        } else {
                            "reserved (`types`, `hooks`, `lib` and `main` are taken)"
                        }
                    );
                    self.error_at(file, name, Pos::default(), msg);
                    continue;
                }
            }
            if kind == "command" && PATH_KEYWORDS.contains(&n.to_snake_case().as_str()) {
                let msg = format!(
                    "command `{n}` would be decided by the function `{}`, a Rust path keyword",
                    n.to_snake_case()
                );
                self.error_at(file, name, Pos::default(), msg);
                continue;
            }
            let key = folded(n);
            match seen.get(&key) {
                // Exact duplicates are reported with the namespace.
                Some((first, _)) if first.value == name.value => {}
                Some((first, first_kind)) => {
                    let (first_name, first_line, first_kind) =
                        (first.value.clone(), first.pos.line, *first_kind);
                    let d = self.error_at(
                        file,
                        name,
                        Pos::default(),
                        format!(
                            "{kind} `{n}` and {first_kind} `{first_name}` (line {first_line}) differ only in letter case: generated modules, functions and files would be the same"
                        ),
                    );
                    d.help = Some("names of a context must differ in more than letter case".into());
                }
                None => {
                    seen.insert(key, (name, kind));
                }
            }
        }
    }

    /// Variants (or statuses) whose Rust names, in PascalCase, are the same.
    fn variants_apart(&mut self, file: FileId, what: &str, variants: &[Loc<String>]) {
        let mut seen: HashMap<String, &Loc<String>> = HashMap::new();
        for v in variants {
            let rust = v.value.to_upper_camel_case();
            match seen.get(&rust) {
                Some(first) if first.value == v.value => {}
                Some(first) => {
                    let first = first.value.clone();
                    self.error_at(
                        file,
                        v,
                        Pos::default(),
                        format!(
                            "`{}` and `{first}` of {what} are both the Rust variant `{rust}`",
                            v.value
                        ),
                    );
                }
                None => {
                    seen.insert(rust, v);
                }
            }
        }
    }

    /// Saga names give package and queue names (kebab-case); state names give the functions
    /// of the saga's machine (snake_case).
    fn saga_names(&mut self, file: FileId, f: &SagasFile) {
        let mut sagas: HashMap<String, &Loc<String>> = HashMap::new();
        for (name, def) in f.sagas.iter() {
            let package = format!("{}-saga", name.value.to_kebab_case());
            match sagas.get(&package) {
                Some(first) if first.value == name.value => {}
                Some(first) => {
                    let first = first.value.clone();
                    self.error_at(
                        file,
                        name,
                        Pos::default(),
                        format!(
                            "sagas `{}` and `{first}` would both be the package `{package}`: saga names must differ in more than letter case",
                            name.value
                        ),
                    );
                }
                None => {
                    sagas.insert(package, name);
                }
            }
            let mut states: HashMap<String, &Loc<String>> = HashMap::new();
            for (state, _) in def.value.states.iter() {
                let key = state.value.to_snake_case();
                match states.get(&key) {
                    Some(first) if first.value == state.value => {}
                    Some(first) => {
                        let first = first.value.clone();
                        self.error_at(
                            file,
                            state,
                            Pos::default(),
                            format!(
                                "states `{}` and `{first}` of saga `{}` differ only in letter case: their generated functions would be the same (`{key}`)",
                                state.value, name.value
                            ),
                        );
                    }
                    None => {
                        states.insert(key, state);
                    }
                }
            }
        }
    }
}
