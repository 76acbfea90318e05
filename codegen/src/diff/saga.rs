//! The `saga` audience: saga instances in MongoDB, each the JSON of its data, the name of its
//! current state, its completed steps and its pending timers.
//!
//! What the runtime does (`runtime/src/saga/engine.rs`): an event is matched to an instance
//! by its correlation value (stored with the instance); a finished instance ignores events;
//! for a running one the engine looks up its current state by name, and a name the machine
//! does not know is a permanent error (the event is dead-lettered) — also when compensating
//! a completed step whose state is gone. The data is read like a snapshot (see
//! [`super::storage`]). Timers are stored with their due time, so a changed timeout or retry
//! policy applies from the next timer on.

use super::fields;
use super::impact::Impact;
use super::storage::Stored;
use super::wire::push_field;
use super::{Cx, Draft, Kind, Side, Verdict, pair_renames};
use crate::emit::rust::names::saga_package;
use crate::model::{MessageName, Saga, SagaCommand, SagaState, Transition};

/// How a saga's data is stored, and what it affects.
pub(super) fn saga_data(cx: &Cx<'_>, name: &str) -> (Stored, Impact) {
    let mut impact = Impact::default();
    let mut process = String::new();
    for m in [cx.before, cx.after] {
        if let Some(s) = m.sagas.iter().find(|s| s.name == name) {
            impact.merge(Impact::saga(m, s));
            process = saga_package(s);
        }
    }
    let stored = Stored {
        kinds: [
            Kind::SagaFieldAdded,
            Kind::SagaFieldRemoved,
            Kind::SagaFieldTypeChanged,
        ],
        what: format!("the data of saga `{name}`"),
        thing: "saga instance",
        failure: "the events of the running instances are dead-lettered".to_owned(),
        process,
    };
    (stored, impact)
}

/// Compares every saga.
pub(super) fn compare(cx: &mut Cx<'_>) {
    for s in &cx.after.sagas {
        let at = format!("@sagas.{}", s.name);
        let impact = Impact::saga(cx.after, s);
        let Some(old) = cx.before.sagas.iter().find(|b| b.name == s.name) else {
            let draft = Draft::new(
                Kind::SagaAdded,
                Verdict::Compatible,
                s.name.clone(),
                format!("saga `{}` added", s.name),
                "no instance of it exists yet",
            );
            cx.push_after(draft.impact(impact), &at);
            continue;
        };
        changed(cx, old, s, &at, &impact);
    }
    for old in &cx.before.sagas {
        if cx.after.sagas.iter().any(|s| s.name == old.name) {
            continue;
        }
        let draft = Draft::new(
            Kind::SagaRemoved,
            Verdict::Breaking,
            old.name.clone(),
            format!("saga `{}` removed", old.name),
            "instances still running stay in MongoDB unfinished, and no process advances or compensates them",
        )
        .impact(Impact::saga(cx.before, old));
        cx.push_before(draft, &format!("@sagas.{}", old.name));
    }
}

fn changed(cx: &mut Cx<'_>, old: &Saga, s: &Saga, at: &str, impact: &Impact) {
    let name = &s.name;
    let simple = [
        (
            old.start != s.start,
            Kind::SagaStartChanged,
            Verdict::Compatible,
            format!(
                "saga `{name}` now starts on `{}` instead of `{}`",
                s.start, old.start
            ),
            format!(
                "running instances are not affected, but `{}` events still queued no longer start an instance",
                old.start
            ),
            "start",
        ),
        (
            old.correlation != s.correlation,
            Kind::SagaCorrelationChanged,
            Verdict::Breaking,
            format!(
                "saga `{name}` now correlates by `{}` instead of `{}`",
                s.correlation, old.correlation
            ),
            format!(
                "running instances were stored under their `{}` value and events now look them up by `{}`, so unless the two are always equal their events no longer find them",
                old.correlation, s.correlation
            ),
            "correlation",
        ),
        (
            old.initial != s.initial,
            Kind::SagaInitialChanged,
            Verdict::Compatible,
            format!(
                "saga `{name}` now starts in `{}` instead of `{}`",
                s.initial, old.initial
            ),
            "only new instances start in the initial state".to_owned(),
            "initial",
        ),
    ];
    for (differs, kind, verdict, message, reason, key) in simple {
        if differs {
            let draft = Draft::new(kind, verdict, name.clone(), message, reason);
            cx.push_after(draft.impact(impact.clone()), &format!("{at}.{key}"));
        }
    }
    let (site, data_impact) = saga_data(cx, name);
    for change in fields::changes(&old.data, &s.data) {
        let draft = site
            .field(&change, format!("{name}.data.{}", change.name()))
            .impact(data_impact.clone());
        push_field(cx, draft, &change, &format!("{at}.data.{}", change.name()));
    }
    states(cx, old, s, at, impact);
}

fn states(cx: &mut Cx<'_>, old: &Saga, s: &Saga, at: &str, impact: &Impact) {
    let name = &s.name;
    let removed: Vec<&SagaState> = old
        .states
        .iter()
        .filter(|o| s.state(&o.name).is_none())
        .collect();
    let added: Vec<&SagaState> = s
        .states
        .iter()
        .filter(|n| old.state(&n.name).is_none())
        .collect();
    let (renamed, removed, added) = pair_renames(removed, added, |o, n| {
        o.terminal.is_none()
            && n.terminal.is_none()
            && o.send.as_ref().map(|c| &c.command) == n.send.as_ref().map(|c| &c.command)
            && events(o) == events(n)
    });
    for st in added {
        let draft = Draft::new(
            Kind::SagaStateAdded,
            Verdict::Compatible,
            format!("{name}.{}", st.name),
            format!("state `{}` added to saga `{name}`", st.name),
            "no instance is in it yet",
        );
        cx.push_after(
            draft.impact(impact.clone()),
            &format!("{at}.states.{}", st.name),
        );
    }
    for st in removed {
        let (verdict, reason) = if st.terminal.is_some() {
            (
                Verdict::Compatible,
                "finished instances are never loaded into their state again",
            )
        } else {
            (
                Verdict::Breaking,
                "instances waiting in it, or compensating it as a completed step, fail with an unknown state, and their events are dead-lettered",
            )
        };
        let draft = Draft::new(
            Kind::SagaStateRemoved,
            verdict,
            format!("{name}.{}", st.name),
            format!("state `{}` removed from saga `{name}`", st.name),
            reason,
        );
        cx.push_before(
            draft.impact(Impact::saga(cx.before, old)),
            &format!("@sagas.{}.states.{}", old.name, st.name),
        );
    }
    for (o, n) in renamed {
        let draft = Draft::new(
            Kind::SagaStateRenamed,
            Verdict::Breaking,
            format!("{name}.{}", o.name),
            format!(
                "state `{}` of saga `{name}` renamed to `{}`",
                o.name, n.name
            ),
            format!(
                "instances store the name of their state, so those in `{}` (or compensating it) fail with an unknown state",
                o.name
            ),
        );
        cx.push_after(
            draft.impact(impact.clone()),
            &format!("{at}.states.{}", n.name),
        );
    }
    for n in &s.states {
        if let Some(o) = old.state(&n.name) {
            state(cx, name, o, n, &format!("{at}.states.{}", n.name), impact);
        }
    }
}

/// The events a state reacts to.
fn events(s: &SagaState) -> Vec<&MessageName> {
    s.transitions
        .iter()
        .filter_map(|t| t.event.as_ref())
        .collect()
}

fn state(cx: &mut Cx<'_>, saga: &str, o: &SagaState, n: &SagaState, at: &str, impact: &Impact) {
    let subject = format!("{saga}.{}", n.name);
    let of = format!("state `{}` of saga `{saga}`", n.name);
    let timers = "timers already set keep their due time; the new value applies from the next one";
    let mut found: Vec<(Draft, String)> = Vec::new();
    if o.timeout != n.timeout {
        let show = |d: Option<std::time::Duration>| {
            d.map_or("none".to_owned(), |d| {
                humantime::format_duration(d).to_string()
            })
        };
        found.push((
            Draft::new(
                Kind::SagaTimeoutChanged,
                Verdict::Compatible,
                subject.clone(),
                format!(
                    "the timeout of {of} changed from {} to {}",
                    show(o.timeout),
                    show(n.timeout)
                ),
                timers,
            ),
            format!("{at}.timeout"),
        ));
    }
    if o.retry != n.retry {
        found.push((
            Draft::new(
                Kind::SagaRetryChanged,
                Verdict::Compatible,
                subject.clone(),
                format!(
                    "the retry policy of {of} changed from {} to {} attempts",
                    o.retry.max_attempts, n.retry.max_attempts
                ),
                timers,
            ),
            format!("{at}.retry"),
        ));
    }
    let commands = [
        (
            &o.send,
            &n.send,
            "send",
            "now sends {} on entry",
            "instances that already sent the old command are not affected; retries and later entries send the new one",
        ),
        (
            &o.compensation,
            &n.compensation,
            "compensate_with",
            "now compensates with {}",
            "instances compensate with the new command from now on",
        ),
    ];
    for (a, b, key, what, reason) in commands {
        if !same_command(a.as_ref(), b.as_ref()) {
            found.push((
                Draft::new(
                    Kind::SagaStepCommandChanged,
                    Verdict::Compatible,
                    format!("{subject}.{key}"),
                    format!(
                        "{of} {}",
                        what.replace("{}", &command_change(a.as_ref(), b.as_ref()))
                    ),
                    reason,
                ),
                format!("{at}.{key}"),
            ));
        }
    }
    let keyed = |t: &Transition| {
        t.event
            .as_ref()
            .map_or("timeout".to_owned(), ToString::to_string)
    };
    let old_t: Vec<(String, &Transition)> = o
        .transitions
        .iter()
        .chain(&o.on_timeout)
        .map(|t| (keyed(t), t))
        .collect();
    let new_t: Vec<(String, &Transition)> = n
        .transitions
        .iter()
        .chain(&n.on_timeout)
        .map(|t| (keyed(t), t))
        .collect();
    let anchor = |k: &str| {
        if k == "timeout" {
            format!("{at}.on_timeout")
        } else {
            format!("{at}.on.{k}")
        }
    };
    for (k, t) in &new_t {
        let on = format!("{subject}.on.{k}");
        match old_t.iter().find(|(ok, _)| ok == k) {
            Some((_, ot)) if same_transition(ot, t) => {}
            Some(_) => found.push((
                Draft::new(
                    Kind::SagaTransitionChanged,
                    Verdict::Compatible,
                    on,
                    format!("{}, {of} now goes to `{}`", when(k), t.target),
                    format!(
                        "instances in `{}` follow the new transition from now on",
                        n.name
                    ),
                ),
                anchor(k),
            )),
            None => found.push((
                Draft::new(
                    Kind::SagaTransitionAdded,
                    Verdict::Compatible,
                    on,
                    format!("{of} now has a transition {}", when(k)),
                    format!("instances waiting in `{}` take it from now on", n.name),
                ),
                anchor(k),
            )),
        }
    }
    for (k, _) in &old_t {
        if new_t.iter().any(|(nk, _)| nk == k) {
            continue;
        }
        let draft = Draft::new(
            Kind::SagaTransitionRemoved,
            Verdict::Migration,
            format!("{subject}.on.{k}"),
            format!("{of} no longer has a transition {}", when(k)),
            format!(
                "instances waiting in `{}` are no longer moved {}, and stay until another transition takes them",
                n.name,
                when(k)
            ),
        )
        .step(format!(
            "make sure no instance waits in `{}` for that transition, or that another one takes it out",
            n.name
        ));
        cx.push(draft.impact(impact.clone()), &[(Side::Before, &anchor(k))]);
    }
    for (draft, anchor) in found {
        cx.push_after(draft.impact(impact.clone()), &anchor);
    }
}

/// What a state sends now, compared with before.
fn command_change(a: Option<&SagaCommand>, b: Option<&SagaCommand>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.command != b.command => {
            format!("`{}` instead of `{}`", b.command, a.command)
        }
        (_, Some(b)) if a.is_some() => {
            format!("`{}` with another target or other values", b.command)
        }
        (_, Some(b)) => format!("`{}` (nothing before)", b.command),
        (Some(a), None) => format!("nothing instead of `{}`", a.command),
        (None, None) => "nothing".to_owned(),
    }
}

/// `on `ctx.Event``, or `on timeout`.
fn when(key: &str) -> String {
    if key == "timeout" {
        "on timeout".to_owned()
    } else {
        format!("on `{key}`")
    }
}

fn same_command(a: Option<&SagaCommand>, b: Option<&SagaCommand>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.command == b.command
                && a.to.expr == b.to.expr
                && a.values.len() == b.values.len()
                && a.values
                    .iter()
                    .zip(&b.values)
                    .all(|((x, xe), (y, ye))| x == y && xe.expr == ye.expr)
        }
        _ => false,
    }
}

fn same_transition(a: &Transition, b: &Transition) -> bool {
    a.target == b.target
        && a.compensate == b.compensate
        && a.capture.len() == b.capture.len()
        && a.capture
            .iter()
            .zip(&b.capture)
            .all(|((x, xe), (y, ye))| x == y && xe.expr == ye.expr)
}
