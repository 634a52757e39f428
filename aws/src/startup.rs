//! Cold dependencies: the calls a process makes while it starts (`baton setup`, the existence
//! checks of `open`) wait for an emulator that is still starting, or for a throttled AWS,
//! instead of failing on the first timeout as the hot path does.
//!
//! They run on "patient" clients (one attempt per call, long timeouts: a freshly started
//! LocalStack starts DynamoDB on the first request, which takes seconds) and are retried here
//! with exponential backoff within a start-up budget, one log line per retry. Errors that
//! waiting cannot fix (a missing table, bad credentials) end the wait at once.

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The variable that sets the budget, in whole seconds.
pub const BUDGET_VARIABLE: &str = "BATON_STARTUP_BUDGET_SECS";
/// The budget when the variable is unset.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// One attempt of a start-up call. CreateTable, DescribeTable and the first call to a cold
/// emulator can take several seconds, far more than a hot-path PutItem.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Opening a connection: an emulator that is up accepts at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Service error codes that mean "slow down", not "wrong".
const THROTTLING: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

/// How long start-up calls may keep trying, and how they space their tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartupBudget {
    /// Time from the first try after which a failing call gives up.
    pub total: Duration,
    /// Wait after the first failure; it doubles after each one, up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for StartupBudget {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

impl StartupBudget {
    pub fn new(total: Duration) -> Self {
        Self {
            total,
            first_wait: Duration::from_millis(250),
            max_wait: Duration::from_secs(5),
        }
    }

    /// `BATON_STARTUP_BUDGET_SECS` (whole seconds; 0 tries each call once), else 60 s.
    pub fn from_env() -> Result<Self, BudgetError> {
        match std::env::var(BUDGET_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value),
            _ => Ok(Self::default()),
        }
    }

    fn parse(value: &str) -> Result<Self, BudgetError> {
        value
            .trim()
            .parse::<u64>()
            .map(|secs| Self::new(Duration::from_secs(secs)))
            .map_err(|_| BudgetError(value.to_owned()))
    }
}

/// `BATON_STARTUP_BUDGET_SECS` is not a whole number of seconds.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{BUDGET_VARIABLE} must be a whole number of seconds, not `{0}`")]
pub struct BudgetError(String);

/// A failed try: whether waiting may help, and what went wrong.
#[derive(Debug, Clone)]
pub struct Failure {
    pub transient: bool,
    pub message: String,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }

    /// Classifies an SDK error: no answer (refused, reset, timed out), a 5xx or a throttling
    /// answer is transient; any other answer of the service is not.
    pub fn from_sdk<E>(service: &str, operation: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let transient = match err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::DispatchFailure(failure) => !failure.is_user(),
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                status >= 500
                    || status == 429
                    || context
                        .err()
                        .code()
                        .is_some_and(|c| THROTTLING.contains(&c))
            }
            _ => false,
        };
        Self {
            transient,
            message: format!("{service} {operation}: {}", DisplayErrorContext(err)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A start-up call that did not succeed within its budget, or failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartupError {
    #[error("{what} failed: {last}")]
    Failed { what: String, last: String },
    #[error(
        "{what} did not succeed within the start-up budget of {budget:?} ({attempts} attempts; \
         is the endpoint up? raise {BUDGET_VARIABLE} to wait longer); last error: {last}"
    )]
    OutOfBudget {
        what: String,
        attempts: u32,
        budget: Duration,
        last: String,
    },
}

/// Runs `call` until it succeeds, fails for good, or the budget is spent, with one warning
/// per retry (what, attempt, next wait, budget left). Each try is cut off at the budget's end.
pub async fn retry<T, F, Fut>(
    budget: &StartupBudget,
    what: &str,
    mut call: F,
) -> Result<T, StartupError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let deadline = Instant::now() + budget.total;
    let mut wait = budget.first_wait;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        // Always one try, even with a zero budget.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let failure = match tokio::time::timeout(left, call()).await {
            Ok(Ok(value)) => {
                if attempt > 1 {
                    tracing::info!(target: "baton::startup", "{what}: succeeded on attempt {attempt}");
                }
                return Ok(value);
            }
            Ok(Err(failure)) => failure,
            Err(_) => Failure {
                transient: true,
                message: format!("no answer within the {left:?} left of the budget"),
            },
        };
        if !failure.transient {
            return Err(StartupError::Failed {
                what: what.to_owned(),
                last: failure.message,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left <= wait {
            return Err(StartupError::OutOfBudget {
                what: what.to_owned(),
                attempts: attempt,
                budget: budget.total,
                last: failure.message,
            });
        }
        tracing::warn!(
            target: "baton::startup",
            "{what}: attempt {attempt} failed ({failure}); retrying in {wait:?}, {}s of the \
             start-up budget left",
            left.as_secs()
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(budget.max_wait);
    }
}

/// Timeouts and retries of start-up calls: one long attempt each; [`retry`] does the rest.
fn patient_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// A DynamoDB client like `client` (same endpoint, region, credentials) for start-up calls.
pub(crate) fn patient_dynamo(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    let config = client
        .config()
        .to_builder()
        .timeout_config(patient_timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// An SQS client like `client` for start-up calls.
pub(crate) fn patient_sqs(client: &aws_sdk_sqs::Client) -> aws_sdk_sqs::Client {
    let config = client
        .config()
        .to_builder()
        .timeout_config(patient_timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn the_budget_reads_whole_seconds() {
        assert_eq!(
            StartupBudget::parse(" 5 ").map(|b| b.total).ok(),
            Some(Duration::from_secs(5))
        );
        let error = StartupBudget::parse("5s").expect_err("not a number");
        assert!(error.to_string().contains(BUDGET_VARIABLE), "{error}");
    }

    /// Real time, kept short: the crate's tokio has no paused clock.
    fn quick(total: Duration) -> StartupBudget {
        StartupBudget {
            total,
            first_wait: Duration::from_millis(5),
            max_wait: Duration::from_millis(20),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let tries = AtomicU32::new(0);
        let result = retry(&quick(Duration::from_secs(30)), "test call", || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(Failure {
                    transient: true,
                    message: "connection refused".into(),
                }),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[tokio::test]
    async fn a_permanent_failure_ends_at_once() {
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retry(&quick(Duration::from_secs(30)), "test call", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(Failure::permanent("ResourceNotFoundException"))
        })
        .await;
        assert!(matches!(result, Err(StartupError::Failed { .. })));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_budget_ends_the_wait() {
        let budget = quick(Duration::from_millis(200));
        let result: Result<(), _> = retry(&budget, "test call", || async {
            Err(Failure {
                transient: true,
                message: "connection refused".into(),
            })
        })
        .await;
        let Err(StartupError::OutOfBudget { attempts, last, .. }) = result else {
            panic!("expected OutOfBudget, got {result:?}");
        };
        assert!(attempts > 2, "{attempts} attempts");
        assert_eq!(last, "connection refused");
    }
}
