//! The `codegen` command line.

use clap::{Parser, Subcommand};
use codegen::LoadError;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compiles YAML catalogs of message-driven microservices into Rust service crates and docs.
#[derive(Debug, Parser)]
#[command(name = "codegen", version, about)]
struct Cli {
    /// The catalog root (holding `catalog/`, `sagas.yaml`, `topology.yaml`).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validates the catalog and prints every problem found.
    Check,
    /// Generates the service crates and documents under `generated/`.
    Generate {
        /// Writes nothing; fails when `generated/` is not what the catalog produces.
        #[arg(long)]
        check: bool,
    },
    /// Prints the JSON Schemas of the catalog files, or writes them to a folder.
    Schema {
        /// Folder to write `context.schema.json`, `sagas.schema.json`, `topology.schema.json` to.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With `--out`: writes nothing; fails when the files there differ.
        #[arg(long, requires = "out")]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Command::Check => {
            let model = match codegen::load_catalog_warned(&cli.root) {
                Ok(c) => {
                    eprint!("{}", c.render_warnings());
                    c.model
                }
                Err(e) => return Ok(report(e)),
            };
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
        Command::Generate { check } => {
            let model = match codegen::load_catalog_warned(&cli.root) {
                Ok(c) => {
                    eprint!("{}", c.render_warnings());
                    c.model
                }
                Err(e) => return Ok(report(e)),
            };
            let options = codegen::emit::rust::RustOptions {
                runtime_path: runtime_path(&cli.root),
            };
            let output =
                codegen::emit::generate_with(&model, &options).map_err(|e| e.to_string())?;
            let dir = cli.root.join(codegen::emit::OUTPUT_DIR);
            let starters = codegen::emit::rust::hooks::starters(&model, &options.runtime_path)
                .map_err(|e| e.to_string())?;
            let missing: Vec<&(String, String)> = starters
                .iter()
                .filter(|(p, _)| !cli.root.join(p).exists())
                .collect();
            if *check {
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
                let target = cli.root.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
                }
                std::fs::write(&target, text)
                    .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
                println!(
                    "wrote the starter {path}: implement its hooks (the build fails until you do)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { out, check } => {
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
                if *check {
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                        differ.push(path.display().to_string());
                    }
                } else {
                    std::fs::create_dir_all(out)
                        .map_err(|e| format!("cannot create `{}`: {e}", out.display()))?;
                    std::fs::write(&path, text)
                        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
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
    }
}

/// The path of the `runtime` crate relative to the catalog root: the nearest `runtime/`
/// folder with a `Cargo.toml` in the root or one of its parents.
fn runtime_path(root: &std::path::Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut up = String::new();
    for dir in root.ancestors() {
        if dir.join("runtime/Cargo.toml").is_file() {
            return format!("{up}runtime");
        }
        up.push_str("../");
    }
    "runtime".to_owned()
}

fn report(e: LoadError) -> ExitCode {
    match e {
        LoadError::Read(e) => eprintln!("error: {e}"),
        LoadError::Invalid(report) => eprint!("{}", report.render()),
    }
    ExitCode::FAILURE
}
