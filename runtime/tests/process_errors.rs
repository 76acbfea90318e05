//! Startup failures of the runners are errors with causes, never panics; a shutdown during
//! startup is a clean `Ok`.
#![cfg(all(
    feature = "amqp",
    feature = "postgres",
    feature = "mongo",
    feature = "auth"
))]

#[path = "support/mod.rs"]
mod support;

mod process_support;

use process_support::*;
use runtime::config::{JwtSettings, ServiceConfig};
use runtime::process::{
    ProcessError, ProcessInfo, RunOptions, error_report, run_command_api_with,
    run_event_handler_with, run_query_api_with, run_saga_with,
};
use std::time::{Duration, Instant};

/// A configuration pointing at nothing (no server is contacted by these failures).
fn offline() -> ServiceConfig {
    let mut cfg = config("t_offline", "postgres://postgres@127.0.0.1:1/none");
    cfg.amqp_url = "amqp://guest:secret@127.0.0.1:1/%2f".into();
    cfg.mongodb_url = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300".into();
    cfg
}

/// Options that never shut down by themselves, with a 1 s startup timeout.
fn opts(cfg: ServiceConfig) -> RunOptions {
    RunOptions::new(cfg)
        .with_shutdown(std::future::pending())
        .startup_timeout(Duration::from_secs(1))
}

#[tokio::test]
async fn apis_without_a_jwt_key_refuse_to_start() {
    let mut cfg = offline();
    cfg.jwt = JwtSettings::default();
    let e = run_command_api_with(COMMAND_API, opts(cfg.clone()), topology(), command_routes)
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::JwtNotConfigured), "{e:?}");
    assert!(error_report(&e).contains("JWT_HS256_SECRET"));
    let e = run_query_api_with(QUERY_API, opts(cfg), ROUTES, vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::JwtNotConfigured), "{e:?}");
}

#[tokio::test]
async fn jwt_misconfiguration_names_the_variable_and_the_cause() {
    let mut cfg = offline();
    cfg.jwt.jwks_file = Some("/nonexistent/jwks.json".into());
    let e = run_query_api_with(QUERY_API, opts(cfg.clone()), ROUTES, vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::JwtAmbiguous(_)), "{e:?}");
    assert!(error_report(&e).contains("JWT_HS256_SECRET, JWT_JWKS_FILE"));

    cfg.jwt.hs256_secret = None;
    let e = run_query_api_with(QUERY_API, opts(cfg), ROUTES, vec![])
        .await
        .unwrap_err();
    let report = error_report(&e);
    assert!(
        matches!(
            e,
            ProcessError::Jwt {
                variable: "JWT_JWKS_FILE",
                ..
            }
        ),
        "{report}"
    );
    assert!(report.contains("/nonexistent/jwks.json"), "{report}");
}

#[tokio::test]
async fn queues_must_belong_to_the_topology() {
    let unknown = ProcessInfo {
        queue: Some("shop.nowhere"),
        ..EVENT_HANDLER
    };
    let e = run_event_handler_with(unknown, opts(offline()), topology(), ShopProjection)
        .await
        .unwrap_err();
    match &e {
        ProcessError::UnknownQueue { queue, .. } => assert_eq!(queue, "t_offline.shop.nowhere"),
        other => panic!("{other:?}"),
    }
    let none = ProcessInfo {
        queue: None,
        ..SAGA_PROCESS
    };
    let e = run_saga_with(none, opts(offline()), topology(), saga_machine())
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::MissingQueue(_)), "{e:?}");
}

#[tokio::test]
async fn a_bad_log_filter_is_a_configuration_error() {
    let mut cfg = offline();
    cfg.rust_log = "runtime=loud".into();
    let e = run_command_api_with(COMMAND_API, opts(cfg), topology(), command_routes)
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::Tracing(_)), "{e:?}");
    assert!(error_report(&e).contains("runtime=loud"));
}

#[tokio::test]
async fn an_unreachable_broker_fails_after_the_startup_timeout_without_leaking_the_password() {
    let started = Instant::now();
    let e = run_command_api_with(COMMAND_API, opts(offline()), topology(), command_routes)
        .await
        .unwrap_err();
    let report = error_report(&e);
    assert!(
        matches!(
            e,
            ProcessError::Amqp {
                what: "connecting",
                ..
            }
        ),
        "{report}"
    );
    assert!(report.contains("127.0.0.1:1"), "{report}");
    assert!(!report.contains("secret"), "{report}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn an_unreachable_database_fails_after_the_startup_timeout() {
    let e = runtime::process::run_command_handler_with(
        COMMAND_HANDLER,
        opts(offline()),
        topology(),
        handlers,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ProcessError::Postgres { .. }), "{e:?}");
    assert!(error_report(&e).contains("127.0.0.1:1"));
}

#[tokio::test]
async fn an_unreachable_mongodb_fails_after_the_startup_timeout() {
    let mut cfg = offline();
    // Without a short server selection timeout the driver would wait 30 s per attempt.
    cfg.mongodb_url = "mongodb://127.0.0.1:1".into();
    let started = Instant::now();
    let e = run_event_handler_with(EVENT_HANDLER, opts(cfg), topology(), ShopProjection)
        .await
        .unwrap_err();
    let report = error_report(&e);
    assert!(matches!(e, ProcessError::Mongo { .. }), "{report}");
    assert!(report.contains("no answer to ping within 1s"), "{report}");
    assert!(started.elapsed() < Duration::from_secs(10), "{report}");
}

#[tokio::test]
async fn a_shutdown_while_waiting_for_the_servers_is_a_clean_exit() {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let options = RunOptions::new(offline())
        .startup_timeout(Duration::from_secs(120))
        .with_shutdown(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        });
    let run = tokio::spawn(run_saga_with(
        SAGA_PROCESS,
        options,
        topology(),
        saga_machine(),
    ));
    stop_tx.send(true).unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the runner stops")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn an_address_in_use_is_a_bind_error_naming_it() {
    support::ensure_services();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let prefix = support::unique_prefix("process_bind");
    let mut cfg = config(&prefix, &support::database_url());
    cfg.http_addr = addr;
    let e = run_query_api_with(QUERY_API, opts(cfg), ROUTES, vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::Bind { .. }), "{e:?}");
    assert!(error_report(&e).contains(&addr.to_string()));
    drop(taken);
    let db = runtime::mongo::connect(&support::mongo_url(), &prefix)
        .await
        .unwrap();
    let _ = db.drop().await;
}
