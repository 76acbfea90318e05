//! schemathesis (installed by `scripts/api-fuzz-tools.sh`) against every running Command and
//! Query API of the example, from the generated OpenAPI documents, with every check it has:
//! no 5xx, responses as documented (status codes, content types, schemas), negative data
//! refused. Deterministic by default (the same cases every run); `SCHEMATHESIS_SEED=N` draws
//! random cases from seed N instead, and `SCHEMATHESIS_EXAMPLES` sets the examples per
//! operation (default 25) — e.g. `SCHEMATHESIS_SEED=7 SCHEMATHESIS_EXAMPLES=200` for a longer run.

use e2e_tests::{PROCESSES, SECRET, System, repo_root};
use runtime::http::auth::TokenClaims;
use std::process::Command;
use std::time::Duration;

#[test]
fn schemathesis_finds_no_failure_in_any_api() {
    let tool = Command::new(repo_root().join("scripts/api-fuzz-tools.sh"))
        .output()
        .expect("scripts/api-fuzz-tools.sh runs");
    assert!(
        tool.status.success(),
        "installing schemathesis: {}",
        String::from_utf8_lossy(&tool.stderr)
    );
    let schemathesis = String::from_utf8_lossy(&tool.stdout).trim().to_owned();
    let examples = std::env::var("SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let generation: Vec<String> = match std::env::var("SCHEMATHESIS_SEED") {
        Ok(seed) => vec!["--seed".into(), seed],
        Err(_) => vec!["--generation-deterministic".into()],
    };
    // The APIs only: commands stay in their queues, which the run deletes.
    let skip: Vec<&str> = PROCESSES
        .iter()
        .copied()
        .filter(|p| !p.ends_with("-api"))
        .collect();
    let sys = System::start("schemathesis", &skip, &[]);
    let mut failed = Vec::new();
    let mut ran = 0;
    for process in PROCESSES.iter().filter(|p| p.ends_with("-api")) {
        let doc = repo_root().join(format!("generated/docs/openapi/{process}.yaml"));
        // A token with every role the document mentions would be simplest; the APIs check
        // roles per route, so the token carries all roles of the example.
        let claims = TokenClaims::new(
            "alice",
            "acme",
            &["customer", "support", "admin", "warehouse"],
            Duration::from_secs(3600),
        );
        let token = runtime::http::auth::issue_token(
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
            None,
        )
        .expect("token");
        let out = Command::new(&schemathesis)
            .arg("run")
            .arg(&doc)
            .args(["--url", &format!("http://{}", sys.addr(process))])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "all", "-n", &examples, "--no-color"])
            .args(&generation)
            .output()
            .expect("schemathesis runs");
        ran += 1;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("passed") || l.contains("failed") || l.contains("error"))
            .collect();
        println!("{process}: {}", summary.last().copied().unwrap_or(""));
        if !out.status.success() {
            failed.push(format!("== {process}\n{text}"));
        }
    }
    assert_eq!(ran, 8, "every API of the example");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
