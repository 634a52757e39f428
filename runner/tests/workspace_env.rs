//! Hooks never see baton's secrets. Its own test binary: it changes the process environment.

use baton_core::domain::IssueSnapshot;
use baton_runner::workspace::{HooksConfig, RepoConfig, WorkspaceConfig, WorkspaceManager};
use tempfile::TempDir;

#[tokio::test]
async fn hooks_see_only_the_allowlisted_environment() {
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "very-secret-value");
    std::env::set_var("GITHUB_TOKEN", "ghp_also_secret");
    std::env::set_var("BATON_GITHUB_WEBHOOK_SECRET", "whsec_secret");

    let dir = TempDir::new().unwrap();
    let config = WorkspaceConfig {
        root: dir.path().to_owned(),
        hooks: HooksConfig {
            before_run: Some("env".into()),
            ..HooksConfig::default()
        },
        repo: RepoConfig::default(),
    };
    let manager = WorkspaceManager::new(config);
    let issue = IssueSnapshot {
        identifier: "ENG-5".into(),
        ..IssueSnapshot::default()
    };
    let workspace = manager.prepare(&issue, Some(4)).await.unwrap();
    let env = &workspace.hooks[0].output;
    for secret in ["very-secret-value", "ghp_also_secret", "whsec_secret"] {
        assert!(!env.contains(secret), "a hook saw {secret}:\n{env}");
    }
    assert!(!env.contains("AWS_SECRET_ACCESS_KEY"), "{env}");
    assert!(env.contains("BATON_ISSUE_IDENTIFIER=ENG-5"), "{env}");
    assert!(env.contains("BATON_ATTEMPT=4"), "{env}");
    assert!(
        env.contains(&format!("BATON_WORKSPACE={}", workspace.path.display())),
        "{env}"
    );
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
}
