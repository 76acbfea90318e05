//! Service configuration from environment variables, with local-development defaults.
//!
//! | variable                    | default                                        | field |
//! |-----------------------------|------------------------------------------------|-------|
//! | `AMQP_URL`                  | `amqp://guest:guest@127.0.0.1:5672/%2f`        | [`ServiceConfig::amqp_url`] |
//! | `DATABASE_URL`              | `postgres://postgres@127.0.0.1:5432/postgres`  | [`ServiceConfig::database_url`] |
//! | `MONGODB_URL`               | `mongodb://127.0.0.1:27017`                    | [`ServiceConfig::mongodb_url`] |
//! | `MONGODB_DATABASE`          | `app`                                          | [`ServiceConfig::mongodb_database`] |
//! | `HTTP_ADDR`                 | `127.0.0.1:0` (a free port; generated processes pass their own default) | [`ServiceConfig::http_addr`] |
//! | `NAME_PREFIX`               | empty (no prefix)                              | [`ServiceConfig::name_prefix`] |
//! | `LOG_FORMAT`                | `text` (`text` or `json`)                      | [`ServiceConfig::log_format`] |
//! | `RUST_LOG`                  | `info`                                         | [`ServiceConfig::rust_log`] |
//! | `PREFETCH`                  | the catalog's `prefetch` of the queue, else 16 (1–65535) | [`ServiceConfig::prefetch`] |
//! | `JWT_HS256_SECRET`, `JWT_RS256_PUBLIC_KEY_FILE`, `JWT_JWKS_FILE`, `JWT_ISSUER`, `JWT_AUDIENCE` | unset | [`ServiceConfig::jwt`] (plain strings; the `http` module validates them) |
//!
//! An empty variable counts as unset. Errors name the variable and the bad value.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Default `AMQP_URL`.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Default `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Default `MONGODB_URL`.
pub const DEFAULT_MONGODB_URL: &str = "mongodb://127.0.0.1:27017";
/// Default `MONGODB_DATABASE`.
pub const DEFAULT_MONGODB_DATABASE: &str = "app";
/// Default `PREFETCH`.
pub const DEFAULT_PREFETCH: u16 = 16;

/// Log output format (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected `text` or `json`".to_owned()),
        }
    }
}

/// JWT settings, as given (validated by the `http` module).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtSettings {
    /// `JWT_HS256_SECRET`: shared secret for HS256 tokens.
    pub hs256_secret: Option<String>,
    /// `JWT_RS256_PUBLIC_KEY_FILE`: PEM file with the RS256 public key.
    pub rs256_public_key_file: Option<String>,
    /// `JWT_JWKS_FILE`: JSON Web Key Set file.
    pub jwks_file: Option<String>,
    /// `JWT_ISSUER`: expected `iss`.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: expected `aud`.
    pub audience: Option<String>,
}

/// Configuration of one process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// RabbitMQ URL (`AMQP_URL`).
    pub amqp_url: String,
    /// PostgreSQL URL (`DATABASE_URL`).
    pub database_url: String,
    /// MongoDB URL (`MONGODB_URL`).
    pub mongodb_url: String,
    /// MongoDB database (`MONGODB_DATABASE`).
    pub mongodb_database: String,
    /// HTTP listen address (`HTTP_ADDR`); port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// Prefix of every broker name (`NAME_PREFIX`), see `Topology::with_prefix`.
    pub name_prefix: String,
    /// Log format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Log filter directives (`RUST_LOG`).
    pub rust_log: String,
    /// Consumer prefetch (`PREFETCH`); `None`: the catalog's `prefetch` of the consumed queue
    /// (carried by the topology), else [`DEFAULT_PREFETCH`].
    pub prefetch: Option<u16>,
    /// JWT settings (`JWT_*`).
    pub jwt: JwtSettings,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            amqp_url: DEFAULT_AMQP_URL.to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            mongodb_url: DEFAULT_MONGODB_URL.to_owned(),
            mongodb_database: DEFAULT_MONGODB_DATABASE.to_owned(),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            name_prefix: String::new(),
            log_format: LogFormat::Text,
            rust_log: "info".to_owned(),
            prefetch: None,
            jwt: JwtSettings::default(),
        }
    }
}

/// A configuration variable with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable name.
    pub variable: &'static str,
    /// The value found.
    pub value: String,
    /// Why it is invalid.
    pub reason: String,
}

impl ServiceConfig {
    /// Reads the configuration from the process environment over [`ServiceConfig::default`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(Self::default())
    }

    /// Reads the configuration from the process environment over the given defaults (a
    /// generated process passes its own `http_addr`, `mongodb_database`, ...).
    pub fn from_env_with(defaults: Self) -> Result<Self, ConfigError> {
        Self::from_lookup(defaults, |name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(ConfigError {
                variable: name,
                value: v.to_string_lossy().into_owned(),
                reason: "not valid UTF-8".to_owned(),
            }),
        })
    }

    /// Reads the configuration through `lookup` (variable name → value) over `defaults`;
    /// what [`from_env`](Self::from_env) uses, and what tests use without touching the
    /// process environment.
    ///
    /// ```
    /// use runtime::config::{LogFormat, ServiceConfig};
    /// let env = [("LOG_FORMAT", "json"), ("PREFETCH", "4"), ("HTTP_ADDR", "0.0.0.0:8080")];
    /// let cfg = ServiceConfig::from_lookup(ServiceConfig::default(), |name| {
    ///     Ok(env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    /// })
    /// .unwrap();
    /// assert_eq!(cfg.log_format, LogFormat::Json);
    /// assert_eq!(cfg.prefetch, Some(4));
    /// assert_eq!(cfg.http_addr.port(), 8080);
    /// assert_eq!(cfg.amqp_url, runtime::config::DEFAULT_AMQP_URL);
    /// ```
    pub fn from_lookup<F>(defaults: Self, mut lookup: F) -> Result<Self, ConfigError>
    where
        F: FnMut(&'static str) -> Result<Option<String>, ConfigError>,
    {
        let mut get = |name: &'static str| -> Result<Option<String>, ConfigError> {
            Ok(lookup(name)?.filter(|v| !v.trim().is_empty()))
        };
        let bad = |variable: &'static str, value: &str, reason: &str| ConfigError {
            variable,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let url = |variable: &'static str, value: String, schemes: &[&str]| {
            let ok = schemes.iter().any(|s| {
                value
                    .strip_prefix(s)
                    .and_then(|rest| rest.strip_prefix("://"))
                    .is_some_and(|rest| !rest.is_empty())
            });
            if ok {
                Ok(value)
            } else {
                Err(bad(
                    variable,
                    &value,
                    &format!(
                        "expected a URL starting with {}",
                        schemes.join("://, ") + "://"
                    ),
                ))
            }
        };

        let mut cfg = defaults;
        if let Some(v) = get("AMQP_URL")? {
            cfg.amqp_url = url("AMQP_URL", v, &["amqp", "amqps"])?;
        }
        if let Some(v) = get("DATABASE_URL")? {
            cfg.database_url = url("DATABASE_URL", v, &["postgres", "postgresql"])?;
        }
        if let Some(v) = get("MONGODB_URL")? {
            cfg.mongodb_url = url("MONGODB_URL", v, &["mongodb", "mongodb+srv"])?;
        }
        if let Some(v) = get("MONGODB_DATABASE")? {
            if v.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
                return Err(bad(
                    "MONGODB_DATABASE",
                    &v,
                    "a database name cannot contain / \\ . space \" $",
                ));
            }
            cfg.mongodb_database = v;
        }
        if let Some(v) = get("HTTP_ADDR")? {
            cfg.http_addr = v.trim().parse().map_err(|e| {
                bad(
                    "HTTP_ADDR",
                    &v,
                    &format!("expected host:port, like 127.0.0.1:8080 ({e})"),
                )
            })?;
        }
        if let Some(v) = get("NAME_PREFIX")? {
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(bad(
                    "NAME_PREFIX",
                    &v,
                    "only ASCII letters, digits, `_`, `-` and `.` are allowed",
                ));
            }
            cfg.name_prefix = v;
        }
        if let Some(v) = get("LOG_FORMAT")? {
            cfg.log_format = v.parse().map_err(|e: String| bad("LOG_FORMAT", &v, &e))?;
        }
        if let Some(v) = get("RUST_LOG")? {
            cfg.rust_log = v;
        }
        if let Some(v) = get("PREFETCH")? {
            cfg.prefetch = match v.trim().parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(bad("PREFETCH", &v, "expected an integer from 1 to 65535")),
            };
        }
        cfg.jwt.hs256_secret = get("JWT_HS256_SECRET")?.or(cfg.jwt.hs256_secret);
        cfg.jwt.rs256_public_key_file =
            get("JWT_RS256_PUBLIC_KEY_FILE")?.or(cfg.jwt.rs256_public_key_file);
        cfg.jwt.jwks_file = get("JWT_JWKS_FILE")?.or(cfg.jwt.jwks_file);
        cfg.jwt.issuer = get("JWT_ISSUER")?.or(cfg.jwt.issuer);
        cfg.jwt.audience = get("JWT_AUDIENCE")?.or(cfg.jwt.audience);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(env: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        ServiceConfig::from_lookup(ServiceConfig::default(), |name| {
            Ok(env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()))
        })
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        let cfg = with(&[("AMQP_URL", ""), ("PREFETCH", "  ")]).unwrap();
        assert_eq!(cfg, ServiceConfig::default());
        assert_eq!(cfg.http_addr.to_string(), "127.0.0.1:0");
    }

    #[test]
    fn reads_every_variable() {
        let cfg = with(&[
            ("AMQP_URL", "amqps://u:p@mq:5671/vh"),
            ("DATABASE_URL", "postgresql://db/x"),
            ("MONGODB_URL", "mongodb+srv://cluster"),
            ("MONGODB_DATABASE", "reads"),
            ("HTTP_ADDR", "[::1]:9000"),
            ("NAME_PREFIX", "t_1"),
            ("LOG_FORMAT", "JSON"),
            ("RUST_LOG", "runtime=debug"),
            ("PREFETCH", "64"),
            ("JWT_HS256_SECRET", "s3cret"),
            ("JWT_ISSUER", "https://issuer"),
            ("JWT_AUDIENCE", "api"),
            ("JWT_JWKS_FILE", "/etc/jwks.json"),
            ("JWT_RS256_PUBLIC_KEY_FILE", "/etc/key.pem"),
        ])
        .unwrap();
        assert_eq!(cfg.amqp_url, "amqps://u:p@mq:5671/vh");
        assert_eq!(cfg.database_url, "postgresql://db/x");
        assert_eq!(cfg.mongodb_url, "mongodb+srv://cluster");
        assert_eq!(cfg.mongodb_database, "reads");
        assert_eq!(cfg.http_addr.port(), 9000);
        assert_eq!(cfg.name_prefix, "t_1");
        assert_eq!(cfg.log_format, LogFormat::Json);
        assert_eq!(cfg.rust_log, "runtime=debug");
        assert_eq!(cfg.prefetch, Some(64));
        assert_eq!(cfg.jwt.hs256_secret.as_deref(), Some("s3cret"));
        assert_eq!(cfg.jwt.issuer.as_deref(), Some("https://issuer"));
        assert_eq!(cfg.jwt.audience.as_deref(), Some("api"));
        assert_eq!(cfg.jwt.jwks_file.as_deref(), Some("/etc/jwks.json"));
        assert_eq!(
            cfg.jwt.rs256_public_key_file.as_deref(),
            Some("/etc/key.pem")
        );
    }

    #[test]
    fn errors_name_variable_and_value() {
        for (var, value) in [
            ("AMQP_URL", "http://mq"),
            ("DATABASE_URL", "mysql://db"),
            ("MONGODB_URL", "mongodb://"),
            ("HTTP_ADDR", "localhost"),
            ("LOG_FORMAT", "xml"),
            ("PREFETCH", "0"),
            ("PREFETCH", "lots"),
            ("NAME_PREFIX", "a b"),
            ("MONGODB_DATABASE", "a.b"),
        ] {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert_eq!(err.value, value);
            let text = err.to_string();
            assert!(text.contains(var) && text.contains(value), "{text}");
        }
    }

    #[test]
    fn defaults_given_by_the_process_are_kept() {
        let defaults = ServiceConfig {
            http_addr: "127.0.0.1:8081".parse().unwrap(),
            mongodb_database: "ordering".into(),
            ..ServiceConfig::default()
        };
        let cfg = ServiceConfig::from_lookup(defaults.clone(), |_| Ok(None)).unwrap();
        assert_eq!(cfg, defaults);
    }
}
