//! Validation of state changes: which aggregate owns each event, and the changes an event
//! applies to its aggregate (or a projection to a read-model document).

use super::{ChangeTarget, state_root};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{Aggregate, Change, ChangeOp, Command, Event, SourceExpr, Type};
use crate::source::FileId;
use crate::syntax::context::{ChangeSet, ContextFile};
use crate::syntax::{Loc, NamedMap, Pos};
use crate::validate::{ExprSite, Validator, field_types, meta_fields, scope};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

impl Validator<'_> {
    /// Finds the aggregate of every event and whether it is a rejection.
    pub(super) fn event_owners(
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

    pub(super) fn aggregate_changes(
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
    pub(in crate::validate) fn changes(
        &mut self,
        file: FileId,
        cs: &ChangeSet,
        to: ChangeTarget<'_>,
        scope: &crate::validate::expr_check::Scope<'_>,
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
            match crate::validate::expr_check::check(&source, scope, Some(&ty)) {
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
