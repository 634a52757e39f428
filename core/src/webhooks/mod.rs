//! Webhook sources: signature verification on the raw bytes, then parsing into a
//! [`NormalizedEvent`]. One file per source, which also describes the source (its states,
//! scope and links: [`crate::sources::Source`]); [`crate::sources::describe`] is the registry.

mod github;
mod gitlab;
mod jira;
mod json;
mod linear;
mod media;
mod signature;
#[cfg(test)]
mod test_support;

pub use github::GithubSource;
pub use gitlab::GitlabSource;
pub use jira::JiraSource;
pub use linear::agent_session::{
    typed_event as linear_agent_event, AgentIssue, AgentSessionAction, AgentSessionEvent,
};
pub use linear::LinearSource;
pub use media::{body_format, BodyFormat};

use crate::domain::NormalizedEvent;
use crate::secret::Secret;
use crate::sources::Source;
use chrono::{DateTime, Utc};
use http::HeaderMap;

/// The raw request as it arrived: verification must see the exact bytes that were signed.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// A verified delivery, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDelivery {
    /// The sender's delivery id (`X-GitHub-Delivery`, `Linear-Delivery`, ...).
    pub delivery_id: String,
    pub parsed: Parsed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Event(Box<NormalizedEvent>),
    /// Valid, but not something baton acts on (`ping`, an event type it does not handle).
    Ignored {
        reason: String,
    },
}

/// Why a request's signature was refused. Every variant answers 401 `invalid_signature`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing signature header `{0}`")]
    MissingSignature(&'static str),
    #[error("signature header `{0}` is not in the expected format")]
    MalformedSignature(&'static str),
    #[error("signature does not match the body")]
    Mismatch,
    #[error("webhook timestamp is missing or unreadable")]
    MissingTimestamp,
    #[error("webhook timestamp is {age_seconds}s away from now (window: {window_seconds}s)")]
    StaleTimestamp {
        age_seconds: i64,
        window_seconds: i64,
    },
}

/// Why a verified request could not be understood. Every variant answers 400 `malformed_payload`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    #[error("header `{0}` is invalid: {1}")]
    InvalidHeader(&'static str, String),
    #[error("unsupported content type `{0}`")]
    UnsupportedContentType(String),
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("payload is missing `{0}`")]
    MissingField(&'static str),
}

/// One webhook sender's scheme.
pub trait WebhookSource: Source {
    /// The environment variable holding the webhook secret unless the workflow names
    /// another (`webhooks.<source>.secret`).
    fn secret_variable(&self) -> &'static str;

    /// The header that carries the signature (or the token): a request without it is
    /// refused before its body is read.
    fn signature_header(&self) -> &'static str;

    /// Whether the signed bytes carry a timestamp that bounds replays (Linear's
    /// `webhookTimestamp`). Without one, the ingress also deduplicates on the body's digest.
    fn signs_timestamp(&self) -> bool {
        false
    }

    /// Whether the sender can form-encode its body (see [`body_format`]).
    fn accepts_form(&self) -> bool {
        false
    }

    /// Checks the signature (and timestamp window, where the source has one) against the raw
    /// body in constant time. Must run before [`WebhookSource::parse`].
    fn verify(
        &self,
        request: WebhookRequest<'_>,
        secret: &Secret,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError>;

    /// Parses a verified request into a normalized event, or says why it is ignored.
    fn parse(&self, request: WebhookRequest<'_>) -> Result<ParsedDelivery, ParseError>;
}

/// What the headers alone decide for `handler`, so that the body is never read for a
/// request refused anyway: the signature header is present and readable, and the
/// Content-Type is one the source sends.
pub fn screen_headers(handler: &dyn WebhookSource, headers: &HeaderMap) -> Result<(), ScreenError> {
    signature::signature_header(headers, handler.signature_header())
        .map_err(ScreenError::Unsigned)?;
    body_format(headers, handler.accepts_form()).map_err(ScreenError::Media)?;
    Ok(())
}

/// Why [`screen_headers`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    /// 401 `invalid_signature`.
    #[error(transparent)]
    Unsigned(VerifyError),
    /// 415 `unsupported_media_type`.
    #[error(transparent)]
    Media(ParseError),
}
