//! The generated Kubernetes manifests (`generated/deploy/kubernetes/`) of the example catalog:
//!
//! - every Kubernetes object passes `kubernetes-validate --strict` (PyPI; the Kubernetes
//!   OpenAPI schemas it ships, offline), installed by `scripts/k8s-tools.sh`;
//! - every KEDA `ScaledObject` passes `tools/keda/scaledobject.schema.json` (the ScaledObject
//!   spec with the RabbitMQ scaler's metadata, kept in the repository);
//! - both validators are shown to reject a broken copy, so a silently passing tool cannot hide
//!   a regression;
//! - the objects agree with the model: one Deployment per generated process on its default
//!   port, Services for the two APIs of each context, one ScaledObject per consumer naming the
//!   queue the process really consumes (as in `generated/topology.json`);
//! - insta snapshots of every file.

use codegen::emit::Output;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A named change that breaks a manifest.
type Mutation = Box<dyn Fn(&mut Value)>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn model() -> codegen::model::Model {
    match codegen::load_catalog(&repo_root()) {
        Ok((m, _)) => m,
        Err(codegen::LoadError::Invalid(r)) => panic!("{}", r.render()),
        Err(codegen::LoadError::Read(e)) => panic!("{e:?}"),
    }
}

/// The manifests by file name (without the `deploy/kubernetes/` folder).
fn manifests() -> BTreeMap<String, String> {
    let mut out = Output::default();
    codegen::emit::k8s::emit(&model(), &mut out).expect("k8s emit");
    out.files()
        .map(|(p, c)| {
            let name = p
                .strip_prefix("deploy/kubernetes/")
                .unwrap_or_else(|| panic!("{p} outside deploy/kubernetes/"));
            (name.to_owned(), c.to_owned())
        })
        .collect()
}

/// Every YAML document of a file, as JSON values (empty documents skipped).
fn documents(name: &str, yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap_or_else(|e| panic!("{name}: not YAML: {e}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn kubernetes_validate() -> &'static str {
    static TOOL: OnceLock<String> = OnceLock::new();
    TOOL.get_or_init(|| {
        let script = repo_root().join("scripts/k8s-tools.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("KUBERNETES_VALIDATE="))
            .expect("KUBERNETES_VALIDATE= line")
            .to_owned()
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codegen-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn run_validate(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(kubernetes_validate())
        .arg("--strict")
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn keda_validator() -> jsonschema::Validator {
    let path = repo_root().join("tools/keda/scaledobject.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read KEDA schema"))
            .expect("KEDA schema is JSON");
    jsonschema::draft7::meta::validate(&schema).expect("KEDA schema is a draft-07 schema");
    jsonschema::draft7::new(&schema).expect("KEDA schema compiles")
}

fn keda_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn kubernetes_objects_pass_kubernetes_validate_strict() {
    let files = manifests();
    let dir = temp_dir("valid");
    let mut paths = Vec::new();
    for (name, content) in &files {
        if name.starts_with("keda-") {
            continue;
        }
        let p = dir.join(name);
        std::fs::write(&p, content).expect("write");
        paths.push(p);
    }
    assert!(paths.len() > 10, "too few manifests: {paths:?}");
    let (ok, out) = run_validate(&paths);
    assert!(ok, "kubernetes-validate rejected the manifests:\n{out}");
    let lines = out.lines().filter(|l| l.contains("INFO")).count();
    let objects: usize = files
        .iter()
        .filter(|(n, _)| !n.starts_with("keda-"))
        .map(|(n, c)| documents(n, c).len())
        .sum();
    assert_eq!(
        lines, objects,
        "one INFO line per validated object expected:\n{out}"
    );
    eprintln!("kubernetes-validate --strict accepted {objects} objects");

    // The validator must reject a broken Deployment (unknown field, wrong type).
    let deployment = &files["ordering-command-handler.yaml"];
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        deployment.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: three"),
    )
    .expect("write");
    let (ok, out) = run_validate(std::slice::from_ref(&broken));
    assert!(!ok, "a string revisionHistoryLimit passed:\n{out}");
    std::fs::write(
        &broken,
        deployment.replace("readinessProbe:", "readynessProbe:"),
    )
    .expect("write");
    let (ok, out) = run_validate(std::slice::from_ref(&broken));
    assert!(!ok, "a misspelt readinessProbe passed --strict:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scaled_objects_pass_the_keda_schema() {
    let files = manifests();
    let v = keda_validator();
    let docs = documents("keda-scaledobjects.yaml", &files["keda-scaledobjects.yaml"]);
    assert!(!docs.is_empty());
    for d in &docs {
        let errors = keda_errors(&v, d);
        assert!(errors.is_empty(), "{}: {errors:#?}", d["metadata"]["name"]);
    }

    // Broken copies must fail: each mutation is one mistake KEDA would reject or misread.
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "missing queueName",
            Box::new(|d| {
                d["spec"]["triggers"][0]["metadata"]
                    .as_object_mut()
                    .unwrap()
                    .remove("queueName");
            }),
        ),
        (
            "unknown mode",
            Box::new(|d| d["spec"]["triggers"][0]["metadata"]["mode"] = "Length".into()),
        ),
        (
            "numeric value",
            Box::new(|d| d["spec"]["triggers"][0]["metadata"]["value"] = 20.into()),
        ),
        (
            "MessageRate over amqp",
            Box::new(|d| d["spec"]["triggers"][0]["metadata"]["mode"] = "MessageRate".into()),
        ),
        (
            "no host at all",
            Box::new(|d| {
                d["spec"]["triggers"][0]["metadata"]
                    .as_object_mut()
                    .unwrap()
                    .remove("hostFromEnv");
            }),
        ),
        (
            "misspelt spec field",
            Box::new(|d| d["spec"]["maxReplicas"] = 3.into()),
        ),
        (
            "no scale target",
            Box::new(|d| {
                d["spec"].as_object_mut().unwrap().remove("scaleTargetRef");
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut d = docs[0].clone();
        mutate(&mut d);
        assert!(
            !keda_errors(&v, &d).is_empty(),
            "the KEDA schema accepted a ScaledObject with {what}"
        );
    }
}

#[test]
fn manifests_agree_with_the_model_and_the_generated_processes() {
    let m = model();
    let files = manifests();
    let topology: Value =
        serde_json::to_value(codegen::emit::topology::runtime_topology(&m)).expect("topology json");
    let work_queues: Vec<&str> = topology["work_queues"]
        .as_array()
        .expect("work_queues")
        .iter()
        .map(|w| w["queue"].as_str().expect("queue"))
        .collect();

    let mut deployments = BTreeMap::new();
    let mut services = Vec::new();
    for (name, content) in files.iter().filter(|(n, _)| !n.starts_with("keda-")) {
        for d in documents(name, content) {
            match d["kind"].as_str() {
                Some("Deployment") => {
                    deployments.insert(d["metadata"]["name"].as_str().unwrap().to_owned(), d);
                }
                Some("Service") => {
                    services.push(d["metadata"]["name"].as_str().unwrap().to_owned())
                }
                Some("ConfigMap" | "Secret") => {}
                other => panic!("{name}: unexpected kind {other:?}"),
            }
        }
    }

    // One Deployment per generated process, named like its package, on its default port.
    let generated = repo_root().join("generated/crates");
    let mut expected = Vec::new();
    for c in &m.contexts {
        for p in [
            "command-api",
            "command-handler",
            "event-handler",
            "query-api",
        ] {
            expected.push(format!("{}-{p}", c.name));
        }
    }
    for s in &m.sagas {
        expected.push(codegen::emit::rust::names::saga_package(s));
    }
    expected.sort();
    assert_eq!(deployments.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, d) in &deployments {
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let port = container["ports"][0]["containerPort"].as_u64().unwrap();
        assert_eq!(
            container["env"][0]["value"],
            format!("0.0.0.0:{port}"),
            "{name}"
        );
        let wiring = generated.join(name).join("src/wiring.rs");
        if let Ok(src) = std::fs::read_to_string(&wiring) {
            assert!(
                src.contains(&format!("\"127.0.0.1:{port}\"")),
                "{name}: port {port} is not the default of {}",
                wiring.display()
            );
        }
        assert_eq!(
            container["livenessProbe"]["httpGet"]["path"],
            "/health/live"
        );
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"],
            "/health/ready"
        );
        assert!(
            container["resources"]["requests"]["cpu"].is_string(),
            "{name}"
        );
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{name}"
        );
        let env_from = container["envFrom"].to_string();
        assert!(env_from.contains("system-config") && env_from.contains("system-secrets"));
    }

    // Services for the two APIs of each context, and nothing else.
    services.sort();
    let mut apis: Vec<String> = m
        .contexts
        .iter()
        .flat_map(|c| {
            [
                format!("{}-command-api", c.name),
                format!("{}-query-api", c.name),
            ]
        })
        .collect();
    apis.sort();
    assert_eq!(services, apis);

    // A ScaledObject per consumer, on the queue the process consumes, targeting its Deployment
    // (which leaves the replica count to KEDA).
    let scaled = documents("keda", &files["keda-scaledobjects.yaml"]);
    let mut consumers: Vec<(String, String)> = Vec::new();
    for c in &m.topology.contexts {
        consumers.push((
            format!("{}-command-handler", c.context),
            c.command_queue.name.clone(),
        ));
        consumers.push((
            format!("{}-event-handler", c.context),
            c.event_queue.name.clone(),
        ));
    }
    for s in &m.sagas {
        let q = m.topology.sagas.iter().find(|t| t.saga == s.name).unwrap();
        consumers.push((
            codegen::emit::rust::names::saga_package(s),
            q.queue.name.clone(),
        ));
    }
    assert_eq!(scaled.len(), consumers.len());
    for (process, queue) in consumers {
        let so = scaled
            .iter()
            .find(|s| s["metadata"]["name"] == process.as_str())
            .unwrap_or_else(|| panic!("no ScaledObject for {process}"));
        assert_eq!(so["spec"]["scaleTargetRef"]["name"], process.as_str());
        assert_eq!(
            so["spec"]["triggers"][0]["metadata"]["queueName"],
            queue.as_str()
        );
        assert!(
            work_queues.contains(&queue.as_str()),
            "{queue} is not a work queue"
        );
        assert!(
            deployments[&process]["spec"].get("replicas").is_none(),
            "{process}: KEDA-scaled Deployment must not fix replicas"
        );
        let wiring = generated.join(&process).join("src/wiring.rs");
        if let Ok(src) = std::fs::read_to_string(&wiring) {
            assert!(
                src.contains(&format!("queue: Some(\"{queue}\")")),
                "{process} does not consume {queue} ({})",
                wiring.display()
            );
        }
    }
}

#[test]
fn manifests_snapshots() {
    for (name, content) in manifests() {
        insta::assert_snapshot!(format!("k8s__{name}"), content);
    }
}
