//! Read models: projections from every context, queries, filters and row filters.

use super::*;

impl Gen<'_> {
    /// Adds the read models of context `i` (projections from any context generated so far).
    pub(super) fn read_models(&mut self, i: usize) {
        let mut ctx = std::mem::take(&mut self.contexts[i]);
        let mut rms = Map::new();
        for r in 0..self.rng.range(0, 2) {
            let name = self.fresh(&mut ctx, "View");
            let key_ty = self.rng.pick(&[Ty::Uuid, Ty::Str, Ty::I64]).clone();
            let key = if self.rng.chance(50) {
                "key".to_owned()
            } else {
                self.rng.pick(HOSTILE_SNAKE).to_string()
            };
            let mut fields = vec![F {
                name: key.clone(),
                ty: key_ty.clone(),
            }];
            let mut used = vec![key.clone()];
            for _ in 0..self.rng.range(1, 4) {
                let n = self.field_name(&mut used, &[]);
                let ty = self.ty(&ctx, ctx.types.len(), 0);
                fields.push(F { name: n, ty });
            }
            if self.rng.chance(50) {
                fields.push(F {
                    name: "owner".into(),
                    ty: Ty::Str,
                });
            }
            // Events of every context with an id or field of the key's type.
            let mut from = Map::new();
            let all = self.live_events(&ctx);
            for (cname, ev, agg) in &all {
                if !self.rng.chance(40) {
                    continue;
                }
                let mut cs = Map::new();
                let id_matches = matches!(
                    (agg.id, &key_ty),
                    ("uuid", Ty::Uuid) | ("string", Ty::Str) | ("i64", Ty::I64)
                );
                let named = ev.fields.iter().any(|f| f.name == key);
                let named_ok = ev.fields.iter().any(|f| f.name == key && f.ty == key_ty);
                if let Some(f) = ev.fields.iter().find(|f| f.ty == key_ty)
                    && (self.rng.chance(50) || !id_matches)
                {
                    cs.insert("key".into(), json!(format!("event.{}", f.name)));
                } else if id_matches && (named_ok || !named) && self.rng.chance(50) {
                    // The default key.
                    if named_ok {
                    } else {
                        cs.insert("key".into(), json!("meta.aggregate_id"));
                    }
                } else if id_matches {
                    cs.insert("key".into(), json!("meta.aggregate_id"));
                } else {
                    continue;
                }
                if self.rng.chance(30) {
                    cs.insert("creates".into(), json!(false));
                }
                let mut touched = vec![key.clone()];
                let copy: Vec<String> = fields
                    .iter()
                    .filter(|f| !touched.contains(&f.name))
                    .filter(|f| ev.fields.iter().any(|g| g.name == f.name && g.ty == f.ty))
                    .map(|f| f.name.clone())
                    .collect();
                if !copy.is_empty() && self.rng.chance(70) {
                    touched.extend(copy.iter().cloned());
                    cs.insert("copy".into(), json!(copy));
                }
                let sources: Vec<(&str, &[F])> = vec![("event", &ev.fields[..])];
                for f in &fields {
                    if touched.contains(&f.name) || !self.rng.chance(60) {
                        continue;
                    }
                    let op = match &f.ty {
                        t if t.is_int() => *self.rng.pick(&["set", "increment", "decrement"]),
                        Ty::List(_) => *self.rng.pick(&["set", "add", "remove"]),
                        _ => "set",
                    };
                    let want = match (&f.ty, op) {
                        (Ty::List(inner), "add" | "remove") => (**inner).clone(),
                        (t, _) => t.clone(),
                    };
                    let v = if op == "increment" || op == "decrement" {
                        ev.fields
                            .iter()
                            .find(|g| g.ty.is_numeric_same(&want))
                            .map(|g| format!("event.{}", g.name))
                            .or_else(|| Some("1".into()))
                    } else {
                        self.value_expr(&want, &sources, &ctx)
                            .or_else(|| self.meta_expr(&want, agg))
                    };
                    let Some(v) = v else { continue };
                    // `None` fills an optional value, not an item to add to or remove from a list.
                    if v == "None" && op != "set" {
                        continue;
                    }
                    touched.push(f.name.clone());
                    cs.entry(op.to_owned())
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .expect("map")
                        .insert(f.name.clone(), json!(v));
                }
                let full = if *cname == ctx.name && self.rng.chance(70) {
                    ev.name.clone()
                } else {
                    format!("{cname}.{}", ev.name)
                };
                from.insert(full, Value::Object(cs));
            }
            if from.is_empty() {
                continue;
            }
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("A read model."));
            }
            def.insert("key".into(), json!(key));
            self.defaults = false;
            def.insert("fields".into(), self.fields_doc(&fields, &ctx.name));
            self.defaults = true;
            def.insert("from".into(), Value::Object(from));
            if self.rng.chance(70) {
                def.insert("query".into(), self.query(&fields, r, &name));
            }
            rms.insert(name, Value::Object(def));
        }
        if !rms.is_empty() {
            ctx.doc.insert("read_models".into(), Value::Object(rms));
        }
        self.contexts[i] = ctx;
    }

    pub(super) fn query(&mut self, fields: &[F], r: usize, name: &str) -> Value {
        let mut q = Map::new();
        q.insert(
            "path".into(),
            json!(format!("/q{r}-{}", snake(name).replace('_', "-"))),
        );
        q.insert("roles".into(), json!(["admin", "gen"]));
        let mut filters = Map::new();
        let mut sort = Vec::new();
        for f in fields {
            let base = match &f.ty {
                Ty::Opt(t) => (**t).clone(),
                t => t.clone(),
            };
            let ops: &[&str] = match &base {
                t if t.is_int() => &["eq", "ne", "gt", "gte", "lt", "lte", "in"],
                Ty::Str => &["eq", "ne", "in", "gte"],
                Ty::Bool => &["eq", "ne"],
                Ty::Uuid => &["eq", "in"],
                Ty::Enum(..) => &["eq", "in"],
                _ => &[],
            };
            if !ops.is_empty() && self.rng.chance(50) {
                let n = self.rng.range(1, ops.len().min(3));
                filters.insert(f.name.clone(), json!(ops[..n].to_vec()));
            }
            if (base.is_int() || base == Ty::Str) && self.rng.chance(40) {
                sort.push(f.name.clone());
            }
        }
        if !filters.is_empty() {
            q.insert("filters".into(), Value::Object(filters));
        }
        if !sort.is_empty() {
            if self.rng.chance(50) {
                let s = self.rng.pick(&sort).clone();
                q.insert(
                    "default_sort".into(),
                    json!(if self.rng.chance(50) {
                        format!("-{s}")
                    } else {
                        s
                    }),
                );
            }
            q.insert("sort".into(), json!(sort));
        }
        if self.rng.chance(50) {
            q.insert("page_size".into(), json!(self.rng.range(1, 50)));
            q.insert("max_page_size".into(), json!(self.rng.range(50, 1000)));
        }
        if fields.iter().any(|f| f.name == "owner") && self.rng.chance(70) {
            let mut rf = Map::new();
            rf.insert("field".into(), json!("owner"));
            if self.rng.chance(50) {
                rf.insert("claim".into(), json!("sub"));
            }
            if self.rng.chance(50) {
                rf.insert("except_roles".into(), json!(["admin"]));
            }
            q.insert("row_filter".into(), Value::Object(rf));
        }
        Value::Object(q)
    }
}
