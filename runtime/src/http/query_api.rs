//! Query API plumbing: list and get routes per read model, over a [`ReadModelStore`].
//!
//! `GET <path>?status=placed&total[gte]=100&sort=-placed_at,id&page=2&page_size=20` lists
//! (`{ total, page, page_size, items }`); `GET <path>/{key}` gets one document (404 problem
//! when absent or hidden by a row filter). The tenant filter always comes from the principal.
//!
//! Query grammar: `field=value` (equality) or `field[op]=value` with `op` one of `eq`, `ne`,
//! `gt`, `gte`, `lt`, `lte`, `in` (`in` takes comma-separated values); only the filters and
//! operators declared by the route are allowed. `sort` is a comma-separated list of declared
//! sort keys, `-` for descending. `page` starts at 1; `page_size` defaults to the route's
//! default and is capped at its maximum. Unknown parameters, undeclared filters/operators/sort
//! keys and unparsable values are a 400 problem naming each of them in `errors`.

use crate::http::auth::{JwtAuth, Principal};
use crate::http::problem::{self, Problem};
use crate::http::validate::FieldViolation;
use crate::read_model::{
    FieldFilter, FilterOp, Query, ReadModelError, ReadModelStore, SortKey, get_path, values_equal,
};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query as QueryParams};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

/// How a filter value in the query string is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Kept as a string.
    String,
    /// A JSON number (integer or decimal).
    Number,
    /// An integer from `min` to `max` (the range of the field's type).
    Integer {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// An RFC 3339 timestamp (compared as stored: the text).
    Timestamp,
    /// A `YYYY-MM-DD` date.
    Date,
    /// A UUID.
    Uuid,
    /// `true` or `false`.
    Bool,
    /// One of these strings (the variants of an enum).
    OneOf(&'static [&'static str]),
}

/// A filterable field of a read model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterField {
    /// Field name (dotted path) as stored and as written in the query string.
    pub field: &'static str,
    /// Type of its values.
    pub kind: ValueKind,
    /// Operators allowed on it.
    pub ops: &'static [FilterOp],
}

/// Which claim of the principal a row filter compares with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimSource {
    /// The subject (`sub`, the user id).
    Subject,
}

/// Row-level security: only documents whose `field` equals the principal's `claim`, unless
/// the principal has one of `except_roles`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowFilter {
    /// Document field holding the owner.
    pub field: &'static str,
    /// Claim compared with it.
    pub claim: ClaimSource,
    /// Roles that see every row of their tenant.
    pub except_roles: &'static [&'static str],
}

/// The routes of one read model (all static data, so the generator can emit a `const`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadModelRoute {
    /// List path (`/orders`); the get route is `<path>/{key}`.
    pub path: &'static str,
    /// Read-model collection.
    pub collection: &'static str,
    /// Roles allowed to read (empty: any authenticated principal).
    pub roles: &'static [&'static str],
    /// Filterable fields.
    pub filters: &'static [FilterField],
    /// Allowed sort keys.
    pub sort_keys: &'static [&'static str],
    /// Sort applied without a `sort` parameter (same syntax, may be empty).
    pub default_sort: &'static str,
    /// Page size without a `page_size` parameter.
    pub default_page_size: u64,
    /// Largest page size (larger requests are capped).
    pub max_page_size: u64,
    /// Row-level security.
    pub row_filter: Option<RowFilter>,
}

/// Builds the Query API router.
///
/// ```
/// use runtime::http::auth::JwtAuth;
/// use runtime::http::query_api::*;
/// use runtime::memory::read_model::MemoryReadModelStore;
/// use runtime::read_model::FilterOp;
/// use std::sync::Arc;
///
/// const ORDERS: ReadModelRoute = ReadModelRoute {
///     path: "/orders",
///     collection: "orders",
///     roles: &["clerk", "customer"],
///     filters: &[FilterField { field: "status", kind: ValueKind::String, ops: &[FilterOp::Eq, FilterOp::In] }],
///     sort_keys: &["placed_at"],
///     default_sort: "-placed_at",
///     default_page_size: 20,
///     max_page_size: 100,
///     row_filter: Some(RowFilter { field: "customer_id", claim: ClaimSource::Subject, except_roles: &["clerk"] }),
/// };
/// let router: axum::Router = QueryApi::new(Arc::new(MemoryReadModelStore::new()), Arc::new(JwtAuth::hs256(b"s")))
///     .read_model(ORDERS)
///     .router();
/// ```
pub struct QueryApi {
    store: Arc<dyn ReadModelStore>,
    auth: Arc<JwtAuth>,
    router: Router,
}

impl QueryApi {
    /// A Query API reading `store`, authenticating with `auth`.
    pub fn new(store: Arc<dyn ReadModelStore>, auth: Arc<JwtAuth>) -> Self {
        QueryApi {
            store,
            auth,
            router: Router::new(),
        }
    }

    /// Registers the list and get routes of one read model.
    ///
    /// # Panics
    /// When the route's `default_sort` names an undeclared sort key (a generator bug).
    pub fn read_model(mut self, route: ReadModelRoute) -> Self {
        if let Err(e) = parse_sort(&route, route.default_sort) {
            panic!("read model {}: invalid default_sort: {e:?}", route.path);
        }
        let (store, auth) = (self.store.clone(), self.auth.clone());
        let list =
            move |uri: Uri,
                  headers: HeaderMap,
                  params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>| {
                let (store, auth) = (store.clone(), auth.clone());
                async move {
                    match list(&*store, &auth, &route, &headers, params).await {
                        Ok(r) => r,
                        Err(p) => p.at(uri.path()).into_response(),
                    }
                }
            };
        let (store, auth) = (self.store.clone(), self.auth.clone());
        let one = move |uri: Uri, headers: HeaderMap, Path(key): Path<String>| {
            let (store, auth) = (store.clone(), auth.clone());
            async move {
                match get_one(&*store, &auth, &route, &headers, &key).await {
                    Ok(r) => r,
                    Err(p) => p.at(uri.path()).into_response(),
                }
            }
        };
        let item_path = format!("{}/{{key}}", route.path.trim_end_matches('/'));
        self.router = self
            .router
            .route(route.path, get(list))
            .route(&item_path, get(one));
        self
    }

    /// The router with every registered read model and problem+json fallbacks.
    pub fn router(self) -> Router {
        self.router
            .fallback(problem::not_found_fallback)
            .method_not_allowed_fallback(problem::method_not_allowed_fallback)
    }
}

fn store_problem(e: ReadModelError) -> Problem {
    if e.is_transient() {
        Problem::unavailable(e.to_string())
    } else {
        Problem::internal(e.to_string())
    }
}

fn row_filter_value(
    route: &ReadModelRoute,
    principal: &Principal,
) -> Option<(&'static str, String)> {
    let rf = route.row_filter?;
    if principal.has_any_role(rf.except_roles) && !rf.except_roles.is_empty() {
        return None;
    }
    let value = match rf.claim {
        ClaimSource::Subject => principal.user_id.clone(),
    };
    Some((rf.field, value))
}

async fn list(
    store: &dyn ReadModelStore,
    auth: &JwtAuth,
    route: &ReadModelRoute,
    headers: &HeaderMap,
    params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let principal = auth
        .authorize(headers, route.roles)
        .map_err(|e| e.to_problem())?;
    let QueryParams(params) = params
        .map_err(|e| Problem::bad_query(vec![FieldViolation::new("/query", e.body_text())]))?;
    let mut query =
        parse_query(route, &params, &principal.tenant_id).map_err(Problem::bad_query)?;
    if let Some((field, value)) = row_filter_value(route, &principal) {
        query.filters.push(FieldFilter {
            field: field.to_owned(),
            op: FilterOp::Eq,
            value: Value::String(value),
        });
    }
    let page_size = query.limit;
    let page = query.offset / page_size.max(1) + 1;
    let result = store
        .query(route.collection, &query)
        .await
        .map_err(store_problem)?;
    Ok(Json(json!({
        "total": result.total,
        "page": page,
        "page_size": page_size,
        "items": result.items,
    }))
    .into_response())
}

async fn get_one(
    store: &dyn ReadModelStore,
    auth: &JwtAuth,
    route: &ReadModelRoute,
    headers: &HeaderMap,
    key: &str,
) -> Result<Response, Problem> {
    let principal = auth
        .authorize(headers, route.roles)
        .map_err(|e| e.to_problem())?;
    let not_found = || Problem::not_found(format!("no document `{key}` in {}", route.path));
    let doc = store
        .get(route.collection, &principal.tenant_id, key)
        .await
        .map_err(store_problem)?
        .ok_or_else(not_found)?;
    if let Some((field, value)) = row_filter_value(route, &principal) {
        let owner = doc.as_object().and_then(|m| get_path(m, field));
        if !owner.is_some_and(|v| values_equal(v, &Value::String(value))) {
            return Err(not_found());
        }
    }
    Ok(Json(doc).into_response())
}

fn violation(param: &str, message: impl Into<String>) -> FieldViolation {
    FieldViolation::new(format!("/query/{param}"), message)
}

/// Parses list parameters into a [`Query`] for `tenant_id` (row filters not included).
pub fn parse_query(
    route: &ReadModelRoute,
    params: &[(String, String)],
    tenant_id: &str,
) -> Result<Query, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let mut query = Query::all(
        tenant_id,
        route.default_page_size.clamp(1, route.max_page_size.max(1)),
    );
    let mut page: u64 = 1;
    let mut sort = None;
    for (name, raw) in params {
        match name.as_str() {
            "page" => match raw.parse::<u64>() {
                Ok(p) if (1..=crate::read_model::MAX_PAGE).contains(&p) => page = p,
                _ => errors.push(violation(
                    name,
                    format!(
                        "must be an integer from 1 to {}",
                        crate::read_model::MAX_PAGE
                    ),
                )),
            },
            "page_size" => match raw.parse::<u64>() {
                Ok(s) if s >= 1 => query.limit = s.min(route.max_page_size.max(1)),
                // Past u64 and still a positive integer: capped like any large size.
                Err(_)
                    if !raw.is_empty()
                        && raw.bytes().all(|b| b.is_ascii_digit())
                        && raw.bytes().any(|b| b != b'0') =>
                {
                    query.limit = route.max_page_size.max(1)
                }
                _ => errors.push(violation(name, "must be an integer >= 1")),
            },
            "sort" => sort = Some(raw.as_str()),
            _ => match parse_filter(route, name, raw) {
                Ok(f) => query.filters.push(f),
                Err(e) => errors.push(e),
            },
        }
    }
    match parse_sort(route, sort.unwrap_or(route.default_sort)) {
        Ok(keys) => query.sort = keys,
        Err(mut e) => errors.append(&mut e),
    }
    query.offset = (page - 1).saturating_mul(query.limit);
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(errors)
    }
}

fn parse_sort(route: &ReadModelRoute, spec: &str) -> Result<Vec<SortKey>, Vec<FieldViolation>> {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (field, descending) = match part.strip_prefix('-') {
            Some(f) => (f, true),
            None => (part.strip_prefix('+').unwrap_or(part), false),
        };
        if route.sort_keys.contains(&field) {
            keys.push(SortKey {
                field: field.to_owned(),
                descending,
            });
        } else {
            errors.push(violation(
                "sort",
                format!(
                    "cannot sort by `{field}`; allowed: {}",
                    route.sort_keys.join(", ")
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
}

fn parse_filter(
    route: &ReadModelRoute,
    name: &str,
    raw: &str,
) -> Result<FieldFilter, FieldViolation> {
    let (field, op_name) = match name.split_once('[') {
        Some((f, rest)) => match rest.strip_suffix(']') {
            Some(op) => (f, op),
            None => {
                return Err(violation(
                    name,
                    "malformed parameter; use `field[op]=value`",
                ));
            }
        },
        None => (name, "eq"),
    };
    let Some(spec) = route.filters.iter().find(|f| f.field == field) else {
        return Err(violation(name, format!("unknown parameter `{name}`")));
    };
    let op = match op_name {
        "eq" => FilterOp::Eq,
        "ne" => FilterOp::Ne,
        "gt" => FilterOp::Gt,
        "gte" => FilterOp::Gte,
        "lt" => FilterOp::Lt,
        "lte" => FilterOp::Lte,
        "in" => FilterOp::In,
        other => return Err(violation(name, format!("unknown operator `{other}`"))),
    };
    if !spec.ops.contains(&op) {
        return Err(violation(
            name,
            format!("operator `{op_name}` is not allowed on `{field}`"),
        ));
    }
    let value = if op == FilterOp::In {
        let values: Result<Vec<Value>, String> = raw
            .split(',')
            .map(|v| parse_value(spec.kind, v.trim()))
            .collect();
        Value::Array(values.map_err(|e| violation(name, e))?)
    } else {
        parse_value(spec.kind, raw).map_err(|e| violation(name, e))?
    };
    Ok(FieldFilter {
        field: field.to_owned(),
        op,
        value,
    })
}

fn parse_value(kind: ValueKind, raw: &str) -> Result<Value, String> {
    match kind {
        ValueKind::String => Ok(Value::String(raw.to_owned())),
        ValueKind::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{raw}` is not a boolean")),
        },
        ValueKind::Number => {
            if let Ok(i) = raw.parse::<i64>() {
                return Ok(Value::from(i));
            }
            raw.parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .ok_or_else(|| format!("`{raw}` is not a number"))
        }
        ValueKind::Integer { min, max } => raw
            .parse::<i64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .map(Value::from)
            .ok_or_else(|| format!("`{raw}` is not an integer from {min} to {max}")),
        ValueKind::Timestamp => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|_| Value::String(raw.to_owned()))
            .map_err(|_| format!("`{raw}` is not an RFC 3339 timestamp")),
        ValueKind::Date => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(|_| Value::String(raw.to_owned()))
            .map_err(|_| format!("`{raw}` is not a YYYY-MM-DD date")),
        ValueKind::Uuid => uuid::Uuid::parse_str(raw)
            .map(|_| Value::String(raw.to_owned()))
            .map_err(|_| format!("`{raw}` is not a UUID")),
        ValueKind::OneOf(allowed) => {
            if allowed.contains(&raw) {
                Ok(Value::String(raw.to_owned()))
            } else {
                Err(format!("`{raw}` is not one of {}", allowed.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_read_by_the_field_type() {
        let int = ValueKind::Integer {
            min: i64::from(i32::MIN),
            max: i64::from(i32::MAX),
        };
        assert_eq!(parse_value(int, "-7"), Ok(Value::from(-7)));
        assert!(parse_value(int, "2147483648").is_err(), "past i32");
        assert!(parse_value(int, "1.5").is_err());
        assert!(parse_value(int, "9223372036854775808").is_err(), "past i64");
        let kind = ValueKind::OneOf(&["placed", "cancelled"]);
        assert_eq!(parse_value(kind, "placed"), Ok(Value::from("placed")));
        assert!(parse_value(kind, "").is_err());
        assert!(parse_value(ValueKind::Timestamp, "2026-12-04T10:00:00Z").is_ok());
        assert!(parse_value(ValueKind::Timestamp, "yesterday").is_err());
        assert!(parse_value(ValueKind::Date, "2026-02-30").is_err());
        assert!(parse_value(ValueKind::Date, "2026-02-28").is_ok());
        assert!(parse_value(ValueKind::Uuid, "null,null").is_err());
        assert!(parse_value(ValueKind::Bool, "yes").is_err());
    }
}
