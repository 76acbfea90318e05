//! Contexts: value types, aggregates, commands (rules, hooks, rejections) and events
//! (every `apply` operation).

use super::*;

impl Gen<'_> {
    pub(super) fn context(&mut self, name: String) -> Ctx {
        let mut ctx = Ctx {
            name: name.clone(),
            ..Ctx::default()
        };
        ctx.doc.insert("context".into(), json!(name));
        if self.rng.chance(50) {
            ctx.doc.insert(
                "description".into(),
                json!("A context with \"quotes\", `ticks` and a\nsecond line."),
            );
        }
        // Value types: enums and records (records may use the types declared before them).
        let mut types = Map::new();
        for _ in 0..self.rng.range(0, 4) {
            let tname = self.fresh(&mut ctx, "");
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!(format!("The `{tname}` type.")));
            }
            if self.rng.chance(45) {
                let mut vs: Vec<String> = Vec::new();
                for _ in 0..self.rng.range(1, 4) {
                    let v = self.rng.pick(VARIANTS).to_string();
                    let pascal = heck::ToUpperCamelCase::to_upper_camel_case(v.as_str());
                    if !vs
                        .iter()
                        .any(|w| heck::ToUpperCamelCase::to_upper_camel_case(w.as_str()) == pascal)
                        && !v.ends_with('_')
                    {
                        vs.push(v);
                    }
                }
                if vs.is_empty() {
                    vs.push("x".into());
                }
                def.insert("variants".into(), json!(vs));
                ctx.types.push(TypeInfo {
                    ty: Ty::Enum(name.clone(), tname.clone(), vs),
                    fields: Vec::new(),
                });
            } else {
                let n = self.rng.range(1, 4);
                let mut used = Vec::new();
                let fields: Vec<F> = (0..n)
                    .map(|_| F {
                        name: self.field_name(&mut used, &[]),
                        ty: self.ty(&ctx, ctx.types.len(), 0),
                    })
                    .collect();
                def.insert("fields".into(), self.fields_doc(&fields, &name));
                ctx.types.push(TypeInfo {
                    ty: Ty::Record(name.clone(), tname.clone()),
                    fields,
                });
            }
            types.insert(tname, Value::Object(def));
        }
        if !types.is_empty() {
            ctx.doc.insert("types".into(), Value::Object(types));
        }
        // Aggregates with their state.
        let mut aggs = Map::new();
        for _ in 0..self.rng.range(1, 2) {
            let aname = self.fresh(&mut ctx, "");
            for derived in ["Status", "Command", "Event"] {
                let d = format!("{aname}{derived}");
                self.take(&mut ctx, &d);
            }
            let id = *self.rng.pick(&["uuid", "string", "i64"]);
            let mut statuses: Vec<String> = Vec::new();
            for _ in 0..self.rng.range(1, 3) {
                let s = self.rng.pick(VARIANTS).to_string();
                let pascal = heck::ToUpperCamelCase::to_upper_camel_case(s.as_str());
                if !statuses
                    .iter()
                    .any(|w| heck::ToUpperCamelCase::to_upper_camel_case(w.as_str()) == pascal)
                    && !s.ends_with('_')
                {
                    statuses.push(s);
                }
            }
            if statuses.is_empty() {
                statuses.push("active".into());
            }
            let n = self.rng.range(1, 4);
            let state = self.fields(&ctx, n, &["id", "status"]);
            let mut def = Map::new();
            if id != "uuid" || self.rng.chance(30) {
                def.insert("id".into(), json!(id));
            }
            def.insert("statuses".into(), json!(statuses));
            def.insert("state".into(), self.fields_doc(&state, &name));
            aggs.insert(aname.clone(), Value::Object(def));
            ctx.aggs.push(Agg {
                name: aname,
                id,
                statuses,
                state,
            });
        }
        ctx.doc.insert("aggregates".into(), Value::Object(aggs));
        // Commands and their events, per aggregate.
        for a in 0..ctx.aggs.len() {
            self.aggregate_messages(&mut ctx, a);
        }
        let mut cmds = Map::new();
        let mut events = Map::new();
        for i in 0..ctx.cmds.len() {
            let d = self.command_doc(&ctx, i);
            cmds.insert(ctx.cmds[i].name.clone(), d);
        }
        for i in 0..ctx.events.len() {
            let d = self.event_doc(&ctx, i);
            events.insert(ctx.events[i].name.clone(), d);
        }
        ctx.doc.insert("commands".into(), Value::Object(cmds));
        ctx.doc.insert("events".into(), Value::Object(events));
        ctx
    }

    /// Declares the commands and events of one aggregate: a creating command, a few others,
    /// an internal one for sagas, and their events (some of them rejections).
    pub(super) fn aggregate_messages(&mut self, ctx: &mut Ctx, a: usize) {
        let n = self.rng.range(2, 4);
        for i in 0..n {
            let name = self.fresh(ctx, "Cmd");
            let creates = i == 0;
            let internal = i == n - 1;
            let nf = self.rng.range(0, 3);
            let fields = if internal {
                // Sagas fill these with literals and their own data.
                let mut used = Vec::new();
                (0..nf)
                    .map(|_| {
                        let ty = match self.rng.below(6) {
                            0 => Ty::Str,
                            1 => Ty::Bool,
                            2 => Ty::I32,
                            3 => Ty::Money,
                            4 => Ty::Opt(Box::new(Ty::U32)),
                            _ => Ty::I64,
                        };
                        F {
                            name: self.field_name(&mut used, &[]),
                            ty,
                        }
                    })
                    .collect()
            } else {
                self.fields(ctx, nf, &[])
            };
            let ev = self.event(ctx, a, false);
            let mut emits = vec![ev];
            if self.rng.chance(30) {
                emits.push(self.event(ctx, a, false));
            }
            ctx.cmds.push(Cmd {
                name,
                agg: a,
                fields,
                creates,
                emits,
                internal,
            });
        }
    }

    pub(super) fn event(&mut self, ctx: &mut Ctx, a: usize, rejection: bool) -> usize {
        let name = self.fresh(ctx, "Happened");
        let n = self.rng.range(0, 3);
        let fields = self.fields(ctx, n, &[]);
        ctx.events.push(Ev {
            name,
            agg: a,
            fields,
            rejection,
            live: true,
            from: None,
        });
        ctx.events.len() - 1
    }

    pub(super) fn command_doc(&mut self, ctx: &Ctx, i: usize) -> Value {
        let c = ctx.cmds[i].clone();
        let agg = &ctx.aggs[c.agg];
        let mut m = Map::new();
        m.insert("aggregate".into(), json!(agg.name));
        if self.rng.chance(20) {
            m.insert("description".into(), json!(format!("Does `{}`.", c.name)));
        }
        if c.creates {
            m.insert("creates".into(), json!(true));
        } else if self.rng.chance(20) {
            m.insert("creates".into(), json!(false));
        }
        let plural = format!("r{}", snake(&agg.name).replace('_', "-"));
        if !c.internal && self.rng.chance(80) {
            let path = if c.creates && agg.id == "uuid" {
                format!("/{plural}")
            } else if c.creates {
                format!("/{plural}/{{id}}")
            } else {
                format!("/{plural}/{{id}}/{}", snake(&c.name).replace('_', "-"))
            };
            let method = if c.creates && agg.id != "uuid" {
                "PUT"
            } else {
                *self.rng.pick(&["POST", "PUT", "PATCH", "DELETE"])
            };
            let route = format!("{method} {path}");
            m.insert("route".into(), json!(route));
            m.insert(
                "roles".into(),
                json!(if self.rng.chance(50) {
                    vec!["admin", "self_user"]
                } else {
                    vec!["gen"]
                }),
            );
        }
        let state_fields = {
            let mut s = agg.state.clone();
            s.push(F {
                name: "status".into(),
                ty: Ty::Enum(
                    ctx.name.clone(),
                    format!("{}Status", agg.name),
                    agg.statuses.clone(),
                ),
            });
            s
        };
        if !c.creates && self.rng.chance(50) {
            let allowed: Vec<&String> = agg.statuses.iter().take(self.rng.range(1, 2)).collect();
            m.insert("allowed_in".into(), json!(allowed));
            if self.rng.chance(50) {
                // A rejection event of its own, whose fields come from `with`.
                // A rejection event without fields, declared in `declare_rejections`.
                m.insert(
                    "on_wrong_status".into(),
                    json!(format!("{}Blocked", c.name)),
                );
            }
        }
        if !c.fields.is_empty() {
            m.insert("fields".into(), self.fields_doc(&c.fields, &ctx.name));
        }
        if self.rng.chance(15) {
            // A second schema version whose upcaster drops a field of the first.
            m.insert("version".into(), json!(2));
            m.insert(
                "upcast".into(),
                json!([{ "from": 1, "remove": ["legacy"] }]),
            );
        }
        if self.rng.chance(10) {
            m.insert("deprecated".into(), json!(true));
        }
        let mut rules = Vec::new();
        for r in 0..self.rng.range(0, 3) {
            let mut rule = Map::new();
            rule.insert("name".into(), json!(format!("rule_{r}")));
            if self.rng.chance(15) {
                // Hooks named like methods of `Arc` or keywords, once per context.
                let hook = match ["clone", "as_ref", "into", "to_owned", "gen"].get(i) {
                    Some(h) if self.rng.chance(50) => (*h).to_owned(),
                    _ => format!("check_{}", snake(&c.name)),
                };
                rule.insert("hook".into(), json!(hook));
                // A hook name once per context: the trait has one method per hook.
                if ctx
                    .cmds
                    .iter()
                    .take(i)
                    .any(|o| snake(&o.name) == snake(&c.name))
                {
                    rule.remove("hook");
                }
            }
            if !rule.contains_key("hook") {
                let sources: Vec<(&str, &[F])> = if c.creates {
                    vec![("cmd", &c.fields[..])]
                } else {
                    vec![("cmd", &c.fields[..]), ("state", &state_fields[..])]
                };
                let e = self.bool_expr(&sources, ctx);
                rule.insert("check".into(), json!(e));
            }
            if self.rng.chance(50) {
                rule.insert("message".into(), json!("rule \"failed\""));
            }
            if self.rng.chance(30) {
                rule.insert("reject".into(), self.rejection(ctx, &c, &state_fields));
            }
            rules.push(Value::Object(rule));
        }
        // Only one hook per rule list; keep distinct hook names.
        let mut hooks_seen = 0;
        rules.retain(|r| {
            if r.get("hook").is_some() {
                hooks_seen += 1;
                hooks_seen == 1
            } else {
                true
            }
        });
        if !rules.is_empty() {
            m.insert("rules".into(), json!(rules));
        }
        let emits: Vec<Value> = c
            .emits
            .iter()
            .map(|&e| self.emit_doc(ctx, &c, e, &state_fields))
            .collect();
        m.insert("emits".into(), json!(emits));
        Value::Object(m)
    }

    /// A rejection: `{ event, with }` naming a fresh rejection event declared later. The
    /// generator declares rejection events on the fly in [`Gen::pending_rejections`].
    pub(super) fn rejection(&mut self, ctx: &Ctx, c: &Cmd, state: &[F]) -> Value {
        // Rejection events reuse the emitted event's shape: they name an existing event
        // only when it has no `apply`. Simplest: a dedicated event name derived from the
        // command, with fields taken from the command.
        let _ = (ctx, state);
        let name = format!("{}Refused", c.name);
        if self.rng.chance(50) {
            json!({ "event": name, "with": { "reason": "\"refused \\\" here\"" } })
        } else {
            json!({ "event": name, "with": { "reason": "\"no\"" } })
        }
    }

    pub(super) fn emit_doc(&mut self, ctx: &Ctx, c: &Cmd, e: usize, state: &[F]) -> Value {
        let ev = &ctx.events[e];
        let mut with = Map::new();
        let state_src: &[F] = if c.creates { &[] } else { state };
        for f in &ev.fields {
            let by_name = c.fields.iter().any(|g| g.name == f.name && g.ty == f.ty)
                || (!c.creates && state.iter().any(|g| g.name == f.name && g.ty == f.ty));
            if by_name && self.rng.chance(60) {
                continue;
            }
            let sources: Vec<(&str, &[F])> = vec![("cmd", &c.fields[..]), ("state", state_src)];
            let v = self
                .value_expr(&f.ty, &sources, ctx)
                .or_else(|| self.meta_expr(&f.ty, &ctx.aggs[c.agg]));
            match v {
                Some(v) => {
                    with.insert(f.name.clone(), json!(v));
                }
                None => return json!(null),
            }
        }
        if with.is_empty() && self.rng.chance(60) {
            json!(ev.name)
        } else {
            json!({ "event": ev.name, "with": with })
        }
    }

    pub(super) fn event_doc(&mut self, ctx: &Ctx, i: usize) -> Value {
        let ev = ctx.events[i].clone();
        let agg = &ctx.aggs[ev.agg];
        let mut m = Map::new();
        if self.rng.chance(20) {
            m.insert("description".into(), json!("An event."));
        }
        if !ev.fields.is_empty() {
            m.insert("fields".into(), self.fields_doc(&ev.fields, &ctx.name));
            if self.rng.chance(20) {
                // Version 3: the first field had another name in version 1.
                let first = &ev.fields[0].name;
                m.insert("version".into(), json!(3));
                m.insert(
                    "upcast".into(),
                    json!([
                        { "from": 1, "rename": { format!("old_{first}"): first } },
                        { "from": 2, "remove": ["gone"] }
                    ]),
                );
            }
        }
        if ev.rejection {
            return Value::Object(m);
        }
        let mut apply = Map::new();
        let mut touched: Vec<String> = Vec::new();
        let copy: Vec<String> = agg
            .state
            .iter()
            .filter(|s| ev.fields.iter().any(|f| f.name == s.name && f.ty == s.ty))
            .filter(|_| self.rng.chance(60))
            .map(|s| s.name.clone())
            .collect();
        touched.extend(copy.iter().cloned());
        if !copy.is_empty() {
            apply.insert("copy".into(), json!(copy));
        }
        let sources: Vec<(&str, &[F])> = vec![("event", &ev.fields[..])];
        for s in &agg.state {
            if touched.contains(&s.name) || !self.rng.chance(50) {
                continue;
            }
            let op = match &s.ty {
                t if t.is_int() => *self.rng.pick(&["set", "increment", "decrement"]),
                Ty::List(_) => *self.rng.pick(&["set", "add", "remove"]),
                _ => "set",
            };
            let want = match (&s.ty, op) {
                (Ty::List(inner), "add" | "remove") => (**inner).clone(),
                (t, _) => t.clone(),
            };
            let v = self
                .value_expr(&want, &sources, ctx)
                .or_else(|| self.meta_expr(&want, agg));
            let Some(v) = v else { continue };
            // `None` fills an optional value, not an item to add to or remove from a list.
            if v == "None" && op != "set" {
                continue;
            }
            touched.push(s.name.clone());
            apply
                .entry(op.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("map")
                .insert(s.name.clone(), json!(v));
        }
        if self.rng.chance(50) {
            apply.insert("status".into(), json!(self.rng.pick(&agg.statuses)));
        }
        if !apply.is_empty() {
            m.insert("apply".into(), Value::Object(apply));
        }
        Value::Object(m)
    }

    /// Declares the `<Command>Refused` rejection events that rules and `on_wrong_status` name.
    pub(super) fn declare_rejections(&mut self, ctx: &mut Ctx) {
        let mut names: Vec<(String, usize)> = Vec::new();
        let cmds = ctx.doc.get("commands").cloned().unwrap_or(json!({}));
        for (cname, def) in cmds.as_object().expect("commands") {
            let text = def.to_string();
            let agg = ctx
                .cmds
                .iter()
                .find(|c| c.name == *cname)
                .map(|c| c.agg)
                .unwrap_or(0);
            for suffix in ["Refused", "Blocked"] {
                if text.contains(&format!("{cname}{suffix}")) {
                    names.push((format!("{cname}{suffix}"), agg));
                }
            }
        }
        // Commands whose emit could not be built are dropped: an emit of `null`.
        let mut dropped = Vec::new();
        if let Some(cmds) = ctx.doc.get_mut("commands").and_then(Value::as_object_mut) {
            cmds.retain(|name, def| {
                let bad = def["emits"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(Value::is_null));
                if bad {
                    dropped.push(name.clone());
                }
                !bad
            });
        }
        ctx.cmds.retain(|c| !dropped.contains(&c.name));
        names.retain(|(n, _)| {
            !dropped
                .iter()
                .any(|d| format!("{d}Refused") == *n || format!("{d}Blocked") == *n)
        });
        // Events no command emits any more are dropped with their commands.
        let emitted: Vec<usize> = ctx.cmds.iter().flat_map(|c| c.emits.clone()).collect();
        let unemitted: Vec<String> = ctx
            .events
            .iter()
            .enumerate()
            .filter(|(i, _)| !emitted.contains(i))
            .map(|(_, e)| e.name.clone())
            .collect();
        if let Some(evs) = ctx.doc.get_mut("events").and_then(Value::as_object_mut) {
            evs.retain(|n, _| !unemitted.contains(n));
        }
        for e in &mut ctx.events {
            e.live = !unemitted.contains(&e.name);
        }
        for (name, agg) in names {
            let mut fresh = name.clone();
            if !self.free(ctx, &fresh) {
                // Taken (rare): the rejection keeps its name only if it is this one.
                fresh = format!("{name}X");
            }
            self.take(ctx, &fresh);
            if fresh != name
                && let Some(cmds) = ctx.doc.get_mut("commands")
            {
                let text = cmds
                    .to_string()
                    .replace(&format!("\"{name}\""), &format!("\"{fresh}\""));
                *cmds = serde_json::from_str(&text).expect("json");
            }
            let blocked = name.ends_with("Blocked");
            if let Some(evs) = ctx.doc.get_mut("events").and_then(Value::as_object_mut) {
                evs.insert(
                    fresh.clone(),
                    if blocked {
                        json!({})
                    } else {
                        json!({ "fields": { "reason": "string?" } })
                    },
                );
            }
            ctx.events.push(Ev {
                name: fresh,
                agg,
                fields: if blocked {
                    Vec::new()
                } else {
                    vec![F {
                        name: "reason".into(),
                        ty: Ty::Opt(Box::new(Ty::Str)),
                    }]
                },
                from: None,
                rejection: true,
                live: true,
            });
        }
        // Drop aggregates whose commands were all dropped.
        let _ = &ctx.aggs;
    }
}
