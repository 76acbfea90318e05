//! The generated CommandHandler alone (release): its command queue pre-filled with `n`
//! `RegisterProduct` commands in the envelope format the Command API enqueues, each for its
//! own aggregate; then the process is started and every `ProductRegistered` is counted on a
//! private queue bound to the context's event fanout exchange.

use crate::amqp::{self, Tap};
use crate::procs::{Env, Run};
use crate::raw::register_commands;
use crate::rss::PeakRss;
use crate::{Res, naive};
use std::time::{Duration, Instant};

/// The process measured.
pub const PROCESS: &str = "inventory-command-handler";

/// What the run measured.
#[derive(Clone, Debug)]
pub struct HandlerResult {
    /// Events per second from the first event published to the last.
    pub rate: f64,
    /// Seconds from the process start to the last event.
    pub total_secs: f64,
    /// CPU seconds the CommandHandler process used.
    pub cpu_secs: f64,
    /// CPU seconds its PostgreSQL sessions used.
    pub pg_cpu_secs: f64,
    /// The busiest `state: statement` of its PostgreSQL sessions, with the average number of
    /// sessions in each.
    pub pg_busy: Vec<(String, f64)>,
}

/// Runs the measure with `n` commands.
pub async fn run(env: &Env, n: usize, rss: &mut PeakRss) -> Res<HandlerResult> {
    let mut run = Run::new(env, "handler").await?;
    let result = measure(env, &mut run, n).await;
    for (name, kb) in run.peak_rss() {
        rss.record(&name, kb, "CommandHandler alone");
    }
    run.close().await;
    result
}

async fn measure(env: &Env, run: &mut Run, n: usize) -> Res<HandlerResult> {
    // A first start declares the topology exactly as the process does; then the queue is
    // filled while it is stopped.
    run.start(PROCESS, &[]).await?;
    run.stop(PROCESS);
    let prefix = run.prefix.clone();
    let tap = Tap::bind(&env.amqp_url, &format!("{prefix}.inventory.events")).await?;
    let conn = amqp::connect(&env.amqp_url).await?;
    let ch = amqp::confirm_channel(&conn).await?;
    let commands = register_commands(n);
    amqp::publish_all(
        &ch,
        "",
        &format!("{prefix}.inventory.commands"),
        commands,
        1000,
    )
    .await?;
    let _ = conn.close(200, "bye".into()).await;

    let sampler = crate::profile::PgSampler::start(&env.pg_admin_url, &prefix).await?;
    let started = Instant::now();
    run.start(PROCESS, &[]).await?;
    let timeout = Duration::from_secs(120).max(Duration::from_millis(n as u64 * 10));
    let seen = tap.wait_for(n, timeout).await;
    let cpu_secs = run
        .pid(PROCESS)
        .and_then(crate::profile::cpu_secs)
        .unwrap_or(0.0);
    let (pg_busy, pg_cpu_secs) = sampler.finish(4).await?;
    let all = tap.seen();
    let rate = naive::first_to_last(&all, n)
        .ok_or_else(|| format!("{seen} of {n} events within {timeout:?}"))?;
    let last = all.iter().map(|s| s.at).max().unwrap_or(started);
    Ok(HandlerResult {
        rate,
        total_secs: (last - started).as_secs_f64(),
        cpu_secs,
        pg_cpu_secs,
        pg_busy,
    })
}
