//! Placeholder until the source is implemented.

use super::{ParseError, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::SourceKind;
use crate::secret::Secret;
use chrono::{DateTime, Utc};

pub struct LinearSource;

impl WebhookSource for LinearSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Linear
    }

    fn verify(
        &self,
        _: WebhookRequest<'_>,
        _: &Secret,
        _: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        Err(VerifyError::Mismatch)
    }

    fn parse(&self, _: WebhookRequest<'_>) -> Result<ParsedDelivery, ParseError> {
        Err(ParseError::MissingField("everything"))
    }
}
