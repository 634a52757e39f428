//! What a provider can do, said by the provider itself: how it gets baton's tools, whether
//! it can ask a person a question, continue its own session across turns, and sandbox its
//! commands. The runner and the provider contract suite read these; nothing matches on a
//! provider's name for them.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolTransport {
    /// The protocol's own tool calls (Codex's dynamic tools).
    Native,
    /// A per-session MCP endpoint the agent is pointed at.
    Mcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// How baton's host tools reach the agent.
    pub tools: ToolTransport,
    /// The agent can ask a person a question that ends the run `awaiting_input` (besides
    /// the `QUESTION:` convention every provider has).
    pub questions: bool,
    /// Later turns of a session continue the agent's own conversation.
    pub resumes_within_session: bool,
    /// The agent runs its commands in a sandbox it enforces itself.
    pub sandbox: bool,
}
