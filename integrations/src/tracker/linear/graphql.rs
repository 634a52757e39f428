//! Linear's GraphQL transport: one `POST` per operation, and the answer's `errors` turned into
//! typed failures.
//!
//! GraphQL reports most failures inside a 200 answer, so HTTP status alone says little. Linear
//! names the kind in `extensions.code`: `RATELIMITED` means nothing happened and is retried
//! here with the client's backoff (queries and mutations alike); a missing entity becomes
//! [`TrackerError::NotFound`]; an authentication or permission error keeps the meaning of a
//! 401/403 so run records read the same as for REST trackers. Linear may also send these as
//! an HTTP 400 whose body carries the same `errors`; both shapes are read alike.

use super::queries::Operation;
use crate::http::{ApiClient, ApiError, RetryPolicy};
use crate::tracker::TrackerError;
use serde::Deserialize;
use serde_json::{json, Value};

const SERVICE: &str = "linear";
/// Longest error text carried into a run record.
const MESSAGE_LIMIT: usize = 300;

#[derive(Debug, Deserialize)]
struct GraphQlError {
    message: String,
    #[serde(default)]
    extensions: Option<Extensions>,
}

#[derive(Debug, Deserialize)]
struct Extensions {
    code: Option<String>,
    #[serde(rename = "userPresentableMessage")]
    user_message: Option<String>,
}

/// What an answer's `errors` mean for the caller.
enum Failure {
    RateLimited,
    NotFound,
    Unauthorized(String),
    Forbidden(String),
    Rejected(String),
}

/// Sends GraphQL operations to one Linear endpoint.
#[derive(Debug, Clone)]
pub(super) struct GraphQlClient {
    api: ApiClient,
    policy: RetryPolicy,
}

impl GraphQlClient {
    pub(super) fn new(api: ApiClient, policy: RetryPolicy) -> Self {
        Self { api, policy }
    }

    /// Runs `operation` and returns its `data` object. `subject` names what the operation is
    /// about (an issue identifier) for a not-found error.
    pub(super) async fn run(
        &self,
        operation: Operation,
        variables: Value,
        subject: &str,
    ) -> Result<Value, TrackerError> {
        let request = json!({
            "query": operation.document,
            "variables": variables,
            "operationName": operation.name,
        });
        // The endpoint is the base URL itself (`…/graphql`), not a path below it.
        let endpoint = self.api.base_url().to_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.api.post(&endpoint, &request).await {
                Ok(answer) => match read_answer(operation, answer.body)? {
                    Ok(data) => return Ok(data),
                    Err(failure) => failure,
                },
                Err(error) => match failure_in_refusal(&error) {
                    Some(failure) => failure,
                    None => return Err(error.into()),
                },
            };
            match failure {
                Failure::RateLimited if attempt < self.policy.max_attempts => {
                    let wait = self.backoff(attempt);
                    tracing::info!(
                        service = SERVICE,
                        operation = operation.name,
                        wait_ms = wait.as_millis() as u64,
                        "Linear rate limited the request; waiting"
                    );
                    tokio::time::sleep(wait).await;
                }
                Failure::RateLimited => {
                    return Err(ApiError::RateLimited {
                        service: SERVICE,
                        path: operation.name.to_owned(),
                        attempts: attempt,
                    }
                    .into())
                }
                Failure::NotFound => {
                    return Err(TrackerError::NotFound {
                        tracker: SERVICE,
                        identifier: subject.to_owned(),
                    })
                }
                Failure::Unauthorized(message) => return Err(status(operation, 401, message)),
                Failure::Forbidden(message) => return Err(status(operation, 403, message)),
                Failure::Rejected(message) => {
                    return Err(TrackerError::Invalid {
                        tracker: SERVICE,
                        message: format!("{}: {message}", operation.name),
                    })
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> std::time::Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.policy
            .base_delay
            .saturating_mul(factor)
            .min(self.policy.max_delay)
    }
}

fn status(operation: Operation, status: u16, message: String) -> TrackerError {
    ApiError::Status {
        service: SERVICE,
        method: "POST".into(),
        path: operation.name.to_owned(),
        status,
        message,
    }
    .into()
}

/// A 200 answer: its `data`, or what its `errors` mean. The outer error is an answer that is
/// not a GraphQL response at all.
fn read_answer(operation: Operation, body: Value) -> Result<Result<Value, Failure>, ApiError> {
    let malformed = |message: String| ApiError::malformed(SERVICE, operation.name, message);
    if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
        let errors: Vec<GraphQlError> = serde_json::from_value(errors.clone())
            .map_err(|e| malformed(format!("`errors` is not a GraphQL error list: {e}")))?;
        if let Some(failure) = classify(&errors) {
            return Ok(Err(failure));
        }
    }
    match body.get("data") {
        Some(data) if data.is_object() => Ok(Ok(data.clone())),
        _ => Err(malformed("the answer has no `data` object".into())),
    }
}

/// A non-2xx answer that still carries GraphQL errors (Linear answers some with a 400).
fn failure_in_refusal(error: &ApiError) -> Option<Failure> {
    let ApiError::Status {
        status: 400,
        message,
        ..
    } = error
    else {
        return None;
    };
    match serde_json::from_str::<Vec<GraphQlError>>(message) {
        Ok(errors) => classify(&errors),
        // The client shortens long error bodies, which can cut the JSON.
        Err(_) if message.contains("RATELIMITED") => Some(Failure::RateLimited),
        Err(_) => None,
    }
}

fn classify(errors: &[GraphQlError]) -> Option<Failure> {
    if errors.is_empty() {
        return None;
    }
    let code_is = |wanted: &str| {
        errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.code.as_deref())
                .is_some_and(|code| code.eq_ignore_ascii_case(wanted))
        })
    };
    let message = bounded(&errors.iter().map(describe).collect::<Vec<_>>().join("; "));
    Some(if code_is("RATELIMITED") {
        Failure::RateLimited
    } else if errors
        .iter()
        .any(|e| e.message.starts_with("Entity not found"))
    {
        Failure::NotFound
    } else if code_is("AUTHENTICATION_ERROR") {
        Failure::Unauthorized(message)
    } else if code_is("FORBIDDEN") {
        Failure::Forbidden(message)
    } else {
        Failure::Rejected(message)
    })
}

fn describe(error: &GraphQlError) -> String {
    let extensions = error.extensions.as_ref();
    let text = extensions
        .and_then(|x| x.user_message.as_deref())
        .unwrap_or(&error.message);
    match extensions.and_then(|x| x.code.as_deref()) {
        Some(code) => format!("{text} ({code})"),
        None => text.to_owned(),
    }
}

fn bounded(text: &str) -> String {
    if text.chars().count() > MESSAGE_LIMIT {
        let cut: String = text.chars().take(MESSAGE_LIMIT).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(body: Value) -> Vec<GraphQlError> {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn error_codes_are_classified() {
        let limited = errors(
            json!([{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]),
        );
        assert!(matches!(classify(&limited), Some(Failure::RateLimited)));
        let missing = errors(
            json!([{"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT"}}]),
        );
        assert!(matches!(classify(&missing), Some(Failure::NotFound)));
        let denied = errors(
            json!([{"message": "Authentication required", "extensions": {"code": "AUTHENTICATION_ERROR", "userPresentableMessage": "You need to authenticate."}}]),
        );
        match classify(&denied) {
            Some(Failure::Unauthorized(message)) => {
                assert_eq!(message, "You need to authenticate. (AUTHENTICATION_ERROR)")
            }
            _ => panic!("authentication errors are 401s"),
        }
        assert!(classify(&[]).is_none());
    }

    #[test]
    fn a_400_carrying_graphql_errors_is_read_like_a_200() {
        let refusal = ApiError::Status {
            service: SERVICE,
            method: "POST".into(),
            path: "/graphql".into(),
            status: 400,
            message: r#"[{"message":"Too many requests","extensions":{"code":"RATELIMITED"}}]"#
                .into(),
        };
        assert!(matches!(
            failure_in_refusal(&refusal),
            Some(Failure::RateLimited)
        ));
        let plain = ApiError::Status {
            service: SERVICE,
            method: "POST".into(),
            path: "/graphql".into(),
            status: 400,
            message: "bad request".into(),
        };
        assert!(failure_in_refusal(&plain).is_none());
    }
}
