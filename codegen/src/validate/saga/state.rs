//! Validation of one saga state: its command, timeout, retry policy, compensation and
//! transitions.

use super::event_scope;
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Context, Event, Field, MessageName, RetryPolicy, SagaCommand, SagaState, SourceExpr, Terminal,
    Transition, Type, VisitLimit,
};
use crate::source::FileId;
use crate::syntax::saga::{SendDef, StateDef, TransitionDef};
use crate::syntax::{Loc, Pos};
use crate::validate::{ExprSite, Validator, scope};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

impl Validator<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn state<'c>(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        def: &Loc<StateDef>,
        data_types: &[(String, Type)],
        data: &[Field],
        contexts: &'c [Context],
        states: &HashMap<String, Pos>,
        handled: &mut Vec<(MessageName, &'c Event, Pos)>,
    ) -> Option<SagaState> {
        let s = &def.value;
        let terminal = match &s.terminal {
            None => None,
            Some(t) if t.value == "completed" => Some(Terminal::Completed),
            Some(t) if t.value == "failed" => Some(Terminal::Failed),
            Some(t) => {
                self.error_at(
                    file,
                    t,
                    def.pos,
                    format!(
                        "`terminal: {}` is not valid: use `completed` or `failed`",
                        t.value
                    ),
                );
                None
            }
        };
        let is_terminal = s.terminal.is_some();
        if is_terminal {
            let stray: [(&str, bool); 5] = [
                ("on", !s.on.is_empty()),
                ("timeout", s.timeout.is_some()),
                ("retry", s.retry.is_some()),
                ("on_timeout", s.on_timeout.is_some()),
                ("compensate_with", s.compensate_with.is_some()),
            ];
            for (key, present) in stray {
                if present {
                    self.error_at(
                        file,
                        name,
                        Pos::default(),
                        format!("terminal state `{}` cannot have `{key}`", name.value),
                    );
                }
            }
        } else if s.on.is_empty() && s.on_timeout.is_none() {
            self.error_at(file, name, Pos::default(), format!("state `{}` has no way out: give it `on` events, an `on_timeout`, or make it `terminal`", name.value));
        }
        let timeout = s
            .timeout
            .as_ref()
            .and_then(|t| self.duration(file, t, def.pos));
        if s.on_timeout.is_some() && s.timeout.is_none() {
            self.error_at(
                file,
                name,
                Pos::default(),
                format!("state `{}` has `on_timeout` but no `timeout`", name.value),
            );
        }
        if s.timeout.is_some() && s.on_timeout.is_none() && !is_terminal {
            self.error_at(file, name, Pos::default(), format!("state `{}` has a `timeout` but no `on_timeout`: say where the saga goes when it expires", name.value));
        }
        let mut retry = RetryPolicy::default();
        if let Some(r) = &s.retry {
            if s.timeout.is_none() {
                self.error(
                    file,
                    r.pos,
                    name.pos,
                    format!(
                        "state `{}` has `retry` but no `timeout` to retry after",
                        name.value
                    ),
                );
            }
            if s.send.is_none() {
                self.error(
                    file,
                    r.pos,
                    name.pos,
                    format!(
                        "state `{}` has `retry` but sends no command to retry",
                        name.value
                    ),
                );
            }
            let rd = &r.value;
            if rd.max_attempts.value == 1 {
                let delays = [
                    rd.initial_delay.as_ref().map(|d| ("initial_delay", d.pos)),
                    rd.backoff.as_ref().map(|b| ("backoff", b.pos)),
                    rd.max_delay.as_ref().map(|d| ("max_delay", d.pos)),
                ];
                for (key, pos) in delays.into_iter().flatten() {
                    let key_pos = self.key_before(file, pos, key);
                    let d = self.diagnostics.push(
                        crate::diagnostic::Diagnostic::warning(
                            file,
                            if key_pos.is_known() { key_pos } else { r.pos },
                            format!("`{key}` has no effect: with `max_attempts: 1` the step is never retried"),
                        )
                        .with_len(key.len()),
                    );
                    d.help = Some("remove it, or allow more attempts".into());
                }
            }
            if rd.max_attempts.value == 0 {
                self.error(
                    file,
                    rd.max_attempts.pos,
                    r.pos,
                    "`max_attempts` counts the first attempt: it is at least 1",
                );
            }
            retry.max_attempts = rd.max_attempts.value.max(1);
            if let Some(d) = rd
                .initial_delay
                .as_ref()
                .and_then(|d| self.duration(file, d, r.pos))
            {
                retry.initial_delay = d;
            }
            if let Some(d) = rd
                .max_delay
                .as_ref()
                .and_then(|d| self.duration(file, d, r.pos))
            {
                retry.max_delay = d;
            }
            if let Some(b) = &rd.backoff {
                if !(1.0..=100.0).contains(&b.value) {
                    self.error(
                        file,
                        b.pos,
                        r.pos,
                        format!("`backoff: {}` must be between 1.0 and 100.0", b.value),
                    );
                } else {
                    retry.backoff = b.value;
                }
            }
            if retry.initial_delay > retry.max_delay {
                let pos = rd.max_delay.as_ref().map(|d| d.pos).unwrap_or(r.pos);
                self.error(
                    file,
                    pos,
                    r.pos,
                    "`max_delay` is shorter than `initial_delay`",
                );
            }
        }
        let send = s
            .send
            .as_ref()
            .and_then(|sd| self.send(file, sd, data_types, contexts));
        let compensation = s.compensate_with.as_ref().and_then(|sd| {
            let c = self.send(file, sd, data_types, contexts)?;
            if let Some(step) = &send
                && step.command.context != c.command.context
            {
                self.error_at(file, &sd.value.command, sd.pos, format!(
                    "the compensation `{}` is not a command of `{}`, the context of the step's command `{}`",
                    c.command, step.command.context, step.command
                ));
            }
            if s.send.is_none() {
                self.error_at(file, &sd.value.command, sd.pos, format!("state `{}` sends no command, so it has nothing to compensate", name.value));
            }
            Some(c)
        });
        let mut transitions = Vec::new();
        for (ev_name, t) in s.on.iter() {
            let Some((mn, ev)) = self.qualified_event(file, ev_name, def.pos, contexts) else {
                continue;
            };
            handled.push((mn.clone(), ev, ev_name.pos));
            let types = Rc::clone(&self.types);
            let sc = event_scope(&types, ev, &mn.context, contexts);
            if let Some(tr) = self.transition(file, &t.value.0, t.pos, Some(mn), &sc, data, states)
            {
                transitions.push(tr);
            }
        }
        let on_timeout = s.on_timeout.as_ref().and_then(|t| {
            let types = Rc::clone(&self.types);
            let sc = scope(
                &types,
                "",
                vec![],
                vec![(Root::Event, "a timeout has no event".into())],
            );
            if !t.value.0.capture.is_empty() {
                self.error(
                    file,
                    t.pos,
                    def.pos,
                    "a timeout has no event to capture data from",
                );
            }
            self.transition(file, &t.value.0, t.pos, None, &sc, data, states)
        });
        if let Some(c) = &s.compensate_on_timeout
            && s.compensate_with.is_none()
        {
            self.error(file, c.pos, name.pos, format!("state `{}` has `compensate_on_timeout` but no `compensate_with`: there is nothing to undo", name.value));
        }
        let compensate_on_timeout = s
            .compensate_on_timeout
            .as_ref()
            .map_or(s.compensate_with.is_some(), |c| c.value);
        let visits = self.visit_limit(file, name, s, data, states);
        Some(SagaState {
            name: name.value.clone(),
            description: s.description.clone(),
            terminal,
            send,
            timeout,
            retry,
            compensation,
            compensate_on_timeout,
            transitions,
            on_timeout,
            visits,
        })
    }

    /// `max_visits` and `on_exhausted`: both or neither, on a non-terminal state, leading
    /// elsewhere.
    fn visit_limit(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        s: &StateDef,
        data: &[Field],
        states: &HashMap<String, Pos>,
    ) -> Option<VisitLimit> {
        match (&s.max_visits, &s.on_exhausted) {
            (None, None) => None,
            (Some(m), None) => {
                self.error(file, m.pos, name.pos, format!("state `{}` has `max_visits` but no `on_exhausted`: say where the saga goes instead of one visit too many", name.value));
                None
            }
            (None, Some(o)) => {
                self.error(
                    file,
                    o.pos,
                    name.pos,
                    format!(
                        "state `{}` has `on_exhausted` but no `max_visits`",
                        name.value
                    ),
                );
                None
            }
            (Some(m), Some(o)) => {
                if s.terminal.is_some() {
                    self.error(
                        file,
                        m.pos,
                        name.pos,
                        format!(
                            "terminal state `{}` cannot have `max_visits`: it is entered once",
                            name.value
                        ),
                    );
                    return None;
                }
                if m.value == 0 {
                    self.error(file, m.pos, name.pos, "`max_visits` is at least 1");
                    return None;
                }
                if o.value.0.goto.value == name.value {
                    self.error_at(
                        file,
                        &o.value.0.goto,
                        name.pos,
                        format!("state `{}` cannot be its own `on_exhausted`", name.value),
                    );
                    return None;
                }
                if !o.value.0.capture.is_empty() {
                    self.error(
                        file,
                        o.pos,
                        name.pos,
                        "`on_exhausted` has no event to capture data from",
                    );
                    return None;
                }
                let types = Rc::clone(&self.types);
                let sc = scope(
                    &types,
                    "",
                    vec![],
                    vec![(Root::Event, "exhausting a state has no event".into())],
                );
                let t = self.transition(file, &o.value.0, o.pos, None, &sc, data, states)?;
                Some(VisitLimit {
                    max: m.value,
                    on_exhausted: t,
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        file: FileId,
        t: &TransitionDef,
        pos: Pos,
        event: Option<MessageName>,
        sc: &crate::validate::expr_check::Scope<'_>,
        data: &[Field],
        states: &HashMap<String, Pos>,
    ) -> Option<Transition> {
        let mut ok = true;
        if !states.contains_key(&t.goto.value) {
            let help = suggest(&t.goto.value, states.keys().map(String::as_str));
            let e = self.error_at(
                file,
                &t.goto,
                pos,
                format!("unknown state `{}`", t.goto.value),
            );
            e.help = help;
            ok = false;
        }
        let mut capture = Vec::new();
        for (key, expr) in t.capture.iter() {
            match data.iter().find(|f| f.name == key.value) {
                Some(f) => match self.expr(
                    ExprSite {
                        file,
                        loc: expr,
                        fallback: key.pos,
                    },
                    sc,
                    Some(&f.ty),
                ) {
                    Some(e) => capture.push((f.name.clone(), e)),
                    None => ok = false,
                },
                None => {
                    let help = suggest(&key.value, data.iter().map(|f| f.name.as_str()));
                    let e = self.error_at(
                        file,
                        key,
                        pos,
                        format!("`capture` sets `{}`, which is not a data field", key.value),
                    );
                    e.help = help;
                    ok = false;
                }
            }
        }
        ok.then(|| Transition {
            event,
            target: t.goto.value.clone(),
            compensate: t.compensate.value,
            capture,
        })
    }

    fn send(
        &mut self,
        file: FileId,
        sd: &Loc<SendDef>,
        data_types: &[(String, Type)],
        contexts: &[Context],
    ) -> Option<SagaCommand> {
        let s = &sd.value;
        let Some((ctx, cmd_name)) = s.command.value.split_once('.') else {
            self.error_at(
                file,
                &s.command,
                sd.pos,
                format!(
                    "sagas name commands with their context: `context.{}`",
                    s.command.value
                ),
            );
            return None;
        };
        let Some(context) = contexts.iter().find(|c| c.name == ctx) else {
            if self.unparsed(ctx) {
                return None;
            }
            let help = suggest(ctx, contexts.iter().map(|c| c.name.as_str()));
            let e = self.error_at(file, &s.command, sd.pos, format!("unknown context `{ctx}`"));
            e.help = help;
            return None;
        };
        let Some(cmd) = context.command(cmd_name) else {
            let help = suggest(cmd_name, context.commands.iter().map(|c| c.name.as_str()));
            let e = self.error_at(
                file,
                &s.command,
                sd.pos,
                format!("context `{ctx}` has no command `{cmd_name}`"),
            );
            e.help = help;
            return None;
        };
        let agg = context.aggregate(&cmd.aggregate)?;
        let types = Rc::clone(&self.types);
        let sc = scope(
            &types,
            "",
            vec![(Root::Data, data_types.to_vec())],
            vec![(
                Root::Event,
                "commands are built from the saga data (`data.*`)".into(),
            )],
        );
        let to = self.expr(
            ExprSite {
                file,
                loc: &s.to,
                fallback: sd.pos,
            },
            &sc,
            Some(&agg.id.ty()),
        );
        for (key, _) in s.with.iter() {
            if !cmd.fields.iter().any(|f| f.name == key.value) {
                let help = suggest(&key.value, cmd.fields.iter().map(|f| f.name.as_str()));
                let e = self.error_at(
                    file,
                    key,
                    sd.pos,
                    format!("command `{}` has no field `{}`", s.command.value, key.value),
                );
                e.help = help;
            }
        }
        let mut values = Vec::new();
        let mut ok = to.is_some();
        for f in &cmd.fields {
            let value = match s.with.iter().find(|(k, _)| k.value == f.name) {
                Some((k, expr)) => self.expr(
                    ExprSite {
                        file,
                        loc: expr,
                        fallback: k.pos,
                    },
                    &sc,
                    Some(&f.ty),
                ),
                None => {
                    let source = format!("data.{}", f.name);
                    match crate::validate::expr_check::check(&source, &sc, Some(&f.ty)) {
                        Ok(expr) => Some(SourceExpr { source, expr }),
                        Err(_) => {
                            let e = self.error_at(file, &s.command, sd.pos, format!(
                                "field `{}` of `{}` has no value: the saga has no data field `{}` of type `{}`",
                                f.name, s.command.value, f.name, f.ty
                            ));
                            e.help = Some(format!(
                                "add `with: {{ {}: <expression over data.*> }}`",
                                f.name
                            ));
                            None
                        }
                    }
                }
            };
            match value {
                Some(v) => values.push((f.name.clone(), v)),
                None => ok = false,
            }
        }
        ok.then(|| SagaCommand {
            command: MessageName {
                context: ctx.to_owned(),
                name: cmd.name.clone(),
            },
            to: to.expect("checked"),
            values,
        })
    }

    /// Parses a duration such as `30s`.
    pub(in crate::validate) fn duration(
        &mut self,
        file: FileId,
        d: &Loc<String>,
        fallback: Pos,
    ) -> Option<Duration> {
        match humantime::parse_duration(&d.value) {
            Ok(v) if v.is_zero() => {
                self.error_at(file, d, fallback, "a duration must be longer than zero");
                None
            }
            Ok(v) => Some(v),
            Err(e) => {
                self.error_at(
                    file,
                    d,
                    fallback,
                    format!(
                        "`{}` is not a duration ({e}); write e.g. `500ms`, `30s`, `5m`, `1h`",
                        d.value
                    ),
                );
                None
            }
        }
    }
}
