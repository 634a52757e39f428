//! The Linear agent's credential. Linear's OAuth access tokens expire (every app moved to
//! expiring tokens in April 2026): an app that uses the client-credentials grant asks
//! Linear's token endpoint for a new token before the old one runs out (they last 30 days),
//! and again at once when Linear refuses the one it holds (revoked, or replaced). A fixed
//! token (`LINEAR_AGENT_TOKEN`) is used as it is: it suits a test workspace, not a
//! deployment that must outlive it.
//!
//! Settings, for the whole deployment:
//! - `LINEAR_AGENT_CLIENT_ID` and `LINEAR_AGENT_CLIENT_SECRET`: the OAuth app's client
//!   credentials (both, or neither).
//! - `LINEAR_AGENT_SCOPES`: what the token may do, comma-separated; default
//!   `read,write,app:assignable,app:mentionable`.
//! - `LINEAR_AGENT_TOKEN_URL`: the token endpoint, default `https://api.linear.app/oauth/token`.
//! - `LINEAR_AGENT_TOKEN`: a fixed access token instead.
//!
//! Tokens and the client secret live in memory only, never in a log line or an error.

use crate::config::ConfigError;
use crate::http::error_chain;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

pub const TOKEN_VARIABLE: &str = "LINEAR_AGENT_TOKEN";
pub const CLIENT_ID_VARIABLE: &str = "LINEAR_AGENT_CLIENT_ID";
pub const CLIENT_SECRET_VARIABLE: &str = "LINEAR_AGENT_CLIENT_SECRET";
pub const SCOPES_VARIABLE: &str = "LINEAR_AGENT_SCOPES";
pub const TOKEN_URL_VARIABLE: &str = "LINEAR_AGENT_TOKEN_URL";
pub const DEFAULT_TOKEN_URL: &str = "https://api.linear.app/oauth/token";
pub const DEFAULT_SCOPES: &str = "read,write,app:assignable,app:mentionable";
/// A token is renewed once nine tenths of its life have passed, so no post starts with a
/// token about to die.
const RENEW_AFTER_TENTHS: i64 = 9;
/// The life assumed when the endpoint names none.
const ASSUMED_LIFETIME_SECS: i64 = 3600;
/// The longest life believed (a year): a larger `expires_in` is read as this.
const LONGEST_LIFETIME_SECS: i64 = 365 * 24 * 3600;
/// After a failed request for a token, posts fail with that error for this long instead of
/// asking again each time (a wrong secret, or Linear down, would mean a request per post).
const FAILURE_PAUSE: TimeDelta = TimeDelta::seconds(30);
/// A refused token is replaced at most once in this long: when Linear refuses every token
/// (the app lost its access), asking again on each post would not help.
const REFUSAL_RENEWAL_PAUSE: TimeDelta = TimeDelta::seconds(30);
/// The longest error text kept from the token endpoint's answer.
const ERROR_LIMIT: usize = 200;

/// How baton authenticates as the Linear agent.
pub enum AgentCredential {
    /// `LINEAR_AGENT_TOKEN`, as given.
    Fixed(String),
    /// The client-credentials grant: tokens asked for, held and renewed here.
    ClientCredentials(Box<ClientCredentials>),
}

pub struct ClientCredentials {
    client_id: String,
    client_secret: String,
    scopes: String,
    token_url: String,
    http: reqwest::Client,
    /// Held across a request for a token, so concurrent posts wait for one request.
    held: tokio::sync::Mutex<Held>,
}

#[derive(Default)]
struct Held {
    token: Option<HeldToken>,
    /// The last failed request for a token, and when it failed.
    failed: Option<(DateTime<Utc>, TokenError)>,
    /// When a refused token was last dropped to be replaced.
    replaced_refused_at: Option<DateTime<Utc>>,
}

struct HeldToken {
    value: String,
    renew_after: DateTime<Utc>,
}

/// When a token issued at `issued_at` for `lifetime_secs` is renewed: after nine tenths of
/// its life, to the millisecond.
fn renew_after(issued_at: DateTime<Utc>, lifetime_secs: Option<i64>) -> DateTime<Utc> {
    let lifetime = lifetime_secs
        .filter(|secs| *secs > 0)
        .unwrap_or(ASSUMED_LIFETIME_SECS)
        .min(LONGEST_LIFETIME_SECS);
    issued_at + TimeDelta::milliseconds(lifetime * 100 * RENEW_AFTER_TENTHS)
}

impl fmt::Debug for AgentCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("AgentCredential::Fixed(..)"),
            Self::ClientCredentials(grant) => f
                .debug_struct("AgentCredential::ClientCredentials")
                .field("client_id", &grant.client_id)
                .field("scopes", &grant.scopes)
                .field("token_url", &grant.token_url)
                .finish_non_exhaustive(),
        }
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("linear: no agent token from {token_url}: {reason}")]
pub struct TokenError {
    token_url: String,
    reason: String,
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

impl AgentCredential {
    /// `None` when no credential is set: agent sessions are then not reported. `timeout`
    /// bounds a request for a token.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> Result<Option<Self>, ConfigError> {
        let token = non_empty(env, TOKEN_VARIABLE);
        let client_id = non_empty(env, CLIENT_ID_VARIABLE);
        let client_secret = non_empty(env, CLIENT_SECRET_VARIABLE);
        let (client_id, client_secret) = match (token, client_id, client_secret) {
            (None, None, None) => return Ok(None),
            (Some(token), None, None) => return Ok(Some(Self::Fixed(token))),
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    TOKEN_VARIABLE,
                    format!(
                        "set it or {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}, not both"
                    ),
                ))
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    CLIENT_SECRET_VARIABLE,
                    format!("is required with {CLIENT_ID_VARIABLE}"),
                ))
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::new(
                    CLIENT_ID_VARIABLE,
                    format!("is required with {CLIENT_SECRET_VARIABLE}"),
                ))
            }
            (None, Some(id), Some(secret)) => (id, secret),
        };
        let token_url =
            non_empty(env, TOKEN_URL_VARIABLE).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        match url::Url::parse(&token_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::new(
                    TOKEN_URL_VARIABLE,
                    format!("`{token_url}` is not an http(s) URL"),
                ))
            }
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::new(TOKEN_URL_VARIABLE, e.to_string()))?;
        Ok(Some(Self::ClientCredentials(Box::new(ClientCredentials {
            client_id,
            client_secret,
            scopes: non_empty(env, SCOPES_VARIABLE).unwrap_or_else(|| DEFAULT_SCOPES.to_owned()),
            token_url,
            http,
            held: tokio::sync::Mutex::new(Held::default()),
        }))))
    }

    /// The token to send now: the one held while it is young enough, else a new one.
    pub async fn token(&self) -> Result<String, TokenError> {
        match self {
            Self::Fixed(token) => Ok(token.clone()),
            Self::ClientCredentials(grant) => grant.token(Utc::now()).await,
        }
    }

    /// Linear refused `token`. Whether asking again may help: a held token is dropped (unless
    /// another post has already replaced it) so that the next [`Self::token`] asks for one,
    /// at most once per [`REFUSAL_RENEWAL_PAUSE`].
    pub async fn refused(&self, token: &str) -> bool {
        match self {
            Self::Fixed(_) => false,
            Self::ClientCredentials(grant) => {
                let now = Utc::now();
                let mut held = grant.held.lock().await;
                if held
                    .token
                    .as_ref()
                    .is_none_or(|current| current.value != token)
                {
                    // Replaced already: the next token is another one.
                    return true;
                }
                let recently = held
                    .replaced_refused_at
                    .is_some_and(|at| now - at < REFUSAL_RENEWAL_PAUSE);
                if recently {
                    return false;
                }
                held.token = None;
                held.replaced_refused_at = Some(now);
                true
            }
        }
    }
}

#[derive(Deserialize)]
struct Grant {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl ClientCredentials {
    async fn token(&self, now: DateTime<Utc>) -> Result<String, TokenError> {
        let mut held = self.held.lock().await;
        if let Some(token) = held.token.as_ref().filter(|token| now < token.renew_after) {
            return Ok(token.value.clone());
        }
        if let Some((at, error)) = &held.failed {
            if now - *at < FAILURE_PAUSE {
                return Err(error.clone());
            }
        }
        let grant = match self.request().await {
            Ok(grant) => grant,
            Err(error) => {
                held.failed = Some((now, error.clone()));
                return Err(error);
            }
        };
        // Known to every redactor from here on, as a token read from the environment is.
        baton_telemetry::redact::remember([grant.access_token.clone()]);
        tracing::info!(
            expires_in_secs = grant.expires_in,
            "linear: obtained an agent access token"
        );
        let value = grant.access_token.clone();
        held.failed = None;
        held.token = Some(HeldToken {
            value: grant.access_token,
            renew_after: renew_after(now, grant.expires_in),
        });
        Ok(value)
    }

    async fn request(&self) -> Result<Grant, TokenError> {
        let fail = |reason: String| TokenError {
            token_url: self.token_url.clone(),
            reason,
        };
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("scope", &self.scopes)
            .finish();
        let answer = self
            .http
            .post(&self.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| fail(format!("unreachable: {}", error_chain(&e))))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| fail(format!("the answer was cut off: {}", error_chain(&e))))?;
        if !status.is_success() {
            // The OAuth error names what is wrong (`invalid_client`, `invalid_scope`); its
            // text is kept short, and the request (with the secret) is never shown.
            let refusal = serde_json::from_slice::<Refusal>(&body).ok();
            let said = refusal
                .map(|r| {
                    [r.error, r.error_description]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ")
                })
                .filter(|said| !said.is_empty())
                .unwrap_or_else(|| "no OAuth error in the answer".to_owned());
            let said: String = said.chars().take(ERROR_LIMIT).collect();
            return Err(fail(format!("{status}: {said}")));
        }
        let grant: Grant = serde_json::from_slice(&body)
            .map_err(|_| fail("the answer has no `access_token`".to_owned()))?;
        if grant.access_token.trim().is_empty() {
            return Err(fail("the answer's `access_token` is empty".to_owned()));
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn from(
        pairs: &'static [(&'static str, &'static str)],
    ) -> Result<Option<AgentCredential>, ConfigError> {
        AgentCredential::from_env(&env(pairs), Duration::from_secs(1))
    }

    #[test]
    fn a_fixed_token_or_a_client_pair_or_nothing() {
        assert!(from(&[]).expect("nothing set").is_none());
        assert!(matches!(
            from(&[(TOKEN_VARIABLE, " lin_oauth_x ")]),
            Ok(Some(AgentCredential::Fixed(token))) if token == "lin_oauth_x"
        ));
        assert!(matches!(
            from(&[
                (CLIENT_ID_VARIABLE, "id"),
                (CLIENT_SECRET_VARIABLE, "secret")
            ]),
            Ok(Some(AgentCredential::ClientCredentials(_)))
        ));
    }

    #[test]
    fn half_a_pair_or_both_kinds_is_refused_by_name() {
        let refused = |pairs, variable: &str| {
            let error = from(pairs).expect_err("refused");
            assert!(error.to_string().contains(variable), "{error}");
            assert!(!error.to_string().contains("s3cr3t"), "{error}");
        };
        refused(&[(CLIENT_ID_VARIABLE, "id")], CLIENT_SECRET_VARIABLE);
        refused(&[(CLIENT_SECRET_VARIABLE, "s3cr3t")], CLIENT_ID_VARIABLE);
        refused(
            &[
                (TOKEN_VARIABLE, "lin_oauth_x"),
                (CLIENT_ID_VARIABLE, "id"),
                (CLIENT_SECRET_VARIABLE, "s3cr3t"),
            ],
            TOKEN_VARIABLE,
        );
        refused(
            &[
                (CLIENT_ID_VARIABLE, "id"),
                (CLIENT_SECRET_VARIABLE, "s3cr3t"),
                (TOKEN_URL_VARIABLE, "ftp://linear"),
            ],
            TOKEN_URL_VARIABLE,
        );
    }

    #[test]
    fn a_token_is_renewed_after_nine_tenths_of_its_life_to_the_millisecond() {
        let issued = Utc::now();
        let after = |secs| renew_after(issued, secs) - issued;
        assert_eq!(after(Some(1)), TimeDelta::milliseconds(900));
        assert_eq!(after(Some(30 * 24 * 3600)), TimeDelta::hours(27 * 24));
        // None, zero or negative: an hour is assumed; absurdly long: a year at most.
        assert_eq!(after(None), TimeDelta::seconds(3240));
        assert_eq!(after(Some(0)), TimeDelta::seconds(3240));
        assert_eq!(after(Some(-5)), TimeDelta::seconds(3240));
        assert_eq!(
            after(Some(i64::MAX)),
            TimeDelta::milliseconds(LONGEST_LIFETIME_SECS * 900)
        );
    }

    #[test]
    fn debug_shows_neither_token_nor_secret() {
        let fixed = from(&[(TOKEN_VARIABLE, "lin_oauth_s3cr3t")]).expect("ok");
        let grant = from(&[
            (CLIENT_ID_VARIABLE, "id"),
            (CLIENT_SECRET_VARIABLE, "s3cr3t"),
        ])
        .expect("ok");
        for shown in [format!("{fixed:?}"), format!("{grant:?}")] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
    }
}
