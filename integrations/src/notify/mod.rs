//! Chat notifications: a workflow's `notify` section announces run outcomes (succeeded,
//! failed for good, waiting for an answer) and runs held for approval in Slack. Posting is spawned, so a slow or
//! rate-limiting Slack never holds up the end of a run; a message that cannot be posted
//! after the retries is logged as a warning (without the secret) and dropped.

pub mod blocks;
mod held;
mod slack;

pub use held::ChatAnnouncer;

pub use slack::{SlackClient, SlackError, SlackRetry, SlackTarget};

use baton_core::domain::{Run, WorkItem, WorkItemStatus};
use baton_core::workflow::{self, NotifyConfig, NotifyEvent};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What a run's end announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        pull_request: Option<String>,
    },
    /// No retry follows: the item failed, or its job went to the dead-letter queue.
    Failed {
        error: String,
        dead_lettered: bool,
    },
    AwaitingInput {
        question: String,
    },
    /// A run was requested and waits at the approval gate; no run exists yet.
    AwaitingApproval {
        /// How a person approves (`/baton approve` or the approval label).
        approve_with: String,
    },
}

impl Outcome {
    pub fn event(&self) -> NotifyEvent {
        match self {
            Self::Succeeded { .. } => NotifyEvent::Succeeded,
            Self::Failed { .. } => NotifyEvent::Failed,
            Self::AwaitingInput { .. } => NotifyEvent::AwaitingInput,
            Self::AwaitingApproval { .. } => NotifyEvent::AwaitingApproval,
        }
    }
}

/// One announcement: the issue, the run and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The issue's human identifier (`acme/app#12`, `ENG-42`).
    pub issue: String,
    pub title: String,
    pub issue_url: Option<String>,
    /// The run's id; empty while none exists (a run held for approval).
    pub run_id: String,
    /// The run's record (`BATON_PUBLIC_URL`), when baton has a public address.
    pub run_link: Option<String>,
    pub outcome: Outcome,
}

impl Notice {
    /// The notice for a run that ended with the item in `status`; `None` for ends that are
    /// not announced (a retry is coming, cancelled, abandoned). `question` is the agent's,
    /// when it asked one; `pull_request` the URL this run opened or updated.
    pub fn of_run(
        item: &WorkItem,
        run: &Run,
        status: WorkItemStatus,
        question: Option<&str>,
        pull_request: Option<&str>,
        run_link: Option<String>,
    ) -> Option<Self> {
        let outcome = match status {
            WorkItemStatus::Succeeded => Outcome::Succeeded {
                pull_request: pull_request
                    .map(str::to_owned)
                    .or_else(|| item.pull_request.as_ref().map(|pr| pr.url.clone())),
            },
            WorkItemStatus::Failed | WorkItemStatus::DeadLettered => Outcome::Failed {
                error: run.error.as_ref().map_or_else(
                    || "the run failed".to_owned(),
                    |e| format!("{}: {}", e.code, e.message),
                ),
                dead_lettered: status == WorkItemStatus::DeadLettered,
            },
            WorkItemStatus::AwaitingInput => Outcome::AwaitingInput {
                question: question?.to_owned(),
            },
            _ => return None,
        };
        Some(Self {
            issue: item.issue.identifier.clone(),
            title: item.issue.title.clone(),
            issue_url: item.issue.url.clone(),
            run_id: run.run_id.to_string(),
            run_link,
            outcome,
        })
    }
}

/// A workflow's notification settings with their client.
#[derive(Debug)]
pub struct Notifier {
    slack: SlackClient,
    on: Vec<NotifyEvent>,
}

impl Notifier {
    pub fn new(slack: SlackClient, on: Vec<NotifyEvent>) -> Self {
        Self { slack, on }
    }

    /// The notifier `config` describes, its secret read through `env`. `None` when nothing
    /// is configured, or when the variable is unset (a warning says which; runs go on).
    pub fn from_config(
        config: &NotifyConfig,
        env: &(dyn Fn(&str) -> Option<String> + Send + Sync),
    ) -> Option<Arc<Self>> {
        let slack = config.slack.as_ref()?;
        let (variable, target) = match slack.target()? {
            workflow::SlackTarget::Webhook { variable } => {
                let url = env(variable).filter(|v| !v.trim().is_empty());
                (variable, url.map(|url| SlackTarget::Webhook { url }))
            }
            workflow::SlackTarget::Bot { variable, channel } => {
                let token = env(variable).filter(|v| !v.trim().is_empty());
                let target = token.map(|token| SlackTarget::Bot {
                    api_url: slack.api_url.clone(),
                    token,
                    channel: channel.to_owned(),
                });
                (variable, target)
            }
        };
        let Some(target) = target else {
            tracing::warn!(
                variable,
                "notify.slack: the variable is not set; no chat notifications"
            );
            return None;
        };
        match SlackClient::new(target, SlackRetry::default()) {
            Ok(client) => Some(Arc::new(Self::new(client, slack.on.clone()))),
            Err(error) => {
                tracing::warn!(%error, "notify.slack: no chat notifications");
                None
            }
        }
    }

    /// Whether `event` is announced.
    pub fn posts(&self, event: NotifyEvent) -> bool {
        self.on.contains(&event)
    }

    /// Posts `notice` in the background, if its outcome is one the workflow announces.
    pub fn spawn(self: &Arc<Self>, notice: Notice) -> Option<JoinHandle<Result<(), SlackError>>> {
        if !self.posts(notice.outcome.event()) {
            return None;
        }
        let notifier = Arc::clone(self);
        Some(tokio::spawn(async move {
            let result = notifier.send(&notice).await;
            if let Err(error) = &result {
                tracing::warn!(endpoint = notifier.slack.endpoint(), issue = %notice.issue,
                    run_id = %notice.run_id, %error, "chat notification not posted");
            }
            result
        }))
    }

    /// Posts `notice` now, with the retries.
    pub async fn send(&self, notice: &Notice) -> Result<(), SlackError> {
        self.slack.post(&blocks::message(notice)).await
    }
}
