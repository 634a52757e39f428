//! One fake per external API, each a router to serve with [`crate::FakeApi`].

pub mod cnb_repo_api;
pub mod github_api;
pub mod github_repo_api;
pub mod gitlab_api;
pub mod gitlab_repo_api;
pub mod jira_api;
pub mod linear_api;
pub mod tapd_api;
