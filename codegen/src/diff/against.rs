//! The earlier catalog `codegen diff` compares with: the catalog files at a git ref (read
//! with the `git` command line, no library), or the catalog in another folder.

use crate::load::{CATALOG_DIR, SAGAS_FILE, TOPOLOGY_FILE};
use crate::source::SourceFile;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the earlier catalog is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Against {
    /// A git revision (`HEAD~1`, a tag, a commit) of the repository holding the catalog root.
    Git(String),
    /// A catalog root folder.
    Dir(PathBuf),
}

impl Against {
    /// A folder when `arg` names an existing folder, else a git revision.
    pub fn from_arg(arg: &str) -> Against {
        let path = Path::new(arg);
        if path.is_dir() {
            Against::Dir(path.to_path_buf())
        } else {
            Against::Git(arg.to_owned())
        }
    }

    /// What is put in front of the earlier catalog's paths in reports: `HEAD~1:` or `old/`.
    pub fn prefix(&self) -> String {
        match self {
            Against::Git(rev) => format!("{rev}:"),
            Against::Dir(dir) => {
                let shown = dir.to_string_lossy();
                format!("{}/", shown.trim_end_matches('/'))
            }
        }
    }

    /// Reads the earlier catalog's files, the way [`crate::load::read_files`] reads a
    /// folder: `catalog/*.yaml` (and `.yml`) sorted by name, then `sagas.yaml` and
    /// `topology.yaml` when present. `root` is the current catalog root: a git revision is
    /// read from the repository that holds it, at the same path inside the repository.
    pub fn read_files(&self, root: &Path) -> Result<Vec<SourceFile>, String> {
        match self {
            Against::Dir(dir) => crate::load::read_files(dir).map_err(|e| e.to_string()),
            Against::Git(rev) => git_files(root, rev),
        }
    }
}

/// The tags of the repository holding `root` that match the glob `pattern`, oldest version
/// first (`git tag --sort=v:refname`: `v1.9` before `v1.10`).
pub fn tags(root: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let out = git(root, &["tag", "--list", pattern, "--sort=v:refname"])?;
    if !out.status.success() {
        return Err(format!(
            "git tag: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|t| !t.is_empty())
        .collect())
}

fn git(root: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `git`: {e}"))
}

fn git_files(root: &Path, rev: &str) -> Result<Vec<SourceFile>, String> {
    let commit = format!("{rev}^{{commit}}");
    let verify = git(root, &["rev-parse", "--verify", "--quiet", &commit])?;
    if !verify.status.success() {
        return Err(format!(
            "`{rev}` is neither a folder nor a commit of the git repository at `{}`",
            root.display()
        ));
    }
    let catalog_dir = format!("{CATALOG_DIR}/");
    // Paths are given and shown relative to `root` (git's working directory here).
    let listing = git(
        root,
        &[
            "ls-tree",
            "-z",
            rev,
            "--",
            &catalog_dir,
            SAGAS_FILE,
            TOPOLOGY_FILE,
        ],
    )?;
    if !listing.status.success() {
        return Err(format!(
            "git ls-tree {rev}: {}",
            String::from_utf8_lossy(&listing.stderr).trim()
        ));
    }
    let mut contexts = Vec::new();
    let mut extras = Vec::new();
    for entry in listing.stdout.split(|b| *b == 0) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        if meta.split(' ').nth(1) != Some("blob") {
            continue;
        }
        if let Some(name) = path.strip_prefix(&catalog_dir) {
            if !name.contains('/') && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                contexts.push(path.to_owned());
            }
        } else if path == SAGAS_FILE || path == TOPOLOGY_FILE {
            extras.push(path.to_owned());
        }
    }
    if contexts.is_empty() {
        return Err(format!(
            "`{CATALOG_DIR}/` holds no `.yaml` file at `{rev}` in `{}`",
            root.display()
        ));
    }
    contexts.sort();
    extras.sort_by_key(|p| p.as_str() != SAGAS_FILE);
    contexts
        .into_iter()
        .chain(extras)
        .map(|path| {
            let shown = git(root, &["show", &format!("{rev}:./{path}")])?;
            if !shown.status.success() {
                return Err(format!(
                    "git show {rev}:{path}: {}",
                    String::from_utf8_lossy(&shown.stderr).trim()
                ));
            }
            let text = String::from_utf8(shown.stdout)
                .map_err(|_| format!("`{path}` at `{rev}` is not UTF-8"))?;
            Ok(SourceFile::new(path, text))
        })
        .collect()
}
