//! Diagnostics: every problem of a catalog, reported at once as
//! `path/to/file.yaml:LINE:COL: error: message` followed by a source snippet.

use crate::source::{FileId, Sources};
use crate::syntax::Pos;
use std::fmt::Write as _;

/// One problem found in a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: FileId,
    /// Where the problem starts.
    pub pos: Pos,
    /// How many characters to underline (at least one is).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// A hint on how to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a position.
    pub fn new(file: FileId, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            file,
            pos,
            len: 1,
            message: message.into(),
            help: None,
        }
    }

    /// Underlines `len` characters.
    #[must_use]
    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len.max(1);
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Collects diagnostics while a catalog is loaded and validated.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a diagnostic and returns it for refinement.
    pub fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.items.push(diagnostic);
        self.items.last_mut().expect("just pushed")
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many diagnostics were reported.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The diagnostics sorted by file, line and column, duplicates removed.
    pub fn into_sorted(mut self, sources: &Sources) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (&sources.get(a.file).path, a.pos, &a.message).cmp(&(
                &sources.get(b.file).path,
                b.pos,
                &b.message,
            ))
        });
        self.items.dedup();
        self.items
    }
}

/// Renders diagnostics with snippets, one blank line between them, and a summary line.
pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        render_one(&mut out, d, sources);
        out.push('\n');
    }
    let n = diagnostics.len();
    let _ = writeln!(
        out,
        "error: the catalog has {n} problem{}",
        if n == 1 { "" } else { "s" }
    );
    out
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &Sources) {
    let file = sources.get(d.file);
    if !d.pos.is_known() {
        let _ = writeln!(out, "{}: error: {}", file.path, d.message);
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        return;
    }
    let _ = writeln!(
        out,
        "{}:{}:{}: error: {}",
        file.path, d.pos.line, d.pos.column, d.message
    );
    let line = file.line_text(d.pos.line);
    let gutter = d.pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | {}", d.pos.line, line.replace('\t', " "));
    let width = line.chars().count();
    let col = (d.pos.column as usize).saturating_sub(1).min(width);
    let available = width.saturating_sub(col).max(1);
    let carets = "^".repeat(d.len.clamp(1, available));
    let _ = writeln!(out, "{pad} | {}{carets}", " ".repeat(col));
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}

/// The known name closest to `name`, for "did you mean" hints.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(dist, k)| *dist <= 2.max(k.len() / 3) && *dist > 0)
        .min()
        .map(|(_, k)| format!("did you mean `{k}`?"))
}
