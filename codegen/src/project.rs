//! The project settings of `project.yaml`, validated and resolved for the emitters: where the
//! generated crates take the `runtime` crate from.
//!
//! Without the file (or without its `runtime` key) the generated crates use the nearest
//! `runtime/` folder in the project root or one of its parents (this repository's layout);
//! when there is none, loading fails with a clear error instead of writing a path that does
//! not exist.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::load::{ReadError, parse_one};
use crate::source::{FileId, SourceFile, Sources};
use crate::syntax::Loc;
use crate::syntax::project::{ProjectFile, RuntimeDef};
use crate::{LoadError, Report};
use std::path::Path;

/// The path of the project file, relative to the project root.
pub const PROJECT_FILE: &str = "project.yaml";

/// The package name the `runtime` dependency must have.
const RUNTIME_PACKAGE: &str = "runtime";

/// Where the generated crates take the `runtime` crate from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeSource {
    /// A folder holding the crate: relative to the project root, or absolute.
    Path(String),
    /// A git repository, optionally pinned.
    Git {
        /// The repository URL.
        url: String,
        /// The commit, tag or branch.
        pin: Option<GitPin>,
    },
    /// A registry version.
    Registry {
        /// The version requirement.
        version: String,
        /// A registry other than crates.io.
        registry: Option<String>,
    },
}

/// What a git dependency is pinned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitPin {
    /// A commit.
    Rev(String),
    /// A tag.
    Tag(String),
    /// A branch.
    Branch(String),
}

impl Default for RuntimeSource {
    fn default() -> Self {
        Self::Path(RUNTIME_PACKAGE.to_owned())
    }
}

impl RuntimeSource {
    /// The keys of the dependency's inline TOML table (`path = "..."`, `git = "...", rev = "..."`
    /// or `version = "..."`), for a crate `to_root` (e.g. `../../..`) below the project root.
    pub fn toml_keys(&self, to_root: &str) -> String {
        match self {
            Self::Path(p) if Path::new(p).is_absolute() => format!("path = {}", toml_str(p)),
            Self::Path(p) => {
                let p = p.trim_end_matches('/');
                let p = p.strip_prefix("./").unwrap_or(p);
                format!("path = {}", toml_str(&format!("{to_root}/{p}")))
            }
            Self::Git { url, pin } => {
                let pin = match pin {
                    None => String::new(),
                    Some(GitPin::Rev(r)) => format!(", rev = {}", toml_str(r)),
                    Some(GitPin::Tag(t)) => format!(", tag = {}", toml_str(t)),
                    Some(GitPin::Branch(b)) => format!(", branch = {}", toml_str(b)),
                };
                format!("git = {}{pin}", toml_str(url))
            }
            Self::Registry { version, registry } => {
                let registry = registry
                    .as_ref()
                    .map(|r| format!(", registry = {}", toml_str(r)))
                    .unwrap_or_default();
                format!("version = {}{registry}", toml_str(version))
            }
        }
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The validated project settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Project {
    /// Where the generated crates take the `runtime` crate from, when `project.yaml` says.
    pub runtime: Option<RuntimeSource>,
}

impl Project {
    /// The configured runtime source, else the nearest `runtime/` folder in `root` or one of
    /// its parents; neither is an error that says how to configure one.
    pub fn runtime_source(&self, root: &Path) -> Result<RuntimeSource, LoadError> {
        match &self.runtime {
            Some(r) => Ok(r.clone()),
            None => discovered_runtime(root),
        }
    }
}

/// Reads and validates the project settings of the project rooted at `root` (none without
/// `project.yaml`). A configured `path` must hold a `Cargo.toml` of a package named `runtime`.
pub fn load_project(root: &Path) -> Result<Project, LoadError> {
    let path = root.join(PROJECT_FILE);
    let file = if path.is_file() {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            LoadError::Read(ReadError(format!("cannot read `{}`: {e}", path.display())))
        })?;
        Some(SourceFile::new(PROJECT_FILE, text))
    } else {
        None
    };
    let Some(file) = file else {
        return Ok(Project::default());
    };
    let mut sources = Sources::default();
    let id = sources.add(file);
    let mut diagnostics = Diagnostics::default();
    let parsed = if sources.get(id).text.trim().is_empty() {
        Some(ProjectFile::default())
    } else {
        parse_one::<ProjectFile>(id, sources.get(id), &mut diagnostics)
    };
    let runtime = parsed.and_then(|p| p.runtime).and_then(|r| {
        let source = runtime_source(id, &r, &mut diagnostics)?;
        check_path(root, id, &r, &source, &mut diagnostics);
        Some(source)
    });
    if !diagnostics.is_empty() {
        return Err(LoadError::Invalid(Report {
            diagnostics: diagnostics.into_sorted(&sources),
            sources,
        }));
    }
    Ok(Project { runtime })
}

/// The source a `runtime:` mapping declares, or `None` after reporting why it is invalid.
fn runtime_source(
    file: FileId,
    def: &Loc<RuntimeDef>,
    diagnostics: &mut Diagnostics,
) -> Option<RuntimeSource> {
    let r = &def.value;
    let mut ok = true;
    let mut non_empty = |v: &Option<Loc<String>>, key: &str| {
        if let Some(v) = v
            && v.value.trim().is_empty()
        {
            diagnostics.push(Diagnostic::new(file, v.pos, format!("`{key}` is empty")));
            ok = false;
        }
    };
    for (v, key) in [
        (&r.path, "path"),
        (&r.git, "git"),
        (&r.rev, "rev"),
        (&r.tag, "tag"),
        (&r.branch, "branch"),
        (&r.version, "version"),
        (&r.registry, "registry"),
    ] {
        non_empty(v, key);
    }
    let kinds: Vec<&str> = [
        r.path.as_ref().map(|_| "path"),
        r.git.as_ref().map(|_| "git"),
        r.version.as_ref().map(|_| "version"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            "`runtime` needs one of `path`, `git` or `version`".to_owned()
        } else {
            format!(
                "`runtime` takes one of `path`, `git` or `version`, not {}",
                kinds
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        };
        diagnostics.push(
            Diagnostic::new(file, def.pos, message)
                .with_help("e.g. `runtime: { path: ../msgen/runtime }`"),
        );
        ok = false;
    }
    let pins: Vec<&Loc<String>> = [&r.rev, &r.tag, &r.branch].into_iter().flatten().collect();
    if r.git.is_none() {
        for (v, key) in [(&r.rev, "rev"), (&r.tag, "tag"), (&r.branch, "branch")] {
            if let Some(v) = v {
                diagnostics.push(Diagnostic::new(
                    file,
                    v.pos,
                    format!("`{key}` is only used with `git`"),
                ));
                ok = false;
            }
        }
    } else if pins.len() > 1 {
        diagnostics.push(Diagnostic::new(
            file,
            pins[1].pos,
            "a git dependency takes one of `rev`, `tag` or `branch`",
        ));
        ok = false;
    }
    if let Some(reg) = &r.registry
        && r.version.is_none()
    {
        diagnostics.push(Diagnostic::new(
            file,
            reg.pos,
            "`registry` is only used with `version`",
        ));
        ok = false;
    }
    if !ok {
        return None;
    }
    if let Some(p) = &r.path {
        return Some(RuntimeSource::Path(p.value.clone()));
    }
    if let Some(url) = &r.git {
        let pin = if let Some(v) = &r.rev {
            Some(GitPin::Rev(v.value.clone()))
        } else if let Some(v) = &r.tag {
            Some(GitPin::Tag(v.value.clone()))
        } else {
            r.branch.as_ref().map(|v| GitPin::Branch(v.value.clone()))
        };
        return Some(RuntimeSource::Git {
            url: url.value.clone(),
            pin,
        });
    }
    r.version.as_ref().map(|v| RuntimeSource::Registry {
        version: v.value.clone(),
        registry: r.registry.as_ref().map(|r| r.value.clone()),
    })
}

/// Reports a configured `path` that holds no `runtime` package.
fn check_path(
    root: &Path,
    file: FileId,
    def: &Loc<RuntimeDef>,
    source: &RuntimeSource,
    diagnostics: &mut Diagnostics,
) {
    let (RuntimeSource::Path(p), Some(at)) = (source, &def.value.path) else {
        return;
    };
    let dir = root.join(p);
    if let Err(why) = runtime_package_at(&dir) {
        diagnostics.push(
            Diagnostic::new(file, at.pos, format!("runtime path `{p}` {why}"))
                .with_len(at.value.chars().count())
                .with_help(
                    "point `path` at the `runtime` folder of the generator's repository \
                     (relative to this file or absolute), or use `git` or `version`",
                ),
        );
    }
}

/// Checks that `dir` holds the `Cargo.toml` of a package named `runtime`.
fn runtime_package_at(dir: &Path) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|_| format!("does not exist (no `{}`)", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            let name = value.trim().trim_matches('"');
            return if name == RUNTIME_PACKAGE {
                Ok(())
            } else {
                Err(format!(
                    "holds the package `{name}`, not `{RUNTIME_PACKAGE}` (`{}`)",
                    manifest.display()
                ))
            };
        }
    }
    Err(format!(
        "holds no `[package]` named `{RUNTIME_PACKAGE}` (`{}`)",
        manifest.display()
    ))
}

/// The nearest `runtime/` crate in `root` or one of its parents, as a path relative to `root`.
fn discovered_runtime(root: &Path) -> Result<RuntimeSource, LoadError> {
    let abs = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut up = String::new();
    for dir in abs.ancestors() {
        if runtime_package_at(&dir.join(RUNTIME_PACKAGE)).is_ok() {
            return Ok(RuntimeSource::Path(format!("{up}{RUNTIME_PACKAGE}")));
        }
        up.push_str("../");
    }
    Err(LoadError::Read(ReadError(format!(
        "no `runtime` crate for the generated crates: `{}` has no `{PROJECT_FILE}` that says \
         where it is, and neither it nor a parent holds a `runtime/` folder\n  \
         = help: write `{PROJECT_FILE}` with `runtime: {{ path: <folder of the runtime crate> }}` \
         (or `git: <url>` with `rev`, or `version`); `codegen init` writes one",
        root.display()
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_per_source() {
        assert_eq!(
            RuntimeSource::Path("../rt/".into()).toml_keys("../../.."),
            r#"path = "../../../../rt""#
        );
        assert_eq!(
            RuntimeSource::Path("/opt/msgen/runtime".into()).toml_keys("../.."),
            r#"path = "/opt/msgen/runtime""#
        );
        assert_eq!(
            RuntimeSource::Git {
                url: "https://example.com/r.git".into(),
                pin: Some(GitPin::Tag("v1".into()))
            }
            .toml_keys(".."),
            r#"git = "https://example.com/r.git", tag = "v1""#
        );
        assert_eq!(
            RuntimeSource::Registry {
                version: "0.1".into(),
                registry: Some("corp".into())
            }
            .toml_keys(".."),
            r#"version = "0.1", registry = "corp""#
        );
        assert_eq!(toml_str("a\"b\\c"), r#""a\"b\\c""#);
    }
}
