//! The compile batch: random accepted catalogs ([`common::random_catalog`]) generated into one
//! temporary Cargo workspace and compiled with one `cargo check`. Every catalog `check`
//! accepts must compile.
//!
//! `RANDOM_CATALOGS` sets the number of catalogs (20 by default; `RANDOM_CATALOGS=200` for the
//! longer batch), `RANDOM_CATALOG_SEED` replays a run (`random`: a seed from the clock), and `RANDOM_CATALOGS_CLIPPY=1` runs
//! `cargo clippy -- -D warnings` instead of `cargo check` (generated code is clippy-clean).
//! The workspace is left in `$CARGO_TARGET_TMPDIR/random-catalogs` for inspection.

mod common;

use codegen::emit::rust::RustOptions;
use common::random_catalog::{Options, generate, seed_from_env};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// `to` relative to the folder `from` (both absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn every_accepted_random_catalog_compiles() {
    let seed = seed_from_env();
    let wanted: usize = std::env::var("RANDOM_CATALOGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let clippy = std::env::var("RANDOM_CATALOGS_CLIPPY").is_ok_and(|v| v == "1");
    println!("compile batch: seed {seed} (RANDOM_CATALOG_SEED={seed} replays), {wanted} catalogs");
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let work = tmp.join("random-catalogs");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("mkdir");
    let work = work.canonicalize().expect("absolute");
    let runtime = common::repo_root()
        .join("runtime")
        .canonicalize()
        .expect("runtime");
    let started = Instant::now();
    let mut members: Vec<String> = Vec::new();
    let (mut generated, mut rejected, mut crates) = (0usize, 0usize, 0usize);
    let mut seeds = Vec::new();
    let mut i = 0u64;
    while generated < wanted {
        let case_seed = seed.wrapping_add(i);
        i += 1;
        let folder = format!("c{generated}");
        let opts = Options {
            tag: format!("k{generated}"),
            invalid: false,
        };
        let catalog = generate(case_seed, &opts);
        let Ok((model, _)) = codegen::check_files(catalog.files.clone()) else {
            rejected += 1;
            assert!(
                rejected <= wanted,
                "seed {seed}: most random catalogs are rejected"
            );
            continue;
        };
        let root = work.join(&folder);
        for f in &catalog.files {
            write(&root.join(&f.path), &f.text);
        }
        let options = RustOptions::with_runtime_path(relative(&root, &runtime));
        let output = codegen::emit::generate_with(&model, &options)
            .unwrap_or_else(|e| panic!("seed {case_seed}: {e}\n{}", catalog.bundle()));
        output.write(&root.join("generated")).expect("written");
        for (path, _) in output.files() {
            if let Some(krate) = path
                .strip_prefix("crates/")
                .and_then(|p| p.strip_suffix("/Cargo.toml"))
            {
                members.push(format!("{folder}/generated/crates/{krate}"));
                crates += 1;
            }
        }
        // Hook crates: the starters, implemented (every rule holds).
        let starters =
            codegen::emit::rust::hooks::starters(&model, &options.runtime).expect("starters");
        for (path, text) in starters {
            let text = match text.find("compile_error!(") {
                Some(start) => {
                    let end = start + text[start..].find(");").expect("statement end") + 2;
                    format!("{}{}", &text[..start], &text[end..])
                }
                None => text,
            };
            write(&root.join(&path), &text);
            if let Some(dir) = path.strip_suffix("/Cargo.toml") {
                members.push(format!("{folder}/{dir}"));
                crates += 1;
            }
        }
        seeds.push(case_seed);
        generated += 1;
    }
    let manifest = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\n{}]\n",
        members
            .iter()
            .map(|m| format!("  \"{m}\",\n"))
            .collect::<String>()
    );
    write(&work.join("Cargo.toml"), &manifest);
    std::fs::copy(
        common::repo_root().join("Cargo.lock"),
        work.join("Cargo.lock"),
    )
    .expect("lock");
    let generated_in = started.elapsed();
    let mut cargo = Command::new(env!("CARGO"));
    if clippy {
        cargo.args([
            "clippy",
            "--offline",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
    } else {
        cargo.args(["check", "--offline", "--workspace", "--all-targets"]);
    }
    let out = cargo
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", tmp.join("nested-target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.starts_with("warning") || l.starts_with("  -->"))
        .collect();
    assert!(
        out.status.success(),
        "seed {seed}: the generated workspace {} does not compile (catalog seeds {seeds:?}, folders c0..c{}):\n{}\n\n{stderr}",
        work.display(),
        generated - 1,
        errors.join("\n")
    );
    println!(
        "compile batch: {generated} catalogs ({rejected} rejected on the way), {crates} crates, seed {seed}, generated in {:.1?}, {} in {:.1?}",
        generated_in,
        if clippy {
            "clippy -D warnings"
        } else {
            "cargo check"
        },
        started.elapsed() - generated_in
    );
}
