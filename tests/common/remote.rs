//! Git remotes for the whole-system tests: a bare repository with one commit, as a code host
//! would hold it, and `git` run with a fixed identity.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `git args` in `dir`; panics with git's stderr when it fails. Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository `<scratch>/remote.git` with one commit on `main`.
pub fn bare_remote(scratch: &Path) -> PathBuf {
    bare_remote_named(scratch, "remote")
}

/// A bare repository `<scratch>/<name>.git` with one commit on `main`.
pub fn bare_remote_named(scratch: &Path, name: &str) -> PathBuf {
    let seed = scratch.join(format!("{name}-seed"));
    std::fs::create_dir_all(&seed).expect("seed dir");
    git(&seed, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(seed.join("README.md"), format!("# {name}\n")).expect("readme");
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "--quiet", "-m", "initial"]);
    let bare = format!("{name}.git");
    let seed_name = format!("{name}-seed");
    git(scratch, &["clone", "--quiet", "--bare", &seed_name, &bare]);
    scratch.join(bare)
}
