//! JSON Schemas of the catalog file formats (draft-07, for yaml-language-server).

use crate::syntax::context::ContextFile;
use crate::syntax::project::ProjectFile;
use crate::syntax::saga::SagasFile;
use crate::syntax::topology::TopologyFile;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// The committed schema files: file name and schema, one per catalog file kind.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "context.schema.json",
            schema_for::<ContextFile>("Bounded context catalog (catalog/<context>.yaml)"),
        ),
        (
            "sagas.schema.json",
            schema_for::<SagasFile>("Saga state machines (sagas.yaml)"),
        ),
        (
            "topology.schema.json",
            schema_for::<TopologyFile>("RabbitMQ topology conventions (topology.yaml)"),
        ),
        (
            "project.schema.json",
            schema_for::<ProjectFile>("Project settings (project.yaml)"),
        ),
    ]
}

fn schema_for<T: JsonSchema>(title: &str) -> Schema {
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema
}

/// A schema as pretty JSON with a trailing newline (the committed form).
pub fn to_json(schema: &Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("schemas serialize");
    s.push('\n');
    s
}
