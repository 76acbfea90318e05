//! The `storage` audience: aggregate snapshots in PostgreSQL, and the same rules for saga
//! instances in MongoDB.
//!
//! What the generated code does: the CommandHandler loads a snapshot with
//! `serde_json::from_value` into the aggregate's state struct (`emit/rust/contracts.rs`: no
//! `deny_unknown_fields`, no container default), keyed by tenant, aggregate type
//! (`context.Aggregate`) and id (text). A snapshot that does not load fails every command to
//! that aggregate (dead-lettered). The saga engine loads its instances' data the same way
//! (`runtime/src/saga/engine.rs`), and reports stored data it cannot read as permanent.
//! While a new version rolls out, replicas of the old catalog still load what new replicas
//! saved; replacing all replicas at once (stop, then start) avoids that.

use super::fields::{self, Change, Compat};
use super::impact::Impact;
use super::wire::{push_field, verdict};
use super::{Cx, Draft, Kind, Verdict, pair_renames};
use crate::emit::rust::names::{Process, process_package};
use crate::model::{Aggregate, IdType};

/// Compares every aggregate.
pub(super) fn compare(cx: &mut Cx<'_>) {
    let all = |m: &'_ crate::model::Model| -> Vec<(String, Aggregate)> {
        m.contexts
            .iter()
            .flat_map(|c| c.aggregates.iter().map(|a| (c.name.clone(), a.clone())))
            .collect()
    };
    let (before, after) = (all(cx.before), all(cx.after));
    let key = |(c, a): &(String, Aggregate)| format!("{c}.{}", a.name);
    let removed: Vec<&(String, Aggregate)> = before
        .iter()
        .filter(|b| !after.iter().any(|a| key(a) == key(b)))
        .collect();
    let added: Vec<&(String, Aggregate)> = after
        .iter()
        .filter(|a| !before.iter().any(|b| key(a) == key(b)))
        .collect();
    let (renamed, removed, added) = pair_renames(removed, added, |(bc, b), (ac, a)| {
        bc == ac && b.id == a.id && b.statuses == a.statuses && b.fields == a.fields
    });
    for (c, a) in added {
        let draft = Draft::new(
            Kind::StorageAggregateAdded,
            Verdict::Compatible,
            format!("{c}.{}", a.name),
            format!("aggregate `{c}.{}` added", a.name),
            "no snapshot of it exists yet",
        )
        .impact(Impact::aggregate(cx.after, c));
        cx.push_after(draft, &format!("{c}.aggregates.{}", a.name));
    }
    for (c, a) in removed {
        let draft = Draft::new(
            Kind::StorageAggregateRemoved,
            Verdict::Breaking,
            format!("{c}.{}", a.name),
            format!("aggregate `{c}.{}` removed", a.name),
            "the snapshots of every existing aggregate of this type stay in PostgreSQL and no process reads them again",
        )
        .impact(Impact::aggregate(cx.before, c));
        cx.push_before(draft, &format!("{c}.aggregates.{}", a.name));
    }
    for ((c, b), (_, a)) in renamed {
        let draft = Draft::new(
            Kind::StorageAggregateRenamed,
            Verdict::Breaking,
            format!("{c}.{}", b.name),
            format!("aggregate `{c}.{}` renamed to `{c}.{}`", b.name, a.name),
            format!(
                "snapshots are keyed by the aggregate type, so the new CommandHandler finds none of the existing `{c}.{}` aggregates",
                b.name
            ),
        )
        .impact(Impact::aggregate(cx.after, c));
        cx.push_after(draft, &format!("{c}.aggregates.{}", a.name));
    }
    for (c, a) in &after {
        let Some((_, b)) = before.iter().find(|(bc, b)| bc == c && b.name == a.name) else {
            continue;
        };
        let at = format!("{c}.aggregates.{}", a.name);
        let impact = Impact::aggregate(cx.after, c);
        if b.id != a.id {
            let (verdict, reason) = if a.id == IdType::String {
                (
                    Verdict::Compatible,
                    "ids are stored as text, and every existing id is a valid string id".to_owned(),
                )
            } else {
                (
                    Verdict::Breaking,
                    format!(
                        "existing aggregates have `{}` ids, which need not parse as `{}`",
                        b.id.ty(),
                        a.id.ty()
                    ),
                )
            };
            let draft = Draft::new(
                Kind::StorageIdTypeChanged,
                verdict,
                format!("{c}.{}", a.name),
                format!(
                    "the id of aggregate `{c}.{}` changed from `{}` to `{}`",
                    a.name,
                    b.id.ty(),
                    a.id.ty()
                ),
                reason,
            )
            .impact(impact.clone());
            cx.push_after(draft, &format!("{at}.id"));
        }
        let site = Stored::snapshot(c, &a.name);
        for change in fields::changes(&b.fields, &a.fields) {
            let draft = site
                .field(&change, format!("{c}.{}.{}", a.name, change.name()))
                .impact(impact.clone());
            push_field(cx, draft, &change, &format!("{at}.state.{}", change.name()));
        }
    }
}

/// Stored JSON read back by the code of a later (or, during a rollout, earlier) catalog:
/// aggregate snapshots or saga instances.
pub(super) struct Stored {
    /// The kinds for an added, a removed and a retyped field.
    pub kinds: [Kind; 3],
    /// `state of aggregate `shop.Cart``, `data of saga `Checkout``.
    pub what: String,
    /// `snapshot`, `saga instance`.
    pub thing: &'static str,
    /// What happens when the new code cannot load old data.
    pub failure: String,
    /// The process that loads the data (`shop-command-handler`).
    pub process: String,
}

impl Stored {
    /// The snapshots of an aggregate.
    pub fn snapshot(context: &str, aggregate: &str) -> Stored {
        Stored {
            kinds: [
                Kind::StorageFieldAdded,
                Kind::StorageFieldRemoved,
                Kind::StorageFieldTypeChanged,
            ],
            what: format!("the state of aggregate `{context}.{aggregate}`"),
            thing: "snapshot",
            failure: format!("every command to an existing `{aggregate}` is dead-lettered"),
            process: process_package(context, Process::CommandHandler),
        }
    }

    /// The migration step when old replicas cannot load what new ones save.
    pub fn replace_step(&self) -> String {
        format!(
            "replace every `{}` replica at once (stop the old ones, then start the new ones) instead of rolling it: a replica of the old catalog cannot load a {} the new one saved",
            self.process, self.thing
        )
    }

    /// The finding of one field change (without its impact).
    pub fn field(&self, change: &Change<'_>, subject: String) -> Draft {
        let c = fields::compat(change, false);
        let (kind, message) = match change {
            Change::Added(f) => (
                self.kinds[0],
                format!("{} added to {}", fields::describe(f), self.what),
            ),
            Change::Removed(f) => (
                self.kinds[1],
                format!("field `{}` removed from {}", f.name, self.what),
            ),
            Change::Retyped(o, n) => (
                self.kinds[2],
                format!(
                    "field `{}` of {} changed from `{}` to `{}`",
                    n.name, self.what, o.ty, n.ty
                ),
            ),
        };
        let verdict = verdict(c);
        let draft = Draft::new(kind, verdict, subject, message, self.reason(change, c));
        if verdict == Verdict::Migration {
            draft.step(self.replace_step())
        } else {
            draft
        }
    }

    fn reason(&self, change: &Change<'_>, c: Compat) -> String {
        let thing = self.thing;
        match change {
            Change::Added(f) if !c.forward => format!(
                "{thing}s saved before the deploy lack the required `{}`, so they no longer load and {}",
                f.name, self.failure
            ),
            Change::Added(f) => format!(
                "{thing}s saved before the deploy read `{}` as {}, and the old catalog ignores the unknown field",
                f.name,
                fields::absent_reads_as(f)
            ),
            Change::Removed(f) if !c.rollout => format!(
                "the new code ignores `{}` in older {thing}s, but a replica of the old catalog cannot load a {thing} saved without the required `{}`",
                f.name, f.name
            ),
            Change::Removed(f) => format!(
                "the new code ignores `{}` in older {thing}s, and the old catalog reads its absence as {}",
                f.name,
                fields::absent_reads_as(f)
            ),
            Change::Retyped(o, n) if !c.forward => format!(
                "{thing}s saved before the deploy hold `{}` as `{}`, which does not load as `{}`, so {}",
                n.name, o.ty, n.ty, self.failure
            ),
            Change::Retyped(o, n) if !c.rollout => format!(
                "every stored `{}` loads as `{}`, but a replica of the old catalog cannot load every `{}`",
                o.ty, n.ty, n.ty
            ),
            Change::Retyped(o, n) => format!("every `{}` value loads as `{}` and back", o.ty, n.ty),
        }
    }
}
