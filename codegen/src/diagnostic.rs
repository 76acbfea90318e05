//! Diagnostics: every problem of a catalog, reported at once as
//! `path/to/file.yaml:LINE:COL: error: message` (or `warning:`) followed by a source snippet.

use crate::source::{FileId, SourceFile, Sources};
use crate::syntax::Pos;
use std::fmt::Write as _;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The catalog is invalid: `check` and `generate` fail.
    #[default]
    Error,
    /// Something is written that has no effect (a key that is ignored): reported, but
    /// `check` and `generate` succeed.
    Warning,
}

impl Severity {
    /// The word rendered in front of the message.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether it fails the catalog.
    pub severity: Severity,
    /// The file the problem is in.
    pub file: FileId,
    /// Where the problem starts.
    pub pos: Pos,
    /// How many characters to underline; 0 underlines the whole YAML key or scalar at `pos`.
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
            severity: Severity::Error,
            file,
            pos,
            len: 0,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at a position: reported, but not a reason to fail.
    pub fn warning(file: FileId, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::new(file, pos, message)
        }
    }

    /// Whether this fails the catalog.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
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

    /// Whether no error was reported (warnings do not count).
    pub fn is_empty(&self) -> bool {
        !self.items.iter().any(Diagnostic::is_error)
    }

    /// How many errors were reported (warnings do not count).
    pub fn len(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
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

/// Renders diagnostics with snippets, one blank line between them, and a summary line
/// counting the errors (and the warnings, when there are any).
pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        render_one(&mut out, d, sources);
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let warned = if warnings > 0 {
        format!(" and {warnings} warning{}", plural(warnings))
    } else {
        String::new()
    };
    if errors > 0 {
        let _ = writeln!(
            out,
            "error: the catalog has {errors} problem{}{warned}",
            plural(errors)
        );
    } else if warnings > 0 {
        let _ = writeln!(
            out,
            "warning: the catalog has {warnings} warning{}",
            plural(warnings)
        );
    }
    out
}

/// The widest part of a line shown in a snippet, in characters.
const SNIPPET_WIDTH: usize = 100;

fn render_one(out: &mut String, d: &Diagnostic, sources: &Sources) {
    let file = sources.get(d.file);
    let notes: Vec<(&str, &str)> = d.help.iter().map(|h| ("help", h.as_str())).collect();
    render_snippet(
        out,
        &Snippet {
            file,
            path: &file.path,
            pos: d.pos,
            len: d.len,
            label: d.severity.label(),
            message: &d.message,
            notes: &notes,
        },
    );
}

/// One positioned message rendered as `path:LINE:COL: label: message`, a source snippet with
/// the position underlined, and `= name: text` notes: the shape of a [`Diagnostic`] and of a
/// finding of `codegen diff`.
#[derive(Clone, Copy, Debug)]
pub struct Snippet<'a> {
    /// The file the snippet is taken from.
    pub file: &'a SourceFile,
    /// The path shown in front of the position (usually `file.path`).
    pub path: &'a str,
    /// Where the underlined text starts; an unknown position renders no snippet.
    pub pos: Pos,
    /// How many characters to underline; 0 underlines the whole YAML key or scalar at `pos`.
    pub len: usize,
    /// The word after the position (`error`, `warning`, `breaking`, ...).
    pub label: &'a str,
    /// The message.
    pub message: &'a str,
    /// Notes under the snippet, `(name, text)`, rendered as `= name: text`.
    pub notes: &'a [(&'a str, &'a str)],
}

/// Renders one [`Snippet`] into `out`.
pub fn render_snippet(out: &mut String, s: &Snippet<'_>) {
    let (file, label) = (s.file, s.label);
    if !s.pos.is_known() {
        let _ = writeln!(out, "{}: {label}: {}", s.path, s.message);
        for (name, text) in s.notes {
            let _ = writeln!(out, "  = {name}: {text}");
        }
        return;
    }
    let _ = writeln!(
        out,
        "{}:{}:{}: {label}: {}",
        s.path, s.pos.line, s.pos.column, s.message
    );
    let line: Vec<char> = file
        .line_text(s.pos.line)
        .replace('\t', " ")
        .chars()
        .collect();
    let gutter = s.pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    let width = line.len();
    let col = (s.pos.column as usize).saturating_sub(1).min(width);
    let len = if s.len == 0 {
        token_len(&line[col..])
    } else {
        s.len
    };
    let len = len.clamp(1, width.saturating_sub(col).max(1));
    // A long line is cut to a window around the underlined text.
    let start = if width > SNIPPET_WIDTH {
        col.saturating_sub(SNIPPET_WIDTH / 4)
    } else {
        0
    };
    let end = width.min(start + SNIPPET_WIDTH);
    let mut shown: String = line[start..end].iter().collect();
    let mut caret_col = col - start;
    if start > 0 {
        shown.insert_str(0, "...");
        caret_col += 3;
    }
    if end < width {
        shown.push_str("...");
    }
    let carets = "^".repeat(len.min(end.saturating_sub(col)).max(1));
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | {}", s.pos.line, shown.trim_end());
    let _ = writeln!(out, "{pad} | {}{carets}", " ".repeat(caret_col));
    for (name, text) in s.notes {
        let _ = writeln!(out, "{pad} = {name}: {text}");
    }
}

/// The length of the YAML key or scalar at the start of `rest`: a quoted string with its
/// quotes, else a plain scalar up to `: `, `,`, `]`, `}`, ` #` or the end of the line. A
/// collection or an empty value underlines one character.
fn token_len(rest: &[char]) -> usize {
    match rest.first() {
        None | Some('{' | '[' | '-' | '#' | ' ') => 1,
        Some(q @ ('"' | '\'')) => {
            let mut i = 1;
            while i < rest.len() {
                if rest[i] == '\\' && *q == '"' {
                    i += 2;
                    continue;
                }
                if rest[i] == *q {
                    return i + 1;
                }
                i += 1;
            }
            rest.len()
        }
        Some(_) => {
            let mut i = 0;
            while i < rest.len() {
                let next = rest.get(i + 1).copied();
                match rest[i] {
                    ',' | ']' | '}' => break,
                    ':' if matches!(next, None | Some(' ')) => break,
                    ' ' if next == Some('#') => break,
                    _ => i += 1,
                }
            }
            let token: String = rest[..i].iter().collect();
            token.trim_end().chars().count().max(1)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn rendered(line: &str, column: u32, len: usize) -> String {
        let mut sources = Sources::default();
        let file = sources.add(SourceFile::new("f.yaml", format!("{line}\n")));
        let d = Diagnostic {
            len,
            ..Diagnostic::new(file, Pos::new(1, column), "m")
        };
        render(&[d], &sources)
    }

    #[test]
    fn carets_underline_the_whole_key_or_scalar() {
        let carets = |line: &str, column: u32| {
            rendered(line, column, 0)
                .lines()
                .nth(3)
                .and_then(|l| l.split_once('|').map(|(_, c)| c.trim().to_owned()))
                .unwrap_or_default()
        };
        assert_eq!(carets("descripton: text", 1), "^".repeat(10));
        assert_eq!(carets("  prefetch: 70000", 13), "^".repeat(5));
        assert_eq!(carets("x: { a: CartClosed, b: 1 }", 9), "^".repeat(10));
        assert_eq!(carets("x: [one, two]", 10), "^".repeat(3));
        assert_eq!(carets("x: \"a: b\" # c", 4), "^".repeat(6));
        assert_eq!(carets("x: plain text # comment", 4), "^".repeat(10));
        assert_eq!(carets("x: { a: 1 }", 4), "^");
    }

    #[test]
    fn long_lines_are_cut_around_the_carets() {
        let line = format!("{}TARGET{}", "a".repeat(5_000), "b".repeat(5_000));
        let out = rendered(&line, 5_001, 6);
        let snippet = out.lines().nth(2).expect("snippet");
        assert!(snippet.len() < SNIPPET_WIDTH + 20, "{snippet}");
        assert!(
            snippet.contains("...aaa") && snippet.ends_with("bbb..."),
            "{snippet}"
        );
        let carets = out.lines().nth(3).expect("carets");
        let at = snippet.find("TARGET").expect("shown");
        assert_eq!(carets.find('^'), Some(at), "{out}");
        assert!(carets.ends_with("^^^^^^"), "{out}");
    }

    #[test]
    fn warnings_are_labelled_and_counted_apart() {
        let mut sources = Sources::default();
        let file = sources.add(SourceFile::new("f.yaml", "a: 1\n"));
        let warning = Diagnostic::warning(file, Pos::new(1, 1), "w");
        let out = render(std::slice::from_ref(&warning), &sources);
        assert!(out.starts_with("f.yaml:1:1: warning: w\n"), "{out}");
        assert!(
            out.ends_with("warning: the catalog has 1 warning\n"),
            "{out}"
        );
        let error = Diagnostic::new(file, Pos::new(1, 4), "e");
        let out = render(&[warning.clone(), error.clone()], &sources);
        assert!(
            out.ends_with("error: the catalog has 1 problem and 1 warning\n"),
            "{out}"
        );
        let mut all = Diagnostics::default();
        all.push(warning);
        assert!(all.is_empty());
        assert_eq!(all.len(), 0);
        all.push(error);
        assert!(!all.is_empty() && all.len() == 1);
    }
}
