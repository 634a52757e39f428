//! What each baton component may do in AWS: the least-privilege grants of the deployment
//! templates (`infra/template.yaml`), written down once so tests can hold both sides to it.
//!
//! The table is built in two steps, each checked by a test in `aws/tests/`:
//!
//! 1. [`PortCall::grants`]: the IAM actions (and the resource each acts on) that one call of
//!    a `Store`/`Queue` port method makes through these adapters. `permissions_match_adapters`
//!    derives the same actions from the adapter sources (every SDK operation reachable from the
//!    method's body) and fails when they differ.
//! 2. [`Component::calls`]: the port methods a component calls. `permissions_match_components`
//!    scans each component's sources and fails when one calls a method it is not granted.
//!
//! `template_grants_match_permissions` then checks that each role of the template grants
//! exactly [`Component::grants`]: no action more, no resource wider, no `*`.
//!
//! Setting up (`baton setup`: CreateTable, UpdateTimeToLive, CreateQueue, SetQueueAttributes,
//! ...) is no component's business: the template creates the table and queues.

use std::collections::BTreeSet;
use std::fmt;

/// A resource baton's components act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The DynamoDB table.
    Table,
    /// The table's `gsi1` index (listings by status, a work item's runs).
    StatusIndex,
    /// The SQS jobs queue.
    JobsQueue,
    /// The SQS dead-letter queue.
    DeadLetterQueue,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Table => "table",
            Self::StatusIndex => "table index gsi1",
            Self::JobsQueue => "jobs queue",
            Self::DeadLetterQueue => "dead-letter queue",
        })
    }
}

/// One IAM action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// `dynamodb:GetItem`, `sqs:SendMessage`, ...
    pub action: &'static str,
    pub resource: Resource,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on the {}", self.action, self.resource)
    }
}

const fn grant(action: &'static str, resource: Resource) -> Grant {
    Grant { action, resource }
}

use Resource::{DeadLetterQueue, JobsQueue, StatusIndex, Table};

/// Opening the backends (`baton_aws::open`): the table and the jobs queue must exist.
const OPEN: &[Grant] = &[
    grant("dynamodb:DescribeTable", Table),
    grant("sqs:GetQueueUrl", JobsQueue),
];
/// A delivery claim is a conditional put; when it fails without the old item, the claim
/// reads it.
const BEGIN_DELIVERY: &[Grant] = &[
    grant("dynamodb:PutItem", Table),
    grant("dynamodb:GetItem", Table),
];
const PUT_ITEM: &[Grant] = &[grant("dynamodb:PutItem", Table)];
const GET_ITEM: &[Grant] = &[grant("dynamodb:GetItem", Table)];
const DELETE_ITEM: &[Grant] = &[grant("dynamodb:DeleteItem", Table)];
const QUERY_INDEX: &[Grant] = &[grant("dynamodb:Query", StatusIndex)];
const QUERY_TABLE: &[Grant] = &[grant("dynamodb:Query", Table)];
const BATCH_WRITE: &[Grant] = &[grant("dynamodb:BatchWriteItem", Table)];
/// A metrics update is an atomic `UpdateItem` (`ADD`) per bucket.
const UPDATE_ITEM: &[Grant] = &[grant("dynamodb:UpdateItem", Table)];
/// Every queue call looks the queue's URL up first (once per process).
const SEND: &[Grant] = &[
    grant("sqs:GetQueueUrl", JobsQueue),
    grant("sqs:SendMessage", JobsQueue),
];
const SEND_DEAD_LETTER: &[Grant] = &[
    grant("sqs:GetQueueUrl", DeadLetterQueue),
    grant("sqs:SendMessage", DeadLetterQueue),
];
const RECEIVE: &[Grant] = &[
    grant("sqs:GetQueueUrl", JobsQueue),
    grant("sqs:ReceiveMessage", JobsQueue),
];
const DELETE_MESSAGE: &[Grant] = &[
    grant("sqs:GetQueueUrl", JobsQueue),
    grant("sqs:DeleteMessage", JobsQueue),
];
const CHANGE_VISIBILITY: &[Grant] = &[
    grant("sqs:GetQueueUrl", JobsQueue),
    grant("sqs:ChangeMessageVisibility", JobsQueue),
];
const DEAD_LETTER_DEPTH: &[Grant] = &[
    grant("sqs:GetQueueUrl", DeadLetterQueue),
    grant("sqs:GetQueueAttributes", DeadLetterQueue),
];

/// A call a component makes on its backends: `open`, or a `Store`/`Queue` port method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortCall {
    Open,
    BeginDelivery,
    CompleteDelivery,
    ReleaseDelivery,
    GetWorkItem,
    PutWorkItem,
    DeleteWorkItem,
    ListWorkItems,
    PutRun,
    GetRun,
    ListRuns,
    AppendEvents,
    ListEvents,
    GetSlotPool,
    PutSlotPool,
    GetAccountPool,
    PutAccountPool,
    RecordMetrics,
    ReadMetrics,
    ChargeBudget,
    ReadBudget,
    Send,
    SendDelayed,
    DeadLetter,
    Receive,
    Delete,
    ChangeVisibility,
    DeadLetterCount,
}

impl PortCall {
    pub const ALL: [PortCall; 28] = [
        Self::Open,
        Self::BeginDelivery,
        Self::CompleteDelivery,
        Self::ReleaseDelivery,
        Self::GetWorkItem,
        Self::PutWorkItem,
        Self::DeleteWorkItem,
        Self::ListWorkItems,
        Self::PutRun,
        Self::GetRun,
        Self::ListRuns,
        Self::AppendEvents,
        Self::ListEvents,
        Self::GetSlotPool,
        Self::PutSlotPool,
        Self::GetAccountPool,
        Self::PutAccountPool,
        Self::RecordMetrics,
        Self::ReadMetrics,
        Self::ChargeBudget,
        Self::ReadBudget,
        Self::Send,
        Self::SendDelayed,
        Self::DeadLetter,
        Self::Receive,
        Self::Delete,
        Self::ChangeVisibility,
        Self::DeadLetterCount,
    ];

    /// The function's name in the adapter sources (`open` in `backends.rs`, the others in
    /// the `Store`/`Queue` implementations).
    pub fn method(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::BeginDelivery => "begin_delivery",
            Self::CompleteDelivery => "complete_delivery",
            Self::ReleaseDelivery => "release_delivery",
            Self::GetWorkItem => "get_work_item",
            Self::PutWorkItem => "put_work_item",
            Self::DeleteWorkItem => "delete_work_item",
            Self::ListWorkItems => "list_work_items",
            Self::PutRun => "put_run",
            Self::GetRun => "get_run",
            Self::ListRuns => "list_runs",
            Self::AppendEvents => "append_events",
            Self::ListEvents => "list_events",
            Self::GetSlotPool => "get_slot_pool",
            Self::PutSlotPool => "put_slot_pool",
            Self::GetAccountPool => "get_account_pool",
            Self::PutAccountPool => "put_account_pool",
            Self::RecordMetrics => "record_metrics",
            Self::ReadMetrics => "read_metrics",
            Self::ChargeBudget => "charge_budget",
            Self::ReadBudget => "read_budget",
            Self::Send => "send",
            Self::SendDelayed => "send_delayed",
            Self::DeadLetter => "dead_letter",
            Self::Receive => "receive",
            Self::Delete => "delete",
            Self::ChangeVisibility => "change_visibility",
            Self::DeadLetterCount => "dead_letter_count",
        }
    }

    /// Whether this is a `Queue` method (else `Store`, or `open`).
    pub fn is_queue(self) -> bool {
        matches!(
            self,
            Self::Send
                | Self::SendDelayed
                | Self::DeadLetter
                | Self::Receive
                | Self::Delete
                | Self::ChangeVisibility
                | Self::DeadLetterCount
        )
    }

    /// What one call needs.
    pub fn grants(self) -> &'static [Grant] {
        match self {
            Self::Open => OPEN,
            Self::BeginDelivery => BEGIN_DELIVERY,
            Self::CompleteDelivery => PUT_ITEM,
            Self::ReleaseDelivery => DELETE_ITEM,
            Self::GetWorkItem => GET_ITEM,
            Self::PutWorkItem => PUT_ITEM,
            Self::DeleteWorkItem => DELETE_ITEM,
            // Work items by status: the `gsi1` index.
            Self::ListWorkItems => QUERY_INDEX,
            Self::PutRun => PUT_ITEM,
            Self::GetRun => GET_ITEM,
            // A work item's runs: the `gsi1` index.
            Self::ListRuns => QUERY_INDEX,
            Self::AppendEvents => BATCH_WRITE,
            // A run's timeline: its own partition of the table.
            Self::ListEvents => QUERY_TABLE,
            Self::GetSlotPool => GET_ITEM,
            Self::PutSlotPool => PUT_ITEM,
            Self::GetAccountPool => GET_ITEM,
            Self::PutAccountPool => PUT_ITEM,
            Self::RecordMetrics => UPDATE_ITEM,
            // A scope's hour buckets: its own partition of the table.
            Self::ReadMetrics => QUERY_TABLE,
            // `ADD` to the item's and the day's counters.
            Self::ChargeBudget => UPDATE_ITEM,
            Self::ReadBudget => GET_ITEM,
            Self::Send => SEND,
            // A delayed send is a SendMessage with DelaySeconds.
            Self::SendDelayed => SEND,
            Self::DeadLetter => SEND_DEAD_LETTER,
            Self::Receive => RECEIVE,
            Self::Delete => DELETE_MESSAGE,
            Self::ChangeVisibility => CHANGE_VISIBILITY,
            Self::DeadLetterCount => DEAD_LETTER_DEPTH,
        }
    }
}

/// A deployed piece of baton with its own role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// `baton-ingress`: verifies webhooks, records deliveries and work items, queues jobs.
    Ingress,
    /// `baton-api`: the status API and dashboard; retry, cancel and replay write work items
    /// and queue jobs.
    Api,
    /// `baton-reconciler`: requeues expired leases and due retries, runs the safety poll of
    /// the workflows' trackers, reports the dead-letter depth.
    Reconciler,
    /// `baton runner`: claims jobs, records runs and their timelines, retries, dead-letters.
    Runner,
}

impl Component {
    pub const ALL: [Component; 4] = [Self::Ingress, Self::Api, Self::Reconciler, Self::Runner];

    pub fn name(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Api => "api",
            Self::Reconciler => "reconciler",
            Self::Runner => "runner",
        }
    }

    /// The port calls the component makes.
    pub fn calls(self) -> &'static [PortCall] {
        use PortCall::*;
        match self {
            Self::Ingress => &[
                Open,
                BeginDelivery,
                CompleteDelivery,
                ReleaseDelivery,
                GetWorkItem,
                PutWorkItem,
                DeleteWorkItem,
                Send,
                // Webhooks received, accepted and refused.
                RecordMetrics,
            ],
            Self::Api => &[
                Open,
                GetWorkItem,
                ListWorkItems,
                GetRun,
                ListRuns,
                ListEvents,
                // Retry, cancel and replay.
                PutWorkItem,
                Send,
                // The metrics API and the dashboard's charts.
                ReadMetrics,
                // The state API's agent accounts.
                GetAccountPool,
                // An issue's budget spend.
                ReadBudget,
            ],
            Self::Reconciler => &[
                Open,
                GetWorkItem,
                PutWorkItem,
                ListWorkItems,
                Send,
                DeadLetterCount,
                // The safety poll acts through the ingress's own path: a synthetic delivery
                // is recorded (and given back when applying it fails) like a webhook's.
                BeginDelivery,
                CompleteDelivery,
                ReleaseDelivery,
                DeleteWorkItem,
                // The queue depth sample of each tick, and the safety poll's deliveries.
                RecordMetrics,
            ],
            Self::Runner => &[
                Open,
                GetWorkItem,
                PutWorkItem,
                ListWorkItems,
                PutRun,
                GetRun,
                ListRuns,
                AppendEvents,
                ListEvents,
                GetSlotPool,
                PutSlotPool,
                // Agent accounts: leases and quota state.
                GetAccountPool,
                PutAccountPool,
                Receive,
                Delete,
                ChangeVisibility,
                SendDelayed,
                DeadLetter,
                // Runs started and ended.
                RecordMetrics,
                // Budgets: checked before a run, charged as its usage grows.
                ReadBudget,
                ChargeBudget,
            ],
        }
    }

    /// Everything the component's role must allow, and nothing else.
    pub fn grants(self) -> BTreeSet<Grant> {
        self.calls()
            .iter()
            .flat_map(|call| call.grants().iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETUP_ACTIONS: [&str; 8] = [
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "UpdateTimeToLive",
        "CreateQueue",
        "DeleteQueue",
        "SetQueueAttributes",
        "PurgeQueue",
    ];

    #[test]
    fn every_component_opens_its_backends_and_nothing_asks_for_setup_actions() {
        for component in Component::ALL {
            assert!(component.calls().contains(&PortCall::Open), "{component:?}");
            for grant in component.grants() {
                let action = grant.action.split(':').nth(1).unwrap_or_default();
                assert!(
                    !SETUP_ACTIONS.contains(&action),
                    "{component:?} would be granted {grant}"
                );
            }
        }
    }

    #[test]
    fn only_the_runner_receives_and_only_the_runner_writes_timelines() {
        for component in Component::ALL {
            let grants = component.grants();
            let receives = grants.contains(&grant("sqs:ReceiveMessage", JobsQueue));
            let appends = grants.contains(&grant("dynamodb:BatchWriteItem", Table));
            assert_eq!(receives, component == Component::Runner, "{component:?}");
            assert_eq!(appends, component == Component::Runner, "{component:?}");
        }
    }
}
