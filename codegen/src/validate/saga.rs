//! Validation of `sagas.yaml`.

use super::names::check_pascal;
use super::{ExprSite, Validator, field_types, meta_fields, scope};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Context, Event, Field, MessageName, RetryPolicy, Saga, SagaCommand, SagaState, SourceExpr,
    Terminal, Transition, Type,
};
use crate::source::FileId;
use crate::syntax::saga::{SagaDef, SagasFile, SendDef, StateDef, TransitionDef};
use crate::syntax::{Loc, Pos};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

impl Validator<'_> {
    pub(super) fn sagas(&mut self, file: FileId, f: &SagasFile, contexts: &[Context]) -> Vec<Saga> {
        let mut out = Vec::new();
        for (name, def) in f.sagas.iter() {
            let ok = self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "saga name"),
            );
            if let Some(s) = self.saga(file, name, def, contexts)
                && ok
            {
                out.push(s);
            }
        }
        out
    }

    /// Resolves a qualified `context.Message` name to an event.
    fn qualified_event<'c>(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        fallback: Pos,
        contexts: &'c [Context],
    ) -> Option<(MessageName, &'c Event)> {
        if !name.value.contains('.') {
            let owners: Vec<String> = contexts
                .iter()
                .filter(|c| c.event(&name.value).is_some())
                .map(|c| format!("{}.{}", c.name, name.value))
                .collect();
            let d = self.error_at(
                file,
                name,
                fallback,
                format!(
                    "sagas name events with their context: `context.{}`",
                    name.value
                ),
            );
            if let Some(first) = owners.first() {
                d.help = Some(format!("did you mean `{first}`?"));
            }
            return None;
        }
        let named = Loc::new(
            name.value.clone(),
            if name.pos.is_known() {
                name.pos
            } else {
                fallback
            },
        );
        let (ctx, ev) = self.resolve_event(file, "", &named, contexts)?;
        Some((
            MessageName {
                context: ctx,
                name: ev.name.clone(),
            },
            ev,
        ))
    }

    fn saga(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        def: &Loc<SagaDef>,
        contexts: &[Context],
    ) -> Option<Saga> {
        let d = &def.value;
        let start = self.qualified_event(file, &d.start, def.pos, contexts);
        let problems_before = self.diagnostics.len();
        let data = self.fields(file, "", &d.data, "saga data", &[]);
        let data_types = field_types(&data);
        let corr_ty = match data.iter().find(|f| f.name == d.correlation.value) {
            Some(f) => Some(f.ty.clone()),
            None => {
                let help = suggest(&d.correlation.value, data.iter().map(|f| f.name.as_str()));
                let e = self.error_at(
                    file,
                    &d.correlation,
                    def.pos,
                    format!(
                        "the correlation field `{}` is not a data field",
                        d.correlation.value
                    ),
                );
                e.help = help;
                None
            }
        };
        let mut state_names: HashMap<String, Pos> = HashMap::new();
        for (s, _) in d.states.iter() {
            self.check_name(
                file,
                s,
                Pos::default(),
                check_pascal(&s.value, "state name"),
            );
            state_names.insert(s.value.clone(), s.pos);
        }
        if !state_names.contains_key(&d.initial.value) {
            let help = suggest(&d.initial.value, state_names.keys().map(String::as_str));
            let e = self.error_at(
                file,
                &d.initial,
                def.pos,
                format!(
                    "the initial state `{}` is not a state of `{}`",
                    d.initial.value, name.value
                ),
            );
            e.help = help;
        }
        // Initial data from the start event.
        let mut init = Vec::new();
        let mut handled: Vec<(MessageName, &Event, Pos)> = Vec::new();
        if let Some((start_name, start_ev)) = &start {
            let types = Rc::clone(&self.types);
            let sc = event_scope(&types, start_ev, &start_name.context, contexts);
            for (key, expr) in d.init.iter() {
                match data.iter().find(|f| f.name == key.value) {
                    Some(f) => {
                        if let Some(e) = self.expr(
                            ExprSite {
                                file,
                                loc: expr,
                                fallback: key.pos,
                            },
                            &sc,
                            Some(&f.ty),
                        ) {
                            init.push((f.name.clone(), e));
                        }
                    }
                    None => {
                        let help = suggest(&key.value, data.iter().map(|f| f.name.as_str()));
                        let e = self.error_at(
                            file,
                            key,
                            def.pos,
                            format!("`init` sets `{}`, which is not a data field", key.value),
                        );
                        e.help = help;
                    }
                }
            }
            for f in &data {
                if init.iter().any(|(n, _)| *n == f.name) {
                    continue;
                }
                if let Some(ef) = start_ev.fields.iter().find(|ef| ef.name == f.name)
                    && let Ok(expr) =
                        super::expr_check::check(&format!("event.{}", ef.name), &sc, Some(&f.ty))
                {
                    init.push((
                        f.name.clone(),
                        SourceExpr {
                            source: format!("event.{}", ef.name),
                            expr,
                        },
                    ));
                }
            }
            handled.push((start_name.clone(), start_ev, d.start.pos));
        }
        // States.
        let mut states = Vec::new();
        for (sname, sdef) in d.states.iter() {
            if let Some(s) = self.state(
                file,
                sname,
                sdef,
                &data_types,
                &data,
                contexts,
                &state_names,
                &mut handled,
            ) {
                states.push(s);
            }
        }
        // Correlation of every handled event.
        let mut correlate = Vec::new();
        if let Some(corr_ty) = &corr_ty {
            for (key, _) in d.correlate.iter() {
                if start.is_some() && !handled.iter().any(|(n, _, _)| n.to_string() == key.value) {
                    self.error_at(
                        file,
                        key,
                        def.pos,
                        format!(
                            "`correlate` names `{}`, which the saga does not handle",
                            key.value
                        ),
                    );
                }
            }
            let mut done = HashSet::new();
            for (ev_name, ev, pos) in &handled {
                if !done.insert(ev_name.clone()) {
                    continue;
                }
                let types = Rc::clone(&self.types);
                let sc = event_scope(&types, ev, &ev_name.context, contexts);
                let explicit = d
                    .correlate
                    .iter()
                    .find(|(k, _)| k.value == ev_name.to_string());
                let expr = match explicit {
                    Some((k, expr)) => self.expr(
                        ExprSite {
                            file,
                            loc: expr,
                            fallback: k.pos,
                        },
                        &sc,
                        Some(corr_ty),
                    ),
                    None => {
                        let source = format!("event.{}", d.correlation.value);
                        match super::expr_check::check(&source, &sc, Some(corr_ty)) {
                            Ok(expr) => Some(SourceExpr { source, expr }),
                            Err(_) => {
                                let e = self.error(file, *pos, def.pos, format!(
                                    "event `{ev_name}` has no field `{}` of type `{corr_ty}` to find its saga instance",
                                    d.correlation.value
                                ));
                                e.help = Some(format!(
                                    "add `correlate: {{ {ev_name}: <expression over event.* or meta.*> }}` to the saga"
                                ));
                                None
                            }
                        }
                    }
                };
                if let Some(e) = expr {
                    correlate.push((ev_name.clone(), e));
                }
            }
        }
        if self.diagnostics.len() == problems_before {
            // Reachability is only meaningful once every transition resolved.
            self.saga_graph(file, d, &states, &state_names);
        }
        let start = start?;
        corr_ty?;
        Some(Saga {
            name: name.value.clone(),
            description: d.description.clone(),
            start: start.0,
            correlation: d.correlation.value.clone(),
            data,
            init,
            correlate,
            initial: d.initial.value.clone(),
            states,
        })
    }
}

/// What an expression over an event of `ev_ctx` may read.
fn event_scope<'t>(
    types: &'t super::TypeTable,
    ev: &Event,
    ev_ctx: &str,
    contexts: &[Context],
) -> super::expr_check::Scope<'t> {
    let agg_id = contexts
        .iter()
        .find(|c| c.name == ev_ctx)
        .and_then(|c| c.aggregate(&ev.aggregate))
        .map(|a| a.id.ty());
    let unknown_owner = agg_id.is_none();
    let mut sc = scope(
        types,
        "",
        vec![
            (Root::Event, field_types(&ev.fields)),
            (Root::Meta, meta_fields(agg_id.unwrap_or(Type::String))),
        ],
        vec![(
            Root::Data,
            "this expression reads the event (`event.*`, `meta.*`)".into(),
        )],
    );
    if unknown_owner {
        // The event's aggregate is unknown because of a problem already reported.
        sc.roots.retain(|(r, _)| *r != Root::Meta);
        sc.roots.push((
            Root::Meta,
            meta_fields(Type::String)
                .into_iter()
                .filter(|(n, _)| n != "aggregate_id")
                .collect(),
        ));
        sc.silenced.push("aggregate_id".into());
    }
    sc
}

impl Validator<'_> {
    #[allow(clippy::too_many_arguments)]
    fn state<'c>(
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
        Some(SagaState {
            name: name.value.clone(),
            description: s.description.clone(),
            terminal,
            send,
            timeout,
            retry,
            compensation,
            transitions,
            on_timeout,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        file: FileId,
        t: &TransitionDef,
        pos: Pos,
        event: Option<MessageName>,
        sc: &super::expr_check::Scope<'_>,
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
            compensate: t.compensate,
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
                    match super::expr_check::check(&source, &sc, Some(&f.ty)) {
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
    pub(super) fn duration(
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

    /// Reports unreachable states and states from which no terminal state can be reached.
    fn saga_graph(
        &mut self,
        file: FileId,
        d: &SagaDef,
        states: &[SagaState],
        names: &HashMap<String, Pos>,
    ) {
        if states.len() != d.states.0.len() || !names.contains_key(&d.initial.value) {
            return;
        }
        let edges = |s: &SagaState| -> Vec<String> {
            s.transitions
                .iter()
                .chain(s.on_timeout.as_ref())
                .map(|t| t.target.clone())
                .collect()
        };
        let by_name: HashMap<&str, &SagaState> =
            states.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut reached = HashSet::new();
        let mut queue = VecDeque::from([d.initial.value.clone()]);
        while let Some(n) = queue.pop_front() {
            if reached.insert(n.clone())
                && let Some(s) = by_name.get(n.as_str())
            {
                queue.extend(edges(s));
            }
        }
        for (name, _) in d.states.iter() {
            if !reached.contains(&name.value) {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!(
                        "state `{}` is unreachable from the initial state `{}`",
                        name.value, d.initial.value
                    ),
                );
            }
        }
        // The runtime derives command ids from the state name and attempt, so an instance
        // must never enter a state twice: the state graph is acyclic.
        let mut on_cycle: Vec<&str> = Vec::new();
        for s in states {
            let mut seen = HashSet::new();
            let mut stack: Vec<String> = edges(s);
            while let Some(n) = stack.pop() {
                if n == s.name {
                    on_cycle.push(&s.name);
                    break;
                }
                if seen.insert(n.clone())
                    && let Some(next) = by_name.get(n.as_str())
                {
                    stack.extend(edges(next));
                }
            }
        }
        for (name, _) in d.states.iter() {
            if on_cycle.contains(&name.value.as_str()) {
                self.error_at(file, name, Pos::default(), format!(
                    "state `{}` can be entered again after it was left: saga states form no cycle (retries are declared with `retry`)",
                    name.value
                ));
            }
        }
        let mut can_end: HashSet<String> = states
            .iter()
            .filter(|s| s.terminal.is_some())
            .map(|s| s.name.clone())
            .collect();
        loop {
            let before = can_end.len();
            for s in states {
                if edges(s).iter().any(|t| can_end.contains(t)) {
                    can_end.insert(s.name.clone());
                }
            }
            if can_end.len() == before {
                break;
            }
        }
        for (name, _) in d.states.iter() {
            if reached.contains(&name.value) && !can_end.contains(&name.value) {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!(
                        "from state `{}` no terminal state can be reached",
                        name.value
                    ),
                );
            }
        }
    }
}
