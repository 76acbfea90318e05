//! The `wire` audience: commands and events as JSON on RabbitMQ queues and in the outbox.
//!
//! What the generated code does (`emit/rust/contracts.rs`, `runtime`): the CommandHandler
//! decodes a command by its type name into a struct with `#[serde(deny_unknown_fields)]` and
//! dead-letters what does not decode, an unknown type included; the Command API decodes HTTP
//! bodies into the same struct (400 on failure). Event structs accept unknown keys. An
//! EventHandler skips event types its read models do not project and a saga ignores event
//! types it does not handle, so an event type that is gone is silently dropped. Events are
//! published by their context's CommandHandler (the outbox relay) and are never stored as
//! events, so an event no process consumes can change freely.
//!
//! Envelopes carry the schema version of their writer (`x-schema-version`); a reader whose
//! message declares a higher `version` applies the catalog's upcast steps before decoding
//! (`runtime::evolution`), so a field an upcast step renames, sets or removes reads in
//! messages of the older version. Readers of the old catalog never upcast.

use super::fields::{self, Change, Compat};
use super::impact::{Impact, publisher_of};
use super::{Cx, Draft, Kind, Side, Verdict, pair_renames, quoted};
use crate::emit::rust::names::{Process, process_package};
use crate::model::{Deprecation, Field, MessageName, Model, Versioning};

/// A command or event of one model.
struct Message<'a> {
    name: MessageName,
    aggregate: &'a str,
    fields: &'a [Field],
    versioning: &'a Versioning,
}

/// What the new catalog's upcast steps do to messages of the old catalog's version.
pub(super) struct Upcasting {
    from: u32,
    to: u32,
    /// Fields the steps give an old payload (renamed into, or set).
    provides: Vec<String>,
    /// Fields the steps take out of an old payload (renamed away, or removed).
    drops: Vec<String>,
}

impl Upcasting {
    /// The steps of `new` that read payloads of `old`'s version, if the version was raised.
    fn between(old: &Versioning, new: &Versioning, old_fields: &[Field]) -> Option<Upcasting> {
        if new.version <= old.version {
            return None;
        }
        let mut names: Vec<String> = old_fields.iter().map(|f| f.name.clone()).collect();
        let mut up = Upcasting {
            from: old.version,
            to: new.version,
            provides: Vec::new(),
            drops: Vec::new(),
        };
        for step in new.upcasts_from(old.version) {
            for (o, n) in &step.renames {
                if let Some(i) = names.iter().position(|x| x == o) {
                    names[i] = n.clone();
                    up.provides.push(n.clone());
                }
                up.drops.push(o.clone());
            }
            up.drops.extend(step.removes.iter().cloned());
            names.retain(|x| !step.removes.contains(x));
            up.provides.extend(step.sets.iter().map(|(f, _)| f.clone()));
        }
        Some(up)
    }

    fn touches(&self, change: &Change<'_>) -> bool {
        match change {
            Change::Added(f) => self.provides.contains(&f.name),
            Change::Removed(f) => self.drops.contains(&f.name),
            Change::Retyped(..) => false,
        }
    }
}

fn messages(model: &Model, commands: bool) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    for ctx in &model.contexts {
        let name = |n: &str| MessageName {
            context: ctx.name.clone(),
            name: n.to_owned(),
        };
        if commands {
            out.extend(ctx.commands.iter().map(|c| Message {
                name: name(&c.name),
                aggregate: &c.aggregate,
                fields: &c.fields,
                versioning: &c.versioning,
            }));
        } else {
            out.extend(ctx.events.iter().map(|e| Message {
                name: name(&e.name),
                aggregate: &e.aggregate,
                fields: &e.fields,
                versioning: &e.versioning,
            }));
        }
    }
    out
}

/// Compares every command and event.
pub(super) fn compare(cx: &mut Cx<'_>) {
    for commands in [true, false] {
        let (before, after) = (messages(cx.before, commands), messages(cx.after, commands));
        let removed: Vec<&Message> = before
            .iter()
            .filter(|b| !after.iter().any(|a| a.name == b.name))
            .collect();
        let added: Vec<&Message> = after
            .iter()
            .filter(|a| !before.iter().any(|b| b.name == a.name))
            .collect();
        let (renamed, removed, added) = pair_renames(removed, added, |b, a| {
            b.name.context == a.name.context && b.aggregate == a.aggregate && b.fields == a.fields
        });
        for m in added {
            let what = noun(commands);
            let draft = Draft::new(
                Kind::WireMessageAdded,
                Verdict::Compatible,
                m.name.to_string(),
                format!("{what} `{}` added", m.name),
                "no running process sends or reads it yet",
            )
            .impact(impact(cx.after, &m.name, commands));
            cx.push_after(draft, &anchor(&m.name, commands));
        }
        for m in removed {
            let draft = gone(cx, &m.name, None, commands);
            cx.push_before(draft, &anchor(&m.name, commands));
        }
        for (b, a) in renamed {
            let draft = gone(cx, &b.name, Some(&a.name), commands);
            cx.push_after(draft, &anchor(&a.name, commands));
        }
        for a in &after {
            let Some(b) = before.iter().find(|b| b.name == a.name) else {
                continue;
            };
            let site = Site::message(cx, &a.name, commands);
            let at = anchor(&a.name, commands);
            if a.versioning.version != b.versioning.version {
                let draft = version_changed(&site, b.versioning, a.versioning, &a.name);
                cx.push(
                    draft,
                    &[(Side::After, &format!("{at}.version")), (Side::After, &at)],
                );
            }
            if let (Some(d), None) = (&a.versioning.deprecated, &b.versioning.deprecated) {
                let draft = deprecated(&site, &a.name.to_string(), &site.what, d);
                cx.push_after(draft, &format!("{at}.deprecated"));
            }
            let up = Upcasting::between(b.versioning, a.versioning, b.fields);
            for change in fields::changes(b.fields, a.fields) {
                let subject = format!("{}.{}", a.name, change.name());
                let draft = site.field_upcast(&change, subject, up.as_ref());
                push_field(
                    cx,
                    draft,
                    &change,
                    &format!("{at}.fields.{}", change.name()),
                );
            }
            for f in a.fields {
                let Some(d) = &f.deprecated else { continue };
                if b.fields
                    .iter()
                    .any(|o| o.name == f.name && o.deprecated.is_none())
                {
                    let what = format!("field `{}` of {}", f.name, site.what);
                    let subject = format!("{}.{}", a.name, f.name);
                    let draft = deprecated(&site, &subject, &what, d);
                    cx.push_after(draft, &format!("{at}.fields.{}.deprecated", f.name));
                }
            }
        }
    }
}

/// A message's schema version changed.
fn version_changed(site: &Site, old: &Versioning, new: &Versioning, name: &MessageName) -> Draft {
    let (o, n) = (old.version, new.version);
    let reason = if n > o {
        let steps = new.upcasts_from(o).count();
        format!(
            "envelopes carry their writer's schema version: the new code applies {steps} upcast step(s) to version-{o} payloads before decoding them, and readers of the old catalog decode version-{n} payloads as they are (the field findings say whether they can)"
        )
    } else {
        format!(
            "payloads already written with version {o} are decoded as they are (the field findings say whether they can)"
        )
    };
    Draft::new(
        Kind::WireVersionChanged,
        Verdict::Compatible,
        name.to_string(),
        format!("schema version of {} changed from {o} to {n}", site.what),
        reason,
    )
    .impact(site.impact.clone())
}

/// A message or field was marked deprecated.
fn deprecated(site: &Site, subject: &str, what: &str, d: &Deprecation) -> Draft {
    let note = d
        .note
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    Draft::new(
        Kind::WireDeprecated,
        Verdict::Compatible,
        subject.to_owned(),
        format!("{what} deprecated{note}"),
        "nothing changes on the wire yet: it announces a removal, so producers and consumers can stop relying on it first",
    )
    .impact(site.impact.clone())
}

/// Records a field finding: in the earlier catalog for a removal, at the type for a type
/// change, else at the field.
pub(super) fn push_field(cx: &mut Cx<'_>, draft: Draft, change: &Change<'_>, at: &str) {
    match change {
        Change::Added(_) => cx.push_after(draft, at),
        Change::Removed(_) => cx.push_before(draft, at),
        Change::Retyped(..) => cx.push(draft, &[(Side::After, &format!("{at}.type"))]),
    }
}

fn noun(commands: bool) -> &'static str {
    if commands { "command" } else { "event" }
}

fn anchor(name: &MessageName, commands: bool) -> String {
    let group = if commands { "commands" } else { "events" };
    format!("{}.{group}.{}", name.context, name.name)
}

fn impact(model: &Model, name: &MessageName, commands: bool) -> Impact {
    if commands {
        Impact::command(model, name)
    } else {
        Impact::event(model, name)
    }
}

/// A removed message, or a renamed one (`to`).
fn gone(cx: &Cx<'_>, name: &MessageName, to: Option<&MessageName>, commands: bool) -> Draft {
    let mut affected = impact(cx.before, name, commands);
    if let Some(to) = to {
        affected.merge(impact(cx.after, to, commands));
    }
    let (kind, message) = match to {
        Some(to) => (
            Kind::WireMessageRenamed,
            format!("{} `{name}` renamed to `{to}`", noun(commands)),
        ),
        None => (
            Kind::WireMessageRemoved,
            format!("{} `{name}` removed", noun(commands)),
        ),
    };
    let consumers = Impact::event_consumers(cx.before, name);
    let (verdict, reason) = if commands {
        let route = if cx.before.command(name).is_some_and(|c| c.route.is_some()) {
            ", and its HTTP route answers 404"
        } else {
            ""
        };
        (
            Verdict::Breaking,
            format!(
                "messages carry their type name, so `{name}` commands still queued are dead-lettered as an unknown type by the new CommandHandler{route}"
            ),
        )
    } else if consumers.processes.is_empty() {
        (
            Verdict::Compatible,
            "no generated process consumes it".to_owned(),
        )
    } else {
        (
            Verdict::Breaking,
            format!(
                "messages carry their type name, so `{name}` events still queued or waiting in the outbox are skipped as an unknown type by {}, and their effect is lost",
                quoted(&consumers.processes)
            ),
        )
    };
    Draft::new(kind, verdict, name.to_string(), message, reason).impact(affected)
}

/// Where a field change is read on the wire, and how.
pub(super) struct Site {
    /// `command `shop.AddItem``, `record `shop.Note``.
    pub what: String,
    /// Whether the struct denies unknown keys (command structs).
    pub deny_unknown: bool,
    /// The migration step when readers of the old catalog cannot read new messages.
    pub readers_first: String,
    /// Whether no process reads the messages (events nobody consumes).
    pub unread: bool,
    /// What the change affects.
    pub impact: Impact,
}

impl Site {
    /// The site of a command's or event's own fields.
    fn message(cx: &Cx<'_>, name: &MessageName, commands: bool) -> Site {
        let impact = impact(cx.before, name, commands).and(impact(cx.after, name, commands));
        let handler = process_package(&name.context, Process::CommandHandler);
        if commands {
            let producers: Vec<&String> =
                impact.processes.iter().filter(|p| **p != handler).collect();
            Site {
                what: format!("command `{name}`"),
                deny_unknown: true,
                readers_first: format!(
                    "deploy `{handler}` before the processes that send the command ({})",
                    quoted(&producers)
                ),
                unread: false,
                impact,
            }
        } else {
            // A public event is published by its context's EventHandler.
            let publisher = cx
                .after
                .event(name)
                .or_else(|| cx.before.event(name))
                .map_or(Process::CommandHandler, publisher_of);
            let handler = process_package(&name.context, publisher);
            let consumers = Impact::event_consumers(cx.before, name)
                .and(Impact::event_consumers(cx.after, name));
            Site {
                what: format!("event `{name}`"),
                deny_unknown: false,
                readers_first: format!(
                    "deploy its consumers ({}) before `{handler}`, which publishes it",
                    quoted(&consumers.processes)
                ),
                unread: consumers.processes.is_empty(),
                impact,
            }
        }
    }

    /// The finding of one field change.
    pub fn field(&self, change: &Change<'_>, subject: String) -> Draft {
        self.field_upcast(change, subject, None)
    }

    /// The finding of one field change of a message whose new version upcasts older
    /// payloads (`up`).
    fn field_upcast(&self, change: &Change<'_>, subject: String, up: Option<&Upcasting>) -> Draft {
        let mut compat = fields::compat(change, self.deny_unknown);
        let upcast = up.filter(|u| u.touches(change));
        if upcast.is_some() {
            compat.forward = true;
        }
        let (kind, message) = match change {
            Change::Added(f) => (
                Kind::WireFieldAdded,
                format!("{} added to {}", fields::describe(f), self.what),
            ),
            Change::Removed(f) => (
                Kind::WireFieldRemoved,
                format!("field `{}` removed from {}", f.name, self.what),
            ),
            Change::Retyped(o, n) => (
                Kind::WireFieldTypeChanged,
                format!(
                    "field `{}` of {} changed from `{}` to `{}`",
                    n.name, self.what, o.ty, n.ty
                ),
            ),
        };
        let (verdict, reason) = if self.unread {
            (
                Verdict::Compatible,
                "no generated process consumes these messages".to_owned(),
            )
        } else {
            let reason = match upcast {
                Some(u) => upcast_reason(change, compat, u),
                None => reason(change, compat, self.deny_unknown),
            };
            (verdict(compat), reason)
        };
        let draft = Draft::new(kind, verdict, subject, message, reason).impact(self.impact.clone());
        if verdict == Verdict::Migration {
            draft.step(self.readers_first.clone())
        } else {
            draft
        }
    }
}

/// Breaking when new code cannot read old messages, a migration (readers first) when old
/// code cannot read new ones, else compatible.
pub(super) fn verdict(c: Compat) -> Verdict {
    if !c.forward {
        Verdict::Breaking
    } else if !c.rollout {
        Verdict::Migration
    } else {
        Verdict::Compatible
    }
}

fn upcast_reason(change: &Change<'_>, c: Compat, u: &Upcasting) -> String {
    let (from, to) = (u.from, u.to);
    match change {
        Change::Added(f) if !c.rollout => format!(
            "the new code upcasts version-{from} messages to version {to}, which gives them `{}`, but command structs deny unknown fields, so a CommandHandler of the old catalog dead-letters commands that carry it",
            f.name
        ),
        Change::Added(f) => format!(
            "the new code upcasts version-{from} messages to version {to}, which gives them `{}`, and readers of the old catalog ignore unknown fields",
            f.name
        ),
        Change::Removed(f) if !c.rollout => format!(
            "the new code upcasts version-{from} messages to version {to}, which takes `{}` out of them, but readers of the old catalog cannot decode messages without the required `{}`",
            f.name, f.name
        ),
        Change::Removed(f) | Change::Retyped(_, f) => format!(
            "the new code upcasts version-{from} messages to version {to}, which takes `{}` out of them, and readers of the old catalog read its absence as {}",
            f.name,
            fields::absent_reads_as(f)
        ),
    }
}

fn reason(change: &Change<'_>, c: Compat, deny_unknown: bool) -> String {
    match change {
        Change::Added(f) if !c.forward => format!(
            "messages queued or waiting in the outbox before the deploy lack the required `{}`, so the new code cannot decode them and dead-letters them",
            f.name
        ),
        Change::Added(f) if !c.rollout => format!(
            "older messages without `{}` read it as {}, but command structs deny unknown fields, so a CommandHandler of the old catalog dead-letters commands that carry it",
            f.name,
            fields::absent_reads_as(f)
        ),
        Change::Added(f) => format!(
            "older messages without `{}` read it as {}, and readers of the old catalog ignore unknown fields",
            f.name,
            fields::absent_reads_as(f)
        ),
        Change::Removed(f) if !c.forward && deny_unknown => format!(
            "command structs deny unknown fields, so queued commands that still carry `{}` are dead-lettered by the new CommandHandler, and HTTP clients that send it get 400",
            f.name
        ),
        Change::Removed(f) if !c.rollout => format!(
            "the new code ignores `{}` in older messages, but readers of the old catalog cannot decode messages without the required `{}`",
            f.name, f.name
        ),
        Change::Removed(f) => format!(
            "the new code ignores `{}` in older messages, and readers of the old catalog read its absence as {}",
            f.name,
            fields::absent_reads_as(f)
        ),
        Change::Retyped(o, n) if !c.forward => format!(
            "messages written before the deploy hold `{}` as `{}`, which does not decode as `{}`",
            n.name, o.ty, n.ty
        ),
        Change::Retyped(o, n) if !c.rollout => format!(
            "every `{}` written before the deploy decodes as `{}`, but readers of the old catalog cannot read every `{}`",
            o.ty, n.ty, n.ty
        ),
        Change::Retyped(o, n) => format!("every `{}` value reads as `{}` and back", o.ty, n.ty),
    }
}
