//! `baton-api`: served by `lambda_http` under Lambda (`AWS_LAMBDA_RUNTIME_API` set), by
//! `axum::serve` on `PORT` (default 9001) anywhere else.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    baton_telemetry::init("baton-api", "info");
    let app = baton_api::app_from_env().await?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_http::run(app)
            .await
            .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
    } else {
        let port = std::env::var("PORT").unwrap_or_else(|_| "9001".into());
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .with_context(|| format!("cannot listen on port {port}"))?;
        tracing::info!("listening on http://127.0.0.1:{port}");
        // The peer address lets the auth check serve loopback clients without a token.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .context("server failed")
    }
}
