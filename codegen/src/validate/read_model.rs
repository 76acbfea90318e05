//! Validation of read models and their Query API.

use super::names::{check_pascal, check_snake};
use super::{ExprSite, Validator, field_types, meta_fields, scope};
use crate::diagnostic::suggest;
use crate::model::expr::Root;
use crate::model::{
    Context, FilterOp, MessageName, Projection, QuerySpec, ReadModel, RowFilter, SourceExpr, Type,
};
use crate::source::FileId;
use crate::syntax::context::{ContextFile, QueryDef, ReadModelDef};
use crate::syntax::{Loc, Pos};
use std::collections::HashSet;

impl Validator<'_> {
    pub(super) fn read_models(
        &mut self,
        file: FileId,
        cf: &ContextFile,
        contexts: &[Context],
    ) -> Vec<ReadModel> {
        let ctx = cf.context.value.as_str();
        let mut out = Vec::new();
        let mut paths: HashSet<String> = HashSet::new();
        for (name, def) in cf.read_models.iter() {
            let ok = self.check_name(
                file,
                name,
                Pos::default(),
                check_pascal(&name.value, "read model name"),
            );
            if let Some(rm) = self.read_model(file, ctx, name, def, contexts, &mut paths)
                && ok
            {
                out.push(rm);
            }
        }
        out
    }

    fn read_model(
        &mut self,
        file: FileId,
        ctx: &str,
        name: &Loc<String>,
        def: &Loc<ReadModelDef>,
        contexts: &[Context],
        paths: &mut HashSet<String>,
    ) -> Option<ReadModel> {
        let fields = self.fields(file, ctx, &def.fields, "a read model", &["tenant_id"]);
        let key_field = fields.iter().find(|f| f.name == def.key.value).cloned();
        match &key_field {
            None => {
                let help = suggest(&def.key.value, fields.iter().map(|f| f.name.as_str()));
                let d = self.error_at(
                    file,
                    &def.key,
                    def.pos,
                    format!(
                        "the key `{}` is not a field of `{}`",
                        def.key.value, name.value
                    ),
                );
                d.help = help;
            }
            Some(f)
                if !matches!(
                    f.ty,
                    Type::String | Type::Uuid | Type::I32 | Type::I64 | Type::U32 | Type::U64
                ) =>
            {
                self.error_at(
                    file,
                    &def.key,
                    def.pos,
                    format!(
                        "the key `{}` is a `{}`: a key is a string, uuid or integer",
                        f.name, f.ty
                    ),
                );
            }
            Some(_) => {}
        }
        if def.from.is_empty() {
            self.error_at(
                file,
                name,
                Pos::default(),
                format!(
                    "read model `{}` is built from no event: add `from`",
                    name.value
                ),
            );
        }
        let mut projections = Vec::new();
        for (index, (event_name, change)) in def.from.iter().enumerate() {
            let Some(event) = self.resolve_event(file, ctx, event_name, contexts) else {
                continue;
            };
            let (ev_ctx, ev) = event;
            let agg_id = contexts
                .iter()
                .find(|c| c.name == ev_ctx)
                .and_then(|c| c.aggregate(&ev.aggregate))
                .map(|a| a.id.ty())
                .unwrap_or(Type::String);
            let roots = vec![
                (Root::Event, field_types(&ev.fields)),
                (Root::Meta, meta_fields(agg_id.clone())),
            ];
            let unavailable = vec![
                (
                    Root::Doc,
                    "projections are applied as updates inside the store, so they read only the event and `meta.*`"
                        .into(),
                ),
                (
                    Root::State,
                    "read models read the event and `meta.*`, never aggregate state".into(),
                ),
                (
                    Root::Cmd,
                    "read models read the event, not the command".into(),
                ),
            ];
            let types = std::rc::Rc::clone(&self.types);
            let sc = scope(&types, ctx, roots, unavailable);
            if let Some(s) = &change.value.status {
                self.error_at(
                    file,
                    s,
                    change.pos,
                    "`status` applies to aggregates; set a document field instead",
                );
            }
            let key = match (&change.value.key, &key_field) {
                (_, None) => None,
                (Some(k), Some(kf)) => self.expr(
                    ExprSite {
                        file,
                        loc: k,
                        fallback: event_name.pos,
                    },
                    &sc,
                    Some(&kf.ty),
                ),
                (None, Some(kf)) => {
                    let by_field = ev
                        .fields
                        .iter()
                        .find(|f| f.name == kf.name && super::expr_check::same_type(&f.ty, &kf.ty));
                    let source = if by_field.is_some() {
                        format!("event.{}", kf.name)
                    } else if super::expr_check::same_type(&agg_id, &kf.ty) {
                        "meta.aggregate_id".to_owned()
                    } else if ev.aggregate.is_empty() {
                        // The event's owner is unknown because of a problem already reported.
                        continue;
                    } else {
                        let d = self.error_at(file, event_name, def.pos, format!(
                            "`{}` has no `{}` field of type `{}`, and its aggregate id is a `{agg_id}`: say which document it changes",
                            event_name.value, kf.name, kf.ty
                        ));
                        d.help = Some(format!(
                            "add `key: event.<field>` under `{}`",
                            event_name.value
                        ));
                        continue;
                    };
                    super::expr_check::check(&source, &sc, Some(&kf.ty))
                        .ok()
                        .map(|expr| SourceExpr { source, expr })
                }
            };
            let doc_fields = field_types(&fields);
            let target = super::context::ChangeTarget {
                fields: &doc_fields,
                event_fields: &ev.fields,
                what: "document",
            };
            let changes = self.changes(file, &change.value, target, &sc, change.pos);
            let creates = change
                .value
                .creates
                .as_ref()
                .map(|c| c.value)
                .unwrap_or(index == 0);
            if let Some(key) = key {
                projections.push(Projection {
                    event: MessageName {
                        context: ev_ctx.clone(),
                        name: ev.name.clone(),
                    },
                    key,
                    creates,
                    changes,
                });
            }
        }
        let mut seen = HashSet::new();
        for (event_name, _) in def.from.iter() {
            let full = if event_name.value.contains('.') {
                event_name.value.clone()
            } else {
                format!("{ctx}.{}", event_name.value)
            };
            if !seen.insert(full.clone()) {
                self.error_at(
                    file,
                    event_name,
                    def.pos,
                    format!("event `{full}` is listed twice in `from`"),
                );
            }
        }
        let query = def
            .query
            .as_ref()
            .and_then(|q| self.query(file, name, q, &fields, paths));
        key_field.map(|kf| ReadModel {
            name: name.value.clone(),
            description: def.description.clone(),
            key: kf.name,
            fields,
            projections,
            query,
        })
    }

    /// Resolves `Event` (this context) or `context.Event`.
    pub(super) fn resolve_event<'c>(
        &mut self,
        file: FileId,
        ctx: &str,
        name: &Loc<String>,
        contexts: &'c [Context],
    ) -> Option<(String, &'c crate::model::Event)> {
        let (ev_ctx, ev_name) = match name.value.split_once('.') {
            Some((c, n)) => (c.to_owned(), n.to_owned()),
            None => (ctx.to_owned(), name.value.clone()),
        };
        let Some(context) = contexts.iter().find(|c| c.name == ev_ctx) else {
            if self.unparsed(&ev_ctx) {
                return None;
            }
            let help = suggest(&ev_ctx, contexts.iter().map(|c| c.name.as_str()));
            let d = self.error_at(
                file,
                name,
                Pos::default(),
                format!("unknown context `{ev_ctx}`"),
            );
            d.help = help;
            return None;
        };
        match context.event(&ev_name) {
            Some(e) => Some((ev_ctx, e)),
            None if self
                .types
                .declared_events
                .contains(&format!("{ev_ctx}.{ev_name}")) =>
            {
                None
            }
            None => {
                let help = suggest(&ev_name, context.events.iter().map(|e| e.name.as_str()));
                let d = self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!("context `{ev_ctx}` has no event `{ev_name}`"),
                );
                d.help = help;
                None
            }
        }
    }

    fn query(
        &mut self,
        file: FileId,
        name: &Loc<String>,
        q: &Loc<QueryDef>,
        fields: &[crate::model::Field],
        paths: &mut HashSet<String>,
    ) -> Option<QuerySpec> {
        let def = &q.value;
        let mut ok = true;
        let path_ok = def.path.value.starts_with('/')
            && def.path.value[1..].split('/').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !path_ok {
            self.error_at(file, &def.path, q.pos, format!("query path `{}` is not valid: it starts with `/` and its segments are letters, digits, `-` and `_`", def.path.value));
            ok = false;
        } else if !paths.insert(def.path.value.clone()) {
            self.error_at(
                file,
                &def.path,
                q.pos,
                format!(
                    "query path `{}` is already used by another read model",
                    def.path.value
                ),
            );
            ok = false;
        }
        if def.roles.is_empty() {
            self.error_at(
                file,
                &def.path,
                q.pos,
                format!(
                    "the query of `{}` needs `roles`: say who may read it",
                    name.value
                ),
            );
            ok = false;
        }
        for r in &def.roles {
            ok &= self.check_name(file, r, q.pos, check_snake(&r.value, "role"));
        }
        let field_ty = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.ty.clone());
        let mut filters = Vec::new();
        for (field, ops) in def.filters.iter() {
            let Some(ty) = field_ty(&field.value) else {
                let help = suggest(&field.value, fields.iter().map(|f| f.name.as_str()));
                let d = self.error_at(
                    file,
                    field,
                    q.pos,
                    format!(
                        "cannot filter on `{}`: `{}` has no such field",
                        field.value, name.value
                    ),
                );
                d.help = help;
                ok = false;
                continue;
            };
            let base = match &ty {
                Type::Optional(i) => (**i).clone(),
                t => t.clone(),
            };
            if matches!(base, Type::List(_) | Type::Record(_)) {
                self.error_at(
                    file,
                    field,
                    q.pos,
                    format!("cannot filter on `{}`: it is a `{ty}`", field.value),
                );
                ok = false;
                continue;
            }
            if ops.is_empty() {
                self.error_at(
                    file,
                    field,
                    q.pos,
                    format!("filter `{}` lists no operator", field.value),
                );
                ok = false;
            }
            let mut parsed = Vec::new();
            for op in ops {
                match FilterOp::ALL.iter().find(|(n, _)| *n == op.value) {
                    Some((_, FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte))
                        if !base.is_ordered() =>
                    {
                        self.error_at(
                            file,
                            op,
                            q.pos,
                            format!(
                                "`{}` is a `{ty}`, which has no order: `{}` does not apply",
                                field.value, op.value
                            ),
                        );
                        ok = false;
                    }
                    Some((_, f)) => parsed.push(*f),
                    None => {
                        let help = suggest(&op.value, FilterOp::ALL.iter().map(|(n, _)| *n));
                        let d = self.error_at(
                            file,
                            op,
                            q.pos,
                            format!(
                                "unknown filter operator `{}`: use eq, ne, gt, gte, lt, lte or in",
                                op.value
                            ),
                        );
                        d.help = help;
                        ok = false;
                    }
                }
            }
            filters.push((field.value.clone(), parsed));
        }
        let mut sort = Vec::new();
        for s in &def.sort {
            match field_ty(&s.value) {
                Some(t)
                    if matches!(&t, Type::Optional(i) if i.is_ordered())
                        || t.is_ordered()
                        || matches!(t, Type::Bool | Type::Uuid | Type::Enum(_)) =>
                {
                    sort.push(s.value.clone());
                }
                Some(t) => {
                    self.error_at(
                        file,
                        s,
                        q.pos,
                        format!("cannot sort by `{}`: it is a `{t}`", s.value),
                    );
                    ok = false;
                }
                None => {
                    let help = suggest(&s.value, fields.iter().map(|f| f.name.as_str()));
                    let d = self.error_at(
                        file,
                        s,
                        q.pos,
                        format!(
                            "cannot sort by `{}`: `{}` has no such field",
                            s.value, name.value
                        ),
                    );
                    d.help = help;
                    ok = false;
                }
            }
        }
        let default_sort = def.default_sort.as_ref().and_then(|d| {
            let (field, desc) = match d.value.strip_prefix('-') {
                Some(f) => (f.to_owned(), true),
                None => (d.value.clone(), false),
            };
            if sort.contains(&field) {
                Some((field, desc))
            } else {
                self.error_at(
                    file,
                    d,
                    q.pos,
                    format!("default sort `{field}` is not among the `sort` fields"),
                );
                ok = false;
                None
            }
        });
        let page_size = def.page_size.as_ref().map(|p| p.value).unwrap_or(20);
        let max_page_size = def
            .max_page_size
            .as_ref()
            .map(|p| p.value)
            .unwrap_or(100.max(page_size));
        if page_size == 0 || max_page_size == 0 || max_page_size > 1000 {
            let pos = def
                .max_page_size
                .as_ref()
                .or(def.page_size.as_ref())
                .map(|p| p.pos)
                .unwrap_or(q.pos);
            self.error(file, pos, q.pos, "page sizes must be between 1 and 1000");
            ok = false;
        } else if page_size > max_page_size {
            let pos = def.page_size.as_ref().map(|p| p.pos).unwrap_or(q.pos);
            self.error(
                file,
                pos,
                q.pos,
                format!("`page_size: {page_size}` exceeds `max_page_size: {max_page_size}`"),
            );
            ok = false;
        }
        let row_filter = def.row_filter.as_ref().map(|rf| {
            let r = &rf.value;
            match field_ty(&r.field.value) {
                Some(Type::String | Type::Uuid) => {}
                Some(t) => {
                    self.error_at(file, &r.field, rf.pos, format!("row filter field `{}` is a `{t}`: it must be a string or uuid compared with a claim", r.field.value));
                    ok = false;
                }
                None => {
                    let help = suggest(&r.field.value, fields.iter().map(|f| f.name.as_str()));
                    let d = self.error_at(file, &r.field, rf.pos, format!("row filter field `{}` is not a field of `{}`", r.field.value, name.value));
                    d.help = help;
                    ok = false;
                }
            }
            for role in &r.except_roles {
                ok &= self.check_name(file, role, rf.pos, check_snake(&role.value, "role"));
                if !def.roles.iter().any(|q| q.value == role.value) {
                    self.warn_at(file, role, rf.pos, format!(
                        "`except_roles` names `{}`, which is not in the query's `roles`: that role cannot query `{}` at all, so the exception has no effect",
                        role.value, def.path.value
                    ));
                }
            }
            RowFilter {
                field: r.field.value.clone(),
                claim: r.claim.as_ref().map(|c| c.value.clone()).unwrap_or_else(|| "sub".into()),
                except_roles: r.except_roles.iter().map(|r| r.value.clone()).collect(),
            }
        });
        ok.then(|| QuerySpec {
            path: def.path.value.clone(),
            roles: def.roles.iter().map(|r| r.value.clone()).collect(),
            filters,
            sort,
            default_sort,
            page_size,
            max_page_size,
            row_filter,
        })
    }
}
