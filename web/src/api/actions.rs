//! The actions: `POST /api/v1/issues/{key}/retry`, `POST /api/v1/issues/{key}/cancel` and
//! `POST /api/v1/deliveries/{id}/replay`. Each is carried out by the [`Ingress`], with the
//! writes webhooks use, and answers 202 with what was done.

use super::error::{ApiError, ErrorEnvelope};
use super::params::{self, Segment};
use super::Api;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_core::domain::{JobId, WorkItemKey};
use baton_core::ingress::{Accepted, Ingress};
use serde::{Deserialize, Serialize};

/// What an action did; the same body a webhook gets from the ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionResponse {
    pub status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schemas::WorkItemKeySchema>)]
    pub work_item: Option<WorkItemKey>,
    /// The job queued, for `queued`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schemas::JobIdSchema>)]
    pub job_id: Option<JobId>,
    /// Why nothing was done, for `ignored`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// A run was queued.
    Queued,
    /// The item was cancelled, or its runner was told to stop.
    CancelRequested,
    /// A replayed event was held at the dispatch gate.
    AwaitingApproval,
    /// A replayed event asked for nothing.
    Ignored,
    /// Never for a replay, which has a fresh delivery id; kept for the ingress's vocabulary.
    Duplicate,
}

impl From<Accepted> for ActionResponse {
    fn from(accepted: Accepted) -> Self {
        let response = |status, work_item| Self {
            status,
            work_item,
            job_id: None,
            reason: None,
        };
        match accepted {
            Accepted::Queued { work_item, job_id } => Self {
                job_id: Some(job_id),
                ..response(ActionStatus::Queued, Some(work_item))
            },
            Accepted::CancelRequested { work_item } => {
                response(ActionStatus::CancelRequested, Some(work_item))
            }
            Accepted::AwaitingApproval { work_item } => {
                response(ActionStatus::AwaitingApproval, Some(work_item))
            }
            Accepted::Ignored { reason } => Self {
                reason: Some(reason),
                ..response(ActionStatus::Ignored, None)
            },
            Accepted::Duplicate => response(ActionStatus::Duplicate, None),
        }
    }
}

type Answer = Result<(StatusCode, Json<ActionResponse>), ApiError>;

fn accepted(done: Accepted) -> (StatusCode, Json<ActionResponse>) {
    (StatusCode::ACCEPTED, Json(ActionResponse::from(done)))
}

fn ingress(api: &Api) -> &Ingress {
    api.ingress.as_ref()
}

/// Queues a new run of the work item now (job reason `manual`).
#[utoipa::path(
    post,
    path = "/api/v1/issues/{key}/retry",
    tag = "actions",
    params(("key" = String, Path, description = "The work item key, percent-encoded as one segment")),
    responses(
        (status = 202, description = "`queued`, with the job id", body = ActionResponse),
        (status = 400, description = "`invalid_key`", body = ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = ErrorEnvelope),
        (status = 404, description = "`issue_not_found`", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: a run is queued, running or awaiting approval", body = ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = ErrorEnvelope),
    )
)]
pub(super) async fn retry_issue(State(api): State<Api>, key: Segment) -> Answer {
    let key = params::work_item_key(key)?;
    Ok(accepted(ingress(&api).retry(&key).await?))
}

/// Cancels the work item: a queued or retrying item at once, a running one by its runner.
#[utoipa::path(
    post,
    path = "/api/v1/issues/{key}/cancel",
    tag = "actions",
    params(("key" = String, Path, description = "The work item key, percent-encoded as one segment")),
    responses(
        (status = 202, description = "`cancel_requested`", body = ActionResponse),
        (status = 400, description = "`invalid_key`", body = ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = ErrorEnvelope),
        (status = 404, description = "`issue_not_found`", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: the item has ended already", body = ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = ErrorEnvelope),
    )
)]
pub(super) async fn cancel_issue(State(api): State<Api>, key: Segment) -> Answer {
    let key = params::work_item_key(key)?;
    Ok(accepted(ingress(&api).cancel(&key).await?))
}

/// Routes a delivery's stored event again under a fresh delivery id.
#[utoipa::path(
    post,
    path = "/api/v1/deliveries/{id}/replay",
    tag = "actions",
    params(("id" = String, Path, description = "The delivery id, `<source>:<id>`, percent-encoded as one segment")),
    responses(
        (status = 202, description = "What the event did, as the ingress answers a webhook", body = ActionResponse),
        (status = 400, description = "`invalid_delivery_id`", body = ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = ErrorEnvelope),
        (status = 404, description = "`delivery_not_found`", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: the delivery was recorded without its event", body = ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = ErrorEnvelope),
    )
)]
pub(super) async fn replay_delivery(State(api): State<Api>, id: Segment) -> Answer {
    let delivery = params::delivery_key(id)?;
    Ok(accepted(ingress(&api).replay(&delivery).await?))
}
