//! The file format of `project.yaml`: settings of a generated system that are not part of its
//! catalog (where the generated crates take the `runtime` crate from).

use super::loc::Loc;
use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of a project. Every key is optional; without the file the generated crates use
/// the `runtime/` folder found in the project root or one of its parents.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Where the generated crates and hook crates take the `runtime` crate from: exactly one
    /// of `path`, `git` or `version`.
    #[serde(default)]
    pub runtime: Option<Loc<RuntimeDef>>,
}

/// The `runtime` dependency of the generated crates, written into their `Cargo.toml` exactly
/// as configured.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeDef {
    /// A folder holding the `runtime` crate, relative to the project root or absolute
    /// (e.g. `../msgen/runtime`).
    #[serde(default)]
    pub path: Option<Loc<String>>,
    /// A git repository whose workspace holds the `runtime` crate (pin it with `rev` or
    /// `tag`).
    #[serde(default)]
    pub git: Option<Loc<String>>,
    /// With `git`: a commit.
    #[serde(default)]
    pub rev: Option<Loc<String>>,
    /// With `git`: a tag.
    #[serde(default)]
    pub tag: Option<Loc<String>>,
    /// With `git`: a branch (not reproducible; prefer `rev` or `tag`).
    #[serde(default)]
    pub branch: Option<Loc<String>>,
    /// A version requirement of the `runtime` crate in a registry (e.g. `"0.1"`).
    #[serde(default)]
    pub version: Option<Loc<String>>,
    /// With `version`: the name of a registry configured in `.cargo/config.toml`
    /// (default crates.io).
    #[serde(default)]
    pub registry: Option<Loc<String>>,
}
