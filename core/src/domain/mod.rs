//! Domain types: what a webhook means once parsed, and what baton keeps about it.

mod delivery;
mod event;
pub mod input;
mod job;
mod run;
mod source;
mod text;
mod work_item;

pub use delivery::{DeliveryKey, DeliveryOutcome, DeliveryRecord};
pub use event::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, ReviewState};
pub use input::{InputAnswer, InputRequest, MAX_INPUT_TEXT};
pub use job::{Job, JobId, JobReason, JOB_SCHEMA_VERSION};
pub use run::{Run, RunError, RunEvent, RunId, RunStatus, TokenTotals};
pub use source::{SourceKind, UnknownSource};
pub use text::{is_printable, preview};
pub use work_item::{
    AgentSessionLink, Lease, PullRequestLink, WorkItem, WorkItemKey, WorkItemStatus,
    WORK_ITEM_MARKER,
};
