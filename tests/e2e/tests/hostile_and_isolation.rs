//! Every Command and Query route of the example, enumerated from the catalog (not a written
//! list), against the running processes:
//!
//! 1. hostile input — missing, malformed, expired, not-yet-valid, wrongly signed, unsigned
//!    (`alg: none`) tokens and tokens of another issuer or audience; a role the route does not
//!    allow; malformed JSON, a body that is not an object, unknown fields, every field of the
//!    wrong type, missing fields, integers past their type or constraint, a huge body, deep
//!    nesting, the wrong content type; undeclared filters, sort keys and parameters — is
//!    answered 4xx with `application/problem+json`, never 5xx, and nothing is enqueued;
//! 2. tenant isolation — what tenant `acme` created is invisible to tenant `globex`, whose
//!    commands on `acme`'s aggregates are rejected as not found and change nothing;
//! 3. row filters — a read model with a row filter shows a document only to its owner and to
//!    the roles of the exception, for every other role of the route.

use codegen::emit::docs::json_schema::example;
use codegen::model::{Command, Context, Model};
use e2e_tests::{PROCESSES, Response, SECRET, System, http_raw, repo_root, wait_for};
use runtime::http::auth::{TokenClaims, issue_token};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const ISSUER: &str = "https://issuer.e2e";
const AUDIENCE: &str = "e2e-api";
const WAIT: Duration = Duration::from_secs(60);

fn model() -> Model {
    codegen::load_catalog(&repo_root())
        .expect("the example catalog loads")
        .0
}

/// A token of `sub` in `tenant` with `roles`, this run's issuer and audience, changed by `edit`.
fn token_with(sub: &str, tenant: &str, roles: &[&str], edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = TokenClaims::new(sub, tenant, roles, Duration::from_secs(600));
    claims.iss = Some(ISSUER.into());
    claims.aud = Some(AUDIENCE.into());
    let mut value = serde_json::to_value(&claims).expect("claims");
    edit(&mut value);
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &value,
        &key,
    )
    .expect("token")
}

fn token(sub: &str, tenant: &str, roles: &[&str]) -> String {
    token_with(sub, tenant, roles, |_| {})
}

/// Tokens that must all be refused (401), by what is wrong with them.
fn bad_tokens(role: &str) -> Vec<(&'static str, Option<String>)> {
    let now = jsonwebtoken::get_current_timestamp();
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = {
        let mut c = TokenClaims::new("eve", "acme", &[role], Duration::from_secs(600));
        c.iss = Some(ISSUER.into());
        c.aud = Some(AUDIENCE.into());
        serde_json::to_value(c).expect("claims")
    };
    let other_key = issue_token(
        &serde_json::from_value(claims.clone()).expect("claims"),
        &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
        jsonwebtoken::Algorithm::HS256,
        None,
    )
    .expect("token");
    vec![
        ("no token", None),
        ("not a JWT", Some("garbage".into())),
        (
            "expired",
            Some(token_with("eve", "acme", &[role], |c| {
                c["exp"] = json!(now - 3600)
            })),
        ),
        (
            "not valid yet",
            Some(token_with("eve", "acme", &[role], |c| {
                c["nbf"] = json!(now + 3600)
            })),
        ),
        ("wrongly signed", Some(other_key)),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "typ": "JWT" })),
                b64(&claims)
            )),
        ),
        (
            "another issuer",
            Some(token_with("eve", "acme", &[role], |c| {
                c["iss"] = json!("https://elsewhere")
            })),
        ),
        (
            "another audience",
            Some(token_with("eve", "acme", &[role], |c| {
                c["aud"] = json!("another-api")
            })),
        ),
        (
            "no tenant",
            Some(token_with("eve", "acme", &[role], |c| {
                c["tenant"] = json!("")
            })),
        ),
    ]
}

/// A valid body for `cmd`: every field's example.
fn valid_body(model: &Model, cmd: &Command) -> serde_json::Map<String, Value> {
    cmd.fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                example(model, &f.ty, &f.constraints, f.example.as_ref()),
            )
        })
        .collect()
}

/// Process names of a context's APIs.
fn api(ctx: &Context, kind: &str) -> String {
    format!("{}-{kind}", ctx.name)
}

fn call(
    sys: &System,
    process: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http_raw(sys.addr(process), method, path, &headers, body)
        .unwrap_or_else(|e| panic!("{process} {method} {path}: {e}"))
}

/// Tally of the answers to hostile requests.
#[derive(Default)]
struct Tally {
    sent: usize,
    by_status: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn expect_4xx(&mut self, what: &str, r: &Response, status: Option<u16>) {
        self.sent += 1;
        *self.by_status.entry(r.status).or_default() += 1;
        let problem = r.content_type.starts_with("application/problem+json")
            && r.json().get("status").and_then(Value::as_u64) == Some(u64::from(r.status));
        let status_ok = match status {
            Some(s) => r.status == s,
            None => (400..500).contains(&r.status),
        };
        if !status_ok || !problem {
            self.failures.push(format!(
                "{what}: {} {} {}",
                r.status,
                r.content_type,
                r.body.chars().take(300).collect::<String>()
            ));
        }
    }
}

/// Queue depth of every command queue of this run (`rabbitmqctl`).
fn command_queue_depths(prefix: &str) -> BTreeMap<String, u64> {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "name",
            "messages",
            "-q",
            "--formatter",
            "json",
        ])
        .output()
        .expect("rabbitmqctl runs");
    let queues: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    queues
        .iter()
        .filter_map(|q| Some((q["name"].as_str()?.to_owned(), q["messages"].as_u64()?)))
        .filter(|(n, _)| n.starts_with(prefix) && n.ends_with(".commands"))
        .collect()
}

#[test]
fn hostile_requests_to_every_route_get_4xx_problems_and_enqueue_nothing() {
    let model = model();
    // No command handler runs: whatever the APIs enqueued would stay in the command queues.
    let skip: Vec<&str> = PROCESSES
        .iter()
        .copied()
        .filter(|p| !p.ends_with("-api"))
        .collect();
    let sys = System::start(
        "hostile",
        &skip,
        &[("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)],
    );
    let mut tally = Tally::default();
    let mut routes = 0;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for ctx in &model.contexts {
        let process = api(ctx, "command-api");
        for cmd in ctx.commands.iter() {
            let Some(route) = &cmd.route else { continue };
            routes += 1;
            let path = route
                .path
                .replace("{id}", &uuid::Uuid::new_v4().to_string());
            let role = cmd.roles.first().map(String::as_str).unwrap_or("user");
            let good = token("eve", "acme", &[role]);
            let body = valid_body(&model, cmd);
            let body_bytes = Value::Object(body.clone()).to_string().into_bytes();
            let what =
                |case: &str| format!("{} {} ({}): {case}", route.method, route.path, cmd.name);
            let mut send =
                |case: &str, token: Option<&str>, ct: &str, b: &[u8], status: Option<u16>| {
                    let r = call(&sys, &process, &route.method, &path, token, ct, b);
                    tally.expect_4xx(&what(case), &r, status);
                };
            for (case, t) in bad_tokens(role) {
                send(
                    case,
                    t.as_deref(),
                    "application/json",
                    &body_bytes,
                    Some(401),
                );
            }
            let outsider = token("eve", "acme", &["no-such-role"]);
            send(
                "a role the route does not allow",
                Some(&outsider),
                "application/json",
                &body_bytes,
                Some(403),
            );
            let json = "application/json";
            send("malformed JSON", Some(&good), json, b"{\"a\": ", None);
            send(
                "an array, not an object",
                Some(&good),
                json,
                b"[1, 2]",
                None,
            );
            send("a string, not an object", Some(&good), json, b"\"x\"", None);
            send("deep nesting", Some(&good), json, deep.as_bytes(), None);
            send(
                "a huge body",
                Some(&good),
                json,
                &vec![b' '; 2 << 20],
                Some(413),
            );
            send("text/plain", Some(&good), "text/plain", &body_bytes, None);
            let mut unknown = body.clone();
            unknown.insert("zz_not_a_field".into(), json!(1));
            send(
                "an unknown field",
                Some(&good),
                json,
                Value::Object(unknown).to_string().as_bytes(),
                None,
            );
            for f in &cmd.fields {
                let mut wrong = body.clone();
                let bad = if matches!(f.ty, codegen::model::Type::List(_)) {
                    json!({ "not": "a list" })
                } else {
                    json!([["not", "a"], ["scalar"]])
                };
                wrong.insert(f.name.clone(), bad);
                send(
                    &format!("`{}` of the wrong type", f.name),
                    Some(&good),
                    json,
                    Value::Object(wrong).to_string().as_bytes(),
                    None,
                );
                let mut missing = body.clone();
                missing.remove(&f.name);
                if !matches!(f.ty, codegen::model::Type::Optional(_)) {
                    send(
                        &format!("`{}` missing", f.name),
                        Some(&good),
                        json,
                        Value::Object(missing).to_string().as_bytes(),
                        None,
                    );
                }
                let mut past = Vec::new();
                if matches!(f.ty, codegen::model::Type::I32 | codegen::model::Type::U32) {
                    past.push(("past its type", json!(i64::from(i32::MAX) * 4)));
                }
                if let Some(max) = f.constraints.max {
                    past.push(("above its max", json!(i128::from(max) + 1)));
                }
                if let Some(min) = f.constraints.min {
                    past.push(("below its min", json!(i128::from(min) - 1)));
                }
                if let Some(max) = f.constraints.max_length {
                    past.push((
                        "longer than its max_length",
                        json!("x".repeat(max as usize + 1)),
                    ));
                }
                for (case, v) in past {
                    let mut over = body.clone();
                    over.insert(f.name.clone(), v);
                    send(
                        &format!("`{}` {case}", f.name),
                        Some(&good),
                        json,
                        Value::Object(over).to_string().as_bytes(),
                        None,
                    );
                }
            }
        }
        for rm in ctx.read_models.iter() {
            let Some(q) = &rm.query else { continue };
            routes += 1;
            let process = api(ctx, "query-api");
            let role = q.roles.first().map(String::as_str).unwrap_or("user");
            let good = token("eve", "acme", &[role]);
            let what = |case: &str| format!("GET {} ({}): {case}", q.path, rm.name);
            let mut get = |case: &str, path: &str, token: Option<&str>, status: Option<u16>| {
                let r = call(&sys, &process, "GET", path, token, "application/json", b"");
                tally.expect_4xx(&what(case), &r, status);
            };
            for (case, t) in bad_tokens(role) {
                get(case, &q.path, t.as_deref(), Some(401));
                get(
                    case,
                    &format!("{}/{}", q.path, uuid::Uuid::new_v4()),
                    t.as_deref(),
                    Some(401),
                );
            }
            let outsider = token("eve", "acme", &["no-such-role"]);
            get(
                "a role the route does not allow",
                &q.path,
                Some(&outsider),
                Some(403),
            );
            for (case, query) in [
                ("an undeclared filter", "zz_not_a_field=1"),
                ("an undeclared parameter", "zz=1"),
                ("an undeclared sort key", "sort=zz_not_a_field"),
                ("a page of zero", "page=0"),
                ("a page that is not a number", "page=x"),
                ("a page size that is not a number", "page_size=-1"),
                ("an unknown operator", &format!("{}[zz]=1", rm.key)),
            ] {
                get(case, &format!("{}?{query}", q.path), Some(&good), Some(400));
            }
            for (field, ops) in &q.filters {
                if let Some(op) = ops.first() {
                    // A value that parses as nothing the field can hold.
                    let f = rm
                        .fields
                        .iter()
                        .find(|f| &f.name == field)
                        .expect("declared field");
                    if !matches!(
                        f.ty,
                        codegen::model::Type::String
                            | codegen::model::Type::Enum(_)
                            | codegen::model::Type::Uuid
                            | codegen::model::Type::Timestamp
                            | codegen::model::Type::Date
                    ) {
                        get(
                            &format!("filter `{field}` with a value of the wrong type"),
                            &format!("{}?{field}[{}]=%5Bx%5D", q.path, op.name()),
                            Some(&good),
                            Some(400),
                        );
                    }
                }
            }
        }
    }
    // Nothing got through to the command queues.
    let depths = command_queue_depths(&sys.prefix);
    assert_eq!(depths.len(), model.contexts.len(), "{depths:?}");
    assert!(depths.values().all(|d| *d == 0), "enqueued: {depths:?}");
    // The APIs are still up.
    for ctx in &model.contexts {
        for kind in ["command-api", "query-api"] {
            let r = e2e_tests::http(sys.addr(&api(ctx, kind)), "GET", "/health/live", &[], None)
                .expect("health");
            assert_eq!(r.status, 200, "{} is alive", api(ctx, kind));
        }
    }
    println!(
        "hostile HTTP: {} requests to {routes} routes; answers by status {:?}; 5xx: {}; enqueued: 0",
        tally.sent,
        tally.by_status,
        tally.by_status.range(500..).map(|(_, n)| n).sum::<usize>()
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} hostile requests were not answered with the expected 4xx problem:\n{}",
        tally.failures.len(),
        tally.sent,
        tally.failures.join("\n")
    );
}

/// `GET` as `sub`@`tenant` with `roles`.
fn get(
    sys: &System,
    process: &str,
    path: &str,
    sub: &str,
    tenant: &str,
    roles: &[&str],
) -> Response {
    let t = token(sub, tenant, roles);
    call(sys, process, "GET", path, Some(&t), "application/json", b"")
}

/// Sends `cmd` (every field's example) to `path` as `alice` of `tenant` with `role`, asserts
/// `202`, and waits until the command is handled: (the 202 body, the final status, the status
/// path).
fn send_and_wait(
    sys: &System,
    model: &Model,
    process: &str,
    cmd: &Command,
    path: &str,
    tenant: &str,
    role: &str,
) -> (Value, Value, String) {
    let route = cmd.route.as_ref().expect("a routed command");
    let t = token("alice", tenant, &[role]);
    let body = Value::Object(valid_body(model, cmd)).to_string();
    let r = call(
        sys,
        process,
        &route.method,
        path,
        Some(&t),
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(r.status, 202, "{} {path}: {}", route.method, r.body);
    let accepted = r.json();
    let tracking = accepted["tracking_id"].as_str().expect("tracking id");
    let status_path = format!("/commands/{tracking}");
    let outcome = wait_for(WAIT, &format!("{} handled", cmd.name), || {
        let s = get(sys, process, &status_path, "alice", tenant, &[role]);
        match s.json()["status"].as_str() {
            Some("accepted") | None => Err(s.body),
            Some(_) => Ok(s.json()),
        }
    });
    (accepted, outcome, status_path)
}

/// The key of a read-model document as it appears in a path.
fn key_of(doc: &Value, key: &str) -> String {
    doc[key]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| doc[key].to_string())
}

#[test]
fn tenants_and_row_filters_isolate_every_route() {
    let model = model();
    let sys = System::start(
        "isolation",
        &[],
        &[("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)],
    );
    let mut checks = 0usize;
    // acme creates one aggregate through every creating route.
    let mut created: Vec<(&Context, &Command, String)> = Vec::new();
    for ctx in &model.contexts {
        for cmd in ctx.commands.iter().filter(|c| c.creates) {
            let Some(route) = &cmd.route else { continue };
            let role = cmd.roles.first().map(String::as_str).unwrap_or("user");
            let path = route
                .path
                .replace("{id}", &uuid::Uuid::new_v4().to_string());
            let process = api(ctx, "command-api");
            let (accepted, outcome, status_path) =
                send_and_wait(&sys, &model, &process, cmd, &path, "acme", role);
            assert_eq!(outcome["status"], "processed", "{}: {outcome}", cmd.name);
            let id = accepted["aggregate_id"]
                .as_str()
                .expect("aggregate id")
                .to_owned();
            // The other tenant cannot see the command's status.
            let s = get(&sys, &process, &status_path, "alice", "globex", &[role]);
            assert_eq!(
                s.status, 404,
                "globex reads acme's command status: {}",
                s.body
            );
            checks += 1;
            created.push((ctx, cmd, id));
        }
    }
    assert!(!created.is_empty(), "the example has creating routes");

    // What a tenant sees in every read model (as `alice` with every role of the route).
    let snapshot = |tenant: &str| -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for ctx in &model.contexts {
            for rm in &ctx.read_models {
                let Some(q) = &rm.query else { continue };
                let roles: Vec<&str> = q.roles.iter().map(String::as_str).collect();
                let path = format!("{}?page_size={}", q.path, q.max_page_size);
                let r = get(&sys, &api(ctx, "query-api"), &path, "alice", tenant, &roles);
                assert_eq!(r.status, 200, "{}: {}", q.path, r.body);
                out.insert(q.path.clone(), r.json()["items"].clone());
            }
        }
        out
    };
    let creators: Vec<&str> = created.iter().map(|(c, _, _)| c.name.as_str()).collect();
    let acme = wait_for(
        WAIT,
        "acme's documents in the creating contexts' read models",
        || {
            let s = snapshot("acme");
            let ready = model
                .contexts
                .iter()
                .filter(|c| creators.contains(&c.name.as_str()))
                .flat_map(|c| c.read_models.iter().filter_map(|rm| rm.query.as_ref()))
                .all(|q| s[&q.path].as_array().is_some_and(|a| !a.is_empty()));
            if ready { Ok(s) } else { Err(format!("{s:?}")) }
        },
    );

    // globex sees none of it: empty lists, 404 for every key acme has.
    for ctx in &model.contexts {
        for rm in &ctx.read_models {
            let Some(q) = &rm.query else { continue };
            let roles: Vec<&str> = q.roles.iter().map(String::as_str).collect();
            let process = api(ctx, "query-api");
            let r = get(&sys, &process, &q.path, "alice", "globex", &roles);
            assert_eq!(
                r.json()["total"],
                0,
                "globex lists acme's {}: {}",
                q.path,
                r.body
            );
            checks += 1;
            for doc in acme[&q.path].as_array().into_iter().flatten() {
                let one = format!("{}/{}", q.path, key_of(doc, &rm.key));
                let r = get(&sys, &process, &one, "alice", "globex", &roles);
                assert_eq!(r.status, 404, "globex reads acme's {one}: {}", r.body);
                checks += 1;
            }
        }
    }

    // globex's commands on acme's aggregates are rejected as not found and change nothing.
    for (ctx, creator, id) in &created {
        let process = api(ctx, "command-api");
        for cmd in ctx
            .commands
            .iter()
            .filter(|c| c.aggregate == creator.aggregate && !c.creates)
        {
            let Some(route) = cmd.route.as_ref().filter(|r| r.has_id()) else {
                continue;
            };
            let role = cmd.roles.first().map(String::as_str).unwrap_or("user");
            let path = route.path.replace("{id}", id);
            let (_, outcome, _) = send_and_wait(&sys, &model, &process, cmd, &path, "globex", role);
            assert_eq!(
                outcome["status"], "rejected",
                "{} by globex on acme's {id}: {outcome}",
                cmd.name
            );
            assert_eq!(outcome["code"], "not_found", "{outcome}");
            checks += 1;
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(snapshot("acme"), acme, "acme's read models are unchanged");

    // Row filters: the owner and the roles of the exception see a document; every other role
    // of the route, for another user of the same tenant, does not.
    for ctx in &model.contexts {
        for rm in &ctx.read_models {
            let Some(q) = &rm.query else { continue };
            let Some(rf) = &q.row_filter else { continue };
            let process = api(ctx, "query-api");
            let docs = acme[&q.path].as_array().cloned().unwrap_or_default();
            assert!(
                !docs.is_empty(),
                "a document of {} to test its row filter",
                q.path
            );
            for doc in docs {
                let one = format!("{}/{}", q.path, key_of(&doc, &rm.key));
                let owner = doc[&rf.field]
                    .as_str()
                    .expect("a string row-filter field")
                    .to_owned();
                for role in &q.roles {
                    let r = get(&sys, &process, &one, "mallory", "acme", &[role]);
                    let list = get(&sys, &process, &q.path, "mallory", "acme", &[role]);
                    let listed = list.json()["items"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|d| d[&rm.key] == doc[&rm.key]));
                    if rf.except_roles.contains(role) {
                        assert_eq!(
                            r.status, 200,
                            "role {role} (exempt) reads {one}: {}",
                            r.body
                        );
                        assert!(listed, "role {role} (exempt) lists {one}");
                    } else {
                        assert_eq!(
                            r.status, 404,
                            "mallory as {role} reads {owner}'s {one}: {}",
                            r.body
                        );
                        assert!(!listed, "mallory as {role} lists {owner}'s {one}");
                        let own = get(&sys, &process, &one, &owner, "acme", &[role]);
                        assert_eq!(
                            own.status, 200,
                            "{owner} as {role} reads their {one}: {}",
                            own.body
                        );
                    }
                    checks += 1;
                }
            }
        }
    }
    println!(
        "isolation: acme created {} aggregates through every creating route; {checks} tenant and row isolation checks passed",
        created.len()
    );
}
