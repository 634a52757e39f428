//! Where work items come from. Each origin describes itself on one trait, [`Source`]: the
//! states it starts with, the key a workflow scopes it by, how its comment links are formed,
//! and, when it posts webhooks, its webhook scheme. Nothing else in baton matches on
//! [`SourceKind`] for these.
//!
//! Adding a source is its file (under `webhooks/` when it posts webhooks, here when only the
//! poll brings its work in), a variant of [`SourceKind`], and one line in [`describe`]. The
//! suite in `contract` checks every registered source the same way.

mod memory;
mod tapd;

#[cfg(test)]
pub(crate) mod contract;

use crate::domain::{IssueSnapshot, SourceKind};
use crate::webhooks::{self, WebhookSource};

/// An origin of work items.
pub trait Source: Send + Sync + 'static {
    fn kind(&self) -> SourceKind;

    /// The states a workflow's issues are active in when `tracker.active_states` is not
    /// given, lowercased.
    fn default_active_states(&self) -> &'static [&'static str];

    /// The states that end work when `tracker.terminal_states` is not given, lowercased.
    fn default_terminal_states(&self) -> &'static [&'static str];

    /// The `tracker.provider` key that narrows a workflow to part of this source (a
    /// repository, a project, a team); `None` when the source cannot be narrowed.
    fn scope_key(&self) -> Option<&'static str>;

    /// Checks a scope value written under [`Source::scope_key`] (trimmed, not empty);
    /// `Err` says what was expected, for the error naming the key.
    fn check_scope(&self, value: &str) -> Result<(), &'static str>;

    /// Whether `issue` lies within the scope `value` (one [`Source::check_scope`] accepts).
    /// Only what every delivery of the source carries may decide it.
    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool;

    /// The address of comment `id` on the issue at `issue_url`, when the tracker has a
    /// documented anchor for it.
    fn comment_url(&self, issue_url: &str, id: &str) -> Option<String> {
        let _ = (issue_url, id);
        None
    }

    /// How the source's webhooks are verified and parsed; `None` when it posts none (the
    /// safety poll brings its work in).
    fn webhook(&self) -> Option<&'static dyn WebhookSource> {
        None
    }

    /// What the source shows the shared contract suite; required, so a source without
    /// them fails to build its tests.
    #[cfg(test)]
    fn samples(&self) -> contract::Samples;
}

/// The registry: every origin, by kind.
pub fn describe(kind: SourceKind) -> &'static dyn Source {
    match kind {
        SourceKind::Github => &webhooks::GithubSource,
        SourceKind::Linear => &webhooks::LinearSource,
        SourceKind::Jira => &webhooks::JiraSource,
        SourceKind::Gitlab => &webhooks::GitlabSource,
        SourceKind::Tapd => &tapd::TapdSource,
        SourceKind::Memory => &memory::MemorySource,
    }
}

/// The webhook scheme of `kind`; `None` for the origins that send no webhooks.
pub fn webhook(kind: SourceKind) -> Option<&'static dyn WebhookSource> {
    describe(kind).webhook()
}

/// The origins that post webhooks: the ones with a `/webhooks/{source}` route and a secret.
pub fn webhook_sources() -> impl Iterator<Item = SourceKind> {
    SourceKind::ALL
        .into_iter()
        .filter(|kind| webhook(*kind).is_some())
}

/// The webhook source named `name`: an origin without webhooks is as unknown here as a
/// name that is no origin at all.
pub fn webhook_named(name: &str) -> Option<SourceKind> {
    name.parse::<SourceKind>()
        .ok()
        .filter(|kind| webhook(*kind).is_some())
}

/// A scope value of `segments` path segments (`owner/repo`: 2; `ENG`: 1), at least when
/// `at_least`, with no blank and no empty segment; else `expected`, for the error.
pub(crate) fn check_path(
    value: &str,
    segments: usize,
    at_least: bool,
    expected: &'static str,
) -> Result<(), &'static str> {
    let parts: Vec<&str> = value.split('/').collect();
    let well_formed = !value.is_empty()
        && !value.contains(char::is_whitespace)
        && parts.iter().all(|part| !part.is_empty());
    let counted = if at_least {
        parts.len() >= segments
    } else {
        parts.len() == segments
    };
    if well_formed && counted {
        Ok(())
    } else {
        Err(expected)
    }
}

/// Whether `issue` belongs to the repository (or project path) `value`: payloads name it,
/// and the platforms compare paths without case.
pub(crate) fn in_repository(issue: &IssueSnapshot, value: &str) -> bool {
    issue
        .repository
        .as_deref()
        .is_some_and(|repository| repository.eq_ignore_ascii_case(value))
}

/// Whether `issue`'s key starts with the project or team key `value`: `PROJ` of `PROJ-7`,
/// the key before the last `-number` (Jira and Linear identifiers).
pub(crate) fn has_key_prefix(issue: &IssueSnapshot, value: &str) -> bool {
    let Some((prefix, number)) = issue.identifier.rsplit_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && prefix.eq_ignore_ascii_case(value)
}

/// A comment anchor needs a numeric id; the issue's own anchor, if any, is dropped.
pub(crate) fn anchored(
    issue_url: &str,
    id: &str,
    anchor: impl Fn(&str) -> String,
) -> Option<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = issue_url.split('#').next().unwrap_or(issue_url);
    Some(anchor(base))
}
