//! Validation of `sagas.yaml`.

mod graph;
mod state;

use super::names::check_pascal;
use super::{ExprSite, Validator, field_types, meta_fields, scope};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{Context, Event, Field, MessageName, Saga, SourceExpr, Type};
use crate::source::FileId;
use crate::syntax::saga::{SagaDef, SagasFile};
use crate::syntax::{Loc, Pos};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

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
        if let Some((start_name, _)) = &start {
            self.uninitialised_data(file, d, &data, &init, start_name);
        }
        self.compensate_without_compensations(file, name, d);
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
        // A transition into a context whose file did not parse is dropped without a report.
        let every_transition = states.iter().map(|s| s.transitions.len()).sum::<usize>()
            == d.states
                .iter()
                .map(|(_, s)| s.value.on.0.len())
                .sum::<usize>();
        if self.diagnostics.len() == problems_before && every_transition {
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

impl Validator<'_> {
    /// Reports every data field that nothing sets: neither `init`, the start event (a field of
    /// the same name) nor the `capture` of a transition. Such a field would silently be a zero
    /// value at run time; an `optional` one is `None` until set, which is meant.
    fn uninitialised_data(
        &mut self,
        file: FileId,
        d: &SagaDef,
        data: &[Field],
        init: &[(String, SourceExpr)],
        start: &MessageName,
    ) {
        let captured: HashSet<&str> = d
            .states
            .iter()
            .flat_map(|(_, s)| {
                s.value
                    .on
                    .iter()
                    .map(|(_, t)| &t.value.0)
                    .chain(s.value.on_timeout.as_ref().map(|t| &t.value.0))
            })
            .flat_map(|t| t.capture.iter().map(|(k, _)| k.value.as_str()))
            .collect();
        for (name, _) in d.data.iter() {
            let Some(field) = data.iter().find(|f| f.name == name.value) else {
                continue;
            };
            if field.may_be_missing()
                || init.iter().any(|(n, _)| *n == field.name)
                || d.init.iter().any(|(k, _)| k.value == field.name)
                || captured.contains(field.name.as_str())
            {
                continue;
            }
            self.error_at(
                file,
                name,
                Pos::default(),
                format!(
                    "saga data field `{}` is never set: neither `init`, the start event `{start}` nor a `capture` gives it a value",
                    name.value
                ),
            )
            .help = Some(format!(
                "set it in `init` (`init: {{ {0}: <expression over event.* or meta.*> }}`), capture it from an event (`capture: {{ {0}: event.<field> }}`), declare it `optional<{1}>`, or give it a `default`",
                name.value, field.ty
            ));
        }
    }
}

impl Validator<'_> {
    /// Warns about `compensate: true` in a saga none of whose steps has `compensate_with`:
    /// there is nothing to compensate, so the key has no effect.
    fn compensate_without_compensations(&mut self, file: FileId, name: &Loc<String>, d: &SagaDef) {
        if d.states
            .iter()
            .any(|(_, s)| s.value.compensate_with.is_some())
        {
            return;
        }
        let transitions: Vec<Loc<String>> = d
            .states
            .iter()
            .flat_map(|(_, s)| {
                s.value
                    .on
                    .iter()
                    .map(|(_, t)| &t.value.0)
                    .chain(s.value.on_timeout.as_ref().map(|t| &t.value.0))
            })
            .filter(|t| t.compensate.value)
            .map(|t| Loc::new("compensate".to_owned(), t.compensate.pos))
            .collect();
        for t in &transitions {
            let pos = self.key_before(file, t.pos, "compensate");
            self.warn_at(
                file,
                &Loc::new(t.value.clone(), pos),
                name.pos,
                format!(
                    "`compensate: true` has no effect: no step of saga `{}` declares `compensate_with`",
                    name.value
                ),
            )
            .help = Some("remove it, or give the steps to undo a `compensate_with` command".into());
        }
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
