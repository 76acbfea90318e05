//! The corpus of catalog changes under `tests/evolution/<case>/{before,after}/`: each pair is
//! compared as `codegen diff` compares them, and its findings are recorded as text and JSON
//! snapshots (`<case>/README.md` says what the case changes). Every kind of change appears
//! in some case. Also: the repository's catalog against itself, and the command line's exit
//! codes, `--accept`, `--format json` and `--against <git revision>`.

mod common;

use codegen::Checked;
use codegen::diff::{self, Catalog, Finding, Kind, report};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    common::repo_root().join("tests/evolution")
}

/// Every case folder, sorted.
fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("tests/evolution")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    assert!(out.len() >= 20, "the corpus is missing");
    out
}

fn load(dir: &Path) -> Checked {
    codegen::load_catalog_warned(dir).unwrap_or_else(|e| match e {
        codegen::LoadError::Read(e) => panic!("{}: {e}", dir.display()),
        codegen::LoadError::Invalid(r) => panic!("{}:\n{}", dir.display(), r.render()),
    })
}

fn compare(case: &Path) -> (Vec<Finding>, Checked, Checked) {
    let before = load(&case.join("before"));
    let after = load(&case.join("after"));
    let findings = diff::compare(Catalog::of(&before), Catalog::of(&after));
    (findings, before, after)
}

#[test]
fn every_case_reports_its_findings() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let purpose = std::fs::read_to_string(case.join("README.md"))
            .unwrap_or_else(|_| panic!("{name}: README.md says what the case changes"));
        let (findings, before, after) = compare(&case);
        let text = report::text(
            &findings,
            report::Shown {
                before: &before.sources,
                before_prefix: "before/",
                after: &after.sources,
            },
        );
        let json = report::json(&findings);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed.as_array().map(Vec::len), Some(findings.len()));
        insta::with_settings!({ description => purpose.trim(), omit_expression => true }, {
            insta::assert_snapshot!(format!("{name}.text"), text);
            insta::assert_snapshot!(format!("{name}.json"), json);
        });
    }
}

#[test]
fn every_kind_of_change_appears_in_the_corpus() {
    let mut seen = std::collections::BTreeSet::new();
    for case in cases() {
        let (findings, ..) = compare(&case);
        for f in findings {
            assert!(
                f.location.line > 0,
                "{}: {} `{}` has no position",
                case.display(),
                f.kind,
                f.subject
            );
            seen.insert(f.kind);
        }
    }
    let missing: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| !seen.contains(k))
        .map(|k| k.code())
        .collect();
    assert!(missing.is_empty(), "no case shows {missing:?}");
}

#[test]
fn the_readme_lists_every_kind() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).expect("README");
    let section = readme
        .split("## Evolving a running system")
        .nth(1)
        .expect("the README has the section");
    let missing: Vec<&str> = Kind::ALL
        .iter()
        .map(|k| k.code())
        .filter(|code| !section.contains(&format!("`{code}`")))
        .collect();
    assert!(missing.is_empty(), "README.md does not list {missing:?}");
}

#[test]
fn the_repository_catalog_has_no_change_against_itself() {
    let root = common::repo_root();
    let a = load(&root);
    let b = load(&root);
    let findings = diff::compare(Catalog::of(&a), Catalog::of(&b));
    assert!(findings.is_empty(), "{findings:#?}");
    for catalog in ["tests/catalogs/travel", "tests/catalogs/publishing"] {
        let a = load(&root.join(catalog));
        let findings = diff::compare(Catalog::of(&a), Catalog::of(&a));
        assert!(findings.is_empty(), "{catalog}: {findings:#?}");
    }
}

fn codegen(args: &[&str], cwd: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_codegen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_exits_0_without_breaking_changes_1_with_them_and_2_on_errors() {
    let case = |n: &str| corpus().join(n);
    let diff = |case: &Path, extra: &[&str]| {
        let mut args = vec!["--root", "after", "diff", "--against", "before"];
        args.extend_from_slice(extra);
        codegen(&args, case)
    };
    let (code, out, _) = diff(&case("25-documentation-only"), &[]);
    assert_eq!((code, out.as_str()), (Some(0), "no change\n"));
    let (code, out, _) = diff(&case("12-read-model-fields"), &[]);
    assert_eq!(code, Some(0), "migrations do not fail: {out}");
    assert!(
        out.ends_with("7 changes: 0 breaking, 6 migration, 1 compatible\n"),
        "{out}"
    );

    let removed = case("02-messages-removed");
    let (code, out, _) = diff(&removed, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(
            "before/catalog/shop.yaml:30:3: breaking: command `shop.AddItem` removed\n"
        ),
        "{out}"
    );
    let (code, out, _) = diff(&removed, &["--format", "json"]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json[0]["kind"], "wire.message-removed");
    assert_eq!(json[0]["location"]["side"], "before");

    // Accepting both breaking changes: reported as accepted, exit 0; a stale entry warns.
    let dir = std::env::temp_dir().join(format!("codegen-diff-accept-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let accept = dir.join("catalog-changes.yaml");
    std::fs::write(
        &accept,
        "accept:\n  - { kind: wire.message-removed, subject: shop.AddItem, why: drained }\n  \
         - { kind: wire.message-removed, subject: shop.ItemAdded }\n  \
         - { kind: wire.field-removed, subject: shop.Gone.field }\n",
    )
    .expect("write");
    let accept_arg = accept.to_string_lossy().into_owned();
    let (code, out, err) = diff(&removed, &["--accept", &accept_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(": breaking (accepted): command `shop.AddItem` removed"),
        "{out}"
    );
    assert!(
        out.ends_with("3 changes: 2 breaking (2 accepted), 1 migration, 0 compatible\n"),
        "{out}"
    );
    assert!(
        err.contains("`shop.Gone.field` matches no finding"),
        "{err}"
    );

    std::fs::write(
        &accept,
        "accept:\n  - { kind: wire.no-such-kind, subject: x }\n",
    )
    .expect("write");
    let (code, _, err) = diff(&removed, &["--accept", &accept_arg]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown kind `wire.no-such-kind`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    let (code, _, err) = codegen(
        &["--root", "after", "diff", "--against", "no-such-ref"],
        &removed,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`no-such-ref` is neither a folder nor a commit"),
        "{err}"
    );
    let (code, ..) = codegen(
        &["--root", "no-such-dir", "diff", "--against", "before"],
        &removed,
    );
    assert_eq!(code, Some(2));
    let (code, ..) = codegen(&["diff", "--format", "yaml"], &removed);
    assert_eq!(code, Some(2), "clap's usage errors exit 2 too");
}

/// Runs `git args` in `dir` (with an identity, unsigned), asserting success.
fn git_in(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replaces the catalog at `root` by the one at `from`.
fn copy_catalog(from: &Path, root: &Path) {
    let _ = std::fs::remove_dir_all(root);
    for f in codegen::load::read_files(from).expect("files") {
        let path = root.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, &f.text).expect("write");
    }
}

/// A fresh git repository in the temp folder, named after `test`.
fn repository(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codegen-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    git_in(&dir, &["init", "-q"]);
    dir
}

#[test]
fn the_cli_reads_the_earlier_catalog_from_a_git_revision() {
    let dir = repository("diff-git");
    let root = dir.join("project");
    let git = |args: &[&str]| git_in(&dir, args);
    let case = corpus().join("09-state-fields");
    copy_catalog(&case.join("before"), &root);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "before"]);
    copy_catalog(&case.join("after"), &root);
    // The catalog root is a folder inside the repository: paths are read relative to it.
    let (code, out, err) = codegen(&["--root", "project", "diff", "--against", "HEAD"], &dir);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("HEAD:catalog/shop.yaml:14:7: migration: field `label` removed from the state of aggregate `shop.Cart`\n"),
        "{out}"
    );
    assert!(
        out.ends_with("3 changes: 1 breaking, 1 migration, 1 compatible\n"),
        "{out}"
    );
    let (code, out, _) = codegen(&["diff"], &root);
    assert_eq!(code, Some(1), "--against defaults to HEAD: {out}");
    git(&["add", "-A"]);
    git(&["commit", "-qm", "after"]);
    let (code, out, _) = codegen(&["diff", "--against", "HEAD"], &root);
    assert_eq!((code, out.as_str()), (Some(0), "no change\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_changelog_follows_the_tags() {
    let dir = repository("changelog");
    let root = dir.join("project");
    let git = |args: &[&str]| git_in(&dir, args);
    copy_catalog(&corpus().join("05-event-fields/before"), &root);
    let (code, _, err) = codegen(&["--root", "project", "changelog"], &dir);
    assert_eq!(code, Some(1), "no tag yet: {err}");
    assert!(err.contains("no git tag matches `v*`"), "{err}");
    // v1.9 and v1.10: version order, not text order.
    let steps = [
        ("v1.9", corpus().join("05-event-fields/before")),
        ("v1.10", corpus().join("26-versions-and-defaults/after")),
    ];
    for (tag, catalog) in &steps {
        copy_catalog(catalog, &root);
        git(&["add", "-A"]);
        git(&["commit", "-qm", tag]);
        git(&["tag", tag]);
    }
    // Unreleased: the working tree, changed since the last tag.
    copy_catalog(&corpus().join("09-state-fields/after"), &root);
    let out_file = dir.join("CHANGELOG.md");
    let (code, out, err) = codegen(
        &[
            "--root",
            "project",
            "changelog",
            "--out",
            out_file.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&out_file).expect("written");
    let order: Vec<usize> = ["## Unreleased", "## v1.10", "## v1.9"]
        .iter()
        .map(|h| {
            text.find(h)
                .unwrap_or_else(|| panic!("{h} missing:\n{text}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "newest first:\n{text}"
    );
    insta::assert_snapshot!("changelog", text);
    let _ = std::fs::remove_dir_all(&dir);
}
