//! `docs/asyncapi.yaml`: an AsyncAPI 3.0 document of every message, built as a `serde_json`
//! value and written by the [`super::yaml`] writer.
//!
//! - one channel per command queue (AMQP binding `is: queue`) and per event exchange and
//!   public exchange (`is: routingKey`, fanout exchange);
//! - one operation per (process, action, channel): the processes that send or publish a
//!   message, and those that receive it;
//! - one component message per command and event: JSON payload schema (from the model's types
//!   and constraints), the metadata headers, and the AMQP `type` property as `messageType`;
//! - value types as component schemas (`#/components/schemas/<context>.<Type>`).

use super::Docs;
use super::json_schema::{SchemaBuilder, example_object};
use serde_json::{Map, Value, json};

/// AMQP bindings version used throughout.
pub const AMQP_BINDING_VERSION: &str = "0.3.0";

fn key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The schema of the AMQP headers every message carries.
pub fn headers_schema() -> Value {
    json!({
        "type": "object",
        "description": "Message metadata as AMQP headers. The properties carry the rest: message_id (UUID), correlation_id (UUID), type (context.Name), timestamp, content_type application/json, delivery_mode 2.",
        "properties": {
            "x-tenant-id": {"type": "string", "description": "Tenant of the message."},
            "x-schema-version": {"type": "integer", "minimum": 1, "description": "Schema version of the payload."},
            "x-created-at": {"type": "string", "format": "date-time", "description": "Creation time, RFC 3339 with full precision."},
            "x-causation-id": {"type": "string", "format": "uuid", "description": "Id of the message that caused this one."},
            "x-user-id": {"type": "string", "description": "User who started the flow."},
            "x-aggregate-id": {"type": "string", "description": "Target or source aggregate id."},
            "x-aggregate-version": {"type": "integer", "description": "Aggregate version after the event."},
            "traceparent": {"type": "string", "description": "W3C trace context."},
            "x-voids": {"type": "string", "description": "Commands only: comma-separated ids of the commands this one makes void (a saga's compensation lists the attempts of the step it undoes)."},
            "x-attempt": {"type": "integer", "minimum": 1, "description": "Handling attempt, set by delayed retries."}
        },
        "required": ["x-tenant-id", "x-schema-version", "x-created-at"]
    })
}

/// The AsyncAPI document.
pub fn document(docs: &Docs<'_>) -> Value {
    let model = docs.model;
    let mut schemas = SchemaBuilder::new(model, "#/components/schemas/");
    let mut messages = Map::new();
    let mut channels = Map::new();
    // (operation id, action, channel id, process, message keys)
    let mut ops: Vec<(String, &'static str, String, String, Vec<String>)> = Vec::new();
    for ctx in &model.contexts {
        let Some(t) = model.topology.context(&ctx.name) else {
            continue;
        };
        let cq = key(&t.command_queue.name);
        channels.insert(
            cq.clone(),
            json!({
                "address": t.command_queue.name,
                "title": format!("Commands of {}", ctx.name),
                "description": format!("Queue of the `{}` commands, consumed by its CommandHandler. Published on the default exchange with the queue name as routing key.", ctx.name),
                "messages": {},
                "bindings": {"amqp": {
                    "is": "queue",
                    "queue": {"name": t.command_queue.name, "durable": true, "exclusive": false, "autoDelete": false, "vhost": "/"},
                    "bindingVersion": AMQP_BINDING_VERSION
                }}
            }),
        );
        let ex = key(&t.event_exchange);
        channels.insert(
            ex.clone(),
            json!({
                "address": t.event_exchange,
                "title": format!("Events of {}", ctx.name),
                "description": format!("Fanout exchange of the `{}` events; every subscriber has its own queue bound to it.", ctx.name),
                "messages": {},
                "bindings": {"amqp": {
                    "is": "routingKey",
                    "exchange": {"name": t.event_exchange, "type": "fanout", "durable": true, "autoDelete": false, "vhost": "/"},
                    "bindingVersion": AMQP_BINDING_VERSION
                }}
            }),
        );
        if let Some(public) = &t.public_exchange {
            channels.insert(
                key(public),
                json!({
                    "address": public,
                    "title": format!("Public events of {}", ctx.name),
                    "description": format!("Fanout exchange of the `{}` public (integration) events, published by its EventHandler; every subscriber has its own queue bound to it.", ctx.name),
                    "messages": {},
                    "bindings": {"amqp": {
                        "is": "routingKey",
                        "exchange": {"name": public, "type": "fanout", "durable": true, "autoDelete": false, "vhost": "/"},
                        "bindingVersion": AMQP_BINDING_VERSION
                    }}
                }),
            );
        }
    }
    for m in &docs.messages {
        let mkey = key(&m.id());
        let mut payload = schemas.object(m.fields);
        if let (Value::Object(o), Some(d)) = (&mut payload, m.description) {
            o.insert("description".into(), json!(d));
        }
        let mut msg = Map::new();
        msg.insert("name".into(), json!(m.name.name));
        msg.insert("title".into(), json!(m.id()));
        if let Some(d) = m.description {
            msg.insert("summary".into(), json!(d));
        }
        let v = m.versioning();
        if v.version != 1 {
            // AsyncAPI's own message `version` field does not exist in 3.0: an extension, as
            // the `x-schema-version` header the message carries.
            msg.insert("x-schema-version".into(), json!(v.version));
        }
        if v.deprecated.is_some() {
            msg.insert("x-deprecated".into(), json!(true));
            if let Value::Object(o) = &mut payload {
                o.insert("deprecated".into(), json!(true));
            }
        }
        if let Some(owner) = &v.owner {
            msg.insert("x-owner".into(), json!(owner));
        }
        msg.insert("contentType".into(), json!("application/json"));
        let headers = json!({"$ref": "#/components/schemas/MessageHeaders"});
        let headers = if v.version == 1 {
            headers
        } else {
            json!({"allOf": [headers, {"properties": {"x-schema-version": {
                "const": v.version,
                "description": "Writers of this catalog send this version; readers upcast older ones."
            }}}]})
        };
        msg.insert("headers".into(), headers);
        msg.insert("payload".into(), payload);
        msg.insert(
            "tags".into(),
            json!([{"name": m.name.context}, {"name": m.kind.as_str()}]),
        );
        msg.insert(
            "bindings".into(),
            json!({"amqp": {"messageType": m.type_name(), "bindingVersion": AMQP_BINDING_VERSION}}),
        );
        msg.insert(
            "examples".into(),
            json!([{"name": "example", "payload": example_object(model, m.fields)}]),
        );
        messages.insert(mkey.clone(), Value::Object(msg));
        let channel = key(&m.carrier);
        if let Some(Value::Object(c)) = channels.get_mut(&channel)
            && let Some(Value::Object(ms)) = c.get_mut("messages")
        {
            ms.insert(
                mkey.clone(),
                json!({"$ref": format!("#/components/messages/{mkey}")}),
            );
        }
        for (procs, action) in [(&m.producers, "send"), (&m.consumers, "receive")] {
            for p in procs {
                let id = format!("{p}--{action}--{channel}");
                match ops.iter_mut().find(|o| o.0 == id) {
                    Some(o) => o.4.push(mkey.clone()),
                    None => ops.push((id, action, channel.clone(), p.clone(), vec![mkey.clone()])),
                }
            }
        }
    }
    let mut operations = Map::new();
    for (id, action, channel, process, msgs) in ops {
        let address = channels
            .get(&channel)
            .and_then(|c| c.get("address"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let verb = if action == "send" {
            "sends to"
        } else {
            "receives from"
        };
        let bindings = if action == "send" {
            json!({"amqp": {"deliveryMode": 2, "mandatory": true, "bindingVersion": AMQP_BINDING_VERSION}})
        } else {
            json!({"amqp": {"ack": true, "bindingVersion": AMQP_BINDING_VERSION}})
        };
        operations.insert(
            id,
            json!({
                "action": action,
                "channel": {"$ref": format!("#/channels/{channel}")},
                "title": format!("{process} {verb} {address}"),
                "messages": msgs.iter().map(|m| json!({"$ref": format!("#/channels/{channel}/messages/{m}")})).collect::<Vec<_>>(),
                "bindings": bindings
            }),
        );
    }
    let mut component_schemas = Map::new();
    component_schemas.insert("MessageHeaders".into(), headers_schema());
    for (k, v) in schemas.into_defs() {
        component_schemas.insert(k, v);
    }
    let contexts: Vec<String> = model
        .contexts
        .iter()
        .map(|c| format!("`{}`", c.name))
        .collect();
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Message catalog",
            "version": "1.0.0",
            "description": format!("Commands and events of the bounded contexts {} and the sagas that coordinate them. Generated by `codegen generate`; do not edit.", contexts.join(", "))
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ broker (the processes read AMQP_URL)."
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": component_schemas,
            "messages": messages
        }
    })
}
