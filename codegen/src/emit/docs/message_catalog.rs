//! `docs/catalog.md`: every command and event with description, fields, types, constraints,
//! an example payload, producer, consumers and the queue or exchange it travels on; then the
//! value types. Rendered from `templates/docs/catalog.md`.

use super::flows::{Kind, MessageDoc};
use super::json_schema::{constraint_summary, example_object, to_pretty};
use super::{Docs, md_cell, md_code_list};
use crate::emit::EmitError;
use crate::model::{Field, Model, Type, ValueKind};
use askama::Template;

/// A field row.
pub struct FieldRow {
    /// Name.
    pub name: String,
    /// Type as written in the catalog.
    pub ty: String,
    /// `yes`, `no`, or `no (default ...)`.
    pub required: String,
    /// Constraints, Markdown-escaped.
    pub constraints: String,
    /// Description, Markdown-escaped.
    pub description: String,
}

/// Field rows of a field list.
pub fn field_rows(fields: &[Field]) -> Vec<FieldRow> {
    fields
        .iter()
        .map(|f| FieldRow {
            name: f.name.clone(),
            ty: md_cell(&f.ty.to_string()),
            required: match (&f.ty, &f.default) {
                (Type::Optional(_), _) => "no".to_owned(),
                (_, Some(d)) => format!("no (default `{}`)", md_cell(&d.to_string())),
                _ => "yes".to_owned(),
            },
            constraints: md_cell(&constraint_summary(&f.constraints).join("; ")),
            description: {
                let text = md_cell(f.description.as_deref().unwrap_or(""));
                match &f.deprecated {
                    Some(d) => format!(
                        "**Deprecated**{}. {text}",
                        d.note
                            .as_deref()
                            .map(|n| format!(": {}", md_cell(n)))
                            .unwrap_or_default()
                    )
                    .trim_end()
                    .to_owned(),
                    None => text,
                }
            },
        })
        .collect()
}

/// A message section.
pub struct MessageView {
    /// `ordering.PlaceOrder`.
    pub id: String,
    /// `command` or `event`.
    pub kind: &'static str,
    /// Markdown anchor.
    pub anchor: String,
    /// Description.
    pub description: String,
    /// Facts as (label, Markdown value) rows.
    pub facts: Vec<(String, String)>,
    /// Fields.
    pub fields: Vec<FieldRow>,
    /// Pretty JSON example payload.
    pub example: String,
}

/// A value type section.
pub struct TypeView {
    /// `ordering.Address`.
    pub id: String,
    /// Description.
    pub description: String,
    /// Record fields (empty for enums).
    pub fields: Vec<FieldRow>,
    /// Enum variants (empty for records).
    pub variants: Vec<String>,
}

/// A context section.
pub struct ContextView {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Commands then events.
    pub messages: Vec<MessageView>,
    /// Value types.
    pub types: Vec<TypeView>,
}

#[derive(Template)]
#[template(path = "docs/catalog.md")]
struct CatalogTemplate<'a> {
    contexts: &'a [ContextView],
    index: Vec<(String, &'static str, String, String)>,
}

/// The facts of one message, as (label, Markdown) rows.
pub fn facts(model: &Model, m: &MessageDoc<'_>) -> Vec<(String, String)> {
    let mut f = Vec::new();
    f.push(("AMQP `type`".into(), format!("`{}`", m.type_name())));
    let v = m.versioning();
    if let Some(d) = &v.deprecated {
        let note = d.note.as_deref().map(md_cell).unwrap_or_default();
        f.push((
            "**Deprecated**".into(),
            format!("yes. {note}").trim_end().to_owned(),
        ));
    }
    if v.version != 1 || !v.upcasts.is_empty() {
        f.push((
            "Schema version".into(),
            format!("{} (`x-schema-version`)", v.version),
        ));
    }
    for u in &v.upcasts {
        let mut how: Vec<String> = Vec::new();
        how.extend(
            u.renames
                .iter()
                .map(|(o, n)| format!("`{o}` renamed to `{n}`")),
        );
        how.extend(u.removes.iter().map(|r| format!("`{r}` dropped")));
        how.extend(
            u.sets
                .iter()
                .map(|(k, val)| format!("`{k}` set to `{}`", md_cell(&val.to_string()))),
        );
        if how.is_empty() {
            how.push("no change".into());
        }
        f.push((
            format!("Reading version {}", u.from),
            format!("upcast to {}: {}", u.from + 1, how.join(", ")),
        ));
    }
    if let Some(o) = &v.owner {
        f.push(("Owner".into(), md_cell(o)));
    }
    match m.kind {
        Kind::Command => {
            let c = m.command.expect("a command");
            let mut agg = format!("`{}`", m.aggregate);
            if c.creates {
                agg.push_str(" (creates it)");
            }
            f.push(("Aggregate".into(), agg));
            if let Some(r) = &c.route {
                let roles = if c.roles.is_empty() {
                    "any authenticated caller".to_owned()
                } else {
                    format!("roles {}", md_code_list(&c.roles))
                };
                f.push((
                    "HTTP".into(),
                    format!("`{} {}` ({roles})", r.method, r.path),
                ));
            } else {
                f.push(("HTTP".into(), "none (internal: sent by sagas)".into()));
            }
            if !c.allowed_in.is_empty() {
                f.push(("Allowed in status".into(), md_code_list(&c.allowed_in)));
            }
            let emits: Vec<String> = c.emits.iter().map(|e| e.event.clone()).collect();
            if !emits.is_empty() {
                f.push(("Emits".into(), md_code_list(&emits)));
            }
            for r in &c.rules {
                let how = match &r.check {
                    crate::model::RuleCheck::Expr(e) => format!("`{}`", md_cell(&e.source)),
                    crate::model::RuleCheck::Hook(h) => format!("hook `{h}`"),
                };
                let reject = r
                    .reject
                    .as_ref()
                    .map(|e| format!(", emits `{}`", e.event))
                    .unwrap_or_default();
                f.push((
                    format!("Rule `{}`", r.name),
                    format!("{how} — else rejected: {}{reject}", md_cell(&r.message)),
                ));
            }
            f.push((
                "Travels on".into(),
                format!(
                    "queue `{}` (default exchange, routing key = queue name)",
                    m.carrier
                ),
            ));
        }
        Kind::Event => {
            let e = m.event.expect("an event");
            f.push(("Raised by".into(), format!("aggregate `{}`", m.aggregate)));
            if let Some(s) = &e.status {
                f.push(("New status".into(), format!("`{s}`")));
            }
            if e.is_rejection {
                f.push((
                    "Rejection".into(),
                    "yes: emitted when a command is rejected; changes no state".into(),
                ));
            }
            f.push((
                "Travels on".into(),
                format!("fanout exchange `{}`", m.carrier),
            ));
        }
    }
    f.push(("Producers".into(), or_none(&m.producers)));
    f.push(("Consumers".into(), or_none(&m.consumers)));
    f.push(("JSON Schema".into(), format!("[{0}]({0})", m.schema_path())));
    let _ = model;
    f
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        md_code_list(v)
    }
}

/// The value type views of a context.
pub fn type_views(ctx: &crate::model::Context) -> Vec<TypeView> {
    ctx.types
        .iter()
        .map(|t| TypeView {
            id: format!("{}.{}", ctx.name, t.name),
            description: t.description.clone().unwrap_or_default(),
            fields: match &t.kind {
                ValueKind::Record(fs) => field_rows(fs),
                ValueKind::Enum(_) => Vec::new(),
            },
            variants: match &t.kind {
                ValueKind::Enum(v) => v.clone(),
                ValueKind::Record(_) => Vec::new(),
            },
        })
        .collect()
}

/// The context views (shared with the site).
pub fn context_views(docs: &Docs<'_>) -> Vec<ContextView> {
    let model = docs.model;
    model
        .contexts
        .iter()
        .map(|ctx| ContextView {
            name: ctx.name.clone(),
            description: ctx.description.clone().unwrap_or_default(),
            messages: docs
                .messages
                .iter()
                .filter(|m| m.name.context == ctx.name)
                .map(|m| MessageView {
                    id: m.id(),
                    kind: m.kind.as_str(),
                    anchor: m.anchor(),
                    description: m.description.unwrap_or("").to_owned(),
                    facts: facts(model, m),
                    fields: field_rows(m.fields),
                    example: to_pretty(&example_object(model, m.fields))
                        .trim_end()
                        .to_owned(),
                })
                .collect(),
            types: type_views(ctx),
        })
        .collect()
}

/// Renders `docs/catalog.md`.
pub fn render(docs: &Docs<'_>) -> Result<String, EmitError> {
    let contexts = context_views(docs);
    let index = docs
        .messages
        .iter()
        .map(|m| {
            (
                m.id(),
                m.kind.as_str(),
                m.anchor(),
                md_cell(m.description.unwrap_or("")),
            )
        })
        .collect();
    CatalogTemplate {
        contexts: &contexts,
        index,
    }
    .render()
    .map_err(|e| EmitError(format!("docs/catalog.md: {e}")))
}
