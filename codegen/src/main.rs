//! The `codegen` command line.

use clap::{Parser, Subcommand};
use codegen::LoadError;
use codegen::project::{GitPin, RuntimeSource};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Compiles YAML catalogs of message-driven microservices into Rust service crates and docs.
#[derive(Debug, Parser)]
#[command(name = "codegen", version, about)]
struct Cli {
    /// The catalog root (holding `catalog/`, `sagas.yaml`, `topology.yaml`, `project.yaml`).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Starts a new project in DIR (default: the current folder), then generates it.
    Init {
        /// The folder of the new project (created when missing).
        dir: Option<PathBuf>,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Validates the catalog and prints every problem found.
    Check,
    /// Generates the service crates and documents under `generated/`.
    Generate {
        /// Writes nothing; fails when `generated/` is not what the catalog produces.
        #[arg(long)]
        check: bool,
    },
    /// Classifies every change since an earlier catalog: compatible, migration or breaking.
    ///
    /// Exit 0: nothing breaking; 1: a breaking change no `--accept` file accepts; 2: usage or
    /// load error. README.md, "Evolving a running system", lists every kind of change.
    Diff {
        /// The earlier catalog: a git revision of the repository holding the catalog root
        /// (read with `git show`), or a catalog root folder.
        #[arg(long, value_name = "GIT_REF|DIR", default_value = "HEAD")]
        against: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// A YAML file of breaking changes made on purpose (`accept: [{ kind, subject }]`).
        #[arg(long, value_name = "FILE")]
        accept: Option<PathBuf>,
    },
    /// Writes the catalog's changelog (Markdown): `diff` between consecutive git tags, and
    /// from the last tag to the working tree.
    Changelog {
        /// Glob of the tags that are versions.
        #[arg(long, default_value = "v*")]
        tags: String,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Prints the JSON Schemas of the catalog files, or writes them to a folder.
    Schema {
        /// Folder to write `context.schema.json`, `sagas.schema.json`, `topology.schema.json`
        /// and `project.schema.json` to.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With `--out`: writes nothing; fails when the files there differ.
        #[arg(long, requires = "out")]
        check: bool,
    },
}

/// Output formats of `diff`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    /// Positioned findings with snippets, like the catalog diagnostics.
    Text,
    /// A stable JSON array of findings.
    Json,
}

/// Where a new project's crates take the `runtime` crate from; at most one of `--runtime-path`,
/// `--runtime-git` and `--runtime-version` (default: the `runtime` folder beside this
/// `codegen`'s own source, while it is still there).
#[derive(Debug, clap::Args)]
struct RuntimeArgs {
    /// A folder holding the `runtime` crate (relative to DIR, or absolute).
    #[arg(long, value_name = "FOLDER", conflicts_with_all = ["runtime_git", "runtime_version"])]
    runtime_path: Option<String>,
    /// A git repository whose workspace holds the `runtime` crate.
    #[arg(long, value_name = "URL", conflicts_with = "runtime_version")]
    runtime_git: Option<String>,
    /// With `--runtime-git`: the commit to pin.
    #[arg(long, requires = "runtime_git", conflicts_with_all = ["tag", "branch"])]
    rev: Option<String>,
    /// With `--runtime-git`: the tag to pin.
    #[arg(long, requires = "runtime_git", conflicts_with = "branch")]
    tag: Option<String>,
    /// With `--runtime-git`: the branch to follow.
    #[arg(long, requires = "runtime_git")]
    branch: Option<String>,
    /// A registry version requirement of the `runtime` crate (e.g. `0.1`).
    #[arg(long, value_name = "VERSION")]
    runtime_version: Option<String>,
    /// With `--runtime-version`: a registry configured in `.cargo/config.toml`.
    #[arg(long, requires = "runtime_version")]
    registry: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Init { dir, runtime } => init(dir.as_deref().unwrap_or(Path::new(".")), runtime),
        Command::Check => check(&cli.root),
        Command::Generate { check } => generate(&cli.root, *check),
        Command::Schema { out, check } => schema(out.as_deref(), *check),
        Command::Diff {
            against,
            format,
            accept,
        } => Ok(diff(&cli.root, against, *format, accept.as_deref())),
        Command::Changelog { tags, out } => changelog(&cli.root, tags, out.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init(dir: &Path, args: &RuntimeArgs) -> Result<ExitCode, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let abs = dir
        .canonicalize()
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let taken: Vec<&str> = codegen::init::PROJECT_MARKERS
        .into_iter()
        .filter(|m| abs.join(m).exists())
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "`{}` already holds a project ({}): `init` writes only into a folder without one",
            dir.display(),
            taken.join(", ")
        ));
    }
    let runtime = if let Some(p) = &args.runtime_path {
        RuntimeSource::Path(p.clone())
    } else if let Some(url) = &args.runtime_git {
        let pin = match (&args.rev, &args.tag, &args.branch) {
            (Some(r), _, _) => Some(GitPin::Rev(r.clone())),
            (_, Some(t), _) => Some(GitPin::Tag(t.clone())),
            (_, _, Some(b)) => Some(GitPin::Branch(b.clone())),
            _ => None,
        };
        RuntimeSource::Git {
            url: url.clone(),
            pin,
        }
    } else if let Some(v) = &args.runtime_version {
        RuntimeSource::Registry {
            version: v.clone(),
            registry: args.registry.clone(),
        }
    } else {
        let bundled = codegen::init::bundled_runtime().ok_or(
            "this codegen was built from a source folder that no longer holds `runtime/`: \
             say where the runtime crate is with --runtime-path, --runtime-git or \
             --runtime-version",
        )?;
        RuntimeSource::Path(codegen::init::relative_path(&abs, &bundled))
    };
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".to_owned());
    let files = codegen::init::scaffold(&name, &runtime).map_err(|e| e.to_string())?;
    for (path, text) in &files {
        write_file(&abs.join(path), text)?;
    }
    println!(
        "created the project `{name}` in {} ({} files)",
        dir.display(),
        files.len()
    );
    let code = generate(dir, false)?;
    if code == ExitCode::SUCCESS {
        let cd = if dir == Path::new(".") {
            String::new()
        } else {
            format!("cd {} && ", dir.display())
        };
        println!(
            "next: {cd}cargo build && cargo test; edit catalog/*.yaml, then `codegen generate` (README.md)"
        );
    }
    Ok(code)
}

fn check(root: &Path) -> Result<ExitCode, String> {
    // Both are loaded first so that one run reports the problems of both.
    let catalog = codegen::load_catalog_warned(root);
    let project = codegen::project::load_project(root);
    let mut failed = false;
    for e in [catalog.as_ref().err(), project.as_ref().err()]
        .into_iter()
        .flatten()
    {
        report(e);
        failed = true;
    }
    let Ok(checked) = catalog else {
        return Ok(ExitCode::FAILURE);
    };
    eprint!("{}", checked.render_warnings());
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    let model = checked.model;
    let messages: usize = model
        .contexts
        .iter()
        .map(|c| c.commands.len() + c.events.len())
        .sum();
    println!(
        "catalog ok: {} contexts, {messages} messages, {} read models, {} sagas",
        model.contexts.len(),
        model
            .contexts
            .iter()
            .map(|c| c.read_models.len())
            .sum::<usize>(),
        model.sagas.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn generate(root: &Path, check: bool) -> Result<ExitCode, String> {
    let catalog = codegen::load_catalog_warned(root);
    let project = codegen::project::load_project(root);
    let (Ok(checked), Ok(project)) = (&catalog, &project) else {
        for e in [catalog.as_ref().err(), project.as_ref().err()]
            .into_iter()
            .flatten()
        {
            report(e);
        }
        return Ok(ExitCode::FAILURE);
    };
    let runtime = match project.runtime_source(root) {
        Ok(r) => r,
        Err(e) => {
            report(&e);
            return Ok(ExitCode::FAILURE);
        }
    };
    eprint!("{}", checked.render_warnings());
    let model = &checked.model;
    let options = codegen::emit::rust::RustOptions { runtime };
    let output = codegen::emit::generate_with(model, &options).map_err(|e| e.to_string())?;
    let dir = root.join(codegen::emit::OUTPUT_DIR);
    let starters =
        codegen::emit::rust::hooks::starters(model, &options.runtime).map_err(|e| e.to_string())?;
    let missing: Vec<&(String, String)> = starters
        .iter()
        .filter(|(p, _)| !root.join(p).exists())
        .collect();
    hook_crate_dependencies(root, model);
    if check {
        let mut stale = output.stale(&dir).map_err(|e| e.to_string())?;
        stale.extend(
            missing
                .iter()
                .map(|(p, _)| format!("missing hook crate file: {p}")),
        );
        if stale.is_empty() {
            println!("generated/ is up to date ({} files)", output.len());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "generated/ is stale: {} difference{}",
            stale.len(),
            if stale.len() == 1 { "" } else { "s" }
        );
        for s in &stale {
            eprintln!("  {s}");
        }
        eprintln!("run `codegen generate` and commit the result");
        return Ok(ExitCode::FAILURE);
    }
    let summary = output.write(&dir).map_err(|e| e.to_string())?;
    println!("{summary}");
    for (path, text) in missing {
        write_file(&root.join(path), text)?;
        println!("wrote the starter {path}: implement its hooks (the build fails until you do)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Warns about an existing hooks crate that lacks a generated package its hooks now need (the
/// starter is written once, so a hook added later to the catalog does not update it).
fn hook_crate_dependencies(root: &Path, model: &codegen::model::Model) {
    use codegen::emit::rust::hooks::{HOOKS_DIR, dependencies, dependency_line};
    for ctx in model.contexts.iter().filter(|c| c.has_hooks_crate()) {
        let path = format!("{HOOKS_DIR}/{}/Cargo.toml", ctx.name);
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue;
        };
        for dep in dependencies(ctx) {
            let declared = text.lines().any(|l| {
                l.trim_start().starts_with(&format!("{dep} "))
                    || l.trim_start().starts_with(&format!("{dep}="))
            });
            if !declared {
                eprintln!(
                    "warning: {path} does not depend on `{dep}`, which the hooks of `{}` need; add under [dependencies]:\n  {}",
                    ctx.name,
                    dependency_line(&dep)
                );
            }
        }
    }
}

/// `changelog`: the Markdown history of the catalog, to `out` or standard output.
fn changelog(root: &Path, tags: &str, out: Option<&Path>) -> Result<ExitCode, String> {
    use codegen::diff::changelog;
    let text = changelog::render(&changelog::from_git(root, tags)?)?;
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `diff`: exit 0 without breaking findings, 1 with breaking ones not accepted, 2 when a
/// catalog or the accept file cannot be loaded.
fn diff(root: &Path, against: &str, format: Format, accept: Option<&Path>) -> ExitCode {
    use codegen::diff::{self, accept::AcceptFile, against::Against, report};
    let usage = ExitCode::from(2);
    let after = match codegen::load_catalog_warned(root) {
        Ok(c) => c,
        Err(e) => {
            report(&e);
            return usage;
        }
    };
    let against = Against::from_arg(against);
    let files = match against.read_files(root) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return usage;
        }
    };
    let prefix = against.prefix();
    let before = match codegen::check_files_warned(files) {
        Ok(c) => c,
        Err(r) => {
            eprintln!("error: the earlier catalog (`{prefix}`) does not load:");
            eprint!("{}", r.render());
            return usage;
        }
    };
    let accepted = match accept.map(|p| {
        std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read `{}`: {e}", p.display()))
            .and_then(|t| AcceptFile::parse(&t).map_err(|e| format!("{}: {e}", p.display())))
    }) {
        None => AcceptFile::default(),
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return usage;
        }
    };
    let mut findings = diff::compare(diff::Catalog::of(&before), diff::Catalog::of(&after));
    for unused in accepted.apply(&mut findings) {
        eprintln!(
            "warning: the accepted change {} `{}` matches no finding",
            unused.kind, unused.subject
        );
    }
    match format {
        Format::Text => print!(
            "{}",
            report::text(
                &findings,
                report::Shown {
                    before: &before.sources,
                    before_prefix: &prefix,
                    after: &after.sources,
                },
            )
        ),
        Format::Json => print!("{}", report::json(&findings)),
    }
    if report::Summary::of(&findings).fails() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn schema(out: Option<&Path>, check: bool) -> Result<ExitCode, String> {
    let schemas = codegen::schema::schemas();
    let Some(out) = out else {
        for (name, schema) in &schemas {
            println!("// {name}\n{}", codegen::schema::to_json(schema));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut differ = Vec::new();
    for (name, schema) in &schemas {
        let path = out.join(name);
        let text = codegen::schema::to_json(schema);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                differ.push(path.display().to_string());
            }
        } else {
            write_file(&path, &text)?;
            println!("wrote {}", path.display());
        }
    }
    if differ.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "schemas are stale: {}\nrun `codegen schema --out {}`",
            differ.join(", "),
            out.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Writes `text` to `path`, creating its folder.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn report(e: &LoadError) {
    match e {
        LoadError::Read(e) => eprintln!("error: {e}"),
        LoadError::Invalid(report) => eprint!("{}", report.render()),
    }
}
