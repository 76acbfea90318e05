//! Kubernetes manifests of the generated system, under `deploy/kubernetes/`:
//!
//! | file | objects |
//! |---|---|
//! | `config.yaml` | the `ConfigMap` and the `Secret` (placeholders) every process reads its environment from |
//! | `<process>.yaml` | one `Deployment` per process (image by convention, env from the ConfigMap and the Secret, startup/liveness/readiness probes on `/health/*`, resource requests and limits) and, for the Command and Query APIs, a `Service` |
//! | `keda-scaledobjects.yaml` | one KEDA `ScaledObject` per consumer (command handlers, event handlers, sagas) scaling on the length of its RabbitMQ queue |
//!
//! Process names, ports and queues come from the same functions the Rust emitter and the
//! topology use ([`crate::emit::rust::names`], [`crate::model::topology`]), so the manifests
//! cannot name a process, port or queue the generated binaries do not have.

use super::rust::names::{self, Process};
use super::{EmitError, Output};
use crate::model::Model;
use crate::model::topology::ConsumedQueue;
use askama::Template;

/// Folder of the manifests under `generated/`.
pub const DIR: &str = "deploy/kubernetes";
/// Name of the shared ConfigMap.
pub const CONFIG_MAP: &str = "system-config";
/// Name of the shared Secret.
pub const SECRET: &str = "system-secrets";
/// `app.kubernetes.io/part-of` of every object.
pub const PART_OF: &str = "msgen-system";
/// Image repository prefix: a process's image is `<IMAGE_PREFIX>/<process>:<IMAGE_TAG>`.
pub const IMAGE_PREFIX: &str = "msgen";
/// Image tag of every process (the generated packages' version).
pub const IMAGE_TAG: &str = "0.1.0";
/// Replicas of a Query API (stateless reads).
pub const QUERY_API_REPLICAS: u32 = 2;
/// Replicas of a Command API. Each replica consumes its own exclusive copy of the outcome queue,
/// so every replica answers `GET /commands/{id}` once the command is processed.
pub const COMMAND_API_REPLICAS: u32 = 2;
/// Upper bound of every ScaledObject.
pub const MAX_REPLICAS: u32 = 10;

/// One process's Deployment (and Service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sProcess {
    /// Process (package, Deployment, Service and container) name.
    pub name: String,
    /// `app.kubernetes.io/component` (`command-api`, ..., `saga`).
    pub component: String,
    /// One line about the process.
    pub description: String,
    /// Container image.
    pub image: String,
    /// HTTP port (health, metrics, API): the generated default port.
    pub port: u16,
    /// Fixed replicas; `None` when KEDA scales the Deployment.
    pub replicas: Option<u32>,
    /// Whether the process gets a `Service` (the APIs).
    pub service: bool,
    /// The queue it consumes, when KEDA scales it: (queue, prefetch).
    pub scaled_on: Option<(String, u32)>,
    /// CPU request.
    pub cpu_request: &'static str,
    /// Memory request.
    pub memory_request: &'static str,
    /// CPU limit.
    pub cpu_limit: &'static str,
    /// Memory limit.
    pub memory_limit: &'static str,
}

/// A KEDA ScaledObject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scaled {
    /// Name of the ScaledObject and of its target Deployment.
    pub name: String,
    /// Component label.
    pub component: String,
    /// The RabbitMQ queue whose length drives the scaling.
    pub queue: String,
    /// Ready messages per replica (the consumer's prefetch).
    pub target: u32,
    /// Minimum replicas (1: saga timers and outbox relays must keep running).
    pub min_replicas: u32,
    /// Maximum replicas.
    pub max_replicas: u32,
}

#[derive(Template)]
#[template(path = "k8s/config.yaml", escape = "none")]
struct ConfigTemplate<'a> {
    config_map: &'a str,
    secret: &'a str,
    part_of: &'a str,
    mongodb_database: &'a str,
}

#[derive(Template)]
#[template(path = "k8s/process.yaml", escape = "none")]
struct ProcessTemplate<'a> {
    process: &'a K8sProcess,
    config_map: &'a str,
    secret: &'a str,
    part_of: &'a str,
}

#[derive(Template)]
#[template(path = "k8s/scaledobjects.yaml", escape = "none")]
struct ScaledTemplate<'a> {
    scaled: &'a [Scaled],
    part_of: &'a str,
}

fn image(name: &str) -> String {
    format!("{IMAGE_PREFIX}/{name}:{IMAGE_TAG}")
}

fn scaled_on(q: &ConsumedQueue) -> Option<(String, u32)> {
    Some((q.name.clone(), q.settings.prefetch.max(1)))
}

/// Every process of the model, contexts in order (Command API, CommandHandler, EventHandler,
/// Query API), then the sagas.
pub fn processes(model: &Model) -> Vec<K8sProcess> {
    let mut out = Vec::new();
    for c in &model.contexts {
        let topology = model.topology.context(&c.name);
        for p in Process::ALL {
            let name = names::process_package(&c.name, p);
            let (description, replicas, service, queue) = match p {
                Process::CommandApi => (
                    format!("REST ingress of the `{}` commands", c.name),
                    Some(COMMAND_API_REPLICAS),
                    true,
                    None,
                ),
                Process::CommandHandler => (
                    format!(
                        "executes the `{}` commands (PostgreSQL state + outbox relay)",
                        c.name
                    ),
                    None,
                    false,
                    topology.and_then(|t| scaled_on(&t.command_queue)),
                ),
                Process::EventHandler => (
                    format!("projects events into the `{}` read models", c.name),
                    None,
                    false,
                    topology.and_then(|t| scaled_on(&t.event_queue)),
                ),
                Process::QueryApi => (
                    format!("REST queries of the `{}` read models", c.name),
                    Some(QUERY_API_REPLICAS),
                    true,
                    None,
                ),
            };
            let heavy = matches!(p, Process::CommandHandler | Process::EventHandler);
            out.push(K8sProcess {
                image: image(&name),
                port: names::default_port(model, &c.name, p),
                component: p.suffix().to_owned(),
                description,
                // a consumer without a queue (never, in a valid model) keeps one replica
                replicas: if queue.is_none() && !service {
                    Some(1)
                } else {
                    replicas
                },
                service,
                scaled_on: queue,
                cpu_request: if heavy { "100m" } else { "50m" },
                memory_request: "64Mi",
                cpu_limit: "1",
                memory_limit: "256Mi",
                name,
            });
        }
    }
    for s in &model.sagas {
        let name = names::saga_package(s);
        let queue = model
            .topology
            .sagas
            .iter()
            .find(|t| t.saga == s.name)
            .and_then(|t| scaled_on(&t.queue));
        out.push(K8sProcess {
            image: image(&name),
            port: names::saga_port(model, s),
            component: "saga".to_owned(),
            description: format!("orchestrates the `{}` saga", s.name),
            replicas: if queue.is_none() { Some(1) } else { None },
            service: false,
            scaled_on: queue,
            cpu_request: "50m",
            memory_request: "64Mi",
            cpu_limit: "1",
            memory_limit: "256Mi",
            name,
        });
    }
    out
}

/// The ScaledObjects: one per process that consumes a queue and has no fixed replicas.
pub fn scaled_objects(processes: &[K8sProcess]) -> Vec<Scaled> {
    processes
        .iter()
        .filter(|p| p.replicas.is_none())
        .filter_map(|p| {
            let (queue, target) = p.scaled_on.clone()?;
            Some(Scaled {
                name: p.name.clone(),
                component: p.component.clone(),
                queue,
                target,
                min_replicas: 1,
                max_replicas: MAX_REPLICAS,
            })
        })
        .collect()
}

fn render(t: &impl Template, what: &str) -> Result<String, EmitError> {
    let mut s = t
        .render()
        .map_err(|e| EmitError(format!("rendering {what}: {e}")))?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// Adds the manifests of `model` to `output` under [`DIR`].
pub fn emit(model: &Model, output: &mut Output) -> Result<(), EmitError> {
    output.add(
        format!("{DIR}/config.yaml"),
        render(
            &ConfigTemplate {
                config_map: CONFIG_MAP,
                secret: SECRET,
                part_of: PART_OF,
                mongodb_database: runtime::config::DEFAULT_MONGODB_DATABASE,
            },
            "config.yaml",
        )?,
    );
    let processes = processes(model);
    for p in &processes {
        output.add(
            format!("{DIR}/{}.yaml", p.name),
            render(
                &ProcessTemplate {
                    process: p,
                    config_map: CONFIG_MAP,
                    secret: SECRET,
                    part_of: PART_OF,
                },
                &p.name,
            )?,
        );
    }
    let scaled = scaled_objects(&processes);
    output.add(
        format!("{DIR}/keda-scaledobjects.yaml"),
        render(
            &ScaledTemplate {
                scaled: &scaled,
                part_of: PART_OF,
            },
            "keda-scaledobjects.yaml",
        )?,
    );
    Ok(())
}
