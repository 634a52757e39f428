use super::*;

#[test]
fn project_paths_are_one_segment() {
    assert_eq!(
        utf8_percent_encode("group/sub/my-app", PROJECT_SEGMENT).to_string(),
        "group%2Fsub%2Fmy-app"
    );
}

#[test]
fn resolved_threads_and_plain_comments_are_not_reviews() {
    let discussion = |individual: bool, resolved: bool| -> DiscussionJson {
        serde_json::from_value(json!({
            "id": "d1", "individual_note": individual,
            "notes": [{"id": 1, "body": "fix", "author": {"username": "ann"},
                       "system": false, "resolvable": true, "resolved": resolved}]
        }))
        .unwrap()
    };
    assert!(discussion(false, true).into_review().is_none());
    assert!(discussion(true, false).into_review().is_none());
    let review = discussion(false, false).into_review().unwrap();
    assert_eq!(review.body, "fix");
    assert_eq!(review.verdict, ReviewVerdict::ChangesRequested);
}

#[test]
fn merge_status_maps_to_mergeable() {
    let mr = |detailed: Option<&str>| -> MergeRequestJson {
        serde_json::from_value(json!({
            "iid": 1, "web_url": "u", "state": "opened", "source_branch": "b",
            "target_branch": "main", "sha": "abc", "detailed_merge_status": detailed,
            "merge_status": "can_be_merged"
        }))
        .unwrap()
    };
    assert_eq!(mr(Some("mergeable")).into_pull().mergeable, Some(true));
    assert_eq!(mr(Some("checking")).into_pull().mergeable, None);
    assert_eq!(mr(Some("conflict")).into_pull().mergeable, Some(false));
    assert_eq!(mr(None).into_pull().mergeable, Some(true));
}
