//! Linear's OAuth token endpoint, for the client-credentials grant baton's agent uses:
//! `POST /oauth/token`, form-encoded, answers a bearer token and its lifetime in Linear's
//! shape; the GraphQL endpoint then takes that token for agent operations until it is
//! revoked. Wrong client credentials are `401 invalid_client`, as Linear answers them.

use super::{Answer, LinearFake};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;

/// The OAuth app's client credentials the fake knows.
pub const CLIENT_ID: &str = "lin_client_fake_agent";
pub const CLIENT_SECRET: &str = "lin_client_secret_fake0123456789";
/// What Linear gives a client-credentials token: 30 days.
const DEFAULT_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// The tokens the endpoint issued.
#[derive(Debug, Default)]
pub(super) struct Grants {
    /// Each token issued, and whether it is still honoured.
    issued: Vec<(String, bool)>,
    /// The `scope` of each request that got a token, in order.
    scopes: Vec<String>,
    /// Every request made, answered with a token or not.
    attempts: usize,
    lifetime_secs: Option<u64>,
}

impl Grants {
    /// Whether `token` is one the endpoint issued and has not revoked.
    pub(super) fn honours(&self, token: &str) -> bool {
        self.issued
            .iter()
            .any(|(issued, live)| *live && issued == token)
    }
}

impl LinearFake {
    /// The `scope` of each token request answered with a token, oldest first.
    pub fn token_requests(&self) -> Vec<String> {
        self.board().grants.scopes.clone()
    }

    /// How many requests for a token were made, refused ones included.
    pub fn token_attempts(&self) -> usize {
        self.board().grants.attempts
    }

    /// Stops honouring every token issued so far, as when an app's tokens are revoked.
    pub fn revoke_tokens(&self) {
        for (_, live) in &mut self.board().grants.issued {
            *live = false;
        }
    }

    /// Tokens issued from now on say they last `secs` seconds.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.board().grants.lifetime_secs = Some(secs);
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Answer {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
}

pub(super) async fn token(
    State(fake): State<LinearFake>,
    headers: HeaderMap,
    body: String,
) -> Answer {
    fake.board().grants.attempts += 1;
    let form_encoded = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be form-encoded",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is served here",
        );
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let scope = field("scope").unwrap_or("read").to_owned();
    let mut board = fake.board();
    let token = format!("lin_cc_fake_{}", board.grants.issued.len() + 1);
    board.grants.issued.push((token.clone(), true));
    board.grants.scopes.push(scope.clone());
    let lifetime = board.grants.lifetime_secs.unwrap_or(DEFAULT_LIFETIME_SECS);
    (
        StatusCode::OK,
        Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope.split(',').collect::<Vec<_>>(),
        })),
    )
}
