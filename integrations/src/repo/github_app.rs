//! GitHub App authentication: an RS256 JWT signed with the App's private key is exchanged
//! for an installation token scoped to the one repository a run works on.
//!
//! The installation token lives in memory only, and is renewed a few minutes before GitHub
//! lets it expire (an hour), so a long push never starts with a token about to die. The JWT
//! backdates `iat` by a minute for clock drift and lives nine minutes (GitHub allows ten).

use crate::config::ConfigError;
use crate::http::{ApiClient, ApiError};
use crate::repo::RepoError;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Renew this long before `expires_at`.
const RENEW_MARGIN: Duration = Duration::minutes(5);
const JWT_BACKDATE: Duration = Duration::seconds(60);
const JWT_LIFETIME: Duration = Duration::minutes(9);

pub struct GithubApp {
    app_id: String,
    key: RsaKeyPair,
    owner: String,
    repo: String,
    configured_installation: Option<u64>,
    /// Held across the exchange, so concurrent callers wait for one exchange.
    cache: tokio::sync::Mutex<Cache>,
    /// Set when GitHub refused the cached token (revoked, or the App lost access).
    stale: AtomicBool,
}

#[derive(Default)]
struct Cache {
    installation: Option<u64>,
    token: Option<InstallationToken>,
}

struct InstallationToken {
    value: String,
    renew_after: DateTime<Utc>,
}

impl fmt::Debug for GithubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubApp")
            .field("app_id", &self.app_id)
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .field("installation_id", &self.configured_installation)
            .finish_non_exhaustive()
    }
}

impl GithubApp {
    /// `private_key_pem`: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what GitHub downloads) or PKCS#8
    /// (`BEGIN PRIVATE KEY`). Escaped `\n`, as keys often arrive in environment variables,
    /// are accepted.
    pub fn new(
        app_id: &str,
        private_key_pem: &str,
        installation_id: Option<u64>,
        owner: &str,
        repo: &str,
    ) -> Result<Self, ConfigError> {
        let key = parse_private_key(private_key_pem)
            .map_err(|message| ConfigError::new("github.private_key", message))?;
        if app_id.trim().is_empty() {
            return Err(ConfigError::new("github.app_id", "is empty"));
        }
        Ok(Self {
            app_id: app_id.trim().to_owned(),
            key,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            configured_installation: installation_id,
            cache: tokio::sync::Mutex::new(Cache::default()),
            stale: AtomicBool::new(false),
        })
    }

    /// The App's JWT at `now`.
    pub fn jwt(&self, now: DateTime<Utc>) -> Result<String, RepoError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iat": (now - JWT_BACKDATE).timestamp(),
            "exp": (now + JWT_LIFETIME).timestamp(),
            "iss": self.app_id,
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| RepoError::Invalid {
                platform: "github",
                message: "could not sign the GitHub App JWT".to_owned(),
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// A valid installation token for the repository, from the cache or a new exchange.
    /// `api` is the unauthenticated GitHub client.
    pub async fn installation_token(&self, api: &ApiClient) -> Result<String, RepoError> {
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        if self.stale.swap(false, Ordering::SeqCst) {
            cache.token = None;
        }
        if let Some(token) = &cache.token {
            if now < token.renew_after {
                return Ok(token.value.clone());
            }
        }
        let app = api.clone().with_header(
            "authorization",
            &format!("Bearer {}", self.jwt(now)?),
            true,
        )?;
        let installation = match cache.installation.or(self.configured_installation) {
            Some(id) => id,
            None => {
                let id = self.find_installation(&app).await?;
                cache.installation = Some(id);
                id
            }
        };
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer = app
            .post(&path, &json!({ "repositories": [self.repo] }))
            .await?;
        // Read by hand: a serde error message could quote the token.
        let value = answer
            .body
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::malformed("github", &path, "no `token` in the answer"))?
            .to_owned();
        let expires_at = answer
            .body
            .get("expires_at")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| {
                ApiError::malformed("github", &path, "no valid `expires_at` in the answer")
            })?
            .with_timezone(&Utc);
        cache.token = Some(InstallationToken {
            value: value.clone(),
            renew_after: expires_at - RENEW_MARGIN,
        });
        Ok(value)
    }

    /// Drops the cached token: the next call exchanges again. For a 401 on the token.
    pub fn forget_token(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    async fn find_installation(&self, app: &ApiClient) -> Result<u64, RepoError> {
        let path = format!("/repos/{}/{}/installation", self.owner, self.repo);
        let answer = app.get(&path).await.map_err(|error| {
            if error.is_not_found() {
                RepoError::Invalid {
                    platform: "github",
                    message: format!(
                        "the GitHub App {} is not installed on {}/{}",
                        self.app_id, self.owner, self.repo
                    ),
                }
            } else {
                error.into()
            }
        })?;
        answer
            .body
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::malformed("github", &path, "no installation `id`").into())
    }
}

/// The key from a PEM; the error never quotes the input.
fn parse_private_key(pem: &str) -> Result<RsaKeyPair, String> {
    let pem = if pem.contains("\\n") && !pem.contains('\n') {
        pem.replace("\\n", "\n")
    } else {
        pem.to_owned()
    };
    let (label, der) = pem_block(&pem).ok_or("is not a PEM private key")?;
    let parsed = match label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        other => return Err(format!("a `{other}` PEM block is not an RSA private key")),
    };
    parsed.map_err(|rejected| format!("the RSA private key was rejected: {rejected}"))
}

/// The first `-----BEGIN <label>-----` block: its label and decoded contents.
fn pem_block(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let label_end = start + pem[start..].find("-----")?;
    let label = pem[start..label_end].to_owned();
    let body_start = label_end + "-----".len();
    let end_marker = format!("-----END {label}-----");
    let body_end = body_start + pem[body_start..].find(&end_marker)?;
    let body: String = pem[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok().map(|der| (label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKCS1: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test_only_github_app_key.pem"
    ));
    const PKCS8: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test_only_github_app_key.pkcs8.pem"
    ));

    #[test]
    fn both_pem_formats_sign_the_same_jwt() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = GithubApp::new("123", PKCS1, None, "o", "r").unwrap();
        let b = GithubApp::new("123", PKCS8, None, "o", "r").unwrap();
        // PKCS#1 v1.5 signatures are deterministic: same key, same claims, same token.
        assert_eq!(a.jwt(now).unwrap(), b.jwt(now).unwrap());
        let jwt = a.jwt(now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "123");
        assert_eq!(claims["iat"], now.timestamp() - 60);
        assert_eq!(claims["exp"], now.timestamp() + 540);
    }

    #[test]
    fn escaped_newlines_are_accepted_and_garbage_is_refused_without_echo() {
        let escaped = PKCS1.replace('\n', "\\n");
        assert!(GithubApp::new("1", &escaped, None, "o", "r").is_ok());
        let error = GithubApp::new("1", "not-a-key-s3cret", None, "o", "r").unwrap_err();
        assert_eq!(error.key, "github.private_key");
        assert!(!error.to_string().contains("s3cret"));
        let broken = PKCS1.replace("MII", "MIJ");
        let error = GithubApp::new("1", &broken, None, "o", "r").unwrap_err();
        assert!(!error.to_string().contains("MIJ"), "{error}");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let app = GithubApp::new("1", PKCS1, Some(9), "o", "r").unwrap();
        let shown = format!("{app:?}");
        assert!(shown.contains("o/r") && !shown.contains("MII"), "{shown}");
    }
}
