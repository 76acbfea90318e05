//! The `dev-token` binary prints a token the APIs accept, and explains bad arguments.
#![cfg(feature = "auth")]

use runtime::http::auth::JwtAuth;
use std::process::Command;

fn dev_token(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dev-token"))
        .args(args)
        .output()
        .expect("run dev-token")
}

#[test]
fn prints_a_token_the_apis_accept() {
    let out = dev_token(&[
        "--secret",
        "s3cret",
        "--sub",
        "alice",
        "--tenant",
        "acme",
        "--roles",
        "customer,admin",
        "--ttl",
        "120",
        "--aud",
        "shop",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let principal = JwtAuth::hs256(b"s3cret")
        .with_audience("shop")
        .verify(token.trim())
        .unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.tenant_id, "acme");
    assert_eq!(principal.roles, ["customer", "admin"]);
    assert!(JwtAuth::hs256(b"other").verify(token.trim()).is_err());
}

#[test]
fn bad_arguments_fail_with_the_usage() {
    for args in [
        &["--sub", "alice", "--tenant", "acme"][..],
        &[
            "--secret", "s", "--sub", "alice", "--tenant", "acme", "--ttl", "soon",
        ][..],
        &[
            "--secret", "s", "--sub", "alice", "--tenant", "acme", "--colour", "red",
        ][..],
        &["--secret"][..],
    ] {
        let out = dev_token(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("usage: dev-token") || err.contains("--ttl"),
            "{args:?}: {err}"
        );
    }
}
