//! `docs/rabbitmq-definitions.json`: the topology in RabbitMQ's definitions format, for
//! `rabbitmqctl import_definitions` (or the management UI's import). Built from
//! [`crate::emit::topology::runtime_topology`] as a `serde_json` value: the same exchanges,
//! queues (with the same `x-*` arguments) and bindings the runtime declares, in its order.
//! Per-replica queue templates (the Command API's outcome queues) are left out, as
//! `runtime::amqp::declare` leaves them out: each replica declares its own exclusive copy.
//! Every object is in the default vhost `/`; rewrite `"vhost"` to import elsewhere.

use runtime::topology::{ArgumentValue, Topology};
use serde_json::{Map, Value, json};

/// The vhost written into the definitions.
pub const VHOST: &str = "/";

/// The definitions document.
pub fn definitions(t: &Topology) -> Value {
    let exchanges: Vec<Value> = t
        .exchanges
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "vhost": VHOST,
                "type": e.kind.as_str(),
                "durable": e.durable,
                "auto_delete": false,
                "internal": false,
                "arguments": {}
            })
        })
        .collect();
    // Per-replica queues are templates; their exclusive copies exist only while a replica
    // is connected and cannot be defined.
    let templates = t.per_replica_templates();
    let queues: Vec<Value> = t
        .queues
        .iter()
        .filter(|q| !q.per_replica)
        .map(|q| {
            let mut args = Map::new();
            for (k, v) in q.amqp_arguments() {
                let v = match v {
                    ArgumentValue::Text(s) => Value::String(s),
                    ArgumentValue::Int(i) => json!(i),
                    ArgumentValue::Bool(b) => json!(b),
                };
                args.insert(k, v);
            }
            json!({
                "name": q.name,
                "vhost": VHOST,
                "durable": q.durable,
                "auto_delete": false,
                "arguments": Value::Object(args)
            })
        })
        .collect();
    let bindings: Vec<Value> = t
        .bindings
        .iter()
        .filter(|b| !templates.contains(b.queue.as_str()))
        .map(|b| {
            json!({
                "source": b.exchange,
                "vhost": VHOST,
                "destination": b.queue,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {}
            })
        })
        .collect();
    json!({
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings
    })
}
