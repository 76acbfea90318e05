//! Validation of commands: routes, roles, rules and the events they emit.

use super::{CommandScope, METHODS};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Aggregate, Command, Emit, Event, IdType, Route, Rule, RuleCheck, SourceExpr, Type,
};
use crate::source::FileId;
use crate::syntax::context::{CommandDef, ContextFile, EmitDef};
use crate::syntax::{Loc, NamedMap, Pos};
use crate::validate::evolution::MessageEvolution;
use crate::validate::names::{check_pascal, check_snake};
use crate::validate::{ExprSite, Validator};
use std::collections::HashMap;
use std::rc::Rc;

impl Validator<'_> {
    pub(super) fn commands(
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
            if def.route.is_none()
                && let Some(first) = def.roles.first()
            {
                self.warn_at(
                    file,
                    first,
                    name.pos,
                    format!(
                        "`roles` has no effect: command `{}` has no `route`, so only sagas send it",
                        name.value
                    ),
                )
                .help = Some("remove `roles`, or give the command a `route`".into());
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
            let versioning = self.versioning(
                file,
                MessageEvolution {
                    what: format!("command `{}`", name.value),
                    version: def.version.as_ref(),
                    upcast: &def.upcast,
                    deprecated: def.deprecated.as_ref(),
                    owner: def.owner.clone().or_else(|| cf.owner.clone()),
                    pos: name.pos,
                },
                &fields,
            );
            if name_ok {
                out.push(Command {
                    name: name.value.clone(),
                    description: def.description.clone(),
                    versioning,
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
            match crate::validate::expr_check::check(&loc.value, &scope, Some(&f.ty)) {
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
}
