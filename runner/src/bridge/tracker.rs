//! The tracker's tools: read the issue, comment on it, add a progress note to baton's
//! living status comment, move the issue within the profile's routes.

use super::args;
use super::{Answer, BridgeContext};
use crate::agent::ToolSpec;
use baton_core::workflow::host_tools::{TRACKER_MOVE_STATE, TRACKER_UPDATE_STATUS};
use baton_integrations::tracker::{CommentRef, IssueRef, StateMove, Tracker};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Longest progress note the agent can write, in characters.
const MAX_NOTE: usize = 4_000;

pub fn specs(context: &BridgeContext) -> Vec<ToolSpec> {
    let Some(tracker) = &context.tracker else {
        return Vec::new();
    };
    let mut specs: Vec<ToolSpec> = tracker
        .tools()
        .into_iter()
        .map(|tool| ToolSpec {
            name: tool.name,
            description: tool.description,
            input_schema: tool.input_schema,
        })
        .collect();
    if context.status.is_some() {
        specs.push(ToolSpec {
            name: TRACKER_UPDATE_STATUS.into(),
            description: "Show a short progress note in baton's status comment on the issue \
                          (replaces your previous note)."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {"note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE}},
                "required": ["note"],
                "additionalProperties": false
            }),
        });
    }
    let routes = mapped_routes(context);
    if !routes.is_empty() {
        specs.push(ToolSpec {
            name: TRACKER_MOVE_STATE.into(),
            description: "Move the issue to the tracker state of one of the workflow's routes."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {"route": {"type": "string", "enum": routes}},
                "required": ["route"],
                "additionalProperties": false
            }),
        });
    }
    specs
}

/// The profile's route keys the workflow mapped to tracker states.
fn mapped_routes(context: &BridgeContext) -> Vec<&'static str> {
    let profile = &context.profile;
    profile
        .spec
        .routes
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| profile.state_for(key).is_some())
        .collect()
}

/// Runs `name` if it is a tracker tool.
pub async fn call(context: &BridgeContext, name: &str, arguments: &Value) -> Option<Answer> {
    let tracker = context.tracker.as_ref()?;
    if name == TRACKER_UPDATE_STATUS {
        let status = context.status.as_ref()?;
        return Some(match args::text(arguments, "note", MAX_NOTE) {
            Ok(note) => status.note(&note).await,
            Err(error) => Err(error),
        });
    }
    if name == TRACKER_MOVE_STATE {
        return Some(move_state(context, tracker.as_ref(), arguments).await);
    }
    if !tracker.tools().iter().any(|tool| tool.name == name) {
        return None;
    }
    let arguments = marked(name, arguments);
    // The error names the tool and the tracker's answer, never the credential.
    Some(
        tracker
            .call_tool(&context.issue, name, &arguments)
            .await
            .map_err(|error| error.to_string()),
    )
}

/// Marks the agent's comments as baton's own, so that a comment the agent writes (with the
/// tracker token, often a person's) is never read as a person's reply to a question.
fn marked(name: &str, arguments: &Value) -> Value {
    let mut arguments = arguments.clone();
    if name == "tracker_comment" {
        if let Some(body) = arguments.get_mut("body") {
            if let Some(text) = body.as_str().filter(|text| !text.trim().is_empty()) {
                *body = Value::String(format!("{AGENT_COMMENT_MARKER}\n{text}"));
            }
        }
    }
    arguments
}

/// Marks the agent's comments (see `baton_core::domain::input::BATON_COMMENT_MARKER`).
const AGENT_COMMENT_MARKER: &str = "<!-- baton:agent -->";

async fn move_state(context: &BridgeContext, tracker: &dyn Tracker, arguments: &Value) -> Answer {
    let route = args::text(arguments, "route", 100)?;
    let state = context.profile.state_for(&route).ok_or_else(|| {
        format!(
            "`{route}` is not one of the workflow's mapped routes ({})",
            mapped_routes(context).join(", ")
        )
    })?;
    let moved = tracker
        .move_to_state(&context.issue, None, state)
        .await
        .map_err(|error| error.to_string())?;
    Ok(match moved {
        StateMove::Moved { from, to } => json!({"moved": true, "from": from, "to": to}),
        StateMove::AlreadyThere => json!({"moved": false, "state": state}),
        StateMove::Conflict { actual } => json!({"moved": false, "state": actual}),
    })
}

/// baton's living status comment on the issue, as the run posted it when it started; the
/// agent's note is shown beneath it until the run's final update replaces the comment.
pub struct LivingComment {
    tracker: Arc<dyn Tracker>,
    issue: IssueRef,
    body: String,
    /// The comment's id; `None` until one exists (the first note then writes it).
    comment: Mutex<Option<String>>,
}

impl LivingComment {
    pub fn new(
        tracker: Arc<dyn Tracker>,
        issue: IssueRef,
        comment: Option<String>,
        body: String,
    ) -> Self {
        Self {
            tracker,
            issue,
            body,
            comment: Mutex::new(comment),
        }
    }

    /// The comment's id, once it exists.
    pub async fn comment_id(&self) -> Option<String> {
        self.comment.lock().await.clone()
    }

    async fn note(&self, note: &str) -> Answer {
        let body = format!("{}\n\n**Progress note from the agent:** {note}", self.body);
        let mut comment = self.comment.lock().await;
        match comment.as_ref() {
            Some(id) => {
                let existing = CommentRef {
                    id: id.clone(),
                    url: None,
                };
                self.tracker
                    .update_comment(&self.issue, &existing, &body)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            None => {
                let created = self
                    .tracker
                    .create_comment(&self.issue, &body)
                    .await
                    .map_err(|error| error.to_string())?;
                *comment = Some(created.id);
            }
        }
        Ok(json!({"updated": true}))
    }
}
