//! The status API's HTTP client: a base URL, an optional bearer token, and every way a call
//! can fail as one typed error that knows its exit code.

use super::progress;
use baton_core::secret::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// Everything but RFC 3986's unreserved characters is escaped, so a key such as
/// `github:acme/app#12` travels as one path segment: `github%3Aacme%2Fapp%2312`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long to wait for the TCP (and TLS) connection, then for the whole answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The variable holding the API token. Read once; the value is never printed.
pub const TOKEN_VARIABLE: &str = "BATON_API_TOKEN";

/// Why a command failed, and so how the process exits.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with its error envelope.
    #[error("{message} (HTTP {status}, {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// Something answered, but not with what the baton API answers.
    #[error("unexpected answer from {url}: {detail}")]
    Unexpected { url: String, detail: String },
    /// Nothing answered at the URL.
    #[error("cannot connect to the baton API at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The arguments cannot name anything the API knows.
    #[error("{0}")]
    Usage(String),
    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl ClientError {
    /// 1: the API said no (or answered nonsense); 2: usage; 3: nothing to talk to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Api { .. } | Self::Unexpected { .. } | Self::Output(_) => 1,
            Self::Usage(_) => 2,
            Self::Connect { .. } => 3,
        }
    }

    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Connect { .. } => Some(
                "is the control plane running? Start one with `baton dev`, \
                 or point --api (or BATON_API_URL) at it",
            ),
            Self::Api { status: 401, .. } => {
                Some("set BATON_API_TOKEN to the token the server was started with")
            }
            _ => None,
        }
    }
}

/// `{"error":{"code","message"}}`, as every baton HTTP surface fails.
#[derive(Debug, Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Debug, Deserialize)]
struct EnvelopeError {
    code: String,
    message: String,
}

/// A successful answer, kept as received so `--json` can print it unchanged.
#[derive(Debug, Clone)]
pub struct Answer {
    pub url: String,
    pub body: String,
}

impl Answer {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_str(&self.body).map_err(|e| ClientError::Unexpected {
            url: self.url.clone(),
            detail: format!("the JSON does not have the expected shape: {e}"),
        })
    }
}

/// Talks to one baton API.
pub struct ApiClient {
    /// The base URL as text without a trailing slash; paths are appended to it, so a base
    /// with a path prefix (a proxy, a Function URL stage) keeps it.
    base: String,
    token: Option<Secret>,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(mut base: Url, token: Option<Secret>) -> Result<Self, ClientError> {
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("baton-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            base: base.as_str().trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// The client for `base`, with the token from [`TOKEN_VARIABLE`] when it is set.
    pub fn from_env(base: Url) -> Result<Self, ClientError> {
        let token = std::env::var(TOKEN_VARIABLE).ok().and_then(Secret::new);
        Self::new(base, token)
    }

    /// `path` (starting with `/`) under the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Result<Answer, ClientError> {
        self.call(Method::GET, path).await
    }

    pub async fn post(&self, path: &str) -> Result<Answer, ClientError> {
        self.call(Method::POST, path).await
    }

    async fn call(&self, method: Method, path: &str) -> Result<Answer, ClientError> {
        let url = self.url(path);
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let exchange = async {
            let response = request.send().await.map_err(|e| self.transport(&url, e))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| ClientError::Unexpected {
                url: url.clone(),
                detail: format!("the answer could not be read: {}", innermost(&e)),
            })?;
            Ok::<_, ClientError>((status, body))
        };
        let (status, body) = progress::during(format!("waiting for {url}"), exchange).await?;
        if status.is_success() {
            return Ok(Answer { url, body });
        }
        Err(api_error(&url, status, &body))
    }

    /// A failure before any answer: no connection (exit 3), or a broken exchange.
    fn transport(&self, url: &str, error: reqwest::Error) -> ClientError {
        let reason = innermost(&error);
        if error.is_connect() || error.is_timeout() {
            // The base URL, not the full one: that is what the user gave and can fix.
            ClientError::Connect {
                url: self.base.clone(),
                reason,
            }
        } else {
            ClientError::Unexpected {
                url: url.to_owned(),
                detail: reason,
            }
        }
    }
}

/// The envelope's code and message, or what little can be said about a foreign answer.
fn api_error(url: &str, status: StatusCode, body: &str) -> ClientError {
    match serde_json::from_str::<Envelope>(body) {
        Ok(envelope) => ClientError::Api {
            status: status.as_u16(),
            code: envelope.error.code,
            message: envelope.error.message,
        },
        Err(_) => ClientError::Unexpected {
            url: url.to_owned(),
            detail: format!("HTTP {status} without baton's error envelope"),
        },
    }
}

/// The root cause's message: reqwest's own says only "error sending request".
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if error.is_timeout() {
        format!("timed out ({cause})")
    } else {
        cause.to_string()
    }
}

/// `value` percent-encoded as one path segment.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_travel_as_one_segment() {
        assert_eq!(segment("github:acme/app#12"), "github%3Aacme%2Fapp%2312");
        assert_eq!(segment("linear:ENG-42"), "linear%3AENG-42");
        assert_eq!(segment("jira:a b?c"), "jira%3Aa%20b%3Fc");
        assert_eq!(segment("gitlab:g/ü~x.y_z"), "gitlab%3Ag%2F%C3%BC~x.y_z");
    }

    #[test]
    fn paths_keep_the_base_urls_prefix() {
        let base = Url::parse("https://example.com/baton/?x=1#y").expect("url");
        let client = ApiClient::new(base, None).expect("client");
        assert_eq!(
            client.url("/api/v1/state"),
            "https://example.com/baton/api/v1/state"
        );
        let base = Url::parse("http://127.0.0.1:3000").expect("url");
        let client = ApiClient::new(base, None).expect("client");
        assert_eq!(
            client.url("/api/v1/state"),
            "http://127.0.0.1:3000/api/v1/state"
        );
    }

    #[test]
    fn the_envelope_becomes_an_api_error_with_exit_code_1() {
        let error = api_error(
            "http://x/api/v1/issues/a",
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"issue_not_found","message":"no work item has the key `a`"}}"#,
        );
        assert_eq!(
            error.to_string(),
            "no work item has the key `a` (HTTP 404, issue_not_found)"
        );
        assert_eq!(error.exit_code(), 1);
        assert!(error.hint().is_none());
    }

    #[test]
    fn a_foreign_answer_is_unexpected_not_an_api_error() {
        let error = api_error(
            "http://x/y",
            StatusCode::BAD_GATEWAY,
            "<html>bad gateway</html>",
        );
        assert!(matches!(error, ClientError::Unexpected { .. }), "{error:?}");
        assert_eq!(error.exit_code(), 1);
        assert!(error.to_string().contains("502"), "{error}");
    }

    #[test]
    fn unauthorized_suggests_the_token_and_connect_failures_suggest_baton_dev() {
        let unauthorized = api_error(
            "http://x/y",
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"code":"unauthorized","message":"a bearer token is required"}}"#,
        );
        assert!(unauthorized
            .hint()
            .is_some_and(|h| h.contains(TOKEN_VARIABLE)));
        let connect = ClientError::Connect {
            url: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        assert_eq!(connect.exit_code(), 3);
        assert!(connect.hint().is_some_and(|h| h.contains("baton dev")));
        assert_eq!(ClientError::Usage("bad".into()).exit_code(), 2);
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let base = Url::parse("http://127.0.0.1:3000").expect("url");
        let client = ApiClient::new(base, Secret::new("hunter2")).expect("client");
        let shown = format!("{:?}", client.token);
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
