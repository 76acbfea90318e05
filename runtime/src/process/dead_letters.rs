//! The `dead-letters` command behind the binary of the same name: lists, shows, replays and
//! discards the messages of dead-letter queues.
//!
//! ```text
//! cargo run -p runtime --features amqp --bin dead-letters -- [OPTIONS] COMMAND
//!
//!   list [QUEUE...]                      dead letters per queue, grouped by reason and type
//!   show QUEUE MESSAGE_ID                one dead letter: reason, attempts, origin, headers, body
//!   replay QUEUE (MESSAGE_ID...|--all|--type T)   back to the queue each came from
//!   discard QUEUE (MESSAGE_ID...|--all|--type T)  removed for good
//!
//! options: --url URL (default $AMQP_URL, else the local broker), --prefix P (default
//! $NAME_PREFIX), --topology FILE (default generated/topology.json when present), --max N
//! (messages read per queue, default 10000)
//! ```
//!
//! QUEUE is a dead-letter queue or the work queue whose dead letters are meant, without the
//! prefix; `list` without QUEUE lists every dead-letter queue of the topology. Reading a queue
//! holds its messages unacknowledged for a moment; whatever is not replayed or discarded goes
//! back unchanged.

use crate::amqp::dead_letters::{DeadLetter, DeadLetterQueue};
use crate::config::DEFAULT_AMQP_URL;
use crate::topology::Topology;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Usage text of the `dead-letters` binary.
pub const USAGE: &str = "usage: dead-letters [--url URL] [--prefix P] [--topology FILE] [--max N] \
(list [QUEUE...] | show QUEUE MESSAGE_ID | replay QUEUE (MESSAGE_ID...|--all|--type T) | \
discard QUEUE (MESSAGE_ID...|--all|--type T))";

/// Default `--max`.
pub const DEFAULT_MAX: usize = 10_000;

/// Which dead letters a `replay` or `discard` takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// These message ids.
    Ids(Vec<String>),
    /// Every one.
    All,
    /// Those of one message type.
    Type(String),
}

impl Selection {
    fn matches(&self, l: &DeadLetter) -> bool {
        match self {
            Selection::Ids(ids) => ids.contains(&l.message_id),
            Selection::All => true,
            Selection::Type(t) => &l.message_type == t,
        }
    }
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `list [QUEUE...]`.
    List(Vec<String>),
    /// `show QUEUE MESSAGE_ID`.
    Show(String, String),
    /// `replay QUEUE SELECTION`.
    Replay(String, Selection),
    /// `discard QUEUE SELECTION`.
    Discard(String, Selection),
}

/// Parsed `dead-letters` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterArgs {
    /// `--url`: the broker.
    pub url: String,
    /// `--prefix`: the name prefix of the system's broker names.
    pub prefix: String,
    /// `--topology`: the generated `topology.json`.
    pub topology: Option<PathBuf>,
    /// `--max`: messages read per queue.
    pub max: usize,
    /// The command.
    pub action: Action,
}

impl DeadLetterArgs {
    /// Parses the arguments (without the program name), with defaults from `env`
    /// (`AMQP_URL`, `NAME_PREFIX`).
    pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut url = env("AMQP_URL").filter(|v| !v.trim().is_empty());
        let mut prefix = env("NAME_PREFIX").unwrap_or_default();
        let mut topology = None;
        let mut max = DEFAULT_MAX;
        let mut words = Vec::new();
        let mut all = false;
        let mut kind = None;
        let mut it = args.into_iter().map(Into::into);
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match a.as_str() {
                "--url" => url = Some(value("--url")?),
                "--prefix" => prefix = value("--prefix")?,
                "--topology" => topology = Some(PathBuf::from(value("--topology")?)),
                "--max" => {
                    let v = value("--max")?;
                    max =
                        v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("--max: expected a positive number, got `{v}`")
                        })?;
                }
                "--all" => all = true,
                "--type" => kind = Some(value("--type")?),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                s if s.starts_with("--") => return Err(format!("unknown option `{s}`\n{USAGE}")),
                _ => words.push(a),
            }
        }
        let mut words = words.into_iter();
        let command = words.next().ok_or_else(|| USAGE.to_owned())?;
        let rest: Vec<String> = words.collect();
        let selection = |rest: &[String]| -> Result<Selection, String> {
            match (all, &kind, rest.len()) {
                (true, None, 0) => Ok(Selection::All),
                (false, Some(t), 0) => Ok(Selection::Type(t.clone())),
                (false, None, n) if n > 0 => Ok(Selection::Ids(rest.to_vec())),
                _ => Err(format!(
                    "`{command}` takes message ids, or --all, or --type T (one of them)\n{USAGE}"
                )),
            }
        };
        let action = match (command.as_str(), rest.as_slice()) {
            ("list", queues) => Action::List(queues.to_vec()),
            ("show", [queue, id]) => Action::Show(queue.clone(), id.clone()),
            ("replay", [queue, ids @ ..]) => Action::Replay(queue.clone(), selection(ids)?),
            ("discard", [queue, ids @ ..]) => Action::Discard(queue.clone(), selection(ids)?),
            _ => return Err(USAGE.to_owned()),
        };
        if (all || kind.is_some()) && !matches!(action, Action::Replay(..) | Action::Discard(..)) {
            return Err(format!(
                "--all and --type go with replay and discard\n{USAGE}"
            ));
        }
        if topology.is_none() {
            let default = PathBuf::from("generated/topology.json");
            topology = default.is_file().then_some(default);
        }
        Ok(Self {
            url: url.unwrap_or_else(|| DEFAULT_AMQP_URL.to_owned()),
            prefix,
            topology,
            max,
            action,
        })
    }

    fn topology(&self) -> Result<Option<Topology>, String> {
        let Some(path) = &self.topology else {
            return Ok(None);
        };
        let json = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let t = super::topology_from_json(&json).map_err(|e| e.to_string())?;
        Ok(Some(t.with_prefix(&self.prefix)))
    }

    /// The full name of the dead-letter queue meant by `queue` (a dead-letter or work queue
    /// name without the prefix).
    fn dead_letter_queue(&self, topology: Option<&Topology>, queue: &str) -> String {
        let full = if self.prefix.is_empty() {
            queue.to_owned()
        } else {
            format!("{}.{queue}", self.prefix)
        };
        topology
            .and_then(|t| t.work_queue(&full))
            .map(|w| w.dead_letter_queue.clone())
            .unwrap_or(full)
    }

    /// Runs the command; returns what to print.
    pub async fn run(&self) -> Result<String, String> {
        let topology = self.topology()?;
        let conn = crate::amqp::connect_with_retry(&self.url, std::time::Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
        let result = self.run_on(&conn, topology.as_ref()).await;
        let _ = conn.close(200, "dead-letters done".into()).await;
        result
    }

    async fn run_on(
        &self,
        conn: &lapin::Connection,
        topology: Option<&Topology>,
    ) -> Result<String, String> {
        let open = |queue: String| async move {
            DeadLetterQueue::open(conn, &queue, self.max)
                .await
                .map_err(|e| format!("cannot read `{queue}`: {e}"))
        };
        let mut out = String::new();
        match &self.action {
            Action::List(queues) => {
                let mut names: Vec<String> = if queues.is_empty() {
                    let t = topology.ok_or(
                        "list without QUEUE needs the topology (--topology generated/topology.json)",
                    )?;
                    t.work_queues
                        .iter()
                        .map(|w| w.dead_letter_queue.clone())
                        .collect()
                } else {
                    queues
                        .iter()
                        .map(|q| self.dead_letter_queue(topology, q))
                        .collect()
                };
                names.dedup();
                let mut total = 0;
                for name in names {
                    let dlq = open(name.clone()).await?;
                    let groups = dlq.groups();
                    let count: usize = groups.iter().map(|g| g.message_ids.len()).sum();
                    dlq.release().await.map_err(|e| e.to_string())?;
                    total += count;
                    if count == 0 && queues.is_empty() {
                        continue;
                    }
                    let _ = writeln!(out, "{name}: {count} dead letter(s)");
                    for g in groups {
                        let _ = writeln!(
                            out,
                            "  {:>5}  {}  {}\n         ids: {}",
                            g.message_ids.len(),
                            if g.message_type.is_empty() {
                                "(no type)"
                            } else {
                                &g.message_type
                            },
                            g.reason,
                            g.message_ids.join(" ")
                        );
                    }
                }
                let _ = writeln!(out, "{total} dead letter(s) in all");
            }
            Action::Show(queue, id) => {
                let dlq = open(self.dead_letter_queue(topology, queue)).await?;
                let found = dlq.letters().find(|l| &l.message_id == id).cloned();
                dlq.release().await.map_err(|e| e.to_string())?;
                let l = found.ok_or_else(|| format!("no dead letter `{id}` in `{queue}`"))?;
                let _ = writeln!(out, "message id:     {}", l.message_id);
                let _ = writeln!(out, "message type:   {}", l.message_type);
                let _ = writeln!(out, "reason:         {}", l.reason);
                let _ = writeln!(out, "attempts:       {}", l.attempts);
                let _ = writeln!(
                    out,
                    "from queue:     {}",
                    l.from_queue.as_deref().unwrap_or("(unknown)")
                );
                let _ = writeln!(
                    out,
                    "correlation id: {}",
                    l.correlation_id.as_deref().unwrap_or("")
                );
                let _ = writeln!(out, "headers:");
                for (k, v) in &l.headers {
                    let _ = writeln!(out, "  {k}: {v}");
                }
                let _ = writeln!(out, "body:\n{}", l.body_text());
            }
            Action::Replay(queue, selection) => {
                let name = self.dead_letter_queue(topology, queue);
                let dlq = open(name.clone()).await?;
                let settled = dlq
                    .replay(|l| selection.matches(l))
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = writeln!(
                    out,
                    "replayed {} dead letter(s) from {name}; {} left",
                    settled.taken, settled.kept
                );
            }
            Action::Discard(queue, selection) => {
                let name = self.dead_letter_queue(topology, queue);
                let dlq = open(name.clone()).await?;
                let settled = dlq
                    .discard(|l| selection.matches(l))
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = writeln!(
                    out,
                    "discarded {} dead letter(s) from {name}; {} left",
                    settled.taken, settled.kept
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DeadLetterArgs, String> {
        DeadLetterArgs::parse(args.iter().copied(), |_| None)
    }

    #[test]
    fn parses_commands_and_selections() {
        let a = parse(&["--prefix", "p", "replay", "inventory.commands", "--all"]).unwrap();
        assert_eq!(a.prefix, "p");
        assert_eq!(
            a.action,
            Action::Replay("inventory.commands".into(), Selection::All)
        );
        let a = parse(&["discard", "q.dlq", "id1", "id2"]).unwrap();
        assert_eq!(
            a.action,
            Action::Discard(
                "q.dlq".into(),
                Selection::Ids(vec!["id1".into(), "id2".into()])
            )
        );
        assert_eq!(
            parse(&["replay", "q", "--type", "a.B"]).unwrap().action,
            Action::Replay("q".into(), Selection::Type("a.B".into()))
        );
        assert_eq!(parse(&["list"]).unwrap().action, Action::List(vec![]));
        assert!(parse(&["replay", "q"]).is_err(), "nothing selected");
        assert!(
            parse(&["replay", "q", "id", "--all"]).is_err(),
            "two selections"
        );
        assert!(parse(&["list", "--all"]).is_err());
        assert!(parse(&["show", "q"]).is_err());
        assert!(parse(&["--max", "0", "list"]).is_err());
        assert!(parse(&["--bogus", "list"]).is_err());
        let env = DeadLetterArgs::parse(["list"], |k| {
            (k == "AMQP_URL").then(|| "amqp://x".to_owned())
        })
        .unwrap();
        assert_eq!(env.url, "amqp://x");
    }
}
