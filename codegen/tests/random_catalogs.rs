//! Property test over random catalogs ([`common::random_catalog`]): every catalog is either
//! rejected with diagnostics or generates output, never panics; every accepted catalog is
//! described by the JSON Schemas (loader and schemas agree); every planted name collision is
//! rejected. `RANDOM_CATALOG_SEED` replays a run (`random`: a seed from the clock), `RANDOM_CATALOG_CASES` sets its length.

mod common;

use common::random_catalog::{Options, RandomCatalog, generate, seed_from_env};

fn cases() -> u64 {
    std::env::var("RANDOM_CATALOG_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema = codegen::schema::schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("schema")
        .1;
    jsonschema::draft7::new(&serde_json::to_value(&schema).expect("json")).expect("valid schema")
}

/// Every file of an accepted catalog against its schema.
fn assert_schemas_agree(catalog: &RandomCatalog, seed: u64) {
    for file in &catalog.files {
        let schema = match file.path.as_str() {
            "sagas.yaml" => "sagas.schema.json",
            "topology.yaml" => "topology.schema.json",
            _ => "context.schema.json",
        };
        let value: serde_json::Value = serde_saphyr::from_str(&file.text).expect("yaml");
        let v = validator(schema);
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "seed {seed}: the loader accepts {} but {schema} does not: {errors:?}\n{}",
            file.path,
            catalog.bundle()
        );
    }
}

#[test]
fn random_catalogs_are_accepted_or_diagnosed_never_a_panic() {
    let seed = seed_from_env();
    let n = cases();
    println!("random catalogs: seed {seed} (RANDOM_CATALOG_SEED={seed} replays), {n} cases");
    let mut accepted = 0;
    let mut planted = 0;
    for i in 0..n {
        let case_seed = seed.wrapping_add(i);
        let opts = Options {
            tag: String::new(),
            invalid: i % 4 == 3,
        };
        let catalog = generate(case_seed, &opts);
        let result = std::panic::catch_unwind(|| codegen::check_files(catalog.files.clone()));
        let result = result
            .unwrap_or_else(|_| panic!("seed {case_seed}: check panicked\n{}", catalog.bundle()));
        match (result, &catalog.planted) {
            (Ok((model, _)), None) => {
                accepted += 1;
                let out = std::panic::catch_unwind(|| codegen::emit::generate(&model));
                match out {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        panic!("seed {case_seed}: emit failed: {e}\n{}", catalog.bundle())
                    }
                    Err(_) => panic!("seed {case_seed}: emit panicked\n{}", catalog.bundle()),
                }
                assert_schemas_agree(&catalog, case_seed);
            }
            (Ok(_), Some(what)) => panic!(
                "seed {case_seed}: the planted collision ({what}) was accepted\n{}",
                catalog.bundle()
            ),
            (Err(report), p) => {
                let rendered = report.render();
                assert!(rendered.contains("error"));
                if p.is_some() {
                    planted += 1;
                } else if std::env::var("RANDOM_CATALOG_SHOW").is_ok() {
                    println!("seed {case_seed} rejected:\n{rendered}");
                }
            }
        }
    }
    let valid_cases = n - n / 4;
    println!(
        "accepted {accepted} of {valid_cases} valid-by-construction catalogs; {planted} planted collisions rejected"
    );
    // The generator aims at valid catalogs: most of them must be accepted, or the compile
    // batch would test little.
    assert!(
        accepted * 10 >= valid_cases * 9,
        "seed {seed}: only {accepted} of {valid_cases} generated catalogs were accepted (RANDOM_CATALOG_SHOW=1 prints why)"
    );
}
