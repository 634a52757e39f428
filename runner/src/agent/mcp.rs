//! The tool bridge as an MCP server, for agents that take their extra tools over MCP (Claude
//! Code, OpenCode): one endpoint per session, on loopback, speaking MCP's Streamable HTTP
//! transport through the official SDK (`rmcp`).
//!
//! Each endpoint has a random bearer token of its own: another process on the machine (or
//! another session's agent) cannot call this session's tools. The token reaches only the
//! session's agent, in the MCP configuration baton hands it; the tools' real credentials
//! never leave baton.

use super::{AgentError, ToolHandler};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The server's name in the agent's configuration: Claude Code shows the tools as
/// `mcp__baton__<tool>`.
pub const SERVER_NAME: &str = "baton";

/// A session's MCP endpoint; it stops (and its configuration file goes) when dropped.
pub struct McpEndpoint {
    url: String,
    token: String,
    shutdown: CancellationToken,
    config_file: Option<PathBuf>,
}

impl McpEndpoint {
    /// An endpoint for the session's tools, or `None` when it has none to offer.
    pub async fn for_session(tools: &Arc<dyn ToolHandler>) -> Result<Option<Self>, AgentError> {
        if tools.specs().is_empty() {
            return Ok(None);
        }
        Self::serve(Arc::clone(tools)).await.map(Some)
    }

    /// Serves `tools` on a fresh loopback port.
    pub async fn serve(tools: Arc<dyn ToolHandler>) -> Result<Self, AgentError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| AgentError::Protocol(format!("cannot open the MCP tool endpoint: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| AgentError::Protocol(format!("cannot open the MCP tool endpoint: {e}")))?;
        let shutdown = CancellationToken::new();
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let config =
            StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token());
        let server = BridgeServer { tools };
        let service: StreamableHttpService<BridgeServer, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
        let router = axum::Router::new().nest_service("/mcp", service).layer(
            middleware::from_fn_with_state(Arc::new(format!("Bearer {token}")), require_token),
        );
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled_owned().await })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the MCP tool endpoint stopped");
            }
        });
        Ok(Self {
            url: format!("http://{address}/mcp"),
            token,
            shutdown,
            config_file: None,
        })
    }

    /// Writes Claude Code's `--mcp-config` file, readable by this user only and outside the
    /// workspace (so it is never committed, and the token stays off the command line).
    pub fn write_claude_config(&mut self) -> Result<PathBuf, AgentError> {
        let path =
            std::env::temp_dir().join(format!("baton-mcp-{}.json", uuid::Uuid::new_v4().simple()));
        let failed = |e: std::io::Error| {
            AgentError::Protocol(format!(
                "cannot write the MCP configuration {}: {e}",
                path.display()
            ))
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        file.write_all(self.claude_config().to_string().as_bytes())
            .map_err(failed)?;
        self.config_file = Some(path.clone());
        Ok(path)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `Authorization` header value the agent must send.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// Claude Code's `--mcp-config` document.
    pub fn claude_config(&self) -> Value {
        json!({
            "mcpServers": {
                SERVER_NAME: {
                    "type": "http",
                    "url": self.url,
                    "headers": {"Authorization": self.authorization()},
                }
            }
        })
    }

    /// OpenCode's configuration fragment (`OPENCODE_CONFIG_CONTENT`).
    pub fn opencode_config(&self) -> Value {
        json!({
            "mcp": {
                SERVER_NAME: {
                    "type": "remote",
                    "url": self.url,
                    "headers": {"Authorization": self.authorization()},
                    "enabled": true,
                }
            }
        })
    }
}

impl Drop for McpEndpoint {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(path) = &self.config_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Refuses every request without the session's token (compared in constant time).
async fn require_token(
    State(expected): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, expected.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The MCP face of a session's [`ToolHandler`].
#[derive(Clone)]
struct BridgeServer {
    tools: Arc<dyn ToolHandler>,
}

impl ServerHandler for BridgeServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "baton's host tools for this run: the issue on the tracker, the pull request \
                 on the repo platform, the workspace's changes.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .tools
            .specs()
            .into_iter()
            .map(|spec| {
                let schema: JsonObject = match spec.input_schema {
                    Value::Object(map) => map,
                    _ => JsonObject::new(),
                };
                Tool::new(spec.name, spec.description, schema)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request
            .arguments
            .map(Value::Object)
            .unwrap_or_else(|| json!({}));
        let result = self.tools.call(&request.name, arguments).await;
        let content = vec![ContentBlock::text(result.text)];
        Ok(if result.success {
            CallToolResult::success(content)
        } else {
            CallToolResult::error(content)
        }
        .into())
    }
}
