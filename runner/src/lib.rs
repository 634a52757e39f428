//! baton's runner library: what turns a claimed job into agent work.
//!
//! - [`agent`]: one trait over every coding agent (Codex app-server, Claude Code, OpenCode,
//!   the mock), normalizing each protocol into one event stream.
//! - [`mock_agent`]: `baton-mock-agent`, a scripted stand-in for `codex app-server`.
//! - [`workspace`]: per-issue workspaces under a root: clone, work branch, hooks, containment.
//! - [`prompt`]: the workflow's Liquid prompt template, parsed once, rendered strictly.
//! - [`worker`]: the runner loop: claim, lease, run, record, retry.
//! - [`redact`]: secrets out of everything recorded.
//! - [`accounts`]: agent account pools, their leases and quotas.

pub mod accounts;
pub mod agent;
pub mod bridge;
pub mod mock_agent;
pub mod prompt;
pub mod redact;
pub mod worker;
pub mod workspace;

/// Chat notifications live with the other adapters (the ingress posts them too).
pub use baton_integrations::notify;
