//! Runs held for approval, announced in the workflow's chat: the ingress's [`Announcer`].
//! The workflow's `notify` section is read at each hold (workflows reload), so a deployment
//! serving many workflows announces each hold where its own workflow says.

use super::{Notice, Notifier, Outcome};
use async_trait::async_trait;
use baton_core::ports::{Announcer, HeldRun};
use baton_core::workflow::NotifyEvent;
use std::sync::Arc;

type Env = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Posts "waiting for approval" to the Slack a held run's workflow names.
pub struct ChatAnnouncer {
    env: Arc<Env>,
    /// `BATON_PUBLIC_URL`, without a trailing slash, for the link to the item's record.
    public_url: Option<String>,
}

impl ChatAnnouncer {
    /// Secrets and the public address are read through `env` (the process environment in
    /// production).
    pub fn new(env: Arc<Env>) -> Self {
        let public_url = env("BATON_PUBLIC_URL")
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        Self { env, public_url }
    }

    /// The announcer of a process whose secrets are in its environment.
    pub fn from_process_env() -> Self {
        Self::new(Arc::new(|name: &str| std::env::var(name).ok()))
    }
}

#[async_trait]
impl Announcer for ChatAnnouncer {
    async fn awaiting_approval(&self, held: HeldRun<'_>) {
        let config = &held.workflow.config;
        if !config
            .notify
            .slack
            .as_ref()
            .is_some_and(|slack| slack.posts(NotifyEvent::AwaitingApproval))
        {
            return;
        }
        let Some(notifier) = Notifier::from_config(&config.notify, &*self.env) else {
            return;
        };
        let prefix = config.triggers.command_prefix.trim();
        let label = config.gates.approval_label.trim();
        let approve_with = if label.is_empty() {
            format!("{prefix} approve")
        } else {
            format!("{prefix} approve` or the label `{label}")
        };
        let notice = Notice {
            issue: held.issue.identifier.clone(),
            title: held.issue.title.clone(),
            issue_url: held.issue.url.clone(),
            run_id: String::new(),
            run_link: self
                .public_url
                .as_deref()
                .map(|base| baton_core::links::issue_url(base, held.work_item)),
            outcome: Outcome::AwaitingApproval { approve_with },
        };
        if let Err(error) = notifier.send(&notice).await {
            tracing::warn!(work_item = %held.work_item, %error,
                "could not announce the run held for approval");
        }
    }
}
