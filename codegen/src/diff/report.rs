//! Rendering findings: as text in the shape of the catalog diagnostics (position, verdict,
//! message, snippet, notes), or as a stable JSON array.

use super::{Finding, Side, Verdict};
use crate::diagnostic::{Snippet, render_snippet};
use crate::source::{SourceFile, Sources};
use std::fmt::Write as _;

/// The two catalogs a report shows snippets of.
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a> {
    /// The earlier catalog's files.
    pub before: &'a Sources,
    /// Put in front of the earlier catalog's paths: `HEAD~1:` for a git ref, `old/` for a
    /// folder.
    pub before_prefix: &'a str,
    /// The current catalog's files.
    pub after: &'a Sources,
}

/// How many findings of each verdict a report holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Breaking findings, accepted ones included.
    pub breaking: usize,
    /// Breaking findings an `--accept` file accepts.
    pub accepted: usize,
    /// Findings that need a migration step.
    pub migration: usize,
    /// Compatible findings.
    pub compatible: usize,
}

impl Summary {
    /// Counts the findings.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            match f.verdict {
                Verdict::Breaking => {
                    s.breaking += 1;
                    s.accepted += usize::from(f.accepted);
                }
                Verdict::Migration => s.migration += 1,
                Verdict::Compatible => s.compatible += 1,
            }
        }
        s
    }

    /// Whether some breaking finding is not accepted: `codegen diff` then exits with 1.
    pub fn fails(&self) -> bool {
        self.breaking > self.accepted
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.breaking + self.migration + self.compatible;
        if total == 0 {
            return f.write_str("no change");
        }
        let accepted = if self.accepted > 0 {
            format!(" ({} accepted)", self.accepted)
        } else {
            String::new()
        };
        write!(
            f,
            "{total} change{}: {} breaking{accepted}, {} migration, {} compatible",
            if total == 1 { "" } else { "s" },
            self.breaking,
            self.migration,
            self.compatible
        )
    }
}

/// The findings as text, one block each, and a summary line.
pub fn text(findings: &[Finding], shown: Shown<'_>) -> String {
    let mut out = String::new();
    for f in findings {
        one(&mut out, f, shown);
        out.push('\n');
    }
    let _ = writeln!(out, "{}", Summary::of(findings));
    out
}

fn one(out: &mut String, f: &Finding, shown: Shown<'_>) {
    let (sources, prefix) = match f.location.side {
        Side::Before => (shown.before, shown.before_prefix),
        Side::After => (shown.after, ""),
    };
    let missing = SourceFile::new(f.location.file.clone(), "");
    let file = sources
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.path == f.location.file)
        .unwrap_or(&missing);
    let path = format!("{prefix}{}", f.location.file);
    let pos = if std::ptr::eq(file, &missing) {
        crate::syntax::Pos::default()
    } else {
        f.location.pos()
    };
    let label = match (f.verdict, f.accepted) {
        (v, true) => format!("{} (accepted)", v.name()),
        (v, false) => v.name().to_owned(),
    };
    let kind = format!("{} `{}`", f.kind, f.subject);
    let mut affects = f.processes.join(", ");
    if !f.queues.is_empty() {
        let _ = write!(affects, "; queues {}", f.queues.join(", "));
    }
    let mut notes: Vec<(&str, &str)> = vec![("kind", &kind), ("why", &f.reason)];
    if let Some(step) = &f.step {
        notes.push(("step", step));
    }
    if !affects.is_empty() {
        notes.push(("affects", &affects));
    }
    render_snippet(
        out,
        &Snippet {
            file,
            path: &path,
            pos,
            len: 0,
            label: &label,
            message: &f.message,
            notes: &notes,
        },
    );
}

/// The findings as a pretty-printed JSON array (fields in a fixed order, findings in the
/// report's order), with a final newline.
pub fn json(findings: &[Finding]) -> String {
    let mut s = serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}
