//! Which workflow's secret signed a delivery.
//!
//! With several workflows each may name its own secret for a source, and the workflow that
//! serves a delivery is chosen from its body (the repository, the project key). The body is
//! untrusted until a signature over it checks out, so the order is: verify against each
//! distinct secret that could serve the source (constant time each), then parse and select,
//! then require that the selected workflow's secret is the one that verified — so a sender
//! holding one repository's secret cannot act for another repository.

use super::IngressError;
use crate::domain::{IssueSnapshot, SourceKind};
use crate::secret::Secret;
use crate::webhooks::{VerifyError, WebhookRequest, WebhookSource};
use crate::workflow::ServedWorkflow;
use chrono::{DateTime, Utc};

/// The index in `secrets` of the secret that signed `request`.
pub(super) fn signing_secret(
    handler: &dyn WebhookSource,
    request: WebhookRequest<'_>,
    secrets: &[Secret],
    now: DateTime<Utc>,
) -> Result<usize, IngressError> {
    let source = handler.kind();
    let mut refused: Option<VerifyError> = None;
    for (slot, secret) in secrets.iter().enumerate() {
        match handler.verify(request, secret, now) {
            Ok(()) => return Ok(slot),
            // A mismatch only says "not this secret"; any other refusal (a stale timestamp,
            // a missing header) says more, so it is the one reported.
            Err(error) if refused.is_none() || error != VerifyError::Mismatch => {
                refused = Some(error)
            }
            Err(_) => {}
        }
    }
    Err(match refused {
        Some(error) => IngressError::InvalidSignature(error.to_string()),
        None => super::service::no_secret(source),
    })
}

/// Refuses a delivery signed with another workflow's secret than the one serving it.
pub(super) fn check_signer(
    served: &ServedWorkflow,
    source: SourceKind,
    signed_by: usize,
    issue: &IssueSnapshot,
) -> Result<(), IngressError> {
    if served.secret_slot(source) == Some(signed_by) {
        return Ok(());
    }
    Err(IngressError::InvalidSignature(format!(
        "{} is served by workflow `{}`, whose {source} secret did not sign this delivery",
        target(source, issue),
        served.name()
    )))
}

/// `github repository acme/app`, or `linear issue ENG-42` where there is no repository.
pub(super) fn target(source: SourceKind, issue: &IssueSnapshot) -> String {
    match &issue.repository {
        Some(repository) => format!("{source} repository {repository}"),
        None => format!("{source} issue {}", issue.identifier),
    }
}
