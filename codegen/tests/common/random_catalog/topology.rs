//! The topology file, and the name collisions planted in invalid catalogs.

use super::*;

impl Gen<'_> {
    pub(super) fn topology(&mut self) -> Value {
        let mut t = Map::new();
        if self.rng.chance(50) {
            t.insert(
                "naming".into(),
                json!({
                    "command_queue": "{context}.cmd-q",
                    "event_exchange": "{context}.evt-x",
                    "saga_queue": "sagas.{saga}",
                    "dead_letter_queue": "{queue}.dead",
                    "retry_queue": "{queue}.again.{delay}",
                }),
            );
        }
        if self.rng.chance(50) {
            let classic = self.rng.chance(30);
            let mut d = Map::new();
            d.insert(
                "queue_type".into(),
                json!(if classic { "classic" } else { "quorum" }),
            );
            d.insert("prefetch".into(), json!(self.rng.range(1, 100)));
            if !classic {
                d.insert("delivery_limit".into(), json!(self.rng.range(1, 20)));
            }
            d.insert("retry_delays".into(), json!(["1s", "30s"]));
            d.insert("max_attempts".into(), json!(self.rng.range(1, 9)));
            t.insert("defaults".into(), Value::Object(d));
        }
        let mut processes = Map::new();
        for c in &self.contexts {
            if self.rng.chance(30) {
                let p = *self
                    .rng
                    .pick(&["command-handler", "event-handler", "command-api"]);
                processes.insert(
                    format!("{}.{p}", c.name),
                    json!({ "prefetch": self.rng.range(1, 64) }),
                );
            }
        }
        if let Some(saga) = self.saga_names.first()
            && self.rng.chance(50)
        {
            processes.insert(
                format!("saga.{saga}"),
                json!({ "prefetch": 4, "max_attempts": 2 }),
            );
        }
        if !processes.is_empty() {
            t.insert("processes".into(), Value::Object(processes));
        }
        Value::Object(t)
    }

    /// Plants a collision the generator cannot rename away; returns what was planted.
    pub(super) fn plant(&mut self, files: &mut [SourceFile]) -> String {
        let ctx = self.contexts[0].clone();
        let agg = &ctx.aggs[0];
        let file = files
            .iter_mut()
            .find(|f| f.path == format!("catalog/{}.yaml", ctx.name))
            .expect("context file");
        let mut doc: Value = serde_saphyr::from_str(&file.text).expect("own json");
        let what = match self.rng.below(7) {
            0 => {
                // An event named like the aggregate's generated command enum.
                let name = format!("{}Command", agg.name);
                doc["events"][&name] = json!({});
                doc["commands"]["PlantedCmd"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": [name] });
                format!("an event named `{name}`")
            }
            1 => {
                // Two variants that are one Rust variant.
                doc["types"]["PlantedEnum"] = json!({ "variants": ["v1", "v_1"] });
                "variants `v1` and `v_1`".to_owned()
            }
            2 => {
                // A message differing only in case from another one.
                let other = doc["events"]
                    .as_object()
                    .and_then(|m| m.keys().next().cloned())
                    .unwrap_or_default();
                let mut chars: Vec<char> = other.chars().collect();
                if let Some(last) = chars.last_mut() {
                    *last = if last.is_ascii_uppercase() {
                        last.to_ascii_lowercase()
                    } else {
                        last.to_ascii_uppercase()
                    };
                }
                let name: String = chars.into_iter().collect();
                if other.is_empty()
                    || name == other
                    || !name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                {
                    doc["types"]["PlantedEnum"] = json!({ "variants": ["a_1", "a1"] });
                    "variants `a_1` and `a1`".to_owned()
                } else {
                    doc["events"][&name] = json!({});
                    doc["commands"]["PlantedCmd"] =
                        json!({ "aggregate": agg.name, "creates": true, "emits": [name] });
                    format!("events `{other}` and `{name}`")
                }
            }
            3 => {
                // An aggregate whose module would be a path keyword or a generated module.
                let name = *self
                    .rng
                    .pick(&["Crate", "Super", "Types", "Hooks", "Main", "SelF"]);
                let name = if name == "SelF" { "Self" } else { name };
                doc["aggregates"][name] = json!({ "statuses": ["on"] });
                doc["commands"]["PlantedCmd"] =
                    json!({ "aggregate": name, "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                format!("an aggregate named `{name}`")
            }
            4 => {
                // Two commands whose snake_case names (decide functions) are the same.
                doc["commands"]["HTTPCall"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": ["PlantedHappened"] });
                doc["commands"]["HttpCall"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                "commands `HTTPCall` and `HttpCall`".to_owned()
            }
            6 => {
                // A command whose decide function would be a path keyword.
                doc["commands"]["Super"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                "a command named `Super`".to_owned()
            }
            _ => {
                // Statuses that are one Rust variant.
                doc["aggregates"]["PlantedAgg"] = json!({ "statuses": ["in_1", "in1"] });
                doc["commands"]["PlantedCmd"] = json!({ "aggregate": "PlantedAgg", "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                "statuses `in_1` and `in1`".to_owned()
            }
        };
        *file = SourceFile::new(file.path.clone(), pretty(&doc));
        what
    }
}
