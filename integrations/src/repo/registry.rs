//! Builds the repo platform a workflow names. Adding a platform is a file and a line here.

use super::cnb::CnbPlatform;
use super::github::GithubPlatform;
use super::gitlab::GitlabPlatform;
use super::memory::MemoryPlatform;
use super::RepoPlatform;
use crate::config::{AdapterConfig, ConfigError};
use std::sync::Arc;

pub const KINDS: &[&str] = &["github", "gitlab", "cnb", "memory"];

pub fn build(config: &AdapterConfig<'_>) -> Result<Arc<dyn RepoPlatform>, ConfigError> {
    match config.kind {
        "github" => Ok(Arc::new(GithubPlatform::from_config(config)?)),
        "gitlab" => Ok(Arc::new(GitlabPlatform::from_config(config)?)),
        "cnb" => Ok(Arc::new(CnbPlatform::from_config(config)?)),
        // `remote`: the local repository git clones from and pushes to.
        "memory" => Ok(Arc::new(match config.string("remote") {
            Some(remote) => MemoryPlatform::with_remote(remote),
            None => MemoryPlatform::new(),
        })),
        other => Err(ConfigError::new(
            "repo.kind",
            format!(
                "unknown repo platform `{other}` (known: {})",
                KINDS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;
    use serde_json::{json, Value};

    fn env(name: &str) -> Option<String> {
        match name {
            "GITHUB_TOKEN" | "GITLAB_TOKEN" | "CNB_TOKEN" => Some("t0ken-value".to_owned()),
            _ => None,
        }
    }

    fn config<'a>(kind: &'a str, options: &'a Value) -> AdapterConfig<'a> {
        AdapterConfig {
            kind,
            options,
            env: &env,
            policy: RetryPolicy::fast(),
        }
    }

    fn build_with(kind: &str, options: Value) -> Result<Arc<dyn RepoPlatform>, ConfigError> {
        build(&config(kind, &options))
    }

    #[test]
    fn every_kind_builds_from_its_options() {
        let github = build_with("github", json!({"repository": "acme/app"})).unwrap();
        assert_eq!(github.clone_url(), "https://github.com/acme/app.git");
        let gitlab = build_with("gitlab", json!({"project": "group/sub/app"})).unwrap();
        assert_eq!(gitlab.clone_url(), "https://gitlab.com/group/sub/app.git");
        let cnb = build_with("cnb", json!({"repository": "org/app"})).unwrap();
        assert_eq!(cnb.clone_url(), "https://cnb.cool/org/app.git");
        let memory = build_with("memory", json!({"remote": "/tmp/r.git"})).unwrap();
        assert_eq!(memory.clone_url(), "/tmp/r.git");
        let github_options = json!({"repository": "acme/app"});
        let gitlab_options = json!({"project": "group/app"});
        let shown = format!(
            "{:?} {:?} {:?}",
            GithubPlatform::from_config(&config("github", &github_options)).unwrap(),
            GitlabPlatform::from_config(&config("gitlab", &gitlab_options)).unwrap(),
            CnbPlatform::from_config(&config("cnb", &github_options)).unwrap(),
        );
        assert!(!shown.contains("t0ken-value"), "{shown}");
    }

    #[test]
    fn mistakes_name_their_key() {
        let missing = build_with("github", json!({})).err().unwrap();
        assert_eq!(missing.key, "github.repository");
        let no_token = build_with("github", json!({"repository": "a/b", "token": "$NOPE"}));
        assert_eq!(no_token.err().unwrap().key, "github.token");
        let numeric = build_with("gitlab", json!({"project": "42"}))
            .err()
            .unwrap();
        assert_eq!(numeric.key, "gitlab.clone_url");
        let unknown = build_with("bitbucket", json!({})).err().unwrap();
        assert!(unknown.message.contains("github"), "{unknown}");
    }
}
