//! Where things are written in a catalog, so that a finding points at the YAML of its change.
//!
//! The validated model keeps no positions; the parsed files do. A [`Locator`] parses the
//! catalog's files again and records the position of every named thing under a dotted
//! anchor:
//!
//! | anchor | position of |
//! |---|---|
//! | `ctx` | the `context:` value |
//! | `ctx.types.T`, `ctx.types.T.fields.f`, `ctx.types.T.variants.v` | a value type, its fields and variants |
//! | `ctx.aggregates.A`, `.id`, `.statuses.s`, `.state.f` | an aggregate, its id type, statuses and state fields |
//! | `ctx.commands.C.fields.f`, `ctx.events.E.fields.f` | messages and their fields |
//! | `ctx.read_models.R`, `.key`, `.fields.f`, `.from.ctx.E` | read models, their key, fields and projections |
//! | `ctx.events.P.from` | the domain event a public event is mapped from |
//! | `ctx.policies.P`, `.on` | policies and their event |
//! | `@sagas.S`, `.start`, `.correlation`, `.initial`, `.data.f`, `.states.X`, `.states.X.timeout`, `.states.X.retry`, `.states.X.send`, `.states.X.compensate_with`, `.states.X.on.ctx.E`, `.states.X.on_timeout` | sagas |
//! | `@topology`, `@topology.naming.t`, `@topology.defaults.s`, `@topology.processes.p`, `@topology.processes.p.s` | topology settings |
//!
//! A field `f` also has `….f.type`: the position of its type. `@` cannot start a context
//! name, so saga and topology anchors never collide with context anchors.

use crate::diagnostic::Diagnostics;
use crate::source::{FileId, Sources};
use crate::syntax::context::{ContextFile, Fields};
use crate::syntax::saga::SagasFile;
use crate::syntax::topology::{QueueSettingsDef, TopologyFile};
use crate::syntax::{Loc, NamedMap, Pos};
use std::collections::HashMap;

/// The positions of a catalog's named things, by anchor.
#[derive(Debug, Default)]
pub struct Locator {
    anchors: HashMap<String, (FileId, Pos)>,
}

impl Locator {
    /// Parses `sources` (a valid catalog) and records every anchor.
    pub fn new(sources: &Sources) -> Self {
        let parsed = crate::load::parse(sources, &mut Diagnostics::default());
        let mut l = Self::default();
        for (file, ctx) in &parsed.contexts {
            l.context(*file, ctx);
        }
        if let Some((file, sagas)) = &parsed.sagas {
            l.sagas(*file, sagas);
        }
        if let Some((file, topology)) = &parsed.topology {
            l.topology(*file, topology);
        }
        l
    }

    /// The position recorded for exactly this anchor.
    pub fn exact(&self, anchor: &str) -> Option<(FileId, Pos)> {
        self.anchors.get(anchor).copied()
    }

    /// The position of the anchor, else of its nearest recorded parent (`a.b.c`, `a.b`, `a`).
    pub fn nearest(&self, anchor: &str) -> Option<(FileId, Pos)> {
        let mut key = anchor;
        loop {
            if let Some(found) = self.exact(key) {
                return Some(found);
            }
            key = &key[..key.rfind('.')?];
        }
    }

    fn put(&mut self, file: FileId, anchor: String, pos: Pos) {
        if pos.is_known() {
            self.anchors.entry(anchor).or_insert((file, pos));
        }
    }

    fn fields(&mut self, file: FileId, prefix: &str, fields: &Fields) {
        for (name, def) in fields.iter() {
            let at = format!("{prefix}.{}", name.value);
            self.put(file, at.clone(), name.pos);
            let ty = if def.ty.pos.is_known() {
                def.ty.pos
            } else {
                def.pos
            };
            self.put(file, format!("{at}.type"), ty);
        }
    }

    fn context(&mut self, file: FileId, ctx: &ContextFile) {
        let c = ctx.context.value.clone();
        self.put(file, c.clone(), ctx.context.pos);
        for (name, t) in ctx.types.iter() {
            let at = format!("{c}.types.{}", name.value);
            self.put(file, at.clone(), name.pos);
            if let Some(fields) = &t.fields {
                self.fields(file, &format!("{at}.fields"), fields);
            }
            for v in t.variants.iter().flatten() {
                self.put(file, format!("{at}.variants.{}", v.value), v.pos);
            }
        }
        for (name, a) in ctx.aggregates.iter() {
            let at = format!("{c}.aggregates.{}", name.value);
            self.put(file, at.clone(), name.pos);
            if let Some(id) = &a.id {
                self.put(file, format!("{at}.id"), id.pos);
            }
            self.put(file, format!("{at}.statuses"), a.statuses.pos);
            for s in &a.statuses.value {
                self.put(file, format!("{at}.statuses.{}", s.value), s.pos);
            }
            self.fields(file, &format!("{at}.state"), &a.state);
        }
        for (name, cmd) in ctx.commands.iter() {
            let at = format!("{c}.commands.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.fields(file, &format!("{at}.fields"), &cmd.fields);
        }
        for (name, e) in ctx.events.iter() {
            let at = format!("{c}.events.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.fields(file, &format!("{at}.fields"), &e.fields);
        }
        for (name, e) in ctx.public_events.iter() {
            let at = format!("{c}.events.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.put(file, format!("{at}.from"), e.from.pos);
            self.fields(file, &format!("{at}.fields"), &e.fields);
        }
        for (name, p) in ctx.policies.iter() {
            let at = format!("{c}.policies.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.put(file, format!("{at}.on"), p.on.pos);
        }
        for (name, rm) in ctx.read_models.iter() {
            let at = format!("{c}.read_models.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.put(file, format!("{at}.key"), rm.key.pos);
            self.fields(file, &format!("{at}.fields"), &rm.fields);
            for (event, _) in rm.from.iter() {
                let qualified = qualify(&c, &event.value);
                self.put(file, format!("{at}.from.{qualified}"), event.pos);
            }
        }
    }

    fn sagas(&mut self, file: FileId, sagas: &SagasFile) {
        for (name, s) in sagas.sagas.iter() {
            let at = format!("@sagas.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.put(file, format!("{at}.start"), s.start.pos);
            self.put(file, format!("{at}.correlation"), s.correlation.pos);
            self.put(file, format!("{at}.initial"), s.initial.pos);
            self.fields(file, &format!("{at}.data"), &s.data);
            for (state, def) in s.states.iter() {
                let st = format!("{at}.states.{}", state.value);
                self.put(file, st.clone(), state.pos);
                let optional = [
                    ("timeout", def.timeout.as_ref().map(|t| t.pos)),
                    ("retry", def.retry.as_ref().map(|r| r.pos)),
                    ("send", def.send.as_ref().map(|s| s.command.pos)),
                    (
                        "compensate_with",
                        def.compensate_with.as_ref().map(|s| s.command.pos),
                    ),
                    ("on_timeout", def.on_timeout.as_ref().map(|t| t.pos)),
                ];
                for (key, pos) in optional {
                    if let Some(pos) = pos {
                        self.put(file, format!("{st}.{key}"), pos);
                    }
                }
                for (event, _) in def.on.iter() {
                    self.put(file, format!("{st}.on.{}", event.value), event.pos);
                }
            }
        }
    }

    fn topology(&mut self, file: FileId, t: &TopologyFile) {
        let first = [
            t.naming.as_ref().map(|n| n.pos),
            t.defaults.as_ref().map(|d| d.pos),
            t.processes.0.first().map(|(k, _)| k.pos),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Pos::new(1, 1));
        self.put(file, "@topology".to_owned(), first);
        if let Some(n) = &t.naming {
            let templates = [
                ("command_queue", &n.command_queue),
                ("event_exchange", &n.event_exchange),
                ("outcome_exchange", &n.outcome_exchange),
                ("process_queue", &n.process_queue),
                ("saga_queue", &n.saga_queue),
                ("dead_letter_exchange", &n.dead_letter_exchange),
                ("dead_letter_queue", &n.dead_letter_queue),
                ("retry_queue", &n.retry_queue),
            ];
            self.put(file, "@topology.naming".to_owned(), n.pos);
            for (key, value) in templates {
                if let Some(v) = value {
                    self.put(file, format!("@topology.naming.{key}"), v.pos);
                }
            }
        }
        if let Some(d) = &t.defaults {
            self.settings(file, "@topology.defaults", d);
        }
        let processes: &NamedMap<Loc<QueueSettingsDef>> = &t.processes;
        for (name, settings) in processes.iter() {
            let at = format!("@topology.processes.{}", name.value);
            self.put(file, at.clone(), name.pos);
            self.settings(file, &at, settings);
        }
    }

    fn settings(&mut self, file: FileId, at: &str, s: &Loc<QueueSettingsDef>) {
        self.put(file, at.to_owned(), s.pos);
        let keys = [
            ("queue_type", s.queue_type.as_ref().map(|v| v.pos)),
            ("prefetch", s.prefetch.as_ref().map(|v| v.pos)),
            ("delivery_limit", s.delivery_limit.as_ref().map(|v| v.pos)),
            ("retry_delays", s.retry_delays.as_ref().map(|v| v.pos)),
            ("max_attempts", s.max_attempts.as_ref().map(|v| v.pos)),
        ];
        for (key, pos) in keys {
            if let Some(pos) = pos {
                self.put(file, format!("{at}.{key}"), pos);
            }
        }
    }
}

/// `Event` of context `ctx` as `ctx.Event`; a qualified name is kept.
fn qualify(ctx: &str, name: &str) -> String {
    if name.contains('.') {
        name.to_owned()
    } else {
        format!("{ctx}.{name}")
    }
}
