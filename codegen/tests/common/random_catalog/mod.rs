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

mod context;
mod expressions;
mod names;
mod reactions;
mod read_models;
mod sagas;
mod topology;

use codegen::source::SourceFile;
use names::{HOSTILE_PASCAL, HOSTILE_SNAKE, PLAIN_PASCAL, VARIANTS};
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

/// The seed a run uses when `RANDOM_CATALOG_SEED` is not set, so that the test command gives the
/// same verdict on every run (CI included).
pub const DEFAULT_SEED: u64 = 20_261_204;

/// The seed of a run: `RANDOM_CATALOG_SEED=<n>` replays run `n`, `RANDOM_CATALOG_SEED=random`
/// explores with a seed from the clock, and without the variable the run uses [`DEFAULT_SEED`].
/// The tests print the seed so that any failure can be replayed.
pub fn seed_from_env() -> u64 {
    match std::env::var("RANDOM_CATALOG_SEED") {
        Ok(s) if s.trim() == "random" => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RANDOM_CATALOG_SEED={s} is neither a number nor `random`")),
        Err(_) => DEFAULT_SEED,
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
    /// For a public event (declared under `public_events`), the domain event it is mapped from.
    from: Option<usize>,
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
    /// Whether fields may get a `default` (read-model fields may not).
    defaults: bool,
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
        defaults: true,
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
        g.public_events(i);
    }
    for i in 0..g.contexts.len() {
        g.read_models(i);
        g.policies(i);
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

/// A default that fits any constraint `field_value` gives the type (`None` for records).
fn default_of(ty: &Ty, non_empty: bool) -> Option<Value> {
    Some(match ty {
        Ty::Str => json!("a"),
        Ty::Bool => json!(true),
        t if t.is_int() => json!(7),
        Ty::Uuid => json!("00000000-0000-0000-0000-000000000007"),
        Ty::Timestamp => json!("2026-01-31T12:00:00.5+01:00"),
        Ty::Date => json!("2026-01-31"),
        Ty::Enum(_, _, variants) => json!(variants.last()?),
        Ty::List(_) if non_empty => return None,
        Ty::List(_) => json!([]),
        Ty::Opt(inner) => match default_of(inner, false) {
            Some(v) if !matches!(**inner, Ty::Opt(_)) => v,
            _ => Value::Null,
        },
        _ => return None,
    })
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

    /// The live events of every context built so far and of `ctx` (taken out of the list
    /// while it is being built), each with its context name and aggregate.
    fn live_events(&self, ctx: &Ctx) -> Vec<(String, Ev, Agg)> {
        self.contexts
            .iter()
            .chain(std::iter::once(ctx))
            .flat_map(|c| {
                c.events
                    .iter()
                    .filter(|e| e.live)
                    .map(|e| (c.name.clone(), e.clone(), c.aggs[e.agg].clone()))
            })
            .collect()
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
        if self.defaults && self.rng.chance(25) {
            let non_empty = m.contains_key("non_empty");
            if let Some(d) = default_of(&f.ty, non_empty) {
                m.insert("default".into(), d);
            }
        }
        if (m.contains_key("default") || matches!(f.ty, Ty::Opt(_))) && self.rng.chance(20) {
            let d = if self.rng.chance(50) {
                json!(true)
            } else {
                json!("use \"the other\" field")
            };
            m.insert("deprecated".into(), d);
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
}
