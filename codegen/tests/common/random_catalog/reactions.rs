//! Public events mapped from domain events, and policies that send a command of any context
//! or run a hand-written hook when an event (domain or public) arrives.

use super::*;

impl Gen<'_> {
    /// Adds up to two public events to context `i`, each mapped from one of its live events:
    /// some fields taken by name, others computed with `with`.
    pub(super) fn public_events(&mut self, i: usize) {
        let mut ctx = std::mem::take(&mut self.contexts[i]);
        let mut docs = Map::new();
        for _ in 0..self.rng.range(0, 2) {
            let sources: Vec<usize> = (0..ctx.events.len())
                .filter(|&e| ctx.events[e].live && ctx.events[e].from.is_none())
                .collect();
            if sources.is_empty() {
                break;
            }
            let src_index = *self.rng.pick(&sources);
            let src = ctx.events[src_index].clone();
            let agg = ctx.aggs[src.agg].clone();
            let name = self.fresh(&mut ctx, "Published");
            let mut fields = Vec::new();
            let mut with = Map::new();
            let mut used = Vec::new();
            for f in &src.fields {
                if self.rng.chance(60) {
                    used.push(f.name.clone());
                    fields.push(f.clone());
                }
            }
            for _ in 0..self.rng.range(0, 2) {
                let n = self.field_name(&mut used, &[]);
                let ty = self.ty(&ctx, ctx.types.len(), 0);
                let sources: Vec<(&str, &[F])> = vec![("event", &src.fields[..])];
                let v = match self.meta_expr(&ty, &agg) {
                    Some(m) if self.rng.chance(50) => Some(m),
                    _ => self.value_expr(&ty, &sources, &ctx),
                };
                let Some(v) = v else {
                    used.retain(|u| *u != n);
                    continue;
                };
                with.insert(n.clone(), json!(v));
                fields.push(F { name: n, ty });
            }
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("A \"public\" event."));
            }
            def.insert("from".into(), json!(src.name));
            if self.rng.chance(20) {
                def.insert("version".into(), json!(2));
                def.insert(
                    "upcast".into(),
                    json!([{ "from": 1, "remove": ["legacy"] }]),
                );
            }
            def.insert("fields".into(), self.fields_doc(&fields, &ctx.name));
            if !with.is_empty() {
                def.insert("with".into(), Value::Object(with));
            }
            docs.insert(name.clone(), Value::Object(def));
            ctx.events.push(Ev {
                name,
                agg: src.agg,
                fields,
                rejection: false,
                live: true,
                from: Some(src_index),
            });
        }
        if !docs.is_empty() {
            ctx.doc.insert("public_events".into(), Value::Object(docs));
        }
        self.contexts[i] = ctx;
    }

    /// Adds up to two policies to context `i`: on a live event of any context, send a command
    /// of any context, its target and fields computed from the event.
    pub(super) fn policies(&mut self, i: usize) {
        let mut ctx = std::mem::take(&mut self.contexts[i]);
        let mut docs = Map::new();
        let events = self.live_events(&ctx);
        let commands: Vec<(String, Cmd, Agg)> = self
            .contexts
            .iter()
            .chain(std::iter::once(&ctx))
            .flat_map(|c| {
                c.cmds
                    .iter()
                    .map(|m| (c.name.clone(), m.clone(), c.aggs[m.agg].clone()))
            })
            .collect();
        for _ in 0..self.rng.range(0, 2) {
            if events.is_empty() || commands.is_empty() {
                break;
            }
            let (ev_ctx, ev, ev_agg) = self.rng.pick(&events).clone();
            let on = json!(if ev_ctx == ctx.name && self.rng.chance(60) {
                ev.name.clone()
            } else {
                format!("{ev_ctx}.{}", ev.name)
            });
            if self.rng.chance(35) {
                // A hand-written hook (the starter, implemented: it succeeds).
                let name = self.fresh(&mut ctx, "Hooked");
                let mut def = Map::new();
                def.insert("on".into(), on);
                def.insert("hook".into(), json!(format!("run_{}", snake(&name))));
                if self.rng.chance(30) {
                    def.insert(
                        "timeout".into(),
                        json!(*self.rng.pick(&["250ms", "5s", "2m"])),
                    );
                }
                docs.insert(name, Value::Object(def));
                continue;
            }
            let (cmd_ctx, cmd, cmd_agg) = self.rng.pick(&commands).clone();
            let sources: Vec<(&str, &[F])> = vec![("event", &ev.fields[..])];
            let id_ty = match cmd_agg.id {
                "uuid" => Ty::Uuid,
                "string" => Ty::Str,
                _ => Ty::I64,
            };
            let to = match self.meta_expr(&id_ty, &ev_agg) {
                Some(m) if self.rng.chance(60) => Some(m),
                _ => self.value_expr(&id_ty, &sources, &ctx),
            };
            let Some(to) = to else { continue };
            let mut with = Map::new();
            let mut complete = true;
            for f in &cmd.fields {
                let same = ev.fields.iter().any(|g| g.name == f.name && g.ty == f.ty);
                if same && self.rng.chance(70) {
                    continue;
                }
                let v = match self.meta_expr(&f.ty, &ev_agg) {
                    Some(m) if self.rng.chance(30) => Some(m),
                    _ => self.value_expr(&f.ty, &sources, &ctx),
                };
                match v {
                    Some(v) => {
                        with.insert(f.name.clone(), json!(v));
                    }
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let name = self.fresh(&mut ctx, "Policy");
            let mut send = Map::new();
            send.insert(
                "command".into(),
                json!(if cmd_ctx == ctx.name && self.rng.chance(60) {
                    cmd.name.clone()
                } else {
                    format!("{cmd_ctx}.{}", cmd.name)
                }),
            );
            send.insert("to".into(), json!(to));
            if !with.is_empty() {
                send.insert("with".into(), Value::Object(with));
            }
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("Reacts with `a` command."));
            }
            def.insert("on".into(), on);
            def.insert("send".into(), Value::Object(send));
            docs.insert(name, Value::Object(def));
        }
        if !docs.is_empty() {
            ctx.doc.insert("policies".into(), Value::Object(docs));
        }
        self.contexts[i] = ctx;
    }
}
