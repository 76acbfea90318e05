//! `codegen init`: the files of a new project — an example context, `sagas.yaml`,
//! `topology.yaml`, `project.yaml`, a workspace `Cargo.toml` over the generated crates, hook
//! crates and a tests crate, `.gitignore`, the JSON Schemas the editor modelines point at, and
//! a short README with the next commands.

use crate::emit::EmitError;
use crate::emit::rust::render;
use crate::project::{GitPin, RuntimeSource};
use askama::Template;
use std::path::{Component, Path, PathBuf};

/// The files `init` writes, relative to the project root; any of them present means the
/// folder already holds a project.
pub const PROJECT_MARKERS: [&str; 6] = [
    "catalog",
    "project.yaml",
    "sagas.yaml",
    "topology.yaml",
    "Cargo.toml",
    "generated",
];

#[derive(Template)]
#[template(path = "init/project.yaml", escape = "none")]
struct ProjectYaml {
    runtime_key: &'static str,
    runtime_value: String,
    runtime_extra: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "init/tests.Cargo.toml", escape = "none")]
struct TestsCargoToml {
    runtime: String,
}

#[derive(Template)]
#[template(path = "init/README.md", escape = "none")]
struct Readme<'a> {
    name: &'a str,
}

/// A YAML scalar: the text as a double-quoted (JSON) string.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// The files of a new project named `name` (its folder name, used in the README), whose
/// generated crates take the `runtime` crate from `runtime`: (path relative to the project
/// root, text), schemas included.
pub fn scaffold(name: &str, runtime: &RuntimeSource) -> Result<Vec<(String, String)>, EmitError> {
    let (runtime_key, runtime_value, runtime_extra) = match runtime {
        RuntimeSource::Path(p) => ("path", yaml_str(p), Vec::new()),
        RuntimeSource::Git { url, pin } => (
            "git",
            yaml_str(url),
            match pin {
                None => Vec::new(),
                Some(GitPin::Rev(r)) => vec![("rev", yaml_str(r))],
                Some(GitPin::Tag(t)) => vec![("tag", yaml_str(t))],
                Some(GitPin::Branch(b)) => vec![("branch", yaml_str(b))],
            },
        ),
        RuntimeSource::Registry { version, registry } => (
            "version",
            yaml_str(version),
            registry.iter().map(|r| ("registry", yaml_str(r))).collect(),
        ),
    };
    let mut files = vec![
        (
            "project.yaml".to_owned(),
            render(&ProjectYaml {
                runtime_key,
                runtime_value,
                runtime_extra,
            })?,
        ),
        (
            "catalog/tasks.yaml".to_owned(),
            include_str!("../../templates/init/tasks.yaml").to_owned(),
        ),
        (
            "sagas.yaml".to_owned(),
            include_str!("../../templates/init/sagas.yaml").to_owned(),
        ),
        (
            "topology.yaml".to_owned(),
            include_str!("../../templates/init/topology.yaml").to_owned(),
        ),
        (
            "Cargo.toml".to_owned(),
            include_str!("../../templates/init/Cargo.toml").to_owned(),
        ),
        (
            // Keeps the workspace's `hooks/*` glob matching before the first hook exists.
            "hooks/README.md".to_owned(),
            include_str!("../../templates/init/hooks.README.md").to_owned(),
        ),
        (
            ".gitignore".to_owned(),
            include_str!("../../templates/init/gitignore").to_owned(),
        ),
        (
            "tests/Cargo.toml".to_owned(),
            render(&TestsCargoToml {
                // The tests crate sits one folder below the project root.
                runtime: runtime.toml_keys(".."),
            })?,
        ),
        (
            "tests/src/lib.rs".to_owned(),
            include_str!("../../templates/init/tests.lib.rs").to_owned(),
        ),
        (
            "tests/src/tasks.rs".to_owned(),
            include_str!("../../templates/init/tests.tasks.rs").to_owned(),
        ),
        ("README.md".to_owned(), render(&Readme { name })?),
    ];
    for (file, schema) in crate::schema::schemas() {
        files.push((format!("schema/{file}"), crate::schema::to_json(&schema)));
    }
    Ok(files)
}

/// The `runtime` crate this `codegen` was built beside (`<repository>/runtime`), when it is
/// still there.
pub fn bundled_runtime() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    let dir = dir.canonicalize().ok()?;
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// `target` relative to the folder `from` (both absolute), or `target` itself when they share
/// nothing but the file-system root.
pub fn relative_path(from: &Path, target: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return target.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/a/b/c"), Path::new("/a/x/runtime")),
            "../../x/runtime"
        );
        assert_eq!(
            relative_path(Path::new("/a"), Path::new("/a/runtime")),
            "runtime"
        );
        assert_eq!(
            relative_path(Path::new("/tmp/p"), Path::new("/work/runtime")),
            "/work/runtime"
        );
    }

    #[test]
    fn scaffold_writes_the_runtime_source_into_project_yaml() {
        let files = scaffold(
            "demo",
            &RuntimeSource::Git {
                url: "https://example.com/msgen.git".into(),
                pin: Some(GitPin::Tag("v0.1.0".into())),
            },
        )
        .expect("scaffold");
        let get = |p: &str| {
            files
                .iter()
                .find(|(f, _)| f == p)
                .map(|(_, t)| t.as_str())
                .unwrap_or_else(|| panic!("{p} missing"))
        };
        assert!(
            get("project.yaml").contains(
                "runtime:\n  git: \"https://example.com/msgen.git\"\n  tag: \"v0.1.0\"\n"
            )
        );
        assert!(
            get("tests/Cargo.toml")
                .contains(r#"runtime = { git = "https://example.com/msgen.git", tag = "v0.1.0" }"#)
        );
        assert!(get("schema/project.schema.json").contains("\"runtime\""));
        assert!(get("README.md").starts_with("# demo\n"));
    }
}
