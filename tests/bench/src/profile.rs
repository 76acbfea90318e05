//! Where the time goes during a measure: CPU time of processes (`/proc/<pid>/stat`) and a
//! sampling of what the run's PostgreSQL sessions are doing (`pg_stat_activity`), for the
//! measured causes of missed targets.

use crate::{Ctx, Res};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// User + system CPU time of a process, from the text of `/proc/<pid>/stat`, in clock ticks.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // the command name (field 2) may hold spaces: count from the closing parenthesis
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields 14 and 15 of the whole line are 12 and 13 after the name
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU time of a running process, in seconds (100 ticks a second, as on Linux).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let ticks = parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    Some(ticks as f64 / 100.0)
}

/// The first process whose command line contains `needle` (for servers the bench did not
/// start, such as SecantusDB).
pub fn find_process(needle: &str) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        (pid != me && String::from_utf8_lossy(&cmdline).contains(needle)).then_some(pid)
    })
}

/// CPU seconds of a server process over a phase, measured from its creation.
pub struct ServerCpu {
    name: &'static str,
    pid: Option<u32>,
    at_start: f64,
    wall: std::time::Instant,
}

impl ServerCpu {
    /// Starts measuring the first process whose command line contains `needle`.
    pub fn start(name: &'static str, needle: &str) -> ServerCpu {
        let pid = find_process(needle);
        ServerCpu {
            name,
            pid,
            at_start: pid.and_then(cpu_secs).unwrap_or(0.0),
            wall: std::time::Instant::now(),
        }
    }

    /// `"<phase>: <wall> s wall; CPU s: <process> <s>, ..., <server> <s>"`, with the CPU of
    /// the run's processes since they started.
    pub fn note(&self, phase: &str, cpu: &[(String, f64)]) -> String {
        let mut parts: Vec<String> = cpu.iter().map(|(n, s)| format!("{n} {s:.1}")).collect();
        if let Some(now) = self.pid.and_then(cpu_secs) {
            parts.push(format!("{} {:.1}", self.name, now - self.at_start));
        }
        format!(
            "{phase}: {:.0} s wall (2 cores: {:.0} CPU s at most); CPU s used: {}",
            self.wall.elapsed().as_secs_f64(),
            2.0 * self.wall.elapsed().as_secs_f64(),
            parts.join(", ")
        )
    }
}

/// What a [`PgSampler`] collected: samples taken, samples per `state: statement`, backend
/// process ids.
type Sampled = (u64, BTreeMap<String, u64>, Vec<i32>);

/// Samples `pg_stat_activity` of one database every 5 ms until stopped.
pub struct PgSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Res<Sampled>>,
}

impl PgSampler {
    /// Starts sampling the sessions of database `db` through `admin_url`.
    pub async fn start(admin_url: &str, db: &str) -> Res<PgSampler> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .ctx("connect to PostgreSQL")?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, db) = (stop.clone(), db.to_owned());
        let task = tokio::spawn(async move {
            let mut samples = 0u64;
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            let mut pids = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let rows: Vec<(i32, String, String)> = sqlx::query_as(
                    "SELECT pid, coalesce(state, ''), left(regexp_replace(query, '\\s+', ' ', 'g'), 70) \
                     FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&db)
                .fetch_all(&mut conn)
                .await
                .ctx("pg_stat_activity")?;
                samples += 1;
                for (pid, state, query) in rows {
                    if !pids.contains(&pid) {
                        pids.push(pid);
                    }
                    if state != "idle" {
                        *seen.entry(format!("{state}: {query}")).or_default() += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok((samples, seen, pids))
        });
        Ok(PgSampler { stop, task })
    }

    /// Stops; returns the `top` busiest `state: query` entries with the average number of
    /// sessions in them (sessions busy in that statement per sample), and the CPU seconds the
    /// sampled backends have used since they started.
    pub async fn finish(self, top: usize) -> Res<(Vec<(String, f64)>, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, seen, pids) = self.task.await.ctx("sampler")??;
        let mut busy: Vec<(String, f64)> = seen
            .into_iter()
            .map(|(k, n)| (k, n as f64 / samples.max(1) as f64))
            .collect();
        busy.sort_by(|a, b| b.1.total_cmp(&a.1));
        busy.truncate(top);
        let cpu = pids.iter().filter_map(|p| cpu_secs(*p as u32)).sum();
        Ok((busy, cpu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_from_the_end_of_the_name() {
        let stat = "1234 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 40 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(290));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }
}
