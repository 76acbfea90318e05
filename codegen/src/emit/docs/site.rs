//! `docs/site/**`: a static HTML site that works offline (no CDN, no fetch): index, one page
//! per context, message and saga, the topology, client-side search, and every diagram as an
//! SVG file under `site/diagrams/`.
//!
//! Pages come from askama templates (`templates/docs/site/*.html`, HTML-escaped); the search
//! index is `site/search-index.json`, also wrapped as `site/search-index.js`
//! (`window.SEARCH_INDEX = ...`) because browsers refuse `fetch` on `file://` pages; the
//! script and style sheet are copied from `templates/docs/site/assets/`. Diagrams are laid
//! out by the pure-Rust `layout-rs` crate (see [`super::diagram`]).

use super::diagram::xml_attr;
use super::flows::Kind;
use super::json_schema::{constraint_summary, example_object, to_pretty};
use super::message_catalog::facts;
use super::process_map::{context_diagram, process_rows, saga_rows, system_diagram};
use super::saga_diagram::{state_diagram, state_rows, transition_rows};
use super::topology_doc::{arguments_text, queue_role};
use super::{Docs, saga_slug};
use crate::emit::{EmitError, Output};
use crate::model::{Field, Type, ValueKind};
use askama::Template;
use heck::ToKebabCase;
use serde_json::{Value, json};

const STYLE: &str = include_str!("../../../../templates/docs/site/assets/style.css");
const SEARCH_JS: &str = include_str!("../../../../templates/docs/site/assets/search.js");

/// Converts the inline Markdown the document generators use (`` `code` ``, `<br>`, `\|`) to
/// HTML, escaping everything else.
pub fn inline_html(md: &str) -> String {
    let text = md.replace("\\|", "|");
    let mut out = String::new();
    for (i, part) in text.split("<br>").enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        for (j, seg) in part.split('`').enumerate() {
            if j % 2 == 1 {
                out.push_str("<code>");
                out.push_str(&xml_attr(seg));
                out.push_str("</code>");
            } else {
                out.push_str(&xml_attr(seg));
            }
        }
    }
    out
}

/// A field row of a page.
pub struct FieldHtml {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: String,
    /// Whether required.
    pub required: bool,
    /// Constraints.
    pub constraints: String,
    /// Description.
    pub description: String,
}

fn fields_html(fields: &[Field]) -> Vec<FieldHtml> {
    fields
        .iter()
        .map(|f| FieldHtml {
            name: f.name.clone(),
            ty: f.ty.to_string(),
            required: !matches!(f.ty, Type::Optional(_)),
            constraints: constraint_summary(&f.constraints).join("; "),
            description: f.description.clone().unwrap_or_default(),
        })
        .collect()
}

/// A link.
pub struct Link {
    /// Target, relative to the page.
    pub href: String,
    /// Text.
    pub text: String,
    /// Short note.
    pub note: String,
}

/// A diagram embedded in a page.
pub struct DiagramRef {
    /// SVG file, relative to the page.
    pub src: String,
    /// Alternative text.
    pub alt: String,
}

#[derive(Template)]
#[template(path = "docs/site/index.html")]
struct IndexPage {
    root: &'static str,
    title: String,
    contexts: Vec<Link>,
    sagas: Vec<Link>,
    diagram: DiagramRef,
}

/// A table of a page: header and rows of inline HTML cells.
pub struct Table {
    /// Column titles.
    pub head: Vec<String>,
    /// Rows of HTML cells (already escaped).
    pub rows: Vec<Vec<String>>,
}

/// A read model section.
pub struct ReadModelHtml {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Key field.
    pub key: String,
    /// Query route.
    pub route: String,
    /// Fields.
    pub fields: Vec<FieldHtml>,
    /// Events that build it.
    pub sources: Vec<Link>,
}

/// A value type section.
pub struct TypeHtml {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Record fields.
    pub fields: Vec<FieldHtml>,
    /// Enum variants.
    pub variants: Vec<String>,
}

#[derive(Template)]
#[template(path = "docs/site/context.html")]
struct ContextPage {
    root: &'static str,
    title: String,
    description: String,
    processes: Table,
    diagram: DiagramRef,
    commands: Vec<Link>,
    events: Vec<Link>,
    read_models: Vec<ReadModelHtml>,
    types: Vec<TypeHtml>,
    apis: Vec<Link>,
}

#[derive(Template)]
#[template(path = "docs/site/message.html")]
struct MessagePage {
    root: &'static str,
    title: String,
    kind: &'static str,
    context: Link,
    description: String,
    facts: Vec<(String, String)>,
    fields: Vec<FieldHtml>,
    example: String,
    schema: Link,
}

#[derive(Template)]
#[template(path = "docs/site/saga.html")]
struct SagaPage {
    root: &'static str,
    title: String,
    description: String,
    facts: Vec<(String, String)>,
    diagram: DiagramRef,
    states: Table,
    transitions: Table,
    data: Vec<FieldHtml>,
}

#[derive(Template)]
#[template(path = "docs/site/topology.html")]
struct TopologyPage {
    root: &'static str,
    title: String,
    naming: Table,
    exchanges: Table,
    queues: Table,
    bindings: Table,
}

fn render<T: Template>(path: &str, t: &T) -> Result<String, EmitError> {
    t.render()
        .map_err(|e| EmitError(format!("docs/site/{path}: {e}")))
}

fn message_href(id: &str) -> String {
    format!("messages/{id}.html")
}

fn context_href(name: &str) -> String {
    format!("contexts/{}.html", name.to_kebab_case())
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", xml_attr(s))
}

fn table(head: &[&str], rows: Vec<Vec<String>>) -> Table {
    Table {
        head: head.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    }
}

/// One search entry.
fn entry(title: &str, kind: &str, url: &str, text: &str) -> Value {
    json!({"title": title, "kind": kind, "url": url, "text": text})
}

/// Adds every site file to `out`.
pub fn emit(docs: &Docs<'_>, out: &mut Output) -> Result<(), EmitError> {
    let model = docs.model;
    let mut search: Vec<Value> = Vec::new();
    out.add("docs/site/assets/style.css", STYLE);
    out.add("docs/site/assets/search.js", SEARCH_JS);

    // Diagrams.
    out.add(
        "docs/site/diagrams/system.svg",
        system_diagram(docs).svg("The whole system"),
    );
    for ctx in &model.contexts {
        let slug = ctx.name.to_kebab_case();
        out.add(
            format!("docs/site/diagrams/context-{slug}.svg"),
            context_diagram(docs, ctx).svg(&format!("Processes of {}", ctx.name)),
        );
    }
    for s in &model.sagas {
        out.add(
            format!("docs/site/diagrams/saga-{}.svg", saga_slug(&s.name)),
            state_diagram(s).svg(&format!("State machine of {}", s.name)),
        );
    }

    // Index.
    let index = IndexPage {
        root: "",
        title: "System documentation".into(),
        contexts: model
            .contexts
            .iter()
            .map(|c| Link {
                href: context_href(&c.name),
                text: c.name.clone(),
                note: c.description.clone().unwrap_or_default(),
            })
            .collect(),
        sagas: model
            .sagas
            .iter()
            .map(|s| Link {
                href: format!("sagas/{}.html", saga_slug(&s.name)),
                text: s.name.clone(),
                note: s.description.clone().unwrap_or_default(),
            })
            .collect(),
        diagram: DiagramRef {
            src: "diagrams/system.svg".into(),
            alt: "The whole system: command queues, event exchanges, handlers and sagas".into(),
        },
    };
    out.add("docs/site/index.html", render("index.html", &index)?);
    search.push(entry(
        "Queue and exchange topology",
        "page",
        "topology.html",
        "exchanges queues bindings dead-letter retry naming",
    ));

    // Contexts.
    for ctx in &model.contexts {
        let slug = ctx.name.to_kebab_case();
        let processes = process_rows(docs, ctx)
            .into_iter()
            .map(|p| {
                vec![
                    code(&p.name),
                    inline_html(&p.role),
                    inline_html(&p.consumes),
                    inline_html(&p.produces),
                    inline_html(&p.store),
                ]
            })
            .collect();
        let link_for = |kind: Kind| -> Vec<Link> {
            docs.messages
                .iter()
                .filter(|m| m.name.context == ctx.name && m.kind == kind)
                .map(|m| Link {
                    href: format!("../{}", message_href(&m.id())),
                    text: m.name.name.clone(),
                    note: m.description.unwrap_or("").to_owned(),
                })
                .collect()
        };
        let read_models = ctx
            .read_models
            .iter()
            .map(|rm| ReadModelHtml {
                name: rm.name.clone(),
                description: rm.description.clone().unwrap_or_default(),
                key: rm.key.clone(),
                route: rm
                    .query
                    .as_ref()
                    .map(|q| format!("GET {0} and GET {0}/{{{1}}}", q.path, rm.key))
                    .unwrap_or_default(),
                fields: fields_html(&rm.fields),
                sources: rm
                    .projections
                    .iter()
                    .map(|p| Link {
                        href: format!("../{}", message_href(&p.event.to_string())),
                        text: p.event.to_string(),
                        note: String::new(),
                    })
                    .collect(),
            })
            .collect();
        let types = ctx
            .types
            .iter()
            .map(|t| TypeHtml {
                name: format!("{}.{}", ctx.name, t.name),
                description: t.description.clone().unwrap_or_default(),
                fields: match &t.kind {
                    ValueKind::Record(f) => fields_html(f),
                    ValueKind::Enum(_) => Vec::new(),
                },
                variants: match &t.kind {
                    ValueKind::Enum(v) => v.clone(),
                    ValueKind::Record(_) => Vec::new(),
                },
            })
            .collect();
        let page = ContextPage {
            root: "../",
            title: format!("Context {}", ctx.name),
            description: ctx.description.clone().unwrap_or_default(),
            processes: table(
                &["Process", "Role", "Consumes", "Sends / publishes", "Store"],
                processes,
            ),
            diagram: DiagramRef {
                src: format!("../diagrams/context-{slug}.svg"),
                alt: format!("Processes, queues, exchanges and stores of {}", ctx.name),
            },
            commands: link_for(Kind::Command),
            events: link_for(Kind::Event),
            read_models,
            types,
            apis: vec![
                Link {
                    href: format!("../../openapi/{slug}-command-api.yaml"),
                    text: "Command API (OpenAPI 3.1)".into(),
                    note: String::new(),
                },
                Link {
                    href: format!("../../openapi/{slug}-query-api.yaml"),
                    text: "Query API (OpenAPI 3.1)".into(),
                    note: String::new(),
                },
            ],
        };
        let path = context_href(&ctx.name);
        out.add(format!("docs/site/{path}"), render(&path, &page)?);
        search.push(entry(
            &ctx.name,
            "context",
            &path,
            ctx.description.as_deref().unwrap_or(""),
        ));
        for rm in &ctx.read_models {
            let fields: Vec<&str> = rm.fields.iter().map(|f| f.name.as_str()).collect();
            search.push(entry(
                &format!("{}.{}", ctx.name, rm.name),
                "read model",
                &path,
                &format!(
                    "{} {}",
                    rm.description.as_deref().unwrap_or(""),
                    fields.join(" ")
                ),
            ));
        }
        for t in &ctx.types {
            search.push(entry(
                &format!("{}.{}", ctx.name, t.name),
                "type",
                &path,
                t.description.as_deref().unwrap_or(""),
            ));
        }
    }

    // Messages.
    for m in &docs.messages {
        let page = MessagePage {
            root: "../",
            title: m.id(),
            kind: m.kind.as_str(),
            context: Link {
                href: format!("../{}", context_href(&m.name.context)),
                text: m.name.context.clone(),
                note: String::new(),
            },
            description: m.description.unwrap_or("").to_owned(),
            facts: facts(model, m)
                .into_iter()
                .filter(|(label, _)| label != "JSON Schema")
                .map(|(label, value)| (inline_html(&label), inline_html(&value)))
                .collect(),
            fields: fields_html(m.fields),
            example: to_pretty(&example_object(model, m.fields))
                .trim_end()
                .to_owned(),
            schema: Link {
                href: format!("../../{}", m.schema_path()),
                text: m.schema_path(),
                note: String::new(),
            },
        };
        let path = message_href(&m.id());
        out.add(format!("docs/site/{path}"), render(&path, &page)?);
        let fields: Vec<&str> = m.fields.iter().map(|f| f.name.as_str()).collect();
        search.push(entry(
            &m.id(),
            m.kind.as_str(),
            &path,
            &format!(
                "{} {} {}",
                m.description.unwrap_or(""),
                fields.join(" "),
                m.carrier
            ),
        ));
    }

    // Sagas.
    let saga_info = saga_rows(docs);
    for (s, info) in model.sagas.iter().zip(saga_info) {
        let slug = saga_slug(&s.name);
        let states = state_rows(s)
            .into_iter()
            .map(|r| {
                vec![
                    code(&r.name),
                    inline_html(&r.description),
                    xml_attr(&r.terminal),
                    inline_html(&r.sends),
                    xml_attr(&r.timeout),
                    xml_attr(&r.retry),
                    inline_html(&r.compensation),
                ]
            })
            .collect();
        let transitions = transition_rows(s)
            .into_iter()
            .map(|t| {
                vec![
                    code(&t.from),
                    inline_html(&t.on),
                    code(&t.to),
                    t.compensate.to_owned(),
                    inline_html(&t.capture),
                ]
            })
            .collect();
        let page = SagaPage {
            root: "../",
            title: format!("Saga {}", s.name),
            description: s.description.clone().unwrap_or_default(),
            facts: vec![
                ("Process".into(), code(&info.process)),
                ("Consumes".into(), inline_html(&info.consumes)),
                ("Sends".into(), inline_html(&info.sends)),
                ("Started by".into(), code(&s.start.to_string())),
                ("Correlation".into(), code(&s.correlation)),
            ],
            diagram: DiagramRef {
                src: format!("../diagrams/saga-{slug}.svg"),
                alt: format!("State machine of {}", s.name),
            },
            states: table(
                &[
                    "State",
                    "Description",
                    "Terminal",
                    "Sends on entry",
                    "Timeout",
                    "Retries",
                    "Compensation",
                ],
                states,
            ),
            transitions: table(
                &["From", "On", "To", "Compensate first", "Captures"],
                transitions,
            ),
            data: fields_html(&s.data),
        };
        let path = format!("sagas/{slug}.html");
        out.add(format!("docs/site/{path}"), render(&path, &page)?);
        let states: Vec<&str> = s.states.iter().map(|x| x.name.as_str()).collect();
        search.push(entry(
            &s.name,
            "saga",
            &path,
            &format!(
                "{} {}",
                s.description.as_deref().unwrap_or(""),
                states.join(" ")
            ),
        ));
    }

    // Topology.
    let t = &docs.topology;
    let n = &model.topology.naming;
    let page = TopologyPage {
        root: "",
        title: "Queue and exchange topology".into(),
        naming: table(
            &["What", "Template"],
            [
                ("command queue", &n.command_queue),
                ("event exchange", &n.event_exchange),
                ("outcome exchange", &n.outcome_exchange),
                ("process queue", &n.process_queue),
                ("saga queue", &n.saga_queue),
                ("dead-letter exchange", &n.dead_letter_exchange),
                ("dead-letter queue", &n.dead_letter_queue),
                ("retry queue", &n.retry_queue),
            ]
            .into_iter()
            .map(|(a, b)| vec![xml_attr(a), code(b)])
            .collect(),
        ),
        exchanges: table(
            &["Exchange", "Type", "Durable"],
            t.exchanges
                .iter()
                .map(|e| {
                    vec![
                        code(&e.name),
                        e.kind.as_str().to_owned(),
                        e.durable.to_string(),
                    ]
                })
                .collect(),
        ),
        queues: table(
            &["Queue", "Type", "Arguments", "Role"],
            t.queues
                .iter()
                .map(|q| {
                    vec![
                        code(&q.name),
                        q.kind.as_str().to_owned(),
                        inline_html(&arguments_text(&q.amqp_arguments())),
                        inline_html(&queue_role(docs, t, &q.name)),
                    ]
                })
                .collect(),
        ),
        bindings: table(
            &["Exchange", "Queue", "Routing key"],
            t.bindings
                .iter()
                .map(|b| vec![code(&b.exchange), code(&b.queue), code(&b.routing_key)])
                .collect(),
        ),
    };
    out.add("docs/site/topology.html", render("topology.html", &page)?);

    let index = Value::Array(search);
    out.add("docs/site/search-index.json", to_pretty(&index));
    out.add(
        "docs/site/search-index.js",
        format!(
            "// Generated by `codegen generate`: the search index for file:// pages.\nwindow.SEARCH_INDEX = {};\n",
            serde_json::to_string(&index).expect("JSON values serialize")
        ),
    );
    Ok(())
}
