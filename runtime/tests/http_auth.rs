//! JWT accept/reject cases: HS256, RS256 from a PEM key and from a JWKS (by `kid`), expiry,
//! issuer, audience, signature, missing token and roles.
#![cfg(feature = "auth")]

mod http_support;

use axum::http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey};
use runtime::http::auth::*;
use std::path::PathBuf;
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn rsa_key(which: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&std::fs::read(fixture(&format!("jwt_rsa_{which}.key.pem"))).unwrap())
        .unwrap()
}

fn claims() -> TokenClaims {
    TokenClaims::new(
        "alice",
        "acme",
        &["clerk", "auditor"],
        Duration::from_secs(300),
    )
}

fn hs(claims: &TokenClaims, secret: &[u8]) -> String {
    issue_token(
        claims,
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
        None,
    )
    .unwrap()
}

#[test]
fn hs256_token_yields_the_principal() {
    let auth = JwtAuth::hs256(b"s3cret");
    let p = auth.verify(&hs(&claims(), b"s3cret")).unwrap();
    assert_eq!(
        p,
        Principal {
            user_id: "alice".into(),
            tenant_id: "acme".into(),
            roles: vec!["clerk".into(), "auditor".into()],
        }
    );
    let dev = issue_dev_token(b"s3cret", "bob", "globex", &[], Duration::from_secs(60)).unwrap();
    let p = auth.verify(&dev).unwrap();
    assert_eq!(
        (p.user_id.as_str(), p.tenant_id.as_str(), p.roles.len()),
        ("bob", "globex", 0)
    );
}

#[test]
fn hs256_with_another_secret_is_a_bad_signature() {
    let auth = JwtAuth::hs256(b"s3cret");
    assert_eq!(
        auth.verify(&hs(&claims(), b"other")),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn rs256_from_a_pem_file() {
    let auth = JwtAuth::rs256_pem_file(fixture("jwt_rsa_a.pub.pem")).unwrap();
    let token = issue_token(&claims(), &rsa_key("a"), Algorithm::RS256, None).unwrap();
    assert_eq!(auth.verify(&token).unwrap().user_id, "alice");
    // Signed by another RSA key: rejected.
    let forged = issue_token(&claims(), &rsa_key("b"), Algorithm::RS256, None).unwrap();
    assert_eq!(auth.verify(&forged), Err(AuthError::BadSignature));
    // An HS256 token signed with the public key as secret (algorithm confusion): rejected.
    let confused = hs(
        &claims(),
        &std::fs::read(fixture("jwt_rsa_a.pub.pem")).unwrap(),
    );
    assert!(matches!(auth.verify(&confused), Err(AuthError::Invalid(_))));
}

#[test]
fn rs256_from_a_jwks_picks_the_key_by_kid() {
    let auth = JwtAuth::rs256_jwks_file(fixture("jwt_jwks.json")).unwrap();
    for which in ["a", "b"] {
        let kid = format!("test-key-{which}");
        let token = issue_token(&claims(), &rsa_key(which), Algorithm::RS256, Some(&kid)).unwrap();
        assert_eq!(auth.verify(&token).unwrap().tenant_id, "acme", "kid {kid}");
    }
    // Key b's signature announced as key a: bad signature.
    let mislabelled = issue_token(
        &claims(),
        &rsa_key("b"),
        Algorithm::RS256,
        Some("test-key-a"),
    )
    .unwrap();
    assert_eq!(auth.verify(&mislabelled), Err(AuthError::BadSignature));
    let unknown = issue_token(&claims(), &rsa_key("a"), Algorithm::RS256, Some("nope")).unwrap();
    assert_eq!(
        auth.verify(&unknown),
        Err(AuthError::UnknownKey("nope".into()))
    );
    let no_kid = issue_token(&claims(), &rsa_key("a"), Algorithm::RS256, None).unwrap();
    assert!(matches!(auth.verify(&no_kid), Err(AuthError::Invalid(_))));
}

#[test]
fn expired_tokens_are_rejected() {
    let auth = JwtAuth::hs256(b"s3cret");
    let mut c = claims();
    c.exp = jsonwebtoken::get_current_timestamp() - 120;
    assert_eq!(auth.verify(&hs(&c, b"s3cret")), Err(AuthError::Expired));
    // Within the configured leeway it is still accepted.
    let lenient = JwtAuth::hs256(b"s3cret").with_leeway(Duration::from_secs(600));
    assert!(lenient.verify(&hs(&c, b"s3cret")).is_ok());
}

#[test]
fn tokens_not_valid_yet_and_unsigned_tokens_are_rejected() {
    let auth = JwtAuth::hs256(b"s3cret");
    let c = claims();
    let mut claims = serde_json::to_value(&c).unwrap();
    claims["nbf"] = serde_json::json!(jsonwebtoken::get_current_timestamp() + 600);
    let early = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    assert!(
        matches!(auth.verify(&early), Err(AuthError::Invalid(_))),
        "nbf in the future: {:?}",
        auth.verify(&early)
    );
    // `alg: none` with the claims of a valid token and no signature.
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&serde_json::json!({ "alg": "none", "typ": "JWT" })),
        b64(&serde_json::to_value(&c).unwrap())
    );
    assert!(auth.verify(&unsigned).is_err(), "alg none accepted");
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let auth = JwtAuth::hs256(b"s3cret")
        .with_issuer("https://id.example")
        .with_audience("orders-api");
    let mut good = claims();
    good.iss = Some("https://id.example".into());
    good.aud = Some("orders-api".into());
    assert!(auth.verify(&hs(&good, b"s3cret")).is_ok());

    let mut wrong_iss = good.clone();
    wrong_iss.iss = Some("https://evil.example".into());
    assert_eq!(
        auth.verify(&hs(&wrong_iss, b"s3cret")),
        Err(AuthError::WrongIssuer)
    );

    let mut wrong_aud = good.clone();
    wrong_aud.aud = Some("billing-api".into());
    assert_eq!(
        auth.verify(&hs(&wrong_aud, b"s3cret")),
        Err(AuthError::WrongAudience)
    );

    let mut no_iss = good.clone();
    no_iss.iss = None;
    assert!(matches!(
        auth.verify(&hs(&no_iss, b"s3cret")),
        Err(AuthError::Invalid(_))
    ));
}

#[test]
fn missing_or_malformed_headers_and_roles() {
    let auth = JwtAuth::hs256(b"s3cret");
    let mut headers = HeaderMap::new();
    assert_eq!(auth.authenticate(&headers), Err(AuthError::MissingToken));
    headers.insert(
        "authorization",
        HeaderValue::from_static("Basic dXNlcjpwdw=="),
    );
    assert_eq!(auth.authenticate(&headers), Err(AuthError::MissingToken));
    headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer not.a.jwt"),
    );
    assert!(matches!(
        auth.authenticate(&headers),
        Err(AuthError::Invalid(_))
    ));

    let token = hs(&claims(), b"s3cret");
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    assert!(auth.authorize(&headers, &["auditor"]).is_ok());
    assert!(auth.authorize(&headers, &[]).is_ok());
    let denied = auth.authorize(&headers, &["admin"]).unwrap_err();
    assert!(matches!(denied, AuthError::Forbidden(_)));
    assert_eq!(denied.to_problem().status, 403);
    assert_eq!(AuthError::Expired.to_problem().status, 401);
}

#[test]
fn a_token_without_tenant_is_invalid() {
    #[derive(serde::Serialize)]
    struct NoTenant {
        sub: String,
        exp: u64,
    }
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &NoTenant {
            sub: "alice".into(),
            exp: jsonwebtoken::get_current_timestamp() + 60,
        },
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    assert!(matches!(
        JwtAuth::hs256(b"s3cret").verify(&token),
        Err(AuthError::Invalid(_))
    ));
}
