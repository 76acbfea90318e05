//! Catalog source files: their paths, text and line index.

use crate::syntax::Pos;
use std::path::{Path, PathBuf};

/// Index of a file in a [`Sources`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// One catalog file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path relative to the catalog root, with `/` separators (as shown in diagnostics).
    pub path: String,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A file from its display path and text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The text of 1-based line `line`, without its line break (empty when out of range).
    pub fn line_text(&self, line: u32) -> &str {
        let Some(&start) = (line as usize)
            .checked_sub(1)
            .and_then(|i| self.line_starts.get(i))
        else {
            return "";
        };
        let end = self
            .line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Number of lines.
    pub fn line_count(&self) -> u32 {
        u32::try_from(self.line_starts.len()).unwrap_or(u32::MAX)
    }

    /// The character at a position, if any.
    pub fn char_at(&self, pos: Pos) -> Option<char> {
        let col = usize::try_from(pos.column).ok()?.checked_sub(1)?;
        self.line_text(pos.line).chars().nth(col)
    }
}

/// Every file of a catalog.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() - 1)
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// Every file, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }
}

/// `path` relative to `root` with `/` separators, for display.
pub fn display_path(root: &Path, path: &Path) -> String {
    let rel: PathBuf = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
