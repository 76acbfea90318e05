//! The wire codec: [`RawEnvelope`] ⇄ AMQP body + properties + headers.

use crate::envelope::{Metadata, RawEnvelope};
use chrono::{DateTime, TimeZone, Utc};
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use uuid::Uuid;

/// Header names used on the wire.
pub mod headers {
    /// Id of the message that caused this one.
    pub const CAUSATION_ID: &str = "x-causation-id";
    /// User who started the flow.
    pub const USER_ID: &str = "x-user-id";
    /// Tenant of the message.
    pub const TENANT_ID: &str = "x-tenant-id";
    /// Aggregate id.
    pub const AGGREGATE_ID: &str = "x-aggregate-id";
    /// Aggregate version after the event.
    pub const AGGREGATE_VERSION: &str = "x-aggregate-version";
    /// Schema version of the payload.
    pub const SCHEMA_VERSION: &str = "x-schema-version";
    /// Creation time with full precision, RFC 3339 (the `timestamp` property has seconds only).
    pub const CREATED_AT: &str = "x-created-at";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
    /// Ids of the commands a command makes void, comma-separated.
    pub const VOIDS: &str = "x-voids";
    /// Handling attempt of this delivery, 1-based (set by the consumer's delayed retry).
    pub const ATTEMPT: &str = "x-attempt";
    /// How often the consumer deferred this message (waiting, not failing).
    pub const DEFERRALS: &str = "x-deferrals";
    /// Why the consumer dead-lettered the message.
    pub const DEAD_LETTER_REASON: &str = "x-dead-letter-reason";
    /// Queue the message was dead-lettered from.
    pub const DEAD_LETTER_QUEUE: &str = "x-dead-letter-from";
}

/// A message on the wire that is not a valid envelope (a poison message) or an envelope that
/// cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A required property or header is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A property or header has a bad value.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The property or header.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The body is not JSON.
    #[error("body is not JSON: {0}")]
    Body(String),
}

fn short(field: &'static str, s: &str) -> Result<ShortString, WireError> {
    ShortString::try_new(s).map_err(|_| WireError::Invalid {
        field,
        message: "longer than 255 bytes".into(),
    })
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Encodes an envelope: the JSON body and the properties (persistent, `application/json`,
/// metadata as properties and headers). `app_id` is the service name when tracing was
/// initialised with one.
pub fn to_amqp(envelope: &RawEnvelope) -> Result<(Vec<u8>, BasicProperties), WireError> {
    let m = &envelope.meta;
    let body = serde_json::to_vec(&envelope.payload).map_err(|e| WireError::Body(e.to_string()))?;
    let mut h = FieldTable::default();
    h.insert(headers::TENANT_ID.into(), long(&m.tenant_id));
    h.insert(
        headers::SCHEMA_VERSION.into(),
        AMQPValue::LongLongInt(i64::from(m.schema_version)),
    );
    h.insert(headers::CREATED_AT.into(), long(&m.created_at.to_rfc3339()));
    if let Some(c) = m.causation_id {
        h.insert(headers::CAUSATION_ID.into(), long(&c.to_string()));
    }
    if let Some(u) = &m.user_id {
        h.insert(headers::USER_ID.into(), long(u));
    }
    if let Some(a) = &m.aggregate_id {
        h.insert(headers::AGGREGATE_ID.into(), long(a));
    }
    if let Some(v) = m.aggregate_version {
        h.insert(headers::AGGREGATE_VERSION.into(), AMQPValue::LongLongInt(v));
    }
    if let Some(t) = &m.traceparent {
        h.insert(headers::TRACEPARENT.into(), long(t));
    }
    if !m.voids.is_empty() {
        let ids: Vec<String> = m.voids.iter().map(Uuid::to_string).collect();
        h.insert(headers::VOIDS.into(), long(&ids.join(",")));
    }
    let mut props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(m.message_id.to_string().into())
        .with_type(short("type", &m.message_type)?)
        .with_correlation_id(m.correlation_id.to_string().into())
        .with_timestamp(m.created_at.timestamp().max(0) as u64)
        .with_headers(h);
    let service = crate::observability::service_name();
    if !service.is_empty() {
        props = props.with_app_id(short("app_id", service)?);
    }
    Ok((body, props))
}

/// Decodes a delivery into an envelope; an error means a poison message.
pub fn from_delivery(delivery: &Delivery) -> Result<RawEnvelope, WireError> {
    from_parts(&delivery.properties, &delivery.data)
}

fn header<'a>(props: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(name)
}

/// A header as text (long or short string).
pub fn header_str(props: &BasicProperties, name: &str) -> Option<String> {
    match header(props, name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A header as an integer (any AMQP integer type, or a numeric string).
pub fn header_int(props: &BasicProperties, name: &str) -> Option<i64> {
    match header(props, name)? {
        AMQPValue::ShortShortInt(v) => Some((*v).into()),
        AMQPValue::ShortShortUInt(v) => Some((*v).into()),
        AMQPValue::ShortInt(v) => Some((*v).into()),
        AMQPValue::ShortUInt(v) => Some((*v).into()),
        AMQPValue::LongInt(v) => Some((*v).into()),
        AMQPValue::LongUInt(v) => Some((*v).into()),
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongString(_) | AMQPValue::ShortString(_) => {
            header_str(props, name)?.trim().parse().ok()
        }
        _ => None,
    }
}

fn uuid(field: &'static str, s: &str) -> Result<Uuid, WireError> {
    Uuid::parse_str(s).map_err(|e| WireError::Invalid {
        field,
        message: e.to_string(),
    })
}

/// Decodes properties and body into an envelope; an error means a poison message.
pub fn from_parts(props: &BasicProperties, body: &[u8]) -> Result<RawEnvelope, WireError> {
    let message_id = props
        .message_id()
        .as_ref()
        .ok_or(WireError::Missing("message_id property"))?;
    let message_id = uuid("message_id", message_id.as_str())?;
    let message_type = props
        .kind()
        .as_ref()
        .ok_or(WireError::Missing("type property"))?
        .as_str()
        .to_owned();
    if message_type.is_empty() {
        return Err(WireError::Missing("type property"));
    }
    let correlation_id = props
        .correlation_id()
        .as_ref()
        .ok_or(WireError::Missing("correlation_id property"))?;
    let correlation_id = uuid("correlation_id", correlation_id.as_str())?;
    let tenant_id =
        header_str(props, headers::TENANT_ID).ok_or(WireError::Missing("x-tenant-id header"))?;
    let causation_id = header_str(props, headers::CAUSATION_ID)
        .map(|c| uuid("x-causation-id", &c))
        .transpose()?;
    let schema_version = match header_int(props, headers::SCHEMA_VERSION) {
        None => 1,
        Some(v) => u32::try_from(v).map_err(|_| WireError::Invalid {
            field: "x-schema-version",
            message: format!("{v} is not a schema version"),
        })?,
    };
    let created_at: DateTime<Utc> = match header_str(props, headers::CREATED_AT) {
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map_err(|e| WireError::Invalid {
                field: "x-created-at",
                message: e.to_string(),
            })?
            .with_timezone(&Utc),
        None => match props.timestamp() {
            Some(ts) => Utc
                .timestamp_opt(i64::try_from(*ts).unwrap_or(i64::MAX), 0)
                .single()
                .ok_or(WireError::Invalid {
                    field: "timestamp",
                    message: format!("{ts} is out of range"),
                })?,
            None => return Err(WireError::Missing("timestamp property")),
        },
    };
    let voids = match header_str(props, headers::VOIDS) {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                Uuid::parse_str(s).map_err(|e| WireError::Invalid {
                    field: "x-voids",
                    message: format!("{s:?}: {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let payload: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WireError::Body(e.to_string()))?;
    Ok(RawEnvelope {
        meta: Metadata {
            message_id,
            message_type,
            schema_version,
            correlation_id,
            causation_id,
            user_id: header_str(props, headers::USER_ID),
            tenant_id,
            created_at,
            aggregate_id: header_str(props, headers::AGGREGATE_ID),
            aggregate_version: header_int(props, headers::AGGREGATE_VERSION),
            traceparent: header_str(props, headers::TRACEPARENT),
            voids,
        },
        payload,
    })
}

/// The consumer's attempt counter of a delivery (1 when absent).
pub fn attempt(props: &BasicProperties) -> u32 {
    header_int(props, headers::ATTEMPT)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v >= 1)
        .unwrap_or(1)
}

/// How often the consumer deferred a delivery (0 when absent).
pub fn deferrals(props: &BasicProperties) -> u32 {
    header_int(props, headers::DEFERRALS)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

/// A copy of `props` with header `name` set to `value`.
pub fn with_header(props: &BasicProperties, name: &str, value: AMQPValue) -> BasicProperties {
    let mut h = props.headers().clone().unwrap_or_default();
    h.insert(name.into(), value);
    props.clone().with_headers(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    fn sample() -> RawEnvelope {
        let root = Metadata::new_root("ordering.PlaceOrder", "acme");
        let mut meta = root.caused(Uuid::new_v4(), "ordering.OrderPlaced");
        meta.user_id = Some("user-7".into());
        meta.aggregate_id = Some("order-1".into());
        meta.aggregate_version = Some(3);
        meta.schema_version = 2;
        meta.traceparent = Some(crate::observability::new_traceparent());
        meta.voids = vec![Uuid::new_v4(), Uuid::new_v4()];
        Envelope {
            meta,
            payload: serde_json::json!({ "order_id": "order-1", "lines": [1, 2] }),
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let env = sample();
        let (body, props) = to_amqp(&env).unwrap();
        assert_eq!(
            props.kind().as_ref().unwrap().as_str(),
            "ordering.OrderPlaced"
        );
        assert_eq!(
            props.message_id().as_ref().unwrap().as_str(),
            env.meta.message_id.to_string()
        );
        assert_eq!(*props.delivery_mode(), Some(2));
        assert_eq!(
            header_str(&props, headers::CAUSATION_ID),
            env.meta.causation_id.map(|c| c.to_string())
        );
        assert_eq!(from_parts(&props, &body).unwrap(), env);
    }

    #[test]
    fn a_bad_void_list_is_a_poison_message() {
        let env = sample();
        let (body, props) = to_amqp(&env).unwrap();
        let props = with_header(&props, headers::VOIDS, long("not-a-uuid"));
        assert!(matches!(
            from_parts(&props, &body),
            Err(WireError::Invalid {
                field: "x-voids",
                ..
            })
        ));
    }

    #[test]
    fn optional_fields_stay_none() {
        let env = Envelope {
            meta: Metadata::new_root("a.B", "t"),
            payload: serde_json::json!(null),
        };
        let (body, props) = to_amqp(&env).unwrap();
        assert_eq!(from_parts(&props, &body).unwrap(), env);
    }

    #[test]
    fn poison_messages_are_errors() {
        let env = sample();
        let (body, props) = to_amqp(&env).unwrap();
        assert!(matches!(
            from_parts(&props, b"{not json"),
            Err(WireError::Body(_))
        ));
        let no_id = props.clone().with_message_id("not-a-uuid".into());
        assert!(matches!(
            from_parts(&no_id, &body),
            Err(WireError::Invalid {
                field: "message_id",
                ..
            })
        ));
        assert_eq!(
            from_parts(&BasicProperties::default(), &body),
            Err(WireError::Missing("message_id property"))
        );
        let mut h = props.headers().clone().unwrap();
        let mut stripped = FieldTable::default();
        for (k, v) in h.inner() {
            if k.as_str() != headers::TENANT_ID {
                stripped.insert(k.clone(), v.clone());
            }
        }
        h = stripped;
        assert_eq!(
            from_parts(&props.clone().with_headers(h), &body),
            Err(WireError::Missing("x-tenant-id header"))
        );
        let too_long = Envelope {
            meta: Metadata::new_root("x".repeat(300), "t"),
            payload: serde_json::json!({}),
        };
        assert!(to_amqp(&too_long).is_err());
    }

    #[test]
    fn attempt_header() {
        let (_, props) = to_amqp(&sample()).unwrap();
        assert_eq!(attempt(&props), 1);
        let p = with_header(&props, headers::ATTEMPT, AMQPValue::LongLongInt(3));
        assert_eq!(attempt(&p), 3);
        assert_eq!(header_str(&p, headers::TENANT_ID).as_deref(), Some("acme"));
    }
}
