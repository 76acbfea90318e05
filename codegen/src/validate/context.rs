//! Validation of context files: names, value types, aggregates, commands and events.

use super::names::{check_pascal, check_snake};
use super::{ExprSite, Symbols, Validator, field_types, meta_fields, scope};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Aggregate, Change, ChangeOp, Command, Context, Emit, Event, Field, IdType, Route, Rule,
    RuleCheck, SourceExpr, Type, TypeName, ValueKind, ValueType,
};
use crate::source::FileId;
use crate::syntax::context::{ChangeSet, CommandDef, ContextFile, EmitDef};
use crate::syntax::{Loc, NamedMap, Pos};
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
                        "`{}` is already declared as a {other} (line {line}); types, aggregates, commands, events and read models of a context share one namespace",
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
            events.push(Event {
                name: name.value.clone(),
                description: def.description.clone(),
                aggregate: String::new(),
                fields,
                changes: Vec::new(),
                status: None,
                is_rejection: false,
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
        Context {
            name: ctx,
            description: cf.description.clone(),
            source: self.sources.get(file).path.clone(),
            types,
            aggregates,
            commands,
            events,
            read_models: Vec::new(),
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

    fn commands(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        aggregates: &[Aggregate],
        events: &[Event],
    ) -> Vec<Command> {
        let ctx = &cf.context.value;
        let mut out = Vec::new();
        let mut routes: HashMap<(String, String), String> = HashMap::new();
        for (name, def) in cf.commands.iter() {
            let name_ok = self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "command name"),
            );
            let Some(agg) = aggregates.iter().find(|a| a.name == def.aggregate.value) else {
                let help = suggest(
                    &def.aggregate.value,
                    aggregates.iter().map(|a| a.name.as_str()),
                );
                let d = self.error_at(
                    file,
                    &def.aggregate,
                    name.pos,
                    format!("unknown aggregate `{}`", def.aggregate.value),
                );
                d.help = help;
                continue;
            };
            let fields = self.fields(file, ctx, &def.fields, "a command", &[]);
            let route = def
                .route
                .as_ref()
                .and_then(|r| self.route(file, r, name, def, agg, &mut routes));
            if route.is_some() && def.roles.is_empty() {
                self.error(
                    file,
                    name.pos,
                    Pos::default(),
                    format!(
                        "command `{}` has a route but no `roles`: say who may send it",
                        name.value
                    ),
                );
            }
            for role in &def.roles {
                self.check_name(file, role, name.pos, check_snake(&role.value, "role"));
            }
            if def.creates && !def.allowed_in.is_empty() {
                self.error_at(file, &def.allowed_in[0], name.pos, "a command that creates its aggregate has no status to be allowed in: remove `allowed_in`");
            }
            for s in &def.allowed_in {
                if !agg.statuses.contains(&s.value) {
                    let help = suggest(&s.value, agg.statuses.iter().map(String::as_str));
                    let d = self.error_at(
                        file,
                        s,
                        name.pos,
                        format!("aggregate `{}` has no status `{}`", agg.name, s.value),
                    );
                    d.help = help;
                }
            }
            let cmd_scope = CommandScope {
                ctx,
                agg,
                fields: &fields,
                creates: def.creates,
                command: &name.value,
            };
            let on_wrong_status = match &def.on_wrong_status {
                Some(ev) if def.allowed_in.is_empty() => {
                    self.error_at(file, ev, name.pos, "`on_wrong_status` needs `allowed_in`");
                    None
                }
                Some(ev) => {
                    let emit = EmitDef {
                        event: ev.clone(),
                        with: NamedMap::default(),
                    };
                    self.emit(file, &emit, name.pos, &cmd_scope, events)
                }
                None => None,
            };
            let mut rules = Vec::new();
            for rule in &def.rules {
                if let Some(r) = self.rule(file, rule, &cmd_scope, events) {
                    rules.push(r);
                }
            }
            self.unique(file, "rule", def.rules.iter().map(|r| &r.value.name));
            if def.emits.value.is_empty() {
                self.error(
                    file,
                    def.emits.pos,
                    name.pos,
                    format!("command `{}` must emit at least one event", name.value),
                );
            }
            let mut emits = Vec::new();
            for e in &def.emits.value {
                if let Some(emit) = self.emit(file, &e.value, e.pos, &cmd_scope, events) {
                    emits.push(emit);
                }
            }
            if name_ok {
                out.push(Command {
                    name: name.value.clone(),
                    description: def.description.clone(),
                    aggregate: agg.name.clone(),
                    creates: def.creates,
                    route,
                    roles: def.roles.iter().map(|r| r.value.clone()).collect(),
                    allowed_in: def.allowed_in.iter().map(|s| s.value.clone()).collect(),
                    on_wrong_status,
                    fields,
                    rules,
                    emits,
                });
            }
        }
        out
    }

    fn route(
        &mut self,
        file: FileId,
        r: &Loc<String>,
        name: &Loc<String>,
        def: &CommandDef,
        agg: &Aggregate,
        routes: &mut HashMap<(String, String), String>,
    ) -> Option<Route> {
        let parts: Vec<&str> = r.value.split_whitespace().collect();
        let [method, path] = parts.as_slice() else {
            self.error_at(
                file,
                r,
                name.pos,
                "a route is `METHOD /path`, e.g. `POST /orders/{id}/cancel`",
            );
            return None;
        };
        if !METHODS.contains(method) {
            self.error_at(
                file,
                r,
                name.pos,
                format!(
                    "method `{method}` is not allowed for commands: use POST, PUT, PATCH or DELETE"
                ),
            );
            return None;
        }
        let segments_ok = path.starts_with('/')
            && path[1..].split('/').all(|seg| {
                seg == "{id}"
                    || (!seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            });
        if !segments_ok || path.matches("{id}").count() > 1 {
            self.error_at(file, r, name.pos, format!("path `{path}` is not valid: it starts with `/`, its segments are letters, digits, `-`, `_`, and `{{id}}` may appear once"));
            return None;
        }
        let route = Route {
            method: (*method).to_owned(),
            path: (*path).to_owned(),
        };
        let client_chooses_id = agg.id != IdType::Uuid;
        if def.creates && !client_chooses_id && route.has_id() {
            self.error_at(file, r, name.pos, format!("`{}` creates a `{}` whose uuid id the Command API generates: remove `{{id}}` from the path", name.value, agg.name));
        } else if (!def.creates || client_chooses_id) && !route.has_id() {
            self.error_at(
                file,
                r,
                name.pos,
                format!(
                    "the path of `{}` needs `{{id}}`: it names the `{}` the command targets",
                    name.value, agg.name
                ),
            );
        }
        let key = (route.method.clone(), route.path.clone());
        if let Some(other) = routes.get(&key) {
            let msg = format!("route `{}` is already used by command `{other}`", r.value);
            self.error_at(file, r, name.pos, msg);
        } else {
            routes.insert(key, name.value.clone());
        }
        Some(route)
    }

    fn rule(
        &mut self,
        file: FileId,
        rule: &Loc<crate::syntax::context::RuleDef>,
        cs: &CommandScope<'_>,
        events: &[Event],
    ) -> Option<Rule> {
        let r = &rule.value;
        self.check_name(
            file,
            &r.name,
            rule.pos,
            check_snake(&r.name.value, "rule name"),
        );
        let check = match (&r.check, &r.hook) {
            (Some(check), None) => {
                let types = Rc::clone(&self.types);
                let scope = cs.scope(&types);
                let site = ExprSite {
                    file,
                    loc: check,
                    fallback: rule.pos,
                };
                RuleCheck::Expr(self.expr(site, &scope, Some(&Type::Bool))?)
            }
            (None, Some(hook)) => {
                if !self.check_name(file, hook, rule.pos, check_snake(&hook.value, "hook name")) {
                    return None;
                }
                RuleCheck::Hook(hook.value.clone())
            }
            (Some(_), Some(hook)) => {
                self.error_at(
                    file,
                    hook,
                    rule.pos,
                    format!(
                        "rule `{}` has both `check` and `hook`: choose one",
                        r.name.value
                    ),
                );
                return None;
            }
            (None, None) => {
                self.error_at(
                    file,
                    &r.name,
                    rule.pos,
                    format!(
                        "rule `{}` needs `check` (an expression) or `hook` (hand-written)",
                        r.name.value
                    ),
                );
                return None;
            }
        };
        let reject = match &r.reject {
            Some(e) => Some(self.emit(file, &e.value, e.pos, cs, events)?),
            None => None,
        };
        Some(Rule {
            name: r.name.value.clone(),
            description: r.description.clone(),
            message: r
                .message
                .clone()
                .unwrap_or_else(|| format!("rule `{}` failed", r.name.value)),
            check,
            reject,
        })
    }

    /// Resolves an emitted event and a value for each of its fields.
    fn emit(
        &mut self,
        file: FileId,
        def: &EmitDef,
        fallback: Pos,
        cs: &CommandScope<'_>,
        events: &[Event],
    ) -> Option<Emit> {
        let Some(event) = events.iter().find(|e| e.name == def.event.value) else {
            let help = suggest(&def.event.value, events.iter().map(|e| e.name.as_str()));
            let d = self.error_at(
                file,
                &def.event,
                fallback,
                format!(
                    "unknown event `{}` in context `{}`",
                    def.event.value, cs.ctx
                ),
            );
            d.help = help;
            return None;
        };
        for (key, _) in def.with.iter() {
            if !event.fields.iter().any(|f| f.name == key.value) {
                let help = suggest(&key.value, event.fields.iter().map(|f| f.name.as_str()));
                let d = self.error_at(
                    file,
                    key,
                    fallback,
                    format!("event `{}` has no field `{}`", event.name, key.value),
                );
                d.help = help;
            }
        }
        let types = Rc::clone(&self.types);
        let scope = cs.scope(&types);
        let mut values = Vec::new();
        let mut ok = true;
        for f in &event.fields {
            if let Some((_, expr)) = def.with.iter().find(|(k, _)| k.value == f.name) {
                match self.expr(
                    ExprSite {
                        file,
                        loc: expr,
                        fallback,
                    },
                    &scope,
                    Some(&f.ty),
                ) {
                    Some(e) => values.push((f.name.clone(), e)),
                    None => ok = false,
                }
                continue;
            }
            let by_name = [(
                Root::Cmd,
                cs.fields
                    .iter()
                    .map(|f| (f.name.clone(), f.ty.clone()))
                    .collect::<Vec<_>>(),
            )]
            .into_iter()
            .chain((!cs.creates).then(|| (Root::State, cs.state_fields())))
            .find_map(|(root, fields)| {
                fields
                    .into_iter()
                    .find(|(n, _)| *n == f.name)
                    .map(|(n, _)| format!("{}.{n}", root.name()))
            });
            if by_name.is_none() && self.types.broken_fields.contains(&f.name) {
                ok = false;
                continue;
            }
            let Some(source) = by_name else {
                let d = self.error(
                    file,
                    def.event.pos,
                    fallback,
                    format!(
                        "field `{}` of event `{}` has no value: `{}` has no {}field of that name",
                        f.name,
                        event.name,
                        cs.command,
                        if cs.creates { "" } else { "command or state " }
                    ),
                );
                d.help = Some(format!("add `with: {{ {}: <expression> }}`", f.name));
                d.len = def.event.value.len();
                ok = false;
                continue;
            };
            let loc = Loc::new(source, Pos::default());
            let pos = if def.event.pos.is_known() {
                def.event.pos
            } else {
                fallback
            };
            match super::expr_check::check(&loc.value, &scope, Some(&f.ty)) {
                Ok(expr) => values.push((
                    f.name.clone(),
                    SourceExpr {
                        source: loc.value.clone(),
                        expr,
                    },
                )),
                Err(e) => {
                    let d = self.error(
                        file,
                        pos,
                        fallback,
                        format!(
                            "field `{}` of event `{}` is taken from `{}`: {}",
                            f.name, event.name, loc.value, e.message
                        ),
                    );
                    d.len = def.event.value.len();
                    ok = false;
                }
            }
        }
        ok.then(|| Emit {
            event: event.name.clone(),
            values,
        })
    }

    /// Finds the aggregate of every event and whether it is a rejection.
    fn event_owners(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        commands: &[Command],
        events: &mut [Event],
    ) {
        // Owners come from what the commands name, even when a command has other problems,
        // so that one mistake does not also make its events look unused.
        let mut success: HashSet<String> = HashSet::new();
        let mut rejection: HashSet<String> = HashSet::new();
        let mut owners: HashMap<String, HashSet<String>> = HashMap::new();
        for (_, def) in cf.commands.iter() {
            let agg = def.aggregate.value.clone();
            let known = commands.iter().any(|c| c.aggregate == agg);
            let rejects = def
                .rules
                .iter()
                .filter_map(|r| r.value.reject.as_ref().map(|e| e.value.event.value.clone()))
                .chain(def.on_wrong_status.as_ref().map(|e| e.value.clone()));
            for e in rejects {
                rejection.insert(e.clone());
                owners
                    .entry(e)
                    .or_default()
                    .extend(known.then(|| agg.clone()));
            }
            for e in &def.emits.value {
                success.insert(e.value.event.value.clone());
                owners
                    .entry(e.value.event.value.clone())
                    .or_default()
                    .extend(known.then(|| agg.clone()));
            }
        }
        // A misspelt event name is reported where it is used; the event it meant to name
        // then looks unused, which is not reported again.
        let unresolved = owners
            .keys()
            .any(|e| !events.iter().any(|ev| ev.name == *e));
        for (name, _) in cf.events.iter() {
            let Some(event) = events.iter_mut().find(|e| e.name == name.value) else {
                continue;
            };
            match owners.get(&event.name) {
                None if unresolved => {}
                None => {
                    self.error_at(
                        file,
                        name,
                        Pos::default(),
                        format!(
                            "event `{}` is never emitted: no command emits or rejects with it",
                            name.value
                        ),
                    );
                }
                Some(aggs) if aggs.is_empty() => {}
                Some(aggs) if aggs.len() > 1 => {
                    let mut list: Vec<&String> = aggs.iter().collect();
                    list.sort();
                    let list = list
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.error_at(file, name, Pos::default(), format!("event `{}` is emitted for several aggregates ({list}): an event belongs to one aggregate", name.value));
                }
                Some(aggs) => {
                    event.aggregate = aggs.iter().next().cloned().unwrap_or_default();
                    if success.contains(&event.name) && rejection.contains(&event.name) {
                        self.error_at(file, name, Pos::default(), format!("event `{}` is emitted both on success and as a rejection: use two events", name.value));
                    }
                    event.is_rejection = rejection.contains(&event.name);
                }
            }
        }
    }

    fn aggregate_changes(
        &mut self,
        file: FileId,
        ctx: &str,
        agg: &Aggregate,
        event: &Event,
        apply: &Loc<ChangeSet>,
        fallback: Pos,
    ) -> (Vec<Change>, Option<String>) {
        let cs = &apply.value;
        if let Some(key) = &cs.key {
            self.error_at(
                file,
                key,
                apply.pos,
                "`key` applies to read-model projections, not to an event's `apply`",
            );
        }
        if let Some(c) = &cs.creates {
            self.error(
                file,
                c.pos,
                apply.pos,
                "`creates` applies to read-model projections, not to an event's `apply`",
            );
        }
        let target = field_types(&agg.fields);
        let state = state_root(agg);
        let types = Rc::clone(&self.types);
        let scope = scope(
            &types,
            ctx,
            vec![
                (Root::Event, field_types(&event.fields)),
                (Root::State, state),
                (Root::Meta, meta_fields(agg.id.ty())),
            ],
            vec![(
                Root::Cmd,
                "an event's changes read the event, not the command".into(),
            )],
        );
        let changes = self.changes(
            file,
            cs,
            ChangeTarget {
                fields: &target,
                event_fields: &event.fields,
                what: "state",
            },
            &scope,
            if apply.pos.is_known() {
                apply.pos
            } else {
                fallback
            },
        );
        let status = cs.status.as_ref().and_then(|s| {
            if agg.statuses.contains(&s.value) {
                Some(s.value.clone())
            } else {
                let help = suggest(&s.value, agg.statuses.iter().map(String::as_str));
                let d = self.error_at(
                    file,
                    s,
                    apply.pos,
                    format!("aggregate `{}` has no status `{}`", agg.name, s.value),
                );
                d.help = help;
                None
            }
        });
        (changes, status)
    }

    /// The type of the changed field `name`, or a diagnostic (none when the field's own type
    /// failed to resolve, which was reported already).
    fn target_field(
        &mut self,
        file: FileId,
        target: &[(String, Type)],
        name: &Loc<String>,
        fallback: Pos,
        missing: &str,
    ) -> Option<Type> {
        if let Some((_, ty)) = target.iter().find(|(n, _)| *n == name.value) {
            return Some(ty.clone());
        }
        if !self.types.broken_fields.contains(&name.value) {
            let help = suggest(&name.value, target.iter().map(|(n, _)| n.as_str()));
            self.error_at(file, name, fallback, missing).help = help;
        }
        None
    }

    /// Validates copy/set/increment/decrement/add/remove against target fields.
    pub(super) fn changes(
        &mut self,
        file: FileId,
        cs: &ChangeSet,
        to: ChangeTarget<'_>,
        scope: &super::expr_check::Scope<'_>,
        fallback: Pos,
    ) -> Vec<Change> {
        let ChangeTarget {
            fields: target,
            event_fields,
            what,
        } = to;
        let mut out = Vec::new();
        for name in &cs.copy {
            let Some(ty) = self.target_field(
                file,
                target,
                name,
                fallback,
                &format!("the {what} has no field `{}` to copy into", name.value),
            ) else {
                continue;
            };
            let Some(ef) = event_fields.iter().find(|f| f.name == name.value) else {
                self.error_at(
                    file,
                    name,
                    fallback,
                    format!("the event has no field `{}` to copy", name.value),
                );
                continue;
            };
            let source = format!("event.{}", name.value);
            match super::expr_check::check(&source, scope, Some(&ty)) {
                Ok(expr) => out.push(Change {
                    field: name.value.clone(),
                    op: ChangeOp::Set,
                    value: SourceExpr { source, expr },
                }),
                Err(_) => {
                    self.error_at(
                        file,
                        name,
                        fallback,
                        format!(
                            "cannot copy `{}`: the event's field is a `{}`, the {what}'s a `{ty}`",
                            name.value, ef.ty
                        ),
                    );
                }
            }
        }
        let groups: [(&NamedMap<Loc<String>>, ChangeOp); 5] = [
            (&cs.set, ChangeOp::Set),
            (&cs.increment, ChangeOp::Increment),
            (&cs.decrement, ChangeOp::Decrement),
            (&cs.add, ChangeOp::Add),
            (&cs.remove, ChangeOp::Remove),
        ];
        for (map, op) in groups {
            for (name, value) in map.iter() {
                let Some(ty) = self.target_field(
                    file,
                    target,
                    name,
                    fallback,
                    &format!("the {what} has no field `{}`", name.value),
                ) else {
                    continue;
                };
                let operand = match op {
                    ChangeOp::Set => Some(ty.clone()),
                    ChangeOp::Increment | ChangeOp::Decrement => {
                        ty.is_integer().then(|| ty.clone())
                    }
                    ChangeOp::Add | ChangeOp::Remove => ty.list_item().cloned(),
                };
                let Some(operand) = operand else {
                    let (verb, needs) = match op {
                        ChangeOp::Increment => ("increment", "a number"),
                        ChangeOp::Decrement => ("decrement", "a number"),
                        ChangeOp::Add => ("add to", "a list"),
                        _ => ("remove from", "a list"),
                    };
                    self.error_at(
                        file,
                        name,
                        fallback,
                        format!(
                            "cannot {verb} `{}`: it is a `{ty}`, not {needs}",
                            name.value
                        ),
                    );
                    continue;
                };
                if let Some(e) = self.expr(
                    ExprSite {
                        file,
                        loc: value,
                        fallback,
                    },
                    scope,
                    Some(&operand),
                ) {
                    out.push(Change {
                        field: name.value.clone(),
                        op,
                        value: e,
                    });
                }
            }
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

    fn scope<'t>(&'t self, types: &'t super::TypeTable) -> super::expr_check::Scope<'t> {
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
