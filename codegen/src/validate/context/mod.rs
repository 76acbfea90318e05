//! Validation of context files: names, value types, aggregates, commands and events.

mod changes;
mod command;
mod reactions;

use super::evolution::MessageEvolution;
use super::names::{check_pascal, check_snake};
use super::{Symbols, Validator, field_types, meta_fields, scope};
use crate::model::expr::Root;
use crate::model::{
    Aggregate, Context, Event, Field, IdType, Type, TypeName, ValueKind, ValueType,
};
use crate::source::FileId;
use crate::syntax::context::ContextFile;
use crate::syntax::{Loc, Pos};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

const METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

impl Validator<'_> {
    pub(super) fn contexts(&mut self, files: &[(FileId, ContextFile)]) -> Vec<Context> {
        self.context_names(files);
        self.declare_types(files);
        let mut out: Vec<Context> = Vec::new();
        for (file, cf) in files {
            let ctx = self.context_body(*file, cf);
            out.push(ctx);
        }
        for (i, (file, cf)) in files.iter().enumerate() {
            let read_models = self.read_models(*file, cf, &out);
            out[i].read_models = read_models;
        }
        for (i, (file, cf)) in files.iter().enumerate() {
            let policies = self.policies(*file, cf, &out);
            out[i].policies = policies;
        }
        self.type_cycles(files, &out);
        out
    }

    /// Reports contexts whose messages and state use each other's value types: their
    /// contracts crates would depend on each other, which Cargo cannot build.
    fn type_cycles(&mut self, files: &[(FileId, ContextFile)], contexts: &[Context]) {
        fn uses(ctx: &Context) -> Vec<String> {
            let mut types: Vec<&Type> = Vec::new();
            for t in &ctx.types {
                if let ValueKind::Record(fields) = &t.kind {
                    types.extend(fields.iter().map(|f| &f.ty));
                }
            }
            for a in &ctx.aggregates {
                types.extend(a.fields.iter().map(|f| &f.ty));
            }
            for c in &ctx.commands {
                types.extend(c.fields.iter().map(|f| &f.ty));
            }
            for e in &ctx.events {
                types.extend(e.fields.iter().map(|f| &f.ty));
            }
            let mut out = Vec::new();
            for ty in types {
                ty.referenced_contexts(&mut out);
            }
            out.retain(|c| *c != ctx.name);
            out.sort();
            out
        }
        let edges: HashMap<&str, Vec<String>> = contexts
            .iter()
            .map(|c| (c.name.as_str(), uses(c)))
            .collect();
        for (file, cf) in files {
            let start = cf.context.value.as_str();
            // A path back to `start` through the "uses types of" relation.
            let mut stack: Vec<Vec<String>> = edges
                .get(start)
                .into_iter()
                .flatten()
                .map(|n| vec![n.clone()])
                .collect();
            let mut seen = HashSet::new();
            while let Some(path) = stack.pop() {
                let last = path.last().expect("non-empty").clone();
                if last == start {
                    let chain = std::iter::once(start.to_owned())
                        .chain(path)
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(" -> ");
                    let d = self.error_at(*file, &cf.context, Pos::default(), format!(
                        "contexts use each other's value types ({chain}): their contracts crates would depend on each other"
                    ));
                    d.help = Some("declare the shared type in one context only, or give each context its own type".into());
                    break;
                }
                if seen.insert(last.clone()) {
                    for next in edges.get(last.as_str()).into_iter().flatten() {
                        let mut p = path.clone();
                        p.push(next.clone());
                        stack.push(p);
                    }
                }
            }
        }
    }

    fn context_names(&mut self, files: &[(FileId, ContextFile)]) {
        let mut seen: HashMap<String, String> = HashMap::new();
        for (file, cf) in files {
            let name = &cf.context;
            self.check_name(
                *file,
                name,
                Pos::default(),
                check_snake(&name.value, "context name"),
            );
            let path = self.sources.get(*file).path.clone();
            let stem = path
                .rsplit('/')
                .next()
                .unwrap_or("")
                .trim_end_matches(".yaml")
                .trim_end_matches(".yml")
                .to_owned();
            if stem != name.value {
                self.error_at(
                    *file,
                    name,
                    Pos::default(),
                    format!(
                        "context `{}` is declared in `{path}`: the file must be named `{}.yaml`",
                        name.value, name.value
                    ),
                );
            }
            if let Some(other) = seen.get(&name.value) {
                let other = other.clone();
                self.error_at(
                    *file,
                    name,
                    Pos::default(),
                    format!("context `{}` is already declared in `{other}`", name.value),
                );
            } else {
                seen.insert(name.value.clone(), path);
            }
            self.symbols.push(Symbols {
                name: name.value.clone(),
            });
        }
    }

    /// Declares every value type (and aggregate status enum) of every context, then resolves
    /// record fields, so that types may reference each other across contexts.
    fn declare_types(&mut self, files: &[(FileId, ContextFile)]) {
        for (file, cf) in files {
            let ctx = &cf.context.value;
            let mut declared: Vec<(&Loc<String>, &str)> = Vec::new();
            for (name, def) in cf.types.iter() {
                declared.push((name, "type"));
                if !self.check_name(
                    *file,
                    name,
                    Pos::default(),
                    check_pascal(&name.value, "type name"),
                ) {
                    continue;
                }
                let tn = TypeName {
                    context: ctx.clone(),
                    name: name.value.clone(),
                };
                match (&def.fields, &def.variants) {
                    (Some(_), None) => {
                        Rc::make_mut(&mut self.types)
                            .kinds
                            .insert(tn, ValueKind::Record(Vec::new()));
                    }
                    (None, Some(variants)) => {
                        if variants.is_empty() {
                            self.error_at(
                                *file,
                                name,
                                Pos::default(),
                                format!("enum `{}` has no variants", name.value),
                            );
                        }
                        for v in variants {
                            self.check_name(
                                *file,
                                v,
                                def.pos,
                                check_snake(&v.value, "enum variant"),
                            );
                        }
                        self.unique(*file, "variant", variants.iter());
                        Rc::make_mut(&mut self.types).kinds.insert(
                            tn,
                            ValueKind::Enum(variants.iter().map(|v| v.value.clone()).collect()),
                        );
                    }
                    (Some(_), Some(_)) => {
                        self.error_at(*file, name, Pos::default(), format!("type `{}` has both `fields` and `variants`: a type is a record or an enum", name.value));
                    }
                    (None, None) => {
                        self.error_at(
                            *file,
                            name,
                            Pos::default(),
                            format!(
                                "type `{}` needs `fields` (a record) or `variants` (an enum)",
                                name.value
                            ),
                        );
                    }
                }
            }
            for (name, def) in cf.aggregates.iter() {
                declared.push((name, "aggregate"));
                if !self.check_name(
                    *file,
                    name,
                    Pos::default(),
                    check_pascal(&name.value, "aggregate name"),
                ) {
                    continue;
                }
                let statuses: Vec<String> =
                    def.statuses.value.iter().map(|s| s.value.clone()).collect();
                Rc::make_mut(&mut self.types).kinds.insert(
                    TypeName {
                        context: ctx.clone(),
                        name: format!("{}Status", name.value),
                    },
                    ValueKind::Enum(statuses),
                );
            }
            for (name, _) in cf.commands.iter() {
                declared.push((name, "command"));
            }
            for (name, _) in cf.events.iter() {
                declared.push((name, "event"));
            }
            for (name, _) in cf.read_models.iter() {
                declared.push((name, "read model"));
            }
            for (name, _) in cf.public_events.iter() {
                declared.push((name, "public event"));
            }
            let mut seen: HashMap<String, (&str, u32)> = HashMap::new();
            for (name, _) in cf.aggregates.iter() {
                seen.insert(
                    format!("{}Status", name.value),
                    ("status enum of an aggregate", name.pos.line),
                );
            }
            for (name, kind) in declared {
                if let Some((other, line)) = seen.get(&name.value) {
                    let msg = format!(
                        "`{}` is already declared as a {other} (line {line}); types, aggregates, commands, events, public events and read models of a context share one namespace",
                        name.value
                    );
                    self.error_at(*file, name, Pos::default(), msg);
                } else {
                    seen.insert(name.value.clone(), (kind, name.pos.line));
                }
            }
        }
        for (file, cf) in files {
            let ctx = cf.context.value.clone();
            for (name, def) in cf.types.iter() {
                let Some(fields) = &def.fields else { continue };
                let tn = TypeName {
                    context: ctx.clone(),
                    name: name.value.clone(),
                };
                if !matches!(self.types.kinds.get(&tn), Some(ValueKind::Record(_))) {
                    continue;
                }
                if fields.is_empty() {
                    self.error_at(
                        *file,
                        name,
                        Pos::default(),
                        format!("record `{}` has no fields", name.value),
                    );
                }
                let resolved = self.fields(*file, &ctx, fields, "a record", &[]);
                Rc::make_mut(&mut self.types)
                    .kinds
                    .insert(tn, ValueKind::Record(resolved));
            }
        }
        self.recursive_records(files);
    }

    /// Reports records that contain themselves other than through a list.
    fn recursive_records(&mut self, files: &[(FileId, ContextFile)]) {
        fn direct(ty: &Type) -> Option<&TypeName> {
            match ty {
                Type::Record(n) => Some(n),
                Type::Optional(inner) => direct(inner),
                _ => None,
            }
        }
        for (file, cf) in files {
            for (name, _) in cf.types.iter() {
                let start = TypeName {
                    context: cf.context.value.clone(),
                    name: name.value.clone(),
                };
                let mut stack = vec![start.clone()];
                let mut seen = HashSet::new();
                let mut cyclic = false;
                while let Some(t) = stack.pop() {
                    if let Some(ValueKind::Record(fields)) = self.types.kinds.get(&t) {
                        for f in fields {
                            if let Some(n) = direct(&f.ty) {
                                if *n == start {
                                    cyclic = true;
                                } else if seen.insert(n.clone()) {
                                    stack.push(n.clone());
                                }
                            }
                        }
                    }
                }
                if cyclic {
                    self.error_at(
                        *file,
                        name,
                        Pos::default(),
                        format!(
                            "record `{}` contains itself: break the cycle with a list or an id",
                            name.value
                        ),
                    );
                }
            }
        }
    }

    fn context_body(&mut self, file: FileId, cf: &ContextFile) -> Context {
        let ctx = cf.context.value.clone();
        let mut types = Vec::new();
        for (name, def) in cf.types.iter() {
            let tn = TypeName {
                context: ctx.clone(),
                name: name.value.clone(),
            };
            if let Some(kind) = self.types.kinds.get(&tn) {
                types.push(ValueType {
                    name: name.value.clone(),
                    description: def.description.clone(),
                    kind: kind.clone(),
                });
            }
        }
        let aggregates = self.aggregates(file, cf);
        for a in &aggregates {
            types.push(ValueType {
                name: a.status_type.name.clone(),
                description: Some(format!("Lifecycle status of `{}`.", a.name)),
                kind: ValueKind::Enum(a.statuses.clone()),
            });
        }
        let mut events: Vec<Event> = Vec::new();
        for (name, def) in cf.events.iter() {
            if !self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "event name"),
            ) {
                continue;
            }
            let fields = self.fields(file, &ctx, &def.fields, "an event", &[]);
            let versioning = self.versioning(
                file,
                MessageEvolution {
                    what: format!("event `{}`", name.value),
                    version: def.version.as_ref(),
                    upcast: &def.upcast,
                    deprecated: def.deprecated.as_ref(),
                    owner: def.owner.clone().or_else(|| cf.owner.clone()),
                    pos: name.pos,
                },
                &fields,
            );
            events.push(Event {
                name: name.value.clone(),
                description: def.description.clone(),
                versioning,
                aggregate: String::new(),
                fields,
                changes: Vec::new(),
                status: None,
                is_rejection: false,
                public: None,
            });
        }
        let commands = self.commands(file, cf, &aggregates, &events);
        self.event_owners(file, cf, &commands, &mut events);
        for (name, def) in cf.events.iter() {
            let Some(apply) = &def.apply else { continue };
            let Some(idx) = events.iter().position(|e| e.name == name.value) else {
                continue;
            };
            if events[idx].aggregate.is_empty() {
                continue;
            }
            if events[idx].is_rejection {
                self.error(file, apply.pos, name.pos, format!("`{}` is emitted as a rejection, so it cannot change state: remove its `apply`", name.value));
                continue;
            }
            let Some(agg) = aggregates.iter().find(|a| a.name == events[idx].aggregate) else {
                continue;
            };
            let (changes, status) =
                self.aggregate_changes(file, &ctx, agg, &events[idx], apply, name.pos);
            events[idx].changes = changes;
            events[idx].status = status;
        }
        let public = self.public_events(file, cf, &aggregates, &events);
        events.extend(public);
        Context {
            name: ctx,
            description: cf.description.clone(),
            owner: cf.owner.clone(),
            source: self.sources.get(file).path.clone(),
            types,
            aggregates,
            commands,
            events,
            read_models: Vec::new(),
            policies: Vec::new(),
        }
    }

    fn aggregates(&mut self, file: FileId, cf: &ContextFile) -> Vec<Aggregate> {
        let ctx = &cf.context.value;
        let mut out = Vec::new();
        for (name, def) in cf.aggregates.iter() {
            let id = match def.id.as_ref().map(|l| (l, l.value.as_str())) {
                None | Some((_, "uuid")) => IdType::Uuid,
                Some((_, "string")) => IdType::String,
                Some((_, "i64")) => IdType::I64,
                Some((l, other)) => {
                    let msg = format!(
                        "aggregate id type `{other}` is not supported: use `uuid`, `string` or `i64`"
                    );
                    self.error_at(file, l, def.pos, msg);
                    IdType::Uuid
                }
            };
            if def.statuses.value.is_empty() {
                self.error(
                    file,
                    def.statuses.pos,
                    name.pos,
                    format!("aggregate `{}` needs at least one status", name.value),
                );
            }
            for s in &def.statuses.value {
                self.check_name(file, s, def.statuses.pos, check_snake(&s.value, "status"));
            }
            self.unique(file, "status", def.statuses.value.iter());
            let fields = self.fields(
                file,
                ctx,
                &def.state,
                "every aggregate state",
                &["id", "status"],
            );
            if !names_ok(name) {
                continue;
            }
            out.push(Aggregate {
                name: name.value.clone(),
                description: def.description.clone(),
                id,
                statuses: def.statuses.value.iter().map(|s| s.value.clone()).collect(),
                status_type: TypeName {
                    context: ctx.clone(),
                    name: format!("{}Status", name.value),
                },
                fields,
            });
        }
        out
    }
}

/// What a change set changes: the fields of a state or document, and the event's fields.
pub(super) struct ChangeTarget<'t> {
    pub fields: &'t [(String, Type)],
    pub event_fields: &'t [Field],
    pub what: &'static str,
}

/// What expressions inside a command may read.
pub(super) struct CommandScope<'a> {
    pub ctx: &'a str,
    pub agg: &'a Aggregate,
    pub fields: &'a [Field],
    pub creates: bool,
    pub command: &'a str,
}

impl CommandScope<'_> {
    fn state_fields(&self) -> Vec<(String, Type)> {
        state_root(self.agg)
    }

    fn scope<'t>(
        &'t self,
        types: &'t crate::validate::TypeTable,
    ) -> crate::validate::expr_check::Scope<'t> {
        let mut roots = vec![
            (Root::Cmd, field_types(self.fields)),
            (Root::Meta, meta_fields(self.agg.id.ty())),
        ];
        let mut unavailable = vec![(
            Root::Event,
            "command rules and emits read `cmd.*`, `state.*` and `meta.*`".to_owned(),
        )];
        if self.creates {
            unavailable.push((
                Root::State,
                format!(
                    "`{}` creates its aggregate, which has no state yet",
                    self.command
                ),
            ));
        } else {
            roots.insert(1, (Root::State, self.state_fields()));
        }
        scope(types, self.ctx, roots, unavailable)
    }
}

/// The fields of `state.*`: the implicit `id` and `status`, then the declared ones.
fn state_root(agg: &Aggregate) -> Vec<(String, Type)> {
    let mut v = vec![
        ("id".to_owned(), agg.id.ty()),
        ("status".to_owned(), Type::Enum(agg.status_type.clone())),
    ];
    v.extend(field_types(&agg.fields));
    v
}

fn names_ok(name: &Loc<String>) -> bool {
    super::names::is_pascal(&name.value)
}
