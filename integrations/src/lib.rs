//! baton's adapters to the systems its users run.
//!
//! - [`http`]: the one HTTP client: base URL, credential header, bounded retries.
//! - [`tracker`]: issue trackers behind one trait (GitHub, Linear, Jira, GitLab, TAPD, memory).
//! - [`repo`]: code platforms behind one trait (GitHub, GitLab, CNB, memory), and git.
//! - [`notify`]: chat notifications (Slack) of run outcomes and of runs held for approval.
//!
//! With the `contract-tests` feature: the contract suites every adapter passes, and the fake
//! API server the suites run against.

pub mod config;
pub mod http;
pub mod notify;
pub(crate) mod pages;
pub mod repo;
pub mod tracker;
pub mod wiring;

#[cfg(feature = "contract-tests")]
pub mod contract;
/// The fakes and the fake-API server, for the contract suites and other crates' tests.
#[cfg(feature = "contract-tests")]
pub use baton_test_support as test_support;
