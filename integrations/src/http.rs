//! The HTTP client every adapter uses: one base URL, one credential, bounded retries.
//!
//! Tracker and platform APIs time out, rate-limit and fail; a retry must never turn into a
//! wrong write, so only answers that say "nothing happened" are retried: 429 (after
//! `Retry-After`, capped), 502/503/504, and connection errors before a request was sent.
//! Everything else comes back as a typed [`ApiError`] the caller records.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Retry and timeout policy. The defaults suit a runner acting on behalf of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; doubled after each failure.
    pub base_delay: Duration,
    /// The longest wait, whatever `Retry-After` asks for: a job must not sleep for an hour.
    pub max_delay: Duration,
    /// One request's time limit.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Quick retries, for tests against local servers.
    pub fn fast() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why an API call failed, in words a run record can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{service}: {method} {path} answered {status}: {message}")]
    Status {
        service: &'static str,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{service}: rate limited on {path} after {attempts} attempts")]
    RateLimited {
        service: &'static str,
        path: String,
        attempts: u32,
    },
    #[error("{service}: {path} unreachable: {message}")]
    Unreachable {
        service: &'static str,
        path: String,
        message: String,
    },
    #[error("{service}: {path} answered something unexpected: {message}")]
    Malformed {
        service: &'static str,
        path: String,
        message: String,
    },
    #[error("{service}: configuration: {0}", service = "baton")]
    Config(String),
}

impl ApiError {
    /// The HTTP status, when the API answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A short machine-readable code for run records.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Status { status: 401, .. } | Self::Status { status: 403, .. } => {
                "api_unauthorized"
            }
            Self::Status { status: 404, .. } => "api_not_found",
            Self::Status { status: 409, .. } | Self::Status { status: 412, .. } => "api_conflict",
            Self::Status { status: 422, .. } => "api_rejected",
            Self::Status { .. } => "api_error",
            Self::RateLimited { .. } => "api_rate_limited",
            Self::Unreachable { .. } => "api_unreachable",
            Self::Malformed { .. } => "api_malformed_response",
            Self::Config(_) => "api_config",
        }
    }

    pub fn malformed(service: &'static str, path: &str, message: impl Into<String>) -> Self {
        Self::Malformed {
            service,
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// A successful answer: status, headers, and the body parsed as JSON (`Null` when empty).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    pub fn parse<T: DeserializeOwned>(
        &self,
        service: &'static str,
        path: &str,
    ) -> Result<T, ApiError> {
        serde_json::from_value(self.body.clone())
            .map_err(|e| ApiError::malformed(service, path, e.to_string()))
    }

    /// The `rel="next"` URL of an RFC 8288 `Link` header (GitHub, GitLab pagination).
    pub fn next_link(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""))
                .then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
        })
    }
}

/// A JSON API at one base URL with one set of default headers (the credential among them).
/// The credential lives in a header marked sensitive, so it never shows in a `Debug` print.
#[derive(Clone)]
pub struct ApiClient {
    service: &'static str,
    base_url: String,
    headers: HeaderMap,
    policy: RetryPolicy,
    http: reqwest::Client,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("service", &self.service)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// `base_url` without a trailing slash, e.g. `https://api.github.com`.
    pub fn new(
        service: &'static str,
        base_url: &str,
        policy: RetryPolicy,
    ) -> Result<Self, ApiError> {
        let parsed = url::Url::parse(base_url)
            .map_err(|e| ApiError::Config(format!("{service} base URL `{base_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "{service} base URL `{base_url}` must be http or https"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("{service} HTTP client: {e}")))?;
        Ok(Self {
            service,
            base_url: base_url.trim_end_matches('/').to_owned(),
            headers: HeaderMap::new(),
            policy,
            http,
        })
    }

    /// Adds a default header; `sensitive` keeps its value out of debug output.
    pub fn with_header(
        mut self,
        name: &'static str,
        value: &str,
        sensitive: bool,
    ) -> Result<Self, ApiError> {
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            ApiError::Config(format!(
                "{}: header `{name}` has invalid characters",
                self.service
            ))
        })?;
        value.set_sensitive(sensitive);
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(self)
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn get(&self, path: &str) -> Result<ApiResponse, ApiError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<ApiResponse, ApiError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<ApiResponse, ApiError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<ApiResponse, ApiError> {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<ApiResponse, ApiError> {
        self.send(Method::DELETE, path, None).await
    }

    /// Sends one request with the retry policy. `path` is relative to the base URL, or an
    /// absolute URL on the same host (a pagination link).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ApiResponse, ApiError> {
        let url = self.resolve(path)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .headers(self.headers.clone());
            // An API may name its own media type (GitHub, CNB) as a default header.
            if !self.headers.contains_key(ACCEPT) {
                request = request.header(ACCEPT, "application/json");
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let last = attempt >= self.policy.max_attempts;
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::TOO_MANY_REQUESTS || is_retryable_status(status) {
                        let wait = self.retry_delay(attempt, response.headers());
                        if last {
                            return Err(self.failure(&method, path, response).await);
                        }
                        tracing::info!(service = self.service, %method, path, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "API asked us to retry");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if !status.is_success() {
                        return Err(self.failure(&method, path, response).await);
                    }
                    let headers = response.headers().clone();
                    let bytes = response.bytes().await.map_err(|e| ApiError::Unreachable {
                        service: self.service,
                        path: path.to_owned(),
                        message: e.to_string(),
                    })?;
                    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                        Value::Null
                    } else {
                        serde_json::from_slice(&bytes).map_err(|e| {
                            ApiError::malformed(self.service, path, format!("not JSON: {e}"))
                        })?
                    };
                    return Ok(ApiResponse {
                        status,
                        headers,
                        body,
                    });
                }
                Err(error) => {
                    // A timeout may have reached the server: only retry reads and requests
                    // that never connected.
                    let safe = method == Method::GET || error.is_connect();
                    if last || !safe {
                        return Err(ApiError::Unreachable {
                            service: self.service,
                            path: path.to_owned(),
                            message: error_chain(&error),
                        });
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
        }
    }

    fn resolve(&self, path: &str) -> Result<String, ApiError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            // Pagination links must stay on the configured API: the credential goes with them.
            if !path.starts_with(&self.base_url) {
                return Err(ApiError::malformed(
                    self.service,
                    path,
                    format!("link leaves the configured API `{}`", self.base_url),
                ));
            }
            return Ok(path.to_owned());
        }
        let separator = if path.starts_with('/') { "" } else { "/" };
        Ok(format!("{}{separator}{path}", self.base_url))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.policy
            .base_delay
            .saturating_mul(factor)
            .min(self.policy.max_delay)
    }

    fn retry_delay(&self, attempt: u32, headers: &HeaderMap) -> Duration {
        let asked = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or_else(|| github_rate_reset(headers));
        asked
            .unwrap_or_else(|| self.backoff(attempt))
            .min(self.policy.max_delay)
    }

    async fn failure(&self, method: &Method, path: &str, response: reqwest::Response) -> ApiError {
        let status = response.status().as_u16();
        if status == 429 {
            return ApiError::RateLimited {
                service: self.service,
                path: path.to_owned(),
                attempts: self.policy.max_attempts,
            };
        }
        let text = response.text().await.unwrap_or_default();
        ApiError::Status {
            service: self.service,
            method: method.to_string(),
            path: path.to_owned(),
            status,
            message: error_message(&text),
        }
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// GitHub's secondary rate limit answers 403 with `x-ratelimit-remaining: 0` and a reset time;
/// a 429 without `Retry-After` may carry the same headers.
fn github_rate_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .parse::<i64>()
        .ok()?;
    let wait = reset - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(1) as u64))
}

/// The useful part of an error body: a JSON `message`/`error`/`errors`, else the text, bounded.
fn error_message(text: &str) -> String {
    const LIMIT: usize = 300;
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        [
            "message",
            "error",
            "errorMessages",
            "errors",
            "error_description",
        ]
        .iter()
        .find_map(|key| {
            v.get(*key).filter(|x| !x.is_null()).map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
    });
    let message = from_json.unwrap_or_else(|| text.trim().to_owned());
    if message.chars().count() > LIMIT {
        let cut: String = message.chars().take(LIMIT).collect();
        format!("{cut}…")
    } else {
        message
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_read_from_a_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.example.test/items?page=3>; rel=\"next\", <https://api.example.test/items?page=9>; rel=\"last\"",
            ),
        );
        let response = ApiResponse {
            status: StatusCode::OK,
            headers,
            body: Value::Null,
        };
        assert_eq!(
            response.next_link().as_deref(),
            Some("https://api.example.test/items?page=3")
        );
    }

    #[test]
    fn error_messages_prefer_the_json_message_and_are_bounded() {
        assert_eq!(
            error_message(r#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(error_message("plain"), "plain");
        assert!(error_message(&"x".repeat(1000)).chars().count() <= 301);
    }

    #[test]
    fn links_to_another_host_are_refused() {
        let client = ApiClient::new("test", "http://127.0.0.1:9", RetryPolicy::fast()).unwrap();
        assert!(client.resolve("https://evil.example/steal").is_err());
        assert_eq!(client.resolve("/a").unwrap(), "http://127.0.0.1:9/a");
    }
}
