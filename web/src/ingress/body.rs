//! Reading a webhook body: capped at the size limit and paid for from the [`BodyBudget`]
//! before it is buffered, so no request can make the process hold more than the budget.

use super::budget::{BodyBudget, Held};
use crate::http_error::{error, retry_later};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use baton_telemetry::metrics::RefusalReason;
use bytes::BytesMut;
use http_body_util::BodyExt;

/// A body read whole, with the budget it holds until dropped.
pub(super) struct HeldBody {
    pub bytes: Bytes,
    _held: Held,
}

/// Why a body was not read.
#[derive(Debug)]
pub(super) enum BodyRefusal {
    /// Declared or found over the limit: 413.
    TooLarge { limit: usize },
    /// The budget is spent: 503 with `Retry-After`.
    Busy,
    /// The connection failed or the framing was broken: 400.
    Unreadable(String),
}

impl BodyRefusal {
    pub(super) fn reason(&self) -> RefusalReason {
        match self {
            Self::TooLarge { .. } => RefusalReason::PayloadTooLarge,
            Self::Busy => RefusalReason::Busy,
            Self::Unreadable(_) => RefusalReason::Malformed,
        }
    }
}

impl IntoResponse for BodyRefusal {
    fn into_response(self) -> Response {
        match self {
            Self::TooLarge { limit } => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body exceeds the limit of {limit} bytes"),
            ),
            Self::Busy => retry_later(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "too many webhook bodies are waiting for verification; retry later",
            )),
            Self::Unreadable(detail) => error(
                StatusCode::BAD_REQUEST,
                "malformed_payload",
                format!("could not read the body: {detail}"),
            ),
        }
    }
}

/// The `Content-Length` the client declared, if it is a number.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Reads the whole body: a declared length over `limit` is refused before a byte is read,
/// a declared length is taken from `budget` at once, and an undeclared (chunked) body frame
/// by frame as it arrives, stopping at `limit`.
pub(super) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    budget: &BodyBudget,
) -> Result<HeldBody, BodyRefusal> {
    let declared = declared_length(headers);
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyRefusal::TooLarge { limit });
    }
    let mut held = budget.hold();
    // `declared <= limit` here, so it fits in usize.
    let declared = declared.map(|length| length as usize);
    if let Some(length) = declared {
        held.grow(length).map_err(|_| BodyRefusal::Busy)?;
    }
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyRefusal::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing baton reads
        };
        let total = buffer.len() + data.len();
        if total > limit {
            return Err(BodyRefusal::TooLarge { limit });
        }
        // hyper refuses a body longer than its declared length; the check keeps the
        // budget honest even if it did not.
        if total > held.bytes() {
            held.grow(total - held.bytes())
                .map_err(|_| BodyRefusal::Busy)?;
        }
        buffer.extend_from_slice(&data);
    }
    Ok(HeldBody {
        bytes: buffer.freeze(),
        _held: held,
    })
}
