//! Reading a catalog from disk and parsing its YAML files.
//!
//! A catalog root holds `catalog/<context>.yaml` (one file per bounded context),
//! `sagas.yaml` and `topology.yaml` (both optional).

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, SourceFile, Sources, display_path};
use crate::syntax::Pos;
use crate::validate::Parsed;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The path of the saga file, relative to the catalog root.
pub const SAGAS_FILE: &str = "sagas.yaml";
/// The path of the topology file, relative to the catalog root.
pub const TOPOLOGY_FILE: &str = "topology.yaml";
/// The folder of the context files, relative to the catalog root.
pub const CATALOG_DIR: &str = "catalog";

/// Error reading the catalog files themselves (not their content).
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Reads every catalog file under `root`, context files sorted by name.
pub fn read_files(root: &Path) -> Result<Vec<SourceFile>, ReadError> {
    let dir = root.join(CATALOG_DIR);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| ReadError(format!("cannot read `{}`: {e}", dir.display())))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| ReadError(format!("cannot read `{}`: {e}", dir.display())))?
            .path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) && path.is_file()
        {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(ReadError(format!(
            "`{}` holds no `.yaml` file: add one file per bounded context",
            dir.display()
        )));
    }
    for extra in [SAGAS_FILE, TOPOLOGY_FILE] {
        let p = root.join(extra);
        if p.is_file() {
            paths.push(p);
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| ReadError(format!("cannot read `{}`: {e}", p.display())))?;
            Ok(SourceFile::new(display_path(root, &p), text))
        })
        .collect()
}

/// Parses every file by its role (context, sagas, topology), reporting syntax errors.
pub fn parse(sources: &Sources, diagnostics: &mut Diagnostics) -> Parsed {
    let mut parsed = Parsed::default();
    for (id, file) in sources.iter() {
        if file.path == SAGAS_FILE {
            parsed.sagas = parse_one(id, file, diagnostics).map(|v| (id, v));
        } else if file.path == TOPOLOGY_FILE {
            parsed.topology = parse_one(id, file, diagnostics).map(|v| (id, v));
        } else if let Some(ctx) = parse_one(id, file, diagnostics) {
            parsed.contexts.push((id, ctx));
        }
    }
    parsed
}

/// Parses one YAML file into `T`, reporting an empty file or the first syntax or shape error.
pub(crate) fn parse_one<T: DeserializeOwned>(
    id: FileId,
    file: &SourceFile,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    if file.text.trim().is_empty() {
        diagnostics.push(Diagnostic::new(id, Pos::new(1, 1), "the file is empty"));
        return None;
    }
    match serde_saphyr::from_str_with_options::<T>(&file.text, options()) {
        Ok(v) => Some(v),
        Err(e) => {
            let pos = e
                .location()
                .map(|l| {
                    Pos::new(
                        u32::try_from(l.line()).unwrap_or(1).max(1),
                        u32::try_from(l.column()).unwrap_or(1).max(1),
                    )
                })
                .unwrap_or(Pos::new(1, 1));
            let (message, help) = message(e.without_snippet(), file);
            let d = diagnostics.push(Diagnostic::new(id, pos, message));
            d.help = help;
            None
        }
    }
}

/// The deepest nesting of YAML collections (mappings and sequences) a catalog file may have.
/// The deepest the file formats need is about ten; the limit keeps the parser and the
/// deserializer, which recurse, far from the end of the stack.
pub const MAX_YAML_DEPTH: usize = 64;

/// The parser's options: its defaults (duplicate keys rejected, budgets on nodes, aliases
/// and sizes) with the nesting of block and flow collections both limited to
/// [`MAX_YAML_DEPTH`].
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    budget.flow_nesting_limit = MAX_YAML_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The message of a parse error and a hint, in the tool's own words where the parser's would
/// leak its internals (its option names, its recursion, serde's "fields" for YAML keys).
fn message(e: &serde_saphyr::Error, file: &SourceFile) -> (String, Option<String>) {
    use serde_saphyr::Error as E;
    match e {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let keys = expected.join(", ");
            let help = match crate::diagnostic::suggest(field, expected.iter().copied()) {
                Some(hint) => format!("{hint} The keys here are {keys}."),
                None => format!("the keys here are {keys}"),
            };
            (format!("unknown key `{field}`"), Some(help))
        }
        E::SerdeMissingField { field, .. } => {
            (format!("missing key `{field}` in this mapping"), None)
        }
        other => (parser_message(other, file), None),
    }
}

/// The message of any other parse error.
fn parser_message(e: &serde_saphyr::Error, file: &SourceFile) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let too_deep = || format!("the YAML is nested more than {MAX_YAML_DEPTH} levels deep");
    match e {
        E::DuplicateMappingKey { key, location } => {
            let key = key.clone().unwrap_or_else(|| "?".to_owned());
            let first = first_definition(file, &key, location.line(), location.column());
            match first {
                Some(line) => format!("duplicate key `{key}` (first defined at line {line})"),
                None => format!("duplicate key `{key}`"),
            }
        }
        E::Budget { breach, .. } => match breach {
            B::Depth { .. } => too_deep(),
            B::Nodes { .. } | B::Events { .. } | B::ScalarBytes { .. } => {
                "the file is too large: split the catalog into more files".to_owned()
            }
            B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
                "the file uses too many YAML aliases".to_owned()
            }
            _ => "the file exceeds the parser's size limits".to_owned(),
        },
        other => {
            let m = clean_message(&other.to_string());
            if m == "recursion limit exceeded" {
                too_deep()
            } else {
                m
            }
        }
    }
}

/// The line where `key` was first written in the mapping that repeats it at `line`:
/// the nearest line above at the same indentation holding `key:` before the mapping ends
/// (a line indented less).
fn first_definition(file: &SourceFile, key: &str, line: u64, column: u64) -> Option<u32> {
    let line = u32::try_from(line).ok()?;
    let indent = usize::try_from(column).ok()?.checked_sub(1)?;
    let written = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    for l in (1..line).rev() {
        let text = file.line_text(l);
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = text.len() - trimmed.len();
        if at == indent && written.iter().any(|w| trimmed.starts_with(w.as_str())) {
            return Some(l);
        }
        if at < indent {
            return None;
        }
    }
    None
}

/// Strips the parser's own `error: line N column M:` prefix, which diagnostics repeat.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let mut s = first.strip_prefix("error:").unwrap_or(first).trim();
    if let Some(rest) = s.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
        && rest
            .split_once(' ')
            .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
    {
        s = after;
    }
    // The position is shown in front of the message already.
    if let Some(i) = s.rfind(" at line ")
        && s[i + 9..].split_once(", column ").is_some_and(|(l, c)| {
            l.chars().all(|ch| ch.is_ascii_digit()) && c.chars().all(|ch| ch.is_ascii_digit())
        })
    {
        s = &s[..i];
    }
    s.to_owned()
}
