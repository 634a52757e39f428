//! Placeholder until the source is implemented.

use super::{ParseError, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::SourceKind;
use crate::secret::Secret;
use chrono::{DateTime, Utc};

pub struct GithubSource;

impl WebhookSource for GithubSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Github
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
