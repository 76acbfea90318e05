//! Helpers of the process-runner tests: a tiny hand-written "shop" context (aggregate,
//! commands, events, projection, read-model route, saga), its topology, a runner harness
//! (spawn a runner as a task, learn its bound address, stop it) and a minimal HTTP client.
//!
//! Use from a test file with `#[path = "support/mod.rs"] mod support; mod process_support;`.
#![allow(dead_code)]

use runtime::command_handler::{AggregateCommandHandler, CommandDispatcher};
use runtime::config::{JwtSettings, ServiceConfig};
use runtime::http::command_api::{CommandApi, IdSource};
use runtime::http::query_api::ReadModelRoute;
use runtime::message::{AggregateRoot, CommandContext, Decision, DecodeError, MessageSet};
use runtime::postgres::PgStateStore;
use runtime::process::{ProcessError, ProcessInfo, Projection, RunOptions};
use runtime::read_model::{DocumentUpdate, IndexSpec, UpdateOp};
use runtime::saga::{CommandSpec, SagaMachine, SagaOutcome, SagaStateSpec, TransitionSpec};
use runtime::topology::{Source, Topology, TopologyBuilder};
use runtime::validation::{FieldViolation, Validate};
use runtime::{Command, Message, RawEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// HS256 secret of the test APIs.
pub const SECRET: &str = "process-test-secret";

// ----- the shop context -----

/// `POST /orders`: places a new order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaceOrder {
    pub item: String,
    pub quantity: i64,
}
impl Message for PlaceOrder {
    const TYPE: &'static str = "shop.PlaceOrder";
}
impl Command for PlaceOrder {
    const AGGREGATE: &'static str = "shop.Order";
}
impl Validate for PlaceOrder {
    fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        if self.quantity < 1 {
            return Err(vec![FieldViolation::new("/quantity", "must be at least 1")]);
        }
        Ok(())
    }
}

/// Sent by the saga: confirms a placed order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfirmOrder {}
impl Message for ConfirmOrder {
    const TYPE: &'static str = "shop.ConfirmOrder";
}
impl Command for ConfirmOrder {
    const AGGREGATE: &'static str = "shop.Order";
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub item: String,
    pub quantity: i64,
}
impl Message for OrderPlaced {
    const TYPE: &'static str = "shop.OrderPlaced";
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderConfirmed {}
impl Message for OrderConfirmed {
    const TYPE: &'static str = "shop.OrderConfirmed";
}

runtime::message_set! {
    /// Commands of an order.
    pub enum OrderCommand { PlaceOrder, ConfirmOrder }
}
runtime::message_set! {
    /// Events of an order.
    pub enum OrderEvent { OrderPlaced, OrderConfirmed }
}

/// The order aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub item: String,
    pub quantity: i64,
    pub confirmed: bool,
}

impl AggregateRoot for Order {
    const TYPE: &'static str = "shop.Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Hooks = ();

    fn decide(
        _: &(),
        state: Option<&Self>,
        ctx: &CommandContext,
        command: &OrderCommand,
    ) -> Decision<OrderEvent> {
        match (command, state) {
            (OrderCommand::PlaceOrder(_), Some(_)) => {
                Decision::reject("exists", "the order exists", vec![])
            }
            (OrderCommand::PlaceOrder(c), None) => Decision::Accept(vec![
                OrderPlaced {
                    item: c.item.clone(),
                    quantity: c.quantity,
                }
                .into(),
            ]),
            (OrderCommand::ConfirmOrder(_), None) => {
                Decision::not_found("shop.Order", &ctx.aggregate_id)
            }
            (OrderCommand::ConfirmOrder(_), Some(o)) if o.confirmed => {
                Decision::reject("confirmed", "already confirmed", vec![])
            }
            (OrderCommand::ConfirmOrder(_), Some(_)) => {
                Decision::Accept(vec![OrderConfirmed {}.into()])
            }
        }
    }

    fn apply(state: Option<Self>, _: &CommandContext, event: &OrderEvent) -> Self {
        match (event, state) {
            (OrderEvent::OrderPlaced(e), _) => Order {
                item: e.item.clone(),
                quantity: e.quantity,
                confirmed: false,
            },
            (OrderEvent::OrderConfirmed(_), Some(o)) => Order {
                confirmed: true,
                ..o
            },
            (OrderEvent::OrderConfirmed(_), None) => Order {
                item: String::new(),
                quantity: 0,
                confirmed: true,
            },
        }
    }
}

/// The Command API routes of the shop context.
pub fn command_routes(api: CommandApi) -> CommandApi {
    api.command::<PlaceOrder>(
        axum::http::Method::POST,
        "/orders",
        &["customer"],
        IdSource::Generated,
    )
}

/// The command handlers of the shop context.
pub fn handlers(store: PgStateStore) -> CommandDispatcher {
    CommandDispatcher::new().register(Arc::new(AggregateCommandHandler::<Order, _>::new(
        store,
        (),
    )))
}

/// The shop read models: `orders` with `item`, `quantity`, `status`.
pub struct ShopProjection;

impl Projection for ShopProjection {
    fn name(&self) -> &'static str {
        "shop-read-models"
    }

    fn event_sources(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("shop.OrderPlaced", "shop.Order"),
            ("shop.OrderConfirmed", "shop.Order"),
        ]
    }

    fn indexes(&self) -> Vec<(&'static str, IndexSpec)> {
        vec![(
            "orders",
            IndexSpec {
                fields: vec![("status".into(), false)],
                unique: false,
            },
        )]
    }

    fn updates(&self, event: &RawEnvelope) -> Result<Vec<DocumentUpdate>, DecodeError> {
        let meta = &event.meta;
        if !OrderEvent::TYPES.contains(&meta.message_type.as_str()) {
            return Ok(vec![]);
        }
        let key = meta.aggregate_id.clone().unwrap_or_default();
        let ops = match OrderEvent::decode(&meta.message_type, event.payload.clone())? {
            OrderEvent::OrderPlaced(e) => vec![
                UpdateOp::Set {
                    field: "item".into(),
                    value: json!(e.item),
                },
                UpdateOp::Set {
                    field: "quantity".into(),
                    value: json!(e.quantity),
                },
                UpdateOp::Set {
                    field: "status".into(),
                    value: json!("placed"),
                },
            ],
            OrderEvent::OrderConfirmed(_) => vec![UpdateOp::Set {
                field: "status".into(),
                value: json!("confirmed"),
            }],
        };
        Ok(vec![DocumentUpdate {
            collection: "orders".into(),
            tenant_id: meta.tenant_id.clone(),
            key,
            ops,
            upsert: true,
        }])
    }
}

/// The Query API routes.
pub const ROUTES: &[ReadModelRoute] = &[ReadModelRoute {
    path: "/orders",
    collection: "orders",
    roles: &["customer"],
    filters: &[],
    sort_keys: &[],
    default_sort: "",
    default_page_size: 20,
    max_page_size: 100,
    row_filter: None,
}];

/// Data of the confirmation saga.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowData {
    pub order_id: String,
}

/// Saga name.
pub const SAGA: &str = "ShopFlow";

/// On `shop.OrderPlaced`, send `shop.ConfirmOrder`; complete on `shop.OrderConfirmed`.
pub fn saga_machine() -> SagaMachine<FlowData> {
    SagaMachine {
        name: SAGA,
        start_event: "shop.OrderPlaced",
        initial_state: "Confirming",
        correlate: |e| e.meta.aggregate_id.clone(),
        init: |e| {
            Ok(FlowData {
                order_id: e.meta.aggregate_id.clone().unwrap_or_default(),
            })
        },
        states: vec![
            SagaStateSpec {
                command: Some(CommandSpec {
                    context: "shop",
                    message_type: "shop.ConfirmOrder",
                    schema_version: 1,
                    build: |d| (d.order_id.clone(), json!({})),
                }),
                transitions: vec![TransitionSpec::to("shop.OrderConfirmed", "Done")],
                ..SagaStateSpec::new("Confirming")
            },
            SagaStateSpec::terminal("Done", SagaOutcome::Completed),
        ],
    }
}

/// The shop topology (short retry tiers for fast tests).
pub fn topology() -> Topology {
    TopologyBuilder::new()
        .context("shop")
        .subscriber("shop", "command-api", [Source::outcomes("shop")])
        .subscriber("shop", "event-handler", [Source::events("shop")])
        .subscriber("saga", "shop-flow", [Source::events("shop")])
        .retry_delays_ms([200, 1000])
        .build()
}

pub const COMMAND_API: ProcessInfo = ProcessInfo {
    name: "shop-command-api",
    context: "shop",
    queue: Some("shop.command-api"),
    default_http_addr: "127.0.0.1:0",
};
pub const COMMAND_HANDLER: ProcessInfo = ProcessInfo {
    name: "shop-command-handler",
    context: "shop",
    queue: Some("shop.commands"),
    default_http_addr: "127.0.0.1:0",
};
pub const EVENT_HANDLER: ProcessInfo = ProcessInfo {
    name: "shop-event-handler",
    context: "shop",
    queue: Some("shop.event-handler"),
    default_http_addr: "127.0.0.1:0",
};
pub const QUERY_API: ProcessInfo = ProcessInfo {
    name: "shop-query-api",
    context: "shop",
    queue: None,
    default_http_addr: "127.0.0.1:0",
};
pub const SAGA_PROCESS: ProcessInfo = ProcessInfo {
    name: "shop-flow-saga",
    context: SAGA,
    queue: Some("saga.shop-flow"),
    default_http_addr: "127.0.0.1:0",
};

/// A configuration for a test: the local servers, a unique broker prefix and MongoDB
/// database, HTTP on a free port, the HS256 secret.
pub fn config(prefix: &str, database_url: &str) -> ServiceConfig {
    ServiceConfig {
        amqp_url: crate::support::amqp_url(),
        database_url: database_url.to_owned(),
        mongodb_url: crate::support::mongo_url(),
        mongodb_database: prefix.to_owned(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        name_prefix: prefix.to_owned(),
        rust_log: "info".into(),
        jwt: JwtSettings {
            hs256_secret: Some(SECRET.into()),
            ..JwtSettings::default()
        },
        ..ServiceConfig::default()
    }
}

/// A customer token of tenant `acme`.
pub fn token(sub: &str) -> String {
    runtime::http::auth::issue_dev_token(
        SECRET.as_bytes(),
        sub,
        "acme",
        &["customer"],
        Duration::from_secs(600),
    )
    .unwrap()
}

// ----- runner harness -----

/// A runner started as a task.
pub struct Running {
    pub name: &'static str,
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ProcessError>>,
}

/// Options for a test runner: `config`, a stop signal, bound-address notification, fast
/// saga timers. Returns the options, the stop sender and the address receiver.
pub fn options(
    config: ServiceConfig,
) -> (
    RunOptions,
    watch::Sender<bool>,
    oneshot::Receiver<SocketAddr>,
) {
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let (addr_tx, addr_rx) = oneshot::channel();
    let options = RunOptions::new(config)
        .with_shutdown(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        })
        .notify_bound(addr_tx)
        .startup_timeout(Duration::from_secs(30))
        .shutdown_grace(Duration::from_secs(20))
        .saga_tick_every(Duration::from_millis(200))
        .saga_recover_every(Duration::from_secs(2))
        .depth_every(Some(Duration::from_millis(500)))
        .outbox_poll_every(Duration::from_millis(500));
    (options, stop_tx, addr_rx)
}

impl Running {
    /// Spawns `run` (a `run_*_with` call using the options of [`options`]) and waits until
    /// it is listening; panics with the runner's error when it fails first.
    pub async fn start<F>(
        name: &'static str,
        stop: watch::Sender<bool>,
        addr: oneshot::Receiver<SocketAddr>,
        run: F,
    ) -> Running
    where
        F: std::future::Future<Output = Result<(), ProcessError>> + Send + 'static,
    {
        let mut task = tokio::spawn(run);
        let addr = tokio::select! {
            a = addr => a.unwrap_or_else(|_| panic!("{name}: stopped before binding")),
            r = &mut task => panic!("{name} ended before listening: {:?}", r.map(|r| r.map_err(|e| runtime::process::error_report(&e)))),
            _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("{name}: not listening after 60 s"),
        };
        Running {
            name,
            addr,
            stop,
            task,
        }
    }

    /// Stops the runner and returns its result (panics when it does not stop in 30 s).
    pub async fn stop(self) -> Result<(), ProcessError> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(joined) => joined.unwrap_or_else(|e| panic!("{} panicked: {e}", self.name)),
            Err(_) => panic!("{} did not stop within 30 s", self.name),
        }
    }

    /// Waits until `/health/ready` answers 200.
    pub async fn wait_ready(&self) {
        let addr = self.addr;
        crate::support::wait_until(
            Duration::from_secs(30),
            &format!("{} is ready", self.name),
            || async move { http(addr, "GET", "/health/ready", None, None).await.status == 200 },
        )
        .await;
    }
}

// ----- HTTP client -----

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

/// A minimal HTTP/1.1 request over TCP (blocking std I/O on the blocking pool).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let request = {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some(t) = token {
            r.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if !body.is_empty() {
            r.push_str("Content-Type: application/json\r\n");
        }
        r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        r
    };
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        stream.write_all(request.as_bytes()).expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            text: body,
        }
    })
    .await
    .unwrap()
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
