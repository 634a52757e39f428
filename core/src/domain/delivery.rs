use super::{JobId, SourceKind, WorkItemKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one webhook delivery: the source plus the id the sender puts on it
/// (`X-GitHub-Delivery`, `Linear-Delivery`, ...). A redelivery carries the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeliveryKey {
    pub source: SourceKind,
    pub id: String,
}

impl DeliveryKey {
    /// Delivery ids longer than this are refused as malformed: they become store keys.
    pub const MAX_ID_LEN: usize = 200;

    pub fn new(source: SourceKind, id: impl Into<String>) -> Self {
        Self {
            source,
            id: id.into(),
        }
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.id)
    }
}

/// What a completed delivery did; kept so a redelivery can be answered the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Queued {
        work_item: WorkItemKey,
        job_id: JobId,
    },
    CancelRequested {
        work_item: WorkItemKey,
    },
    /// Recorded, and held at the dispatch gate until a person approves.
    AwaitingApproval {
        work_item: WorkItemKey,
    },
    Ignored {
        reason: String,
    },
}
