//! From parsed catalog files to the validated [`Model`].
//!
//! Every problem is collected (never only the first), each positioned at the YAML value it is
//! about. The passes: context names, symbol tables, value types, aggregates and events,
//! commands, event state changes, read models, names that would collide in generated code,
//! sagas, topology.

mod context;
pub(crate) mod evolution;
pub mod expr_check;
pub mod expr_limits;
mod generated_names;
pub mod names;
mod read_model;
mod saga;
mod topology;
pub mod type_expr;

use crate::diagnostic::{Diagnostic, Diagnostics, suggest};
use crate::model::expr::Root;
use crate::model::{Constraints, Field, Model, SourceExpr, Type, TypeName, ValueKind};
use crate::source::{FileId, Sources};
use crate::syntax::context::{ContextFile, FieldDef, Fields};
use crate::syntax::saga::SagasFile;
use crate::syntax::topology::TopologyFile;
use crate::syntax::{Loc, Pos};
use expr_check::{Scope, TypeLookup};
use std::collections::HashMap;
use std::rc::Rc;
use type_expr::TypeExpr;

/// The parsed files of a catalog.
#[derive(Debug, Default)]
pub struct Parsed {
    /// One per bounded context, sorted by path.
    pub contexts: Vec<(FileId, ContextFile)>,
    /// `sagas.yaml`, when present.
    pub sagas: Option<(FileId, SagasFile)>,
    /// `topology.yaml`, when present.
    pub topology: Option<(FileId, TopologyFile)>,
}

/// Validates parsed files; returns the model when no problem was found.
pub fn validate(
    sources: &Sources,
    parsed: &Parsed,
    diagnostics: &mut Diagnostics,
) -> Option<Model> {
    // Files that did not parse: a reference into them is not reported (their problem is).
    let mut table = TypeTable::default();
    for (id, file) in sources.iter() {
        if parsed.contexts.iter().any(|(f, _)| *f == id) {
            continue;
        }
        if let Some(stem) = file
            .path
            .strip_prefix(concat!("catalog", "/"))
            .and_then(|p| p.rsplit_once('.'))
            .map(|(stem, _)| stem)
        {
            table.unparsed_contexts.insert(stem.to_owned());
        }
    }
    for (_, cf) in &parsed.contexts {
        let ctx = &cf.context.value;
        let domain = cf.events.iter().map(|(n, _)| n);
        for name in domain.chain(cf.public_events.iter().map(|(n, _)| n)) {
            table
                .declared_events
                .insert(format!("{ctx}.{}", name.value));
        }
    }
    let sagas_unparsed = parsed.sagas.is_none()
        && sources
            .iter()
            .any(|(_, f)| f.path == crate::load::SAGAS_FILE);
    let mut v = Validator {
        sources,
        diagnostics,
        types: Rc::new(table),
        symbols: Vec::new(),
        sagas_unparsed,
    };
    let contexts = v.contexts(&parsed.contexts);
    v.generated_names(&parsed.contexts, parsed.sagas.as_ref());
    let sagas = match &parsed.sagas {
        Some((file, s)) => v.sagas(*file, s, &contexts),
        None => Vec::new(),
    };
    let topology = v.topology(parsed.topology.as_ref(), &contexts, &sagas);
    if v.diagnostics.is_empty() {
        Some(Model {
            contexts,
            sagas,
            topology,
        })
    } else {
        None
    }
}

/// Names declared by one context (pass 1), for resolving references.
#[derive(Debug)]
struct Symbols {
    name: String,
}

/// Resolved value types of every context.
#[derive(Clone, Debug, Default)]
struct TypeTable {
    kinds: HashMap<TypeName, ValueKind>,
    /// Names of fields whose type did not resolve (already reported).
    broken_fields: std::collections::HashSet<String>,
    /// Contexts whose file did not parse (already reported): references into them are not.
    unparsed_contexts: std::collections::HashSet<String>,
    /// Every event declared, domain or public (`context.Event`): one that is missing from the
    /// model was rejected with its own diagnostic, so a reference to it is not reported again.
    declared_events: std::collections::HashSet<String>,
}

impl TypeLookup for TypeTable {
    fn record_fields(&self, name: &TypeName) -> Option<Vec<(String, Type)>> {
        match self.kinds.get(name)? {
            ValueKind::Record(fields) => Some(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), f.ty.clone()))
                    .collect(),
            ),
            ValueKind::Enum(_) => None,
        }
    }
    fn enum_variants(&self, name: &TypeName) -> Option<Vec<String>> {
        match self.kinds.get(name)? {
            ValueKind::Enum(v) => Some(v.clone()),
            ValueKind::Record(_) => None,
        }
    }
    fn has_context(&self, name: &str) -> bool {
        self.kinds.keys().any(|k| k.context == name)
    }
    fn is_broken_field(&self, name: &str) -> bool {
        self.broken_fields.contains(name)
    }
    fn is_unparsed_context(&self, name: &str) -> bool {
        self.unparsed_contexts.contains(name)
    }
}

/// Where an expression is written and what it may read.
struct ExprSite<'s> {
    file: FileId,
    loc: &'s Loc<String>,
    fallback: Pos,
}

pub(crate) struct Validator<'a> {
    sources: &'a Sources,
    diagnostics: &'a mut Diagnostics,
    types: Rc<TypeTable>,
    symbols: Vec<Symbols>,
    /// Whether `sagas.yaml` did not parse (so `saga.*` processes are unknown).
    sagas_unparsed: bool,
}

impl Validator<'_> {
    /// Whether `context` is a context whose file did not parse: a reference into it follows
    /// from the parse error already reported, so it is not reported again.
    fn unparsed(&self, context: &str) -> bool {
        self.types.unparsed_contexts.contains(context)
    }

    /// Reports a problem at `pos` (or `fallback` when the parser did not know the position).
    fn error(
        &mut self,
        file: FileId,
        pos: Pos,
        fallback: Pos,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let pos = if pos.is_known() { pos } else { fallback };
        self.diagnostics.push(Diagnostic::new(file, pos, message))
    }

    /// Reports a problem about a located string, underlining it.
    fn error_at(
        &mut self,
        file: FileId,
        loc: &Loc<String>,
        fallback: Pos,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let len = self.value_len(file, loc);
        let d = self.error(file, loc.pos, fallback, message);
        d.len = len;
        d
    }

    /// Reports a key that has no effect, underlining it: a warning, which does not fail the
    /// catalog.
    fn warn_at(
        &mut self,
        file: FileId,
        loc: &Loc<String>,
        fallback: Pos,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let d = self.error_at(file, loc, fallback, message);
        d.severity = crate::diagnostic::Severity::Warning;
        d
    }

    /// The position of `key` when `value_pos` is the position of its value on the same line
    /// (`key: value`), else `value_pos`.
    fn key_before(&self, file: FileId, value_pos: Pos, key: &str) -> Pos {
        let line = self.sources.get(file).line_text(value_pos.line);
        let before: String = line
            .chars()
            .take((value_pos.column as usize).saturating_sub(1))
            .collect();
        match before.rfind(&format!("{key}:")) {
            Some(at) => {
                let column = before[..at].chars().count() + 1;
                Pos::new(
                    value_pos.line,
                    u32::try_from(column).unwrap_or(value_pos.column),
                )
            }
            None => value_pos,
        }
    }

    fn value_len(&self, file: FileId, loc: &Loc<String>) -> usize {
        let quoted = matches!(self.sources.get(file).char_at(loc.pos), Some('"' | '\''));
        loc.value
            .lines()
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(1)
            + if quoted { 2 } else { 0 }
    }

    /// Checks a name with `check`, reporting the problem at the name.
    fn check_name(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        fallback: Pos,
        check: Result<(), String>,
    ) -> bool {
        match check {
            Ok(()) => true,
            Err(msg) => {
                self.error_at(file, name, fallback, msg);
                false
            }
        }
    }

    /// Reports names that appear twice in `names`.
    fn unique<'n>(
        &mut self,
        file: FileId,
        what: &str,
        names: impl IntoIterator<Item = &'n Loc<String>>,
    ) {
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for n in names {
            if let Some(first) = seen.get(n.value.as_str()) {
                let first = *first;
                self.error_at(
                    file,
                    n,
                    Pos::default(),
                    format!(
                        "{what} `{}` is declared twice (first at line {})",
                        n.value, first.line
                    ),
                );
            } else {
                seen.insert(&n.value, n.pos);
            }
        }
    }

    /// Resolves a type expression written in `context`.
    fn resolve_type(
        &mut self,
        file: FileId,
        context: &str,
        ty: &Loc<String>,
        fallback: Pos,
    ) -> Option<Type> {
        let parsed = match type_expr::parse(&ty.value) {
            Ok(p) => p,
            Err(msg) => {
                self.error_at(file, ty, fallback, msg);
                return None;
            }
        };
        match self.resolve_parsed(context, &parsed) {
            Ok(t) => Some(t),
            Err(_) if parsed_contexts(&parsed).any(|c| self.unparsed(c)) => None,
            Err((msg, help)) => {
                let d = self.error_at(file, ty, fallback, msg);
                d.help = help;
                None
            }
        }
    }

    fn resolve_parsed(
        &self,
        context: &str,
        ty: &TypeExpr,
    ) -> Result<Type, (String, Option<String>)> {
        match ty {
            TypeExpr::List(inner) => Ok(Type::List(Box::new(self.resolve_parsed(context, inner)?))),
            TypeExpr::Optional(inner) => Ok(Type::Optional(Box::new(
                self.resolve_parsed(context, inner)?,
            ))),
            TypeExpr::Name {
                context: None,
                name,
            } if type_expr::PRIMITIVES.contains(&name.as_str()) => Ok(match name.as_str() {
                "string" => Type::String,
                "bool" => Type::Bool,
                "i32" => Type::I32,
                "i64" => Type::I64,
                "u32" => Type::U32,
                "u64" => Type::U64,
                "money" => Type::Money,
                "uuid" => Type::Uuid,
                "timestamp" => Type::Timestamp,
                _ => Type::Date,
            }),
            TypeExpr::Name { context: ctx, name } => {
                let ctx_name = ctx.as_deref().unwrap_or(context);
                if ctx.is_some() && !self.symbols.iter().any(|s| s.name == ctx_name) {
                    return Err((
                        format!("unknown context `{ctx_name}` in type `{ctx_name}.{name}`"),
                        None,
                    ));
                }
                let tn = TypeName {
                    context: ctx_name.to_owned(),
                    name: name.clone(),
                };
                match self.types.kinds.get(&tn) {
                    Some(ValueKind::Record(_)) => Ok(Type::Record(tn)),
                    Some(ValueKind::Enum(_)) => Ok(Type::Enum(tn)),
                    None => {
                        let local: Vec<&str> = self
                            .types
                            .kinds
                            .keys()
                            .filter(|k| k.context == ctx_name)
                            .map(|k| k.name.as_str())
                            .chain(if ctx.is_none() {
                                type_expr::PRIMITIVES.to_vec()
                            } else {
                                vec![]
                            })
                            .collect();
                        if ctx_name.is_empty() {
                            return Err((
                                format!(
                                    "unknown type `{name}`: sagas name value types with their context, `context.{name}`"
                                ),
                                None,
                            ));
                        }
                        let where_ = if ctx.is_some() {
                            format!(" in context `{ctx_name}`")
                        } else {
                            String::new()
                        };
                        Err((format!("unknown type `{name}`{where_}"), suggest(name, local).or_else(|| {
                            Some(format!("types are {}, list<T>, optional<T> (or T?) and the value types of the catalog", type_expr::PRIMITIVES.join(", ")))
                        })))
                    }
                }
            }
        }
    }

    /// Validates and resolves a list of fields.
    fn fields(
        &mut self,
        file: FileId,
        context: &str,
        fields: &Fields,
        owner: &str,
        reserved: &[&str],
    ) -> Vec<Field> {
        let mut out = Vec::new();
        for (name, def) in fields.iter() {
            let mut ok = self.check_name(
                file,
                name,
                Pos::default(),
                names::check_snake(&name.value, "field name"),
            );
            if reserved.contains(&name.value.as_str()) {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!(
                        "`{}` is implicit in {owner} and cannot be declared",
                        name.value
                    ),
                );
                ok = false;
            }
            let d: &FieldDef = &def.value;
            let Some(ty) = self.resolve_type(file, context, &d.ty, def.pos) else {
                Rc::make_mut(&mut self.types)
                    .broken_fields
                    .insert(name.value.clone());
                continue;
            };
            let constraints = self.constraints(file, d, &ty, def.pos);
            let (default, deprecated) =
                self.field_evolution(file, owner, name, d, &ty, &constraints);
            if !ok {
                Rc::make_mut(&mut self.types)
                    .broken_fields
                    .insert(name.value.clone());
            }
            if ok {
                out.push(Field {
                    name: name.value.clone(),
                    description: d.description.clone(),
                    ty,
                    constraints,
                    example: d.example.clone(),
                    default,
                    deprecated,
                });
            }
        }
        out
    }

    fn constraints(&mut self, file: FileId, d: &FieldDef, ty: &Type, fallback: Pos) -> Constraints {
        let base = match ty {
            Type::Optional(inner) => &**inner,
            other => other,
        };
        let mut c = Constraints::default();
        let sized = matches!(base, Type::String | Type::List(_));
        for (value, slot, name) in [(&d.min, &mut c.min, "min"), (&d.max, &mut c.max, "max")] {
            if let Some(v) = value {
                if base.is_integer() {
                    *slot = Some(v.value);
                    if let Some((lo, hi)) = base.integer_range()
                        && (i128::from(v.value) < lo || i128::from(v.value) > hi)
                    {
                        self.error(
                            file,
                            v.pos,
                            fallback,
                            format!("`{name}: {}` does not fit in `{base}`", v.value),
                        );
                    }
                } else {
                    self.error(
                        file,
                        v.pos,
                        fallback,
                        format!("`{name}` applies to integers and money, not to `{ty}`"),
                    );
                }
            }
        }
        if let (Some(lo), Some(hi)) = (&d.min, &d.max)
            && lo.value > hi.value
        {
            self.error(
                file,
                hi.pos,
                fallback,
                format!("`max: {}` is below `min: {}`", hi.value, lo.value),
            );
        }
        for (value, slot, name) in [
            (&d.min_length, &mut c.min_length, "min_length"),
            (&d.max_length, &mut c.max_length, "max_length"),
        ] {
            if let Some(v) = value {
                if sized {
                    *slot = Some(v.value);
                } else {
                    self.error(
                        file,
                        v.pos,
                        fallback,
                        format!("`{name}` applies to strings and lists, not to `{ty}`"),
                    );
                }
            }
        }
        if let (Some(lo), Some(hi)) = (&d.min_length, &d.max_length)
            && lo.value > hi.value
        {
            self.error(
                file,
                hi.pos,
                fallback,
                format!(
                    "`max_length: {}` is below `min_length: {}`",
                    hi.value, lo.value
                ),
            );
        }
        if d.non_empty {
            if sized {
                c.min_length = Some(c.min_length.unwrap_or(0).max(1));
            } else {
                self.error(
                    file,
                    d.ty.pos,
                    fallback,
                    format!("`non_empty` applies to strings and lists, not to `{ty}`"),
                );
            }
        }
        if let Some(p) = &d.pattern {
            if *base != Type::String {
                self.error_at(
                    file,
                    p,
                    fallback,
                    format!("`pattern` applies to strings, not to `{ty}`"),
                );
            } else if let Err(e) = regex::Regex::new(&p.value) {
                let msg = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .to_owned();
                self.error_at(
                    file,
                    p,
                    fallback,
                    format!("invalid regular expression: {msg}"),
                );
            } else {
                c.pattern = Some(p.value.clone());
            }
        }
        if let Some(values) = &d.one_of {
            if *base != Type::String {
                self.error(
                    file,
                    values.pos,
                    fallback,
                    format!(
                        "`enum` applies to strings, not to `{ty}` (declare an enum type instead)"
                    ),
                );
            } else if values.value.is_empty() {
                self.error(
                    file,
                    values.pos,
                    fallback,
                    "`enum` needs at least one value",
                );
            } else {
                c.one_of = values.value.clone();
            }
        }
        c
    }

    /// Checks an expression; `expected` is the required type.
    fn expr(
        &mut self,
        site: ExprSite<'_>,
        scope: &Scope<'_>,
        expected: Option<&Type>,
    ) -> Option<SourceExpr> {
        match expr_check::check(&site.loc.value, scope, expected) {
            Ok(expr) => Some(SourceExpr {
                source: site.loc.value.trim().to_owned(),
                expr,
            }),
            Err(e) if e.silent => None,
            Err(e) => {
                let base = if site.loc.pos.is_known() {
                    site.loc.pos
                } else {
                    site.fallback
                };
                let quoted = matches!(self.sources.get(site.file).char_at(base), Some('"' | '\''));
                let offset = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
                let pos = if e.line <= 1 {
                    Pos::new(
                        base.line,
                        base.column
                            .saturating_add(u32::from(quoted))
                            .saturating_add(offset(e.column)),
                    )
                } else {
                    Pos::new(
                        base.line.saturating_add(offset(e.line - 1)),
                        offset(e.column).saturating_add(1),
                    )
                };
                self.diagnostics
                    .push(Diagnostic::new(site.file, pos, e.message).with_len(e.len));
                None
            }
        }
    }
}

/// The contexts a type expression names (`ctx.Type`, also inside `list<...>`).
fn parsed_contexts(ty: &TypeExpr) -> Box<dyn Iterator<Item = &str> + '_> {
    match ty {
        TypeExpr::List(inner) | TypeExpr::Optional(inner) => parsed_contexts(inner),
        TypeExpr::Name { context, .. } => Box::new(context.as_deref().into_iter()),
    }
}

/// Top-level fields of the `meta` root.
fn meta_fields(aggregate_id: Type) -> Vec<(String, Type)> {
    vec![
        ("aggregate_id".into(), aggregate_id),
        ("tenant_id".into(), Type::String),
        ("user_id".into(), Type::Optional(Box::new(Type::String))),
        ("timestamp".into(), Type::Timestamp),
    ]
}

/// Top-level fields of a field list.
fn field_types(fields: &[Field]) -> Vec<(String, Type)> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.ty.clone()))
        .collect()
}

/// Builds a scope from roots.
fn scope<'a>(
    types: &'a TypeTable,
    context: &'a str,
    roots: Vec<(Root, Vec<(String, Type)>)>,
    unavailable: Vec<(Root, String)>,
) -> Scope<'a> {
    Scope {
        roots,
        unavailable,
        types,
        context,
        silenced: Vec::new(),
    }
}
