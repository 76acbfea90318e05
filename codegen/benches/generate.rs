//! Benchmark: how long loading, validating and generating a large catalog takes.
//!
//! Synthesizes a catalog of 20 contexts with 25 commands and 25 events each (1,000 messages),
//! every command with a rule and every event with state changes and a projection, and times
//! `check_files` + `generate` over it, next to the shipped example measured in the same run
//! (the baseline). Prints figures; it asserts nothing (targets are read, not timed in tests).
//! Run with `cargo bench -p codegen --bench generate`.

use codegen::source::SourceFile;
use std::time::{Duration, Instant};

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

fn synthesized(contexts: usize, messages: usize) -> Vec<SourceFile> {
    (0..contexts)
        .map(|c| SourceFile::new(format!("catalog/ctx{c}.yaml"), context(c, messages)))
        .collect()
}

fn time(files: &[SourceFile], runs: u32) -> (Duration, usize, usize) {
    let mut best = Duration::MAX;
    let (mut messages, mut outputs) = (0, 0);
    for _ in 0..runs {
        let start = Instant::now();
        let (model, _) =
            codegen::check_files(files.to_vec()).unwrap_or_else(|r| panic!("{}", r.render()));
        let output = codegen::emit::generate(&model).expect("generates");
        best = best.min(start.elapsed());
        messages = model
            .contexts
            .iter()
            .map(|c| c.commands.len() + c.events.len())
            .sum();
        outputs = output.len();
    }
    (best, messages, outputs)
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let example = codegen::load::read_files(&root).expect("example");
    let (base, base_messages, base_files) = time(&example, 5);
    println!(
        "example catalog:   {base_messages:>5} messages, {base_files:>5} files in {:>8.1} ms (best of 5)",
        base.as_secs_f64() * 1e3
    );
    let big = synthesized(20, 25);
    let (t, messages, files) = time(&big, 3);
    println!(
        "large catalog:     {messages:>5} messages, {files:>5} files in {:>8.1} ms (best of 3)",
        t.as_secs_f64() * 1e3
    );
    let per_message = t.as_secs_f64() / messages as f64;
    let base_per_message = base.as_secs_f64() / base_messages as f64;
    println!(
        "per message:       {:.3} ms (example: {:.3} ms, ratio {:.2})",
        per_message * 1e3,
        base_per_message * 1e3,
        per_message / base_per_message
    );
    println!(
        "target: 1,000 messages under 1 s -> {}",
        if messages >= 1000 && t < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
