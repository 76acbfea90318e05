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
