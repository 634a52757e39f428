//! Agent account pools: which credentials a workflow's agents run with, one leased account
//! per run (see [`lease`]), and what the providers say about each account's quota (see
//! [`quota`]).
//!
//! The pool comes from the workflow's `accounts` section, else the deployment's
//! `BATON_AGENT_ACCOUNTS`. Without either, agents get the provider's variables from the
//! runner's environment as before.

pub mod lease;
pub mod quota;

use baton_core::ports::{CredentialError, CredentialSource};
use baton_core::workflow::schema::{
    AccountConfig, AccountsConfig, CredentialRef, AGENT_ACCOUNTS_ENV,
};
use baton_core::workflow::{Workflow, WorkflowError};
use std::fmt;

/// The model-credential variables of every provider: with a pool, none of them reaches the
/// agent except the leased account's.
const PROVIDER_KEYS: &[&str] = &[
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// The pool a workflow's runs lease from.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    /// `codex`, `claude_code` or `opencode`: the pool's record in the store.
    pub provider: String,
    pub accounts: Vec<AccountConfig>,
    /// Variables removed from the agent's environment before the leased credential is added.
    pub strip: Vec<String>,
}

/// The pool an agent kind uses: the mock speaks Codex's protocol, so it uses Codex's.
pub fn pool_provider(kind: &str) -> Option<&'static str> {
    match kind {
        "codex" | "mock" => Some("codex"),
        "claude_code" => Some("claude_code"),
        "opencode" => Some("opencode"),
        _ => None,
    }
}

impl AccountPlan {
    /// The workflow's pool for its agent, else the deployment's (`lookup` reads
    /// `BATON_AGENT_ACCOUNTS`); `None` when neither names accounts for that provider.
    pub fn new(
        workflow: &Workflow,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, WorkflowError> {
        let deployment;
        let config = if workflow.config.accounts.is_empty() {
            match lookup(AGENT_ACCOUNTS_ENV).filter(|v| !v.trim().is_empty()) {
                Some(json) => {
                    deployment = AccountsConfig::from_json(&json)?;
                    &deployment
                }
                None => return Ok(None),
            }
        } else {
            &workflow.config.accounts
        };
        let Some(provider) = pool_provider(&workflow.config.agent_provider.kind()) else {
            return Ok(None);
        };
        let accounts = config.pool(provider).to_vec();
        if accounts.is_empty() {
            return Ok(None);
        }
        let mut strip: Vec<String> = PROVIDER_KEYS.iter().map(|s| s.to_string()).collect();
        strip.extend(config.env_names());
        strip.sort();
        strip.dedup();
        Ok(Some(Self {
            provider: provider.to_owned(),
            accounts,
            strip,
        }))
    }

    pub fn names(&self) -> Vec<String> {
        self.accounts.iter().map(|a| a.name.clone()).collect()
    }

    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The agent's environment: `base` without any pool or provider credential, plus the
    /// leased account's.
    pub fn environment(
        &self,
        base: Vec<(String, String)>,
        leased: &LeasedAccount,
    ) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = base
            .into_iter()
            .filter(|(name, _)| !self.strip.contains(name) && *name != leased.env)
            .collect();
        env.push((leased.env.clone(), leased.secret.0.clone()));
        env
    }
}

/// A credential's value; never printed.
#[derive(Clone)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The account a run holds, with its resolved credential.
#[derive(Debug, Clone)]
pub struct LeasedAccount {
    pub provider: String,
    pub name: String,
    /// The run holding it.
    pub holder: String,
    /// The variable its credential goes into.
    pub env: String,
    pub secret: SecretValue,
}

/// Reads `$VAR` from the process environment and `file:` from disk; refuses the references
/// only a cloud deployment can read.
#[derive(Debug, Clone, Default)]
pub struct LocalCredentials;

#[async_trait::async_trait]
impl CredentialSource for LocalCredentials {
    async fn resolve(&self, reference: &str) -> Result<String, CredentialError> {
        resolve_local(reference, &|name| std::env::var(name).ok()).await
    }
}

/// `$VAR` through `lookup`, `file:` from disk (trailing newline trimmed); anything else is
/// `Unsupported`. Shared with the cloud source, which adds its own kinds.
pub async fn resolve_local(
    reference: &str,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<String, CredentialError> {
    let not_found = |reason: String| CredentialError::NotFound {
        reference: reference.to_owned(),
        reason,
    };
    let parsed = CredentialRef::parse(reference).map_err(|why| CredentialError::Unsupported {
        reference: "(not shown)".into(),
        reason: why,
    })?;
    let value = match parsed {
        CredentialRef::Env(name) => {
            lookup(&name).ok_or_else(|| not_found(format!("`{name}` is not set")))?
        }
        CredentialRef::File(path) => tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| not_found(e.to_string()))?,
        CredentialRef::SecretsManager(_) | CredentialRef::Ssm(_) => {
            return Err(CredentialError::Unsupported {
                reference: reference.to_owned(),
                reason: "AWS Secrets Manager and Parameter Store references are read by a \
                         runner on the AWS backend"
                    .into(),
            })
        }
    };
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(not_found("it is empty".into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(front: &str) -> Workflow {
        Workflow::parse(&format!(
            "---\ntracker: {{kind: github}}\n{front}\n---\nprompt"
        ))
        .expect("workflow")
    }

    #[test]
    fn the_workflow_pool_wins_and_the_deployment_pool_applies_without_one() {
        let deployment = r#"{"codex": [{"name": "dep", "credential": "$DEP_KEY"}]}"#;
        let lookup = |name: &str| (name == AGENT_ACCOUNTS_ENV).then(|| deployment.to_owned());
        let own = workflow("accounts:\n  codex:\n    - {name: own, credential: $OWN_KEY}");
        let plan = AccountPlan::new(&own, &lookup)
            .expect("valid")
            .expect("a pool");
        assert_eq!(plan.names(), ["own"]);
        let plain = workflow("agent_provider: {kind: codex}");
        let plan = AccountPlan::new(&plain, &lookup)
            .expect("valid")
            .expect("a pool");
        assert_eq!(plan.names(), ["dep"]);
        assert!(AccountPlan::new(&plain, &|_: &str| None)
            .expect("valid")
            .is_none());
        let claude = workflow("agent_provider: {kind: claude_code}");
        assert!(
            AccountPlan::new(&claude, &lookup).expect("valid").is_none(),
            "no claude_code pool"
        );
        let bad = |name: &str| (name == AGENT_ACCOUNTS_ENV).then(|| "{oops".to_owned());
        assert!(AccountPlan::new(&plain, &bad).is_err());
    }

    #[test]
    fn the_agent_gets_only_the_leased_credential() {
        let front = "accounts:\n  codex:\n    - {name: a, credential: $KEY_A}\n    \
                     - {name: b, credential: $KEY_B, env: CUSTOM_KEY}";
        let plan = AccountPlan::new(&workflow(front), &|_: &str| None)
            .expect("valid")
            .expect("pool");
        let base = vec![
            ("PATH".to_owned(), "/bin".to_owned()),
            ("OPENAI_API_KEY".to_owned(), "runner-key".to_owned()),
            ("CUSTOM_KEY".to_owned(), "other".to_owned()),
            ("ANTHROPIC_API_KEY".to_owned(), "anthropic".to_owned()),
        ];
        let leased = LeasedAccount {
            provider: "codex".into(),
            name: "a".into(),
            holder: "run".into(),
            env: "OPENAI_API_KEY".into(),
            secret: SecretValue("key-a-secret".into()),
        };
        let env = plan.environment(base, &leased);
        assert_eq!(
            env,
            [
                ("PATH".to_owned(), "/bin".to_owned()),
                ("OPENAI_API_KEY".to_owned(), "key-a-secret".to_owned())
            ]
        );
        assert!(!format!("{leased:?}").contains("key-a-secret"));
    }

    #[tokio::test]
    async fn variables_and_files_resolve_and_cloud_references_need_aws() {
        let lookup = |name: &str| (name == "KEY_A").then(|| "from-env".to_owned());
        assert_eq!(
            resolve_local("$KEY_A", &lookup).await.expect("env"),
            "from-env"
        );
        let missing = resolve_local("$NOPE", &lookup).await.expect_err("unset");
        assert!(
            matches!(missing, CredentialError::NotFound { .. }),
            "{missing}"
        );
        let dir = std::env::temp_dir().join(format!("baton-acct-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("key");
        std::fs::write(&file, "from-file\n").expect("write");
        let reference = format!("file:{}", file.display());
        assert_eq!(
            resolve_local(&reference, &lookup).await.expect("file"),
            "from-file"
        );
        let gone = format!("file:{}", dir.join("gone").display());
        assert!(resolve_local(&gone, &lookup).await.is_err());
        let cloud = resolve_local("secretsmanager:x", &lookup)
            .await
            .expect_err("aws");
        assert!(matches!(cloud, CredentialError::Unsupported { .. }));
        let literal = resolve_local("sk-literal", &lookup)
            .await
            .expect_err("literal");
        assert!(!literal.to_string().contains("sk-literal"), "{literal}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
