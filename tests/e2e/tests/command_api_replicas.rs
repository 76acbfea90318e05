//! Two replicas of a Command API: each consumes its own exclusive copy of the context's
//! per-replica outcome queue, so a command accepted by one replica is reported `processed` (or
//! `rejected`) by the other too. Before the fix both replicas competed for one shared outcome
//! queue and each saw about half of the outcomes.

use e2e_tests::{System, http, wait_for};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const COMMANDS: usize = 12;
const WAIT: Duration = Duration::from_secs(60);

fn post(addr: SocketAddr, path: &str, token: &str, body: Value) -> Value {
    let auth = format!("Bearer {token}");
    let r = http(
        addr,
        "POST",
        path,
        &[("authorization", auth.as_str())],
        Some(&body),
    )
    .expect("POST");
    assert_eq!(r.status, 202, "POST {path}: {} {}", r.status, r.body);
    r.json()
}

fn status(addr: SocketAddr, url: &str, token: &str) -> Result<Value, String> {
    let auth = format!("Bearer {token}");
    let r = http(addr, "GET", url, &[("authorization", auth.as_str())], None)?;
    if r.status == 200 {
        Ok(r.json())
    } else {
        Err(format!("{} {}", r.status, r.body))
    }
}

#[test]
fn every_command_api_replica_reports_the_outcome_of_commands_another_replica_accepted() {
    let skip: Vec<&str> = e2e_tests::PROCESSES
        .iter()
        .copied()
        .filter(|p| !["inventory-command-api", "inventory-command-handler"].contains(p))
        .collect();
    let mut sys = System::start("replicas", &skip, &[]);
    let second = sys.start_replica("inventory-command-api", "2");
    let (a, b) = (sys.addr("inventory-command-api"), sys.addr(&second));
    let admin = sys.token("ops", "admin,warehouse");

    // Commands accepted by replica A, alternately valid (processed) and for an unknown
    // product (rejected); their status is read from replica B, and from A.
    let mut tracked = Vec::new();
    for i in 0..COMMANDS {
        let r = if i % 2 == 0 {
            post(
                a,
                "/products",
                &admin,
                json!({"sku": format!("SKU-{i}"), "name": "Replica test", "initial_stock": 5}),
            )
        } else {
            post(
                a,
                &format!("/products/{}/restock", uuid::Uuid::new_v4()),
                &admin,
                json!({"quantity": 1}),
            )
        };
        let url = r["status_url"].as_str().expect("status_url").to_owned();
        tracked.push((url, if i % 2 == 0 { "processed" } else { "rejected" }));
    }
    for (url, expected) in &tracked {
        for (replica, addr) in [("B (did not accept it)", b), ("A (accepted it)", a)] {
            let v = wait_for(
                WAIT,
                &format!("{url} {expected} on replica {replica}"),
                || {
                    let v = status(addr, url, &admin)?;
                    if v["status"] == *expected {
                        Ok(v)
                    } else {
                        Err(v.to_string())
                    }
                },
            );
            assert_eq!(
                v["tracking_id"].as_str().map(|t| url.ends_with(t)),
                Some(true),
                "{v}"
            );
        }
    }

    // Each replica reads its own exclusive queue: two consumers, two queues, none shared.
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_consumers", "-q", "queue_name"])
        .output()
        .expect("rabbitmqctl");
    let template = format!("{}.inventory.command-api.", sys.prefix);
    let mut copies: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|q| q.starts_with(&template) && !q.ends_with(".dlq"))
        .map(str::to_owned)
        .collect();
    copies.sort();
    copies.dedup();
    assert_eq!(copies.len(), 2, "one outcome queue per replica: {copies:?}");
    println!(
        "{COMMANDS} commands accepted by one replica; both replicas reported every outcome; outcome queues: {copies:?}"
    );
}
