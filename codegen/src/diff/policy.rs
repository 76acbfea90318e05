//! Policies and public-event sources: what a context's EventHandler does for an event
//! besides its read models.
//!
//! What the generated code does: the EventHandler runs a policy for every event of its type
//! it handles from its deploy on (`emit/rust/reactions.rs`); the command a `send` policy sends
//! has an id derived from the event's and the policy's name, a hook's "done" marker is keyed by
//! its name (`runtime/src/process/event_handler.rs`). Events handled before the deploy get no
//! reaction from a new policy; nothing that is stored has to be read differently, so these
//! findings are compatible and say what changes in behaviour.

use super::impact::Impact;
use super::{Cx, Draft, Kind, Verdict};
use crate::model::{Context, Policy, PolicyAction};

/// Compares the policies and public-event sources of every context.
pub(super) fn compare(cx: &mut Cx<'_>) {
    for ctx in &cx.after.contexts {
        let old_ctx = cx.before.context(&ctx.name);
        for p in &ctx.policies {
            let at = format!("{}.policies.{}", ctx.name, p.name);
            let impact = Impact::event_handler(cx.after, &ctx.name);
            match old_ctx.and_then(|o| o.policies.iter().find(|q| q.name == p.name)) {
                None => cx.push_after(added(ctx, p).impact(impact), &at),
                Some(old) => {
                    if let Some(d) = changed(ctx, old, p) {
                        cx.push_after(d.impact(impact), &at);
                    }
                }
            }
        }
        for e in ctx.public_events() {
            let (Some(new), Some(old)) = (
                e.public.as_ref(),
                old_ctx
                    .and_then(|o| o.event(&e.name))
                    .and_then(|o| o.public.as_ref()),
            ) else {
                continue;
            };
            if new.from != old.from {
                let name = format!("{}.{}", ctx.name, e.name);
                let draft = Draft::new(
                    Kind::PublicEventSourceChanged,
                    Verdict::Compatible,
                    name.clone(),
                    format!(
                        "public event `{name}` is published for `{}` instead of `{}`",
                        new.from, old.from
                    ),
                    "its consumers get it for other facts from the deploy on (the payload keeps its shape); tell the teams that subscribe to it",
                )
                .impact(Impact::event_consumers(
                    cx.after,
                    &crate::model::MessageName {
                        context: ctx.name.clone(),
                        name: e.name.clone(),
                    },
                ));
                cx.push_after(draft, &format!("{}.events.{}.from", ctx.name, e.name));
            }
        }
    }
    for old_ctx in &cx.before.contexts {
        let ctx = cx.after.context(&old_ctx.name);
        for p in &old_ctx.policies {
            if ctx.is_some_and(|c| c.policies.iter().any(|q| q.name == p.name)) {
                continue;
            }
            let reason = match &p.action {
                PolicyAction::Send(c) => format!(
                    "events handled from the deploy on no longer send `{}`",
                    c.command
                ),
                PolicyAction::Hook(h) => format!(
                    "events handled from the deploy on no longer run hook `{}`; delete its method from hooks/{}/ (the build fails while it is there)",
                    h.name, old_ctx.name
                ),
            };
            let draft = Draft::new(
                Kind::PolicyRemoved,
                Verdict::Compatible,
                format!("{}.{}", old_ctx.name, p.name),
                format!("policy `{}.{}` removed", old_ctx.name, p.name),
                reason,
            )
            .impact(Impact::event_handler(cx.before, &old_ctx.name));
            cx.push_before(draft, &format!("{}.policies.{}", old_ctx.name, p.name));
        }
    }
}

fn added(ctx: &Context, p: &Policy) -> Draft {
    let reason = match &p.action {
        PolicyAction::Send(c) => format!(
            "`{}` events handled from the deploy on send `{}`; earlier ones sent nothing",
            p.on, c.command
        ),
        PolicyAction::Hook(h) => format!(
            "`{}` events handled from the deploy on run hook `{}`; earlier ones did not; implement it in hooks/{}/ (the build fails until it exists)",
            p.on, h.name, ctx.name
        ),
    };
    Draft::new(
        Kind::PolicyAdded,
        Verdict::Compatible,
        format!("{}.{}", ctx.name, p.name),
        format!("policy `{}.{}` added", ctx.name, p.name),
        reason,
    )
}

fn changed(ctx: &Context, old: &Policy, p: &Policy) -> Option<Draft> {
    let mut what = Vec::new();
    if old.on != p.on {
        what.push(format!("its event from `{}` to `{}`", old.on, p.on));
    }
    let mut reason = "events handled from the deploy on get the new reaction".to_owned();
    match (&old.action, &p.action) {
        (PolicyAction::Send(a), PolicyAction::Send(b)) => {
            if a.command != b.command {
                what.push(format!(
                    "its command from `{}` to `{}`",
                    a.command, b.command
                ));
            }
            if a.to.source != b.to.source
                || a.values
                    .iter()
                    .map(|(f, v)| (f, &v.source))
                    .ne(b.values.iter().map(|(f, v)| (f, &v.source)))
            {
                what.push("its target or field values".into());
            }
        }
        (PolicyAction::Hook(a), PolicyAction::Hook(b)) => {
            if a.name != b.name {
                what.push(format!("its hook from `{}` to `{}`", a.name, b.name));
                reason = format!(
                    "an event in a retry tier at the deploy runs `{}` even when `{}` succeeded for it (the markers are per hook); rename the method in hooks/{}/",
                    b.name, a.name, ctx.name
                );
            }
            if a.timeout != b.timeout {
                what.push("its timeout".into());
            }
        }
        (PolicyAction::Send(_), PolicyAction::Hook(h)) => {
            what.push(format!(
                "from sending a command to running hook `{}`",
                h.name
            ));
        }
        (PolicyAction::Hook(h), PolicyAction::Send(c)) => {
            what.push(format!(
                "from running hook `{}` to sending `{}`",
                h.name, c.command
            ));
        }
    }
    (!what.is_empty()).then(|| {
        Draft::new(
            Kind::PolicyChanged,
            Verdict::Compatible,
            format!("{}.{}", ctx.name, p.name),
            format!(
                "policy `{}.{}` changed {}",
                ctx.name,
                p.name,
                what.join(", ")
            ),
            reason,
        )
    })
}
