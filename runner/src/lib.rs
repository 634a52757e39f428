//! baton's runner library: what turns a claimed job into agent work.
//!
//! - [`agent`]: one trait over every coding agent (Codex app-server, Claude Code, OpenCode,
//!   the mock), normalizing each protocol into one event stream.
//! - [`mock_agent`]: `baton-mock-agent`, a scripted stand-in for `codex app-server`.

pub mod agent;
pub mod mock_agent;
