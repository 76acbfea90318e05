//! The documentation emitters on every catalog (the example and `tests/catalogs/*`):
//! snapshots of the Markdown, AsyncAPI, OpenAPI and definitions files and of the site's index
//! and search index; determinism; JSON Schemas valid against draft 2020-12 and matching the
//! example payloads; every local link of the site and the Markdown resolves; the topology
//! document and the definitions list exactly what `runtime_topology` holds.

mod docs_common;

use docs_common::{catalogs, docs, model};
use std::collections::BTreeMap;

fn snapshot_worthy(path: &str) -> bool {
    let p = path.strip_prefix("docs/").unwrap_or(path);
    p.ends_with(".md")
        || p == "asyncapi.yaml"
        || p == "rabbitmq-definitions.json"
        || p.starts_with("openapi/")
        || p == "site/index.html"
        || p == "site/search-index.json"
}

#[test]
fn documents_match_their_snapshots() {
    for (name, root) in catalogs() {
        let files = docs(&root);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_suffix(name.clone());
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| {
            for (path, text) in files.iter().filter(|(p, _)| snapshot_worthy(p)) {
                let snap = format!(
                    "docs__{}",
                    path.trim_start_matches("docs/").replace('/', "__")
                );
                insta::assert_snapshot!(snap, text);
            }
        });
    }
}

#[test]
fn output_is_deterministic_and_complete() {
    for (name, root) in catalogs() {
        let a = docs(&root);
        let b = docs(&root);
        let differ: Vec<&String> = a.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
        assert!(differ.is_empty(), "{name}: two runs differ in {differ:?}");
        assert_eq!(a.len(), b.len(), "{name}");
        let m = model(&root);
        for required in [
            "docs/README.md",
            "docs/catalog.md",
            "docs/process-map.md",
            "docs/topology.md",
            "docs/asyncapi.yaml",
            "docs/rabbitmq-definitions.json",
            "docs/site/index.html",
            "docs/site/topology.html",
            "docs/site/search-index.json",
            "docs/site/search-index.js",
            "docs/site/diagrams/system.svg",
        ] {
            assert!(a.contains_key(required), "{name}: no {required}");
        }
        for ctx in &m.contexts {
            let slug = heck::ToKebabCase::to_kebab_case(ctx.name.as_str());
            for api in ["command", "query"] {
                let p = format!("docs/openapi/{slug}-{api}-api.yaml");
                assert!(a.contains_key(&p), "{name}: no {p}");
            }
            assert!(a.contains_key(&format!("docs/site/contexts/{slug}.html")));
            assert!(a.contains_key(&format!("docs/site/diagrams/context-{slug}.svg")));
            for msg in ctx
                .commands
                .iter()
                .map(|c| &c.name)
                .chain(ctx.events.iter().map(|e| &e.name))
            {
                let schema = format!("docs/schemas/{}/{msg}.json", ctx.name);
                assert!(a.contains_key(&schema), "{name}: no {schema}");
                let page = format!("docs/site/messages/{}.{msg}.html", ctx.name);
                assert!(a.contains_key(&page), "{name}: no {page}");
                let catalog = &a["docs/catalog.md"];
                assert!(
                    catalog.contains(&format!("### `{}.{msg}`", ctx.name)),
                    "{name}: {msg} missing from catalog.md"
                );
            }
        }
        for s in &m.sagas {
            let slug = heck::ToKebabCase::to_kebab_case(s.name.as_str());
            let md = &a[&format!("docs/sagas/{slug}.md")];
            assert!(
                md.contains("```mermaid\nstateDiagram-v2\n"),
                "{name}: {slug}"
            );
            for st in &s.states {
                assert!(
                    md.contains(&format!("| `{}` |", st.name)),
                    "{name}: {}",
                    st.name
                );
            }
            assert!(a.contains_key(&format!("docs/site/diagrams/saga-{slug}.svg")));
        }
        // SVG diagrams: one drawn node per diagram node, fixed size, no leftover crate font.
        for (p, svg) in a.iter().filter(|(p, _)| p.ends_with(".svg")) {
            assert!(svg.starts_with("<?xml"), "{p}");
            assert!(svg.contains("<svg class=\"diagram\""), "{p}");
            assert!(svg.trim_end().ends_with("</svg>"), "{p}");
            assert!(svg.contains("<g class=\"node "), "{p}: no node");
            assert!(!svg.contains("Times"), "{p}");
        }
    }
}

#[test]
fn json_schemas_are_valid_and_accept_the_examples() {
    for (name, root) in catalogs() {
        let files = docs(&root);
        let m = model(&root);
        let mut checked = 0;
        for (path, text) in files.iter().filter(|(p, _)| p.starts_with("docs/schemas/")) {
            let schema: serde_json::Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{path}"
            );
            jsonschema::draft202012::meta::validate(&schema)
                .unwrap_or_else(|e| panic!("{name}: {path} is not a valid 2020-12 schema: {e}"));
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            // A field with a pattern and no catalog example gets a placeholder string, so the
            // examples are checked against the schema without its patterns.
            let mut unpatterned = schema.clone();
            strip_patterns(&mut unpatterned);
            let example_validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&unpatterned)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            // The example payload shown in the catalog must satisfy the schema.
            let (ctx, msg) = path
                .trim_start_matches("docs/schemas/")
                .trim_end_matches(".json")
                .split_once('/')
                .expect("context/Message");
            let c = m.context(ctx).expect("context");
            let fields = c
                .command(msg)
                .map(|x| &x.fields)
                .or_else(|| c.event(msg).map(|x| &x.fields))
                .expect("message");
            let example = codegen::emit::docs::json_schema::example_object(&m, fields);
            let errors: Vec<String> = example_validator
                .iter_errors(&example)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{name}: {path}: example {example}: {errors:?}"
            );
            // And a payload missing a required field must not.
            if let (Some(req), serde_json::Value::Object(mut o)) = (
                schema["required"].as_array().and_then(|r| r.first()),
                example.clone(),
            ) {
                o.remove(req.as_str().expect("name"));
                assert!(
                    !validator.is_valid(&serde_json::Value::Object(o)),
                    "{path}: accepts a payload without {req}"
                );
            }
            checked += 1;
        }
        assert!(checked > 0, "{name}: no schema checked");
    }
}

fn strip_patterns(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.remove("pattern");
            o.values_mut().for_each(strip_patterns);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_patterns),
        _ => {}
    }
}

/// Resolves `href` relative to the file at `from` (paths under `generated/`).
fn resolve(from: &str, href: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in href.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[test]
fn every_local_link_resolves() {
    let link = regex_lite(r##"(?:href|src)="([^"#:]+)(?:#[^"]*)?""##);
    let md_link = regex_lite(r"\]\(([^)#:]+)(?:#[^)]*)?\)");
    for (name, root) in catalogs() {
        let files = docs(&root);
        let mut seen = 0;
        for (path, text) in &files {
            let re = if path.ends_with(".html") {
                &link
            } else if path.ends_with(".md") {
                &md_link
            } else {
                continue;
            };
            for cap in re.captures_iter(text) {
                let target = resolve(path, &cap[1]);
                assert!(
                    files.contains_key(&target),
                    "{name}: {path} links to {} ({target}), which is not generated",
                    &cap[1]
                );
                seen += 1;
            }
        }
        assert!(seen > 50, "{name}: only {seen} links checked");
        // Search entries point at pages that exist.
        let index: serde_json::Value =
            serde_json::from_str(&files["docs/site/search-index.json"]).expect("JSON");
        for e in index.as_array().expect("array") {
            let url = e["url"].as_str().expect("url");
            assert!(
                files.contains_key(&format!("docs/site/{url}")),
                "{name}: search entry {e}"
            );
        }
        let js = &files["docs/site/search-index.js"];
        let json = js
            .split_once("window.SEARCH_INDEX = ")
            .and_then(|(_, r)| r.trim_end().strip_suffix(';'))
            .expect("index assignment");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(json).unwrap(),
            index
        );
    }
}

fn regex_lite(p: &str) -> regex::Regex {
    regex::Regex::new(p).expect("regex")
}

#[test]
fn topology_documents_agree_with_runtime_topology() {
    for (name, root) in catalogs() {
        let m = model(&root);
        let files = docs(&root);
        let t = codegen::emit::topology::runtime_topology(&m);
        let defs: serde_json::Value =
            serde_json::from_str(&files["docs/rabbitmq-definitions.json"]).expect("JSON");
        let names = |key: &str, field: &str| -> Vec<String> {
            defs[key]
                .as_array()
                .expect("array")
                .iter()
                .map(|v| v[field].as_str().expect("name").to_owned())
                .collect()
        };
        let exchanges: Vec<String> = t.exchanges.iter().map(|e| e.name.clone()).collect();
        let queues: Vec<String> = t.queues.iter().map(|q| q.name.clone()).collect();
        // Per-replica templates are declared by each replica, not defined up front.
        let templates = t.per_replica_templates();
        let defined: Vec<String> = queues
            .iter()
            .filter(|q| !templates.contains(q.as_str()))
            .cloned()
            .collect();
        assert_eq!(names("exchanges", "name"), exchanges, "{name}");
        assert_eq!(names("queues", "name"), defined, "{name}");
        assert_eq!(
            defs["bindings"].as_array().unwrap().len(),
            t.bindings
                .iter()
                .filter(|b| !templates.contains(b.queue.as_str()))
                .count()
        );
        for q in t.queues.iter().filter(|q| !q.per_replica) {
            let def = defs["queues"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == q.name.as_str())
                .unwrap();
            let args: BTreeMap<String, serde_json::Value> =
                serde_json::from_value(def["arguments"].clone()).unwrap();
            assert_eq!(args.len(), q.amqp_arguments().len(), "{}", q.name);
        }
        let doc = &files["docs/topology.md"];
        for e in &exchanges {
            assert!(
                doc.contains(&format!("| `{e}` |")),
                "{name}: {e} not in topology.md"
            );
        }
        for q in &queues {
            assert!(
                doc.contains(&format!("| `{q}` |")),
                "{name}: {q} not in topology.md"
            );
        }
        let mermaid = &files["docs/process-map.md"];
        for ctx in &m.contexts {
            for role in codegen::emit::docs::flows::ROLES {
                let p = codegen::emit::docs::flows::process(&ctx.name, role);
                assert!(
                    mermaid.contains(&format!("`{p}`")),
                    "{name}: {p} not in process map"
                );
            }
        }
    }
}
