//! `docs/README.md`: the index of the generated documentation.

use super::{Docs, md_cell, saga_slug};
use crate::emit::EmitError;
use askama::Template;
use heck::ToKebabCase;

/// A context row of the index.
pub struct ContextRow {
    /// Name.
    pub name: String,
    /// Kebab-case slug used in file names.
    pub slug: String,
    /// Description, Markdown-escaped.
    pub description: String,
    /// Commands.
    pub commands: usize,
    /// Events.
    pub events: usize,
    /// Read models.
    pub read_models: usize,
}

#[derive(Template)]
#[template(path = "docs/README.md")]
struct IndexTemplate {
    contexts: Vec<ContextRow>,
    sagas: Vec<(String, String)>,
}

/// Renders `docs/README.md`.
pub fn render(docs: &Docs<'_>) -> Result<String, EmitError> {
    IndexTemplate {
        contexts: docs
            .model
            .contexts
            .iter()
            .map(|c| ContextRow {
                name: c.name.clone(),
                slug: c.name.to_kebab_case(),
                description: md_cell(c.description.as_deref().unwrap_or("")),
                commands: c.commands.len(),
                events: c.events.len(),
                read_models: c.read_models.len(),
            })
            .collect(),
        sagas: docs
            .model
            .sagas
            .iter()
            .map(|s| (s.name.clone(), saga_slug(&s.name)))
            .collect(),
    }
    .render()
    .map_err(|e| EmitError(format!("docs/README.md: {e}")))
}
