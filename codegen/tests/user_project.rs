//! What a new user does, outside this repository: `codegen init` in an empty temporary folder,
//! edit the catalog (a field, a command, a saga step), `codegen generate`, then `cargo test`
//! of the project — which builds every generated crate and runs the project's own test of the
//! generated CommandHandler. Also: a runtime that cannot be found is a clear error, never a
//! `Cargo.toml` path that does not exist.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// A fresh folder in the system's temporary directory (outside the repository).
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "codegen-user-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !dir.starts_with(common::repo_root()),
        "the temporary folder is outside the repository"
    );
    dir
}

fn codegen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codegen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("codegen runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Replaces the one occurrence of `from` in the file `path` by `to`.
fn edit(path: &Path, from: &str, to: &str) {
    let old = std::fs::read_to_string(path).expect("readable");
    assert_eq!(
        old.matches(from).count(),
        1,
        "{}: `{from}` once",
        path.display()
    );
    std::fs::write(path, old.replacen(from, to, 1)).expect("writable");
}

#[test]
fn init_edit_generate_build_and_test_a_project_outside_the_repository() {
    let started = Instant::now();
    let dir = fresh_dir("tasks");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let init = codegen(&dir, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    for f in [
        "project.yaml",
        "catalog/tasks.yaml",
        "sagas.yaml",
        "topology.yaml",
        "Cargo.toml",
        ".gitignore",
        "README.md",
        "tests/Cargo.toml",
        "schema/context.schema.json",
        "schema/project.schema.json",
        "generated/crates/tasks-command-handler/Cargo.toml",
        "generated/crates/triage-saga/src/machine.rs",
    ] {
        assert!(dir.join(f).is_file(), "init wrote {f}");
    }
    // The runtime is this repository's, by an absolute path (the folders share only `/`).
    let runtime = common::repo_root()
        .join("runtime")
        .canonicalize()
        .expect("runtime");
    let project = std::fs::read_to_string(dir.join("project.yaml")).expect("project.yaml");
    assert!(
        project.contains(&format!("path: \"{}\"", runtime.display())),
        "{project}"
    );
    // A second init refuses to overwrite.
    let again = codegen(&dir, &["init"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("already holds a project"),
        "{}",
        text(&again)
    );

    // The user's edits: a field, a command and a saga step.
    let ctx = dir.join("catalog/tasks.yaml");
    edit(
        &ctx,
        "      title: { type: string, non_empty: true, max_length: 200 }\n      priority: Priority\n",
        "      title: { type: string, non_empty: true, max_length: 200 }\n      priority: Priority\n      due: date?\n",
    );
    edit(
        &ctx,
        "    fields: { title: string, priority: Priority }\n    apply: { copy: [title, priority], status: open }",
        "    fields: { title: string, priority: Priority, due: date? }\n    apply: { copy: [title, priority, due], status: open }",
    );
    edit(
        &ctx,
        "      assignee: string?\n\ncommands:",
        "      assignee: string?\n      due: date?\n      reopened: i32\n\ncommands:",
    );
    edit(
        &ctx,
        "events:\n",
        "  ReopenTask:\n    description: Opens a done task again.\n    aggregate: Task\n    \
         route: POST /tasks/{id}/reopen\n    roles: [member]\n    allowed_in: [done]\n    \
         emits: [TaskReopened]\n\nevents:\n",
    );
    edit(
        &ctx,
        "read_models:",
        "  TaskReopened:\n    apply: { increment: { reopened: 1 }, status: open }\n\nread_models:",
    );
    let sagas = dir.join("sagas.yaml");
    edit(
        &sagas,
        "          tasks.TaskAssigned: Triaged\n",
        "          tasks.TaskAssigned: Closing\n",
    );
    edit(
        &sagas,
        "      Triaged: { terminal: completed }\n",
        "      Closing:\n        send: { command: tasks.CompleteTask, to: data.task_id }\n        \
         timeout: 30s\n        on:\n          tasks.TaskCompleted: Triaged\n        \
         on_timeout: Unassigned\n      Triaged: { terminal: completed }\n",
    );
    edit(
        &sagas,
        "      tasks.TaskAssigned: meta.aggregate_id\n",
        "      tasks.TaskAssigned: meta.aggregate_id\n      tasks.TaskCompleted: meta.aggregate_id\n",
    );
    // The project's own test follows the new field, as its author would.
    edit(
        &dir.join("tests/src/tasks.rs"),
        "        priority: Priority::High,\n",
        "        priority: Priority::High,\n        due: None,\n",
    );
    let check = codegen(&dir, &["check"]);
    assert!(check.status.success(), "{}", text(&check));
    let generate = codegen(&dir, &["generate"]);
    assert!(generate.status.success(), "{}", text(&generate));
    assert!(
        std::fs::read_to_string(dir.join("generated/crates/tasks-contracts/src/task.rs"))
            .expect("aggregate module")
            .contains("pub struct ReopenTask"),
    );
    let fresh = codegen(&dir, &["generate", "--check"]);
    assert!(fresh.status.success(), "{}", text(&fresh));

    // Build and test it. The repository's lock file pins the same dependency versions (and
    // lets the build run offline); the nested target folder is shared with the other tests
    // that build generated workspaces, so dependencies compile once.
    std::fs::copy(
        common::repo_root().join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .expect("lock");
    let test = Command::new(env!("CARGO"))
        .args(["test", "--offline", "--workspace"])
        .current_dir(&dir)
        .env(
            "CARGO_TARGET_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nested-target"),
        )
        .output()
        .expect("cargo test runs");
    let out = text(&test);
    assert!(
        test.status.success(),
        "cargo test of the project failed:\n{out}"
    );
    assert!(
        out.contains("a_task_is_completed_only_once_assigned ... ok"),
        "{out}"
    );
    let crates = std::fs::read_dir(dir.join("generated/crates"))
        .expect("crates")
        .count();
    println!(
        "user project: init, 3 edits, generate, cargo test of {crates} generated crates + the tests crate in {:.0?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_runtime_that_cannot_be_found_is_a_clear_error() {
    let dir = fresh_dir("no-runtime");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let init = codegen(&dir, &["init", "--runtime-path", "../nowhere/runtime"]);
    assert_eq!(init.status.code(), Some(1), "{}", text(&init));
    let out = text(&init);
    assert!(
        out.contains("project.yaml:6:9: error: runtime path `../nowhere/runtime` does not exist"),
        "{out}"
    );
    assert!(
        !dir.join("generated").exists(),
        "nothing generated with a missing runtime"
    );

    // Without project.yaml, outside this repository there is no runtime/ to fall back on.
    std::fs::remove_file(dir.join("project.yaml")).expect("rm");
    let generate = codegen(&dir, &["generate"]);
    assert_eq!(generate.status.code(), Some(1), "{}", text(&generate));
    assert!(
        text(&generate).contains("no `runtime` crate for the generated crates"),
        "{}",
        text(&generate)
    );

    // A git or registry source is written exactly as configured.
    std::fs::write(
        dir.join("project.yaml"),
        "runtime:\n  git: https://example.com/acme/msgen.git\n  rev: 0123abcd\n",
    )
    .expect("write");
    let generate = codegen(&dir, &["generate"]);
    assert!(generate.status.success(), "{}", text(&generate));
    let cargo = std::fs::read_to_string(dir.join("generated/crates/tasks-query-api/Cargo.toml"))
        .expect("Cargo.toml");
    assert!(
        cargo.contains(
            r#"runtime = { git = "https://example.com/acme/msgen.git", rev = "0123abcd", features = ["#
        ),
        "{cargo}"
    );
    // Two sources at once, and a pin without git, are diagnostics.
    std::fs::write(
        dir.join("project.yaml"),
        "runtime:\n  version: \"0.1\"\n  path: ../x\n  tag: v1\n",
    )
    .expect("write");
    let check = codegen(&dir, &["check"]);
    assert_eq!(check.status.code(), Some(1));
    let out = text(&check);
    assert!(
        out.contains("`runtime` takes one of `path`, `git` or `version`, not `path` and `version`"),
        "{out}"
    );
    assert!(
        out.contains("project.yaml:4:8: error: `tag` is only used with `git`"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
