//! The `read-model` audience: documents in MongoDB built from past events.
//!
//! What the generated code does: the EventHandler turns each event into update operations
//! (`$set`, `$inc`, `$push`, `$pull`) on documents addressed by tenant and key
//! (`emit/rust/read_models.rs`); the Query API serves documents exactly as stored, untyped
//! (`runtime/src/http/query_api.rs`). So nothing fails to read, but documents written before
//! a change keep the shape and values the old projections gave them until the read model is
//! rebuilt from its events (rebuilding is not provided by `codegen` yet). Projections keep a
//! watermark per (context, tenant, source aggregate) that starts at 0, and an event is
//! applied only after its predecessor (`runtime/src/read_model.rs`).

use super::fields::{self, Change};
use super::impact::Impact;
use super::wire::push_field;
use super::{Cx, Draft, Kind, Verdict, quoted};
use crate::emit::rust::names::collection;
use crate::model::{Model, Projection, ReadModel, Root};
use std::collections::BTreeSet;

/// The finding of a document field change, in read models named `names`.
pub(super) fn document_field(
    change: &Change<'_>,
    what: &str,
    names: &str,
    subject: String,
) -> Draft {
    let rebuild = format!("rebuild {names}");
    match change {
        Change::Added(f) if fields::is_optional(&f.ty) => Draft::new(
            Kind::ReadModelFieldAdded,
            Verdict::Compatible,
            subject,
            format!("{} added to {what}", fields::describe(f)),
            format!(
                "documents written before the deploy lack `{}`, which reads as absent until an event sets it",
                f.name
            ),
        ),
        Change::Added(f) => Draft::new(
            Kind::ReadModelFieldAdded,
            Verdict::Migration,
            subject,
            format!("{} added to {what}", fields::describe(f)),
            format!(
                "documents written before the deploy lack `{}` until an event sets it{}, and the Query API serves them as stored",
                f.name,
                if f.ty.is_integer() {
                    " (an increment counts from zero)"
                } else {
                    ""
                }
            ),
        )
        .step(rebuild),
        Change::Removed(f) => Draft::new(
            Kind::ReadModelFieldRemoved,
            Verdict::Migration,
            subject,
            format!("field `{}` removed from {what}", f.name),
            format!(
                "documents written before the deploy keep `{}`, and the Query API serves documents as stored",
                f.name
            ),
        )
        .step(format!("{rebuild}, or unset `{}` in its documents", f.name)),
        Change::Retyped(o, n) => Draft::new(
            Kind::ReadModelFieldTypeChanged,
            Verdict::Migration,
            subject,
            format!(
                "field `{}` of {what} changed from `{}` to `{}`",
                n.name, o.ty, n.ty
            ),
            format!(
                "documents written before the deploy hold `{}` as `{}`, served as stored, while filters and sorts now compare `{}` values",
                n.name, o.ty, n.ty
            ),
        )
        .step(rebuild),
    }
}

/// Compares every read model, and the contexts each EventHandler subscribes to.
pub(super) fn compare(cx: &mut Cx<'_>) {
    for ctx in &cx.after.contexts {
        for rm in &ctx.read_models {
            let name = format!("{}.{}", ctx.name, rm.name);
            let at = format!("{}.read_models.{}", ctx.name, rm.name);
            let impact = Impact::read_models(cx.after, &ctx.name)
                .and(Impact::read_models(cx.before, &ctx.name));
            match find(cx.before, &ctx.name, &rm.name) {
                None => added(cx, &name, rm, &at, impact),
                Some(old) => changed(cx, &name, old, rm, &at, &impact),
            }
        }
        subscriptions(cx, &ctx.name);
    }
    for ctx in &cx.before.contexts {
        for rm in &ctx.read_models {
            if find(cx.after, &ctx.name, &rm.name).is_some() {
                continue;
            }
            let route = rm
                .query
                .as_ref()
                .map(|q| format!(" and `GET {}` is gone", q.path))
                .unwrap_or_default();
            let draft = Draft::new(
                Kind::ReadModelRemoved,
                Verdict::Compatible,
                format!("{}.{}", ctx.name, rm.name),
                format!("read model `{}.{}` removed", ctx.name, rm.name),
                format!(
                    "its collection `{}` stays in MongoDB unread{route}; drop it when no client needs it",
                    collection(&rm.name)
                ),
            )
            .impact(Impact::read_models(cx.before, &ctx.name));
            cx.push_before(draft, &format!("{}.read_models.{}", ctx.name, rm.name));
        }
    }
}

fn find<'m>(model: &'m Model, context: &str, name: &str) -> Option<&'m ReadModel> {
    model
        .context(context)?
        .read_models
        .iter()
        .find(|r| r.name == name)
}

fn added(cx: &mut Cx<'_>, name: &str, rm: &ReadModel, at: &str, impact: Impact) {
    let old: Vec<String> = rm
        .projections
        .iter()
        .filter(|p| cx.before.event(&p.event).is_some())
        .map(|p| p.event.to_string())
        .collect();
    let draft = if old.is_empty() {
        Draft::new(
            Kind::ReadModelAdded,
            Verdict::Compatible,
            name,
            format!("read model `{name}` added"),
            "it projects only events that did not exist before",
        )
    } else {
        Draft::new(
            Kind::ReadModelAdded,
            Verdict::Migration,
            name,
            format!("read model `{name}` added"),
            format!(
                "{} events published before the deploy were never projected into it",
                quoted(&old)
            ),
        )
        .step(format!("rebuild `{name}`"))
    };
    cx.push_after(draft.impact(impact), at);
}

fn changed(
    cx: &mut Cx<'_>,
    name: &str,
    old: &ReadModel,
    rm: &ReadModel,
    at: &str,
    impact: &Impact,
) {
    let rebuild = format!("rebuild `{name}`");
    if old.key != rm.key {
        let draft = Draft::new(
            Kind::ReadModelKeyChanged,
            Verdict::Migration,
            name,
            format!(
                "the key of read model `{name}` changed from `{}` to `{}`",
                old.key, rm.key
            ),
            "documents written before the deploy are addressed by the old key, so events now update other documents",
        )
        .step(rebuild.clone())
        .impact(impact.clone());
        cx.push_after(draft, &format!("{at}.key"));
    }
    let what = format!("read model `{name}`");
    for change in fields::changes(&old.fields, &rm.fields) {
        let subject = format!("{name}.{}", change.name());
        let draft =
            document_field(&change, &what, &format!("`{name}`"), subject).impact(impact.clone());
        push_field(
            cx,
            draft,
            &change,
            &format!("{at}.fields.{}", change.name()),
        );
    }
    for p in &rm.projections {
        let anchor = format!("{at}.from.{}", p.event);
        let subject = format!("{name}.from.{}", p.event);
        let draft = match old.projections.iter().find(|o| o.event == p.event) {
            Some(o) if same_projection(&upcast(cx, o), p) => continue,
            Some(_) => Draft::new(
                Kind::ReadModelProjectionChanged,
                Verdict::Migration,
                subject,
                format!("how `{}` changes read model `{name}` changed", p.event),
                "documents written before the deploy were built by the old changes",
            )
            .step(rebuild.clone()),
            None if cx.before.event(&p.event).is_some() => Draft::new(
                Kind::ReadModelProjectionAdded,
                Verdict::Migration,
                subject,
                format!("read model `{name}` now projects `{}`", p.event),
                format!(
                    "`{}` events published before the deploy were never projected into it",
                    p.event
                ),
            )
            .step(rebuild.clone()),
            None => Draft::new(
                Kind::ReadModelProjectionAdded,
                Verdict::Compatible,
                subject,
                format!("read model `{name}` now projects `{}`", p.event),
                "the event did not exist before",
            ),
        };
        cx.push_after(draft.impact(impact.clone()), &anchor);
    }
    for o in &old.projections {
        if rm.projections.iter().any(|p| p.event == o.event) {
            continue;
        }
        let draft = Draft::new(
            Kind::ReadModelProjectionRemoved,
            Verdict::Migration,
            format!("{name}.from.{}", o.event),
            format!("read model `{name}` no longer projects `{}`", o.event),
            format!(
                "documents keep what `{}` events did to them before the deploy",
                o.event
            ),
        )
        .step(rebuild.clone())
        .impact(impact.clone());
        cx.push_before(draft, &format!("{at}.from.{}", o.event));
    }
}

/// An earlier projection with the event fields renamed as the new catalog's upcast steps
/// rename them in older payloads: `event.quantity` reads as `event.units` once a step renames
/// `quantity` to `units`, so the documents do not change.
fn upcast(cx: &Cx<'_>, old: &Projection) -> Projection {
    let mut p = old.clone();
    let (Some(before), Some(after)) = (cx.before.event(&p.event), cx.after.event(&p.event)) else {
        return p;
    };
    for step in after.versioning.upcasts_from(before.versioning.version) {
        for (o, n) in &step.renames {
            p.key.expr.rename_field(Root::Event, o, n);
            for c in &mut p.changes {
                c.value.expr.rename_field(Root::Event, o, n);
            }
        }
    }
    p
}

/// Whether two projections of the same event change documents the same way (expressions
/// compared as checked, not as written).
fn same_projection(a: &Projection, b: &Projection) -> bool {
    a.key.expr == b.key.expr
        && a.creates == b.creates
        && a.changes.len() == b.changes.len()
        && a.changes
            .iter()
            .zip(&b.changes)
            .all(|(x, y)| x.field == y.field && x.op == y.op && x.value.expr == y.value.expr)
}

/// The contexts whose events a context's read models project.
fn sources(model: &Model, context: &str) -> BTreeSet<String> {
    model
        .context(context)
        .into_iter()
        .flat_map(|c| &c.read_models)
        .flat_map(|rm| &rm.projections)
        .map(|p| p.event.context.clone())
        .collect()
}

/// A context whose EventHandler now subscribes to the events of a context that already
/// has aggregates: their watermarks start at 0 here.
fn subscriptions(cx: &mut Cx<'_>, context: &str) {
    let before = sources(cx.before, context);
    for source in sources(cx.after, context).difference(&before) {
        let existed = cx
            .before
            .context(source)
            .is_some_and(|c| !c.aggregates.is_empty());
        if !existed {
            continue;
        }
        let Some((rm, p)) = cx.after.context(context).and_then(|c| {
            c.read_models.iter().find_map(|rm| {
                rm.projections
                    .iter()
                    .find(|p| &p.event.context == source)
                    .map(|p| (rm, p))
            })
        }) else {
            continue;
        };
        let draft = Draft::new(
            Kind::ReadModelSourceAdded,
            Verdict::Migration,
            format!("{context}.read_models.from.{source}"),
            format!("the read models of `{context}` now project events of `{source}`"),
            format!(
                "projections apply an aggregate's events in version order from a watermark that starts at 0, so events of `{source}` aggregates created before the deploy wait forever for their first version"
            ),
        )
        .step(format!(
            "rebuild the read models of `{context}` from the first event of every `{source}` aggregate"
        ))
        .impact(Impact::read_models(cx.after, context));
        cx.push_after(
            draft,
            &format!("{context}.read_models.{}.from.{}", rm.name, p.event),
        );
    }
}
