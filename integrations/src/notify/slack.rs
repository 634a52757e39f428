//! Posting one message to Slack, by incoming webhook or `chat.postMessage`, with retries:
//! a 429 waits as long as `Retry-After` says (capped), a 5xx or a refused connection backs
//! off, anything else is final. The webhook URL and the token are secrets, so no error
//! this module returns names either (reqwest's errors are stripped of their URL).

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// Where a message goes, with its secret.
#[derive(Clone)]
pub enum SlackTarget {
    Webhook {
        url: String,
    },
    Bot {
        api_url: String,
        token: String,
        channel: String,
    },
}

impl SlackTarget {
    /// How errors name the endpoint: never the URL or the token.
    fn name(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "slack incoming webhook",
            Self::Bot { .. } => "slack chat.postMessage",
        }
    }
}

/// Attempts and waits. Slack's own `Retry-After` is honoured up to `max_delay`.
#[derive(Debug, Clone, Copy)]
pub struct SlackRetry {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

impl Default for SlackRetry {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(15),
        }
    }
}

/// Why a message was not posted. Displays without the webhook URL or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("{endpoint} refused the message: {reason}")]
    Refused {
        endpoint: &'static str,
        reason: String,
    },
    #[error("{endpoint} still rate limited after {attempts} attempts")]
    RateLimited {
        endpoint: &'static str,
        attempts: u32,
    },
    #[error("{endpoint} unreachable after {attempts} attempts: {reason}")]
    Unreachable {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    #[error("slack client: {0}")]
    Client(String),
}

/// One Slack destination and an HTTP client for it.
#[derive(Clone)]
pub struct SlackClient {
    target: SlackTarget,
    retry: SlackRetry,
    http: reqwest::Client,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("target", &self.target.name())
            .finish_non_exhaustive()
    }
}

enum Answer {
    Posted,
    Retry(Option<Duration>),
    Final(SlackError),
}

impl SlackClient {
    pub fn new(target: SlackTarget, retry: SlackRetry) -> Result<Self, SlackError> {
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SlackError::Client(e.without_url().to_string()))?;
        Ok(Self {
            target,
            retry,
            http,
        })
    }

    /// Which kind of endpoint this posts to (for logs).
    pub fn endpoint(&self) -> &'static str {
        self.target.name()
    }

    /// Posts `message` (a Block Kit payload), retrying what Slack says may be retried.
    pub async fn post(&self, message: &Value) -> Result<(), SlackError> {
        let endpoint = self.target.name();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts.max(1);
            let wait = match self.try_once(message).await {
                Answer::Posted => return Ok(()),
                Answer::Final(error) => return Err(error),
                Answer::Retry(asked) if last => {
                    return Err(match asked {
                        Some(_) => SlackError::RateLimited {
                            endpoint,
                            attempts: attempt,
                        },
                        None => SlackError::Unreachable {
                            endpoint,
                            attempts: attempt,
                            reason: "server error or no connection".into(),
                        },
                    })
                }
                Answer::Retry(asked) => asked.unwrap_or_else(|| self.backoff(attempt)),
            };
            tracing::debug!(
                endpoint,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "slack post retried"
            );
            tokio::time::sleep(wait.min(self.retry.max_delay)).await;
        }
    }

    async fn try_once(&self, message: &Value) -> Answer {
        let endpoint = self.target.name();
        let request = match &self.target {
            SlackTarget::Webhook { url } => self.http.post(url).json(message),
            SlackTarget::Bot {
                api_url,
                token,
                channel,
            } => {
                let mut body = message.clone();
                body["channel"] = Value::String(channel.clone());
                let url = format!("{}/chat.postMessage", api_url.trim_end_matches('/'));
                self.http.post(url).bearer_auth(token).json(&body)
            }
        };
        let response = match request.send().await {
            Ok(response) => response,
            // A timeout may have posted the message: only a refused connection is retried.
            Err(error) if error.is_connect() => return Answer::Retry(None),
            Err(error) => {
                return Answer::Final(SlackError::Unreachable {
                    endpoint,
                    attempts: 1,
                    reason: error.without_url().to_string(),
                })
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let asked = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Rate limited with no word on how long: back off, but still as a rate limit.
            return Answer::Retry(Some(asked.unwrap_or(self.retry.base_delay)));
        }
        if status.is_server_error() {
            return Answer::Retry(None);
        }
        let text = response.text().await.unwrap_or_default();
        match (&self.target, status.is_success()) {
            (SlackTarget::Webhook { .. }, true) => Answer::Posted,
            (SlackTarget::Bot { .. }, true) => web_api_answer(endpoint, &text),
            (_, false) => Answer::Final(SlackError::Refused {
                endpoint,
                reason: format!("HTTP {}: {}", status.as_u16(), bounded(text.trim())),
            }),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.retry.base_delay.saturating_mul(factor)
    }
}

/// The Web API answers 200 with `ok: false` and an error code when it refuses.
fn web_api_answer(endpoint: &'static str, text: &str) -> Answer {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if body["ok"].as_bool() == Some(true) {
        return Answer::Posted;
    }
    let reason = body["error"].as_str().map_or_else(
        || format!("unexpected answer: {}", bounded(text)),
        str::to_owned,
    );
    if reason == "ratelimited" {
        return Answer::Retry(Some(Duration::from_secs(1)));
    }
    Answer::Final(SlackError::Refused { endpoint, reason })
}

fn bounded(text: &str) -> String {
    text.chars().take(200).collect()
}
