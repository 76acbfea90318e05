//! `--accept FILE`: breaking changes made on purpose.
//!
//! The file (conventionally `catalog-changes.yaml`) lists changes by kind and subject, as
//! `codegen diff` prints them:
//!
//! ```yaml
//! accept:
//!   - kind: wire.field-removed
//!     subject: shop.AddItem.note
//!     why: the app stopped sending it in 2.3; the queue was drained   # optional
//! ```
//!
//! An accepted finding is still reported, marked accepted, and does not make `codegen diff`
//! fail. An entry that matches no finding is reported, so stale entries get noticed.

use super::{Finding, Kind};
use serde::Deserialize;

/// The content of an accept file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptFile {
    /// The accepted changes.
    #[serde(default)]
    pub accept: Vec<Accepted>,
}

/// One accepted change.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// A kind code, e.g. `wire.field-removed`.
    pub kind: String,
    /// The subject as printed, e.g. `shop.AddItem.note`.
    pub subject: String,
    /// Why the change is acceptable (for the readers of the file).
    #[serde(default)]
    pub why: Option<String>,
}

impl AcceptFile {
    /// Parses an accept file; every `kind` must be a known code.
    pub fn parse(text: &str) -> Result<AcceptFile, String> {
        if text.trim().is_empty() {
            return Ok(AcceptFile::default());
        }
        let file: AcceptFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        for a in &file.accept {
            if !Kind::ALL.iter().any(|k| k.code() == a.kind) {
                return Err(format!(
                    "unknown kind `{}` (accepted subject `{}`); the kinds are listed in README.md",
                    a.kind, a.subject
                ));
            }
        }
        Ok(file)
    }

    /// Marks the findings the file accepts; returns the entries that match no finding.
    pub fn apply(&self, findings: &mut [Finding]) -> Vec<&Accepted> {
        let mut unused = Vec::new();
        for a in &self.accept {
            let mut used = false;
            for f in findings.iter_mut() {
                if f.kind.code() == a.kind && f.subject == a.subject {
                    f.accepted = true;
                    used = true;
                }
            }
            if !used {
                unused.push(a);
            }
        }
        unused
    }
}
