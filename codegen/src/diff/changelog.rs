//! `codegen changelog`: the catalog's history as Markdown — `codegen diff` between every pair
//! of consecutive git tags (and from the last tag to the working tree, "Unreleased"), rendered
//! from `templates/docs/changelog.md`.

use super::against::{Against, tags};
use super::report::Summary;
use super::{Catalog, Finding, Verdict, compare};
use crate::emit::docs::md_cell;
use askama::Template;
use std::path::Path;

/// The releases of the catalog at `root`, newest first: one per git tag matching `pattern`,
/// each compared with the tag before it, and `Unreleased` (the working tree against the last
/// tag) when anything changed since.
pub fn from_git(root: &Path, pattern: &str) -> Result<Vec<Release>, String> {
    let tags = tags(root, pattern)?;
    if tags.is_empty() {
        return Err(format!(
            "no git tag matches `{pattern}` in the repository at `{}`",
            root.display()
        ));
    }
    let mut catalogs = Vec::new();
    for tag in &tags {
        let files = Against::Git(tag.clone()).read_files(root)?;
        let checked = crate::check_files_warned(files)
            .map_err(|r| format!("the catalog at `{tag}` does not load:\n{}", r.render()))?;
        catalogs.push(checked);
    }
    let current = crate::load_catalog_warned(root).map_err(|e| match e {
        crate::LoadError::Read(e) => e.to_string(),
        crate::LoadError::Invalid(r) => format!("the catalog does not load:\n{}", r.render()),
    })?;
    let mut releases = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        releases.push(match i.checked_sub(1) {
            None => Release {
                title: tag.clone(),
                against: None,
                findings: Vec::new(),
                contents: contents(&catalogs[i].model),
            },
            Some(prev) => Release {
                title: tag.clone(),
                against: Some(tags[prev].clone()),
                findings: compare(Catalog::of(&catalogs[prev]), Catalog::of(&catalogs[i])),
                contents: contents(&catalogs[i].model),
            },
        });
    }
    let last = catalogs.last().expect("at least one tag");
    let unreleased = compare(Catalog::of(last), Catalog::of(&current));
    if !unreleased.is_empty() {
        releases.push(Release {
            title: "Unreleased".to_owned(),
            against: tags.last().cloned(),
            findings: unreleased,
            contents: contents(&current.model),
        });
    }
    releases.reverse();
    Ok(releases)
}

/// `4 contexts, 27 messages, 4 read models, 1 saga(s)`.
fn contents(model: &crate::model::Model) -> String {
    let messages: usize = model
        .contexts
        .iter()
        .map(|c| c.commands.len() + c.events.len())
        .sum();
    let read_models: usize = model.contexts.iter().map(|c| c.read_models.len()).sum();
    format!(
        "{} context(s), {messages} message(s), {read_models} read model(s), {} saga(s)",
        model.contexts.len(),
        model.sagas.len()
    )
}

/// One version of the catalog and what changed since the one before.
#[derive(Clone, Debug)]
pub struct Release {
    /// The heading: a tag, or `Unreleased`.
    pub title: String,
    /// The version it is compared with (`None` for the first tagged version).
    pub against: Option<String>,
    /// What changed since `against`.
    pub findings: Vec<Finding>,
    /// For the first version: what the catalog holds (`4 contexts, 27 messages`).
    pub contents: String,
}

/// A finding as a table row, Markdown-escaped.
struct Row {
    verdict: &'static str,
    kind: String,
    subject: String,
    message: String,
    step: String,
}

/// A release as the template shows it.
struct View {
    title: String,
    against: Option<String>,
    summary: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "docs/changelog.md", escape = "none")]
struct ChangelogTemplate {
    releases: Vec<View>,
}

/// Renders the changelog, releases in the order given (newest first).
pub fn render(releases: &[Release]) -> Result<String, String> {
    let views = releases
        .iter()
        .map(|r| {
            let s = Summary::of(&r.findings);
            let summary = if r.against.is_some() {
                format!(
                    "{} change(s): {} breaking, {} migration, {} compatible",
                    r.findings.len(),
                    s.breaking,
                    s.migration,
                    s.compatible
                )
            } else {
                r.contents.clone()
            };
            let mut rows: Vec<&Finding> = r.findings.iter().collect();
            // Breaking first, then migrations, then compatible changes; stable within each.
            rows.sort_by_key(|f| match f.verdict {
                Verdict::Breaking => 0,
                Verdict::Migration => 1,
                Verdict::Compatible => 2,
            });
            View {
                title: r.title.clone(),
                against: r.against.clone(),
                summary,
                rows: rows
                    .into_iter()
                    .map(|f| Row {
                        verdict: f.verdict.name(),
                        kind: f.kind.to_string(),
                        subject: md_cell(&f.subject),
                        message: md_cell(&f.message),
                        step: md_cell(f.step.as_deref().unwrap_or("")),
                    })
                    .collect(),
            }
        })
        .collect();
    ChangelogTemplate { releases: views }
        .render()
        .map_err(|e| format!("changelog: {e}"))
}
