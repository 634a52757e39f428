//! `GET /api/v1/state`: the work items by status, in the shape of Symphony's state endpoint.

use super::error::ApiError;
use super::Api;
use axum::extract::State;
use axum::Json;
use baton_core::clock::Clock;
use baton_core::domain::{RunId, TokenTotals, WorkItem, WorkItemKey, WorkItemStatus};
use baton_core::ports::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many work items of each status are read, counted and listed.
pub const STATE_LIST_LIMIT: usize = 100;

/// The snapshot.
///
/// Each status is read up to [`STATE_LIST_LIMIT`] items (most recently updated first), so a
/// count is exact below the cap; a status with more items than that is named in `capped`,
/// and its count stops at the cap.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateResponse {
    /// When the snapshot was taken (RFC 3339).
    pub generated_at: DateTime<Utc>,
    pub counts: Counts,
    /// The most items counted (and listed) per status: [`STATE_LIST_LIMIT`].
    pub counts_capped_at: usize,
    /// The statuses that have more items than `counts_capped_at`; their counts are lower
    /// bounds. Empty when every count is exact.
    #[schema(value_type = Vec<super::schemas::WorkItemStatusSchema>)]
    pub capped: Vec<WorkItemStatus>,
    /// A runner holds the lease.
    pub running: Vec<StateEntry>,
    /// Failed, with a retry scheduled.
    pub retrying: Vec<StateEntry>,
    /// A job is on the queue.
    pub queued: Vec<StateEntry>,
    pub failed: Vec<StateEntry>,
    pub dead_lettered: Vec<StateEntry>,
    /// Held at the dispatch gate until a person approves.
    pub awaiting_approval: Vec<StateEntry>,
    /// The agent asked a question; waiting for a person's answer.
    pub awaiting_input: Vec<StateEntry>,
    /// The tokens of every item counted in `counts` (succeeded and cancelled ones included),
    /// summed.
    #[schema(value_type = super::schemas::TokenTotalsSchema)]
    pub token_totals: TokenTotals,
    /// The agent account pools by provider (`codex`, `claude_code`, `opencode`): each
    /// account's lease and quota (see the README's "Agent accounts and quotas"). `null` when
    /// no runner has leased an account yet.
    #[schema(value_type = Option<BTreeMap<String, Vec<super::accounts::AccountView>>>)]
    pub rate_limits: Option<super::accounts::RateLimits>,
}

/// Work items per status (see [`StateResponse::capped`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    pub queued: usize,
    pub running: usize,
    pub retrying: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub dead_lettered: usize,
    pub awaiting_approval: usize,
    pub awaiting_input: usize,
}

/// One work item in a list. Fields that do not apply are `null`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateEntry {
    /// The work item key, as `GET /api/v1/issues/{key}` takes it (percent-encoded).
    #[schema(value_type = super::schemas::WorkItemKeySchema)]
    pub work_item: WorkItemKey,
    /// The tracker's human identifier: `acme/app#12`, `ENG-42`.
    pub identifier: String,
    pub title: String,
    pub url: Option<String>,
    /// The issue's state in the tracker (`open`, `In Progress`).
    pub state: String,
    /// baton's status of the work item.
    #[schema(value_type = super::schemas::WorkItemStatusSchema)]
    pub status: WorkItemStatus,
    /// Attempts made for the current request.
    pub attempt: u32,
    /// The newest run, running or ended.
    #[schema(value_type = Option<super::schemas::RunIdSchema>)]
    pub run_id: Option<RunId>,
    /// The runner holding the lease, and until when (a running item whose lease has passed
    /// has a stalled runner).
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the scheduled retry is due.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The last run's error, while retrying, failed or dead-lettered.
    pub last_error: Option<String>,
    /// The issue was closed, unlabelled or stopped; the runner is winding down.
    pub cancel_requested: bool,
    pub updated_at: DateTime<Utc>,
    /// Tokens used by all the item's runs.
    #[schema(value_type = super::schemas::TokenTotalsSchema)]
    pub tokens: TokenTotals,
    /// The agent's open question, while `awaiting_input`.
    pub question: Option<String>,
    /// When the question's wait ends without an answer (`agent.input_timeout_ms`).
    pub input_deadline: Option<DateTime<Utc>>,
    /// Queued because every agent account of its provider is used up, until then.
    pub waiting_for_account: Option<super::accounts::AccountWait>,
}

impl From<WorkItem> for StateEntry {
    fn from(item: WorkItem) -> Self {
        let (lease_owner, lease_expires_at) = match item.lease {
            Some(lease) => (Some(lease.owner), Some(lease.expires_at)),
            None => (None, None),
        };
        let (question, input_deadline) = match item.input_request {
            Some(input) => (Some(input.question), input.deadline),
            None => (None, None),
        };
        Self {
            question,
            input_deadline,
            waiting_for_account: None,
            work_item: item.key,
            identifier: item.issue.identifier,
            title: item.issue.title,
            url: item.issue.url,
            state: item.issue.state,
            status: item.status,
            attempt: item.attempt,
            run_id: item.last_run,
            lease_owner,
            lease_expires_at,
            next_retry_at: item.next_retry_at,
            last_error: item.last_error,
            cancel_requested: item.cancel_requested,
            updated_at: item.updated_at,
            tokens: item.tokens,
        }
    }
}

/// The items of one status, at most [`STATE_LIST_LIMIT`].
struct Listed {
    status: WorkItemStatus,
    items: Vec<WorkItem>,
    /// There were more.
    capped: bool,
}

impl Listed {
    fn entries(self) -> Vec<StateEntry> {
        self.items.into_iter().map(StateEntry::from).collect()
    }
}

async fn list(store: &dyn Store, status: WorkItemStatus) -> Result<Listed, ApiError> {
    // One more than the cap tells whether the cap was reached.
    let mut items = store
        .list_work_items(status, STATE_LIST_LIMIT + 1)
        .await
        .map_err(ApiError::store("listing work items"))?;
    let capped = items.len() > STATE_LIST_LIMIT;
    items.truncate(STATE_LIST_LIMIT);
    Ok(Listed {
        status,
        items,
        capped,
    })
}

/// The work items by status.
#[utoipa::path(
    get,
    path = "/api/v1/state",
    tag = "state",
    responses(
        (status = 200, description = "The snapshot", body = StateResponse),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn get_state(State(api): State<Api>) -> Result<Json<StateResponse>, ApiError> {
    snapshot(api.store.as_ref(), api.clock.as_ref())
        .await
        .map(Json)
}

/// The state snapshot, as the API answers it and the dashboard renders it.
pub async fn snapshot(store: &dyn Store, clock: &dyn Clock) -> Result<StateResponse, ApiError> {
    use WorkItemStatus as S;
    let generated_at = clock.now();
    let (
        queued,
        running,
        retrying,
        succeeded,
        failed,
        cancelled,
        dead_lettered,
        awaiting_approval,
        awaiting_input,
    ) = tokio::try_join!(
        list(store, S::Queued),
        list(store, S::Running),
        list(store, S::Retrying),
        list(store, S::Succeeded),
        list(store, S::Failed),
        list(store, S::Cancelled),
        list(store, S::DeadLettered),
        list(store, S::AwaitingApproval),
        list(store, S::AwaitingInput),
    )?;
    let all = [
        &queued,
        &running,
        &retrying,
        &succeeded,
        &failed,
        &cancelled,
        &dead_lettered,
        &awaiting_approval,
        &awaiting_input,
    ];
    let capped = all
        .iter()
        .filter(|listed| listed.capped)
        .map(|listed| listed.status)
        .collect();
    let token_totals = all
        .iter()
        .flat_map(|listed| &listed.items)
        .fold(TokenTotals::default(), |sum, item| add(sum, item.tokens));
    let counts = Counts {
        queued: queued.items.len(),
        running: running.items.len(),
        retrying: retrying.items.len(),
        succeeded: succeeded.items.len(),
        failed: failed.items.len(),
        cancelled: cancelled.items.len(),
        dead_lettered: dead_lettered.items.len(),
        awaiting_approval: awaiting_approval.items.len(),
        awaiting_input: awaiting_input.items.len(),
    };
    let (rate_limits, waits) = super::accounts::read(store, generated_at).await?;
    let mut queued_entries = queued.entries();
    super::accounts::mark_waiting(&mut queued_entries, &waits);
    Ok(StateResponse {
        generated_at,
        counts,
        counts_capped_at: STATE_LIST_LIMIT,
        capped,
        running: running.entries(),
        retrying: retrying.entries(),
        queued: queued_entries,
        failed: failed.entries(),
        dead_lettered: dead_lettered.entries(),
        awaiting_approval: awaiting_approval.entries(),
        awaiting_input: awaiting_input.entries(),
        token_totals,
        rate_limits,
    })
}

/// Sums without overflowing on whatever the store holds.
fn add(sum: TokenTotals, tokens: TokenTotals) -> TokenTotals {
    TokenTotals {
        input_tokens: sum.input_tokens.saturating_add(tokens.input_tokens),
        output_tokens: sum.output_tokens.saturating_add(tokens.output_tokens),
        total_tokens: sum.total_tokens.saturating_add(tokens.total_tokens),
    }
}
