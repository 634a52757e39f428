//! The host tools baton offers an agent (the tool bridge), by name. The runner implements
//! them; here are the names a workflow may list in `workflow.profile.tools`, and each
//! profile's default selection.
//!
//! ```yaml
//! workflow:
//!   profile:
//!     kind: coding_pr_delivery
//!     tools: [tracker_get_issue, tracker_comment, pr_checks]   # replaces the default list
//! ```

/// Read the issue the run works on.
pub const TRACKER_GET_ISSUE: &str = "tracker_get_issue";
/// Comment on the issue.
pub const TRACKER_COMMENT: &str = "tracker_comment";
/// Add the agent's progress note to baton's living status comment.
pub const TRACKER_UPDATE_STATUS: &str = "tracker_update_status";
/// Move the issue to the state of one of the profile's routes.
pub const TRACKER_MOVE_STATE: &str = "tracker_move_state";
/// The work branch's pull request: number, URL, state, head.
pub const PR_STATUS: &str = "pr_status";
/// The pull request's reviews and their inline comments.
pub const PR_REVIEW_COMMENTS: &str = "pr_review_comments";
/// The combined check state of the pull request's head.
pub const PR_CHECKS: &str = "pr_checks";
/// Ask people to review the pull request.
pub const PR_REQUEST_REVIEWERS: &str = "pr_request_reviewers";
/// Label the pull request.
pub const PR_ADD_LABELS: &str = "pr_add_labels";
/// What the agent changed in the workspace so far (`git diff --stat` and new files).
pub const WORKSPACE_DIFF_SUMMARY: &str = "workspace_diff_summary";

/// Every host tool, in the order they are offered.
pub const HOST_TOOLS: &[&str] = &[
    TRACKER_GET_ISSUE,
    TRACKER_COMMENT,
    TRACKER_UPDATE_STATUS,
    TRACKER_MOVE_STATE,
    PR_STATUS,
    PR_REVIEW_COMMENTS,
    PR_CHECKS,
    PR_REQUEST_REVIEWERS,
    PR_ADD_LABELS,
    WORKSPACE_DIFF_SUMMARY,
];

/// Coding work: the whole bridge.
pub(super) const CODING: &[&str] = HOST_TOOLS;

/// Analysis and refinement read and report progress; their deliverable is the final message.
pub(super) const READ_AND_REPORT: &[&str] = &[TRACKER_GET_ISSUE, TRACKER_UPDATE_STATUS];

pub(super) const REVIEW_ROUTING: &[&str] = &[
    TRACKER_GET_ISSUE,
    TRACKER_COMMENT,
    TRACKER_UPDATE_STATUS,
    PR_STATUS,
    PR_REVIEW_COMMENTS,
    PR_CHECKS,
];

pub(super) const TRIAGE: &[&str] = &[
    TRACKER_GET_ISSUE,
    TRACKER_COMMENT,
    TRACKER_UPDATE_STATUS,
    TRACKER_MOVE_STATE,
];

/// Checks a workflow's `tools` list: every name must be a host tool, once.
pub fn parse_tool_list(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut tools: Vec<&'static str> = Vec::with_capacity(names.len());
    for name in names {
        let known = HOST_TOOLS
            .iter()
            .find(|tool| **tool == name.trim())
            .ok_or_else(|| {
                format!(
                    "`workflow.profile.tools`: `{name}` is not a host tool (they are: {})",
                    HOST_TOOLS.join(", ")
                )
            })?;
        if tools.contains(known) {
            return Err(format!(
                "`workflow.profile.tools`: `{name}` is listed twice"
            ));
        }
        tools.push(known);
    }
    Ok(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_list_names_known_tools_once() {
        let list = |names: &[&str]| {
            parse_tool_list(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            list(&["pr_checks", " tracker_comment"]),
            Ok(vec![PR_CHECKS, TRACKER_COMMENT])
        );
        let unknown = list(&["merge_pull_request"]).unwrap_err();
        assert!(
            unknown.contains("`merge_pull_request` is not a host tool"),
            "{unknown}"
        );
        assert!(unknown.contains("workspace_diff_summary"), "{unknown}");
        assert!(list(&["pr_checks", "pr_checks"])
            .unwrap_err()
            .contains("twice"));
        assert_eq!(list(&[]), Ok(vec![]));
    }
}
