//! Delivery: what a finished run leaves on the systems people use. The profile's contract is
//! checked, the work branch is pushed and its pull request opened or updated, the issue moves
//! to the profile's next state, and the living status comment shows the evidence.
//!
//! Tracker and platform calls run here, host-side, with credentials the agent never sees.
//! Every step is idempotent (one pull request per branch, one comment per work item), so a
//! job delivered twice writes nothing twice.

use super::evidence::{Delivered, Evidence};
use baton_core::domain::{IssueSnapshot, PullRequestLink, RunError, WorkItem, WorkItemKey};
use baton_core::workflow::profile::RouteAction;
use baton_core::workflow::profile::{self, Deliverable, Delivered as Accepted, RunOutput};
use baton_core::workflow::{MergeFacts, MergeGates, Profile, Workflow};
use baton_integrations::config::ConfigError;
use baton_integrations::repo::{
    self, git, CheckState, MergeOutcome, PullRequestSpec, RepoPlatform, ReviewVerdict,
};
use baton_integrations::tracker::memory::MemoryTracker;
use baton_integrations::tracker::{IssueRef, StateMove, Tracker, TrackerIssue};
use baton_integrations::wiring::Connections;
use std::path::Path;
use std::sync::Arc;

/// The tracker, platform and contract a workflow delivers with.
pub struct DeliveryPlan {
    /// `None` when the workflow gives no `tracker.provider`: baton then reads issues from
    /// webhooks only and writes nothing back (no comment, no state move).
    pub tracker: Option<Arc<dyn Tracker>>,
    /// Set when the tracker is the in-memory one: baton's own store is then the tracker, so
    /// the issue is copied into it before anything is written there.
    memory: Option<MemoryTracker>,
    pub platform: Option<Arc<dyn RepoPlatform>>,
    pub profile: Profile,
    pub merge_gates: MergeGates,
    pub base_branch: String,
    /// Where the run's record can be read (`BATON_PUBLIC_URL`), for links in comments.
    pub public_url: Option<String>,
}

impl DeliveryPlan {
    /// The plan for `workflow`, delivering through `connections` (see
    /// [`Connections::of`]: the one place a workflow's adapters are built).
    pub fn new(
        workflow: &Workflow,
        connections: Connections,
        base_branch: &str,
        env: &(dyn Fn(&str) -> Option<String> + Send + Sync),
    ) -> Self {
        let config = &workflow.config;
        Self {
            tracker: connections.tracker,
            memory: connections.memory,
            platform: connections.platform,
            profile: config.profile.clone(),
            merge_gates: config.gates.merge.clone(),
            base_branch: base_branch.to_owned(),
            public_url: env("BATON_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
        }
    }

    /// [`DeliveryPlan::new`] with adapters of its own.
    pub fn from_workflow(
        workflow: &Workflow,
        base_branch: &str,
        env: &(dyn Fn(&str) -> Option<String> + Send + Sync),
    ) -> Result<Self, ConfigError> {
        let connections = Connections::of(workflow, env)?;
        Ok(Self::new(workflow, connections, base_branch, env))
    }

    /// The run's link for comments.
    pub fn run_link(&self, key: &WorkItemKey) -> Option<String> {
        let base = self.public_url.as_ref()?;
        Some(baton_core::links::issue_url(base, key))
    }

    /// How the tracker is addressed for `issue`; the memory tracker learns an issue another
    /// tracker originated first (its own issues are there already).
    pub fn issue_ref(&self, issue: &IssueSnapshot) -> IssueRef {
        if let Some(memory) = &self.memory {
            if memory.issue(&issue.id).is_none() {
                memory.mirror(TrackerIssue {
                    id: issue.id.clone(),
                    identifier: issue.identifier.clone(),
                    title: issue.title.clone(),
                    description: issue.body.clone(),
                    state: issue.state.clone(),
                    labels: issue.labels.clone(),
                    url: issue.url.clone(),
                    repository: issue.repository.clone(),
                    author: issue.author.clone(),
                    ..TrackerIssue::default()
                });
            }
        }
        IssueRef::of(issue)
    }

    /// The in-memory tracker, when the workflow uses it (`baton dev`, tests).
    pub fn memory_tracker(&self) -> Option<&MemoryTracker> {
        self.memory.as_ref()
    }
}

fn failure(code: &str, message: impl Into<String>) -> RunError {
    RunError {
        code: code.to_owned(),
        message: message.into(),
    }
}

/// What the attempt hands over once the agent finished cleanly.
pub struct Finished<'a> {
    pub item: &'a WorkItem,
    pub workspace: &'a Path,
    pub branch: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub evidence: &'a Evidence,
    /// `.baton/result.json`, read before the commit.
    pub result_file: Option<Result<serde_json::Value, String>>,
    /// Where the workspace was cloned from, which is where the branch goes.
    pub remote: Option<String>,
}

/// Checks the contract and delivers. An error fails the run (and is retried like any
/// failure: every step before it is idempotent).
pub async fn deliver(plan: &DeliveryPlan, finished: Finished<'_>) -> Result<Delivered, RunError> {
    let output = RunOutput {
        commit: finished.commit.map(str::to_owned),
        final_message: finished.evidence.final_message.clone(),
        result_file: finished.result_file.clone(),
    };
    let accepted = match plan.profile.check_deliverable(&output) {
        Ok(accepted) => accepted,
        // Without a repository there is no branch to deliver: the run's record is the result.
        Err(_)
            if finished.branch.is_none()
                && plan.profile.spec.deliverable == Deliverable::PullRequest =>
        {
            return Ok(Delivered::default());
        }
        Err(message) => return Err(failure("deliverable_missing", message)),
    };
    let mut delivered = Delivered::default();
    match accepted {
        Accepted::PullRequest => {
            delivered.link = deliver_pull_request(plan, &finished, &mut delivered).await?;
        }
        Accepted::Comment(text) => delivered.summary = Some(text),
        Accepted::AcceptanceCriteria { text, .. } => delivered.summary = Some(text),
        Accepted::Reviewers(reviewers) => {
            let names: Vec<String> = reviewers.iter().map(|r| format!("@{r}")).collect();
            delivered.summary = Some(format!("**Suggested reviewers:** {}", names.join(", ")));
        }
        Accepted::Triage { labels, priority } => {
            delivered.summary = Some(format!(
                "**Triage:** labels {}; priority {priority}",
                labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(route) = plan.profile.spec.after_delivery {
        let expected = last_known_state(plan, &finished.item.issue);
        move_issue(plan, &finished.item.issue, expected, route, &mut delivered).await;
    }
    Ok(delivered)
}

async fn deliver_pull_request(
    plan: &DeliveryPlan,
    finished: &Finished<'_>,
    delivered: &mut Delivered,
) -> Result<Option<PullRequestLink>, RunError> {
    let (Some(platform), Some(branch), Some(remote)) =
        (&plan.platform, finished.branch, &finished.remote)
    else {
        delivered.note = Some(
            "no `repo.provider` is configured: the commit stays on the local work branch".into(),
        );
        return Ok(None);
    };
    let credential = platform
        .git_credential()
        .await
        .map_err(|e| failure(e.code(), e.to_string()))?;
    // A plain push: the branch only moves forward. A rework run continues the branch it
    // checked out; if a person pushed to it meanwhile, git refuses and the run says so
    // rather than overwrite their commits.
    git::push(
        finished.workspace,
        remote,
        branch,
        credential.as_ref(),
        false,
    )
    .await
    .map_err(|e| failure("push_failed", e.to_string()))?;
    if let Ok(stat) = git::diff_stat(
        finished.workspace,
        &format!("origin/{}", plan.base_branch),
        "HEAD",
    )
    .await
    {
        delivered.diff = Some((stat.files_changed, stat.insertions, stat.deletions));
    }
    let issue = &finished.item.issue;
    let mut body = String::new();
    if let Some(url) = &issue.url {
        body.push_str(&format!("Resolves {url}\n\n"));
    }
    if let Some(message) = &finished.evidence.final_message {
        body.push_str(message.trim());
        body.push_str("\n\n");
    }
    body.push_str(&finished.item.key.marker());
    let spec = PullRequestSpec {
        head: branch.to_owned(),
        base: plan.base_branch.clone(),
        title: format!("{}: {}", issue.identifier, issue.title),
        body,
        labels: vec!["baton".into()],
    };
    let pr = platform
        .ensure_pull_request(&spec)
        .await
        .map_err(|e| failure("pull_request_failed", e.to_string()))?;
    delivered.pull_request = Some((pr.number, pr.url.clone()));
    Ok(Some(PullRequestLink {
        number: pr.number,
        url: pr.url,
        branch: branch.to_owned(),
    }))
}

/// Moves the issue to the state mapped to `route`, expecting the state baton last saw; a
/// person who moved it meanwhile wins, and the comment says so.
async fn move_issue(
    plan: &DeliveryPlan,
    issue: &IssueSnapshot,
    expected: Option<&str>,
    route: &str,
    delivered: &mut Delivered,
) {
    let Some(target) = plan.profile.state_for(route) else {
        return;
    };
    let Some(tracker) = &plan.tracker else {
        return;
    };
    let expected = expected.filter(|state| !state.is_empty());
    match tracker
        .move_to_state(&plan.issue_ref(issue), expected, target)
        .await
    {
        Ok(StateMove::Moved { to, .. }) => delivered.moved_to = Some(to),
        Ok(StateMove::AlreadyThere) => delivered.moved_to = Some(target.to_owned()),
        Ok(StateMove::Conflict { actual }) => {
            delivered.note = Some(format!(
                "the issue was not moved to `{target}`: someone moved it to `{actual}` meanwhile"
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "cannot move the issue");
            delivered.note = Some(format!(
                "the issue could not be moved to `{target}`: {}",
                error.code()
            ));
        }
    }
}

/// Where baton last put the issue: the webhook's state, or the route a transition moved it
/// on to when the run started.
fn last_known_state<'a>(plan: &'a DeliveryPlan, issue: &'a IssueSnapshot) -> Option<&'a str> {
    match plan.profile.route_of(&issue.state) {
        Some((_, RouteAction::TransitionThenDispatch { to })) => plan.profile.state_for(to),
        _ => Some(issue.state.as_str()),
    }
}

/// Before a run whose issue sits in a *transition then dispatch* route (planning, intake,
/// draft): moves it to the route that works on it, so people see work has started.
pub async fn transition_before_run(plan: &DeliveryPlan, issue: &IssueSnapshot) -> Option<String> {
    let (_, action) = plan.profile.route_of(&issue.state)?;
    let RouteAction::TransitionThenDispatch { to } = action else {
        return None;
    };
    let mut moved = Delivered::default();
    move_issue(plan, issue, Some(&issue.state), to, &mut moved).await;
    moved.moved_to.or(moved.note)
}

/// The review feedback a rework run is given: the newest changes-requested review and the
/// comments made with it.
pub async fn rework_feedback(plan: &DeliveryPlan, item: &WorkItem) -> Option<String> {
    let (platform, pr) = (plan.platform.as_ref()?, item.pull_request.as_ref()?);
    let reviews = match platform.reviews(pr.number).await {
        Ok(reviews) => reviews,
        Err(error) => {
            tracing::warn!(%error, "cannot read the reviews for a rework run");
            return None;
        }
    };
    let review = reviews
        .iter()
        .rev()
        .find(|r| r.verdict == ReviewVerdict::ChangesRequested)?;
    let mut text = format!(
        "A reviewer ({}) requested changes on pull request #{}. Address them on this branch.\n",
        review.author, pr.number
    );
    if !review.body.trim().is_empty() {
        text.push_str(&format!("\nReview:\n{}\n", review.body.trim()));
    }
    for comment in &review.comments {
        let place = match (&comment.path, comment.line) {
            (Some(path), Some(line)) => format!("{path}:{line}: "),
            (Some(path), None) => format!("{path}: "),
            _ => String::new(),
        };
        text.push_str(&format!("- {place}{}\n", comment.body.trim()));
    }
    Some(text)
}

/// After an approving review: merge when every merge gate passes, else say what blocks.
pub async fn merge_if_allowed(plan: &DeliveryPlan, item: &WorkItem) -> Result<Delivered, RunError> {
    let mut delivered = Delivered::default();
    let (Some(platform), Some(link)) = (&plan.platform, &item.pull_request) else {
        delivered.note = Some("nothing to merge: no pull request is linked".into());
        return Ok(delivered);
    };
    let api = |e: repo::RepoError| failure(e.code(), e.to_string());
    let pr = platform.get_pull_request(link.number).await.map_err(api)?;
    delivered.pull_request = Some((pr.number, pr.url.clone()));
    let reviews = platform.reviews(pr.number).await.map_err(api)?;
    let checks = platform.checks(pr.number).await.map_err(api)?;
    // A reviewer's latest verdict is the one that counts.
    let mut latest = std::collections::BTreeMap::new();
    for review in reviews
        .iter()
        .filter(|r| r.verdict != ReviewVerdict::Commented)
    {
        latest.insert(review.author.to_lowercase(), review.verdict);
    }
    let facts = MergeFacts {
        approved: latest.values().any(|v| *v == ReviewVerdict::Approved),
        changes_requested: latest
            .values()
            .any(|v| *v == ReviewVerdict::ChangesRequested),
        checks_passing: match checks {
            CheckState::Passing | CheckState::None => Some(true),
            CheckState::Failing => Some(false),
            CheckState::Pending => None,
        },
        mergeable: pr.mergeable,
    };
    let blockers = plan.merge_gates.blockers(&facts);
    if !blockers.is_empty() {
        delivered.note = Some(format!("not merged yet: {}", blockers.join("; ")));
        return Ok(delivered);
    }
    let Some(sha) = pr.head_sha.as_deref() else {
        delivered.note =
            Some("not merged: the platform did not say which commit is the head".into());
        return Ok(delivered);
    };
    match platform.merge(pr.number, sha).await.map_err(api)? {
        MergeOutcome::Merged { .. } => {
            delivered.note = Some(format!("merged pull request #{}", pr.number))
        }
        MergeOutcome::HeadChanged => {
            delivered.note = Some("not merged: new commits arrived after the checks".into())
        }
        MergeOutcome::NotMergeable { reason } => {
            delivered.note = Some(format!("not merged: {reason}"))
        }
    }
    Ok(delivered)
}

/// After the pull request merged: the issue moves to the profile's done state.
pub async fn finish_merged(plan: &DeliveryPlan, item: &WorkItem) -> Delivered {
    let mut delivered = Delivered::default();
    if let Some(link) = &item.pull_request {
        delivered.pull_request = Some((link.number, link.url.clone()));
    }
    match plan.profile.spec.after_merge {
        Some(route) if plan.profile.state_for(route).is_some() => {
            let expected = last_known_state(plan, &item.issue);
            move_issue(plan, &item.issue, expected, route, &mut delivered).await;
        }
        _ => delivered.note = Some("pull request merged".into()),
    }
    delivered
}

/// Reads and removes `.baton/result.json` so the deliverable never lands in a commit.
pub async fn take_result_file(workspace: &Path) -> Option<Result<serde_json::Value, String>> {
    let dir = workspace.join(".baton");
    let path = workspace.join(profile::RESULT_FILE);
    let text = tokio::fs::read_to_string(&path).await.ok();
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let text = text?;
    Some(serde_json::from_str(&text).map_err(|e| e.to_string()))
}

/// Asks the agent's question on the issue, as a new comment (people are notified of it),
/// with how to answer. A tracker failure is logged: the question is on the work item, in the
/// API and the dashboard all the same.
pub async fn ask(plan: &DeliveryPlan, item: &WorkItem, question: &str, command_prefix: &str) {
    let Some(tracker) = plan.tracker.as_ref() else {
        return;
    };
    let quoted = question.replace('\n', "\n> ");
    let body = format!(
        "{QUESTION_MARKER}\n### ❓ The agent needs an answer to go on\n\n> {quoted}\n\n\
         Reply to this issue with the answer (or `{command_prefix} answer <your answer>`); \
         the work resumes with it."
    );
    if let Err(error) = tracker
        .create_comment(&plan.issue_ref(&item.issue), &body)
        .await
    {
        tracing::warn!(work_item = %item.key, %error, "cannot post the agent's question on the issue");
    }
}

/// Marks baton's question comments (see `baton_core::domain::input::BATON_COMMENT_MARKER`).
const QUESTION_MARKER: &str = "<!-- baton:question -->";

/// Writes the living status comment: updates the work item's comment when it has one, else
/// creates it. Returns the comment's id; a tracker failure is logged and costs only the
/// comment, never the run.
pub async fn post_status(
    plan: &DeliveryPlan,
    item: &WorkItem,
    existing: Option<&str>,
    body: &str,
) -> Option<String> {
    let tracker = plan.tracker.as_ref()?;
    let issue = plan.issue_ref(&item.issue);
    if let Some(id) = existing {
        let comment = baton_integrations::tracker::CommentRef {
            id: id.to_owned(),
            url: None,
        };
        match tracker.update_comment(&issue, &comment, body).await {
            Ok(()) => return Some(id.to_owned()),
            // A person may have deleted it: a new one is better than none.
            Err(error) => {
                tracing::warn!(work_item = %item.key, %error, "cannot update the status comment; writing a new one")
            }
        }
    }
    match tracker.create_comment(&issue, body).await {
        Ok(comment) => Some(comment.id),
        Err(error) => {
            tracing::warn!(work_item = %item.key, %error, "cannot write the status comment");
            None
        }
    }
}
