//! The documentation deliverables, written under `generated/docs/`:
//!
//! | file | module | how |
//! |---|---|---|
//! | `docs/README.md` (index) | [`index`] | askama, `templates/docs/README.md` |
//! | `docs/catalog.md` | [`message_catalog`] | askama, `templates/docs/catalog.md` |
//! | `docs/process-map.md` | [`process_map`] | askama + Mermaid flowcharts |
//! | `docs/topology.md` | [`topology_doc`] | askama, from [`crate::emit::topology::runtime_topology`] |
//! | `docs/sagas/<saga>.md` | [`saga_diagram`] | askama + Mermaid `stateDiagram-v2` |
//! | `docs/schemas/<context>/<Message>.json` | [`json_schema`] | serde_json values |
//! | `docs/asyncapi.yaml` | [`asyncapi`] | serde_json value → [`yaml`] writer |
//! | `docs/rabbitmq-definitions.json` | [`rabbitmq_definitions`] | serde_json, from `runtime_topology` |
//! | `docs/openapi/<context>-{command,query}-api.yaml` | [`openapi`] | serde_json value → [`yaml`] |
//! | `docs/site/**` | [`site`] | askama HTML + SVG ([`diagram`], `layout-rs`) + JS/CSS |
//!
//! Structured documents (AsyncAPI, OpenAPI, definitions, JSON Schema) are built as
//! `serde_json` values whose maps keep insertion order (catalog order or sorted), then
//! serialized; text documents come from askama templates. Nothing depends on time or on
//! hash order, so the same model always gives byte-identical files.

pub mod asyncapi;
pub mod diagram;
pub mod flows;
pub mod index;
pub mod json_schema;
pub mod message_catalog;
pub mod openapi;
pub mod process_map;
pub mod rabbitmq_definitions;
pub mod saga_diagram;
pub mod site;
pub mod topology_doc;
pub mod yaml;

use crate::emit::{EmitError, Output};
use crate::model::Model;
use flows::MessageDoc;
use heck::ToKebabCase;

/// What every document generator reads: the model, its concrete topology and the message
/// routes.
pub struct Docs<'m> {
    /// The validated model.
    pub model: &'m Model,
    /// The concrete RabbitMQ topology, as the runtime declares it.
    pub topology: runtime::topology::Topology,
    /// Every message with producers, consumers and carrier.
    pub messages: Vec<MessageDoc<'m>>,
}

impl<'m> Docs<'m> {
    /// Gathers what the generators need.
    pub fn new(model: &'m Model) -> Self {
        Self {
            model,
            topology: crate::emit::topology::runtime_topology(model),
            messages: flows::messages(model),
        }
    }
}

/// The file name stem of a saga document: `order-fulfillment`.
pub fn saga_slug(saga: &str) -> String {
    saga.to_kebab_case()
}

/// Text safe inside a Markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `` `a`, `b` `` from a list.
pub fn md_code_list(v: &[String]) -> String {
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds every documentation file of the model to `out`.
pub fn emit(model: &Model, out: &mut Output) -> Result<(), EmitError> {
    let docs = Docs::new(model);
    out.add("docs/README.md", index::render(&docs)?);
    out.add("docs/catalog.md", message_catalog::render(&docs)?);
    out.add("docs/process-map.md", process_map::render(&docs)?);
    out.add("docs/topology.md", topology_doc::render(&docs)?);
    for saga in &model.sagas {
        out.add(
            format!("docs/sagas/{}.md", saga_slug(&saga.name)),
            saga_diagram::render(&docs, saga)?,
        );
    }
    for m in &docs.messages {
        let schema = json_schema::message_schema(
            model,
            &m.type_name(),
            m.description,
            m.fields,
            m.versioning(),
        );
        out.add(
            format!("docs/{}", m.schema_path()),
            json_schema::to_pretty(&schema),
        );
    }
    out.add(
        "docs/asyncapi.yaml",
        yaml::to_yaml(&asyncapi::document(&docs)),
    );
    out.add(
        "docs/rabbitmq-definitions.json",
        json_schema::to_pretty(&rabbitmq_definitions::definitions(&docs.topology)),
    );
    for ctx in &model.contexts {
        let slug = ctx.name.to_kebab_case();
        out.add(
            format!("docs/openapi/{slug}-command-api.yaml"),
            yaml::to_yaml(&openapi::command_api(model, ctx)),
        );
        out.add(
            format!("docs/openapi/{slug}-query-api.yaml"),
            yaml::to_yaml(&openapi::query_api(model, ctx)),
        );
    }
    site::emit(&docs, out)?;
    Ok(())
}
