//! git through the CLI against real local repositories, and the credential's path to an
//! HTTP remote (a recording fake server): in a header, never in the URL or the error.

use axum::http::StatusCode;
use axum::Router;
use base64::Engine as _;
use baton_integrations::repo::git::{self, clone_env, DiffStat, GitCredential, PushOutcome};
use baton_integrations::repo::RepoError;
use baton_integrations::test_support::FakeApi;
use std::path::Path;
use std::process::Command;

/// Runs git for test setup, isolated from the user's configuration.
fn sh(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn commit_file(dir: &Path, name: &str, contents: &str, message: &str) {
    std::fs::write(dir.join(name), contents).unwrap();
    sh(dir, &["add", "--all"]);
    sh(dir, &["commit", "--quiet", "-m", message]);
}

/// A bare remote with `main`, and a clone of it to work in.
fn remote_and_clone(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let remote = root.join("remote.git");
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    sh(
        root,
        &["init", "--quiet", "--bare", remote.to_str().unwrap()],
    );
    sh(&seed, &["init", "--quiet"]);
    commit_file(&seed, "a.txt", "one\ntwo\nthree\n", "base");
    sh(
        &seed,
        &[
            "push",
            "--quiet",
            remote.to_str().unwrap(),
            "HEAD:refs/heads/main",
        ],
    );
    let work = root.join("work");
    sh(
        root,
        &[
            "clone",
            "--quiet",
            remote.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    (remote, work)
}

#[tokio::test]
async fn push_creates_the_branch_then_is_a_no_op_then_fast_forwards() {
    let root = tempfile::tempdir().unwrap();
    let (remote, work) = remote_and_clone(root.path());
    let url = remote.to_str().unwrap();
    commit_file(&work, "b.txt", "new\n", "work");
    let head = git::head_sha(&work).await.unwrap();

    let first = git::push(&work, url, "baton/issue-7", None, false)
        .await
        .unwrap();
    assert_eq!(first, PushOutcome::Created);
    assert_eq!(
        sh(&remote, &["rev-parse", "refs/heads/baton/issue-7"]),
        head
    );
    assert_eq!(
        git::rev_parse(&remote, "refs/heads/baton/issue-7")
            .await
            .unwrap(),
        Some(head.clone())
    );
    assert_eq!(
        git::rev_parse(&remote, "refs/heads/nope").await.unwrap(),
        None
    );

    let again = git::push(&work, url, "baton/issue-7", None, false)
        .await
        .unwrap();
    assert_eq!(
        again,
        PushOutcome::UpToDate,
        "the same commit twice sends nothing"
    );

    commit_file(&work, "b.txt", "newer\n", "more work");
    let next = git::push(&work, url, "baton/issue-7", None, false)
        .await
        .unwrap();
    assert_eq!(next, PushOutcome::FastForwarded);
}

#[tokio::test]
async fn a_rewritten_branch_needs_the_lease_and_the_lease_protects_a_persons_push() {
    let root = tempfile::tempdir().unwrap();
    let (remote, work) = remote_and_clone(root.path());
    let url = remote.to_str().unwrap();
    commit_file(&work, "b.txt", "first\n", "first attempt");
    git::push(&work, url, "baton/rework", None, false)
        .await
        .unwrap();
    sh(&work, &["fetch", "--quiet", "origin"]);

    // A rework run rewrites its commit: a plain push is refused, a leased one replaces it.
    sh(
        &work,
        &["commit", "--quiet", "--amend", "-m", "second attempt"],
    );
    let refused = git::push(&work, url, "baton/rework", None, false).await;
    assert!(
        matches!(&refused, Err(RepoError::Git { operation: "push", message }) if message.contains("rejected")),
        "{refused:?}"
    );
    let forced = git::push(&work, url, "baton/rework", None, true)
        .await
        .unwrap();
    assert_eq!(forced, PushOutcome::Forced);
    let rewritten = git::head_sha(&work).await.unwrap();
    assert_eq!(
        sh(&remote, &["rev-parse", "refs/heads/baton/rework"]),
        rewritten
    );
    // The push recorded itself in origin/baton/rework: rewriting again needs no fetch.
    sh(
        &work,
        &[
            "commit",
            "--quiet",
            "--amend",
            "-m",
            "second attempt, again",
        ],
    );
    let again = git::push(&work, url, "baton/rework", None, true)
        .await
        .unwrap();
    assert_eq!(again, PushOutcome::Forced);

    // A person pushes meanwhile; the lease (our stale origin/baton/rework) refuses to drop it.
    let person = root.path().join("person");
    sh(
        root.path(),
        &[
            "clone",
            "--quiet",
            "-b",
            "baton/rework",
            url,
            person.to_str().unwrap(),
        ],
    );
    commit_file(&person, "c.txt", "fix\n", "a person's fix");
    sh(
        &person,
        &["push", "--quiet", "origin", "HEAD:refs/heads/baton/rework"],
    );
    let theirs = sh(&person, &["rev-parse", "HEAD"]);
    sh(
        &work,
        &["commit", "--quiet", "--amend", "-m", "third attempt"],
    );
    let stale = git::push(&work, url, "baton/rework", None, true).await;
    assert!(stale.is_err(), "the lease must refuse: {stale:?}");
    assert_eq!(
        sh(&remote, &["rev-parse", "refs/heads/baton/rework"]),
        theirs
    );

    // A branch the work tree never saw must not exist yet.
    let fresh = git::push(&work, url, "baton/brand-new", None, true)
        .await
        .unwrap();
    assert_eq!(fresh, PushOutcome::Created);
}

#[tokio::test]
async fn diff_stat_counts_from_the_merge_base() {
    let root = tempfile::tempdir().unwrap();
    let (_remote, work) = remote_and_clone(root.path());
    sh(&work, &["checkout", "--quiet", "-b", "feature"]);
    commit_file(&work, "a.txt", "one\nTWO\nthree\n", "edit");
    commit_file(&work, "b.txt", "x\ny\n", "add");
    // A later change on main is not part of the feature's diff.
    sh(&work, &["checkout", "--quiet", "main"]);
    commit_file(&work, "main-only.txt", "m\n", "main moves on");

    let stat = git::diff_stat(&work, "main", "feature").await.unwrap();
    assert_eq!(
        stat,
        DiffStat {
            files_changed: 2,
            insertions: 3,
            deletions: 1,
            files: vec!["a.txt".into(), "b.txt".into()],
        }
    );
    assert!(git::diff_stat(&work, "main", "--output=/tmp/x")
        .await
        .is_err());
    assert!(git::diff_stat(&work, "main", "no-such-branch")
        .await
        .is_err());
}

#[tokio::test]
async fn the_credential_reaches_an_http_remote_as_a_header_and_nowhere_else() {
    let server = FakeApi::spawn(Router::new().fallback(|| async { StatusCode::NOT_FOUND })).await;
    let root = tempfile::tempdir().unwrap();
    let (_remote, work) = remote_and_clone(root.path());
    let url = format!("{}/acme/app.git", server.url());
    let token = "ghs_SECRETtoken0123";
    let credential = GitCredential::basic("x-access-token", token).scoped_to(&url);
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));

    let failed = git::push(&work, &url, "baton/http", Some(&credential), false).await;
    let Err(RepoError::Git { message, .. }) = failed else {
        panic!("a 404 remote must fail: {failed:?}");
    };
    assert!(
        !message.contains(token) && !message.contains(&encoded),
        "{message}"
    );

    let requests = server.requests();
    assert!(!requests.is_empty(), "git never reached the server");
    for request in &requests {
        assert!(!request.uri.contains(token), "{}", request.uri);
        assert_eq!(
            request.header("authorization"),
            Some(format!("Basic {encoded}").as_str()),
            "{}",
            request.uri
        );
    }

    // Scoped to another origin, the header is not sent.
    server.clear_requests();
    let elsewhere =
        GitCredential::basic("x-access-token", token).scoped_to("https://github.com/acme/app.git");
    let _ = git::push(&work, &url, "baton/http", Some(&elsewhere), false).await;
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn a_clone_with_clone_env_sends_the_header() {
    let server = FakeApi::spawn(Router::new().fallback(|| async { StatusCode::NOT_FOUND })).await;
    let root = tempfile::tempdir().unwrap();
    let url = format!("{}/group/app.git", server.url());
    let credential = GitCredential::basic("oauth2", "glpat-secret").scoped_to(&url);
    // Async: the fake server answers on this test's runtime while git waits for it.
    let output = tokio::process::Command::new("git")
        .args([
            "clone",
            "--quiet",
            &url,
            root.path().join("c").to_str().unwrap(),
        ])
        .envs(clone_env(Some(&credential)))
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("oauth2:glpat-secret")
    );
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(requests
        .iter()
        .all(|r| r.header("authorization") == Some(expected.as_str())));
    assert!(clone_env(None).is_empty());
}

#[tokio::test]
async fn remotes_with_a_password_are_refused_without_echoing_it() {
    let root = tempfile::tempdir().unwrap();
    let (_remote, work) = remote_and_clone(root.path());
    let refused = git::push(
        &work,
        "https://x:hunter2@example.com/r.git",
        "b",
        None,
        false,
    )
    .await;
    let Err(error) = refused else {
        panic!("a password in the URL must be refused");
    };
    assert!(!error.to_string().contains("hunter2"), "{error}");
}
