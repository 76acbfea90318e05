//! What the catalog says about its own history: schema versions and upcasters of messages,
//! and deprecations.

/// A deprecated field or message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecation {
    /// What readers should know (what to use instead, when it goes away), if the catalog says.
    pub note: Option<String>,
}

/// One step of a message's upcaster: turns a payload of schema version `from` into version
/// `from + 1`. The runtime applies renames, then removals, then sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Upcast {
    /// The version the step reads.
    pub from: u32,
    /// Fields renamed, `(old, new)`.
    pub renames: Vec<(String, String)>,
    /// Fields dropped.
    pub removes: Vec<String>,
    /// Fields added with a constant JSON value, when missing.
    pub sets: Vec<(String, serde_json::Value)>,
}

/// The evolution attributes shared by commands and events.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioning {
    /// Schema version of the payload (1 unless the catalog raises it).
    pub version: u32,
    /// Upcaster steps, ordered by `from`.
    pub upcasts: Vec<Upcast>,
    /// Set when the message is deprecated.
    pub deprecated: Option<Deprecation>,
    /// Owner of the message (the context's owner unless it names its own).
    pub owner: Option<String>,
}

impl Versioning {
    /// The steps that upgrade a payload written with schema version `old` to this version
    /// (none when the version was not raised), in order — what the runtime applies.
    pub fn upcasts_from(&self, old: u32) -> impl Iterator<Item = &Upcast> {
        let raised = self.version > old;
        self.upcasts.iter().filter(move |s| raised && s.from >= old)
    }

    /// Version 1, no upcaster, not deprecated, no owner.
    pub const EMPTY: Versioning = Versioning {
        version: 1,
        upcasts: Vec::new(),
        deprecated: None,
        owner: None,
    };
}

impl Default for Versioning {
    fn default() -> Self {
        Self::EMPTY
    }
}
