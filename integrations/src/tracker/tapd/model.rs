//! The shapes of TAPD's answers that baton reads: the `{"status", "data", "info"}` envelope,
//! stories and comments wrapped as `{"Story": …}` / `{"Comment": …}`, and TAPD's conventions
//! for priorities and timestamps. A story's `id`, `name` and `status` are required: an answer
//! without them is malformed, never filled with defaults.

use super::SERVICE;
use crate::http::{ApiError, ApiResponse};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// TAPD's timestamps are Beijing time, without an offset.
const TAPD_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// The `data` of a TAPD answer, after checking its `status`.
pub(super) fn data<T: DeserializeOwned>(
    answer: &ApiResponse,
    method: &str,
    path: &str,
) -> Result<T, ApiError> {
    let envelope: Envelope = answer.parse(SERVICE, path)?;
    let status = match &envelope.status {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match status {
        Some(1) => serde_json::from_value(envelope.data)
            .map_err(|e| ApiError::malformed(SERVICE, path, format!("`data`: {e}"))),
        Some(other) => Err(ApiError::Status {
            service: SERVICE,
            method: method.to_owned(),
            path: path.to_owned(),
            status: answer.status.as_u16(),
            message: format!(
                "status {other}: {}",
                envelope.info.as_deref().unwrap_or("no info")
            ),
        }),
        None => Err(ApiError::malformed(
            SERVICE,
            path,
            "the answer has no `status`",
        )),
    }
}

/// TAPD's priority labels (English and Chinese), or the legacy numbers (4 = high .. 1 = nice
/// to have), on Symphony's 1 (urgent) .. 4 (low) scale.
pub(super) fn priority_level(value: &str) -> Option<u8> {
    match value.trim().to_ascii_lowercase().as_str() {
        "high" | "高" | "4" => Some(1),
        "middle" | "中" | "3" => Some(2),
        "low" | "低" | "2" => Some(3),
        "nice to have" | "无关紧要" | "1" => Some(4),
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time.
pub(super) fn parse_timestamp(value: &str, path: &str) -> Result<DateTime<Utc>, ApiError> {
    let beijing = FixedOffset::east_opt(TAPD_UTC_OFFSET_SECS)
        .ok_or_else(|| ApiError::malformed(SERVICE, path, "invalid offset"))?;
    NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S")
        .map_err(|e| ApiError::malformed(SERVICE, path, format!("timestamp `{value}`: {e}")))?
        .and_local_timezone(beijing)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::malformed(SERVICE, path, format!("timestamp `{value}`")))
}

/// TAPD's envelope. `status` is checked by hand: a record without one is not an answer.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    status: Value,
    #[serde(default)]
    data: Value,
    info: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StoryRecord {
    #[serde(rename = "Story")]
    pub(super) story: Story,
}

/// TAPD sends every field as a string, ids included.
#[derive(Debug, Deserialize)]
pub(super) struct Story {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) status: String,
    pub(super) priority: Option<String>,
    pub(super) priority_label: Option<String>,
    pub(super) owner: Option<String>,
    pub(super) creator: Option<String>,
    pub(super) label: Option<String>,
    pub(super) created: Option<String>,
    pub(super) modified: Option<String>,
    pub(super) workitem_type_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CommentRecord {
    #[serde(rename = "Comment")]
    pub(super) comment: Comment,
}

#[derive(Debug, Deserialize)]
pub(super) struct Comment {
    pub(super) id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_beijing_timestamps() {
        assert_eq!(priority_level("High"), Some(1));
        assert_eq!(priority_level("Middle"), Some(2));
        assert_eq!(priority_level("低"), Some(3));
        assert_eq!(priority_level("Nice To Have"), Some(4));
        assert_eq!(priority_level(""), None);
        let parsed = parse_timestamp("2024-01-02 11:04:05", "/stories").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-01-02T03:04:05+00:00");
        assert!(parse_timestamp("2024-01-02", "/stories").is_err());
    }
}
