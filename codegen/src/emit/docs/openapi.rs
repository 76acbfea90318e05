//! `docs/openapi/<context>-command-api.yaml` and `docs/openapi/<context>-query-api.yaml`:
//! OpenAPI 3.1 documents of every Command API and Query API, built as `serde_json` values
//! (OpenAPI 3.1 schemas are JSON Schema 2020-12, from the same builder as the message schemas).
//!
//! They describe what the runtime's HTTP plumbing serves (`runtime::http`): bearer JWT on every
//! route; commands answer `202 Accepted` with `{tracking_id, correlation_id, aggregate_id,
//! status_url}` and a `Location` header, `GET /commands/{id}` gives the status; problems are
//! `application/problem+json`; queries take `field=value` / `field[op]=value` filters,
//! `sort=-field,...`, `page` and `page_size`.

use super::json_schema::{SchemaBuilder, example_object};
use crate::model::{Context, FilterOp, Model, Type};
use heck::{ToLowerCamelCase, ToUpperCamelCase};
use serde_json::{Map, Value, json};

const REF_PREFIX: &str = "#/components/schemas/";
const PROBLEM: &str = "application/problem+json";

fn problem_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Problem",
            json!({
                "type": "object",
                "description": "RFC 9457 problem details.",
                "properties": {
                    "type": {"type": "string", "description": "Problem type URI (urn:problem-type:...)."},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldViolation"}}
                },
                "required": ["type", "title", "status"]
            }),
        ),
        (
            "FieldViolation",
            json!({
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer (RFC 6901) to the field or parameter."},
                    "message": {"type": "string"}
                },
                "required": ["pointer", "message"]
            }),
        ),
    ]
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn responses(codes: &[(&str, &str, &str)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, _, description) in codes {
        m.insert((*name).to_owned(), problem_response(description));
    }
    m
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

const COMMAND_PROBLEMS: [(&str, &str, &str); 8] = [
    (
        "BadRequest",
        "400",
        "The body is not valid JSON for the command, or `x-correlation-id` is not a UUID.",
    ),
    ("Unauthorized", "401", "Missing or invalid bearer token."),
    (
        "Forbidden",
        "403",
        "The caller has none of the allowed roles.",
    ),
    (
        "NotFound",
        "404",
        "No such command status, or a path id that no aggregate can have.",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is above the size limit.",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not declared as JSON (`Content-Type: application/json`).",
    ),
    (
        "UnprocessableEntity",
        "422",
        "The command violates its constraints; `errors` lists each field.",
    ),
    (
        "ServiceUnavailable",
        "503",
        "The broker did not confirm the command; retry later.",
    ),
];

const QUERY_PROBLEMS: [(&str, &str, &str); 4] = [
    (
        "BadQuery",
        "400",
        "Unknown parameter, undeclared filter, operator or sort key, or an unparsable value; `errors` lists each.",
    ),
    ("Unauthorized", "401", "Missing or invalid bearer token."),
    (
        "Forbidden",
        "403",
        "The caller has none of the allowed roles.",
    ),
    (
        "NotFound",
        "404",
        "No such document (or hidden by the row filter).",
    ),
];

fn security() -> Value {
    json!({"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "JWT whose `sub` is the user and whose roles claim lists the caller's roles; the tenant comes from its tenant claim."}})
}

fn finish(
    title: String,
    description: String,
    paths: Map<String, Value>,
    mut schemas: Map<String, Value>,
    builder: SchemaBuilder<'_>,
    problems: &[(&str, &str, &str)],
) -> Value {
    for (k, v) in problem_schemas() {
        schemas.insert(k.to_owned(), v);
    }
    for (k, v) in builder.into_defs() {
        schemas.insert(k, v);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "jsonSchemaDialect": super::json_schema::DIALECT,
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": security(),
            "schemas": schemas,
            "responses": responses(problems)
        }
    })
}

fn path_param(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

/// The Command API of a context.
pub fn command_api(model: &Model, ctx: &Context) -> Value {
    let mut b = SchemaBuilder::new(model, REF_PREFIX);
    let mut paths: Map<String, Value> = Map::new();
    for c in &ctx.commands {
        let Some(route) = &c.route else { continue };
        let mut params = Vec::new();
        if route.has_id() {
            let id_ty = ctx
                .aggregate(&c.aggregate)
                .map(|a| a.id.ty())
                .unwrap_or(Type::String);
            let schema = b.ty(&id_ty, &Default::default());
            params.push(path_param(
                "id",
                schema,
                &format!("Id of the `{}` aggregate.", c.aggregate),
            ));
        }
        params.push(json!({
            "name": "x-correlation-id", "in": "header", "required": false,
            "description": "Correlation id of the flow (a UUID); a new one when absent.",
            "schema": {"type": "string", "format": "uuid"}
        }));
        let mut body = b.object(&c.fields);
        if let Value::Object(o) = &mut body {
            o.insert("title".into(), json!(c.name));
            // Commands refuse unknown fields (nested records do not).
            o.insert("additionalProperties".into(), json!(false));
        }
        let mut responses = Map::new();
        responses.insert(
            "202".into(),
            json!({
                "description": "Accepted: the broker confirmed the command; follow `status_url` for the outcome.",
                "headers": {"Location": {"description": "The status URL.", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommandAccepted"}}}
            }),
        );
        for (name, code, _) in COMMAND_PROBLEMS {
            // 404: an id that no aggregate can have (not a UUID for a UUID id, ...).
            if code != "404" || route.has_id() {
                responses.insert(code.into(), response_ref(name));
            }
        }
        let mut description = c.description.clone().unwrap_or_default();
        if !c.allowed_in.is_empty() {
            description.push_str(&format!(
                "\n\nAllowed when the {} is {}.",
                c.aggregate,
                c.allowed_in.join(" or ")
            ));
        }
        let roles = if c.roles.is_empty() {
            "any authenticated caller".to_owned()
        } else {
            format!("roles: {}", c.roles.join(", "))
        };
        description.push_str(&format!("\n\nAllowed for {roles}."));
        if let Some(d) = &c.versioning.deprecated {
            description.push_str("\n\nDeprecated");
            match &d.note {
                Some(n) => description.push_str(&format!(": {n}")),
                None => description.push('.'),
            }
        }
        let mut op = json!({
            "operationId": c.name.to_lower_camel_case(),
            "summary": format!("{} ({}.{})", c.name, ctx.name, c.name),
            "description": description.trim_start(),
            "tags": [ctx.name],
            "parameters": params,
            "requestBody": {
                "required": true,
                "content": {"application/json": {
                    "schema": body,
                    "example": example_object(model, &c.fields)
                }}
            },
            "responses": responses
        });
        if let Value::Object(o) = &mut op
            && c.versioning.deprecated.is_some()
        {
            o.insert("deprecated".into(), json!(true));
        }
        let entry = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        if let Value::Object(o) = entry {
            o.insert(route.method.to_lowercase(), op);
        }
    }
    let mut status_responses = Map::new();
    status_responses.insert(
        "200".into(),
        json!({"description": "Where the command is.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommandStatus"}}}}),
    );
    status_responses.insert("401".into(), response_ref("Unauthorized"));
    status_responses.insert("403".into(), response_ref("Forbidden"));
    status_responses.insert("404".into(), response_ref("NotFound"));
    paths.insert(
        "/commands/{id}".into(),
        json!({"get": {
            "operationId": "getCommandStatus",
            "summary": "Status of an accepted command",
            "tags": [ctx.name],
            "parameters": [path_param("id", json!({"type": "string", "format": "uuid"}), "The `tracking_id` of the command.")],
            "responses": status_responses
        }}),
    );
    let mut schemas = Map::new();
    schemas.insert(
        "CommandAccepted".into(),
        json!({
            "type": "object",
            "properties": {
                "tracking_id": {"type": "string", "format": "uuid", "description": "The command's message id."},
                "correlation_id": {"type": "string", "format": "uuid"},
                "aggregate_id": {"type": "string", "description": "Target aggregate (new for creating commands)."},
                "status_url": {"type": "string", "description": "`/commands/{tracking_id}`."}
            },
            "required": ["tracking_id", "correlation_id", "aggregate_id", "status_url"]
        }),
    );
    schemas.insert(
        "CommandStatus".into(),
        json!({
            "type": "object",
            "properties": {
                "tracking_id": {"type": "string", "format": "uuid"},
                "status": {"type": "string", "enum": ["accepted", "processed", "rejected"]},
                "command_type": {"type": "string"},
                "correlation_id": {"type": "string", "format": "uuid"},
                "aggregate_id": {"type": "string"},
                "code": {"type": "string", "description": "Rejection code (the rule name)."},
                "message": {"type": "string", "description": "Rejection message."},
                "event_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                "aggregate_version": {"type": "integer", "format": "int64"},
                "updated_at": {"type": "string", "format": "date-time"}
            },
            "required": ["tracking_id", "status", "correlation_id", "event_ids", "updated_at"]
        }),
    );
    finish(
        format!("{} Command API", ctx.name.to_upper_camel_case()),
        format!(
            "Write requests of the `{}` context: each route validates its command and enqueues it (`202 Accepted`). {}",
            ctx.name,
            ctx.description.clone().unwrap_or_default()
        )
        .trim_end()
        .to_owned(),
        paths,
        schemas,
        b,
        &COMMAND_PROBLEMS,
    )
}

fn filter_schema(b: &mut SchemaBuilder<'_>, ty: &Type, op: FilterOp) -> Value {
    let inner = match ty {
        Type::Optional(t) => t.as_ref(),
        t => t,
    };
    if op == FilterOp::In {
        // Comma-separated values, each of which the server parses like a single one.
        let one = match inner {
            t if t.is_integer() => Some("-?[0-9]+".to_owned()),
            Type::Enum(name) => match b.model().value_type(name).map(|v| &v.kind) {
                Some(crate::model::ValueKind::Enum(vs)) => Some(format!("({})", vs.join("|"))),
                _ => None,
            },
            Type::Bool => Some("(true|false)".to_owned()),
            _ => None,
        };
        let mut schema = json!({"type": "string", "description": "Comma-separated values."});
        if let Some(one) = one {
            schema["pattern"] = json!(format!("^{one}(,{one})*$"));
        }
        return schema;
    }
    let mut schema = b.ty(inner, &Default::default());
    // Stored documents hold signed 64-bit integers: a u64 filter goes up to i64::MAX.
    if matches!(inner, Type::U64) {
        schema["maximum"] = json!(i64::MAX);
    }
    schema
}

/// The Query API of a context.
pub fn query_api(model: &Model, ctx: &Context) -> Value {
    let mut b = SchemaBuilder::new(model, REF_PREFIX);
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rm in &ctx.read_models {
        let mut doc = b.object(&rm.fields);
        if let Value::Object(o) = &mut doc {
            if let Some(d) = &rm.description {
                o.insert("description".into(), json!(d));
            }
            o.insert("title".into(), json!(rm.name));
        }
        schemas.insert(rm.name.clone(), doc);
        let Some(q) = &rm.query else { continue };
        let mut params = Vec::new();
        for (field, ops) in &q.filters {
            let Some(f) = rm.fields.iter().find(|f| &f.name == field) else {
                continue;
            };
            for op in ops {
                let name = if *op == FilterOp::Eq {
                    field.clone()
                } else {
                    format!("{field}[{}]", op.name())
                };
                params.push(json!({
                    "name": name, "in": "query", "required": false,
                    "description": format!("Filter: `{field}` {} the value.", match op {
                        FilterOp::Eq => "equals",
                        FilterOp::Ne => "differs from",
                        FilterOp::Gt => "is greater than",
                        FilterOp::Gte => "is at least",
                        FilterOp::Lt => "is less than",
                        FilterOp::Lte => "is at most",
                        FilterOp::In => "is one of",
                    }),
                    "schema": filter_schema(&mut b, &f.ty, *op)
                }));
            }
        }
        if !q.sort.is_empty() {
            let alt = q.sort.join("|");
            let default = q
                .default_sort
                .as_ref()
                .map(|(f, desc)| format!(" Default: `{}{f}`.", if *desc { "-" } else { "" }))
                .unwrap_or_default();
            params.push(json!({
                "name": "sort", "in": "query", "required": false,
                "description": format!("Comma-separated sort keys, `-` for descending: {}.{default}", q.sort.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")),
                "schema": {"type": "string", "pattern": format!("^(-?({alt})(,-?({alt}))*)?$")}
            }));
        }
        params.push(json!({"name": "page", "in": "query", "required": false, "description": "Page number, from 1.", "schema": {"type": "integer", "minimum": 1, "maximum": runtime::read_model::MAX_PAGE, "default": 1}}));
        params.push(json!({"name": "page_size", "in": "query", "required": false, "description": format!("Items per page; larger values are capped at {}.", q.max_page_size), "schema": {"type": "integer", "minimum": 1, "default": q.page_size}}));
        let roles = if q.roles.is_empty() {
            "any authenticated caller".to_owned()
        } else {
            format!("roles: {}", q.roles.join(", "))
        };
        let row = q
            .row_filter
            .as_ref()
            .map(|r| {
                let except = if r.except_roles.is_empty() {
                    String::new()
                } else {
                    format!(" (except for roles {})", r.except_roles.join(", "))
                };
                format!(
                    " Only documents whose `{}` equals the token's `{}` claim are visible{except}.",
                    r.field, r.claim
                )
            })
            .unwrap_or_default();
        let access =
            format!("Allowed for {roles}. Documents of other tenants are never visible.{row}");
        let item_ref = json!({"$ref": format!("{REF_PREFIX}{}", rm.name)});
        let mut list_responses = Map::new();
        list_responses.insert(
            "200".into(),
            json!({"description": "One page of documents.", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "total": {"type": "integer", "minimum": 0, "description": "Matching documents, all pages."},
                    "page": {"type": "integer", "minimum": 1},
                    "page_size": {"type": "integer", "minimum": 1},
                    "items": {"type": "array", "items": item_ref}
                },
                "required": ["total", "page", "page_size", "items"]
            }}}}),
        );
        list_responses.insert("400".into(), response_ref("BadQuery"));
        list_responses.insert("401".into(), response_ref("Unauthorized"));
        list_responses.insert("403".into(), response_ref("Forbidden"));
        paths.insert(
            q.path.clone(),
            json!({"get": {
                "operationId": format!("list{}", rm.name),
                "summary": format!("List {}", rm.name),
                "description": format!("{} {access}", rm.description.clone().unwrap_or_default()).trim_start(),
                "tags": [ctx.name],
                "parameters": params,
                "responses": list_responses
            }}),
        );
        let key = rm.key_field();
        let key_ty = match &key.ty {
            Type::Optional(t) => t.as_ref().clone(),
            t => t.clone(),
        };
        let mut one_responses = Map::new();
        one_responses.insert(
            "200".into(),
            json!({"description": "The document.", "content": {"application/json": {"schema": item_ref}}}),
        );
        one_responses.insert("401".into(), response_ref("Unauthorized"));
        one_responses.insert("403".into(), response_ref("Forbidden"));
        one_responses.insert("404".into(), response_ref("NotFound"));
        let key_schema = b.ty(&key_ty, &Default::default());
        paths.insert(
            format!("{}/{{{}}}", q.path.trim_end_matches('/'), key.name),
            json!({"get": {
                "operationId": format!("get{}", rm.name),
                "summary": format!("Get one {}", rm.name),
                "description": access,
                "tags": [ctx.name],
                "parameters": [path_param(&key.name, key_schema, &format!("The `{}` key.", key.name))],
                "responses": one_responses
            }}),
        );
    }
    finish(
        format!("{} Query API", ctx.name.to_upper_camel_case()),
        format!(
            "Read models of the `{}` context, from MongoDB. {}",
            ctx.name,
            ctx.description.clone().unwrap_or_default()
        )
        .trim_end()
        .to_owned(),
        paths,
        schemas,
        b,
        &QUERY_PROBLEMS,
    )
}
