//! The JSON Schemas and the loader agree: every shape under `tests/invalid-shapes/` is
//! rejected by both. Each case is a bundle (`#--- path` sections, as in `tests/invalid/`)
//! whose last file is the one with the invalid shape; the loader must report a problem in
//! that file, and the schema of that file's kind must reject it.

mod common;

use codegen::source::SourceFile;

fn schema_name(path: &str) -> &'static str {
    match path {
        "sagas.yaml" => "sagas.schema.json",
        "topology.yaml" => "topology.schema.json",
        _ => "context.schema.json",
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema = codegen::schema::schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("schema")
        .1;
    jsonschema::draft7::new(&serde_json::to_value(&schema).expect("json")).expect("valid schema")
}

/// What the loader says about the last file of a bundle: its first problem, if any.
fn loader_problem(files: Vec<SourceFile>) -> Option<String> {
    let last = files.last().expect("a file").path.clone();
    match codegen::check_files(files) {
        Ok(_) => None,
        Err(report) => report
            .diagnostics
            .iter()
            .find(|d| d.is_error() && report.sources.get(d.file).path == last)
            .map(|d| d.message.clone()),
    }
}

#[test]
fn the_schemas_and_the_loader_reject_the_same_shapes() {
    let dir = common::repo_root().join("tests/invalid-shapes");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "the corpus is there");
    let mut disagreements = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("readable case");
        let files = common::split_bundle(&text);
        let last = files.last().expect("a file");
        let value: serde_json::Value = serde_saphyr::from_str(&last.text).expect("yaml");
        let schema_rejects = !validator(schema_name(&last.path)).is_valid(&value);
        let problem = loader_problem(files.clone());
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if !schema_rejects || problem.is_none() {
            disagreements.push(format!(
                "{name}: schema {}, loader {}",
                if schema_rejects { "rejects" } else { "ACCEPTS" },
                problem.map_or("ACCEPTS".to_owned(), |p| format!("rejects ({p})"))
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn the_schemas_and_the_loader_accept_empty_optional_mappings() {
    // An empty (or null) optional mapping means the same as leaving the key out.
    for (path, text) in [
        (
            "catalog/x.yaml",
            "context: x\ntypes: {}\ncommands: {}\nevents: {}\n",
        ),
        (
            "catalog/x.yaml",
            "context: x\naggregates:\nread_models: {}\n",
        ),
        ("sagas.yaml", "sagas: {}\n"),
        ("topology.yaml", "processes: {}\n"),
    ] {
        let mut files = vec![SourceFile::new(path, text)];
        if !path.starts_with("catalog/") {
            files.insert(0, SourceFile::new("catalog/x.yaml", "context: x\n"));
        }
        let value: serde_json::Value = serde_saphyr::from_str(text).expect("yaml");
        assert!(
            validator(schema_name(path)).is_valid(&value),
            "schema rejects {text:?}"
        );
        if let Err(r) = codegen::check_files(files) {
            panic!("loader rejects {text:?}:\n{}", r.render());
        }
    }
}
