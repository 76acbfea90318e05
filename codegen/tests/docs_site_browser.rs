//! The HTML site of every catalog in headless Debian Chromium (driven by playwright-core with
//! `/usr/bin/chromium`, see `tools/validators/check-site.mjs`): every page loads without a
//! console error, page error or failed request, every diagram image renders with a non-zero
//! size and its SVG holds drawn nodes, and the search box finds pages that exist. Screenshots
//! of every page go to `tests/artifacts/site/<catalog>/` (gitignored). A deliberately broken
//! page must make the checker fail.

mod docs_common;

use docs_common::{catalogs, doc_tools, docs, repo_root, run, write_tree};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn check_site(site: &Path, shots: &Path) -> (bool, serde_json::Value, String) {
    let script = repo_root().join("tools/validators/check-site.mjs");
    let (ok, out, err) = run(Command::new("node")
        .arg(script)
        .arg(site)
        .arg(shots)
        .env("CHROMIUM", &doc_tools()["CHROMIUM"]));
    let report = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{out}\n{err}"));
    (ok, report, err)
}

#[test]
fn every_page_loads_cleanly_and_every_diagram_renders() {
    doc_tools();
    for (name, root) in catalogs() {
        let files = docs(&root);
        let dir = write_tree(&format!("site-{name}"), &files);
        let shots = repo_root().join("tests/artifacts/site").join(&name);
        let _ = std::fs::remove_dir_all(&shots);
        let (ok, report, err) = check_site(&dir.join("docs/site"), &shots);
        assert!(
            ok,
            "{name}: site check failed: {:#}\n{err}",
            report["failures"]
        );
        let pages = report["pages"].as_array().expect("pages");
        let html = files
            .keys()
            .filter(|p| p.starts_with("docs/site/") && p.ends_with(".html"))
            .count();
        assert_eq!(pages.len(), html, "{name}: not every page was opened");
        let svgs = files
            .keys()
            .filter(|p| p.starts_with("docs/site/diagrams/"))
            .count();
        let mut shown: BTreeMap<String, u64> = BTreeMap::new();
        for p in pages {
            for d in p["diagrams"].as_array().expect("diagrams") {
                let src = d["src"].as_str().unwrap();
                let file = src.rsplit('/').next().unwrap().to_owned();
                assert!(d["width"].as_u64().unwrap() > 0, "{name}: {src}");
                assert!(d["nodes"].as_u64().unwrap() > 0, "{name}: {src}");
                *shown.entry(file).or_default() += 1;
            }
        }
        assert_eq!(
            shown.len(),
            svgs,
            "{name}: a diagram is on no page: {shown:?}"
        );
        let search = pages
            .iter()
            .find(|p| p["page"] == "index.html")
            .and_then(|p| p["search"].as_object())
            .expect("search checked on the index");
        assert!(search["results"].as_u64().unwrap() > 0);
        for p in pages {
            let png = shots.join(
                p["page"]
                    .as_str()
                    .unwrap()
                    .replace('/', "__")
                    .replace(".html", ".png"),
            );
            assert!(png.is_file(), "{name}: no screenshot {}", png.display());
        }
        eprintln!(
            "{name}: Chromium {} (playwright-core {}): {} pages, {} diagrams, no console error; screenshots in {}",
            report["browser"],
            report["playwright"],
            pages.len(),
            svgs,
            shots.display()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_broken_page_is_reported() {
    doc_tools();
    let (_, root) = catalogs().remove(0);
    let mut files = docs(&root);
    files.retain(|p, _| p.starts_with("docs/site/assets/") || p.ends_with("search-index.js"));
    files.insert(
        "docs/site/broken.html".into(),
        "<!DOCTYPE html><html><head><title>broken</title></head><body>\
         <img class=\"diagram\" src=\"diagrams/missing.svg\" alt=\"missing\">\
         <script>console.error('boom'); undefinedFunction();</script></body></html>"
            .into(),
    );
    let dir = write_tree("site-broken", &files);
    let shots = dir.join("shots");
    let (ok, report, _) = check_site(&dir.join("docs/site"), &shots);
    assert!(!ok, "the checker passed a broken page: {report:#}");
    let failures = report["failures"].to_string();
    assert!(failures.contains("console error: boom"), "{failures}");
    assert!(failures.contains("page error"), "{failures}");
    assert!(failures.contains("diagram not rendered"), "{failures}");
    let _ = std::fs::remove_dir_all(&dir);
}
