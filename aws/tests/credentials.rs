//! Agent account credentials in Secrets Manager and Parameter Store, read through the real
//! SDK against the emulator; other references go to the runner's own source.

mod common;

use async_trait::async_trait;
use baton_aws::AwsCredentials;
use baton_core::ports::{CredentialError, CredentialSource};
use std::sync::Arc;

/// Stands in for the runner's `$VAR`/`file:` source.
struct Local;

#[async_trait]
impl CredentialSource for Local {
    async fn resolve(&self, reference: &str) -> Result<String, CredentialError> {
        Ok(format!("local:{reference}"))
    }
}

#[tokio::test]
async fn secrets_and_parameters_resolve_and_missing_ones_are_not_found() {
    common::require_emulator();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let secret_id = format!("baton/agents/{}", common::unique("codex"));
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&secret_id)
        .secret_string("sm-key-0123456789")
        .send()
        .await
        .expect("create secret");
    let parameter = format!("/baton/agents/{}", common::unique("claude"));
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(&parameter)
        .value("ssm-key-0123456789")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");

    let source = AwsCredentials::new(&config, Arc::new(Local));
    let from_secret = source.resolve(&format!("secretsmanager:{secret_id}")).await;
    assert_eq!(from_secret.expect("secret"), "sm-key-0123456789");
    let from_parameter = source.resolve(&format!("ssm:{parameter}")).await;
    assert_eq!(from_parameter.expect("parameter"), "ssm-key-0123456789");
    assert_eq!(
        source.resolve("$OPENAI_KEY_A").await.expect("local"),
        "local:$OPENAI_KEY_A"
    );
    let missing = source
        .resolve("secretsmanager:baton/agents/none-such")
        .await
        .expect_err("no such secret");
    assert!(
        matches!(missing, CredentialError::NotFound { .. }),
        "{missing}"
    );
    let missing = source
        .resolve("ssm:/baton/agents/none-such")
        .await
        .expect_err("no such parameter");
    assert!(
        matches!(missing, CredentialError::NotFound { .. }),
        "{missing}"
    );
}
