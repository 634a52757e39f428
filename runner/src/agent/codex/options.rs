//! Codex's own options (`agent_provider.options` / `codex.*`), parsed and checked by the
//! provider that uses them.

use crate::agent::AgentError;
use serde_json::{json, Map, Value};

/// Codex-specific options from `SessionConfig::options`.
#[derive(Debug, Clone, PartialEq)]
pub struct CodexOptions {
    /// `approvalPolicy` of `thread/start`: `untrusted|on-failure|on-request|never`.
    pub approval_policy: String,
    /// `sandbox` of `thread/start`: `read-only|workspace-write|danger-full-access`.
    pub sandbox: String,
    pub model: Option<String>,
    /// `sandboxPolicy` of each `turn/start` (e.g. `{"type":"externalSandbox"}`), if set.
    pub sandbox_policy: Option<Value>,
}

impl CodexOptions {
    /// Reads `approval_policy` (or `approvalPolicy`), `sandbox`, `model` and `sandbox_policy`
    /// (or `sandboxPolicy`); any other key is refused. Unattended defaults: approval policy
    /// `never`, sandbox `workspace-write`.
    pub fn from_options(options: &Map<String, Value>) -> Result<Self, AgentError> {
        fn string(
            options: &Map<String, Value>,
            keys: &[&str],
        ) -> Result<Option<String>, AgentError> {
            for key in keys {
                match options.get(*key) {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(s)) => return Ok(Some(s.clone())),
                    Some(other) => {
                        return Err(AgentError::InvalidOptions(format!(
                            "`{key}` must be a string, not {other}"
                        )))
                    }
                }
            }
            Ok(None)
        }
        let approval_policy = string(options, &["approval_policy", "approvalPolicy"])?
            .unwrap_or_else(|| "never".to_string());
        if !["untrusted", "on-failure", "on-request", "never"].contains(&approval_policy.as_str()) {
            return Err(AgentError::InvalidOptions(format!(
                "approval_policy `{approval_policy}`: expected untrusted, on-failure, on-request or never"
            )));
        }
        let sandbox =
            string(options, &["sandbox"])?.unwrap_or_else(|| "workspace-write".to_string());
        if !["read-only", "workspace-write", "danger-full-access"].contains(&sandbox.as_str()) {
            return Err(AgentError::InvalidOptions(format!(
                "sandbox `{sandbox}`: expected read-only, workspace-write or danger-full-access"
            )));
        }
        let model = string(options, &["model"])?;
        // A key Codex would never see is a mistake the run should name at its start.
        const KNOWN: &[&str] = &[
            "approval_policy",
            "approvalPolicy",
            "sandbox",
            "model",
            "sandbox_policy",
            "sandboxPolicy",
        ];
        if let Some(unknown) = options.keys().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(AgentError::InvalidOptions(format!(
                "unknown codex option `{unknown}` (known: {})",
                KNOWN.join(", ")
            )));
        }
        let sandbox_policy = match options
            .get("sandbox_policy")
            .or_else(|| options.get("sandboxPolicy"))
        {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(Value::String(kind)) => Some(json!({ "type": kind })),
            Some(other) => {
                return Err(AgentError::InvalidOptions(format!(
                    "sandbox_policy must be an object or a type name, not {other}"
                )))
            }
        };
        Ok(Self {
            approval_policy,
            sandbox,
            model,
            sandbox_policy,
        })
    }
}
