//! The GitHub App side: the repository's installation and installation access tokens,
//! both asked for with an App JWT that is verified for real (RS256 against the public key).

use super::json::{error, json_body, not_found, user_json, Api, Failure};
use super::GithubFake;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The GitHub App side: who may sign JWTs, and what was exchanged.
#[derive(Debug, Clone)]
pub struct FakeApp {
    pub app_id: String,
    /// PKCS#1 `RSAPublicKey` DER.
    pub public_key_der: Vec<u8>,
    pub installation_id: u64,
    pub token_lifetime: Duration,
    pub installation_lookups: u32,
    /// The `repositories` each exchange asked for.
    pub exchanges: Vec<Value>,
    /// Issued tokens and when they expire.
    pub issued: Vec<(String, DateTime<Utc>)>,
    pub revoked: Vec<String>,
}

impl FakeApp {
    /// An installation token issued, not revoked and not expired.
    pub(super) fn accepts(&self, token: &str) -> bool {
        !self.revoked.iter().any(|r| r == token)
            && self
                .issued
                .iter()
                .any(|(issued, expires)| issued == token && *expires > Utc::now())
    }

    /// Checks an App JWT: RS256 signature with the App's public key, `iss`, and a lifetime
    /// of at most ten minutes that covers now.
    fn verify_jwt(&self, headers: &HeaderMap) -> Result<(), String> {
        let jwt = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or("no bearer token")?;
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            return Err("not three parts".into());
        };
        let decode = |part: &str| -> Result<Value, String> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        };
        let header = decode(header)?;
        if header["alg"] != "RS256" {
            return Err(format!("alg {}", header["alg"]));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| e.to_string())?;
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key_der,
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())?;
        let claims = decode(claims)?;
        let iss = match &claims["iss"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if iss != self.app_id {
            return Err(format!("iss {iss}"));
        }
        let (iat, exp) = (
            claims["iat"].as_i64().ok_or("iat")?,
            claims["exp"].as_i64().ok_or("exp")?,
        );
        let now = Utc::now().timestamp();
        if iat > now + 60 || exp <= now || exp - iat > 600 {
            return Err(format!("times iat={iat} exp={exp} now={now}"));
        }
        Ok(())
    }
}

fn jwt_refused(reason: String) -> Failure {
    error(
        StatusCode::UNAUTHORIZED,
        &format!("A JSON web token could not be decoded ({reason})"),
    )
}

pub(super) async fn repo_installation(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let mut repository = fake.lock();
    let Some(app) = repository.app.as_mut() else {
        return Err(not_found());
    };
    app.verify_jwt(&headers).map_err(jwt_refused)?;
    let (installation_id, app_id) = (app.installation_id, app.app_id.clone());
    if !repository.is(&owner, &repo) {
        return Err(not_found());
    }
    if let Some(app) = repository.app.as_mut() {
        app.installation_lookups += 1;
    }
    let api = Api::new(&headers, &repository.owner, &repository.name);
    Ok(Json(json!({
        "id": installation_id,
        "account": user_json(&api, &owner),
        "repository_selection": "selected",
        "access_tokens_url": format!("{}/app/installations/{installation_id}/access_tokens", api.base),
        "repositories_url": format!("{}/installation/repositories", api.base),
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{installation_id}"),
        "app_id": app_id.parse::<u64>().unwrap_or(0), "target_id": 1, "target_type": "Organization",
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "checks": "read", "statuses": "read"},
        "events": [], "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "single_file_name": null,
    }))
    .into_response())
}

pub(super) async fn create_access_token(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut repository = fake.lock();
    let repo_name = repository.name.clone();
    let full_name = format!("{}/{}", repository.owner, repository.name);
    let Some(app) = repository.app.as_mut() else {
        return Err(not_found());
    };
    app.verify_jwt(&headers).map_err(jwt_refused)?;
    if id != app.installation_id {
        return Err(not_found());
    }
    let body = json_body(&body)?;
    let repositories = body.get("repositories").cloned().unwrap_or(Value::Null);
    app.exchanges.push(repositories.clone());
    if repositories != json!([repo_name]) {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "There is at least one repository that does not exist or is not accessible to the parent installation."));
    }
    let token = format!("ghs_fakeinstallation{:04}", app.exchanges.len());
    let expires_at = Utc::now() + app.token_lifetime;
    app.issued.push((token.clone(), expires_at));
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token, "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write"},
            "repository_selection": "selected",
            "repositories": [{"id": 1296269, "name": repo_name, "full_name": full_name}],
        })),
    )
        .into_response())
}
