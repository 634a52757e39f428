use super::*;

#[test]
fn the_credential_goes_in_the_environment_not_in_argv() {
    let credential = GitCredential::basic("x-access-token", "ghs_s3cret")
        .scoped_to("https://github.com/o/r.git");
    let invocation = push_invocation(
        "https://github.com/o/r.git",
        "baton/fix",
        Some(&credential),
        None,
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode("x-access-token:ghs_s3cret");
    for arg in &invocation.args {
        assert!(
            !arg.contains("ghs_s3cret") && !arg.contains(&encoded),
            "{arg}"
        );
    }
    assert_eq!(
        invocation.env,
        vec![
            ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
            (
                "GIT_CONFIG_KEY_0".to_owned(),
                "http.https://github.com/.extraHeader".to_owned()
            ),
            (
                "GIT_CONFIG_VALUE_0".to_owned(),
                format!("Authorization: Basic {encoded}")
            ),
        ]
    );
    assert_eq!(
        invocation.args,
        [
            "push",
            "--porcelain",
            "--",
            "https://github.com/o/r.git",
            "HEAD:refs/heads/baton/fix"
        ]
    );
    let shown = format!("{invocation:?} {credential:?}");
    assert!(
        !shown.contains("ghs_s3cret") && !shown.contains(&encoded),
        "{shown}"
    );
}

#[test]
fn a_lease_names_the_expected_commit_or_none() {
    let with = push_invocation("/r.git", "b", None, Some(Some("abc123")));
    assert!(with
        .args
        .contains(&"--force-with-lease=refs/heads/b:abc123".to_owned()));
    let absent = push_invocation("/r.git", "b", None, Some(None));
    assert!(absent
        .args
        .contains(&"--force-with-lease=refs/heads/b:".to_owned()));
    assert!(push_invocation("/r.git", "b", None, None).env.is_empty());
}

#[test]
fn redaction_covers_the_token_and_its_encoding() {
    let credential = GitCredential::basic("oauth2", "glpat-secret");
    let encoded = base64::engine::general_purpose::STANDARD.encode("oauth2:glpat-secret");
    let text = format!("fatal: glpat-secret rejected; header Basic {encoded}");
    let shown = credential.redact(&text);
    assert!(
        !shown.contains("glpat-secret") && !shown.contains(&encoded),
        "{shown}"
    );
}

#[test]
fn numstat_counts_lines_renames_and_binaries() {
    let output = "3\t1\tsrc/a.rs\0-\t-\tlogo.png\0\
                      2\t0\t\0old name.rs\0new name.rs\0";
    let stat = parse_numstat(output).unwrap();
    assert_eq!(stat.files, ["src/a.rs", "logo.png", "new name.rs"]);
    assert_eq!(
        (stat.files_changed, stat.insertions, stat.deletions),
        (3, 5, 1)
    );
    assert_eq!(parse_numstat("").unwrap(), DiffStat::default());
}

#[test]
fn porcelain_flags_become_outcomes() {
    let out = "To /tmp/r.git\n*\tHEAD:refs/heads/b\t[new branch]\nDone\n";
    assert_eq!(parse_push(out, "b"), Some(PushOutcome::Created));
    let out = "To /tmp/r.git\n=\tHEAD:refs/heads/b\t[up to date]\nDone\n";
    assert_eq!(parse_push(out, "b"), Some(PushOutcome::UpToDate));
    assert_eq!(parse_push(out, "other"), None);
}

#[test]
fn option_like_names_are_refused() {
    assert!(check_branch("--upload-pack=x").is_err());
    assert!(check_branch("a:b").is_err());
    assert!(check_branch("baton/issue-12").is_ok());
    assert!(check_revision("-x").is_err());
    assert!(check_remote("https://u:p@host/r.git").is_err());
    assert!(check_remote("https://host/r.git").is_ok());
}
