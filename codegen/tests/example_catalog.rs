//! The shipped example catalog: valid, described by the committed JSON Schemas.

mod common;

use codegen::model::Terminal;

#[test]
fn the_example_catalog_is_valid() {
    let (model, _) =
        codegen::check_files(common::example_files()).unwrap_or_else(|r| panic!("{}", r.render()));
    let names: Vec<&str> = model.contexts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["inventory", "ordering", "payments", "shipping"]);
    let saga = &model.sagas[0];
    assert_eq!(saga.name, "OrderFulfillment");
    let terminals: Vec<(&str, Terminal)> = saga
        .states
        .iter()
        .filter_map(|s| s.terminal.map(|t| (s.name.as_str(), t)))
        .collect();
    assert!(terminals.contains(&("Confirmed", Terminal::Completed)));
    assert!(
        terminals
            .iter()
            .filter(|(_, t)| *t == Terminal::Failed)
            .count()
            >= 3
    );
    // Every step that sends a command has a compensation, except the terminal ones.
    for s in saga.states.iter().filter(|s| s.terminal.is_none()) {
        assert!(s.compensation.is_some(), "{} has no compensation", s.name);
        assert!(s.timeout.is_some(), "{} has no timeout", s.name);
    }
    // Topology resolved from the conventions, with the per-process override.
    let inv = model
        .topology
        .context("inventory")
        .expect("inventory topology");
    assert_eq!(inv.command_queue.name, "inventory.commands");
    assert_eq!(inv.command_queue.settings.prefetch, 64);
    assert_eq!(model.topology.sagas[0].queue.name, "saga.order-fulfillment");
    assert_eq!(
        model.topology.sagas[0].queue.retry_queues[0].1,
        "saga.order-fulfillment.retry.500ms"
    );
}

#[test]
fn the_committed_schemas_are_current() {
    for (name, schema) in codegen::schema::schemas() {
        let committed = std::fs::read_to_string(common::repo_root().join("schema").join(name))
            .expect("committed schema");
        assert_eq!(
            committed,
            codegen::schema::to_json(&schema),
            "schema/{name} is stale: run `codegen schema --out schema`"
        );
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema = codegen::schema::schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("schema")
        .1;
    jsonschema::draft7::new(&serde_json::to_value(&schema).expect("json")).expect("valid schema")
}

fn yaml_to_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("yaml")
}

#[test]
fn the_example_catalog_validates_against_the_schemas() {
    for file in common::example_files() {
        let schema = match file.path.as_str() {
            "sagas.yaml" => "sagas.schema.json",
            "topology.yaml" => "topology.schema.json",
            _ => "context.schema.json",
        };
        let v = validator(schema);
        let value = yaml_to_json(&file.text);
        let errors: Vec<String> = v
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.path);
        assert!(
            file.text.starts_with("# yaml-language-server: $schema="),
            "{} lacks the schema comment",
            file.path
        );
    }
}

#[test]
fn the_schemas_reject_what_the_loader_rejects() {
    let v = validator("context.schema.json");
    for bad in [
        "context: shop\ncommandz: {}\n",
        "context: shop\ncommands:\n  A:\n    aggregate: X\n    emits: [E]\n    creates: maybe\n",
        "description: no context name\n",
    ] {
        assert!(
            !v.is_valid(&yaml_to_json(bad)),
            "the schema accepted {bad:?}"
        );
    }
    let ok = "context: shop\ncommands:\n  A:\n    aggregate: X\n    emits: [E]\n    fields: { q: i32, r: { type: i32, min: 1 } }\n";
    assert!(v.is_valid(&yaml_to_json(ok)));
}

#[test]
fn the_runtime_topology_of_the_example_is_consistent() {
    let (model, _) =
        codegen::check_files(common::example_files()).unwrap_or_else(|r| panic!("{}", r.render()));
    let t = codegen::emit::topology::runtime_topology(&model);
    t.validate().expect("consistent topology");
    assert_eq!(
        t.routes("ordering").expect("routes").command_queue,
        "ordering.commands"
    );
    let saga_queue = t
        .work_queue("saga.order-fulfillment")
        .expect("saga work queue");
    assert_eq!(
        saga_queue
            .retry_tiers
            .iter()
            .map(|r| r.delay_ms)
            .collect::<Vec<_>>(),
        [500, 5000]
    );
    assert_eq!(saga_queue.dead_letter_queue, "saga.order-fulfillment.dlq");
    // The ordering EventHandler listens to every context its read models and
    // policies read: shipping only through its public exchange.
    let bound: Vec<&str> = t
        .bindings
        .iter()
        .filter(|b| b.queue == "ordering.event-handler")
        .map(|b| b.exchange.as_str())
        .collect();
    assert_eq!(
        bound,
        [
            "ordering.events",
            "inventory.events",
            "payments.events",
            "shipping.public"
        ]
    );
    // Outcomes always have a queue, so publishing them is routable.
    assert!(
        t.bindings
            .iter()
            .any(|b| b.exchange == "payments.outcomes" && b.queue == "payments.command-api")
    );
}
