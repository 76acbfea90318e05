//! Benchmark: how long loading, validating and generating a catalog takes, and how that scales.
//!
//! Times `check_files` + `generate` (in memory: no file reading or writing, no cargo) over
//!
//! - the shipped example (target: under 50 ms);
//! - synthesized catalogs of 10, 100 and 1,000 messages, in two series: more contexts of one
//!   shape (1, 10 and 100 contexts of 5 commands and 5 events), and one context with more
//!   messages (5, 50 and 500 commands and as many events). Linear scaling means the same time
//!   per message at every size, so each series prints the time per message and its ratio to
//!   the next smaller size, and how much each phase (check, then the Rust, documentation and
//!   Kubernetes emitters) grew, which names the phase that grows faster than the catalog;
//! - the large catalog of 20 contexts with 25 commands and 25 events each (1,000 messages,
//!   target: under 1 s), per message against the example measured in the same run.
//!
//! Every command has a rule and a route, every event state changes and a projection. Each
//! figure is the best of several runs (the machine is shared; the best run is the least
//! disturbed one). It also counts the lines of the generated `.rs` files per message. It prints
//! figures and asserts nothing (targets are read, not timed in tests); with `BENCH_RESULTS=FILE`
//! it also writes them to FILE as `key value` lines (read by `scripts/bench-build.sh`).
//! Run with `cargo bench -p codegen --bench generate`.

use codegen::source::SourceFile;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A context `ctx{c}` with `messages` commands and as many events.
fn context(c: usize, messages: usize) -> String {
    let mut y = format!(
        "context: ctx{c}\naggregates:\n  Item:\n    statuses: [open, closed]\n    state:\n      count: i64\n      name: string\n      tags: list<string>\ncommands:\n"
    );
    for m in 0..messages {
        let creates = if m == 0 { "    creates: true\n" } else { "" };
        y.push_str(&format!(
            "  Do{m}:\n    aggregate: Item\n{creates}    route: POST /items{}/do{m}\n    roles: [user]\n    fields:\n      amount: {{ type: i64, min: 1, max: 1000 }}\n      label: {{ type: string, max_length: 40 }}\n    rules:\n      - name: small_{m}\n        check: cmd.amount < 500 && cmd.label.len() < 30\n    emits: [Done{m}]\n",
            if m == 0 { "".to_owned() } else { "/{id}".to_owned() }
        ));
    }
    y.push_str("events:\n");
    for m in 0..messages {
        y.push_str(&format!(
            "  Done{m}:\n    fields: {{ amount: i64, label: string }}\n    apply:\n      increment: {{ count: event.amount }}\n      set: {{ name: event.label }}\n      add: {{ tags: event.label }}\n"
        ));
    }
    y.push_str("read_models:\n  ItemView:\n    key: item_id\n    fields: { item_id: uuid, total: i64, last: string }\n    from:\n");
    for m in 0..messages {
        y.push_str(&format!("      Done{m}: {{ increment: {{ total: event.amount }}, set: {{ last: event.label }} }}\n"));
    }
    y.push_str("    query:\n      path: /items\n      roles: [user]\n      filters: { total: [gte, lte] }\n      sort: [total]\n");
    y
}

/// `contexts` contexts of `messages` commands and as many events each.
fn synthesized(contexts: usize, messages: usize) -> Vec<SourceFile> {
    (0..contexts)
        .map(|c| SourceFile::new(format!("catalog/ctx{c}.yaml"), context(c, messages)))
        .collect()
}

/// One catalog's figures.
struct Measured {
    /// The best run.
    best: Duration,
    /// The best time of each phase (`check_files`, then the Rust, documentation and
    /// Kubernetes emitters that `generate` runs), over all runs.
    phases: [Duration; 4],
    /// How many runs were timed.
    runs: u32,
    /// Commands and events.
    messages: usize,
    /// Generated files.
    files: usize,
    /// Lines of the generated `.rs` files.
    rust_lines: usize,
}

impl Measured {
    fn per_message(&self) -> f64 {
        self.best.as_secs_f64() / self.messages as f64
    }
}

/// Loads, validates and generates `files` at least `min_runs` times and for at least `budget`.
fn time(files: &[SourceFile], min_runs: u32, budget: Duration) -> Measured {
    let mut best = Duration::MAX;
    let mut phases = [Duration::MAX; 4];
    let (mut messages, mut outputs, mut rust_lines) = (0, 0, 0);
    let started = Instant::now();
    let mut runs = 0;
    while runs < min_runs || started.elapsed() < budget {
        // `emit::generate` with its phases timed one by one
        let start = Instant::now();
        let (model, _) =
            codegen::check_files(files.to_vec()).unwrap_or_else(|r| panic!("{}", r.render()));
        let checked = Instant::now();
        let mut output = codegen::emit::Output::default();
        codegen::emit::rust::emit(&model, &Default::default(), &mut output).expect("rust");
        let rust = Instant::now();
        codegen::emit::docs::emit(&model, &mut output).expect("docs");
        let docs = Instant::now();
        codegen::emit::k8s::emit(&model, &mut output).expect("k8s");
        let end = Instant::now();
        best = best.min(end - start);
        for (phase, d) in
            phases
                .iter_mut()
                .zip([checked - start, rust - checked, docs - rust, end - docs])
        {
            *phase = (*phase).min(d);
        }
        runs += 1;
        messages = model
            .contexts
            .iter()
            .map(|c| c.commands.len() + c.events.len())
            .sum();
        outputs = output.len();
        rust_lines = output
            .files()
            .filter(|(p, _)| p.ends_with(".rs"))
            .map(|(_, text)| text.lines().count())
            .sum();
    }
    Measured {
        best,
        phases,
        runs,
        messages,
        files: outputs,
        rust_lines,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let mut results = String::new();
    let example = codegen::load::read_files(&root).expect("example");
    let base = time(&example, 20, Duration::from_secs(2));
    println!(
        "example catalog:   {:>5} messages, {:>5} files in {:>8.2} ms (best of {}); {} lines of .rs, {:.1} per message",
        base.messages,
        base.files,
        ms(base.best),
        base.runs,
        base.rust_lines,
        base.rust_lines as f64 / base.messages as f64
    );
    let _ = writeln!(results, "example_ms {:.3}", ms(base.best));
    let _ = writeln!(results, "example_messages {}", base.messages);
    let _ = writeln!(results, "example_rs_lines {}", base.rust_lines);
    println!(
        "target: the example under 50 ms -> {}",
        if base.best < Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        }
    );

    let series: [(&str, [(usize, usize); 3]); 2] = [
        ("contexts", [(1, 5), (10, 5), (100, 5)]),
        ("one_context", [(1, 5), (1, 50), (1, 500)]),
    ];
    for (name, sizes) in series {
        println!("scaling, {name}:");
        let mut previous: Option<Measured> = None;
        for (contexts, messages) in sizes {
            let m = time(&synthesized(contexts, messages), 3, Duration::from_secs(1));
            let ratio = previous.as_ref().map(|p| m.per_message() / p.per_message());
            println!(
                "  {:>5} messages ({contexts:>3} x {:>3}+{:<3}): {:>8.2} ms (best of {:>3}), {:.4} ms per message{}; {:.1} lines of .rs per message",
                m.messages,
                messages,
                messages,
                ms(m.best),
                m.runs,
                m.per_message() * 1e3,
                ratio
                    .map(|r| format!(", x{r:.2} the smaller size's"))
                    .unwrap_or_default(),
                m.rust_lines as f64 / m.messages as f64
            );
            let growth = previous.as_ref().map(|p| {
                let x = |i: usize| m.phases[i].as_secs_f64() / p.phases[i].as_secs_f64();
                format!(
                    "check x{:.1}, rust x{:.1}, docs x{:.1}, k8s x{:.1}",
                    x(0),
                    x(1),
                    x(2),
                    x(3)
                )
            });
            println!(
                "         phases: check {:.2} ms, rust {:.2} ms, docs {:.2} ms, k8s {:.2} ms{}",
                ms(m.phases[0]),
                ms(m.phases[1]),
                ms(m.phases[2]),
                ms(m.phases[3]),
                growth
                    .as_ref()
                    .map(|g| format!(" ({g} the smaller size's)"))
                    .unwrap_or_default()
            );
            let key = format!("{name}_{}", m.messages);
            if let Some(g) = growth {
                let _ = writeln!(results, "{key}_phase_growth {}", g.replace(' ', "_"));
            }
            let _ = writeln!(results, "{key}_ms {:.3}", ms(m.best));
            let _ = writeln!(results, "{key}_per_message_ms {:.5}", m.per_message() * 1e3);
            if let Some(r) = ratio {
                let _ = writeln!(results, "{key}_ratio {r:.3}");
            }
            previous = Some(m);
        }
    }

    let big = time(&synthesized(20, 25), 3, Duration::from_secs(1));
    println!(
        "large catalog:     {:>5} messages, {:>5} files in {:>8.1} ms (best of {})",
        big.messages,
        big.files,
        ms(big.best),
        big.runs
    );
    let ratio = big.per_message() / base.per_message();
    println!(
        "per message:       {:.3} ms (example: {:.3} ms, ratio {ratio:.2})",
        big.per_message() * 1e3,
        base.per_message() * 1e3,
    );
    println!(
        "target: 1,000 messages under 1 s -> {}",
        if big.messages >= 1000 && big.best < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = writeln!(results, "large_ms {:.3}", ms(big.best));
    let _ = writeln!(results, "large_messages {}", big.messages);
    let _ = writeln!(results, "large_per_message_ratio {ratio:.3}");
    if let Ok(path) = std::env::var("BENCH_RESULTS") {
        std::fs::write(&path, results).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
}
