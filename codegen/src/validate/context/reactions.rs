//! Validation of what a context's EventHandler sends besides read-model updates: public
//! (integration) events mapped from its domain events, and policies ("on event X, send
//! command C").

use super::super::evolution::MessageEvolution;
use super::super::names::{check_pascal, check_snake};
use super::super::{ExprSite, Validator, field_types, meta_fields, scope};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Aggregate, Context, DEFAULT_HOOK_TIMEOUT, Event, EventHook, Field, MessageName, Policy,
    PolicyAction, Publication, SagaCommand, SourceExpr, Type,
};
use crate::source::FileId;
use crate::syntax::context::{ContextFile, PolicyDef, PolicySendDef, PublicEventDef};
use crate::syntax::{Loc, NamedMap, Pos};
use std::rc::Rc;

impl Validator<'_> {
    /// The public events of `cf`, built over its (already validated) domain `events`.
    pub(super) fn public_events(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        aggregates: &[Aggregate],
        events: &[Event],
    ) -> Vec<Event> {
        let mut out = Vec::new();
        for (name, def) in cf.public_events.iter() {
            let named = self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "public event name"),
            );
            if let Some(e) = self.public_event(file, cf, name, def, aggregates, events)
                && named
            {
                out.push(e);
            }
        }
        out
    }

    fn public_event(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        name: &Loc<String>,
        def: &Loc<PublicEventDef>,
        aggregates: &[Aggregate],
        events: &[Event],
    ) -> Option<Event> {
        let ctx = cf.context.value.as_str();
        let fields = self.fields(file, ctx, &def.value.fields, "a public event", &[]);
        let versioning = self.versioning(
            file,
            MessageEvolution {
                what: format!("public event `{}`", name.value),
                version: def.value.version.as_ref(),
                upcast: &def.value.upcast,
                deprecated: def.value.deprecated.as_ref(),
                owner: def.value.owner.clone().or_else(|| cf.owner.clone()),
                pos: name.pos,
            },
            &fields,
        );
        let from = &def.value.from;
        let Some(source) = events.iter().find(|e| e.name == from.value) else {
            let help = suggest(&from.value, events.iter().map(|e| e.name.as_str()));
            let d = self.error_at(
                file,
                from,
                def.pos,
                format!(
                    "unknown event `{}` in context `{ctx}`: a public event is published for a domain event of its own context",
                    from.value
                ),
            );
            d.help = help;
            return None;
        };
        // The owner is unknown when no command emits the event (reported already).
        let agg = aggregates.iter().find(|a| a.name == source.aggregate)?;
        let values = self.mapped_values(
            file,
            MappedMessage {
                what: format!("public event `{}`", name.value),
                fields: &fields,
                with: &def.value.with,
                anchor: from,
                fallback: def.pos,
            },
            source,
            ctx,
            agg.id.ty(),
            ctx,
        )?;
        Some(Event {
            name: name.value.clone(),
            description: def.value.description.clone(),
            versioning,
            aggregate: source.aggregate.clone(),
            fields,
            changes: Vec::new(),
            status: None,
            is_rejection: false,
            public: Some(Publication {
                from: source.name.clone(),
                values,
            }),
        })
    }

    /// The policies of `cf`, over the events and commands of every context.
    pub(in crate::validate) fn policies(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        contexts: &[Context],
    ) -> Vec<Policy> {
        let mut out = Vec::new();
        for (name, def) in cf.policies.iter() {
            let named = self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "policy name"),
            );
            if let Some(p) = self.policy(file, cf, name, def, contexts)
                && named
            {
                out.push(p);
            }
        }
        self.hook_names_once(file, cf);
        out
    }

    /// Reports a hook name used twice in a context: every hook is one method of the hooks
    /// crate's `Hooks`, whether a rule or a policy names it.
    fn hook_names_once(&mut self, file: FileId, cf: &ContextFile) {
        let mut seen: Vec<(String, String)> = Vec::new();
        let rules = cf.commands.iter().flat_map(|(cmd, def)| {
            def.value.rules.iter().filter_map(move |r| {
                let hook = r.value.hook.as_ref()?;
                Some((
                    hook,
                    r.pos,
                    format!("rule `{}` of `{}`", r.value.name.value, cmd.value),
                ))
            })
        });
        let policies = cf.policies.iter().filter_map(|(name, def)| {
            let hook = def.value.hook.as_ref()?;
            Some((hook, def.pos, format!("policy `{}`", name.value)))
        });
        let all: Vec<_> = rules.chain(policies).collect();
        for (hook, pos, user) in all {
            match seen.iter().find(|(h, _)| *h == hook.value) {
                Some((_, first)) => {
                    let d = self.error_at(
                        file,
                        hook,
                        pos,
                        format!(
                            "hook `{}` of {user} is also the hook of {first}: each hook is one method of the context's hooks",
                            hook.value
                        ),
                    );
                    d.help = Some("give each rule and policy its own hook name".into());
                }
                None => seen.push((hook.value.clone(), user)),
            }
        }
    }

    fn policy(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        name: &Loc<String>,
        def: &Loc<PolicyDef>,
        contexts: &[Context],
    ) -> Option<Policy> {
        let ctx = cf.context.value.as_str();
        let (ev_ctx, event) = self.resolve_event(file, ctx, &def.value.on, contexts)?;
        let action = match (&def.value.send, &def.value.hook) {
            (Some(send), None) => {
                if let Some(t) = &def.value.timeout {
                    self.error_at(
                        file,
                        t,
                        def.pos,
                        format!(
                            "policy `{}` sends a command: `timeout` applies to a `hook` only",
                            name.value
                        ),
                    );
                    return None;
                }
                PolicyAction::Send(Box::new(
                    self.policy_command(file, ctx, send, &ev_ctx, event, contexts)?,
                ))
            }
            (None, Some(hook)) => {
                if !self.check_name(file, hook, def.pos, check_snake(&hook.value, "hook name")) {
                    return None;
                }
                let timeout = match &def.value.timeout {
                    Some(t) => self.duration(file, t, def.pos)?,
                    None => DEFAULT_HOOK_TIMEOUT,
                };
                PolicyAction::Hook(EventHook {
                    name: hook.value.clone(),
                    timeout,
                })
            }
            (Some(_), Some(hook)) => {
                self.error_at(
                    file,
                    hook,
                    def.pos,
                    format!(
                        "policy `{}` has both `send` and `hook`: a policy does one thing, declare two policies",
                        name.value
                    ),
                );
                return None;
            }
            (None, None) => {
                let d = self.error_at(
                    file,
                    name,
                    def.pos,
                    format!(
                        "policy `{}` needs `send` (a command) or `hook` (hand-written)",
                        name.value
                    ),
                );
                d.help = Some(
                    "write `send: { command: C, to: <expression> }` or `hook: method_name`".into(),
                );
                return None;
            }
        };
        Some(Policy {
            name: name.value.clone(),
            description: def.value.description.clone(),
            on: MessageName {
                context: ev_ctx,
                name: event.name.clone(),
            },
            action,
        })
    }

    /// The command a policy sends for `event` (of context `ev_ctx`).
    fn policy_command(
        &mut self,
        file: FileId,
        ctx: &str,
        send: &Loc<PolicySendDef>,
        ev_ctx: &str,
        event: &Event,
        contexts: &[Context],
    ) -> Option<SagaCommand> {
        let (cmd_ctx, cmd_name) = match send.value.command.value.split_once('.') {
            Some((c, n)) => (c, n),
            None => (ctx, send.value.command.value.as_str()),
        };
        let Some(target) = contexts.iter().find(|c| c.name == cmd_ctx) else {
            if self.unparsed(cmd_ctx) {
                return None;
            }
            let help = suggest(cmd_ctx, contexts.iter().map(|c| c.name.as_str()));
            let d = self.error_at(
                file,
                &send.value.command,
                send.pos,
                format!("unknown context `{cmd_ctx}`"),
            );
            d.help = help;
            return None;
        };
        let Some(cmd) = target.command(cmd_name) else {
            let help = suggest(cmd_name, target.commands.iter().map(|c| c.name.as_str()));
            let d = self.error_at(
                file,
                &send.value.command,
                send.pos,
                format!("context `{cmd_ctx}` has no command `{cmd_name}`"),
            );
            d.help = help;
            return None;
        };
        let agg = target.aggregate(&cmd.aggregate)?;
        let event_id = contexts
            .iter()
            .find(|c| c.name == ev_ctx)
            .and_then(|c| c.aggregate(&event.aggregate))
            .map(|a| a.id.ty())?;
        let types = Rc::clone(&self.types);
        let sc = event_scope(&types, event, event_id.clone(), ctx);
        let to = self.expr(
            ExprSite {
                file,
                loc: &send.value.to,
                fallback: send.pos,
            },
            &sc,
            Some(&agg.id.ty()),
        );
        let values = self.mapped_values(
            file,
            MappedMessage {
                what: format!("command `{}`", send.value.command.value),
                fields: &cmd.fields,
                with: &send.value.with,
                anchor: &send.value.command,
                fallback: send.pos,
            },
            event,
            ev_ctx,
            event_id,
            ctx,
        );
        Some(SagaCommand {
            command: MessageName {
                context: cmd_ctx.to_owned(),
                name: cmd.name.clone(),
            },
            to: to?,
            values: values?,
        })
    }

    /// A value for every field of a message built from an event: the `with` expression, else
    /// the event field of the same name.
    fn mapped_values(
        &mut self,
        file: FileId,
        m: MappedMessage<'_>,
        event: &Event,
        ev_ctx: &str,
        aggregate_id: Type,
        ctx: &str,
    ) -> Option<Vec<(String, SourceExpr)>> {
        for (key, _) in m.with.iter() {
            if !m.fields.iter().any(|f| f.name == key.value) {
                let help = suggest(&key.value, m.fields.iter().map(|f| f.name.as_str()));
                let d = self.error_at(
                    file,
                    key,
                    m.fallback,
                    format!("{} has no field `{}`", m.what, key.value),
                );
                d.help = help;
            }
        }
        let types = Rc::clone(&self.types);
        let sc = event_scope(&types, event, aggregate_id, ctx);
        let mut values = Vec::new();
        let mut ok = true;
        for f in m.fields {
            if let Some((key, expr)) = m.with.iter().find(|(k, _)| k.value == f.name) {
                match self.expr(
                    ExprSite {
                        file,
                        loc: expr,
                        fallback: key.pos,
                    },
                    &sc,
                    Some(&f.ty),
                ) {
                    Some(v) => values.push((f.name.clone(), v)),
                    None => ok = false,
                }
                continue;
            }
            let source = format!("event.{}", f.name);
            match crate::validate::expr_check::check(&source, &sc, Some(&f.ty)) {
                Ok(expr) => values.push((f.name.clone(), SourceExpr { source, expr })),
                Err(_) if self.types.broken_fields.contains(&f.name) => ok = false,
                Err(_) => {
                    let d = self.error_at(
                        file,
                        m.anchor,
                        m.fallback,
                        format!(
                            "field `{}` of {} has no value: event `{ev_ctx}.{}` has no field `{}` of type `{}`",
                            f.name, m.what, event.name, f.name, f.ty
                        ),
                    );
                    d.help = Some(format!(
                        "add `with: {{ {}: <expression over event.* and meta.*> }}`",
                        f.name
                    ));
                    ok = false;
                }
            }
        }
        ok.then_some(values)
    }
}

/// A message whose fields are filled from an event.
struct MappedMessage<'a> {
    /// How diagnostics name it.
    what: String,
    /// Its fields.
    fields: &'a [Field],
    /// The expressions written for some of them.
    with: &'a NamedMap<Loc<String>>,
    /// Where a missing value is reported.
    anchor: &'a Loc<String>,
    /// Position used when `anchor` has none.
    fallback: Pos,
}

/// What an expression over `event` (raised by an aggregate whose id has type `aggregate_id`)
/// may read, written in context `ctx`.
fn event_scope<'t>(
    types: &'t super::super::TypeTable,
    event: &Event,
    aggregate_id: Type,
    ctx: &'t str,
) -> super::super::expr_check::Scope<'t> {
    scope(
        types,
        ctx,
        vec![
            (Root::Event, field_types(&event.fields)),
            (Root::Meta, meta_fields(aggregate_id)),
        ],
        vec![
            (
                Root::Cmd,
                "this expression reads the event (`event.*`, `meta.*`)".into(),
            ),
            (
                Root::State,
                "policies and public events keep no state: they read the event (`event.*`, `meta.*`)"
                    .into(),
            ),
        ],
    )
}
