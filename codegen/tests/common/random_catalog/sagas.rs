//! Sagas over the internal commands: sends, timeouts, retries, compensations, captures.

use super::*;

impl Gen<'_> {
    /// Zero to two sagas over the internal commands.
    pub(super) fn sagas(&mut self) -> Option<Value> {
        let mut sagas = Map::new();
        let mut used_names: Vec<String> = Vec::new();
        for _ in 0..self.rng.range(0, 2) {
            // The start: an event of a creating command.
            let starts: Vec<(usize, usize)> = self
                .contexts
                .iter()
                .enumerate()
                .flat_map(|(ci, c)| {
                    c.cmds
                        .iter()
                        .filter(|cmd| cmd.creates)
                        .flat_map(|cmd| cmd.emits.clone())
                        .map(move |e| (ci, e))
                })
                .collect();
            if starts.is_empty() {
                break;
            }
            let (sc, se) = *self.rng.pick(&starts);
            let start_ctx = self.contexts[sc].clone();
            let start_ev = start_ctx.events[se].clone();
            let id_kind = start_ctx.aggs[start_ev.agg].id;
            let corr_ty = match id_kind {
                "uuid" => "uuid",
                "string" => "string",
                _ => "i64",
            };
            // Steps: internal commands of aggregates with the same id kind.
            let steps: Vec<(usize, Cmd)> = self
                .contexts
                .iter()
                .enumerate()
                .flat_map(|(ci, c)| {
                    c.cmds
                        .iter()
                        .filter(|cmd| cmd.internal && c.aggs[cmd.agg].id == id_kind)
                        .map(move |cmd| (ci, cmd.clone()))
                })
                .collect();
            if steps.is_empty() {
                continue;
            }
            let base = self.rng.pick(HOSTILE_PASCAL).to_string();
            let mut name = format!("{base}{}", self.opts.tag.to_uppercase());
            if used_names.contains(&name) {
                name.push('B');
            }
            used_names.push(name.clone());
            let corr = self
                .rng
                .pick(&["key", "data", "id", "gen", "order_id"])
                .to_string();
            let mut data = Map::new();
            let mut init = Map::new();
            data.insert(corr.clone(), json!(corr_ty));
            init.insert(corr.clone(), json!("meta.aggregate_id"));
            // Data fields for the steps' command fields; initialised by `init` or optional.
            let mut data_fields: Vec<F> = vec![F {
                name: corr.clone(),
                ty: match corr_ty {
                    "uuid" => Ty::Uuid,
                    "string" => Ty::Str,
                    _ => Ty::I64,
                },
            }];
            let mut correlate = Map::new();
            let start_full = format!("{}.{}", start_ctx.name, start_ev.name);
            correlate.insert(start_full.clone(), json!("meta.aggregate_id"));
            let nsteps = self.rng.range(1, 3).min(steps.len());
            let mut states = Map::new();
            let state_names: Vec<String> = (0..nsteps)
                .map(|i| format!("{}Step{i}", self.rng.pick(HOSTILE_PASCAL)))
                .collect();
            let done = "Done".to_string();
            let failed = "Failed".to_string();
            for (i, sname) in state_names.iter().enumerate() {
                let (ci, cmd) = steps[self.rng.below(steps.len())].clone();
                let c = self.contexts[ci].clone();
                let c = &c;
                let mut send = Map::new();
                send.insert("command".into(), json!(format!("{}.{}", c.name, cmd.name)));
                send.insert("to".into(), json!(format!("data.{corr}")));
                let mut with = Map::new();
                for f in &cmd.fields {
                    if data_fields.iter().any(|d| d.name == f.name && d.ty == f.ty) {
                        continue;
                    }
                    if self.rng.chance(40)
                        && !data_fields.iter().any(|d| d.name == f.name)
                        && f.name != corr
                    {
                        // Declare a data field of that name, initialised in `init`.
                        let lit = self.literal(&f.ty, c).unwrap_or_else(|| "1".into());
                        data.insert(f.name.clone(), json!(f.ty.spell("")));
                        init.insert(f.name.clone(), json!(lit));
                        data_fields.push(f.clone());
                        continue;
                    }
                    let lit = self.literal(&f.ty, c).unwrap_or_else(|| "1".into());
                    with.insert(f.name.clone(), json!(lit));
                }
                if !with.is_empty() {
                    send.insert("with".into(), Value::Object(with));
                }
                let next = state_names.get(i + 1).unwrap_or(&done).clone();
                let mut st = Map::new();
                st.insert("send".into(), Value::Object(send.clone()));
                let mut on = Map::new();
                for &e in &cmd.emits {
                    // The step may wait for the public event mapped from the domain event.
                    let public = c.events.iter().find(|p| p.from == Some(e));
                    let name = match public {
                        Some(p) if self.rng.chance(50) => &p.name,
                        _ => &c.events[e].name,
                    };
                    let full = format!("{}.{name}", c.name);
                    correlate.insert(full.clone(), json!("meta.aggregate_id"));
                    on.insert(full, json!(next));
                }
                // Rejection events of the command lead to the failed state.
                let refused = format!("{}Refused", cmd.name);
                if c.events.iter().any(|e| e.name == refused && e.rejection) {
                    let full = format!("{}.{refused}", c.name);
                    correlate.insert(full.clone(), json!("meta.aggregate_id"));
                    let mut t = Map::new();
                    t.insert("goto".into(), json!(failed));
                    if i > 0 {
                        t.insert("compensate".into(), json!(true));
                    }
                    if !data.contains_key("reason") && self.rng.chance(70) {
                        data.insert("reason".into(), json!("string?"));
                    }
                    if data.contains_key("reason") {
                        t.insert("capture".into(), json!({ "reason": "event.reason" }));
                    }
                    on.insert(full, Value::Object(t));
                }
                st.insert("on".into(), Value::Object(on));
                if self.rng.chance(60) {
                    st.insert(
                        "timeout".into(),
                        json!(*self.rng.pick(&["30s", "2m", "500ms"])),
                    );
                    if self.rng.chance(50) {
                        st.insert(
                            "retry".into(),
                            json!({ "max_attempts": 3, "initial_delay": "1s", "backoff": 2.0, "max_delay": "10s" }),
                        );
                    }
                    st.insert(
                        "on_timeout".into(),
                        if i > 0 && self.rng.chance(50) {
                            json!({ "goto": failed, "compensate": true })
                        } else {
                            json!(failed)
                        },
                    );
                }
                if self.rng.chance(50) {
                    // Compensation: the same internal command (same context).
                    st.insert("compensate_with".into(), Value::Object(send));
                }
                if self.rng.chance(20) {
                    st.insert("description".into(), json!("A step."));
                }
                states.insert(sname.clone(), Value::Object(st));
            }
            let mut done_def = Map::new();
            done_def.insert("terminal".into(), json!("completed"));
            if self.rng.chance(50) {
                // A terminal send: the first step's command once more.
                if let Some(send) = states
                    .get(&state_names[0])
                    .and_then(|s| s.get("send"))
                    .cloned()
                {
                    done_def.insert("send".into(), send);
                }
            }
            states.insert(done, Value::Object(done_def));
            if states
                .values()
                .any(|s| s.to_string().contains("\"Failed\""))
            {
                states.insert(failed, json!({ "terminal": "failed" }));
            }
            // Every step needs a way out; a failed state must be reachable: fine either way.
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("A saga."));
            }
            def.insert("start".into(), json!(start_full));
            def.insert("correlation".into(), json!(corr));
            def.insert("correlate".into(), Value::Object(correlate));
            def.insert("data".into(), Value::Object(data));
            def.insert("init".into(), Value::Object(init));
            def.insert("initial".into(), json!(state_names[0]));
            def.insert("states".into(), Value::Object(states));
            self.saga_names.push(name.clone());
            sagas.insert(name, Value::Object(def));
        }
        if sagas.is_empty() {
            None
        } else {
            Some(json!({ "sagas": sagas }))
        }
    }
}
