//! Agent account credentials kept in AWS: `secretsmanager:<secret id>` (the secret's string
//! value) and `ssm:<parameter name>` (decrypted). Other references (`$VAR`, `file:`) go to
//! the runner's own source.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use baton_core::ports::{CredentialError, CredentialSource};
use baton_core::workflow::schema::CredentialRef;
use std::sync::Arc;

pub struct AwsCredentials {
    secrets: aws_sdk_secretsmanager::Client,
    parameters: aws_sdk_ssm::Client,
    /// Reads the references that do not live in AWS.
    local: Arc<dyn CredentialSource>,
}

impl AwsCredentials {
    pub fn new(config: &SdkConfig, local: Arc<dyn CredentialSource>) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(config),
            parameters: aws_sdk_ssm::Client::new(config),
            local,
        }
    }
}

fn failure(reference: &str, not_found: bool, reason: String) -> CredentialError {
    let reference = reference.to_owned();
    if not_found {
        CredentialError::NotFound { reference, reason }
    } else {
        CredentialError::Unavailable { reference, reason }
    }
}

#[async_trait]
impl CredentialSource for AwsCredentials {
    async fn resolve(&self, reference: &str) -> Result<String, CredentialError> {
        let value = match CredentialRef::parse(reference) {
            Ok(CredentialRef::SecretsManager(id)) => {
                let answer = self.secrets.get_secret_value().secret_id(&id).send().await;
                match answer {
                    Ok(output) => output.secret_string().map(str::to_owned),
                    Err(error) => {
                        let missing = error
                            .as_service_error()
                            .is_some_and(|e| e.is_resource_not_found_exception());
                        return Err(failure(
                            reference,
                            missing,
                            DisplayErrorContext(&error).to_string(),
                        ));
                    }
                }
            }
            Ok(CredentialRef::Ssm(name)) => {
                let answer = self
                    .parameters
                    .get_parameter()
                    .name(&name)
                    .with_decryption(true)
                    .send()
                    .await;
                match answer {
                    Ok(output) => output
                        .parameter()
                        .and_then(|p| p.value())
                        .map(str::to_owned),
                    Err(error) => {
                        let missing = error
                            .as_service_error()
                            .is_some_and(|e| e.is_parameter_not_found());
                        return Err(failure(
                            reference,
                            missing,
                            DisplayErrorContext(&error).to_string(),
                        ));
                    }
                }
            }
            _ => return self.local.resolve(reference).await,
        };
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| failure(reference, true, "it has no string value".into()))
    }
}
