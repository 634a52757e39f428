use super::{JobId, NormalizedEvent, SourceKind, WorkItemKey};
use chrono::{DateTime, Utc};
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

/// A completed delivery as stored: what it did, and the event it carried, so that it can be
/// replayed (`POST /api/v1/deliveries/{id}/replay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub outcome: DeliveryOutcome,
    /// The normalized event; `None` for a record written before events were kept.
    pub event: Option<NormalizedEvent>,
    pub completed_at: DateTime<Utc>,
}

impl DeliveryKey {
    /// Parses the display form, `<source>:<id>` (`github:72d3162e-...`), as API paths carry it.
    pub fn parse(value: &str) -> Result<Self, String> {
        let shown = super::preview(value);
        let (source, id) = value
            .split_once(':')
            .ok_or_else(|| format!("delivery id `{shown}` has no `<source>:` prefix"))?;
        let source = source
            .parse::<SourceKind>()
            .map_err(|_| format!("delivery id `{shown}` does not start with a known source"))?;
        if id.is_empty() || id.len() > Self::MAX_ID_LEN || !super::is_printable(id) {
            return Err(format!(
                "delivery id `{shown}` must have 1 to {} printable characters after the source",
                Self::MAX_ID_LEN
            ));
        }
        Ok(Self::new(source, id))
    }
}
