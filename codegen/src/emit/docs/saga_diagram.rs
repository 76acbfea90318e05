//! `docs/sagas/<saga>.md`: one `stateDiagram-v2` per saga plus tables of its states (command
//! sent on entry, timeout, retry policy, compensation) and transitions. The site draws the
//! same machine as SVG from [`state_diagram`].

use super::diagram::{Diagram, NodeKind, mermaid_states};
use super::flows::saga_process;
use super::message_catalog::{FieldRow, field_rows};
use super::{Docs, md_cell};
use crate::emit::EmitError;
use crate::model::{RetryPolicy, Saga, SagaCommand, SagaState, Terminal};
use askama::Template;
use std::time::Duration;

/// `30s`, `1m`, `1.5s`.
pub fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `3 attempts, 1s then ×2 up to 10s` (or `no retry`).
pub fn retry_text(r: &RetryPolicy) -> String {
    if r.max_attempts <= 1 {
        return "no retry".into();
    }
    format!(
        "{} attempts, {} then ×{} up to {}",
        r.max_attempts,
        duration(r.initial_delay),
        r.backoff,
        duration(r.max_delay)
    )
}

fn command_text(c: &SagaCommand) -> String {
    let mut s = format!("`{}` to `{}`", c.command, md_cell(&c.to.source));
    if !c.values.is_empty() {
        let with: Vec<String> = c
            .values
            .iter()
            .map(|(k, v)| format!("`{k} = {}`", md_cell(&v.source)))
            .collect();
        s.push_str(&format!(" with {}", with.join(", ")));
    }
    s
}

/// What a state does, one line each: the command it sends on entry and the command that
/// compensates it (`compensated by context.Command`).
fn step_note(s: &SagaState) -> Option<String> {
    let mut lines = Vec::new();
    if let Some(c) = &s.send {
        lines.push(format!("sends {}", c.command));
    }
    if let Some(c) = &s.compensation {
        lines.push(format!("compensated by {}", c.command));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The state machine as a diagram (start node, states, event and timeout transitions).
pub fn state_diagram(saga: &Saga) -> Diagram {
    let mut d = Diagram::default();
    let start = d.node("start", "", NodeKind::Start);
    for s in &saga.states {
        let kind = match s.terminal {
            Some(Terminal::Completed) => NodeKind::Completed,
            Some(Terminal::Failed) => NodeKind::Failed,
            None => NodeKind::State,
        };
        let mut label = s.name.clone();
        if let Some(note) = step_note(s) {
            label.push('\n');
            label.push_str(&note);
        }
        d.node(format!("s:{}", s.name), label, kind);
    }
    d.edge(
        &start,
        &format!("s:{}", saga.initial),
        saga.start.to_string(),
        false,
    );
    for s in &saga.states {
        for t in &s.transitions {
            let mut label = t.event.as_ref().map(|e| e.to_string()).unwrap_or_default();
            if t.compensate {
                label.push_str(" (compensate)");
            }
            d.edge(
                &format!("s:{}", s.name),
                &format!("s:{}", t.target),
                label,
                false,
            );
        }
        if let Some(t) = &s.on_timeout {
            let mut label = "timeout".to_owned();
            if t.compensate {
                label.push_str(" (compensate)");
            }
            d.edge(
                &format!("s:{}", s.name),
                &format!("s:{}", t.target),
                label,
                true,
            );
        }
        if let Some(v) = &s.visits {
            d.edge(
                &format!("s:{}", s.name),
                &format!("s:{}", v.on_exhausted.target),
                exhausted_label(v),
                true,
            );
        }
    }
    d
}

/// `after 3 visits (compensate)`: the edge taken instead of one visit too many.
fn exhausted_label(v: &crate::model::VisitLimit) -> String {
    let mut label = format!("after {} visits", v.max);
    if v.on_exhausted.compensate {
        label.push_str(" (compensate)");
    }
    label
}

/// The Mermaid `stateDiagram-v2` of a saga.
pub fn mermaid(saga: &Saga) -> String {
    let states: Vec<(String, Option<String>)> = saga
        .states
        .iter()
        .map(|s| (s.name.clone(), step_note(s).map(|n| n.replace('\n', "; "))))
        .collect();
    let mut transitions = vec![(None, Some(saga.initial.clone()), saga.start.to_string())];
    for s in &saga.states {
        for t in &s.transitions {
            let mut label = t.event.as_ref().map(|e| e.to_string()).unwrap_or_default();
            if t.compensate {
                label.push_str(" (compensate)");
            }
            transitions.push((Some(s.name.clone()), Some(t.target.clone()), label));
        }
        if let Some(t) = &s.on_timeout {
            let label = if t.compensate {
                "timeout (compensate)"
            } else {
                "timeout"
            };
            transitions.push((Some(s.name.clone()), Some(t.target.clone()), label.into()));
        }
        if let Some(v) = &s.visits {
            transitions.push((
                Some(s.name.clone()),
                Some(v.on_exhausted.target.clone()),
                exhausted_label(v),
            ));
        }
        if let Some(term) = s.terminal {
            let label = match term {
                Terminal::Completed => "completed",
                Terminal::Failed => "failed",
            };
            transitions.push((Some(s.name.clone()), None, label.into()));
        }
    }
    mermaid_states(&states, &transitions)
}

/// A state row.
pub struct StateRow {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `completed`, `failed` or empty.
    pub terminal: String,
    /// Command sent on entry.
    pub sends: String,
    /// Timeout.
    pub timeout: String,
    /// Retry policy.
    pub retry: String,
    /// Compensation command.
    pub compensation: String,
}

/// A transition row.
pub struct TransitionRow {
    /// From state.
    pub from: String,
    /// Event or `timeout`.
    pub on: String,
    /// Target state.
    pub to: String,
    /// `yes` when completed steps are compensated first.
    pub compensate: &'static str,
    /// Captured data.
    pub capture: String,
}

#[derive(Template)]
#[template(path = "docs/saga.md")]
struct SagaTemplate {
    name: String,
    process: String,
    description: String,
    start: String,
    correlation: String,
    correlate: Vec<(String, String)>,
    queue: String,
    data: Vec<FieldRow>,
    mermaid: String,
    states: Vec<StateRow>,
    transitions: Vec<TransitionRow>,
}

/// The state rows of a saga (shared with the site).
pub fn state_rows(saga: &Saga) -> Vec<StateRow> {
    saga.states
        .iter()
        .map(|s| StateRow {
            name: s.name.clone(),
            description: md_cell(s.description.as_deref().unwrap_or("")),
            terminal: match s.terminal {
                Some(Terminal::Completed) => "completed".into(),
                Some(Terminal::Failed) => "failed".into(),
                None => String::new(),
            },
            sends: s.send.as_ref().map(command_text).unwrap_or_default(),
            timeout: s.timeout.map(duration).unwrap_or_default(),
            retry: if s.timeout.is_some() {
                retry_text(&s.retry)
            } else {
                String::new()
            },
            compensation: s
                .compensation
                .as_ref()
                .map(command_text)
                .unwrap_or_default(),
        })
        .collect()
}

/// The transition rows of a saga (shared with the site).
pub fn transition_rows(saga: &Saga) -> Vec<TransitionRow> {
    let mut out = Vec::new();
    for s in &saga.states {
        let timeouts = s.on_timeout.iter().map(|t| {
            let also = if t.compensate && s.compensate_on_timeout && s.compensation.is_some() {
                "; this step is undone too, as its command may still take effect, and its compensation voids every attempt still in flight"
            } else {
                ""
            };
            (t, Some(format!("timeout (after the last attempt{also})")))
        });
        let exhausted = s.visits.iter().map(|v| {
            (
                &v.on_exhausted,
                Some(format!("entered a visit beyond `max_visits: {}`", v.max)),
            )
        });
        let events = s.transitions.iter().map(|t| (t, None));
        for (t, special) in events.chain(timeouts).chain(exhausted) {
            out.push(TransitionRow {
                from: s.name.clone(),
                on: match special {
                    Some(text) => text,
                    None => t
                        .event
                        .as_ref()
                        .map(|e| format!("`{e}`"))
                        .unwrap_or_default(),
                },
                to: t.target.clone(),
                compensate: if t.compensate { "yes" } else { "no" },
                capture: t
                    .capture
                    .iter()
                    .map(|(k, v)| format!("`{k} = {}`", md_cell(&v.source)))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    out
}

/// Renders `docs/sagas/<saga>.md`.
pub fn render(docs: &Docs<'_>, saga: &Saga) -> Result<String, EmitError> {
    let queue = docs
        .model
        .topology
        .sagas
        .iter()
        .find(|t| t.saga == saga.name)
        .map(|t| t.queue.name.clone())
        .unwrap_or_default();
    SagaTemplate {
        name: saga.name.clone(),
        process: saga_process(&saga.name),
        description: saga.description.clone().unwrap_or_default(),
        start: saga.start.to_string(),
        correlation: saga.correlation.clone(),
        correlate: saga
            .correlate
            .iter()
            .map(|(e, x)| (e.to_string(), md_cell(&x.source)))
            .collect(),
        queue,
        data: field_rows(&saga.data),
        mermaid: mermaid(saga),
        states: state_rows(saga),
        transitions: transition_rows(saga),
    }
    .render()
    .map_err(|e| {
        EmitError(format!(
            "docs/sagas/{}.md: {e}",
            super::saga_slug(&saga.name)
        ))
    })
}
