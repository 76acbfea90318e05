//! The corpus of invalid catalogs under `tests/invalid/`: each one must fail with the
//! diagnostics recorded in its snapshot (file, line, column, message and snippet).

mod common;

#[test]
fn every_invalid_catalog_reports_its_problems() {
    insta::glob!("../..", "tests/invalid/*.yaml", |path| {
        let text = std::fs::read_to_string(path).expect("readable case");
        let purpose = text
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .to_owned();
        let files = common::split_bundle(&text);
        assert!(
            !files.is_empty(),
            "{}: no `#--- path` section",
            path.display()
        );
        let report = match codegen::check_files(files) {
            Ok(_) => panic!("{}: the catalog was accepted ({purpose})", path.display()),
            Err(report) => report,
        };
        assert!(!report.diagnostics.is_empty());
        insta::with_settings!({ description => purpose }, {
            insta::assert_snapshot!(report.render());
        });
    });
}

/// The corpus of accepted catalogs with warnings under `tests/warnings/`: each one is
/// accepted, with the warnings recorded in its snapshot.
#[test]
fn every_warning_case_is_accepted_with_its_warnings() {
    insta::glob!("../..", "tests/warnings/*.yaml", |path| {
        let text = std::fs::read_to_string(path).expect("readable case");
        let purpose = text
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .to_owned();
        let checked =
            codegen::check_files_warned(common::split_bundle(&text)).unwrap_or_else(|r| {
                panic!("{}: rejected ({purpose}):\n{}", path.display(), r.render())
            });
        assert!(
            !checked.warnings.is_empty(),
            "{}: no warning",
            path.display()
        );
        insta::with_settings!({ description => purpose }, {
            insta::assert_snapshot!(checked.render_warnings());
        });
    });
}

#[test]
fn the_cli_prints_warnings_and_succeeds() {
    let text = std::fs::read_to_string(
        common::repo_root().join("tests/warnings/01-keys-without-effect.yaml"),
    )
    .expect("case");
    let dir = common::write_catalog("cli-warnings", &common::split_bundle(&text));
    // Outside the repository `generate` needs to be told where the runtime crate is.
    std::fs::write(
        dir.join("project.yaml"),
        format!(
            "runtime: {{ path: \"{}\" }}\n",
            common::repo_root().join("runtime").display()
        ),
    )
    .expect("project.yaml");
    for args in [&["check"][..], &["generate"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_codegen"))
            .args(args)
            .arg("--root")
            .arg(&dir)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            stderr.contains(": warning: `roles` has no effect"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.ends_with("warning: the catalog has 3 warnings\n"),
            "{args:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_cli_exits_non_zero_and_prints_positions() {
    let text =
        std::fs::read_to_string(common::repo_root().join("tests/invalid/14-unknown-type.yaml"))
            .expect("case");
    let dir = common::write_catalog("cli-invalid", &common::split_bundle(&text));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codegen"))
        .args(["check", "--root"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("catalog/shop.yaml:11:14: error: unknown type `i23`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `i32`?"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
