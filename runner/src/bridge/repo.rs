//! The repo platform's tools, on the pull request of the run's work branch: its status, its
//! reviews, its checks; asking for reviewers; labelling it.

use super::args;
use super::{Answer, BridgeContext};
use crate::agent::ToolSpec;
use baton_core::workflow::host_tools::{
    PR_ADD_LABELS, PR_CHECKS, PR_REQUEST_REVIEWERS, PR_REVIEW_COMMENTS, PR_STATUS,
};
use baton_integrations::repo::{PullRequest, RepoPlatform};
use serde_json::{json, Value};

/// At most this many reviewers or labels per call.
const MAX_NAMES: usize = 20;

pub fn specs(context: &BridgeContext) -> Vec<ToolSpec> {
    if context.platform.is_none() || context.work_branch.is_none() {
        return Vec::new();
    }
    let spec = |name: &str, description: &str, input_schema: Value| ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema,
    };
    vec![
        spec(
            PR_STATUS,
            "The pull request of this run's work branch: number, URL, state, head commit, \
             mergeability. It exists once an earlier run delivered; baton opens it after this \
             run otherwise.",
            args::no_arguments(),
        ),
        spec(
            PR_REVIEW_COMMENTS,
            "The reviews submitted on this run's pull request, oldest first, with their \
             inline comments (file, line, text).",
            args::no_arguments(),
        ),
        spec(
            PR_CHECKS,
            "The combined state of the checks on the pull request's head commit: passing, \
             pending, failing or none.",
            args::no_arguments(),
        ),
        spec(
            PR_REQUEST_REVIEWERS,
            "Ask people (platform logins) to review this run's pull request.",
            args::names_schema("reviewers", "Logins to ask", MAX_NAMES),
        ),
        spec(
            PR_ADD_LABELS,
            "Add labels to this run's pull request.",
            args::names_schema("labels", "Label names", MAX_NAMES),
        ),
    ]
}

/// Runs `name` if it is a pull-request tool.
pub async fn call(context: &BridgeContext, name: &str, arguments: &Value) -> Option<Answer> {
    if ![
        PR_STATUS,
        PR_REVIEW_COMMENTS,
        PR_CHECKS,
        PR_REQUEST_REVIEWERS,
        PR_ADD_LABELS,
    ]
    .contains(&name)
    {
        return None;
    }
    let platform = context.platform.as_deref()?;
    let branch = context.work_branch.as_deref()?;
    Some(run(platform, branch, name, arguments).await)
}

async fn run(platform: &dyn RepoPlatform, branch: &str, name: &str, arguments: &Value) -> Answer {
    let failed = |error: baton_integrations::repo::RepoError| error.to_string();
    let Some(pull) = platform.find_pull_request(branch).await.map_err(failed)? else {
        return match name {
            PR_STATUS => Ok(json!({
                "pull_request": null,
                "note": format!("no pull request from `{branch}` yet; baton opens one when this run delivers"),
            })),
            _ => Err(format!(
                "no pull request from `{branch}` yet; baton opens one when this run delivers"
            )),
        };
    };
    match name {
        PR_STATUS => Ok(json!({ "pull_request": status(&pull) })),
        PR_REVIEW_COMMENTS => {
            let reviews = platform.reviews(pull.number).await.map_err(failed)?;
            Ok(json!({ "number": pull.number, "reviews": reviews }))
        }
        PR_CHECKS => {
            let checks = platform.checks(pull.number).await.map_err(failed)?;
            Ok(json!({ "number": pull.number, "checks": checks }))
        }
        PR_REQUEST_REVIEWERS => {
            let reviewers = args::names(arguments, "reviewers", MAX_NAMES)?;
            platform
                .request_reviewers(pull.number, &reviewers)
                .await
                .map_err(failed)?;
            Ok(json!({ "number": pull.number, "requested": reviewers }))
        }
        _ => {
            let labels = args::names(arguments, "labels", MAX_NAMES)?;
            platform
                .add_labels(pull.number, &labels)
                .await
                .map_err(failed)?;
            Ok(json!({ "number": pull.number, "added": labels }))
        }
    }
}

fn status(pull: &PullRequest) -> Value {
    json!({
        "number": pull.number,
        "url": pull.url,
        "state": pull.state,
        "head": pull.head,
        "base": pull.base,
        "head_sha": pull.head_sha,
        "mergeable": pull.mergeable,
    })
}
