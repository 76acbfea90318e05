//! Expressions of the right type over the fields in scope: values, literals and rules.

use super::*;

impl Gen<'_> {
    /// An expression of type `want` over the given roots, or `None` when none fits.
    pub(super) fn value_expr(
        &mut self,
        want: &Ty,
        sources: &[(&str, &[F])],
        ctx: &Ctx,
    ) -> Option<String> {
        let mut candidates: Vec<String> = Vec::new();
        for (root, fields) in sources {
            for f in *fields {
                if f.ty == *want {
                    candidates.push(format!("{root}.{}", f.name));
                }
                if let Ty::Opt(inner) = want
                    && f.ty == **inner
                {
                    candidates.push(format!("{root}.{}", f.name));
                }
                if let Ty::Record(c, n) = &f.ty
                    && let Some(rec) = self.record_fields(c, n, ctx)
                {
                    for g in rec.iter().filter(|g| g.ty == *want) {
                        candidates.push(format!("{root}.{}.{}", f.name, g.name));
                    }
                }
            }
        }
        if let Some(lit) = self.literal(want, ctx) {
            candidates.push(lit);
        }
        if matches!(want, Ty::Opt(_)) && self.rng.chance(30) {
            candidates.push("None".into());
        }
        if candidates.is_empty() {
            return None;
        }
        let pick = self.rng.pick(&candidates).clone();
        // (`1 + 1` would be a clippy finding in the user's expression.)
        if want.is_int() && self.rng.chance(20) && pick.contains('.') {
            return Some(format!("{pick} + 1"));
        }
        Some(pick)
    }

    pub(super) fn literal(&mut self, want: &Ty, ctx: &Ctx) -> Option<String> {
        Some(match want {
            Ty::Str => format!("\"lit \\\" {}\"", self.rng.below(10)),
            Ty::Bool => "true".into(),
            Ty::I32 | Ty::I64 | Ty::Money => format!("{}", self.rng.below(50)),
            Ty::U32 | Ty::U64 => format!("{}", self.rng.below(50)),
            Ty::Enum(c, n, vs) => {
                let v = heck::ToUpperCamelCase::to_upper_camel_case(self.rng.pick(vs).as_str());
                if *c == ctx.name {
                    format!("{n}::{v}")
                } else {
                    format!("{c}::{n}::{v}")
                }
            }
            Ty::Opt(inner) => return self.literal(inner, ctx),
            _ => return None,
        })
    }

    pub(super) fn record_fields(&self, c: &str, n: &str, ctx: &Ctx) -> Option<Vec<F>> {
        self.contexts
            .iter()
            .chain(std::iter::once(ctx))
            .filter(|x| x.name == c)
            .flat_map(|x| x.types.iter())
            .find(|t| t.ty == Ty::Record(c.to_owned(), n.to_owned()))
            .map(|t| t.fields.clone())
    }

    /// A boolean rule over the given roots.
    pub(super) fn bool_expr(&mut self, sources: &[(&str, &[F])], ctx: &Ctx) -> String {
        let mut options: Vec<String> = vec!["true".into()];
        for (root, fields) in sources {
            for f in *fields {
                let p = format!("{root}.{}", f.name);
                match &f.ty {
                    t if t.is_int() => {
                        // (`>= 0` on an unsigned field is a rustc warning in the user's rule.)
                        if matches!(t, Ty::U32 | Ty::U64) {
                            options.push(format!("{p} <= 5000"));
                        } else {
                            options.push(format!("{p} >= 0"));
                        }
                        options.push(format!("{p} % 7 != 3 || {p} < 1000"));
                        if matches!(t, Ty::I32 | Ty::U32) {
                            options.push(format!("{p} as i64 <= 100000"));
                        }
                    }
                    Ty::Str => {
                        options.push(format!("!{p}.is_empty()"));
                        options.push(format!("{p}.len() <= 100"));
                        options.push(format!("{p} != \"x\" && !{p}.contains(\"\\\"\")"));
                        options.push(format!("{p} < \"zzz\""));
                    }
                    Ty::Bool => options.push(format!("!{p}")),
                    Ty::List(inner) => {
                        options.push(format!("{p}.len() < 50"));
                        if **inner == Ty::Str {
                            options.push(format!("!{p}.contains(\"no\")"));
                        }
                    }
                    Ty::Opt(inner) => {
                        options.push(format!("{p}.is_some()"));
                        if matches!(**inner, Ty::I32 | Ty::I64 | Ty::Money) {
                            options.push(format!("{p}.unwrap_or(0) >= 0"));
                        }
                    }
                    Ty::Enum(..) => {
                        if let Some(l) = self.literal(&f.ty, ctx) {
                            options.push(format!("{p} != {l}"));
                        }
                    }
                    Ty::Record(c, n) => {
                        if let Some(rec) = self.record_fields(c, n, ctx)
                            && let Some(g) = rec.iter().find(|g| g.ty == Ty::Str)
                        {
                            options.push(format!("{p}.{}.len() < 1000", g.name));
                        }
                    }
                    _ => {}
                }
            }
        }
        self.rng.pick(&options).clone()
    }

    pub(super) fn meta_expr(&mut self, want: &Ty, agg: &Agg) -> Option<String> {
        let base = match want {
            Ty::Opt(t) => &**t,
            t => t,
        };
        match base {
            Ty::Timestamp => Some("meta.timestamp".into()),
            Ty::Uuid if agg.id == "uuid" => Some("meta.aggregate_id".into()),
            Ty::I64 if agg.id == "i64" => Some("meta.aggregate_id".into()),
            Ty::Str if agg.id == "string" => Some("meta.aggregate_id".into()),
            _ => None,
        }
    }
}
