//! Value types (records and enums, aggregate statuses included): a change to one is judged
//! wherever the type is used — in messages (`wire`), aggregate state (`storage`), saga data
//! (`saga`) and documents (`read-model`) — by the rules of each place. Records nested in a
//! message never deny unknown keys; an enum value is its snake_case variant name, and an
//! unknown name does not decode anywhere.

use super::fields::{self, Change};
use super::impact::Impact;
use super::read_model::document_field;
use super::saga::saga_data;
use super::storage::Stored;
use super::wire::{Site, push_field};
use super::{Cx, Draft, Kind, Side, Verdict, quoted};
use crate::model::{MessageName, Model, TypeName, ValueKind};

/// Where a value type is used, in either model.
#[derive(Default)]
struct Places {
    commands: Vec<MessageName>,
    events: Vec<MessageName>,
    /// `(context, aggregate, is its status type)`.
    aggregates: Vec<(String, String, bool)>,
    sagas: Vec<String>,
    /// `(context, read model)`.
    read_models: Vec<(String, String)>,
}

impl Places {
    fn add(&mut self, model: &Model, ty: &TypeName) {
        fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
            if !v.contains(&x) {
                v.push(x);
            }
        }
        for ctx in &model.contexts {
            let name = |n: &str| MessageName {
                context: ctx.name.clone(),
                name: n.to_owned(),
            };
            for c in &ctx.commands {
                if fields::fields_use(model, &c.fields, ty) {
                    push(&mut self.commands, name(&c.name));
                }
            }
            for e in &ctx.events {
                if fields::fields_use(model, &e.fields, ty) {
                    push(&mut self.events, name(&e.name));
                }
            }
            for a in &ctx.aggregates {
                let status = &a.status_type == ty;
                if status || fields::fields_use(model, &a.fields, ty) {
                    push(
                        &mut self.aggregates,
                        (ctx.name.clone(), a.name.clone(), status),
                    );
                }
            }
            for rm in &ctx.read_models {
                if fields::fields_use(model, &rm.fields, ty) {
                    push(&mut self.read_models, (ctx.name.clone(), rm.name.clone()));
                }
            }
        }
        for s in &model.sagas {
            if fields::fields_use(model, &s.data, ty) {
                push(&mut self.sagas, s.name.clone());
            }
        }
    }

    fn impact(&self, cx: &Cx<'_>) -> Impact {
        let mut i = Impact::default();
        for m in [cx.before, cx.after] {
            for c in &self.commands {
                i.merge(Impact::command(m, c));
            }
            for e in &self.events {
                i.merge(Impact::event(m, e));
            }
        }
        i
    }

    /// The wire site of a record or enum carried by these messages.
    fn wire_site(&self, cx: &Cx<'_>, what: &str) -> Site {
        let mut readers = Impact::default();
        for m in [cx.before, cx.after] {
            for c in &self.commands {
                readers.merge(Impact::aggregate(m, &c.context));
            }
            for e in &self.events {
                readers.merge(Impact::event_consumers(m, e));
            }
        }
        let carried: Vec<String> = self
            .commands
            .iter()
            .chain(&self.events)
            .map(ToString::to_string)
            .collect();
        Site {
            what: format!("{what} (carried by {})", quoted(&carried)),
            deny_unknown: false,
            readers_first: format!(
                "deploy the processes that decode it ({}) before the others",
                quoted(&readers.processes)
            ),
            unread: readers.processes.is_empty(),
            impact: self.impact(cx),
        }
    }
}

/// Compares every value type both catalogs declare.
pub(super) fn compare(cx: &mut Cx<'_>) {
    for ctx in &cx.after.contexts {
        for t in &ctx.types {
            let name = TypeName {
                context: ctx.name.clone(),
                name: t.name.clone(),
            };
            let Some(old) = cx.before.value_type(&name) else {
                continue;
            };
            let mut places = Places::default();
            places.add(cx.before, &name);
            places.add(cx.after, &name);
            match (&old.kind, &t.kind) {
                (ValueKind::Record(o), ValueKind::Record(n)) => {
                    for change in fields::changes(o, n) {
                        record_field(cx, &name, &places, &change);
                    }
                }
                (ValueKind::Enum(o), ValueKind::Enum(n)) => {
                    for v in o.iter().filter(|v| !n.contains(v)) {
                        variant(cx, &name, &places, v, false);
                    }
                    for v in n.iter().filter(|v| !o.contains(v)) {
                        variant(cx, &name, &places, v, true);
                    }
                }
                _ => {}
            }
        }
    }
}

fn record_field(cx: &mut Cx<'_>, ty: &TypeName, places: &Places, change: &Change<'_>) {
    let subject = format!("{ty}.{}", change.name());
    let at = format!("{}.types.{}.fields.{}", ty.context, ty.name, change.name());
    let what = format!("record `{ty}`");
    if !places.commands.is_empty() || !places.events.is_empty() {
        let draft = places.wire_site(cx, &what).field(change, subject.clone());
        push_field(cx, draft, change, &at);
    }
    for (c, a, _) in places.aggregates.iter().filter(|(.., status)| !status) {
        let mut site = Stored::snapshot(c, a);
        site.what = format!("{what} (held in the state of `{c}.{a}`)");
        let draft = site
            .field(change, subject.clone())
            .impact(Impact::aggregate(cx.after, c).and(Impact::aggregate(cx.before, c)));
        push_field(cx, draft, change, &at);
    }
    for s in &places.sagas {
        let (mut site, impact) = saga_data(cx, s);
        site.what = format!("{what} (held in the data of saga `{s}`)");
        let draft = site.field(change, subject.clone()).impact(impact);
        push_field(cx, draft, change, &at);
    }
    if !places.read_models.is_empty() {
        let names: Vec<String> = places
            .read_models
            .iter()
            .map(|(c, r)| format!("{c}.{r}"))
            .collect();
        let what = format!("{what} (held in read models {})", quoted(&names));
        let mut impact = Impact::default();
        for (c, _) in &places.read_models {
            impact.merge(Impact::read_models(cx.after, c));
        }
        let draft = document_field(change, &what, &quoted(&names), subject).impact(impact);
        push_field(cx, draft, change, &at);
    }
}

fn variant(cx: &mut Cx<'_>, ty: &TypeName, places: &Places, v: &str, added: bool) {
    let subject = format!("{ty}.{v}");
    let side = if added { Side::After } else { Side::Before };
    let change = if added { "gained" } else { "lost" };
    let message = format!("enum `{ty}` {change} the variant `{v}`");
    let at = format!("{}.types.{}.variants.{v}", ty.context, ty.name);
    if !places.commands.is_empty() || !places.events.is_empty() {
        let site = places.wire_site(cx, "");
        let (kind, verdict, reason) = if site.unread {
            let kind = if added {
                Kind::WireVariantAdded
            } else {
                Kind::WireVariantRemoved
            };
            (
                kind,
                Verdict::Compatible,
                "no generated process consumes these messages".to_owned(),
            )
        } else if added {
            (
                Kind::WireVariantAdded,
                Verdict::Migration,
                format!("readers of the old catalog cannot decode a message holding `{v}`"),
            )
        } else {
            (
                Kind::WireVariantRemoved,
                Verdict::Breaking,
                format!(
                    "messages written before the deploy may hold `{v}`, which no longer decodes, so they are dead-lettered"
                ),
            )
        };
        let mut draft = Draft::new(kind, verdict, subject.clone(), message.clone(), reason)
            .impact(site.impact.clone());
        if verdict == Verdict::Migration {
            draft = draft.step(site.readers_first);
        }
        cx.push(draft, &[(side, &at)]);
    }
    for (c, a, status) in &places.aggregates {
        let site = Stored::snapshot(c, a);
        let (kind, what, at) = if *status {
            let kind = if added {
                Kind::StorageStatusAdded
            } else {
                Kind::StorageStatusRemoved
            };
            (
                kind,
                format!("in status `{v}`"),
                format!("{c}.aggregates.{a}.statuses.{v}"),
            )
        } else {
            let kind = if added {
                Kind::StorageVariantAdded
            } else {
                Kind::StorageVariantRemoved
            };
            (kind, format!("holding `{v}`"), at.clone())
        };
        let (subject, message) = if *status {
            let change = if added { "gained" } else { "lost" };
            (
                format!("{c}.{a}.status.{v}"),
                format!("aggregate `{c}.{a}` {change} the status `{v}`"),
            )
        } else {
            (subject.clone(), message.clone())
        };
        let mut draft = if added {
            Draft::new(
                kind,
                Verdict::Migration,
                subject,
                message,
                format!("a replica of the old catalog cannot load a snapshot {what}"),
            )
            .step(site.replace_step())
        } else {
            Draft::new(
                kind,
                Verdict::Breaking,
                subject,
                message,
                format!("snapshots {what} no longer load, so {}", site.failure),
            )
        };
        draft = draft.impact(Impact::aggregate(cx.after, c).and(Impact::aggregate(cx.before, c)));
        cx.push(draft, &[(side, &at)]);
    }
    for s in &places.sagas {
        let (site, impact) = saga_data(cx, s);
        let draft = if added {
            Draft::new(
                Kind::SagaVariantAdded,
                Verdict::Migration,
                subject.clone(),
                message.clone(),
                format!("a replica of the old catalog cannot load a saga instance holding `{v}`"),
            )
            .step(site.replace_step())
        } else {
            Draft::new(
                Kind::SagaVariantRemoved,
                Verdict::Breaking,
                subject.clone(),
                message.clone(),
                format!(
                    "saga instances holding `{v}` no longer load, so {}",
                    site.failure
                ),
            )
        };
        cx.push(draft.impact(impact), &[(side, &at)]);
    }
    if !places.read_models.is_empty() {
        let mut impact = Impact::default();
        for (c, _) in &places.read_models {
            impact.merge(Impact::read_models(cx.after, c));
        }
        let names: Vec<String> = places
            .read_models
            .iter()
            .map(|(c, r)| format!("{c}.{r}"))
            .collect();
        let draft = if added {
            Draft::new(
                Kind::ReadModelVariantAdded,
                Verdict::Compatible,
                subject.clone(),
                message.clone(),
                "documents are served as stored, and no existing document holds the new variant",
            )
        } else {
            Draft::new(
                Kind::ReadModelVariantRemoved,
                Verdict::Migration,
                subject.clone(),
                message.clone(),
                format!(
                    "documents written before the deploy may still hold `{v}`, which the Query API serves as stored"
                ),
            )
            .step(format!("rebuild {}", quoted(&names)))
        };
        cx.push(draft.impact(impact), &[(side, &at)]);
    }
}
