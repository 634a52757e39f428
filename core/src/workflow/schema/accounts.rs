//! `accounts`: the pools of agent credentials runs lease from, per provider. Each run takes
//! one account of its provider's pool, and its agent sees only that account's credential.
//! A credential is always a reference, never the secret itself:
//!
//! ```yaml
//! accounts:
//!   codex:
//!     - {name: team-a, credential: $OPENAI_KEY_A}
//!     - {name: team-b, credential: "secretsmanager:baton/codex/team-b"}
//!   claude_code:
//!     - {name: main, credential: "file:/run/secrets/anthropic", env: ANTHROPIC_API_KEY}
//! ```
//!
//! A deployment can name the same pools in `BATON_AGENT_ACCOUNTS` (this shape as JSON); a
//! workflow with its own `accounts` uses those instead.

use super::invalid;
use crate::workflow::WorkflowError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The environment variable a deployment names its pools in, as JSON.
pub const AGENT_ACCOUNTS_ENV: &str = "BATON_AGENT_ACCOUNTS";

/// The providers that have pools.
pub const ACCOUNT_PROVIDERS: [&str; 3] = ["codex", "claude_code", "opencode"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    pub codex: Vec<AccountConfig>,
    pub claude_code: Vec<AccountConfig>,
    pub opencode: Vec<AccountConfig>,
}

/// One account: a name for the record and a reference to its credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// `$VARIABLE`, `file:<path>`, `secretsmanager:<secret id>` or `ssm:<parameter name>`.
    pub credential: String,
    /// The variable the agent receives the credential in; see [`default_env`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// Where a credential is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
    SecretsManager(String),
    Ssm(String),
}

impl CredentialRef {
    /// Parses a reference; anything else (a literal secret) is refused without echoing it.
    pub fn parse(reference: &str) -> Result<Self, String> {
        let reference = reference.trim();
        let nonempty = |rest: &str, what: &str| {
            let rest = rest.trim();
            if rest.is_empty() {
                Err(format!("`{what}` needs a name after it"))
            } else {
                Ok(rest.to_owned())
            }
        };
        if let Some(name) = reference.strip_prefix('$') {
            return if is_variable_name(name) {
                Ok(Self::Env(name.to_owned()))
            } else {
                Err("`$` must be followed by an environment variable name".into())
            };
        }
        if let Some(path) = reference.strip_prefix("file:") {
            let path = PathBuf::from(nonempty(path, "file:")?);
            return if path.is_absolute() {
                Ok(Self::File(path))
            } else {
                Err("`file:` needs an absolute path".into())
            };
        }
        if let Some(id) = reference.strip_prefix("secretsmanager:") {
            return nonempty(id, "secretsmanager:").map(Self::SecretsManager);
        }
        if let Some(name) = reference.strip_prefix("ssm:") {
            return nonempty(name, "ssm:").map(Self::Ssm);
        }
        Err(
            "must be a reference (`$VARIABLE`, `file:<path>`, `secretsmanager:<id>` or \
             `ssm:<name>`); secrets never live in the workflow file (the value is not shown)"
                .into(),
        )
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable a provider's credential goes into unless the account says `env`. OpenCode
/// talks to many model providers; its pools default to Anthropic's key.
pub fn default_env(provider: &str) -> &'static str {
    match provider {
        "codex" => "OPENAI_API_KEY",
        _ => "ANTHROPIC_API_KEY",
    }
}

impl AccountConfig {
    /// The variable the agent receives this account's credential in.
    pub fn env_name(&self, provider: &str) -> String {
        self.env
            .clone()
            .unwrap_or_else(|| default_env(provider).to_owned())
    }
}

impl AccountsConfig {
    /// The pool of `provider` (empty when none is configured).
    pub fn pool(&self, provider: &str) -> &[AccountConfig] {
        match provider {
            "codex" => &self.codex,
            "claude_code" => &self.claude_code,
            "opencode" => &self.opencode,
            _ => &[],
        }
    }

    pub fn is_empty(&self) -> bool {
        ACCOUNT_PROVIDERS.iter().all(|p| self.pool(p).is_empty())
    }

    /// Every variable any account of any pool fills: none of them reaches an agent except
    /// the one of the account it leased.
    pub fn env_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ACCOUNT_PROVIDERS
            .iter()
            .flat_map(|provider| self.pool(provider).iter().map(|a| a.env_name(provider)))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Parses the deployment's pools (`BATON_AGENT_ACCOUNTS`), checked like a workflow's.
    pub fn from_json(text: &str) -> Result<Self, WorkflowError> {
        let config: Self = serde_json::from_str(text).map_err(|e| {
            // Line and column only: the message of a type error may quote a value.
            WorkflowError::WorkflowParseError(format!(
                "`{AGENT_ACCOUNTS_ENV}` is not valid JSON of the `accounts` shape (line {}, \
                 column {}; the value is not shown)",
                e.line(),
                e.column()
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        for provider in ACCOUNT_PROVIDERS {
            let mut seen = std::collections::BTreeSet::new();
            for (i, account) in self.pool(provider).iter().enumerate() {
                let key = format!("accounts.{provider}[{i}]");
                let name = account.name.trim();
                let name_ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !name_ok {
                    return Err(invalid(
                        &format!("{key}.name"),
                        "must be 1 to 64 letters, digits, `-`, `_` or `.`",
                    ));
                }
                if !seen.insert(name) {
                    return Err(invalid(
                        &format!("{key}.name"),
                        format!("`{name}` names two accounts of the pool"),
                    ));
                }
                CredentialRef::parse(&account.credential)
                    .map_err(|why| invalid(&format!("{key}.credential"), why))?;
                if let Some(env) = &account.env {
                    if !is_variable_name(env) {
                        return Err(invalid(
                            &format!("{key}.env"),
                            "must be an environment variable name (without `$`)",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;

    fn parse(accounts: &str) -> Result<Workflow, WorkflowError> {
        Workflow::parse(&format!(
            "---\ntracker: {{kind: github}}\naccounts:\n{accounts}\n---\nprompt"
        ))
    }

    #[test]
    fn pools_parse_with_each_kind_of_reference_and_default_variables() {
        let workflow = parse(
            "  codex:\n    - {name: team-a, credential: $OPENAI_KEY_A}\n    \
             - {name: team-b, credential: \"secretsmanager:baton/codex/team-b\"}\n  \
             claude_code:\n    - {name: main, credential: \"file:/run/secrets/anthropic\", env: MY_KEY}\n  \
             opencode:\n    - {name: oc, credential: \"ssm:/baton/opencode\"}",
        )
        .expect("valid pools");
        let accounts = &workflow.config.accounts;
        assert_eq!(accounts.codex.len(), 2);
        assert_eq!(accounts.codex[0].env_name("codex"), "OPENAI_API_KEY");
        assert_eq!(accounts.claude_code[0].env_name("claude_code"), "MY_KEY");
        assert_eq!(
            accounts.opencode[0].env_name("opencode"),
            "ANTHROPIC_API_KEY"
        );
        assert_eq!(
            CredentialRef::parse(&accounts.codex[1].credential),
            Ok(CredentialRef::SecretsManager("baton/codex/team-b".into()))
        );
        assert_eq!(
            accounts.env_names(),
            ["ANTHROPIC_API_KEY", "MY_KEY", "OPENAI_API_KEY"]
        );
    }

    #[test]
    fn literal_secrets_bad_names_and_unknown_keys_are_refused() {
        for (yaml, needle) in [
            (
                "  codex:\n    - {name: a, credential: sk-live-abcdef}",
                "`accounts.codex[0].credential` must be a reference",
            ),
            (
                "  codex:\n    - {name: a, credential: \"file:relative/key\"}",
                "absolute path",
            ),
            (
                "  codex:\n    - {name: a, credential: $OK}\n    - {name: a, credential: $OK2}",
                "names two accounts",
            ),
            (
                "  codex:\n    - {name: \"a b\", credential: $OK}",
                "`accounts.codex[0].name`",
            ),
            (
                "  codex:\n    - {name: a, credential: $OK, env: \"$X\"}",
                "`accounts.codex[0].env`",
            ),
            (
                "  codex:\n    - {name: a, credential: $OK, token: x}",
                "unknown key",
            ),
            ("  gemini: []", "unknown key `accounts.gemini`"),
        ] {
            let error = parse(yaml).expect_err(yaml);
            assert_eq!(error.code(), "workflow_parse_error");
            let text = error.to_string();
            assert!(text.contains(needle), "{yaml}: {text}");
            assert!(
                !text.contains("sk-live"),
                "the secret is not echoed: {text}"
            );
        }
    }

    #[test]
    fn the_deployment_json_is_checked_the_same_way_without_echoing_values() {
        let config = AccountsConfig::from_json(
            r#"{"codex": [{"name": "a", "credential": "$KEY_A"}, {"name": "b", "credential": "$KEY_B"}]}"#,
        )
        .expect("valid");
        assert_eq!(config.pool("codex").len(), 2);
        assert!(config.pool("claude_code").is_empty());
        let error =
            AccountsConfig::from_json(r#"{"codex": [{"name": "a", "credential": "sk-123"}]}"#)
                .expect_err("a literal secret");
        assert!(!error.to_string().contains("sk-123"), "{error}");
        let error = AccountsConfig::from_json(r#"{"codex": [{"name": 5, "credential": "sk-9"}]}"#)
            .expect_err("bad json");
        assert!(error.to_string().contains(AGENT_ACCOUNTS_ENV), "{error}");
        assert!(!error.to_string().contains("sk-9"), "{error}");
    }
}
