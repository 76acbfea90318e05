//! The fault loop: commands through the running example (every process its own OS process,
//! two replicas of every command handler, event handler and saga) while processes are
//! SIGKILLed and restarted, RabbitMQ is restarted as a whole server and PostgreSQL is
//! restarted. Afterwards, from the ledger of what the load generator was told (`202` and a
//! tracking id), the test checks that every accepted command had exactly one effect:
//!
//! - each accepted `RestockProduct` caused exactly one `ProductRestocked` event, each accepted
//!   `PlaceOrder` exactly one `OrderPlaced`; no event was published twice;
//! - every product's state holds `available + reserved = initial stock + accepted restocks`,
//!   and its `StockLevel` read model shows the state's `available` (no duplicate, no miss);
//! - every saga instance ended in a terminal state, with each compensation run at most once;
//! - nothing was dead-lettered.
//!
//! It prints a table of the counts. `FAULT_LOOP_COMMANDS` sets the number of commands (CI:
//! 600; the full run: `FAULT_LOOP_COMMANDS=10000 cargo test -p e2e-tests --test fault_loop --
//! --nocapture`).

use e2e_tests::{PROCESSES, System, http, wait_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCTS: usize = 12;
const INITIAL_STOCK: i64 = 1_000_000;
const LOAD_THREADS: usize = 4;

/// What the load generator was told for one command.
#[derive(Clone, Debug)]
enum Accepted {
    Restock {
        tracking: String,
        product: String,
        quantity: i64,
    },
    Order {
        tracking: String,
        order: String,
    },
}

#[derive(Default)]
struct Counts {
    sent: AtomicUsize,
    accepted: AtomicUsize,
    http_4xx: AtomicUsize,
    http_5xx: AtomicUsize,
    unreachable: AtomicUsize,
}

fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Restarts the whole RabbitMQ server (not only the app) and waits until it serves again.
fn restart_rabbitmq() {
    sh("rabbitmqctl", &["stop"]);
    sh("rabbitmq-server", &["-detached"]);
    wait_for(Duration::from_secs(120), "RabbitMQ back", || {
        let out = Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "5"])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
}

/// Restarts the PostgreSQL cluster.
fn restart_postgres() {
    let version = sh("ls", &["/etc/postgresql"]);
    let version = version
        .split_whitespace()
        .next()
        .expect("a cluster")
        .to_owned();
    sh(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &version, "main", "restart"],
    );
}

fn token(sys: &System, roles: &str) -> String {
    sys.token("loadgen", roles)
}

#[test]
fn every_accepted_command_has_exactly_one_effect_under_faults() {
    let total: usize = std::env::var("FAULT_LOOP_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let started = Instant::now();
    let mut sys = System::start_exclusive("faults", &[], &[]);
    // A second replica of every consumer.
    let consumers: Vec<&str> = PROCESSES
        .iter()
        .copied()
        .filter(|p| p.ends_with("-handler") || p.ends_with("-saga"))
        .collect();
    for name in &consumers {
        sys.start_replica(name, "2");
    }

    // The products every command works on.
    let admin = token(&sys, "admin,warehouse,customer");
    let inventory_api = sys.addr("inventory-command-api");
    let ordering_api = sys.addr("ordering-command-api");
    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        let r = http(
            inventory_api,
            "POST",
            "/products",
            &[("Authorization", &format!("Bearer {admin}"))],
            Some(&json!({"sku": format!("SKU-{i:03}"), "name": format!("product {i}"), "initial_stock": INITIAL_STOCK})),
        )
        .expect("register");
        assert_eq!(r.status, 202, "{}", r.body);
        products.push(r.json()["aggregate_id"].as_str().expect("id").to_owned());
    }
    wait_for(Duration::from_secs(60), "the products registered", || {
        let n = sys.sql(
            "SELECT count(*) FROM aggregate_snapshots WHERE aggregate_type = 'inventory.Product'",
        );
        if n == ["12"] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    });

    // The load: restocks and (one in ten) orders, from several threads, paced over `planned`
    // so that the faults below happen while commands flow.
    let planned = Duration::from_secs(90).max(Duration::from_millis(total as u64 * 10));
    let load_start = Instant::now();
    let ledger: Arc<Mutex<Vec<Accepted>>> = Arc::default();
    let counts: Arc<Counts> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for t in 0..LOAD_THREADS {
        let (ledger, counts, next, products, admin) = (
            ledger.clone(),
            counts.clone(),
            next.clone(),
            products.clone(),
            admin.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let auth = format!("Bearer {admin}");
            let deadline = Instant::now() + Duration::from_secs(900);
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total || Instant::now() > deadline {
                    return;
                }
                let due = load_start + planned.mul_f64(i as f64 / total as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let product = &products[(i * 7 + t) % products.len()];
                let (addr, path, body) = if i % 10 == 9 {
                    let order = json!({
                        "product_id": product, "quantity": 1 + (i % 3) as i64, "unit_price": 250,
                        "payment_method": "card",
                        "shipping_address": {"recipient": "Ada Lovelace", "street": "12 Analytical Row",
                            "city": "London", "postal_code": "NW1 6XE", "country": "GB"}
                    });
                    (ordering_api, "/orders".to_owned(), order)
                } else {
                    let q = 1 + (i % 9) as i64;
                    (inventory_api, format!("/products/{product}/restock"), json!({"quantity": q}))
                };
                counts.sent.fetch_add(1, Ordering::SeqCst);
                match http(addr, "POST", &path, &[("Authorization", &auth)], Some(&body)) {
                    Ok(r) if r.status == 202 => {
                        let j = r.json();
                        let tracking = j["tracking_id"].as_str().unwrap_or_default().to_owned();
                        let entry = if path == "/orders" {
                            Accepted::Order {
                                tracking,
                                order: j["aggregate_id"].as_str().unwrap_or_default().to_owned(),
                            }
                        } else {
                            Accepted::Restock {
                                tracking,
                                product: product.clone(),
                                quantity: body["quantity"].as_i64().unwrap_or_default(),
                            }
                        };
                        ledger.lock().expect("ledger").push(entry);
                        counts.accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) if (400..500).contains(&r.status) => {
                        counts.http_4xx.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {
                        // 503 while the broker is down: not accepted, so not in the ledger.
                        counts.http_5xx.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(_) => {
                        counts.unreachable.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }));
    }

    // Faults, spread over the planned run: (eighth of it, what).
    let faults: Vec<(usize, &str)> = vec![
        (1, "kill command handlers"),
        (2, "kill event handlers"),
        (3, "restart rabbitmq"),
        (4, "kill sagas"),
        (5, "restart postgres"),
        (6, "kill command handlers"),
        (7, "kill every consumer"),
    ];
    let mut fault_log = Vec::new();
    for (eighth, what) in faults {
        let due = load_start + planned.mul_f64(eighth as f64 / 8.0);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let at = Instant::now();
        let victims: Vec<String> = sys
            .keys()
            .into_iter()
            .filter(|k| match what {
                "kill command handlers" => k.contains("-command-handler"),
                "kill event handlers" => k.contains("-event-handler"),
                "kill sagas" => k.contains("-saga"),
                "kill every consumer" => !k.contains("-api"),
                _ => false,
            })
            .collect();
        match what {
            "restart rabbitmq" => restart_rabbitmq(),
            "restart postgres" => restart_postgres(),
            _ => {
                for k in &victims {
                    sys.kill(k);
                }
                for k in &victims {
                    sys.restart(k);
                }
            }
        }
        fault_log.push(format!(
            "{what} ({} processes) after {} commands, {:.1?}",
            victims.len(),
            next.load(Ordering::SeqCst).min(total),
            at.elapsed()
        ));
    }
    for t in threads {
        t.join().expect("load thread");
    }
    let load_time = started.elapsed();
    let ledger = ledger.lock().expect("ledger").clone();
    // Debug binaries drain a few dozen commands a second here: the backlog left by a large
    // run takes a while.
    let settle = Duration::from_secs(300).max(Duration::from_millis(total as u64 * 100));

    // Quiescence: every accepted command handled, the outbox published, the read models and
    // sagas caught up.
    let restocks: Vec<(&String, &String, i64)> = ledger
        .iter()
        .filter_map(|a| match a {
            Accepted::Restock {
                tracking,
                product,
                quantity,
            } => Some((tracking, product, *quantity)),
            Accepted::Order { .. } => None,
        })
        .collect();
    let orders: Vec<(&String, &String)> = ledger
        .iter()
        .filter_map(|a| match a {
            Accepted::Order { tracking, order } => Some((tracking, order)),
            Accepted::Restock { .. } => None,
        })
        .collect();
    let tracking_of = |kind: &str| -> BTreeSet<String> {
        sys.sql(&format!(
            "SELECT envelope->'meta'->>'causation_id' FROM outbox \
             WHERE destination = 'event' AND envelope->'meta'->>'message_type' = '{kind}'"
        ))
        .into_iter()
        .collect()
    };
    wait_for(
        settle,
        "every accepted command handled and published",
        || {
            let unpublished = sys.sql("SELECT count(*) FROM outbox WHERE published_at IS NULL");
            let restocked = tracking_of("inventory.ProductRestocked");
            let placed = tracking_of("ordering.OrderPlaced");
            let missing_restocks = restocks
                .iter()
                .filter(|(t, _, _)| !restocked.contains(*t))
                .count();
            let missing_orders = orders.iter().filter(|(t, _)| !placed.contains(*t)).count();
            if unpublished == ["0"] && missing_restocks == 0 && missing_orders == 0 {
                Ok(())
            } else {
                Err(format!(
                    "unpublished {unpublished:?}, restocks missing {missing_restocks}, orders missing {missing_orders}"
                ))
            }
        },
    );

    // Exactly one effect per accepted command, no event twice.
    let effects = |kind: &str| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for c in sys.sql(&format!(
            "SELECT envelope->'meta'->>'causation_id' FROM outbox \
             WHERE destination = 'event' AND envelope->'meta'->>'message_type' = '{kind}'"
        )) {
            *m.entry(c).or_default() += 1;
        }
        m
    };
    let restock_effects = effects("inventory.ProductRestocked");
    let order_effects = effects("ordering.OrderPlaced");
    let duplicated_restocks = restocks
        .iter()
        .filter(|(t, _, _)| restock_effects.get(*t).copied().unwrap_or(0) > 1)
        .count();
    let duplicated_orders = orders
        .iter()
        .filter(|(t, _)| order_effects.get(*t).copied().unwrap_or(0) > 1)
        .count();
    // A command whose publish was not confirmed (503) may still have reached the queue: at
    // least once means it may take effect although the client was told to retry.
    let unconfirmed_effects =
        (restock_effects.len() + order_effects.len()).saturating_sub(restocks.len() + orders.len());
    let duplicate_event_ids = sys.sql("SELECT count(*) - count(DISTINCT message_id) FROM outbox");

    // State: available + reserved = initial + every restock that took effect, per product.
    let mut expected: BTreeMap<String, i64> = products
        .iter()
        .map(|p| (p.clone(), INITIAL_STOCK))
        .collect();
    for row in sys.sql(
        // `units` since ProductRestocked version 2, `quantity` in version 1.
        "SELECT aggregate_id, sum(coalesce(envelope->'payload'->>'units', envelope->'payload'->>'quantity')::bigint) \
         FROM outbox \
                          WHERE envelope->'meta'->>'message_type' = 'inventory.ProductRestocked' GROUP BY aggregate_id",
    ) {
        let (id, sum) = row.split_once('|').expect("two columns");
        *expected.get_mut(id).expect("a product of this run") += sum.parse::<i64>().expect("sum");
    }
    let mut wrong_state = Vec::new();
    let mut available: BTreeMap<String, i64> = BTreeMap::new();
    for row in sys.sql(
        "SELECT aggregate_id, (state->>'available')::bigint, (state->>'reserved')::bigint \
                          FROM aggregate_snapshots WHERE aggregate_type = 'inventory.Product'",
    ) {
        let cols: Vec<&str> = row.split('|').collect();
        let (id, a, r) = (
            cols[0].to_owned(),
            cols[1].parse::<i64>().expect("available"),
            cols[2].parse::<i64>().expect("reserved"),
        );
        if let Some(e) = expected.get(&id)
            && a + r != *e
        {
            wrong_state.push(format!("{id}: available {a} + reserved {r} != {e}"));
        }
        available.insert(id, a);
    }

    // Read models: the StockLevel of every product shows the state's `available`.
    let query = sys.addr("inventory-query-api");
    let auth = format!("Bearer {admin}");
    let read_model_mismatch = wait_for(settle, "the read models caught up", || {
        let mut off = Vec::new();
        for (id, a) in &available {
            let r = http(
                query,
                "GET",
                &format!("/stock/{id}"),
                &[("Authorization", &auth)],
                None,
            )?;
            let shown = r.json()["available"].as_i64();
            if shown != Some(*a) {
                off.push(format!("{id}: read model {shown:?}, state {a}"));
            }
        }
        if off.is_empty() {
            Ok(off)
        } else {
            Err(off.join("; "))
        }
    });

    // Sagas: one instance per accepted order, each terminal, compensations at most once each.
    let sagas: Vec<Value> = wait_for(settle, "every saga instance terminal", || {
        let mut docs = Vec::new();
        let mut running = 0;
        for (_, order) in &orders {
            let Some(d) = e2e_tests::saga_document(&sys, order) else {
                return Err(format!("no saga instance for order {order}"));
            };
            if matches!(
                d["doc"]["status"].as_str(),
                Some("Running" | "Compensating")
            ) {
                running += 1;
            }
            docs.push(d);
        }
        if running == 0 {
            Ok(docs)
        } else {
            Err(format!("{running} still running"))
        }
    });
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut repeated_compensations = 0;
    for d in &sagas {
        *by_status
            .entry(d["doc"]["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        let steps: Vec<&str> = d["doc"]["compensations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["step"].as_str())
            .collect();
        let unique: BTreeSet<&&str> = steps.iter().collect();
        repeated_compensations += steps.len() - unique.len();
    }
    let releases_per_order = sys.sql(
        "SELECT count(*) FROM (SELECT envelope->'payload'->>'order_id' AS o, count(*) AS n \
        FROM outbox WHERE envelope->'meta'->>'message_type' = 'inventory.StockReleased' GROUP BY o HAVING count(*) > 1) t",
    );

    // Dead letters of this run.
    let dead: usize = sh("rabbitmqctl", &["list_queues", "-q", "name", "messages"])
        .lines()
        .filter(|l| l.starts_with(&sys.prefix) && l.contains(".dlq"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        .sum();

    let c = &counts;
    println!(
        "\nfault loop: {total} commands in {load_time:.0?}, {} processes (2 replicas of every consumer)",
        sys.keys().len()
    );
    for f in &fault_log {
        println!("  fault: {f}");
    }
    println!(
        "| sent | accepted | 4xx | 5xx (broker down) | unreachable | restocks applied | orders placed | lost | duplicated | events twice | effects of unconfirmed | dead-lettered | read models off | sagas | sagas terminal | compensations repeated |"
    );
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {unconfirmed_effects} | {dead} | {} | {} | {:?} | {} |",
        c.sent.load(Ordering::SeqCst),
        c.accepted.load(Ordering::SeqCst),
        c.http_4xx.load(Ordering::SeqCst),
        c.http_5xx.load(Ordering::SeqCst),
        c.unreachable.load(Ordering::SeqCst),
        restocks
            .iter()
            .filter(|(t, _, _)| restock_effects.contains_key(*t))
            .count(),
        orders
            .iter()
            .filter(|(t, _)| order_effects.contains_key(*t))
            .count(),
        0,
        duplicated_restocks + duplicated_orders,
        duplicate_event_ids.join(""),
        read_model_mismatch.len(),
        sagas.len(),
        by_status,
        repeated_compensations,
    );
    assert_eq!(c.accepted.load(Ordering::SeqCst), ledger.len());
    assert_eq!(
        duplicated_restocks + duplicated_orders,
        0,
        "commands with two effects"
    );
    assert_eq!(duplicate_event_ids, ["0"], "events in the outbox twice");
    assert!(wrong_state.is_empty(), "{}", wrong_state.join("\n"));
    assert_eq!(
        releases_per_order,
        ["0"],
        "a stock release ran twice for one order"
    );
    assert_eq!(repeated_compensations, 0, "a saga ran a compensation twice");
    assert_eq!(dead, 0, "dead-lettered messages");
    assert_eq!(
        c.http_4xx.load(Ordering::SeqCst),
        0,
        "4xx answers to valid commands"
    );
}
