//! Workspace keys, containment, hooks and the git checkout, against real processes and a
//! local bare repository. Time bounds are generous: the suite runs on a loaded 2-core box.

use baton_core::domain::IssueSnapshot;
use baton_core::workflow::Workflow;
use baton_runner::workspace::{
    branch_component, identifier_hash, workspace_key, HookKind, HooksConfig, RepoConfig,
    RepoSource, WorkspaceConfig, WorkspaceError, WorkspaceManager,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn issue(identifier: &str) -> IssueSnapshot {
    IssueSnapshot {
        id: "1".into(),
        identifier: identifier.into(),
        title: "Fix it".into(),
        state: "open".into(),
        ..IssueSnapshot::default()
    }
}

fn config(root: &Path) -> WorkspaceConfig {
    WorkspaceConfig {
        root: root.to_owned(),
        hooks: HooksConfig::default(),
        repo: RepoConfig::default(),
    }
}

fn git(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=baton-test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository with one commit on `main`, as a remote to clone from.
fn bare_repository(dir: &Path) -> PathBuf {
    let seed = dir.join("seed");
    let bare = dir.join("origin.git");
    std::fs::create_dir_all(&seed).unwrap();
    git(
        dir,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            bare.to_str().unwrap(),
        ],
    );
    git(&seed, &["init", "--quiet", "-b", "main"]);
    std::fs::write(seed.join("README.md"), "hello\n").unwrap();
    git(&seed, &["add", "README.md"]);
    git(&seed, &["commit", "--quiet", "-m", "first"]);
    git(&seed, &["push", "--quiet", bare.to_str().unwrap(), "main"]);
    bare
}

// ---------------------------------------------------------------------------------------
// Keys

#[test]
fn workspace_keys() {
    let long = "A".repeat(300);
    let cases: &[(&str, &str)] = &[
        ("ENG-42", "ENG-42"),
        ("PROJ-7", "PROJ-7"),
        ("release-1.2_final", "release-1.2_final"),
        ("acme/app#12", "acme_app_12-"),
        ("a/b#1", "a_b_1-"),
        ("group/sub/project#3", "group_sub_project_3-"),
        ("..", "_.-"),
        (".", "_-"),
        ("../../etc/passwd", "_._.._etc_passwd-"),
        (".hidden", "_hidden-"),
        ("", "_-"),
        ("über-issue", "_ber-issue-"),
        ("票据-1", "__-1-"),
        ("a b\tc\n", "a_b_c_-"),
        ("emoji🚀", "emoji_-"),
    ];
    for (identifier, expected) in cases {
        let key = workspace_key(identifier);
        if expected.ends_with('-') {
            assert_eq!(
                key,
                format!("{expected}{}", identifier_hash(identifier)),
                "key of {identifier:?}"
            );
        } else {
            assert_eq!(&key, expected, "key of {identifier:?}");
        }
        assert!(!key.is_empty() && key != "." && key != "..");
        assert!(!key.starts_with('.'), "{key} is hidden");
        assert!(key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    }

    let key = workspace_key(&long);
    assert!(key.len() <= 100, "long key is {} chars", key.len());
    assert!(key.starts_with(&"A".repeat(80)));
    assert_ne!(workspace_key(&long), workspace_key(&"A".repeat(301)));

    // Sanitizing never merges distinct identifiers.
    assert_ne!(workspace_key("a/b#1"), workspace_key("a_b_1"));
    assert_ne!(workspace_key("a/b#1"), workspace_key("a#b/1"));
    // Stable across calls (and processes: it is a SHA-256 prefix).
    assert_eq!(workspace_key("a/b#1"), workspace_key("a/b#1"));
}

#[test]
fn branch_components() {
    assert_eq!(branch_component("ENG-42"), "ENG-42");
    assert_eq!(
        branch_component("v1.2"),
        format!("v1_2-{}", identifier_hash("v1.2"))
    );
    assert_eq!(
        branch_component("-x"),
        format!("_x-{}", identifier_hash("-x"))
    );
    let repo = RepoConfig::default();
    assert_eq!(repo.work_branch("ENG-42"), "baton/ENG-42");
    assert_eq!(
        repo.work_branch("acme/app#12"),
        format!("baton/acme_app_12-{}", identifier_hash("acme/app#12"))
    );
}

// ---------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_defaults() {
    let workflow = Workflow::parse("---\ntracker:\n  kind: github\n---\nhi").unwrap();
    let config = WorkspaceConfig::from_workflow_with(&workflow, |_| None).unwrap();
    assert_eq!(config.root, std::env::temp_dir().join("baton_workspaces"));
    assert_eq!(config.hooks, HooksConfig::default());
    assert_eq!(config.hooks.timeout, Duration::from_millis(60_000));
    assert_eq!(config.repo, RepoConfig::default());
    assert_eq!(config.repo.base_branch, "main");
    assert_eq!(config.repo.work_prefix, "baton/");
}

#[test]
fn config_from_workflow_file() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("WORKFLOW.md");
    std::fs::write(
        &file,
        "---\ntracker:\n  kind: github\nworkspace:\n  root: ws\nhooks:\n  after_create: make setup\n  \
         before_run: '  '\n  timeout_ms: 1500\nrepo:\n  path: $REPOS/app\n  base_branch: develop\n  \
         branch:\n    work_prefix: agent/\n  provider:\n    kind: github\n---\nhi",
    )
    .unwrap();
    let workflow = Workflow::load(&file).unwrap();
    let lookup = |name: &str| (name == "REPOS").then(|| "/srv/repos".to_owned());
    let config = WorkspaceConfig::from_workflow_with(&workflow, lookup).unwrap();
    assert_eq!(config.root, dir.path().join("ws"));
    assert_eq!(config.hooks.after_create.as_deref(), Some("make setup"));
    assert_eq!(config.hooks.before_run, None);
    assert_eq!(config.hooks.timeout, Duration::from_millis(1500));
    assert_eq!(
        config.repo.source,
        Some(RepoSource::Path("/srv/repos/app".into()))
    );
    assert_eq!(config.repo.base_branch, "develop");
    assert_eq!(config.repo.work_branch("ENG-1"), "agent/ENG-1");

    // The remote URL wins over a path; `~` expands from HOME.
    let workflow = Workflow::parse(
        "---\ntracker:\n  kind: github\nworkspace:\n  root: ~/ws\nrepo:\n  path: /x\n  remote:\n    url: https://github.com/acme/app.git\n---\n",
    )
    .unwrap();
    let config = WorkspaceConfig::from_workflow_with(&workflow, |name| {
        (name == "HOME").then(|| "/home/u".to_owned())
    })
    .unwrap();
    assert_eq!(config.root, Path::new("/home/u/ws"));
    assert_eq!(
        config.repo.source,
        Some(RepoSource::Remote("https://github.com/acme/app.git".into()))
    );
}

#[test]
fn config_errors() {
    let parse = |yaml: &str| {
        let workflow =
            Workflow::parse(&format!("---\ntracker:\n  kind: github\n{yaml}---\n")).unwrap();
        WorkspaceConfig::from_workflow_with(&workflow, |_| None)
    };
    let err =
        parse("repo:\n  remote:\n    url: https://x-access-token:ghp_secret@github.com/a/b.git\n")
            .unwrap_err();
    assert_eq!(err.code(), "workflow_parse_error");
    assert_eq!(err.key, "repo.remote.url");
    assert!(!err.to_string().contains("ghp_secret"), "{err}");

    let err = parse("workspace:\n  root: $UNSET_VARIABLE/ws\n").unwrap_err();
    assert_eq!(err.key, "workspace.root");
    assert!(err.to_string().contains("UNSET_VARIABLE"), "{err}");

    // A mistyped value is refused when the file is parsed, naming its key.
    let err = Workflow::parse("---\ntracker:\n  kind: github\nhooks:\n  timeout_ms: soon\n---\n")
        .unwrap_err();
    assert_eq!(err.code(), "workflow_parse_error");
    assert!(err.to_string().contains("`hooks.timeout_ms`"), "{err}");

    // A non-positive timeout falls back to the default.
    let config = parse("hooks:\n  timeout_ms: 0\n").unwrap();
    assert_eq!(config.hooks.timeout, Duration::from_millis(60_000));
}

// ---------------------------------------------------------------------------------------
// Containment

#[test]
fn path_for_key_refuses_escapes() {
    let root = Path::new("/srv/ws");
    for key in ["..", ".", "", "../etc", "a/b", "/etc", ".baton", "a\\b"] {
        let err = WorkspaceManager::path_for_key(root, key).unwrap_err();
        assert_eq!(err.code(), "workspace_outside_root", "key {key:?}");
    }
    assert_eq!(
        WorkspaceManager::path_for_key(root, "ENG-1").unwrap(),
        root.join("ENG-1")
    );
}

#[tokio::test]
async fn a_symlink_planted_at_the_key_is_refused() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("ENG-1")).unwrap();

    let manager = WorkspaceManager::new(config(&root));
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    assert_eq!(err.code(), "workspace_outside_root", "{err}");
    let err = manager.remove("ENG-1").await.unwrap_err();
    assert_eq!(err.code(), "workspace_outside_root", "{err}");
    assert!(outside.join("precious").exists());
    assert!(root.join("ENG-1").is_symlink());

    // A symlink to another directory inside the root is refused too.
    std::fs::create_dir_all(root.join("other")).unwrap();
    std::os::unix::fs::symlink(root.join("other"), root.join("ENG-2")).unwrap();
    let err = manager.prepare(&issue("ENG-2"), None).await.unwrap_err();
    assert_eq!(err.code(), "workspace_outside_root", "{err}");
}

#[tokio::test]
async fn a_symlinked_root_is_resolved() {
    let dir = TempDir::new().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
    let manager = WorkspaceManager::new(config(&dir.path().join("link")));
    let workspace = manager.prepare(&issue("../../x"), None).await.unwrap();
    let real = real.canonicalize().unwrap();
    assert_eq!(workspace.path.parent(), Some(real.as_path()));
    assert!(workspace.path.is_dir());
}

// ---------------------------------------------------------------------------------------
// Hooks

#[tokio::test]
async fn hooks_run_in_order_in_the_workspace() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.after_create = Some("echo created >> hooks.log; pwd > pwd.txt".into());
    config.hooks.before_run = Some("echo \"before $BATON_ATTEMPT\" >> hooks.log".into());
    config.hooks.after_run = Some("echo after >> hooks.log".into());
    config.hooks.before_remove = Some("echo removing; exit 0".into());
    let manager = WorkspaceManager::new(config);

    let first = manager.prepare(&issue("ENG-1"), None).await.unwrap();
    assert!(first.created_now);
    assert_eq!(first.hooks.len(), 2);
    assert_eq!(first.hooks[0].hook, HookKind::AfterCreate);
    assert!(first
        .hooks
        .iter()
        .all(|h| h.success && h.exit_code == Some(0)));
    let after = manager.finish(&first).await.unwrap();
    assert!(after.success);

    let second = manager.prepare(&issue("ENG-1"), Some(2)).await.unwrap();
    assert!(!second.created_now);
    assert_eq!(second.path, first.path);
    assert_eq!(second.hooks.len(), 1, "after_create runs once");
    let log = std::fs::read_to_string(second.path.join("hooks.log")).unwrap();
    assert_eq!(log, "created\nbefore \nafter\nbefore 2\n");
    let pwd = std::fs::read_to_string(second.path.join("pwd.txt")).unwrap();
    assert_eq!(Path::new(pwd.trim()), second.path);

    let removed = manager.remove("ENG-1").await.unwrap().unwrap();
    assert_eq!(removed.hook, HookKind::BeforeRemove);
    assert!(removed.output.contains("removing"));
    assert!(!second.path.exists());
    // Removing again is a no-op; preparing again creates afresh.
    assert_eq!(manager.remove("ENG-1").await.unwrap(), None);
    let third = manager.prepare(&issue("ENG-1"), Some(3)).await.unwrap();
    assert!(third.created_now);
}

#[tokio::test]
async fn a_failing_after_create_aborts_and_removes_the_workspace() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.after_create = Some("echo setting up; echo broken >&2; exit 3".into());
    let manager = WorkspaceManager::new(config);
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    match &err {
        WorkspaceError::HookFailed { hook, exit, output } => {
            assert_eq!(*hook, HookKind::AfterCreate);
            assert_eq!(*exit, Some(3));
            assert!(
                output.contains("setting up") && output.contains("broken"),
                "{output}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), "hook_failed");
    assert!(err.to_string().contains("exited with status 3"), "{err}");
    assert!(
        !dir.path().join("ENG-1").exists(),
        "a failed creation is undone"
    );
}

#[tokio::test]
async fn a_failing_before_run_aborts_but_keeps_the_workspace() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.before_run = Some("test -f ready".into());
    let manager = WorkspaceManager::new(config);
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    assert!(
        matches!(
            err,
            WorkspaceError::HookFailed {
                hook: HookKind::BeforeRun,
                exit: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    let path = dir.path().canonicalize().unwrap().join("ENG-1");
    assert!(path.is_dir());
    std::fs::write(path.join("ready"), "").unwrap();
    let workspace = manager.prepare(&issue("ENG-1"), Some(2)).await.unwrap();
    assert!(!workspace.created_now);
}

#[tokio::test]
async fn a_failing_after_run_is_recorded_not_fatal() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.after_run = Some("echo cleanup failed; exit 7".into());
    config.hooks.before_remove = Some("exit 9".into());
    let manager = WorkspaceManager::new(config);
    let workspace = manager.prepare(&issue("ENG-1"), None).await.unwrap();
    let run = manager.finish(&workspace).await.unwrap();
    assert!(!run.success);
    assert_eq!(run.exit_code, Some(7));
    assert!(run.output.contains("cleanup failed"));
    // before_remove failing does not stop the removal.
    let run = manager.remove("ENG-1").await.unwrap().unwrap();
    assert_eq!(run.exit_code, Some(9));
    assert!(!workspace.path.exists());
}

#[tokio::test]
async fn a_hung_hook_is_killed_with_its_children() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    // The shell forks a grandchild that holds the output pipe: killing only `sh` would leave
    // the reader waiting for 100 s.
    config.hooks.before_run = Some("echo started; sleep 100 & sleep 100".into());
    config.hooks.timeout = Duration::from_millis(500);
    let manager = WorkspaceManager::new(config);
    let started = Instant::now();
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    match &err {
        WorkspaceError::HookTimedOut {
            hook,
            timeout_ms,
            output,
        } => {
            assert_eq!(*hook, HookKind::BeforeRun);
            assert_eq!(*timeout_ms, 500);
            assert!(output.contains("started"), "{output}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), "hook_timed_out");
}

#[tokio::test]
async fn a_hung_after_run_times_out_without_error() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.after_run = Some("sleep 100".into());
    config.hooks.timeout = Duration::from_millis(300);
    let manager = WorkspaceManager::new(config);
    let workspace = manager.prepare(&issue("ENG-1"), None).await.unwrap();
    let started = Instant::now();
    let run = manager.finish(&workspace).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(run.timed_out && !run.success && run.exit_code.is_none());
}

#[tokio::test]
async fn hook_output_is_bounded() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path());
    config.hooks.after_run = Some(
        "i=0; while [ $i -lt 3000 ]; do echo line-$i-xxxxxxxxxxxxxxxx; i=$((i+1)); done".into(),
    );
    let manager = WorkspaceManager::new(config);
    let workspace = manager.prepare(&issue("ENG-1"), None).await.unwrap();
    let run = manager.finish(&workspace).await.unwrap();
    assert!(run.success);
    assert!(
        run.output.len() <= 16 * 1024 + 64,
        "{} bytes",
        run.output.len()
    );
    assert!(run.output.contains("line-2999-"));
    assert!(!run.output.contains("line-0-"));
}

// ---------------------------------------------------------------------------------------
// Git

fn repo_config(root: &Path, bare: &Path) -> WorkspaceConfig {
    WorkspaceConfig {
        repo: RepoConfig {
            source: Some(RepoSource::Path(bare.to_owned())),
            ..RepoConfig::default()
        },
        ..config(root)
    }
}

#[tokio::test]
async fn clones_and_creates_the_work_branch_then_reuses_it() {
    let dir = TempDir::new().unwrap();
    let bare = bare_repository(dir.path());
    let root = dir.path().join("workspaces");
    let mut config = repo_config(&root, &bare);
    config.hooks.after_create =
        Some("git rev-parse --abbrev-ref HEAD > ../branch-at-create".into());
    let manager = WorkspaceManager::new(config);

    let first = manager.prepare(&issue("acme/app#12"), None).await.unwrap();
    let branch = format!("baton/acme_app_12-{}", identifier_hash("acme/app#12"));
    assert!(first.created_now);
    assert_eq!(first.work_branch.as_deref(), Some(branch.as_str()));
    assert_eq!(
        std::fs::read_to_string(first.path.join("README.md")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        git(&first.path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        branch
    );
    assert_eq!(
        std::fs::read_to_string(root.join("branch-at-create"))
            .unwrap()
            .trim(),
        branch
    );
    assert_eq!(
        git(&first.path, &["rev-parse", "HEAD"]),
        git(&bare, &["rev-parse", "main"])
    );

    // Work happens: a commit on the work branch, then a detour to main.
    std::fs::write(first.path.join("work.txt"), "progress\n").unwrap();
    git(&first.path, &["add", "work.txt"]);
    git(&first.path, &["commit", "--quiet", "-m", "progress"]);
    let progress = git(&first.path, &["rev-parse", "HEAD"]);
    git(&first.path, &["checkout", "--quiet", "main"]);
    // A file only a re-clone would remove.
    std::fs::write(first.path.join("untracked.txt"), "still here\n").unwrap();

    let second = manager
        .prepare(&issue("acme/app#12"), Some(2))
        .await
        .unwrap();
    assert!(!second.created_now);
    assert_eq!(second.path, first.path);
    assert_eq!(
        git(&second.path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        branch
    );
    assert_eq!(git(&second.path, &["rev-parse", "HEAD"]), progress);
    assert!(second.path.join("untracked.txt").exists(), "not re-cloned");
}

#[tokio::test]
async fn a_pushed_work_branch_is_continued() {
    let dir = TempDir::new().unwrap();
    let bare = bare_repository(dir.path());
    let seed = dir.path().join("seed");
    git(&seed, &["checkout", "--quiet", "-b", "baton/ENG-9"]);
    std::fs::write(seed.join("earlier.txt"), "earlier run\n").unwrap();
    git(&seed, &["add", "earlier.txt"]);
    git(&seed, &["commit", "--quiet", "-m", "earlier"]);
    git(
        &seed,
        &["push", "--quiet", bare.to_str().unwrap(), "baton/ENG-9"],
    );

    let manager = WorkspaceManager::new(repo_config(&dir.path().join("ws"), &bare));
    let workspace = manager.prepare(&issue("ENG-9"), None).await.unwrap();
    assert!(workspace.path.join("earlier.txt").exists());
    assert_eq!(
        git(&workspace.path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "baton/ENG-9"
    );
}

#[tokio::test]
async fn clone_failures_are_git_failed_and_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("ws");
    let manager = WorkspaceManager::new(repo_config(&root, &dir.path().join("missing.git")));
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    assert_eq!(err.code(), "git_failed", "{err}");
    assert!(err.to_string().contains("clone"), "{err}");
    assert!(!root.join("ENG-1").exists());

    // A base branch the remote lacks.
    let bare = bare_repository(dir.path());
    let mut config = repo_config(&root, &bare);
    config.repo.base_branch = "develop".into();
    let manager = WorkspaceManager::new(config);
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    assert_eq!(err.code(), "git_failed");
    assert!(err.to_string().contains("develop"), "{err}");
    assert!(!root.join("ENG-1").exists());
}

#[tokio::test]
async fn remote_urls_are_redacted_in_errors() {
    let dir = TempDir::new().unwrap();
    let url = "ssh://deploy:hunter2@127.0.0.1:1/nothing.git".to_owned();
    let config = WorkspaceConfig {
        repo: RepoConfig {
            source: Some(RepoSource::Remote(url)),
            ..RepoConfig::default()
        },
        ..config(dir.path())
    };
    let manager = WorkspaceManager::new(config).with_git_timeout(Duration::from_secs(60));
    let err = manager.prepare(&issue("ENG-1"), None).await.unwrap_err();
    assert_eq!(err.code(), "git_failed");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn an_incomplete_workspace_is_recreated() {
    let dir = TempDir::new().unwrap();
    let bare = bare_repository(dir.path());
    let root = dir.path().join("ws");
    // As if a previous process died mid-clone: the directory exists, baton never finished it.
    std::fs::create_dir_all(root.join("ENG-1")).unwrap();
    std::fs::write(root.join("ENG-1").join("junk"), "").unwrap();
    let manager = WorkspaceManager::new(repo_config(&root, &bare));
    let workspace = manager.prepare(&issue("ENG-1"), None).await.unwrap();
    assert!(workspace.created_now);
    assert!(workspace.path.join("README.md").exists());
    assert!(!workspace.path.join("junk").exists());
}
