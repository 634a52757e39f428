//! One fake per external API, each a router to serve with [`crate::FakeApi`]. A fake models
//! the whole API a test talks to: GitHub's issues and pull requests are one repository on
//! one server ([`github`]), GitLab's issues and merge requests one project ([`gitlab`]), so
//! a tracker and a repo platform pointed at the same fake see the same records.

pub mod cnb_repo_api;
pub mod github;
pub mod gitlab;
pub mod jira_api;
pub mod linear_api;
pub mod tapd_api;
