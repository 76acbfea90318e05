//! JWT authentication (jsonwebtoken 11, `rust_crypto` backend) and role authorization.
//!
//! Tokens come as `Authorization: Bearer <jwt>`. Keys: an HS256 secret, an RS256 public key
//! (PEM), or a JWKS document (RS256 keys picked by the token's `kid`). Checks: signature,
//! `exp` (required), `nbf`, and `iss`/`aud` when configured. Claims map to a [`Principal`]:
//! `sub` → `user_id`, `tenant` → `tenant_id` (required), `roles` (array of strings, optional).

use crate::http::problem::Problem;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The token's subject (`sub`).
    pub user_id: String,
    /// The token's `tenant` claim.
    pub tenant_id: String,
    /// The token's `roles` claim.
    pub roles: Vec<String>,
}

impl Principal {
    /// Whether the principal has one of `roles`; an empty `roles` allows everybody.
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        roles.is_empty()
            || roles
                .iter()
                .any(|r| self.roles.iter().any(|have| have == r))
    }
}

/// The claims this crate reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Subject: the user id.
    pub sub: String,
    /// Tenant of the user.
    pub tenant: String,
    /// Roles of the user.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at (seconds since the epoch).
    #[serde(default)]
    pub iat: u64,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl TokenClaims {
    /// Claims for `sub` in `tenant` with `roles`, valid for `ttl` from now.
    pub fn new(sub: &str, tenant: &str, roles: &[&str], ttl: Duration) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        TokenClaims {
            sub: sub.to_owned(),
            tenant: tenant.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            exp: now + ttl.as_secs(),
            iat: now,
            iss: None,
            aud: None,
        }
    }
}

/// Why a request was not authenticated or not authorized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    MissingToken,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token's issuer is not the configured one.
    #[error("token issuer not accepted")]
    WrongIssuer,
    /// The token's audience is not the configured one.
    #[error("token audience not accepted")]
    WrongAudience,
    /// The signature does not verify with the configured key.
    #[error("invalid token signature")]
    BadSignature,
    /// No configured key has the token's `kid`.
    #[error("unknown signing key `{0}`")]
    UnknownKey(String),
    /// Malformed token, wrong algorithm or missing/invalid claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Authenticated, but none of the allowed roles.
    #[error("requires one of the roles: {0}")]
    Forbidden(String),
}

impl AuthError {
    /// The matching problem: 403 for [`AuthError::Forbidden`], 401 otherwise.
    pub fn to_problem(&self) -> Problem {
        match self {
            AuthError::Forbidden(_) => Problem::forbidden(self.to_string()),
            _ => Problem::unauthorized(self.to_string()),
        }
    }
}

/// The token could not be issued or the key material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A key file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key material is invalid.
    #[error("invalid key material: {0}")]
    Key(String),
}

enum Keys {
    Hmac(DecodingKey),
    Rsa(DecodingKey),
    Jwks(HashMap<String, DecodingKey>),
}

/// Validates bearer tokens into [`Principal`]s.
///
/// ```
/// use runtime::http::auth::{JwtAuth, issue_dev_token};
/// use std::time::Duration;
///
/// let auth = JwtAuth::hs256(b"dev-secret");
/// let token = issue_dev_token(b"dev-secret", "alice", "acme", &["clerk"], Duration::from_secs(60)).unwrap();
/// let principal = auth.verify(&token).unwrap();
/// assert_eq!((principal.user_id.as_str(), principal.tenant_id.as_str()), ("alice", "acme"));
/// assert!(JwtAuth::hs256(b"other").verify(&token).is_err());
/// ```
pub struct JwtAuth {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

impl JwtAuth {
    fn with_keys(keys: Keys) -> Self {
        JwtAuth {
            keys,
            issuer: None,
            audience: None,
            leeway: 0,
        }
    }

    /// HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_keys(Keys::Hmac(DecodingKey::from_secret(secret)))
    }

    /// RS256 tokens verified with a PEM public key (`-----BEGIN PUBLIC KEY-----` or
    /// `-----BEGIN RSA PUBLIC KEY-----`).
    pub fn rs256_pem(pem: &[u8]) -> Result<Self, AuthConfigError> {
        let key =
            DecodingKey::from_rsa_pem(pem).map_err(|e| AuthConfigError::Key(e.to_string()))?;
        Ok(Self::with_keys(Keys::Rsa(key)))
    }

    /// [`JwtAuth::rs256_pem`] from a file.
    pub fn rs256_pem_file(path: impl AsRef<Path>) -> Result<Self, AuthConfigError> {
        Self::rs256_pem(&read(path.as_ref())?)
    }

    /// RS256 tokens verified with the key of a JWKS document whose `kid` is the token's.
    /// Keys without `kid` or of other types are skipped.
    pub fn rs256_jwks(jwks_json: &str) -> Result<Self, AuthConfigError> {
        let set: JwkSet =
            serde_json::from_str(jwks_json).map_err(|e| AuthConfigError::Key(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if !matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
            ) {
                continue;
            }
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| AuthConfigError::Key(format!("{kid}: {e}")))?;
            keys.insert(kid, key);
        }
        if keys.is_empty() {
            return Err(AuthConfigError::Key(
                "the JWKS holds no RSA key with a `kid`".into(),
            ));
        }
        Ok(Self::with_keys(Keys::Jwks(keys)))
    }

    /// [`JwtAuth::rs256_jwks`] from a file.
    pub fn rs256_jwks_file(path: impl AsRef<Path>) -> Result<Self, AuthConfigError> {
        let bytes = read(path.as_ref())?;
        Self::rs256_jwks(&String::from_utf8_lossy(&bytes))
    }

    /// Requires `iss` to be `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to contain `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`/`nbf` (default 0).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// Validates `token` and returns its principal.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let (key, alg) = match &self.keys {
            Keys::Hmac(k) => (k, Algorithm::HS256),
            Keys::Rsa(k) => (k, Algorithm::RS256),
            Keys::Jwks(keys) => {
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|e| AuthError::Invalid(e.to_string()))?;
                let kid = header
                    .kid
                    .ok_or_else(|| AuthError::Invalid("token has no `kid`".into()))?;
                let key = keys.get(&kid).ok_or(AuthError::UnknownKey(kid))?;
                (key, Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        // A token that is not valid yet (`nbf` in the future) is refused, like an expired one.
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data =
            jsonwebtoken::decode::<TokenClaims>(token, key, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                    ErrorKind::InvalidAudience => AuthError::WrongAudience,
                    ErrorKind::InvalidSignature => AuthError::BadSignature,
                    _ => AuthError::Invalid(e.to_string()),
                }
            })?;
        let claims = data.claims;
        if claims.tenant.is_empty() || claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty `sub` or `tenant` claim".into()));
        }
        Ok(Principal {
            user_id: claims.sub,
            tenant_id: claims.tenant,
            roles: claims.roles,
        })
    }

    /// Reads the bearer token of `headers` and validates it.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let value = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::MissingToken)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingToken)?;
        self.verify(token)
    }

    /// [`JwtAuth::authenticate`], then requires one of `roles` (empty: any role).
    pub fn authorize(&self, headers: &HeaderMap, roles: &[&str]) -> Result<Principal, AuthError> {
        let principal = self.authenticate(headers)?;
        if principal.has_any_role(roles) {
            Ok(principal)
        } else {
            Err(AuthError::Forbidden(roles.join(", ")))
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    std::fs::read(path).map_err(|source| AuthConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Signs `claims` with `key` (`alg` must match the key; `kid` goes into the header).
pub fn issue_token(
    claims: &TokenClaims,
    key: &EncodingKey,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<String, AuthConfigError> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).map_err(|e| AuthConfigError::Key(e.to_string()))
}

/// A development HS256 token for `sub` in `tenant` with `roles`, valid for `ttl` (no `iss`,
/// no `aud`). For tests and local tooling only.
pub fn issue_dev_token(
    secret: &[u8],
    sub: &str,
    tenant: &str,
    roles: &[&str],
    ttl: Duration,
) -> Result<String, AuthConfigError> {
    issue_token(
        &TokenClaims::new(sub, tenant, roles, ttl),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
        None,
    )
}
