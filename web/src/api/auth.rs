//! Who may read the API and the dashboard, and act through them.
//!
//! - With `BATON_API_TOKEN` set, a request needs `Authorization: Bearer <token>`, or the
//!   `baton_token` cookie that the dashboard's `/login` form sets.
//! - Without it, only loopback peers are admitted (`baton dev` on a laptop); the server must
//!   be served with `into_make_service_with_connect_info::<SocketAddr>()` so the peer is known.
//! - `BATON_API_AUTH=iam` trusts the caller check done in front of the function (a Lambda
//!   Function URL with `AuthType: AWS_IAM`), and admits every request that reaches it.
//!
//! [`require_auth`] wraps any router with the check; webhooks (signed by their senders) and
//! `/healthz` are never wrapped. The token is a secret: it is compared in constant time and
//! never logged.

use crate::http_error::error;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use baton_core::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The bearer token of the API and dashboard.
pub const TOKEN_VARIABLE: &str = "BATON_API_TOKEN";
/// `iam` to trust the Function URL's IAM auth; unset (or `token`) for the token or loopback.
pub const AUTH_MODE_VARIABLE: &str = "BATON_API_AUTH";
/// The dashboard's session cookie, set by `POST /login`.
pub const SESSION_COOKIE: &str = "baton_token";

/// How requests are admitted (see the module docs).
#[derive(Clone, Debug)]
pub enum ApiAuth {
    /// The bearer token, or the session cookie derived from it.
    Token(Arc<TokenCheck>),
    /// No token configured: loopback peers only.
    LoopbackOnly,
    /// Something in front (IAM on the Function URL) has admitted the caller already.
    Iam,
}

#[derive(Debug, thiserror::Error)]
#[error("{AUTH_MODE_VARIABLE} must be `iam` or `token` (or unset), not `{0}`")]
pub struct AuthConfigError(String);

/// The token, and the cookie value that stands for it.
pub struct TokenCheck {
    /// SHA-256 of the token: comparing digests takes the same time whatever the candidate's
    /// length, which comparing the strings would not.
    token: [u8; 32],
    /// Not the token itself: a value derived from it, so the token never sits in a browser.
    cookie: String,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(***)")
    }
}

impl TokenCheck {
    fn new(token: Secret) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"baton dashboard session v1");
        let cookie = hex::encode(mac.finalize().into_bytes());
        Self {
            token: Sha256::digest(token.expose().as_bytes()).into(),
            cookie,
        }
    }

    /// Whether `candidate` is the token, in time independent of where they differ.
    pub(super) fn is_token(&self, candidate: &str) -> bool {
        bool::from(
            Sha256::digest(candidate.as_bytes())
                .as_slice()
                .ct_eq(&self.token[..]),
        )
    }

    fn is_cookie(&self, candidate: &str) -> bool {
        bool::from(candidate.as_bytes().ct_eq(self.cookie.as_bytes()))
    }

    /// The session cookie's value.
    pub(super) fn cookie(&self) -> &str {
        &self.cookie
    }
}

impl ApiAuth {
    /// Token mode with `token`.
    pub fn token(token: Secret) -> Self {
        Self::Token(Arc::new(TokenCheck::new(token)))
    }

    /// From [`AUTH_MODE_VARIABLE`] and [`TOKEN_VARIABLE`].
    pub fn from_env() -> Result<Self, AuthConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`ApiAuth::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthConfigError> {
        match lookup(AUTH_MODE_VARIABLE).as_deref().map(str::trim) {
            Some("iam") => Ok(Self::Iam),
            None | Some("") | Some("token") => {
                Ok(match lookup(TOKEN_VARIABLE).and_then(Secret::new) {
                    Some(token) => Self::token(token),
                    None => Self::LoopbackOnly,
                })
            }
            Some(other) => Err(AuthConfigError(other.to_owned())),
        }
    }

    /// What the startup log says about the mode; never the token.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Token(_) => "bearer token",
            Self::LoopbackOnly => "loopback peers only (no BATON_API_TOKEN)",
            Self::Iam => "IAM (trusting the Function URL)",
        }
    }

    fn admits(&self, request: &Request) -> Result<(), &'static str> {
        match self {
            Self::Iam => Ok(()),
            Self::Token(check) => {
                let headers = request.headers();
                if bearer(headers).is_some_and(|token| check.is_token(token)) {
                    return Ok(());
                }
                if cookie(headers, SESSION_COOKIE).is_some_and(|value| check.is_cookie(value)) {
                    return Ok(());
                }
                Err("a valid bearer token (or the dashboard session cookie) is required")
            }
            Self::LoopbackOnly => {
                let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
                match peer {
                    Some(ConnectInfo(peer)) if peer.ip().to_canonical().is_loopback() => {}
                    _ => {
                        return Err(
                            "no BATON_API_TOKEN is set, so only loopback clients are served",
                        )
                    }
                }
                // A loopback peer is not enough: a web page whose name was re-pointed at
                // 127.0.0.1 (DNS rebinding) connects from loopback too, but names its own host.
                if addressed_to_loopback(request) {
                    Ok(())
                } else {
                    Err("no BATON_API_TOKEN is set, so only requests to localhost, 127.0.0.1 or [::1] are served")
                }
            }
        }
    }
}

/// Whether the request names a loopback host (`Host`, or the URI's authority over HTTP/2),
/// or none at all (a client that is no browser).
fn addressed_to_loopback(request: &Request) -> bool {
    let host = match request.headers().get(header::HOST) {
        Some(value) => match value.to_str() {
            Ok(host) => host,
            Err(_) => return false,
        },
        None => match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => return true,
        },
    };
    // Strip the port: `[::1]:3000`, `127.0.0.1:3000`, `localhost:3000`.
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The `Authorization: Bearer <token>` value, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Wraps every route of `router` with the check. Merge unprotected routes (webhooks,
/// `/healthz`, `/login`) next to the result, not into `router`.
pub fn require_auth(router: Router, auth: ApiAuth) -> Router {
    router.layer(axum::middleware::from_fn_with_state(auth, check))
}

async fn check(State(auth): State<ApiAuth>, request: Request, next: Next) -> Response {
    if is_cross_origin_write(&request) {
        // Loopback-only mode admits any local caller, a browser included: without this, any
        // web page open on the machine could cancel or retry work on `baton dev`.
        tracing::debug!(path = request.uri().path(), "cross-origin write refused");
        return error(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "state-changing requests from another origin are refused",
        );
    }
    match auth.admits(&request) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            // The path only: the headers hold the (wrong) token.
            tracing::debug!(path = request.uri().path(), why, "request refused");
            refuse(&auth, &request, why)
        }
    }
}

/// A request that changes state and that a browser sent from a page of another origin.
/// Browsers always send `Origin` on cross-origin writes; the CLI and scripts send none.
fn is_cross_origin_write(request: &Request) -> bool {
    if request.method().is_safe() {
        return false;
    }
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return false;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // `Origin: null` (sandboxed frames, redirects) or no Host to compare with.
        _ => true,
    }
}

/// 401 `unauthorized` with `WWW-Authenticate: Bearer`; a browser asking for a dashboard
/// page is sent to the sign-in form instead.
fn refuse(auth: &ApiAuth, request: &Request, why: &str) -> Response {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let is_api = request.uri().path().starts_with("/api/");
    if matches!(auth, ApiAuth::Token(_)) && wants_html && !is_api {
        return Redirect::to(super::LOGIN_PATH).into_response();
    }
    let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", why);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
