//! Property test: no input makes the loader, validator or diagnostics renderer panic.
//! Inputs are the example catalog with random edits (lines dropped, duplicated or swapped,
//! characters replaced by YAML-significant ones, names swapped for other names), and fully
//! random text. Raise `PROPTEST_CASES` for a longer fuzz run.

mod common;

use codegen::source::SourceFile;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Edit {
    DropLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceChar(usize, char),
    InsertText(usize, String),
    ReplaceWord(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = prop::sample::select(vec![
        ':', '-', '{', '}', '[', ']', '\'', '"', ' ', '\n', '&', '*', '!', '#', '|', '>', '?', ',',
        '.', '<', '0', '9', 'x', '\t', 'é',
    ]);
    let snippets = prop::sample::select(vec![
        "{}",
        "[]",
        ": ",
        "- ",
        "&a ",
        "*a",
        "!!str ",
        "<<: *a",
        "null",
        "~",
        "\"",
        "'",
        "state.",
        "cmd.",
        "::",
        "&&",
        "()",
        "list<",
        "optional<",
        "?",
        "{id}",
        "99999999999999999999",
        "-1",
        "1e9",
        "\u{0}",
        "\u{feff}",
    ]);
    prop_oneof![
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), special).prop_map(|(i, c)| Edit::ReplaceChar(i, c)),
        (any::<usize>(), snippets).prop_map(|(i, s)| Edit::InsertText(i, s.to_owned())),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::ReplaceWord(a, b)),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len().max(1);
    match e {
        Edit::DropLine(i) => {
            if !lines.is_empty() {
                lines.remove(i % n);
            }
        }
        Edit::DuplicateLine(i) => {
            if !lines.is_empty() {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
        }
        Edit::SwapLines(a, b) => {
            if !lines.is_empty() {
                lines.swap(a % n, b % n);
            }
        }
        Edit::ReplaceChar(..) | Edit::InsertText(..) if text.is_empty() => {}
        Edit::ReplaceChar(i, c) => {
            let chars: Vec<char> = text.chars().collect();
            let mut chars = chars;
            let at = i % chars.len();
            chars[at] = *c;
            return chars.into_iter().collect();
        }
        Edit::InsertText(i, s) => {
            let chars: Vec<char> = text.chars().collect();
            let at = i % (chars.len() + 1);
            let mut out: String = chars[..at].iter().collect();
            out.push_str(s);
            out.extend(&chars[at..]);
            return out;
        }
        Edit::ReplaceWord(a, b) => {
            let words: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .filter(|w| w.len() > 2)
                .collect();
            if words.len() > 1 {
                let from = words[a % words.len()];
                let to = words[b % words.len()];
                return text.replacen(from, to, 1);
            }
        }
    }
    lines.join("\n") + "\n"
}

fn run(files: Vec<SourceFile>) {
    match codegen::check_files(files) {
        Ok((model, _)) => {
            let _ = codegen::emit::generate(&model);
        }
        Err(report) => {
            let rendered = report.render();
            assert!(rendered.contains("error"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_example_catalogs_never_panic(file in 0usize..16, edits in prop::collection::vec(edit(), 1..6)) {
        let mut files = common::example_files();
        let i = file % files.len();
        let mut text = files[i].text.clone();
        for e in &edits {
            text = apply(&text, e);
        }
        files[i] = SourceFile::new(files[i].path.clone(), text);
        run(files);
    }

    #[test]
    fn random_text_never_panics(text in ".{0,400}", which in 0usize..3) {
        let path = ["catalog/x.yaml", "sagas.yaml", "topology.yaml"][which];
        let mut files = vec![SourceFile::new("catalog/x.yaml", "context: x\n")];
        if which == 0 { files.clear(); }
        files.push(SourceFile::new(path, text));
        run(files);
    }

    #[test]
    fn random_expressions_never_panic(expr in "[a-z_.:&|!<>=+*/%()0-9 \"-]{0,60}") {
        let text = format!(
            "context: x\naggregates:\n  A:\n    statuses: [s]\n    state: {{ n: i32 }}\ncommands:\n  C:\n    aggregate: A\n    rules:\n      - name: r\n        check: '{}'\n    emits: [E]\nevents:\n  E: {{}}\n",
            expr.replace('\'', "")
        );
        run(vec![SourceFile::new("catalog/x.yaml", text)]);
    }
}

/// A context whose rule, `with` value, state change and read-model key are `expr`, with a
/// saga whose `init`, `capture`, `correlate` and `to` are `expr` too.
fn catalog_with_expression(expr: &str, site: usize) -> Vec<SourceFile> {
    let e = |i: usize| {
        if i == site % 8 {
            format!("'{}'", expr.replace('\'', "''"))
        } else {
            String::new()
        }
    };
    let or = |i: usize, default: &str| {
        let v = e(i);
        if v.is_empty() { default.to_owned() } else { v }
    };
    let context = format!(
        "context: x\naggregates:\n  A:\n    statuses: [s]\n    state: {{ n: i32 }}\ncommands:\n  C:\n    aggregate: A\n    creates: true\n    fields: {{ n: i32 }}\n    rules:\n      - name: r\n        check: {}\n    emits:\n      - {{ event: E, with: {{ n: {} }} }}\nevents:\n  E:\n    fields: {{ n: i32 }}\n    apply: {{ set: {{ n: {} }} }}\nread_models:\n  V:\n    key: id\n    fields: {{ id: uuid, n: i32 }}\n    from:\n      E: {{ key: {}, copy: [n] }}\n",
        or(0, "cmd.n > 0"),
        or(1, "cmd.n"),
        or(2, "event.n"),
        or(3, "meta.aggregate_id"),
    );
    let sagas = format!(
        "sagas:\n  S:\n    start: x.E\n    correlation: id\n    correlate: {{ x.E: {} }}\n    data: {{ id: uuid, n: i32 }}\n    init: {{ id: {} }}\n    initial: One\n    states:\n      One:\n        send: {{ command: x.C, to: {} }}\n        on:\n          x.E: {{ goto: Done, capture: {{ n: {} }} }}\n      Done: {{ terminal: completed }}\n",
        or(4, "meta.aggregate_id"),
        or(5, "meta.aggregate_id"),
        or(6, "data.id"),
        or(7, "event.n"),
    );
    vec![
        SourceFile::new("catalog/x.yaml", context),
        SourceFile::new("sagas.yaml", sagas),
    ]
}

/// An expression nested `depth` levels deep in one of several ways.
fn nested_expression(depth: usize, kind: usize) -> String {
    match kind % 7 {
        0 => format!("{}cmd.n{} > 0", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("{}(cmd.n > 0)", "!".repeat(depth)),
        2 => format!("{}cmd.n", "-".repeat(depth)),
        3 => format!("cmd.n{}", " + 1".repeat(depth)),
        4 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        5 => format!("cmd.n{}", ".len()".repeat(depth)),
        _ => format!("{}cmd.n", "return ".repeat(depth)),
    }
}

/// YAML nested `depth` levels deep, in flow or block style.
fn nested_yaml(depth: usize, flow: bool) -> String {
    if flow {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        // Block sequences nest on one line: `- - - 1`.
        format!("{}1\n", "- ".repeat(depth))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every place an expression is written, nested up to 100,000 levels in the ways `syn`
    /// and the checker recurse on: a diagnostic, never a stack overflow (in a 2 MiB test
    /// thread, a quarter of the command line's main thread).
    #[test]
    fn deeply_nested_expressions_never_panic(
        depth in prop_oneof![0usize..80, 80usize..100_000],
        kind in 0usize..7,
        site in 0usize..8,
    ) {
        let files = catalog_with_expression(&nested_expression(depth, kind), site);
        run(files);
    }

    /// Deep YAML in a context file, in a field's `example` (which takes any value) and in
    /// `sagas.yaml`: the parser's depth budget reports it.
    #[test]
    fn deeply_nested_yaml_never_panics(depth in prop_oneof![0usize..100, 100usize..100_000], flow: bool, place in 0usize..3) {
        let deep = nested_yaml(depth, flow);
        let files = match place {
            0 => vec![SourceFile::new("catalog/x.yaml", deep)],
            1 => vec![SourceFile::new(
                "catalog/x.yaml",
                format!("context: x\ntypes:\n  T:\n    fields:\n      f:\n        type: string\n        example: {}\n", deep.replace('\n', " ")),
            )],
            _ => vec![
                SourceFile::new("catalog/x.yaml", "context: x\n"),
                SourceFile::new("sagas.yaml", format!("sagas:\n  {deep}")),
            ],
        };
        run(files);
    }
}

#[test]
fn the_deepest_accepted_expressions_are_checked_and_generated() {
    use codegen::validate::expr_limits::{MAX_NESTING, MAX_OPERATORS};
    // At both limits at once, in a 2 MiB test thread: accepted, checked and generated.
    let depth = MAX_NESTING - 1;
    let sum = |path: &str| format!("{path}{}", " + 1".repeat(MAX_OPERATORS - depth - 3));
    let id = |path: &str| {
        format!(
            "{}{path}{}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        )
    };
    for (site, expr) in [
        (0, format!("{}({} > 0)", "!".repeat(depth), sum("cmd.n"))),
        (1, format!("{}({})", "-".repeat(depth), sum("cmd.n"))),
        (2, format!("{}({})", "-".repeat(depth), sum("event.n"))),
        (3, id("meta.aggregate_id")),
        (4, id("meta.aggregate_id")),
        (5, id("meta.aggregate_id")),
        (6, id("data.id")),
        (7, format!("{}({})", "-".repeat(depth), sum("event.n"))),
    ] {
        let files = catalog_with_expression(&expr, site);
        let (model, _) =
            codegen::check_files(files).unwrap_or_else(|r| panic!("site {site}: {}", r.render()));
        codegen::emit::generate(&model).expect("generates");
    }
    let over = format!(
        "{}cmd.n{} > 0",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let report = codegen::check_files(catalog_with_expression(&over, 0)).expect_err("too deep");
    assert!(
        report.render().contains("catalog/x.yaml:13:"),
        "{}",
        report.render()
    );
}

#[test]
fn huge_files_and_long_names_never_panic() {
    // A 4 MB description, 20,000 value types (over 1 MB), and names of 100,000 characters.
    let big_text = format!("context: x\ndescription: \"{}\"\n", "a".repeat(4_000_000));
    run(vec![SourceFile::new("catalog/x.yaml", big_text)]);
    let mut many = String::from("context: x\ntypes:\n");
    for i in 0..20_000 {
        many.push_str(&format!(
            "  Type{i}: {{ fields: {{ value: i32, label: string }} }}\n"
        ));
    }
    assert!(many.len() > 1_000_000);
    run(vec![SourceFile::new("catalog/x.yaml", many)]);
    let long = "A".repeat(100_000);
    let long_snake = "a".repeat(100_000);
    for text in [
        format!("context: x\ntypes:\n  {long}: {{ variants: [a] }}\n"),
        format!("context: x\ntypes:\n  \"{long}\": {{ variants: [a] }}\n"),
        format!("context: x\ntypes:\n  T: {{ variants: [{long_snake}] }}\n"),
        format!("context: {long_snake}\n"),
        format!("context: x\ntypes:\n  T: {{ fields: {{ f: {long} }} }}\n"),
    ] {
        run(vec![SourceFile::new("catalog/x.yaml", text)]);
    }
}

#[test]
fn the_cli_reports_a_deeply_nested_expression_without_crashing() {
    // 100,000 parentheses: the command line's own main thread, `check` and `generate`.
    let deep = nested_expression(100_000, 0);
    let dir = common::write_catalog("deep-expression", &catalog_with_expression(&deep, 0));
    for args in [&["check"][..], &["generate"], &["generate", "--check"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_codegen"))
            .args(args)
            .arg("--root")
            .arg(&dir)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(
                "catalog/x.yaml:13:49: error: the expression is nested more than 32 levels deep"
            ),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.ends_with("error: the catalog has 1 problem\n"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!dir.join("generated").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_cli_reports_deeply_nested_yaml_without_crashing() {
    // In a field's `example`, which takes any value, so the deserializer follows the nesting.
    let in_example = |deep: String| {
        format!(
            "context: x\ntypes:\n  T:\n    fields:\n      f:\n        type: string\n        example:\n          {deep}"
        )
    };
    for (name, deep) in [
        ("flow", nested_yaml(100_000, true)),
        ("flow-example", in_example(nested_yaml(100_000, true))),
        ("block-example", in_example(nested_yaml(100_000, false))),
    ] {
        let dir = common::write_catalog(
            &format!("deep-yaml-{name}"),
            &[SourceFile::new("catalog/x.yaml", deep)],
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_codegen"))
            .args(["check", "--root"])
            .arg(&dir)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("error: the YAML is nested more than 64 levels deep"),
            "{name}: {stderr}"
        );
        assert!(stderr.len() < 2_000, "the snippet is cut: {stderr}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
