//! The generated AsyncAPI and OpenAPI documents of every catalog pass validators nobody here
//! wrote: the official `@asyncapi/parser` (npm) and `openapi-spec-validator` (PyPI), both
//! installed by `scripts/doc-tools.sh`. Each validator is also shown to reject a broken copy,
//! so a silently passing tool cannot hide a regression.

mod docs_common;

use docs_common::{catalogs, doc_tools, docs, repo_root, run, write_tree};
use std::path::Path;
use std::process::Command;

fn asyncapi(files: &[&Path]) -> (bool, String, String) {
    let script = repo_root().join("tools/validators/asyncapi-validate.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script).args(files);
    run(&mut cmd)
}

fn openapi(file: &Path) -> (bool, String, String) {
    let tool = &doc_tools()["OPENAPI_VALIDATOR"];
    run(Command::new(tool).arg(file))
}

#[test]
fn asyncapi_documents_pass_the_official_parser() {
    doc_tools();
    for (name, root) in catalogs() {
        let files = docs(&root);
        let dir = write_tree(&format!("asyncapi-{name}"), &files);
        let doc = dir.join("docs/asyncapi.yaml");
        let (ok, out, err) = asyncapi(&[&doc]);
        assert!(ok, "{name}: AsyncAPI rejected:\n{out}\n{err}");
        let report: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON report");
        assert_eq!(report["asyncapi"], "3.0.0", "{name}: {report}");
        assert_eq!(report["errors"], 0);
        assert_eq!(report["warnings"], 0);
        let m = docs_common::model(&root);
        let messages: usize = m
            .contexts
            .iter()
            .map(|c| c.commands.len() + c.events.len())
            .sum();
        assert_eq!(report["messages"], messages, "{name}: {report}");
        let public = m
            .topology
            .contexts
            .iter()
            .filter(|t| t.public_exchange.is_some())
            .count();
        assert_eq!(report["channels"], 2 * m.contexts.len() + public, "{name}");
        eprintln!(
            "{name}: @asyncapi/parser {} accepted asyncapi.yaml ({} channels, {} operations, {} messages)",
            report["parser"], report["channels"], report["operations"], report["messages"]
        );

        // The YAML reads back (PyYAML, YAML 1.1 rules) as exactly the value the emitter built.
        let back: serde_json::Value =
            serde_json::from_str(&yaml_as_json(&files["docs/asyncapi.yaml"])).unwrap();
        let built = codegen::emit::docs::asyncapi::document(&codegen::emit::docs::Docs::new(&m));
        assert_eq!(
            back, built,
            "{name}: asyncapi.yaml does not read back as built"
        );

        // A dangling message reference must be reported.
        let broken = dir.join("docs/asyncapi-broken.yaml");
        let text = files["docs/asyncapi.yaml"].replacen(
            "\"$ref\": \"#/components/messages/",
            "\"$ref\": \"#/components/messages/nope-",
            1,
        );
        std::fs::write(&broken, text).unwrap();
        let (ok, out, _) = asyncapi(&[&broken]);
        assert!(
            !ok,
            "{name}: the parser accepted a dangling reference:\n{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn openapi_documents_pass_openapi_spec_validator() {
    doc_tools();
    for (name, root) in catalogs() {
        let files = docs(&root);
        let dir = write_tree(&format!("openapi-{name}"), &files);
        let mut checked = 0;
        for path in files.keys().filter(|p| p.starts_with("docs/openapi/")) {
            let (ok, out, err) = openapi(&dir.join(path));
            assert!(ok, "{name}: {path} rejected:\n{out}\n{err}");
            assert!(out.contains(": OK"), "{name}: {path}: {out}");
            let doc: serde_json::Value =
                serde_json::from_str(&yaml_as_json(&files[path.as_str()])).expect("YAML");
            assert_eq!(doc["openapi"], "3.1.0");
            checked += 1;
        }
        let m = docs_common::model(&root);
        assert_eq!(checked, 2 * m.contexts.len(), "{name}");
        eprintln!("{name}: openapi-spec-validator accepted {checked} OpenAPI 3.1 documents");

        // An operation whose response lacks its mandatory description must be rejected.
        let (path, text) = files
            .iter()
            .find(|(p, _)| p.ends_with("-command-api.yaml"))
            .expect("a command API");
        let broken = dir.join("docs/openapi/broken.yaml");
        std::fs::write(
            &broken,
            text.replacen(
                "      responses:\n",
                "      responses: 7\n      x-was:\n",
                1,
            ),
        )
        .unwrap();
        let (ok, out, err) = openapi(&broken);
        assert!(!ok, "{name}: a broken copy of {path} passed:\n{out}\n{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Reads our own YAML subset back through Python (the validator's interpreter), as JSON.
fn yaml_as_json(text: &str) -> String {
    let tool = &doc_tools()["OPENAPI_VALIDATOR"];
    let python = Path::new(tool).with_file_name("python");
    let mut child = Command::new(python)
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}
