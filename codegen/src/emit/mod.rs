//! Emitters: from the validated model to files under `generated/`.
//!
//! Every emitter adds files to an [`Output`]; [`Output::write`] makes `generated/` exactly
//! that set (files the catalog no longer produces are removed, tracked by a manifest, and
//! nothing else is ever deleted), and [`Output::stale`] reports what differs without writing.

pub mod docs;
pub mod k8s;
mod output;
pub mod rust;
pub mod topology;

pub use output::{Output, WriteSummary};

use crate::model::Model;

/// The output folder, relative to the catalog root.
pub const OUTPUT_DIR: &str = "generated";

/// Error producing output.
#[derive(Debug)]
pub struct EmitError(pub String);

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmitError {}

/// Runs every emitter over the model.
pub fn generate(model: &Model) -> Result<Output, EmitError> {
    generate_with(model, &rust::RustOptions::default())
}

/// Runs every emitter over the model with explicit Rust options.
pub fn generate_with(model: &Model, rust_options: &rust::RustOptions) -> Result<Output, EmitError> {
    let mut output = Output::default();
    rust::emit(model, rust_options, &mut output)?;
    docs::emit(model, &mut output)?;
    k8s::emit(model, &mut output)?;
    Ok(output)
}
