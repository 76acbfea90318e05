//! `codegen diff`: what a catalog change does to a running system.
//!
//! A system generated from a catalog holds data written by the code of that catalog:
//! commands and events in flight on RabbitMQ queues and in the outbox, aggregate snapshots in
//! PostgreSQL, saga instances and read-model documents in MongoDB, queues declared with
//! arguments. [`compare`] takes two **validated models** (an earlier catalog and the current
//! one) and classifies every change for each [`Audience`] that reads such data:
//!
//! - [`Verdict::Compatible`]: the new code reads everything the old code wrote, and the old
//!   code, still running while the new version rolls out, reads what the new code writes.
//! - [`Verdict::Migration`]: safe once the user does the named step (deploy some processes
//!   before others, replace a process at once instead of rolling it, rebuild a read model,
//!   delete a queue left behind).
//! - [`Verdict::Breaking`]: data that exists now would be rejected, lost or misread, or a
//!   process would fail to start, in whatever order the processes are deployed.
//!
//! The verdicts follow what the generated Rust does with unknown and missing JSON fields
//! ([`fields`]), what the runtime does with unknown message types and saga states, and what
//! RabbitMQ does when a queue is declared again with other arguments (`diff/topology.rs`).

pub mod accept;
pub mod against;
pub mod changelog;
pub mod fields;
pub mod impact;
pub mod kind;
pub mod locate;
mod policy;
mod read_model;
pub mod report;
mod saga;
mod storage;
mod topology;
mod types;
mod wire;

pub use kind::{Audience, Kind};

use crate::model::Model;
use crate::source::Sources;
use crate::syntax::Pos;
use impact::Impact;
use locate::Locator;
use serde::Serialize;

/// How a change affects a running system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing to do.
    Compatible,
    /// Safe once the finding's step is done.
    Migration,
    /// Existing data or a running process breaks.
    Breaking,
}

impl Verdict {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::Migration => "migration",
            Verdict::Breaking => "breaking",
        }
    }
}

/// Which of the two catalogs a position is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The earlier catalog (`--against`): where removals are shown.
    Before,
    /// The current catalog.
    After,
}

/// Where a change is written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// The catalog holding the position.
    pub side: Side,
    /// The file, relative to that catalog's root (`catalog/inventory.yaml`).
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub column: u32,
}

impl Location {
    /// The position.
    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

/// One classified change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How it affects the running system.
    pub verdict: Verdict,
    /// Who reads the affected data.
    pub audience: Audience,
    /// The kind of change, a stable code.
    pub kind: Kind,
    /// What changed, stable across runs (`inventory.ReserveStock.quantity`); with `kind` it
    /// names the change in an `--accept` file.
    pub subject: String,
    /// The change, in one line.
    pub message: String,
    /// Why the verdict, in one sentence.
    pub reason: String,
    /// For a migration: the step to take.
    pub step: Option<String>,
    /// Where the change is written (in the earlier catalog for removals).
    pub location: Location,
    /// The generated processes that read or write the affected data.
    pub processes: Vec<String>,
    /// The RabbitMQ queues involved.
    pub queues: Vec<String>,
    /// Whether an `--accept` file accepts it (an accepted breaking change does not fail).
    pub accepted: bool,
}

/// A loaded, valid catalog: its model and its files.
#[derive(Clone, Copy, Debug)]
pub struct Catalog<'a> {
    /// The validated model.
    pub model: &'a Model,
    /// The files, for positions.
    pub sources: &'a Sources,
}

impl<'a> Catalog<'a> {
    /// A checked catalog.
    pub fn of(checked: &'a crate::Checked) -> Self {
        Self {
            model: &checked.model,
            sources: &checked.sources,
        }
    }
}

/// Every change from `before` to `after`, classified, in a stable order (by side, file,
/// position, kind and subject). Identical models give no finding.
pub fn compare(before: Catalog<'_>, after: Catalog<'_>) -> Vec<Finding> {
    let mut cx = Cx {
        before: before.model,
        after: after.model,
        before_sources: before.sources,
        after_sources: after.sources,
        before_at: Locator::new(before.sources),
        after_at: Locator::new(after.sources),
        out: Vec::new(),
    };
    wire::compare(&mut cx);
    types::compare(&mut cx);
    storage::compare(&mut cx);
    read_model::compare(&mut cx);
    policy::compare(&mut cx);
    saga::compare(&mut cx);
    topology::compare(&mut cx);
    let mut out = cx.out;
    out.sort_by(|a, b| {
        (&a.location, a.kind, &a.subject, &a.message).cmp(&(
            &b.location,
            b.kind,
            &b.subject,
            &b.message,
        ))
    });
    out.dedup();
    out
}

/// A finding before it is placed: everything but the location and the acceptance.
pub(crate) struct Draft {
    pub kind: Kind,
    pub verdict: Verdict,
    pub subject: String,
    pub message: String,
    pub reason: String,
    pub step: Option<String>,
    pub impact: Impact,
}

impl Draft {
    /// A draft with no step and no impact yet.
    pub fn new(
        kind: Kind,
        verdict: Verdict,
        subject: impl Into<String>,
        message: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            verdict,
            subject: subject.into(),
            message: message.into(),
            reason: reason.into(),
            step: None,
            impact: Impact::default(),
        }
    }

    /// Sets the migration step.
    #[must_use]
    pub fn step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// Sets what the change affects.
    #[must_use]
    pub fn impact(mut self, impact: Impact) -> Self {
        self.impact = impact;
        self
    }
}

/// The state of one comparison: both models, where their things are written, the findings.
pub(crate) struct Cx<'a> {
    pub before: &'a Model,
    pub after: &'a Model,
    before_sources: &'a Sources,
    after_sources: &'a Sources,
    before_at: Locator,
    after_at: Locator,
    out: Vec<Finding>,
}

impl Cx<'_> {
    /// Records a finding at the first anchor found: each `(side, anchor)` is looked up
    /// exactly, then each again by its nearest parent.
    pub fn push(&mut self, draft: Draft, anchors: &[(Side, &str)]) {
        let location = self.locate(anchors);
        self.out.push(Finding {
            verdict: draft.verdict,
            audience: draft.kind.audience(),
            kind: draft.kind,
            subject: draft.subject,
            message: draft.message,
            reason: draft.reason,
            step: draft.step,
            location,
            processes: draft.impact.processes.into_iter().collect(),
            queues: draft.impact.queues.into_iter().collect(),
            accepted: false,
        });
    }

    /// Records a finding about something of the new catalog.
    pub fn push_after(&mut self, draft: Draft, anchor: &str) {
        self.push(draft, &[(Side::After, anchor)]);
    }

    /// Records a finding about something only the earlier catalog has.
    pub fn push_before(&mut self, draft: Draft, anchor: &str) {
        self.push(draft, &[(Side::Before, anchor)]);
    }

    fn locate(&self, anchors: &[(Side, &str)]) -> Location {
        let lookups: [fn(&Locator, &str) -> _; 2] = [Locator::exact, Locator::nearest];
        for lookup in lookups {
            for (side, anchor) in anchors {
                let (locator, sources) = match side {
                    Side::Before => (&self.before_at, self.before_sources),
                    Side::After => (&self.after_at, self.after_sources),
                };
                if let Some((file, pos)) = lookup(locator, anchor) {
                    return Location {
                        side: *side,
                        file: sources.get(file).path.clone(),
                        line: pos.line,
                        column: pos.column,
                    };
                }
            }
        }
        let side = anchors.first().map_or(Side::After, |(s, _)| *s);
        Location {
            side,
            file: crate::load::TOPOLOGY_FILE.to_owned(),
            line: 0,
            column: 0,
        }
    }
}

/// Pairs removed and added things that are the same thing renamed: each removed item is
/// paired with the first added item `same` accepts, when exactly one does. Returns the pairs
/// and what is left of both lists.
pub(crate) fn pair_renames<'a, T>(
    removed: Vec<&'a T>,
    added: Vec<&'a T>,
    same: impl Fn(&T, &T) -> bool,
) -> (Vec<(&'a T, &'a T)>, Vec<&'a T>, Vec<&'a T>) {
    let mut pairs = Vec::new();
    let mut left_removed = Vec::new();
    let mut added: Vec<Option<&T>> = added.into_iter().map(Some).collect();
    for r in removed {
        let candidates: Vec<usize> = added
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_some_and(|a| same(r, a)))
            .map(|(i, _)| i)
            .collect();
        match candidates.as_slice() {
            [only] => pairs.push((r, added[*only].take().expect("candidate"))),
            _ => left_removed.push(r),
        }
    }
    (pairs, left_removed, added.into_iter().flatten().collect())
}

/// A list of names in backquotes: `` `a`, `b` ``.
pub(crate) fn quoted<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
