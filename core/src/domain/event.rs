use super::SourceKind;
use serde::{Deserialize, Serialize};

/// One webhook delivery, parsed and normalized: the same shape whatever the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    pub source: SourceKind,
    /// The source's event name as sent (`issues`, `Issue`, `jira:issue_updated`, `Issue Hook`).
    pub event_name: String,
    pub action: EventAction,
    pub issue: IssueSnapshot,
    /// Who caused the event: the labeler, the commenter, the person who moved the issue.
    pub actor: Actor,
    /// The comment's text, for comment events.
    pub comment: Option<String>,
}

/// What happened, in baton's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventAction {
    Opened,
    Reopened,
    Edited,
    Closed,
    Labeled {
        label: String,
    },
    Unlabeled {
        label: String,
    },
    /// The issue moved between workflow states (Linear, Jira).
    StateChanged {
        from: Option<String>,
        to: String,
    },
    Commented,
    /// A pull/merge request linked to the issue was closed, merged or not.
    PullRequestClosed {
        merged: bool,
        branch: String,
    },
    /// A review was submitted on a pull request.
    ReviewSubmitted {
        state: ReviewState,
        branch: String,
    },
    /// Not a webhook: the safety poll read the issue from the tracker. `previous` is the
    /// snapshot baton last stored for it (`None`: baton has never seen it), so routing can
    /// tell what changed without a webhook saying so.
    Polled {
        previous: Option<Box<IssueSnapshot>>,
    },
    /// baton, installed as a Linear agent, was mentioned or delegated the issue: Linear
    /// opened the agent session `session`. The event's `comment` is the mention, if any.
    AgentSessionCreated {
        session: String,
    },
    /// A person wrote in the agent session `session`; the event's `comment` is the message.
    AgentSessionPrompted {
        session: String,
    },
    /// A person pressed stop in the agent session `session` (a prompt with Linear's `stop`
    /// signal): the agent must halt at once and say so.
    AgentSessionStopped {
        session: String,
    },
}

impl EventAction {
    /// The agent session the event belongs to, for events from one.
    pub fn agent_session(&self) -> Option<&str> {
        match self {
            Self::AgentSessionCreated { session }
            | Self::AgentSessionPrompted { session }
            | Self::AgentSessionStopped { session } => Some(session),
            _ => None,
        }
    }

    /// Whether the event's issue snapshot leaves out the labels (a comment, an agent
    /// session), so that empty labels there say nothing about the issue's labels.
    pub fn omits_labels(&self) -> bool {
        matches!(self, Self::Commented) || self.agent_session().is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
}

/// The issue as the webhook described it; the runner re-reads the tracker before acting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSnapshot {
    /// The tracker's stable id.
    pub id: String,
    /// The human identifier: `owner/repo#12`, `ENG-42`, `PROJ-7`, `group/project#3`.
    pub identifier: String,
    pub title: String,
    pub body: String,
    /// The tracker state as named there (`open`, `In Progress`, `To Do`, `opened`).
    pub state: String,
    /// Lowercased.
    pub labels: Vec<String>,
    pub url: Option<String>,
    /// `owner/repo` or `group/project`, where the source has one.
    pub repository: Option<String>,
    pub author: Option<String>,
}

impl IssueSnapshot {
    /// Case-insensitive, Unicode-aware (labels are stored lowercased).
    pub fn has_label(&self, label: &str) -> bool {
        let wanted = label.trim().to_lowercase();
        self.labels.iter().any(|l| l.to_lowercase() == wanted)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub login: String,
    pub association: Association,
    /// Bots (GitHub `type: Bot`, Linear/Jira app users) never trigger runs.
    #[serde(default)]
    pub is_bot: bool,
}

/// The actor's relation to the repository or workspace. GitHub reports it per comment;
/// Linear and Jira only deliver to members of the workspace; GitLab does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Association {
    Owner,
    Member,
    Collaborator,
    Contributor,
    FirstTimer,
    None,
    #[default]
    Unknown,
}

impl Association {
    /// Parses GitHub's `author_association` (`OWNER`, `FIRST_TIME_CONTRIBUTOR`, ...).
    pub fn from_github(value: &str) -> Self {
        match value.to_ascii_uppercase().as_str() {
            "OWNER" => Self::Owner,
            "MEMBER" => Self::Member,
            "COLLABORATOR" => Self::Collaborator,
            "CONTRIBUTOR" => Self::Contributor,
            "FIRST_TIMER" | "FIRST_TIME_CONTRIBUTOR" => Self::FirstTimer,
            "NONE" | "MANNEQUIN" => Self::None,
            _ => Self::Unknown,
        }
    }

    /// Parses the lowercase names used in workflow files.
    pub fn from_config(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "owner" => Self::Owner,
            "member" => Self::Member,
            "collaborator" => Self::Collaborator,
            "contributor" => Self::Contributor,
            "first_timer" | "first_time_contributor" => Self::FirstTimer,
            "none" => Self::None,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::merge_snapshot;

    fn labelled() -> IssueSnapshot {
        IssueSnapshot {
            identifier: "ENG-42".into(),
            state: "Todo".into(),
            labels: vec!["baton".into(), "backend".into()],
            ..IssueSnapshot::default()
        }
    }

    #[test]
    fn events_without_labels_keep_the_stored_ones() {
        let session = || "session-1".to_owned();
        let partial = IssueSnapshot {
            identifier: "ENG-42".into(),
            title: "Export fails".into(),
            ..IssueSnapshot::default()
        };
        for action in [
            EventAction::Commented,
            EventAction::AgentSessionCreated { session: session() },
            EventAction::AgentSessionPrompted { session: session() },
            EventAction::AgentSessionStopped { session: session() },
        ] {
            let mut stored = labelled();
            merge_snapshot(&mut stored, &partial, &action);
            assert_eq!(stored.labels, labelled().labels, "{action:?}");
            assert_eq!(stored.state, "Todo", "{action:?}");
            assert_eq!(stored.title, "Export fails", "{action:?}");
        }
        // An issue event says what the labels are, even none.
        let mut stored = labelled();
        merge_snapshot(&mut stored, &partial, &EventAction::Edited);
        assert!(stored.labels.is_empty());
    }
}
