//! The set of generated files and its synchronisation with the output folder.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Name of the manifest that lists every generated file, inside the output folder.
pub const MANIFEST: &str = ".codegen-manifest";

/// Generated files by path relative to the output folder (`/` separators), sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    files: BTreeMap<String, String>,
}

/// What [`Output::write`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Files created or rewritten.
    pub written: usize,
    /// Files already up to date.
    pub unchanged: usize,
    /// Files removed because the catalog no longer produces them.
    pub removed: usize,
}

impl std::fmt::Display for WriteSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "generated: {} written, {} unchanged, {} removed",
            self.written, self.unchanged, self.removed
        )
    }
}

impl Output {
    /// Adds a file; a second file at the same path is a bug of an emitter.
    pub fn add(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        let path = path.into();
        let previous = self.files.insert(path.clone(), contents.into());
        assert!(previous.is_none(), "two emitters wrote `{path}`");
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there is no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    fn manifest(&self) -> String {
        let mut s = String::from(
            "# Files written by `codegen generate`; it removes those the catalog no longer produces.\n",
        );
        for p in self.files.keys() {
            s.push_str(p);
            s.push('\n');
        }
        s
    }

    /// Every difference between `dir` and this output, one line each; empty when up to date.
    pub fn stale(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for (path, contents) in &self.files {
            match std::fs::read_to_string(dir.join(path)) {
                Ok(existing) if existing == *contents => {}
                Ok(_) => out.push(format!("changed: {path}")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    out.push(format!("missing: {path}"))
                }
                Err(e) => return Err(e),
            }
        }
        for old in previous_files(dir)? {
            if !self.files.contains_key(&old) && dir.join(&old).exists() {
                out.push(format!("no longer generated: {old}"));
            }
        }
        if std::fs::read_to_string(dir.join(MANIFEST)).ok().as_deref()
            != Some(self.manifest().as_str())
        {
            out.push(format!("changed: {MANIFEST}"));
        }
        Ok(out)
    }

    /// Makes `dir` hold exactly this output: writes changed files, removes files that an
    /// earlier run generated and this one does not, and updates the manifest.
    pub fn write(&self, dir: &Path) -> io::Result<WriteSummary> {
        let mut summary = WriteSummary::default();
        std::fs::create_dir_all(dir)?;
        for (path, contents) in &self.files {
            let target = dir.join(path);
            if std::fs::read_to_string(&target).ok().as_deref() == Some(contents.as_str()) {
                summary.unchanged += 1;
                continue;
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, contents)?;
            summary.written += 1;
        }
        for old in previous_files(dir)? {
            if self.files.contains_key(&old) {
                continue;
            }
            let target = dir.join(&old);
            if target.is_file() {
                std::fs::remove_file(&target)?;
                summary.removed += 1;
                remove_empty_parents(dir, &target);
            }
        }
        std::fs::write(dir.join(MANIFEST), self.manifest())?;
        Ok(summary)
    }
}

/// Files listed by the manifest of an earlier run (only safe relative paths).
fn previous_files(dir: &Path) -> io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| !l.starts_with('/') && !l.split('/').any(|seg| seg == ".." || seg.is_empty()))
        .map(str::to_owned)
        .collect())
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("codegen-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn writes_detects_staleness_and_removes_only_generated_files() {
        let dir = temp_dir("sync");
        let mut first = Output::default();
        first.add("a/one.rs", "1");
        first.add("a/b/two.rs", "2");
        assert_eq!(first.stale(&dir).unwrap().len(), 3);
        let s = first.write(&dir).unwrap();
        assert_eq!((s.written, s.unchanged, s.removed), (2, 0, 0));
        assert!(first.stale(&dir).unwrap().is_empty());
        std::fs::write(dir.join("a/hand-written.rs"), "mine").unwrap();

        let mut second = Output::default();
        second.add("a/one.rs", "1 changed");
        assert_eq!(
            second.stale(&dir).unwrap(),
            vec![
                "changed: a/one.rs",
                "no longer generated: a/b/two.rs",
                "changed: .codegen-manifest"
            ]
        );
        let s = second.write(&dir).unwrap();
        assert_eq!((s.written, s.unchanged, s.removed), (1, 0, 1));
        assert!(!dir.join("a/b").exists(), "emptied folders are removed");
        assert_eq!(
            std::fs::read_to_string(dir.join("a/hand-written.rs")).unwrap(),
            "mine"
        );
        assert!(second.stale(&dir).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
