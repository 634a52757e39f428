//! The path parameters: each is one percent-encoded segment, decoded by axum before it is
//! parsed here. A rejection from axum means the segment was not UTF-8 once decoded.

use super::error::ApiError;
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use baton_core::domain::{DeliveryKey, RunId, WorkItemKey};

pub(super) type Segment = Result<Path<String>, PathRejection>;

pub(super) fn work_item_key(segment: Segment) -> Result<WorkItemKey, ApiError> {
    let Path(key) = segment.map_err(|rejection| ApiError::InvalidKey(rejection.body_text()))?;
    WorkItemKey::parse(&key).map_err(ApiError::InvalidKey)
}

pub(super) fn run_id(segment: Segment) -> Result<RunId, ApiError> {
    let Path(id) = segment.map_err(|rejection| ApiError::InvalidRunId(rejection.body_text()))?;
    RunId::parse(&id).map_err(ApiError::InvalidRunId)
}

pub(super) fn delivery_key(segment: Segment) -> Result<DeliveryKey, ApiError> {
    let Path(id) =
        segment.map_err(|rejection| ApiError::InvalidDeliveryId(rejection.body_text()))?;
    DeliveryKey::parse(&id).map_err(ApiError::InvalidDeliveryId)
}
