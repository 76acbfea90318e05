//! Validation of `topology.yaml` and resolution of every queue and exchange name.

use super::Validator;
use crate::diagnostic::suggest;
use crate::model::topology::{
    ConsumedQueue, ContextTopology, Naming, SagaTopology, short_duration,
};
use crate::model::{Context, QueueKind, QueueSettings, Saga, Topology};
use crate::source::FileId;
use crate::syntax::topology::{QueueSettingsDef, TopologyFile};
use crate::syntax::{Loc, Pos};
use heck::ToKebabCase;
use std::collections::HashMap;

/// Placeholders each template must contain, and may contain.
const TEMPLATES: [(&str, &[&str], &[&str]); 8] = [
    ("command_queue", &["{context}"], &["{context}"]),
    ("event_exchange", &["{context}"], &["{context}"]),
    ("outcome_exchange", &["{context}"], &["{context}"]),
    ("public_exchange", &["{context}"], &["{context}"]),
    (
        "process_queue",
        &["{context}", "{process}"],
        &["{context}", "{process}"],
    ),
    ("saga_queue", &["{saga}"], &["{saga}"]),
    ("dead_letter_queue", &["{queue}"], &["{queue}"]),
    (
        "retry_queue",
        &["{queue}", "{delay}"],
        &["{queue}", "{delay}"],
    ),
];

impl Validator<'_> {
    pub(super) fn topology(
        &mut self,
        file: Option<&(FileId, TopologyFile)>,
        contexts: &[Context],
        sagas: &[Saga],
    ) -> Topology {
        let mut naming = Naming::default();
        let mut defaults = QueueSettings::default();
        let mut overrides: HashMap<String, QueueSettings> = HashMap::new();
        let file_id = file.map(|(f, _)| *f);
        if let Some((file, t)) = file {
            let file = *file;
            if let Some(n) = &t.naming {
                let slots: [(&str, &Option<Loc<String>>, &mut String); 9] = [
                    (
                        "command_queue",
                        &n.value.command_queue,
                        &mut naming.command_queue,
                    ),
                    (
                        "event_exchange",
                        &n.value.event_exchange,
                        &mut naming.event_exchange,
                    ),
                    (
                        "outcome_exchange",
                        &n.value.outcome_exchange,
                        &mut naming.outcome_exchange,
                    ),
                    (
                        "public_exchange",
                        &n.value.public_exchange,
                        &mut naming.public_exchange,
                    ),
                    (
                        "process_queue",
                        &n.value.process_queue,
                        &mut naming.process_queue,
                    ),
                    ("saga_queue", &n.value.saga_queue, &mut naming.saga_queue),
                    (
                        "dead_letter_exchange",
                        &n.value.dead_letter_exchange,
                        &mut naming.dead_letter_exchange,
                    ),
                    (
                        "dead_letter_queue",
                        &n.value.dead_letter_queue,
                        &mut naming.dead_letter_queue,
                    ),
                    ("retry_queue", &n.value.retry_queue, &mut naming.retry_queue),
                ];
                let mut problems = Vec::new();
                for (key, value, slot) in slots {
                    let Some(v) = value else { continue };
                    match check_template(key, &v.value) {
                        Ok(()) => *slot = v.value.clone(),
                        Err(msg) => problems.push((v.clone(), msg)),
                    }
                }
                for (loc, msg) in problems {
                    self.error_at(file, &loc, n.pos, msg);
                }
            }
            if let Some(d) = &t.defaults {
                defaults = self.queue_settings(file, &d.value, d.pos, &QueueSettings::default());
            }
            let known: Vec<String> = process_names(contexts, sagas);
            for (name, s) in t.processes.iter() {
                let unparsed = match name.value.split_once('.') {
                    Some(("saga", _)) => self.sagas_unparsed,
                    Some((ctx, _)) => self.unparsed(ctx),
                    None => false,
                };
                if !known.contains(&name.value) && unparsed {
                    continue;
                }
                if !known.contains(&name.value) {
                    let help = suggest(&name.value, known.iter().map(String::as_str));
                    let d = self.error_at(file, name, Pos::default(), format!(
                        "unknown process `{}`: processes are `<context>.command-handler`, `<context>.event-handler`, `<context>.command-api` and `saga.<SagaName>`",
                        name.value
                    ));
                    d.help = help;
                    continue;
                }
                let v = &s.value;
                if name.value.ends_with(".command-api")
                    && (v.delivery_limit.is_some()
                        || v.retry_delays.is_some()
                        || v.single_active_consumer.is_some())
                {
                    self.warn_at(file, name, Pos::default(), format!(
                        "`{}` consumes command outcomes through one exclusive classic queue per replica, without retry queues: `delivery_limit`, `retry_delays` and `single_active_consumer` have no effect on it, and `queue_type` applies to its dead-letter queue only",
                        name.value
                    ));
                }
                let settings = self.queue_settings(file, &s.value, s.pos, &defaults);
                overrides.insert(name.value.clone(), settings);
            }
        }
        let settings = |process: &str| {
            overrides
                .get(process)
                .cloned()
                .unwrap_or_else(|| defaults.clone())
        };
        let fill = |tpl: &str, pairs: &[(&str, &str)]| {
            let mut s = tpl.to_owned();
            for (k, v) in pairs {
                s = s.replace(k, v);
            }
            s
        };
        let consumed = |name: String,
                        process: String,
                        settings: QueueSettings,
                        bindings: Vec<String>,
                        ordered: bool| {
            let dead_letter_queue = fill(&naming.dead_letter_queue, &[("{queue}", &name)]);
            let retry_queues = settings
                .retry_delays
                .iter()
                .map(|d| {
                    (
                        *d,
                        fill(
                            &naming.retry_queue,
                            &[("{queue}", &name), ("{delay}", &short_duration(*d))],
                        ),
                    )
                })
                .collect();
            ConsumedQueue {
                name,
                process,
                single_active_consumer: settings.single_active_consumer.unwrap_or(ordered),
                settings,
                bindings,
                dead_letter_queue,
                retry_queues,
                per_replica: false,
            }
        };
        // The exchange an event arrives on: the public exchange for a public event, else the
        // event exchange of its context.
        let source_exchange = |event: &crate::model::MessageName| {
            let public = contexts
                .iter()
                .find(|c| c.name == event.context)
                .and_then(|c| c.event(&event.name))
                .is_some_and(|e| e.is_public());
            let template = if public {
                &naming.public_exchange
            } else {
                &naming.event_exchange
            };
            fill(template, &[("{context}", &event.context)])
        };
        let mut out_contexts = Vec::new();
        for c in contexts {
            let ctx = c.name.as_str();
            let event_exchange = fill(&naming.event_exchange, &[("{context}", ctx)]);
            let mut bindings: Vec<String> = Vec::new();
            let sources = c
                .read_models
                .iter()
                .flat_map(|rm| rm.projections.iter().map(|p| p.event.clone()))
                .chain(c.policies.iter().map(|p| p.on.clone()))
                .chain(c.public_events().filter_map(|e| {
                    Some(crate::model::MessageName {
                        context: c.name.clone(),
                        name: e.public.as_ref()?.from.clone(),
                    })
                }));
            for event in sources {
                let ex = source_exchange(&event);
                if !bindings.contains(&ex) {
                    bindings.push(ex);
                }
            }
            if bindings.is_empty() {
                bindings.push(event_exchange.clone());
            }
            let ch = format!("{ctx}.command-handler");
            let eh = format!("{ctx}.event-handler");
            let api = format!("{ctx}.command-api");
            out_contexts.push(ContextTopology {
                context: c.name.clone(),
                command_queue: consumed(
                    fill(&naming.command_queue, &[("{context}", ctx)]),
                    ch.clone(),
                    settings(&ch),
                    vec![],
                    false,
                ),
                event_exchange,
                outcome_exchange: fill(&naming.outcome_exchange, &[("{context}", ctx)]),
                public_exchange: (c.public_events().next().is_some())
                    .then(|| fill(&naming.public_exchange, &[("{context}", ctx)])),
                event_queue: consumed(
                    fill(
                        &naming.process_queue,
                        &[("{context}", ctx), ("{process}", "event-handler")],
                    ),
                    eh.clone(),
                    settings(&eh),
                    bindings,
                    true,
                ),
                outcome_queue: per_replica(consumed(
                    fill(
                        &naming.process_queue,
                        &[("{context}", ctx), ("{process}", "command-api")],
                    ),
                    api.clone(),
                    settings(&api),
                    vec![fill(&naming.outcome_exchange, &[("{context}", ctx)])],
                    false,
                )),
            });
        }
        let mut out_sagas = Vec::new();
        for s in sagas {
            let process = format!("saga.{}", s.name);
            let mut bindings = Vec::new();
            for e in s.events() {
                let ex = source_exchange(e);
                if !bindings.contains(&ex) {
                    bindings.push(ex);
                }
            }
            out_sagas.push(SagaTopology {
                saga: s.name.clone(),
                queue: consumed(
                    fill(&naming.saga_queue, &[("{saga}", &s.name.to_kebab_case())]),
                    process.clone(),
                    settings(&process),
                    bindings,
                    true,
                ),
            });
        }
        let topology = Topology {
            naming,
            contexts: out_contexts,
            sagas: out_sagas,
        };
        if let Some(file) = file_id {
            self.unique_names(file, &topology);
        }
        topology
    }

    fn queue_settings(
        &mut self,
        file: FileId,
        d: &QueueSettingsDef,
        pos: Pos,
        base: &QueueSettings,
    ) -> QueueSettings {
        let mut s = base.clone();
        if let Some(k) = &d.queue_type {
            match k.value.as_str() {
                "quorum" => s.kind = QueueKind::Quorum,
                "classic" => {
                    s.kind = QueueKind::Classic;
                    s.delivery_limit = None;
                }
                other => {
                    let help = suggest(other, ["quorum", "classic"]);
                    let e = self.error_at(
                        file,
                        k,
                        pos,
                        format!("unknown queue type `{other}`: use `quorum` or `classic`"),
                    );
                    e.help = help;
                }
            }
        }
        if let Some(p) = &d.prefetch {
            if p.value == 0 || p.value > 65535 {
                self.error(
                    file,
                    p.pos,
                    pos,
                    format!("`prefetch: {}` must be between 1 and 65535", p.value),
                );
            } else {
                s.prefetch = p.value;
            }
        }
        if let Some(l) = &d.delivery_limit {
            if s.kind == QueueKind::Classic {
                self.error(
                    file,
                    l.pos,
                    pos,
                    "`delivery_limit` needs a quorum queue; classic queues have none",
                );
            } else if l.value == 0 {
                self.error(file, l.pos, pos, "`delivery_limit` must be at least 1");
            } else {
                s.delivery_limit = Some(l.value);
            }
        }
        if let Some(b) = &d.single_active_consumer {
            s.single_active_consumer = Some(b.value);
        }
        if let Some(m) = &d.max_attempts {
            if m.value == 0 {
                self.error(
                    file,
                    m.pos,
                    pos,
                    "`max_attempts` counts the first attempt: it is at least 1",
                );
            } else {
                s.max_attempts = m.value;
            }
        }
        if let Some(delays) = &d.retry_delays {
            let mut parsed = Vec::new();
            for dl in &delays.value {
                if let Some(v) = self.duration(file, dl, delays.pos) {
                    if parsed.last().is_some_and(|last| *last >= v) {
                        self.error_at(
                            file,
                            dl,
                            delays.pos,
                            "retry delays must be strictly ascending",
                        );
                    }
                    if v.subsec_millis() > 0 && v.as_secs() > 0 || v.subsec_nanos() % 1_000_000 != 0
                    {
                        self.error_at(file, dl, delays.pos, "retry delays are whole milliseconds below one second, whole seconds above");
                    }
                    parsed.push(v);
                }
            }
            s.retry_delays = parsed;
        }
        s
    }

    fn unique_names(&mut self, file: FileId, t: &Topology) {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut clashes = Vec::new();
        let mut add = |name: &str, what: String| {
            if let Some(other) = names.get(name) {
                clashes.push(format!("`{name}` would name both {other} and {what}"));
            } else {
                names.insert(name.to_owned(), what);
            }
        };
        add(
            &t.naming.dead_letter_exchange,
            "the dead-letter exchange".into(),
        );
        for c in &t.contexts {
            add(
                &c.event_exchange,
                format!("the event exchange of `{}`", c.context),
            );
            add(
                &c.outcome_exchange,
                format!("the outcome exchange of `{}`", c.context),
            );
            if let Some(public) = &c.public_exchange {
                add(
                    public,
                    format!("the public event exchange of `{}`", c.context),
                );
            }
        }
        for q in t.consumed_queues() {
            add(&q.name, format!("the queue of `{}`", q.process));
            add(
                &q.dead_letter_queue,
                format!("the dead-letter queue of `{}`", q.process),
            );
            for (_, r) in &q.retry_queues {
                add(r, format!("a retry queue of `{}`", q.process));
            }
        }
        let mut bad: Vec<String> = names
            .keys()
            .filter(|n| !valid_amqp_name(n))
            .cloned()
            .collect();
        bad.sort();
        clashes.sort();
        for c in clashes {
            self.error(
                file,
                Pos::new(1, 1),
                Pos::default(),
                format!("name clash in the topology: {c}"),
            );
        }
        for n in bad {
            self.error(file, Pos::new(1, 1), Pos::default(), format!("`{n}` is not a valid queue or exchange name: use letters, digits, `.`, `-`, `_`, `:` (at most 255 bytes)"));
        }
    }
}

/// Turns the Command API's outcome queue into a per-replica template
/// ([`ConsumedQueue::per_replica`]): no delivery limit, no retry queues, no single active
/// consumer; the copies are classic (an exclusive queue cannot be a quorum queue), the queue
/// type applies to its dead-letter queue; prefetch and max attempts stay.
fn per_replica(mut q: ConsumedQueue) -> ConsumedQueue {
    q.per_replica = true;
    q.single_active_consumer = false;
    q.retry_queues.clear();
    q.settings.delivery_limit = None;
    q.settings.retry_delays.clear();
    q.settings.single_active_consumer = None;
    q
}

fn check_template(key: &str, template: &str) -> Result<(), String> {
    let Some((_, required, allowed)) = TEMPLATES.iter().find(|(k, _, _)| *k == key) else {
        return if template.contains('{') {
            Err(format!("`{key}` is a fixed name and takes no placeholder"))
        } else if template.is_empty() {
            Err(format!("`{key}` is empty"))
        } else {
            Ok(())
        };
    };
    for r in *required {
        if !template.contains(r) {
            return Err(format!(
                "the `{key}` template must contain `{r}` so that names stay unique"
            ));
        }
    }
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e + 1)
            .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        let ph = &rest[start..end];
        if !allowed.contains(&ph) {
            return Err(format!(
                "unknown placeholder `{ph}` in `{key}`: it may use {}",
                allowed.join(", ")
            ));
        }
        rest = &rest[end..];
    }
    Ok(())
}

fn valid_amqp_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && !n.starts_with("amq.")
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// Names of the consuming processes that `processes` may configure.
fn process_names(contexts: &[Context], sagas: &[Saga]) -> Vec<String> {
    contexts
        .iter()
        .flat_map(|c| {
            [
                format!("{}.command-handler", c.name),
                format!("{}.event-handler", c.name),
                format!("{}.command-api", c.name),
            ]
        })
        .chain(sagas.iter().map(|s| format!("saga.{}", s.name)))
        .collect()
}
