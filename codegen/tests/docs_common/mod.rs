//! Helpers shared by the `docs_*` tests: the catalogs to document, their documentation
//! output, and the external tools installed by `scripts/doc-tools.sh`.
#![allow(dead_code)]

use codegen::emit::Output;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root (the catalog root of the example).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Every catalog to document: the example (`example`) and each folder under
/// `tests/catalogs/` (by folder name), sorted.
pub fn catalogs() -> Vec<(String, PathBuf)> {
    let mut out = vec![("example".to_owned(), repo_root())];
    let dir = repo_root().join("tests").join("catalogs");
    let mut extra: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("catalog").is_dir())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    extra.sort();
    out.extend(extra);
    out
}

/// The model of the catalog at `root` (panics with the rendered diagnostics).
pub fn model(root: &Path) -> codegen::model::Model {
    match codegen::load_catalog(root) {
        Ok((m, _)) => m,
        Err(codegen::LoadError::Invalid(r)) => panic!("{}: {}", root.display(), r.render()),
        Err(codegen::LoadError::Read(e)) => panic!("{}: {e:?}", root.display()),
    }
}

/// The documentation files of the catalog at `root`, by path under `generated/`.
pub fn docs(root: &Path) -> BTreeMap<String, String> {
    let model = model(root);
    let mut out = Output::default();
    codegen::emit::docs::emit(&model, &mut out).expect("docs emit");
    out.files()
        .map(|(p, c)| (p.to_owned(), c.to_owned()))
        .collect()
}

/// Writes files under a fresh temporary folder and returns it.
pub fn write_tree(name: &str, files: &BTreeMap<String, String>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codegen-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (p, c) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, c).expect("write");
    }
    dir
}

/// Runs `scripts/doc-tools.sh` once per test binary and returns its `KEY=VALUE` lines
/// (`CHROMIUM`, `NODE_MODULES`, `OPENAPI_VALIDATOR`).
pub fn doc_tools() -> &'static BTreeMap<String, String> {
    static TOOLS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let script = repo_root().join("scripts").join("doc-tools.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

/// Runs a command; returns (success, stdout, stderr).
pub fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
