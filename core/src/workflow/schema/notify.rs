//! `notify`: where run outcomes are announced in chat. Only Slack for now, through an
//! incoming webhook or a bot token and a channel. The credential is always a `$VARIABLE`:
//! a webhook URL is itself a secret, so neither it nor a token may be written in the file.

use super::invalid;
use crate::workflow::WorkflowError;
use serde::Deserialize;

/// Slack's Web API, unless `api_url` says otherwise (tests, proxies).
pub const SLACK_API_URL: &str = "https://slack.com/api";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    pub slack: Option<SlackNotifyConfig>,
}

/// What may be announced: a run's end, or a run held at the approval gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// The run succeeded (with its pull request, when there is one).
    Succeeded,
    /// The run failed for good: no retry is scheduled (failed or dead-lettered).
    Failed,
    /// The agent asked a question and the item waits for an answer.
    AwaitingInput,
    /// A run was requested but `gates.approval_required` holds it until a person approves
    /// (announced by the ingress, which decides it).
    AwaitingApproval,
}

impl NotifyEvent {
    pub const ALL: [Self; 4] = [
        Self::Succeeded,
        Self::Failed,
        Self::AwaitingInput,
        Self::AwaitingApproval,
    ];
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackNotifyConfig {
    /// `$VARIABLE` holding an incoming webhook URL.
    pub webhook_url: Option<String>,
    /// `$VARIABLE` holding a bot token (`xoxb-…`), used with `channel`.
    pub token: Option<String>,
    /// The channel id (or name) `chat.postMessage` posts to.
    pub channel: Option<String>,
    /// Which outcomes are posted; all of them by default.
    pub on: Vec<NotifyEvent>,
    pub api_url: String,
}

impl Default for SlackNotifyConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            token: None,
            channel: None,
            on: NotifyEvent::ALL.to_vec(),
            api_url: SLACK_API_URL.into(),
        }
    }
}

/// Where a Slack message goes, with the names of the variables that hold the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackTarget<'a> {
    Webhook { variable: &'a str },
    Bot { variable: &'a str, channel: &'a str },
}

impl SlackNotifyConfig {
    /// The target as configured; only meaningful once [`NotifyConfig::validate`] passed.
    pub fn target(&self) -> Option<SlackTarget<'_>> {
        match (&self.webhook_url, &self.token, &self.channel) {
            (Some(url), None, None) => Some(SlackTarget::Webhook {
                variable: variable_name(url)?,
            }),
            (None, Some(token), Some(channel)) => Some(SlackTarget::Bot {
                variable: variable_name(token)?,
                channel,
            }),
            _ => None,
        }
    }

    /// Whether `event` is posted.
    pub fn posts(&self, event: NotifyEvent) -> bool {
        self.on.contains(&event)
    }

    fn validate(&self) -> Result<(), WorkflowError> {
        for (key, value) in [("webhook_url", &self.webhook_url), ("token", &self.token)] {
            // The value is never echoed: it may be the secret itself.
            if value.as_deref().is_some_and(|v| variable_name(v).is_none()) {
                return Err(invalid(
                    &format!("notify.slack.{key}"),
                    "must name an environment variable as `$NAME`; secrets never live in \
                     the workflow file (the value is not shown)",
                ));
            }
        }
        match (&self.webhook_url, &self.token, &self.channel) {
            (Some(_), Some(_), _) => Err(invalid(
                "notify.slack",
                "takes `webhook_url` or `token` (with `channel`), not both",
            )),
            (None, None, _) => Err(invalid(
                "notify.slack",
                "needs `webhook_url: $VARIABLE`, or `token: $VARIABLE` and `channel`",
            )),
            (Some(_), None, Some(_)) => Err(invalid(
                "notify.slack.channel",
                "goes with `token`; an incoming webhook posts to its own channel",
            )),
            (None, Some(_), None) => {
                Err(invalid("notify.slack.channel", "is required with `token`"))
            }
            (None, Some(_), Some(channel)) if channel.trim().is_empty() => {
                Err(invalid("notify.slack.channel", "must not be empty"))
            }
            _ => {
                let parsed = self.api_url.parse::<http::Uri>();
                let web = parsed.is_ok_and(|u| {
                    matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
                });
                if !web {
                    return Err(invalid("notify.slack.api_url", "must be an http(s) URL"));
                }
                Ok(())
            }
        }
    }
}

impl NotifyConfig {
    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        self.slack
            .as_ref()
            .map_or(Ok(()), SlackNotifyConfig::validate)
    }
}

/// `NAME` of `$NAME`, when it is a plausible environment variable name.
fn variable_name(reference: &str) -> Option<&str> {
    let name = reference.trim().strip_prefix('$')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;

    fn parse(notify: &str) -> Result<Workflow, WorkflowError> {
        Workflow::parse(&format!(
            "---\ntracker: {{kind: github}}\nnotify:\n{notify}\n---\nprompt"
        ))
    }

    #[test]
    fn a_webhook_or_a_bot_token_and_channel_is_read_with_all_events_by_default() {
        let workflow = parse("  slack:\n    webhook_url: $SLACK_WEBHOOK_URL").expect("valid");
        let slack = workflow.config.notify.slack.expect("slack");
        assert_eq!(
            slack.target(),
            Some(SlackTarget::Webhook {
                variable: "SLACK_WEBHOOK_URL"
            })
        );
        assert!(NotifyEvent::ALL.iter().all(|e| slack.posts(*e)));
        assert_eq!(slack.api_url, SLACK_API_URL);

        let workflow = parse(
            "  slack:\n    token: $SLACK_BOT_TOKEN\n    channel: C0123\n    on: [failed]\n    api_url: http://127.0.0.1:9/api",
        )
        .expect("valid");
        let slack = workflow.config.notify.slack.expect("slack");
        assert_eq!(
            slack.target(),
            Some(SlackTarget::Bot {
                variable: "SLACK_BOT_TOKEN",
                channel: "C0123"
            })
        );
        assert!(slack.posts(NotifyEvent::Failed) && !slack.posts(NotifyEvent::Succeeded));
        assert!(parse("").expect("empty").config.notify.slack.is_none());
    }

    #[test]
    fn a_literal_secret_is_refused_naming_the_key_without_echoing_it() {
        for (notify, key) in [
            (
                "  slack:\n    webhook_url: https://hooks.slack.com/services/T0/B0/sekrit",
                "notify.slack.webhook_url",
            ),
            (
                "  slack:\n    token: xoxb-sekrit\n    channel: C1",
                "notify.slack.token",
            ),
        ] {
            let error = parse(notify).expect_err(notify).to_string();
            assert!(error.contains(key), "{error}");
            assert!(error.contains("$NAME"), "{error}");
            assert!(!error.contains("sekrit"), "{error}");
        }
    }

    #[test]
    fn incomplete_or_mixed_targets_and_unknown_events_are_refused() {
        for (notify, expected) in [
            ("  slack: {}", "needs `webhook_url"),
            ("  slack: {token: $T}", "`notify.slack.channel` is required"),
            (
                "  slack: {webhook_url: $W, channel: C1}",
                "goes with `token`",
            ),
            (
                "  slack: {webhook_url: $W, token: $T, channel: C}",
                "not both",
            ),
            (
                "  slack: {webhook_url: $W, api_url: 'ftp://x'}",
                "notify.slack.api_url",
            ),
            (
                "  slack: {webhook_url: $W, on: [merged]}",
                "notify.slack.on",
            ),
            ("  teams: {}", "unknown key `notify.teams`"),
        ] {
            let error = parse(notify).expect_err(notify).to_string();
            assert!(error.contains(expected), "{notify}: {error}");
        }
    }
}
