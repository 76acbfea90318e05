//! A seeded generator of random catalogs covering every construct of the catalog language,
//! with hostile names: Rust prelude and std type names, runtime type names, names the generator
//! derives, reserved words that are still valid catalog names (`gen`, `union`, `raw`), and
//! variant names that only become Rust names after case conversion.
//!
//! Most catalogs it writes are valid. With [`Options::invalid`], one name collision the
//! generator cannot resolve by renaming is planted, and the catalog must be rejected with a
//! diagnostic ([`RandomCatalog::planted`] says which).
//!
//! The files are written as JSON (which is YAML) so that quoting is never a concern.

use codegen::source::SourceFile;
use serde_json::{Map, Value, json};

/// A small deterministic random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of a run: `RANDOM_CATALOG_SEED` when set, else one from the clock. Printed by the
/// tests so that any failure can be replayed.
pub fn seed_from_env() -> u64 {
    match std::env::var("RANDOM_CATALOG_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RANDOM_CATALOG_SEED={s} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// What to generate.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Appended to every context and saga name, so that the crates of several catalogs can
    /// share one Cargo workspace (`k3` gives contexts like `std_k3`).
    pub tag: String,
    /// Plants one name collision that must be rejected with a diagnostic.
    pub invalid: bool,
}

/// A generated catalog.
#[derive(Clone, Debug)]
pub struct RandomCatalog {
    /// Its files (`catalog/<ctx>.yaml`, `sagas.yaml`, `topology.yaml`).
    pub files: Vec<SourceFile>,
    /// The collision planted by [`Options::invalid`], if one was.
    pub planted: Option<String>,
}

impl RandomCatalog {
    /// Every file as a bundle (`#--- path` sections), for failure messages.
    pub fn bundle(&self) -> String {
        self.files
            .iter()
            .map(|f| format!("#--- {}\n{}", f.path, f.text))
            .collect()
    }
}

/// PascalCase names that shadow prelude, std, serde or runtime names, or look like what the
/// generator derives.
const HOSTILE_PASCAL: &[&str] = &[
    "String",
    "Vec",
    "Option",
    "Result",
    "Box",
    "Default",
    "Some",
    "None",
    "Ok",
    "Err",
    "Clone",
    "Copy",
    "Debug",
    "Send",
    "Sync",
    "Sized",
    "Iterator",
    "From",
    "Into",
    "ToString",
    "PartialEq",
    "Eq",
    "Hash",
    "Serialize",
    "Deserialize",
    "JsonSchema",
    "Message",
    "Command",
    "Event",
    "Decision",
    "Envelope",
    "RawEnvelope",
    "CommandContext",
    "DocumentUpdate",
    "UpdateOp",
    "IndexSpec",
    "Data",
    "Hooks",
    "ProcessInfo",
    "ExitCode",
    "Method",
    "CommandApi",
    "IdSource",
    "Duration",
    "SagaMachine",
    "DecodeError",
    "Value",
    "Violations",
    "ValidateAt",
    "AggregateRoot",
    "MessageSet",
    "Arc",
    "Uuid",
    "Utc",
    "DateTime",
    "NaiveDate",
    "Runtime",
    "Serde",
    "Std",
    "Core",
    "Tokio",
    "Schemars",
    "Type",
    "Match",
    "Fn",
    "Gen",
    "Mod",
    "Use",
    "Dyn",
    "Async",
    "Await",
    "Loop",
    "Where",
    "Union",
    "Main",
    "Routes",
    "Handlers",
    "Project",
    "Indexes",
    "Machine",
    "Init",
    "Correlate",
    "Info",
    "Topology",
    "ReadModels",
    "Rc",
    "Cow",
    "HashMap",
    "Ordering",
    "Error",
    "Display",
    "Fmt",
    "I32",
    "U64",
    "Bool",
    "Str",
    "Char",
];

/// Plain PascalCase words, for variety.
const PLAIN_PASCAL: &[&str] = &[
    "Order", "Item", "Cart", "Stock", "Payment", "Ticket", "Booking", "Account", "Parcel",
    "Invoice", "Line", "Slot", "Token", "Note", "Label", "Price",
];

/// snake_case names that are valid catalog names but collide with Rust or generated names.
const HOSTILE_SNAKE: &[&str] = &[
    "gen",
    "union",
    "raw",
    "safe",
    "default",
    "string",
    "vec",
    "option",
    "result",
    "data",
    "state",
    "cmd",
    "ctx",
    "event",
    "meta",
    "hooks",
    "value",
    "item",
    "removed",
    "updates",
    "envelope",
    "aggregate_id",
    "command",
    "at",
    "v",
    "rule",
    "to_string",
    "clone",
    "into",
    "from",
    "new",
    "len",
    "is_empty",
    "some",
    "none",
    "ok",
    "err",
    "std",
    "core",
    "runtime",
    "serde",
    "schemars",
    "tokio",
    "types",
    "main",
    "info",
    "x1",
    "a_b",
    "ab",
    "v_2",
    "macro_rules",
    "self_ref",
    "super_user",
    "crate_id",
    "r",
    "t",
    "u32",
    "i64",
    "bool",
    "str",
];

/// Enum variant shapes: snake_case values whose Rust names come from case conversion.
const VARIANTS: &[&str] = &[
    "v1",
    "v_2",
    "a_b_c",
    "none",
    "some",
    "ok",
    "err",
    "default",
    "self_ref",
    "active",
    "closed",
    "x",
    "gen",
    "type_a",
    "http_ok",
    "io",
    "a1b2",
    "string",
    "vec",
    "in_review",
];

/// A field type, as the generator knows it.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Str,
    Bool,
    I32,
    I64,
    U32,
    U64,
    Money,
    Uuid,
    Timestamp,
    Date,
    /// An enum: context, name, variants.
    Enum(String, String, Vec<String>),
    /// A record: context, name.
    Record(String, String),
    List(Box<Ty>),
    Opt(Box<Ty>),
}

impl Ty {
    /// The catalog spelling, seen from context `here`.
    fn spell(&self, here: &str) -> String {
        match self {
            Ty::Str => "string".into(),
            Ty::Bool => "bool".into(),
            Ty::I32 => "i32".into(),
            Ty::I64 => "i64".into(),
            Ty::U32 => "u32".into(),
            Ty::U64 => "u64".into(),
            Ty::Money => "money".into(),
            Ty::Uuid => "uuid".into(),
            Ty::Timestamp => "timestamp".into(),
            Ty::Date => "date".into(),
            Ty::Enum(c, n, _) | Ty::Record(c, n) => {
                if c == here {
                    n.clone()
                } else {
                    format!("{c}.{n}")
                }
            }
            Ty::List(t) => format!("list<{}>", t.spell(here)),
            Ty::Opt(t) => format!("optional<{}>", t.spell(here)),
        }
    }

    fn is_int(&self) -> bool {
        matches!(self, Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::Money)
    }

    fn is_numeric_same(&self, other: &Ty) -> bool {
        let norm = |t: &Ty| if *t == Ty::Money { Ty::I64 } else { t.clone() };
        self.is_int() && norm(self) == norm(other)
    }
}

/// A field: name and type.
#[derive(Clone, Debug)]
struct F {
    name: String,
    ty: Ty,
}

/// A value type known to the generator.
#[derive(Clone, Debug)]
struct TypeInfo {
    ty: Ty,
    /// Record fields (empty for enums).
    fields: Vec<F>,
}

/// An aggregate known to the generator.
#[derive(Clone, Debug)]
struct Agg {
    name: String,
    id: &'static str,
    statuses: Vec<String>,
    state: Vec<F>,
}

/// An event known to the generator.
#[derive(Clone, Debug)]
struct Ev {
    name: String,
    agg: usize,
    fields: Vec<F>,
    rejection: bool,
    /// False once no command emits it any more (its command could not be built).
    live: bool,
}

/// A command known to the generator.
#[derive(Clone, Debug)]
struct Cmd {
    name: String,
    agg: usize,
    fields: Vec<F>,
    creates: bool,
    /// Events it emits when accepted.
    emits: Vec<usize>,
    /// Internal commands are the ones sagas send.
    internal: bool,
}

/// One generated context.
#[derive(Clone, Debug, Default)]
struct Ctx {
    name: String,
    types: Vec<TypeInfo>,
    aggs: Vec<Agg>,
    cmds: Vec<Cmd>,
    events: Vec<Ev>,
    /// Names of the shared namespace (lowercased, and snake_cased), to keep them distinct.
    taken: Vec<String>,
    routes: Vec<String>,
    /// The context's YAML document.
    doc: Map<String, Value>,
}

struct Gen<'o> {
    rng: Rng,
    opts: &'o Options,
    contexts: Vec<Ctx>,
    /// The sagas generated, for topology overrides.
    saga_names: Vec<String>,
}

fn snake(s: &str) -> String {
    heck::ToSnakeCase::to_snake_case(s)
}

/// Generates one random catalog from a seed.
pub fn generate(seed: u64, opts: &Options) -> RandomCatalog {
    let mut g = Gen {
        rng: Rng::new(seed),
        opts,
        contexts: Vec::new(),
        saga_names: Vec::new(),
    };
    let n = g.rng.range(1, 3);
    let mut ctx_words: Vec<&str> = Vec::new();
    for _ in 0..n {
        let mut w = *g.rng.pick(HOSTILE_SNAKE);
        while ctx_words.contains(&w) {
            w = *g.rng.pick(HOSTILE_SNAKE);
        }
        ctx_words.push(w);
    }
    for w in ctx_words {
        let name = if opts.tag.is_empty() {
            w.to_owned()
        } else {
            format!("{w}_{}", opts.tag)
        };
        let name = name.replace("__", "_");
        let c = g.context(name);
        g.contexts.push(c);
    }
    for i in 0..g.contexts.len() {
        let mut ctx = std::mem::take(&mut g.contexts[i]);
        g.declare_rejections(&mut ctx);
        g.contexts[i] = ctx;
    }
    for i in 0..g.contexts.len() {
        g.read_models(i);
    }
    let sagas = g.sagas();
    let topology = g.topology();
    let mut files: Vec<SourceFile> = g
        .contexts
        .iter()
        .map(|c| {
            SourceFile::new(
                format!("catalog/{}.yaml", c.name),
                pretty(&Value::Object(c.doc.clone())),
            )
        })
        .collect();
    if let Some(s) = sagas {
        files.push(SourceFile::new("sagas.yaml", pretty(&s)));
    }
    files.push(SourceFile::new("topology.yaml", pretty(&topology)));
    let planted = if opts.invalid {
        Some(g.plant(&mut files))
    } else {
        None
    };
    RandomCatalog { files, planted }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("json") + "\n"
}

impl Gen<'_> {
    /// A fresh name of the context's shared namespace.
    fn fresh(&mut self, ctx: &mut Ctx, suffix: &str) -> String {
        loop {
            let base = if self.rng.chance(60) {
                self.rng.pick(HOSTILE_PASCAL).to_string()
            } else {
                self.rng.pick(PLAIN_PASCAL).to_string()
            };
            let name = if self.rng.chance(70) || suffix.is_empty() {
                base.clone()
            } else {
                format!("{base}{suffix}")
            };
            if self.free(ctx, &name) {
                self.take(ctx, &name);
                return name;
            }
            let name = format!("{base}{}", self.rng.below(1000));
            if self.free(ctx, &name) {
                self.take(ctx, &name);
                return name;
            }
        }
    }

    fn keys(name: &str) -> [String; 2] {
        [name.to_lowercase(), snake(name)]
    }

    fn free(&self, ctx: &Ctx, name: &str) -> bool {
        Self::keys(name).iter().all(|k| !ctx.taken.contains(k))
            && !["types", "hooks", "lib", "main", "self", "super", "crate"]
                .contains(&snake(name).as_str())
    }

    fn take(&self, ctx: &mut Ctx, name: &str) {
        ctx.taken.extend(Self::keys(name));
    }

    fn field_name(&mut self, used: &mut Vec<String>, reserved: &[&str]) -> String {
        loop {
            let n = if self.rng.chance(70) {
                self.rng.pick(HOSTILE_SNAKE).to_string()
            } else {
                format!("f{}", self.rng.below(100))
            };
            if !used.contains(&n) && !reserved.contains(&n.as_str()) {
                used.push(n.clone());
                return n;
            }
        }
    }

    /// A random field type; value types from this context (declared before `limit`) and from
    /// earlier contexts.
    fn ty(&mut self, ctx: &Ctx, limit: usize, depth: u32) -> Ty {
        let r = self.rng.below(100);
        let mut available: Vec<Ty> = ctx.types[..limit].iter().map(|t| t.ty.clone()).collect();
        for c in &self.contexts {
            available.extend(c.types.iter().map(|t| t.ty.clone()));
        }
        match r {
            0..=9 => Ty::Str,
            10..=14 => Ty::Bool,
            15..=22 => Ty::I32,
            23..=27 => Ty::I64,
            28..=31 => Ty::U32,
            32..=34 => Ty::U64,
            35..=39 => Ty::Money,
            40..=46 => Ty::Uuid,
            47..=50 => Ty::Timestamp,
            51..=53 => Ty::Date,
            54..=69 if !available.is_empty() => self.rng.pick(&available).clone(),
            70..=79 if depth < 2 => Ty::List(Box::new(self.ty(ctx, limit, depth + 1))),
            80..=89 if depth < 2 => match self.ty(ctx, limit, depth + 1) {
                Ty::Opt(t) => Ty::Opt(t),
                t => Ty::Opt(Box::new(t)),
            },
            _ => Ty::Str,
        }
    }

    /// The mapping (or shorthand) of a field, with constraints that fit its type.
    fn field_value(&mut self, f: &F, here: &str) -> Value {
        let spelled = f.ty.spell(here);
        let base = match &f.ty {
            Ty::Opt(t) => (**t).clone(),
            t => t.clone(),
        };
        if self.rng.chance(45) {
            if let Ty::Opt(t) = &f.ty
                && self.rng.chance(50)
                && !matches!(**t, Ty::Opt(_) | Ty::List(_))
            {
                return json!(format!("{}?", t.spell(here)));
            }
            return json!(spelled);
        }
        let mut m = Map::new();
        m.insert("type".into(), json!(spelled));
        if self.rng.chance(30) {
            m.insert(
                "description".into(),
                json!(format!("The `{}` \"field\".", f.name)),
            );
        }
        match &base {
            t if t.is_int() => {
                let unsigned = matches!(t, Ty::U32 | Ty::U64);
                if self.rng.chance(50) {
                    m.insert("min".into(), json!(if unsigned { 0 } else { -5 }));
                }
                if self.rng.chance(50) {
                    m.insert("max".into(), json!(1000));
                }
                if self.rng.chance(20) {
                    m.insert("example".into(), json!(7));
                }
            }
            Ty::Str => {
                if self.rng.chance(40) {
                    m.insert("max_length".into(), json!(self.rng.range(5, 200)));
                }
                if self.rng.chance(30) {
                    m.insert("min_length".into(), json!(1));
                }
                if self.rng.chance(20) {
                    m.insert("non_empty".into(), json!(true));
                }
                match self.rng.below(4) {
                    0 => {
                        m.insert("pattern".into(), json!("^[a-z\"\\\\]*$"));
                    }
                    1 => {
                        m.insert("enum".into(), json!(["a", "b\"c", "d\\e"]));
                    }
                    _ => {}
                }
                if self.rng.chance(20) {
                    m.insert("example".into(), json!("ab"));
                }
            }
            Ty::List(_) => {
                if self.rng.chance(40) {
                    m.insert("non_empty".into(), json!(true));
                }
                if self.rng.chance(40) {
                    m.insert("max_length".into(), json!(10));
                }
            }
            _ => {}
        }
        Value::Object(m)
    }

    fn fields_doc(&mut self, fields: &[F], here: &str) -> Value {
        let mut m = Map::new();
        for f in fields {
            let v = self.field_value(f, here);
            m.insert(f.name.clone(), v);
        }
        Value::Object(m)
    }

    fn fields(&mut self, ctx: &Ctx, n: usize, reserved: &[&str]) -> Vec<F> {
        let mut used = Vec::new();
        (0..n)
            .map(|_| F {
                name: self.field_name(&mut used, reserved),
                ty: self.ty(ctx, ctx.types.len(), 0),
            })
            .collect()
    }

    fn context(&mut self, name: String) -> Ctx {
        let mut ctx = Ctx {
            name: name.clone(),
            ..Ctx::default()
        };
        ctx.doc.insert("context".into(), json!(name));
        if self.rng.chance(50) {
            ctx.doc.insert(
                "description".into(),
                json!("A context with \"quotes\", `ticks` and a\nsecond line."),
            );
        }
        // Value types: enums and records (records may use the types declared before them).
        let mut types = Map::new();
        for _ in 0..self.rng.range(0, 4) {
            let tname = self.fresh(&mut ctx, "");
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!(format!("The `{tname}` type.")));
            }
            if self.rng.chance(45) {
                let mut vs: Vec<String> = Vec::new();
                for _ in 0..self.rng.range(1, 4) {
                    let v = self.rng.pick(VARIANTS).to_string();
                    let pascal = heck::ToUpperCamelCase::to_upper_camel_case(v.as_str());
                    if !vs
                        .iter()
                        .any(|w| heck::ToUpperCamelCase::to_upper_camel_case(w.as_str()) == pascal)
                        && !v.ends_with('_')
                    {
                        vs.push(v);
                    }
                }
                if vs.is_empty() {
                    vs.push("x".into());
                }
                def.insert("variants".into(), json!(vs));
                ctx.types.push(TypeInfo {
                    ty: Ty::Enum(name.clone(), tname.clone(), vs),
                    fields: Vec::new(),
                });
            } else {
                let n = self.rng.range(1, 4);
                let mut used = Vec::new();
                let fields: Vec<F> = (0..n)
                    .map(|_| F {
                        name: self.field_name(&mut used, &[]),
                        ty: self.ty(&ctx, ctx.types.len(), 0),
                    })
                    .collect();
                def.insert("fields".into(), self.fields_doc(&fields, &name));
                ctx.types.push(TypeInfo {
                    ty: Ty::Record(name.clone(), tname.clone()),
                    fields,
                });
            }
            types.insert(tname, Value::Object(def));
        }
        if !types.is_empty() {
            ctx.doc.insert("types".into(), Value::Object(types));
        }
        // Aggregates with their state.
        let mut aggs = Map::new();
        for _ in 0..self.rng.range(1, 2) {
            let aname = self.fresh(&mut ctx, "");
            for derived in ["Status", "Command", "Event"] {
                let d = format!("{aname}{derived}");
                self.take(&mut ctx, &d);
            }
            let id = *self.rng.pick(&["uuid", "string", "i64"]);
            let mut statuses: Vec<String> = Vec::new();
            for _ in 0..self.rng.range(1, 3) {
                let s = self.rng.pick(VARIANTS).to_string();
                let pascal = heck::ToUpperCamelCase::to_upper_camel_case(s.as_str());
                if !statuses
                    .iter()
                    .any(|w| heck::ToUpperCamelCase::to_upper_camel_case(w.as_str()) == pascal)
                    && !s.ends_with('_')
                {
                    statuses.push(s);
                }
            }
            if statuses.is_empty() {
                statuses.push("active".into());
            }
            let n = self.rng.range(1, 4);
            let state = self.fields(&ctx, n, &["id", "status"]);
            let mut def = Map::new();
            if id != "uuid" || self.rng.chance(30) {
                def.insert("id".into(), json!(id));
            }
            def.insert("statuses".into(), json!(statuses));
            def.insert("state".into(), self.fields_doc(&state, &name));
            aggs.insert(aname.clone(), Value::Object(def));
            ctx.aggs.push(Agg {
                name: aname,
                id,
                statuses,
                state,
            });
        }
        ctx.doc.insert("aggregates".into(), Value::Object(aggs));
        // Commands and their events, per aggregate.
        for a in 0..ctx.aggs.len() {
            self.aggregate_messages(&mut ctx, a);
        }
        let mut cmds = Map::new();
        let mut events = Map::new();
        for i in 0..ctx.cmds.len() {
            let d = self.command_doc(&ctx, i);
            cmds.insert(ctx.cmds[i].name.clone(), d);
        }
        for i in 0..ctx.events.len() {
            let d = self.event_doc(&ctx, i);
            events.insert(ctx.events[i].name.clone(), d);
        }
        ctx.doc.insert("commands".into(), Value::Object(cmds));
        ctx.doc.insert("events".into(), Value::Object(events));
        ctx
    }

    /// Declares the commands and events of one aggregate: a creating command, a few others,
    /// an internal one for sagas, and their events (some of them rejections).
    fn aggregate_messages(&mut self, ctx: &mut Ctx, a: usize) {
        let n = self.rng.range(2, 4);
        for i in 0..n {
            let name = self.fresh(ctx, "Cmd");
            let creates = i == 0;
            let internal = i == n - 1;
            let nf = self.rng.range(0, 3);
            let fields = if internal {
                // Sagas fill these with literals and their own data.
                let mut used = Vec::new();
                (0..nf)
                    .map(|_| {
                        let ty = match self.rng.below(6) {
                            0 => Ty::Str,
                            1 => Ty::Bool,
                            2 => Ty::I32,
                            3 => Ty::Money,
                            4 => Ty::Opt(Box::new(Ty::U32)),
                            _ => Ty::I64,
                        };
                        F {
                            name: self.field_name(&mut used, &[]),
                            ty,
                        }
                    })
                    .collect()
            } else {
                self.fields(ctx, nf, &[])
            };
            let ev = self.event(ctx, a, false);
            let mut emits = vec![ev];
            if self.rng.chance(30) {
                emits.push(self.event(ctx, a, false));
            }
            ctx.cmds.push(Cmd {
                name,
                agg: a,
                fields,
                creates,
                emits,
                internal,
            });
        }
    }

    fn event(&mut self, ctx: &mut Ctx, a: usize, rejection: bool) -> usize {
        let name = self.fresh(ctx, "Happened");
        let n = self.rng.range(0, 3);
        let fields = self.fields(ctx, n, &[]);
        ctx.events.push(Ev {
            name,
            agg: a,
            fields,
            rejection,
            live: true,
        });
        ctx.events.len() - 1
    }

    /// An expression of type `want` over the given roots, or `None` when none fits.
    fn value_expr(&mut self, want: &Ty, sources: &[(&str, &[F])], ctx: &Ctx) -> Option<String> {
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

    fn literal(&mut self, want: &Ty, ctx: &Ctx) -> Option<String> {
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

    fn record_fields(&self, c: &str, n: &str, ctx: &Ctx) -> Option<Vec<F>> {
        self.contexts
            .iter()
            .chain(std::iter::once(ctx))
            .filter(|x| x.name == c)
            .flat_map(|x| x.types.iter())
            .find(|t| t.ty == Ty::Record(c.to_owned(), n.to_owned()))
            .map(|t| t.fields.clone())
    }

    /// A boolean rule over the given roots.
    fn bool_expr(&mut self, sources: &[(&str, &[F])], ctx: &Ctx) -> String {
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

    fn command_doc(&mut self, ctx: &Ctx, i: usize) -> Value {
        let c = ctx.cmds[i].clone();
        let agg = &ctx.aggs[c.agg];
        let mut m = Map::new();
        m.insert("aggregate".into(), json!(agg.name));
        if self.rng.chance(20) {
            m.insert("description".into(), json!(format!("Does `{}`.", c.name)));
        }
        if c.creates {
            m.insert("creates".into(), json!(true));
        } else if self.rng.chance(20) {
            m.insert("creates".into(), json!(false));
        }
        let plural = format!("r{}", snake(&agg.name).replace('_', "-"));
        if !c.internal && self.rng.chance(80) {
            let path = if c.creates && agg.id == "uuid" {
                format!("/{plural}")
            } else if c.creates {
                format!("/{plural}/{{id}}")
            } else {
                format!("/{plural}/{{id}}/{}", snake(&c.name).replace('_', "-"))
            };
            let method = if c.creates && agg.id != "uuid" {
                "PUT"
            } else {
                *self.rng.pick(&["POST", "PUT", "PATCH", "DELETE"])
            };
            let route = format!("{method} {path}");
            m.insert("route".into(), json!(route));
            m.insert(
                "roles".into(),
                json!(if self.rng.chance(50) {
                    vec!["admin", "self_user"]
                } else {
                    vec!["gen"]
                }),
            );
        }
        let state_fields = {
            let mut s = agg.state.clone();
            s.push(F {
                name: "status".into(),
                ty: Ty::Enum(
                    ctx.name.clone(),
                    format!("{}Status", agg.name),
                    agg.statuses.clone(),
                ),
            });
            s
        };
        if !c.creates && self.rng.chance(50) {
            let allowed: Vec<&String> = agg.statuses.iter().take(self.rng.range(1, 2)).collect();
            m.insert("allowed_in".into(), json!(allowed));
            if self.rng.chance(50) {
                // A rejection event of its own, whose fields come from `with`.
                // A rejection event without fields, declared in `declare_rejections`.
                m.insert(
                    "on_wrong_status".into(),
                    json!(format!("{}Blocked", c.name)),
                );
            }
        }
        if !c.fields.is_empty() {
            m.insert("fields".into(), self.fields_doc(&c.fields, &ctx.name));
        }
        let mut rules = Vec::new();
        for r in 0..self.rng.range(0, 3) {
            let mut rule = Map::new();
            rule.insert("name".into(), json!(format!("rule_{r}")));
            if self.rng.chance(15) {
                // Hooks named like methods of `Arc` or keywords, once per context.
                let hook = match ["clone", "as_ref", "into", "to_owned", "gen"].get(i) {
                    Some(h) if self.rng.chance(50) => (*h).to_owned(),
                    _ => format!("check_{}", snake(&c.name)),
                };
                rule.insert("hook".into(), json!(hook));
                // A hook name once per context: the trait has one method per hook.
                if ctx
                    .cmds
                    .iter()
                    .take(i)
                    .any(|o| snake(&o.name) == snake(&c.name))
                {
                    rule.remove("hook");
                }
            }
            if !rule.contains_key("hook") {
                let sources: Vec<(&str, &[F])> = if c.creates {
                    vec![("cmd", &c.fields[..])]
                } else {
                    vec![("cmd", &c.fields[..]), ("state", &state_fields[..])]
                };
                let e = self.bool_expr(&sources, ctx);
                rule.insert("check".into(), json!(e));
            }
            if self.rng.chance(50) {
                rule.insert("message".into(), json!("rule \"failed\""));
            }
            if self.rng.chance(30) {
                rule.insert("reject".into(), self.rejection(ctx, &c, &state_fields));
            }
            rules.push(Value::Object(rule));
        }
        // Only one hook per rule list; keep distinct hook names.
        let mut hooks_seen = 0;
        rules.retain(|r| {
            if r.get("hook").is_some() {
                hooks_seen += 1;
                hooks_seen == 1
            } else {
                true
            }
        });
        if !rules.is_empty() {
            m.insert("rules".into(), json!(rules));
        }
        let emits: Vec<Value> = c
            .emits
            .iter()
            .map(|&e| self.emit_doc(ctx, &c, e, &state_fields))
            .collect();
        m.insert("emits".into(), json!(emits));
        Value::Object(m)
    }

    /// A rejection: `{ event, with }` naming a fresh rejection event declared later. The
    /// generator declares rejection events on the fly in [`Gen::pending_rejections`].
    fn rejection(&mut self, ctx: &Ctx, c: &Cmd, state: &[F]) -> Value {
        // Rejection events reuse the emitted event's shape: they name an existing event
        // only when it has no `apply`. Simplest: a dedicated event name derived from the
        // command, with fields taken from the command.
        let _ = (ctx, state);
        let name = format!("{}Refused", c.name);
        if self.rng.chance(50) {
            json!({ "event": name, "with": { "reason": "\"refused \\\" here\"" } })
        } else {
            json!({ "event": name, "with": { "reason": "\"no\"" } })
        }
    }

    fn emit_doc(&mut self, ctx: &Ctx, c: &Cmd, e: usize, state: &[F]) -> Value {
        let ev = &ctx.events[e];
        let mut with = Map::new();
        let state_src: &[F] = if c.creates { &[] } else { state };
        for f in &ev.fields {
            let by_name = c.fields.iter().any(|g| g.name == f.name && g.ty == f.ty)
                || (!c.creates && state.iter().any(|g| g.name == f.name && g.ty == f.ty));
            if by_name && self.rng.chance(60) {
                continue;
            }
            let sources: Vec<(&str, &[F])> = vec![("cmd", &c.fields[..]), ("state", state_src)];
            let v = self
                .value_expr(&f.ty, &sources, ctx)
                .or_else(|| self.meta_expr(&f.ty, &ctx.aggs[c.agg]));
            match v {
                Some(v) => {
                    with.insert(f.name.clone(), json!(v));
                }
                None => return json!(null),
            }
        }
        if with.is_empty() && self.rng.chance(60) {
            json!(ev.name)
        } else {
            json!({ "event": ev.name, "with": with })
        }
    }

    fn meta_expr(&mut self, want: &Ty, agg: &Agg) -> Option<String> {
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

    fn event_doc(&mut self, ctx: &Ctx, i: usize) -> Value {
        let ev = ctx.events[i].clone();
        let agg = &ctx.aggs[ev.agg];
        let mut m = Map::new();
        if self.rng.chance(20) {
            m.insert("description".into(), json!("An event."));
        }
        if !ev.fields.is_empty() {
            m.insert("fields".into(), self.fields_doc(&ev.fields, &ctx.name));
        }
        if ev.rejection {
            return Value::Object(m);
        }
        let mut apply = Map::new();
        let mut touched: Vec<String> = Vec::new();
        let copy: Vec<String> = agg
            .state
            .iter()
            .filter(|s| ev.fields.iter().any(|f| f.name == s.name && f.ty == s.ty))
            .filter(|_| self.rng.chance(60))
            .map(|s| s.name.clone())
            .collect();
        touched.extend(copy.iter().cloned());
        if !copy.is_empty() {
            apply.insert("copy".into(), json!(copy));
        }
        let sources: Vec<(&str, &[F])> = vec![("event", &ev.fields[..])];
        for s in &agg.state {
            if touched.contains(&s.name) || !self.rng.chance(50) {
                continue;
            }
            let op = match &s.ty {
                t if t.is_int() => *self.rng.pick(&["set", "increment", "decrement"]),
                Ty::List(_) => *self.rng.pick(&["set", "add", "remove"]),
                _ => "set",
            };
            let want = match (&s.ty, op) {
                (Ty::List(inner), "add" | "remove") => (**inner).clone(),
                (t, _) => t.clone(),
            };
            let v = self
                .value_expr(&want, &sources, ctx)
                .or_else(|| self.meta_expr(&want, agg));
            let Some(v) = v else { continue };
            touched.push(s.name.clone());
            apply
                .entry(op.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("map")
                .insert(s.name.clone(), json!(v));
        }
        if self.rng.chance(50) {
            apply.insert("status".into(), json!(self.rng.pick(&agg.statuses)));
        }
        if !apply.is_empty() {
            m.insert("apply".into(), Value::Object(apply));
        }
        Value::Object(m)
    }

    /// Adds the read models of context `i` (projections from any context generated so far).
    fn read_models(&mut self, i: usize) {
        let mut ctx = std::mem::take(&mut self.contexts[i]);
        let mut rms = Map::new();
        for r in 0..self.rng.range(0, 2) {
            let name = self.fresh(&mut ctx, "View");
            let key_ty = self.rng.pick(&[Ty::Uuid, Ty::Str, Ty::I64]).clone();
            let key = if self.rng.chance(50) {
                "key".to_owned()
            } else {
                self.rng.pick(HOSTILE_SNAKE).to_string()
            };
            let mut fields = vec![F {
                name: key.clone(),
                ty: key_ty.clone(),
            }];
            let mut used = vec![key.clone()];
            for _ in 0..self.rng.range(1, 4) {
                let n = self.field_name(&mut used, &[]);
                let ty = self.ty(&ctx, ctx.types.len(), 0);
                fields.push(F { name: n, ty });
            }
            if self.rng.chance(50) {
                fields.push(F {
                    name: "owner".into(),
                    ty: Ty::Str,
                });
            }
            // Events of every context with an id or field of the key's type.
            let mut from = Map::new();
            let all: Vec<(String, Ev, Agg)> = self
                .contexts
                .iter()
                .chain(std::iter::once(&ctx))
                .flat_map(|c| {
                    c.events
                        .iter()
                        .filter(|e| e.live)
                        .map(|e| (c.name.clone(), e.clone(), c.aggs[e.agg].clone()))
                })
                .collect();
            for (cname, ev, agg) in &all {
                if !self.rng.chance(40) {
                    continue;
                }
                let mut cs = Map::new();
                let id_matches = matches!(
                    (agg.id, &key_ty),
                    ("uuid", Ty::Uuid) | ("string", Ty::Str) | ("i64", Ty::I64)
                );
                let named = ev.fields.iter().any(|f| f.name == key);
                let named_ok = ev.fields.iter().any(|f| f.name == key && f.ty == key_ty);
                if let Some(f) = ev.fields.iter().find(|f| f.ty == key_ty)
                    && (self.rng.chance(50) || !id_matches)
                {
                    cs.insert("key".into(), json!(format!("event.{}", f.name)));
                } else if id_matches && (named_ok || !named) && self.rng.chance(50) {
                    // The default key.
                    if named_ok {
                    } else {
                        cs.insert("key".into(), json!("meta.aggregate_id"));
                    }
                } else if id_matches {
                    cs.insert("key".into(), json!("meta.aggregate_id"));
                } else {
                    continue;
                }
                if self.rng.chance(30) {
                    cs.insert("creates".into(), json!(false));
                }
                let mut touched = vec![key.clone()];
                let copy: Vec<String> = fields
                    .iter()
                    .filter(|f| !touched.contains(&f.name))
                    .filter(|f| ev.fields.iter().any(|g| g.name == f.name && g.ty == f.ty))
                    .map(|f| f.name.clone())
                    .collect();
                if !copy.is_empty() && self.rng.chance(70) {
                    touched.extend(copy.iter().cloned());
                    cs.insert("copy".into(), json!(copy));
                }
                let sources: Vec<(&str, &[F])> = vec![("event", &ev.fields[..])];
                for f in &fields {
                    if touched.contains(&f.name) || !self.rng.chance(60) {
                        continue;
                    }
                    let op = match &f.ty {
                        t if t.is_int() => *self.rng.pick(&["set", "increment", "decrement"]),
                        Ty::List(_) => *self.rng.pick(&["set", "add", "remove"]),
                        _ => "set",
                    };
                    let want = match (&f.ty, op) {
                        (Ty::List(inner), "add" | "remove") => (**inner).clone(),
                        (t, _) => t.clone(),
                    };
                    let v = if op == "increment" || op == "decrement" {
                        ev.fields
                            .iter()
                            .find(|g| g.ty.is_numeric_same(&want))
                            .map(|g| format!("event.{}", g.name))
                            .or_else(|| Some("1".into()))
                    } else {
                        self.value_expr(&want, &sources, &ctx)
                            .or_else(|| self.meta_expr(&want, agg))
                    };
                    let Some(v) = v else { continue };
                    touched.push(f.name.clone());
                    cs.entry(op.to_owned())
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .expect("map")
                        .insert(f.name.clone(), json!(v));
                }
                let full = if *cname == ctx.name && self.rng.chance(70) {
                    ev.name.clone()
                } else {
                    format!("{cname}.{}", ev.name)
                };
                from.insert(full, Value::Object(cs));
            }
            if from.is_empty() {
                continue;
            }
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("A read model."));
            }
            def.insert("key".into(), json!(key));
            def.insert("fields".into(), self.fields_doc(&fields, &ctx.name));
            def.insert("from".into(), Value::Object(from));
            if self.rng.chance(70) {
                def.insert("query".into(), self.query(&fields, r, &name));
            }
            rms.insert(name, Value::Object(def));
        }
        if !rms.is_empty() {
            ctx.doc.insert("read_models".into(), Value::Object(rms));
        }
        self.contexts[i] = ctx;
    }

    fn query(&mut self, fields: &[F], r: usize, name: &str) -> Value {
        let mut q = Map::new();
        q.insert(
            "path".into(),
            json!(format!("/q{r}-{}", snake(name).replace('_', "-"))),
        );
        q.insert("roles".into(), json!(["admin", "gen"]));
        let mut filters = Map::new();
        let mut sort = Vec::new();
        for f in fields {
            let base = match &f.ty {
                Ty::Opt(t) => (**t).clone(),
                t => t.clone(),
            };
            let ops: &[&str] = match &base {
                t if t.is_int() => &["eq", "ne", "gt", "gte", "lt", "lte", "in"],
                Ty::Str => &["eq", "ne", "in", "gte"],
                Ty::Bool => &["eq", "ne"],
                Ty::Uuid => &["eq", "in"],
                Ty::Enum(..) => &["eq", "in"],
                _ => &[],
            };
            if !ops.is_empty() && self.rng.chance(50) {
                let n = self.rng.range(1, ops.len().min(3));
                filters.insert(f.name.clone(), json!(ops[..n].to_vec()));
            }
            if (base.is_int() || base == Ty::Str) && self.rng.chance(40) {
                sort.push(f.name.clone());
            }
        }
        if !filters.is_empty() {
            q.insert("filters".into(), Value::Object(filters));
        }
        if !sort.is_empty() {
            if self.rng.chance(50) {
                let s = self.rng.pick(&sort).clone();
                q.insert(
                    "default_sort".into(),
                    json!(if self.rng.chance(50) {
                        format!("-{s}")
                    } else {
                        s
                    }),
                );
            }
            q.insert("sort".into(), json!(sort));
        }
        if self.rng.chance(50) {
            q.insert("page_size".into(), json!(self.rng.range(1, 50)));
            q.insert("max_page_size".into(), json!(self.rng.range(50, 1000)));
        }
        if fields.iter().any(|f| f.name == "owner") && self.rng.chance(70) {
            let mut rf = Map::new();
            rf.insert("field".into(), json!("owner"));
            if self.rng.chance(50) {
                rf.insert("claim".into(), json!("sub"));
            }
            if self.rng.chance(50) {
                rf.insert("except_roles".into(), json!(["admin"]));
            }
            q.insert("row_filter".into(), Value::Object(rf));
        }
        Value::Object(q)
    }

    /// Declares the `<Command>Refused` rejection events that rules and `on_wrong_status` name.
    fn declare_rejections(&mut self, ctx: &mut Ctx) {
        let mut names: Vec<(String, usize)> = Vec::new();
        let cmds = ctx.doc.get("commands").cloned().unwrap_or(json!({}));
        for (cname, def) in cmds.as_object().expect("commands") {
            let text = def.to_string();
            let agg = ctx
                .cmds
                .iter()
                .find(|c| c.name == *cname)
                .map(|c| c.agg)
                .unwrap_or(0);
            for suffix in ["Refused", "Blocked"] {
                if text.contains(&format!("{cname}{suffix}")) {
                    names.push((format!("{cname}{suffix}"), agg));
                }
            }
        }
        // Commands whose emit could not be built are dropped: an emit of `null`.
        let mut dropped = Vec::new();
        if let Some(cmds) = ctx.doc.get_mut("commands").and_then(Value::as_object_mut) {
            cmds.retain(|name, def| {
                let bad = def["emits"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(Value::is_null));
                if bad {
                    dropped.push(name.clone());
                }
                !bad
            });
        }
        ctx.cmds.retain(|c| !dropped.contains(&c.name));
        names.retain(|(n, _)| {
            !dropped
                .iter()
                .any(|d| format!("{d}Refused") == *n || format!("{d}Blocked") == *n)
        });
        // Events no command emits any more are dropped with their commands.
        let emitted: Vec<usize> = ctx.cmds.iter().flat_map(|c| c.emits.clone()).collect();
        let unemitted: Vec<String> = ctx
            .events
            .iter()
            .enumerate()
            .filter(|(i, _)| !emitted.contains(i))
            .map(|(_, e)| e.name.clone())
            .collect();
        if let Some(evs) = ctx.doc.get_mut("events").and_then(Value::as_object_mut) {
            evs.retain(|n, _| !unemitted.contains(n));
        }
        for e in &mut ctx.events {
            e.live = !unemitted.contains(&e.name);
        }
        for (name, agg) in names {
            let mut fresh = name.clone();
            if !self.free(ctx, &fresh) {
                // Taken (rare): the rejection keeps its name only if it is this one.
                fresh = format!("{name}X");
            }
            self.take(ctx, &fresh);
            if fresh != name
                && let Some(cmds) = ctx.doc.get_mut("commands")
            {
                let text = cmds
                    .to_string()
                    .replace(&format!("\"{name}\""), &format!("\"{fresh}\""));
                *cmds = serde_json::from_str(&text).expect("json");
            }
            let blocked = name.ends_with("Blocked");
            if let Some(evs) = ctx.doc.get_mut("events").and_then(Value::as_object_mut) {
                evs.insert(
                    fresh.clone(),
                    if blocked {
                        json!({})
                    } else {
                        json!({ "fields": { "reason": "string?" } })
                    },
                );
            }
            ctx.events.push(Ev {
                name: fresh,
                agg,
                fields: if blocked {
                    Vec::new()
                } else {
                    vec![F {
                        name: "reason".into(),
                        ty: Ty::Opt(Box::new(Ty::Str)),
                    }]
                },
                rejection: true,
                live: true,
            });
        }
        // Drop aggregates whose commands were all dropped.
        let _ = &ctx.aggs;
    }

    /// Zero to two sagas over the internal commands.
    fn sagas(&mut self) -> Option<Value> {
        let mut sagas = Map::new();
        let mut used_names: Vec<String> = Vec::new();
        for _ in 0..self.rng.range(0, 2) {
            // The start: an event of a creating command.
            let starts: Vec<(usize, usize)> = self
                .contexts
                .iter()
                .enumerate()
                .flat_map(|(ci, c)| {
                    c.cmds
                        .iter()
                        .filter(|cmd| cmd.creates)
                        .flat_map(|cmd| cmd.emits.clone())
                        .map(move |e| (ci, e))
                })
                .collect();
            if starts.is_empty() {
                break;
            }
            let (sc, se) = *self.rng.pick(&starts);
            let start_ctx = self.contexts[sc].clone();
            let start_ev = start_ctx.events[se].clone();
            let id_kind = start_ctx.aggs[start_ev.agg].id;
            let corr_ty = match id_kind {
                "uuid" => "uuid",
                "string" => "string",
                _ => "i64",
            };
            // Steps: internal commands of aggregates with the same id kind.
            let steps: Vec<(usize, Cmd)> = self
                .contexts
                .iter()
                .enumerate()
                .flat_map(|(ci, c)| {
                    c.cmds
                        .iter()
                        .filter(|cmd| cmd.internal && c.aggs[cmd.agg].id == id_kind)
                        .map(move |cmd| (ci, cmd.clone()))
                })
                .collect();
            if steps.is_empty() {
                continue;
            }
            let base = self.rng.pick(HOSTILE_PASCAL).to_string();
            let mut name = format!("{base}{}", self.opts.tag.to_uppercase());
            if used_names.contains(&name) {
                name.push('B');
            }
            used_names.push(name.clone());
            let corr = self
                .rng
                .pick(&["key", "data", "id", "gen", "order_id"])
                .to_string();
            let mut data = Map::new();
            let mut init = Map::new();
            data.insert(corr.clone(), json!(corr_ty));
            init.insert(corr.clone(), json!("meta.aggregate_id"));
            // Data fields for the steps' command fields; initialised by `init` or optional.
            let mut data_fields: Vec<F> = vec![F {
                name: corr.clone(),
                ty: match corr_ty {
                    "uuid" => Ty::Uuid,
                    "string" => Ty::Str,
                    _ => Ty::I64,
                },
            }];
            let mut correlate = Map::new();
            let start_full = format!("{}.{}", start_ctx.name, start_ev.name);
            correlate.insert(start_full.clone(), json!("meta.aggregate_id"));
            let nsteps = self.rng.range(1, 3).min(steps.len());
            let mut states = Map::new();
            let state_names: Vec<String> = (0..nsteps)
                .map(|i| format!("{}Step{i}", self.rng.pick(HOSTILE_PASCAL)))
                .collect();
            let done = "Done".to_string();
            let failed = "Failed".to_string();
            for (i, sname) in state_names.iter().enumerate() {
                let (ci, cmd) = steps[self.rng.below(steps.len())].clone();
                let c = self.contexts[ci].clone();
                let c = &c;
                let mut send = Map::new();
                send.insert("command".into(), json!(format!("{}.{}", c.name, cmd.name)));
                send.insert("to".into(), json!(format!("data.{corr}")));
                let mut with = Map::new();
                for f in &cmd.fields {
                    if data_fields.iter().any(|d| d.name == f.name && d.ty == f.ty) {
                        continue;
                    }
                    if self.rng.chance(40)
                        && !data_fields.iter().any(|d| d.name == f.name)
                        && f.name != corr
                    {
                        // Declare a data field of that name, initialised in `init`.
                        let lit = self.literal(&f.ty, c).unwrap_or_else(|| "1".into());
                        data.insert(f.name.clone(), json!(f.ty.spell("")));
                        init.insert(f.name.clone(), json!(lit));
                        data_fields.push(f.clone());
                        continue;
                    }
                    let lit = self.literal(&f.ty, c).unwrap_or_else(|| "1".into());
                    with.insert(f.name.clone(), json!(lit));
                }
                if !with.is_empty() {
                    send.insert("with".into(), Value::Object(with));
                }
                let next = state_names.get(i + 1).unwrap_or(&done).clone();
                let mut st = Map::new();
                st.insert("send".into(), Value::Object(send.clone()));
                let mut on = Map::new();
                for &e in &cmd.emits {
                    let full = format!("{}.{}", c.name, c.events[e].name);
                    correlate.insert(full.clone(), json!("meta.aggregate_id"));
                    on.insert(full, json!(next));
                }
                // Rejection events of the command lead to the failed state.
                let refused = format!("{}Refused", cmd.name);
                if c.events.iter().any(|e| e.name == refused && e.rejection) {
                    let full = format!("{}.{refused}", c.name);
                    correlate.insert(full.clone(), json!("meta.aggregate_id"));
                    let mut t = Map::new();
                    t.insert("goto".into(), json!(failed));
                    if i > 0 {
                        t.insert("compensate".into(), json!(true));
                    }
                    if !data.contains_key("reason") && self.rng.chance(70) {
                        data.insert("reason".into(), json!("string?"));
                    }
                    if data.contains_key("reason") {
                        t.insert("capture".into(), json!({ "reason": "event.reason" }));
                    }
                    on.insert(full, Value::Object(t));
                }
                st.insert("on".into(), Value::Object(on));
                if self.rng.chance(60) {
                    st.insert(
                        "timeout".into(),
                        json!(*self.rng.pick(&["30s", "2m", "500ms"])),
                    );
                    if self.rng.chance(50) {
                        st.insert(
                            "retry".into(),
                            json!({ "max_attempts": 3, "initial_delay": "1s", "backoff": 2.0, "max_delay": "10s" }),
                        );
                    }
                    st.insert(
                        "on_timeout".into(),
                        if i > 0 && self.rng.chance(50) {
                            json!({ "goto": failed, "compensate": true })
                        } else {
                            json!(failed)
                        },
                    );
                }
                if self.rng.chance(50) {
                    // Compensation: the same internal command (same context).
                    st.insert("compensate_with".into(), Value::Object(send));
                }
                if self.rng.chance(20) {
                    st.insert("description".into(), json!("A step."));
                }
                states.insert(sname.clone(), Value::Object(st));
            }
            let mut done_def = Map::new();
            done_def.insert("terminal".into(), json!("completed"));
            if self.rng.chance(50) {
                // A terminal send: the first step's command once more.
                if let Some(send) = states
                    .get(&state_names[0])
                    .and_then(|s| s.get("send"))
                    .cloned()
                {
                    done_def.insert("send".into(), send);
                }
            }
            states.insert(done, Value::Object(done_def));
            if states
                .values()
                .any(|s| s.to_string().contains("\"Failed\""))
            {
                states.insert(failed, json!({ "terminal": "failed" }));
            }
            // Every step needs a way out; a failed state must be reachable: fine either way.
            let mut def = Map::new();
            if self.rng.chance(30) {
                def.insert("description".into(), json!("A saga."));
            }
            def.insert("start".into(), json!(start_full));
            def.insert("correlation".into(), json!(corr));
            def.insert("correlate".into(), Value::Object(correlate));
            def.insert("data".into(), Value::Object(data));
            def.insert("init".into(), Value::Object(init));
            def.insert("initial".into(), json!(state_names[0]));
            def.insert("states".into(), Value::Object(states));
            self.saga_names.push(name.clone());
            sagas.insert(name, Value::Object(def));
        }
        if sagas.is_empty() {
            None
        } else {
            Some(json!({ "sagas": sagas }))
        }
    }

    fn topology(&mut self) -> Value {
        let mut t = Map::new();
        if self.rng.chance(50) {
            t.insert(
                "naming".into(),
                json!({
                    "command_queue": "{context}.cmd-q",
                    "event_exchange": "{context}.evt-x",
                    "saga_queue": "sagas.{saga}",
                    "dead_letter_queue": "{queue}.dead",
                    "retry_queue": "{queue}.again.{delay}",
                }),
            );
        }
        if self.rng.chance(50) {
            let classic = self.rng.chance(30);
            let mut d = Map::new();
            d.insert(
                "queue_type".into(),
                json!(if classic { "classic" } else { "quorum" }),
            );
            d.insert("prefetch".into(), json!(self.rng.range(1, 100)));
            if !classic {
                d.insert("delivery_limit".into(), json!(self.rng.range(1, 20)));
            }
            d.insert("retry_delays".into(), json!(["1s", "30s"]));
            d.insert("max_attempts".into(), json!(self.rng.range(1, 9)));
            t.insert("defaults".into(), Value::Object(d));
        }
        let mut processes = Map::new();
        for c in &self.contexts {
            if self.rng.chance(30) {
                let p = *self
                    .rng
                    .pick(&["command-handler", "event-handler", "command-api"]);
                processes.insert(
                    format!("{}.{p}", c.name),
                    json!({ "prefetch": self.rng.range(1, 64) }),
                );
            }
        }
        if let Some(saga) = self.saga_names.first()
            && self.rng.chance(50)
        {
            processes.insert(
                format!("saga.{saga}"),
                json!({ "prefetch": 4, "max_attempts": 2 }),
            );
        }
        if !processes.is_empty() {
            t.insert("processes".into(), Value::Object(processes));
        }
        Value::Object(t)
    }

    /// Plants a collision the generator cannot rename away; returns what was planted.
    fn plant(&mut self, files: &mut [SourceFile]) -> String {
        let ctx = self.contexts[0].clone();
        let agg = &ctx.aggs[0];
        let file = files
            .iter_mut()
            .find(|f| f.path == format!("catalog/{}.yaml", ctx.name))
            .expect("context file");
        let mut doc: Value = serde_saphyr::from_str(&file.text).expect("own json");
        let what = match self.rng.below(6) {
            0 => {
                // An event named like the aggregate's generated command enum.
                let name = format!("{}Command", agg.name);
                doc["events"][&name] = json!({});
                doc["commands"]["PlantedCmd"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": [name] });
                format!("an event named `{name}`")
            }
            1 => {
                // Two variants that are one Rust variant.
                doc["types"]["PlantedEnum"] = json!({ "variants": ["v1", "v_1"] });
                "variants `v1` and `v_1`".to_owned()
            }
            2 => {
                // A message differing only in case from another one.
                let other = doc["events"]
                    .as_object()
                    .and_then(|m| m.keys().next().cloned())
                    .unwrap_or_default();
                let mut chars: Vec<char> = other.chars().collect();
                let last = chars.len() - 1;
                chars[last] = if chars[last].is_ascii_uppercase() {
                    chars[last].to_ascii_lowercase()
                } else {
                    chars[last].to_ascii_uppercase()
                };
                let name: String = chars.into_iter().collect();
                if other.is_empty()
                    || name == other
                    || !name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                {
                    doc["types"]["PlantedEnum"] = json!({ "variants": ["a_1", "a1"] });
                    "variants `a_1` and `a1`".to_owned()
                } else {
                    doc["events"][&name] = json!({});
                    doc["commands"]["PlantedCmd"] =
                        json!({ "aggregate": agg.name, "creates": true, "emits": [name] });
                    format!("events `{other}` and `{name}`")
                }
            }
            3 => {
                // An aggregate whose module would be a path keyword or a generated module.
                let name = *self
                    .rng
                    .pick(&["Crate", "Super", "Types", "Hooks", "Main", "SelF"]);
                let name = if name == "SelF" { "Self" } else { name };
                doc["aggregates"][name] = json!({ "statuses": ["on"] });
                doc["commands"]["PlantedCmd"] =
                    json!({ "aggregate": name, "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                format!("an aggregate named `{name}`")
            }
            4 => {
                // Two commands whose snake_case names (decide functions) are the same.
                doc["commands"]["HTTPCall"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": ["PlantedHappened"] });
                doc["commands"]["HttpCall"] =
                    json!({ "aggregate": agg.name, "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                "commands `HTTPCall` and `HttpCall`".to_owned()
            }
            _ => {
                // Statuses that are one Rust variant.
                doc["aggregates"]["PlantedAgg"] = json!({ "statuses": ["in_1", "in1"] });
                doc["commands"]["PlantedCmd"] = json!({ "aggregate": "PlantedAgg", "creates": true, "emits": ["PlantedHappened"] });
                doc["events"]["PlantedHappened"] = json!({});
                "statuses `in_1` and `in1`".to_owned()
            }
        };
        *file = SourceFile::new(file.path.clone(), pretty(&doc));
        what
    }
}
