//! The development token helper behind the `dev-token` binary:
//!
//! ```text
//! cargo run -p runtime --features auth --bin dev-token -- \
//!     --secret S --sub alice --tenant acme --roles customer,admin [--ttl 3600] [--iss I] [--aud A]
//! ```
//!
//! prints an HS256 JWT accepted by a Command/Query API configured with `JWT_HS256_SECRET=S`
//! (and `JWT_ISSUER`/`JWT_AUDIENCE` when given). For local development and tests only.

use crate::http::auth::{TokenClaims, issue_token};
use jsonwebtoken::{Algorithm, EncodingKey};
use std::time::Duration;

/// Usage text of the `dev-token` binary.
pub const USAGE: &str = "usage: dev-token --secret <hs256 secret> --sub <user id> --tenant <tenant id> \
[--roles <role,role,...>] [--ttl <seconds, default 3600>] [--iss <issuer>] [--aud <audience>]";

/// Parsed `dev-token` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevTokenArgs {
    /// `--secret`: the HS256 secret (`JWT_HS256_SECRET` of the APIs).
    pub secret: String,
    /// `--sub`: the user id.
    pub sub: String,
    /// `--tenant`: the tenant id.
    pub tenant: String,
    /// `--roles`: comma-separated roles (may be empty).
    pub roles: Vec<String>,
    /// `--ttl`: validity in seconds (default 3600).
    pub ttl: Duration,
    /// `--iss`: issuer claim.
    pub issuer: Option<String>,
    /// `--aud`: audience claim.
    pub audience: Option<String>,
}

impl DevTokenArgs {
    /// Parses the arguments (without the program name); `--flag value` or `--flag=value`.
    ///
    /// ```
    /// use runtime::process::dev_token::DevTokenArgs;
    /// let args = DevTokenArgs::parse(["--secret", "s", "--sub", "alice", "--tenant=acme", "--roles", "customer,admin"]).unwrap();
    /// assert_eq!(args.roles, ["customer", "admin"]);
    /// assert_eq!(args.ttl.as_secs(), 3600);
    /// assert!(DevTokenArgs::parse(["--sub", "alice"]).is_err());
    /// ```
    pub fn parse<I, S>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut args = args.into_iter().map(Into::into);
        let (mut secret, mut sub, mut tenant, mut roles, mut ttl, mut iss, mut aud) =
            (None, None, None, Vec::new(), 3600u64, None, None);
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_owned());
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--secret" => secret = Some(value()?),
                "--sub" => sub = Some(value()?),
                "--tenant" => tenant = Some(value()?),
                "--roles" => {
                    roles = value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "--ttl" => {
                    let v = value()?;
                    ttl = v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("--ttl: expected a positive number of seconds, got {v:?}")
                    })?;
                }
                "--iss" => iss = Some(value()?),
                "--aud" => aud = Some(value()?),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let required = |v: Option<String>, name: &str| {
            v.filter(|s| !s.is_empty())
                .ok_or_else(|| format!("{name} is required\n{USAGE}"))
        };
        Ok(DevTokenArgs {
            secret: required(secret, "--secret")?,
            sub: required(sub, "--sub")?,
            tenant: required(tenant, "--tenant")?,
            roles,
            ttl: Duration::from_secs(ttl),
            issuer: iss,
            audience: aud,
        })
    }

    /// Signs the token.
    ///
    /// ```
    /// use runtime::http::auth::JwtAuth;
    /// use runtime::process::dev_token::DevTokenArgs;
    /// let args = DevTokenArgs::parse(["--secret", "s", "--sub", "alice", "--tenant", "acme", "--iss", "dev"]).unwrap();
    /// let token = args.token().unwrap();
    /// let principal = JwtAuth::hs256(b"s").with_issuer("dev").verify(&token).unwrap();
    /// assert_eq!(principal.tenant_id, "acme");
    /// ```
    pub fn token(&self) -> Result<String, String> {
        let roles: Vec<&str> = self.roles.iter().map(String::as_str).collect();
        let mut claims = TokenClaims::new(&self.sub, &self.tenant, &roles, self.ttl);
        claims.iss = self.issuer.clone();
        claims.aud = self.audience.clone();
        issue_token(
            &claims,
            &EncodingKey::from_secret(self.secret.as_bytes()),
            Algorithm::HS256,
            None,
        )
        .map_err(|e| e.to_string())
    }
}
