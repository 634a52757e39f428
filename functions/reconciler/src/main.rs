//! `baton-reconciler`: under Lambda (`AWS_LAMBDA_RUNTIME_API` set) it answers scheduled
//! invocations; anywhere else it runs one pass and the safety polls, and prints the report.

use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    baton_telemetry::init("baton-reconciler", "info");
    let handler = Arc::new(baton_reconciler::Handler::from_env().await?);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::run(service_fn(
            move |event: LambdaEvent<baton_reconciler::ScheduledEvent>| {
                let handler = Arc::clone(&handler);
                async move {
                    handler
                        .handle(event)
                        .await
                        .map_err(lambda_runtime::Error::from)
                }
            },
        ))
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
    } else {
        let pass = handler.reconcile().await?;
        let polls = handler.poll_due().await;
        let report = baton_reconciler::Invocation { pass, polls };
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    }
}
