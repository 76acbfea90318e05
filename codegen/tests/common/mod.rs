//! Helpers shared by the codegen tests.
#![allow(dead_code)]

use codegen::source::SourceFile;
use std::path::{Path, PathBuf};

/// The repository root (the catalog root of the example).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Splits a bundle (`#--- path` lines followed by that file's text) into catalog files.
pub fn split_bundle(text: &str) -> Vec<SourceFile> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("#--- ") {
            files.push((path.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
        }
    }
    files
        .into_iter()
        .map(|(p, t)| SourceFile::new(p, t))
        .collect()
}

/// Reads the example catalog's files as the loader does.
pub fn example_files() -> Vec<SourceFile> {
    codegen::load::read_files(&repo_root()).expect("example catalog readable")
}

/// Writes catalog files under a fresh temporary folder and returns it.
pub fn write_catalog(name: &str, files: &[SourceFile]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codegen-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for f in files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, &f.text).expect("write");
    }
    dir
}

pub mod random_catalog;
