//! The settings of `topology.yaml` take effect: the running processes' real consumer prefetch,
//! queue arguments and retry tiers, read back from the broker with `rabbitmqctl`, are the
//! catalog's — including the per-process overrides (`inventory.command-handler: prefetch 64`,
//! `saga.OrderFulfillment: prefetch 16, retry_delays [500ms, 5s]`), and the Command API reads
//! its own exclusive copy of the per-replica outcome queue.

use codegen::model::topology::{ConsumedQueue, QueueKind};
use e2e_tests::{PROCESSES, System, repo_root, wait_for};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// The processes whose queues are checked: one of each kind of consumer.
const CONSUMERS: &[&str] = &[
    "inventory-command-handler",
    "ordering-command-handler",
    "ordering-event-handler",
    "ordering-command-api",
    "order-fulfillment-saga",
];

/// The package of the process that consumes `q` (`inventory.command-handler` →
/// `inventory-command-handler`, `saga.OrderFulfillment` → `order-fulfillment-saga`).
fn package(q: &ConsumedQueue) -> String {
    match q.process.strip_prefix("saga.") {
        Some(saga) => {
            let mut kebab = String::new();
            for (i, c) in saga.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(c.to_ascii_lowercase());
            }
            format!("{kebab}-saga")
        }
        None => q.process.replace('.', "-"),
    }
}

/// `rabbitmqctl <args> -q --formatter json`, parsed.
fn rabbitmqctl(args: &[&str]) -> Vec<Value> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .args(["-q", "--formatter", "json"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rabbitmqctl prints JSON")
}

/// A queue's arguments as a map, whichever JSON shape rabbitmqctl prints (an object, or a list
/// of `[key, type, value]` triples as RabbitMQ 3.10 does).
fn arguments(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(pairs) => pairs
            .iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                Some((p.first()?.as_str()?.to_owned(), p.last()?.clone()))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The queue a consumer of `q` reads: `prefixed` itself, or for a per-replica template the one
/// replica copy `prefixed.<replica>` among the consumed queues `found`.
fn consumed_name<V>(
    q: &ConsumedQueue,
    found: &BTreeMap<String, V>,
    prefixed: &str,
) -> Option<String> {
    if !q.per_replica {
        return found.contains_key(prefixed).then(|| prefixed.to_owned());
    }
    let copies: Vec<&String> = found
        .keys()
        .filter(|k| {
            k.strip_prefix(prefixed)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|id| !id.is_empty() && !id.contains('.'))
        })
        .collect();
    match copies.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

#[test]
fn running_processes_use_the_catalogs_prefetch_queue_arguments_and_retry_tiers() {
    let (model, _) = codegen::load_catalog(&repo_root()).expect("the example catalog loads");
    let checked: Vec<&ConsumedQueue> = model
        .topology
        .consumed_queues()
        .filter(|q| CONSUMERS.contains(&package(q).as_str()))
        .collect();
    assert_eq!(
        checked.len(),
        CONSUMERS.len(),
        "one consumed queue per checked process"
    );
    let skip: Vec<&str> = PROCESSES
        .iter()
        .copied()
        .filter(|p| !CONSUMERS.contains(p))
        .collect();
    let sys = System::start("topology", &skip, &[]);
    let prefixed = |name: &str| format!("{}.{name}", sys.prefix);

    // Consumers register after the processes report ready; wait for all of them.
    let prefetch: BTreeMap<String, u64> = wait_for(
        Duration::from_secs(60),
        "every checked consumer registered",
        || {
            let found: BTreeMap<String, u64> =
                rabbitmqctl(&["list_consumers", "queue_name", "prefetch_count"])
                    .iter()
                    .filter_map(|c| {
                        let q = c["queue_name"].as_str()?;
                        Some((q.to_owned(), c["prefetch_count"].as_u64()?))
                    })
                    .filter(|(q, _)| q.starts_with(&sys.prefix))
                    .collect();
            if checked
                .iter()
                .all(|q| consumed_name(q, &found, &prefixed(&q.name)).is_some())
            {
                Ok(found)
            } else {
                Err(format!("consumers so far: {found:?}"))
            }
        },
    );
    let queues: BTreeMap<String, BTreeMap<String, Value>> =
        rabbitmqctl(&["list_queues", "name", "arguments"])
            .iter()
            .filter_map(|q| Some((q["name"].as_str()?.to_owned(), arguments(&q["arguments"]))))
            .filter(|(n, _)| n.starts_with(&sys.prefix))
            .collect();

    for q in &checked {
        let name = consumed_name(q, &prefetch, &prefixed(&q.name)).expect("consumed");
        assert_eq!(
            prefetch[&name],
            u64::from(q.settings.prefetch),
            "prefetch of {name} ({})",
            q.process
        );
        let args = queues
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not declared"));
        if q.per_replica {
            // This replica's exclusive copy of the template: classic, bounded, no retry tiers.
            assert_eq!(
                args.get("x-queue-type").and_then(Value::as_str),
                Some("classic"),
                "{name}: {args:?}"
            );
            assert_eq!(
                args.get("x-max-length").and_then(Value::as_u64),
                Some(u64::from(runtime::topology::PER_REPLICA_MAX_LENGTH)),
                "{name}: {args:?}"
            );
            assert!(q.retry_queues.is_empty(), "{name}: no retry tiers");
            assert!(
                !queues.contains_key(&prefixed(&q.name)),
                "the template {} itself is never declared",
                q.name
            );
            assert!(
                queues.contains_key(&prefixed(&q.dead_letter_queue)),
                "dead-letter queue of {name}"
            );
            continue;
        }
        assert_eq!(
            args.get("x-queue-type").and_then(Value::as_str),
            Some(q.settings.kind.name()),
            "queue type of {name}: {args:?}"
        );
        let limit = args.get("x-delivery-limit").and_then(Value::as_u64);
        match q.settings.kind {
            QueueKind::Quorum => assert_eq!(
                limit,
                q.settings.delivery_limit.map(u64::from),
                "delivery limit of {name}: {args:?}"
            ),
            QueueKind::Classic => assert_eq!(limit, None, "{name}: {args:?}"),
        }
        assert_eq!(
            q.retry_queues.len(),
            q.settings.retry_delays.len(),
            "{name}: one retry queue per tier"
        );
        for (delay, retry) in &q.retry_queues {
            let retry = prefixed(retry);
            let args = queues
                .get(&retry)
                .unwrap_or_else(|| panic!("retry tier {retry} of {name} is not declared"));
            assert_eq!(
                args.get("x-message-ttl").and_then(Value::as_u64),
                Some(u64::try_from(delay.as_millis()).expect("delay")),
                "TTL of {retry}: {args:?}"
            );
            assert_eq!(
                args.get("x-dead-letter-routing-key")
                    .and_then(Value::as_str),
                Some(name.as_str()),
                "{retry} dead-letters back to {name}: {args:?}"
            );
        }
        assert!(
            queues.contains_key(&prefixed(&q.dead_letter_queue)),
            "dead-letter queue of {name}"
        );
    }
    // The per-process overrides of the example's topology.yaml are among what was checked.
    let by_process = |p: &str| {
        checked
            .iter()
            .find(|q| q.process == p)
            .unwrap_or_else(|| panic!("{p} checked"))
    };
    assert_eq!(
        by_process("inventory.command-handler").settings.prefetch,
        64
    );
    assert_eq!(by_process("ordering.command-handler").settings.prefetch, 32);
    let saga = by_process("saga.OrderFulfillment");
    assert_eq!(saga.settings.prefetch, 16);
    assert_eq!(
        saga.settings.retry_delays,
        [Duration::from_millis(500), Duration::from_secs(5)]
    );
    println!(
        "checked {} consumed queues against the catalog: {:?}",
        checked.len(),
        checked
            .iter()
            .map(|q| (q.name.as_str(), q.settings.prefetch))
            .collect::<Vec<_>>()
    );
}
