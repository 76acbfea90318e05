//! # codegen
//!
//! Compiles YAML catalogs of message-driven microservices into Rust service crates and the
//! documents people review. The pipeline: catalog YAML ([`syntax`], read by [`load`]) →
//! validated intermediate [`model`] ([`validate`], with positioned [`diagnostic`]s) →
//! emitters, which read only the model. [`diff`] compares two models for a running system.
#![warn(missing_docs)]

pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod init;
pub mod load;
pub mod model;
pub mod project;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod validate;

use diagnostic::{Diagnostic, Diagnostics};
use model::Model;
use source::{SourceFile, Sources};
use std::path::Path;

/// A catalog that failed to load: its files and every problem found.
#[derive(Debug)]
pub struct Report {
    /// The files, for rendering snippets.
    pub sources: Sources,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// The diagnostics rendered with source snippets.
    pub fn render(&self) -> String {
        diagnostic::render(&self.diagnostics, &self.sources)
    }
}

/// Parses and validates catalog files held in memory (paths relative to the catalog root:
/// `catalog/<context>.yaml`, `sagas.yaml`, `topology.yaml`). Warnings are dropped: see
/// [`check_files_warned`].
pub fn check_files(files: Vec<SourceFile>) -> Result<(Model, Sources), Report> {
    check_files_warned(files).map(|c| (c.model, c.sources))
}

/// A catalog without errors: its model, its files and the warnings found.
#[derive(Debug)]
pub struct Checked {
    /// The validated model.
    pub model: Model,
    /// The files, for rendering snippets.
    pub sources: Sources,
    /// Keys that have no effect and similar problems that do not fail the catalog, sorted.
    pub warnings: Vec<Diagnostic>,
}

impl Checked {
    /// The warnings rendered with source snippets and a summary line; empty without any.
    pub fn render_warnings(&self) -> String {
        if self.warnings.is_empty() {
            String::new()
        } else {
            diagnostic::render(&self.warnings, &self.sources)
        }
    }
}

/// Like [`check_files`], keeping the warnings (a failed catalog's [`Report`] holds its
/// warnings next to its errors).
pub fn check_files_warned(files: Vec<SourceFile>) -> Result<Checked, Report> {
    let mut sources = Sources::default();
    for f in files {
        sources.add(f);
    }
    let mut diagnostics = Diagnostics::default();
    let parsed = load::parse(&sources, &mut diagnostics);
    let model = validate::validate(&sources, &parsed, &mut diagnostics);
    match model {
        Some(model) if diagnostics.is_empty() => Ok(Checked {
            model,
            warnings: diagnostics.into_sorted(&sources),
            sources,
        }),
        _ => Err(Report {
            diagnostics: diagnostics.into_sorted(&sources),
            sources,
        }),
    }
}

/// Error loading a catalog from disk.
#[derive(Debug)]
pub enum LoadError {
    /// The files could not be read.
    Read(load::ReadError),
    /// The catalog has problems.
    Invalid(Report),
}

/// Reads, parses and validates the catalog under `root` (warnings dropped: see
/// [`load_catalog_warned`]).
pub fn load_catalog(root: &Path) -> Result<(Model, Sources), LoadError> {
    load_catalog_warned(root).map(|c| (c.model, c.sources))
}

/// Reads, parses and validates the catalog under `root`, keeping the warnings.
pub fn load_catalog_warned(root: &Path) -> Result<Checked, LoadError> {
    let files = load::read_files(root).map_err(LoadError::Read)?;
    check_files_warned(files).map_err(LoadError::Invalid)
}
