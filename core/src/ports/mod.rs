//! The storage, queue and agent-session ports. The domain talks only to these traits; adapters live in
//! `crate::memory` (embedded) and the `baton-aws` crate (DynamoDB, SQS). The suites in
//! `crate::contract` hold every adapter to the same behaviour.

mod agent_sessions;
mod queue;
mod store;

pub use agent_sessions::{Activity, AgentSessionError, AgentSessions};

pub use queue::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
pub use store::{DeliveryClaim, SlotPool, Store, StoreError};
