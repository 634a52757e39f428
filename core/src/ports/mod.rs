//! The storage, queue and agent-session ports, and the ingress's announcements. The domain
//! talks only to these traits; adapters live in `crate::memory` (embedded) and the
//! `baton-aws` crate (DynamoDB, SQS). The suites in `crate::contract` hold every adapter to
//! the same behaviour.

mod accounts;
mod agent_sessions;
mod announcer;
mod budgets;
mod queue;
mod store;

pub use accounts::{
    AccountLease, AccountPool, AccountState, CredentialError, CredentialSource, QuotaSignals,
    QuotaWindow,
};
pub use agent_sessions::{Activity, AgentSessionError, AgentSessions};
pub use announcer::{Announcer, HeldRun};
pub use budgets::{
    BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals, BUDGET_DAY_RETENTION_DAYS,
    BUDGET_ITEM_RETENTION_DAYS, DEFAULT_BUDGET_WORKFLOW,
};
pub use queue::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
pub use store::{DeliveryClaim, SlotPool, Store, StoreError};
