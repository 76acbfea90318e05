//! `docs/rabbitmq-definitions.json` loads into a real RabbitMQ with
//! `rabbitmqctl import_definitions` and yields exactly the exchanges, queues (type and
//! arguments) and bindings that `runtime::amqp::declare` declares for the same topology:
//! one fresh vhost gets the import, another the runtime's declarations, and
//! `rabbitmqctl list_exchanges / list_queues / list_bindings` must agree. Both vhosts are
//! deleted afterwards. The test holds the shared broker lock of the runtime's tests, so the
//! broker-restart test never runs in its middle.

mod docs_common;

use docs_common::{catalogs, docs, model, repo_root, run};
use serde_json::Value;
use std::process::Command;

/// Lock file shared with `runtime/tests/support` (taken exclusively by broker restarts).
const BROKER_LOCK_FILE: &str = "/var/tmp/runtime-broker-restart.lock";

fn broker_shared_lock() -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(BROKER_LOCK_FILE)
        .expect("broker lock file");
    f.lock_shared().expect("shared broker lock");
    f
}

fn ensure_services() {
    let script = repo_root().join("scripts/services.sh");
    let (ok, out, err) = run(Command::new("bash").arg(&script));
    assert!(ok, "{} failed:\n{out}\n{err}", script.display());
}

fn rabbitmqctl(args: &[&str]) -> String {
    let (ok, out, err) = run(Command::new("rabbitmqctl").args(args));
    assert!(ok, "rabbitmqctl {args:?} failed:\n{out}\n{err}");
    out
}

/// A vhost deleted when dropped.
struct Vhost(String);

impl Vhost {
    fn create(name: String) -> Self {
        rabbitmqctl(&["add_vhost", &name]);
        let v = Vhost(name);
        rabbitmqctl(&["set_permissions", "-p", &v.0, "guest", ".*", ".*", ".*"]);
        v
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.0])
            .output();
    }
}

fn list(what: &str, vhost: &str, columns: &[&str]) -> Vec<Value> {
    let mut args = vec![what, "-p", vhost, "--formatter", "json", "--quiet"];
    args.extend_from_slice(columns);
    let out = rabbitmqctl(&args);
    let mut rows: Vec<Value> = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("rabbitmqctl {what}: {e}: {out}"));
    // The broker's own exchanges (default and amq.*) are in every vhost.
    rows.retain(|r| match r.get("name").and_then(Value::as_str) {
        Some(n) if what == "list_exchanges" => !n.is_empty() && !n.starts_with("amq."),
        _ => true,
    });
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// What the broker holds in a vhost: exchanges, queues, bindings.
fn broker_state(vhost: &str) -> [Vec<Value>; 3] {
    [
        list(
            "list_exchanges",
            vhost,
            &[
                "name",
                "type",
                "durable",
                "auto_delete",
                "internal",
                "arguments",
            ],
        ),
        list(
            "list_queues",
            vhost,
            &[
                "name",
                "type",
                "durable",
                "auto_delete",
                "exclusive",
                "arguments",
            ],
        ),
        list(
            "list_bindings",
            vhost,
            &[
                "source_name",
                "source_kind",
                "destination_name",
                "destination_kind",
                "routing_key",
                "arguments",
            ],
        ),
    ]
}

fn amqp_url(vhost: &str) -> String {
    let base = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    format!("{}/{vhost}", &base[..host_end])
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t_docs_{tag}_{}_{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_definitions_equal_the_runtime_declarations() {
    let _lock = broker_shared_lock();
    ensure_services();
    for (name, root) in catalogs() {
        let m = model(&root);
        let topology = codegen::emit::topology::runtime_topology(&m);
        let files = docs(&root);

        // 1. Import the definitions file into a fresh vhost.
        let imported = Vhost::create(unique("import"));
        let mut defs: Value =
            serde_json::from_str(&files["docs/rabbitmq-definitions.json"]).expect("JSON");
        for key in ["exchanges", "queues", "bindings"] {
            for item in defs[key].as_array_mut().expect("array") {
                assert_eq!(item["vhost"], "/", "{name}: {item}");
                item["vhost"] = Value::String(imported.0.clone());
            }
        }
        let file = std::env::temp_dir().join(format!("{}.json", imported.0));
        std::fs::write(&file, serde_json::to_string_pretty(&defs).unwrap()).unwrap();
        rabbitmqctl(&["import_definitions", file.to_str().unwrap()]);
        let _ = std::fs::remove_file(&file);

        // 2. Let the runtime declare the same topology in another fresh vhost.
        let declared = Vhost::create(unique("declare"));
        let conn = runtime::amqp::connect(&amqp_url(&declared.0))
            .await
            .expect("connect");
        let channel = conn.create_channel().await.expect("channel");
        runtime::amqp::declare(&channel, &topology)
            .await
            .expect("declare");
        let _ = conn.close(200, "done".into()).await;

        // 3. Same exchanges, queues and bindings, argument for argument.
        let [ix, iq, ib] = broker_state(&imported.0);
        let [dx, dq, db] = broker_state(&declared.0);
        // Per-replica templates are declared by each replica, neither imported nor declared.
        let templates = topology.per_replica_templates();
        let queues = topology.queues.len() - templates.len();
        let bindings = topology
            .bindings
            .iter()
            .filter(|b| !templates.contains(b.queue.as_str()))
            .count();
        assert_eq!(ix.len(), topology.exchanges.len(), "{name}: {ix:#?}");
        assert_eq!(iq.len(), queues, "{name}");
        assert_eq!(ix, dx, "{name}: exchanges differ");
        assert_eq!(iq, dq, "{name}: queues differ");
        assert_eq!(ib, db, "{name}: bindings differ");
        // Every binding of the topology is there (plus the default exchange's own).
        assert_eq!(ib.len(), bindings + queues, "{name}");
        let quorum = iq.iter().filter(|q| q["type"] == "quorum").count();
        assert!(quorum > 0, "{name}: no quorum queue: {iq:#?}");
        eprintln!(
            "{name}: imported and declared vhosts agree: {} exchanges, {} queues ({quorum} quorum), {} bindings",
            ix.len(),
            iq.len(),
            ib.len()
        );
    }
}
