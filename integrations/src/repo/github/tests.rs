use super::*;

#[test]
fn clone_urls_follow_the_api() {
    assert_eq!(
        default_clone_url(DEFAULT_BASE_URL, "o", "r"),
        "https://github.com/o/r.git"
    );
    assert_eq!(
        default_clone_url("https://ghe.example/api/v3/", "o", "r"),
        "https://ghe.example/o/r.git"
    );
}

#[test]
fn repositories_are_owner_slash_name() {
    assert_eq!(split_repository("acme/app"), Some(("acme", "app")));
    assert_eq!(split_repository("acme/app.git"), Some(("acme", "app")));
    assert_eq!(split_repository("acme"), None);
    assert_eq!(split_repository("acme/app/x"), None);
    assert_eq!(split_repository("../x"), None);
}

#[test]
fn check_runs_map_by_status_then_conclusion() {
    let run = |status: &str, conclusion: Option<&str>| CheckRunJson {
        status: status.into(),
        conclusion: conclusion.map(Into::into),
    };
    assert_eq!(run("in_progress", None).outcome(), CheckOutcome::Pending);
    assert_eq!(
        run("completed", Some("skipped")).outcome(),
        CheckOutcome::Passing
    );
    assert_eq!(
        run("completed", Some("timed_out")).outcome(),
        CheckOutcome::Failing
    );
}
