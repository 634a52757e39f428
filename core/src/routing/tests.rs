use super::*;
use crate::domain::{Actor, Association, IssueSnapshot, ReviewState, SourceKind, WorkItemKey};
use crate::workflow::Workflow;

fn rules(front_matter: &str) -> StateRules {
    let workflow = Workflow::parse(&format!("---\n{front_matter}\n---\n")).expect("workflow");
    StateRules::new(&workflow.config)
}

fn github_rules() -> StateRules {
    rules("tracker:\n  kind: github")
}

fn event(action: EventAction, state: &str, labels: &[&str]) -> NormalizedEvent {
    NormalizedEvent {
        source: SourceKind::Github,
        event_name: "issues".into(),
        action,
        issue: IssueSnapshot {
            id: "1".into(),
            identifier: "acme/app#1".into(),
            state: state.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..IssueSnapshot::default()
        },
        actor: Actor {
            login: "alice".into(),
            association: Association::Member,
            is_bot: false,
        },
        comment: None,
    }
}

fn comment(text: &str, association: Association) -> NormalizedEvent {
    let mut e = event(EventAction::Commented, "open", &[]);
    e.comment = Some(text.into());
    e.actor.association = association;
    e
}

fn is_run(decision: &Decision, expected: JobReason) -> bool {
    matches!(decision, Decision::Run { reason } if *reason == expected)
}

#[test]
fn adding_the_trigger_label_queues_a_run() {
    let e = event(
        EventAction::Labeled {
            label: "baton".into(),
        },
        "open",
        &["baton"],
    );
    assert!(is_run(&route(&e, &github_rules()), JobReason::Labeled));
}

#[test]
fn other_labels_are_ignored() {
    let e = event(
        EventAction::Labeled {
            label: "bug".into(),
        },
        "open",
        &["baton", "bug"],
    );
    assert!(matches!(
        route(&e, &github_rules()),
        Decision::Ignore { .. }
    ));
}

#[test]
fn a_required_label_completing_eligibility_queues_a_run() {
    let rules = rules("tracker:\n  kind: github\n  required_labels: [Backend]");
    let e = event(
        EventAction::Labeled {
            label: "backend".into(),
        },
        "open",
        &["baton", "backend"],
    );
    assert!(is_run(&route(&e, &rules), JobReason::Labeled));
    let partial = event(
        EventAction::Labeled {
            label: "baton".into(),
        },
        "open",
        &["baton"],
    );
    assert!(matches!(route(&partial, &rules), Decision::Ignore { .. }));
}

#[test]
fn opened_with_the_label_queues_and_without_it_ignores() {
    let with = event(EventAction::Opened, "open", &["baton"]);
    assert!(is_run(&route(&with, &github_rules()), JobReason::Opened));
    let without = event(EventAction::Opened, "open", &[]);
    assert!(matches!(
        route(&without, &github_rules()),
        Decision::Ignore { .. }
    ));
}

#[test]
fn closing_unlabelling_and_terminal_states_cancel() {
    let closed = event(EventAction::Closed, "closed", &["baton"]);
    assert!(matches!(
        route(&closed, &github_rules()),
        Decision::Cancel { .. }
    ));
    let unlabeled = event(
        EventAction::Unlabeled {
            label: "Baton".into(),
        },
        "open",
        &[],
    );
    assert!(matches!(
        route(&unlabeled, &github_rules()),
        Decision::Cancel { .. }
    ));
    let mut moved = event(
        EventAction::StateChanged {
            from: Some("In Progress".into()),
            to: "Done".into(),
        },
        "Done",
        &["baton"],
    );
    moved.source = SourceKind::Linear;
    assert!(matches!(
        route(&moved, &rules("tracker:\n  kind: linear")),
        Decision::Cancel { .. }
    ));
}

#[test]
fn removing_a_label_that_does_not_gate_is_ignored() {
    let e = event(
        EventAction::Unlabeled {
            label: "bug".into(),
        },
        "open",
        &["baton"],
    );
    assert!(matches!(
        route(&e, &github_rules()),
        Decision::Ignore { .. }
    ));
    // Linear names a removed label by id; the current labels decide.
    let by_id = event(
        EventAction::Unlabeled {
            label: "b1d5a3c0".into(),
        },
        "open",
        &[],
    );
    assert!(matches!(
        route(&by_id, &github_rules()),
        Decision::Cancel { .. }
    ));
}

#[test]
fn moving_into_an_active_state_queues_when_eligible() {
    let mut moved = event(
        EventAction::StateChanged {
            from: None,
            to: "In Progress".into(),
        },
        "In Progress",
        &["baton"],
    );
    moved.source = SourceKind::Linear;
    assert!(is_run(
        &route(&moved, &rules("tracker:\n  kind: linear")),
        JobReason::StateChanged
    ));
    let off = rules("tracker:\n  kind: linear\ntriggers:\n  on_active_state: false");
    assert!(matches!(route(&moved, &off), Decision::Ignore { .. }));
}

#[test]
fn moving_out_of_the_active_states_cancels() {
    let mut moved = event(
        EventAction::StateChanged {
            from: None,
            to: "Backlog".into(),
        },
        "Backlog",
        &["baton"],
    );
    moved.source = SourceKind::Linear;
    assert!(matches!(
        route(&moved, &rules("tracker:\n  kind: linear")),
        Decision::Cancel { .. }
    ));
}

#[test]
fn comment_commands_from_allowed_people_run_stop_and_retry() {
    let rules = github_rules();
    assert!(is_run(
        &route(&comment("/baton run", Association::Owner), &rules),
        JobReason::CommentRun
    ));
    assert!(is_run(
        &route(
            &comment("  \n/baton retry please\nthanks", Association::Collaborator),
            &rules
        ),
        JobReason::CommentRetry
    ));
    assert!(matches!(
        route(&comment("/baton stop", Association::Member), &rules),
        Decision::Cancel { .. }
    ));
}

#[test]
fn stopping_the_agent_session_cancels_like_baton_stop() {
    let rules = rules("tracker:\n  kind: linear");
    let mut stop = event(
        EventAction::AgentSessionStopped {
            session: "session-1".into(),
        },
        "",
        &[],
    );
    stop.source = SourceKind::Linear;
    stop.actor.login = "ada".into();
    assert!(matches!(
        route(&stop, &rules),
        Decision::Cancel { reason } if reason.contains("stopped the agent session")
    ));
    // Whoever may not run commands may not stop the agent either.
    stop.actor.login = "mallory".into();
    stop.actor.association = Association::None;
    assert!(matches!(
        route(&stop, &rules),
        Decision::Ignore { reason } if reason.contains("may not stop the agent")
    ));
}

#[test]
fn comment_commands_from_outsiders_are_refused() {
    for association in [
        Association::Contributor,
        Association::FirstTimer,
        Association::None,
        Association::Unknown,
    ] {
        let decision = route(&comment("/baton run", association), &github_rules());
        assert!(
            matches!(decision, Decision::Ignore { .. }),
            "{association:?}: {decision:?}"
        );
    }
}

#[test]
fn commands_must_lead_the_comment() {
    let rules = github_rules();
    for text in ["please /baton run", "/batonrun", "> /baton run", ""] {
        // At most a reply (an answer, should a question be waiting); never a command.
        let decision = route(&comment(text, Association::Owner), &rules);
        assert!(
            matches!(decision, Decision::Ignore { .. } | Decision::Reply { .. }),
            "{text:?}: {decision:?}"
        );
    }
    let unknown = route(&comment("/baton deploy", Association::Owner), &rules);
    assert!(matches!(&unknown, Decision::Ignore { reason } if reason.contains("unknown command")));
}

#[test]
fn run_on_a_closed_issue_is_ignored() {
    let mut c = comment("/baton run", Association::Owner);
    c.issue.state = "closed".into();
    assert!(matches!(
        route(&c, &github_rules()),
        Decision::Ignore { .. }
    ));
}

#[test]
fn bots_never_trigger() {
    let mut e = event(
        EventAction::Labeled {
            label: "baton".into(),
        },
        "open",
        &["baton"],
    );
    e.actor.is_bot = true;
    assert!(matches!(
        route(&e, &github_rules()),
        Decision::Ignore { .. }
    ));
}

#[test]
fn a_null_trigger_label_makes_every_eligible_issue_a_candidate() {
    let rules = rules("tracker:\n  kind: github\ntriggers:\n  label: null");
    assert!(is_run(
        &route(&event(EventAction::Opened, "open", &[]), &rules),
        JobReason::Opened
    ));
}

fn pr_event(action: EventAction, body: &str, association: Association) -> NormalizedEvent {
    let mut e = event(action, "open", &[]);
    e.event_name = "pull_request_review".into();
    e.issue.identifier = "acme/app#34".into();
    e.issue.body = body.into();
    e.actor.association = association;
    e
}

fn review(state: ReviewState) -> EventAction {
    EventAction::ReviewSubmitted {
        state,
        branch: "baton/acme_app_1".into(),
    }
}

#[test]
fn a_review_requesting_changes_on_a_baton_pull_request_asks_for_rework() {
    let key = WorkItemKey::parse("github:acme/app#1").unwrap();
    let body = format!("Fixes #1\n\n{}", key.marker());
    let decision = route(
        &pr_event(
            review(ReviewState::ChangesRequested),
            &body,
            Association::Member,
        ),
        &github_rules(),
    );
    assert_eq!(
        decision,
        Decision::PullRequest {
            work_item: key,
            branch: "baton/acme_app_1".into(),
            follow_up: FollowUp::Rework
        }
    );
}

#[test]
fn pull_requests_without_the_marker_or_from_outsiders_are_ignored() {
    let rules = github_rules();
    let plain = pr_event(
        review(ReviewState::ChangesRequested),
        "Fixes #1",
        Association::Member,
    );
    assert!(
        matches!(route(&plain, &rules), Decision::Ignore { reason } if reason.contains("marker"))
    );
    let key = WorkItemKey::parse("github:acme/app#1").unwrap();
    let outsider = pr_event(
        review(ReviewState::ChangesRequested),
        &key.marker(),
        Association::None,
    );
    assert!(
        matches!(route(&outsider, &rules), Decision::Ignore { reason } if reason.contains("may not request rework"))
    );
    let comment_only = pr_event(
        review(ReviewState::Commented),
        &key.marker(),
        Association::Member,
    );
    assert!(matches!(
        route(&comment_only, &rules),
        Decision::Ignore { .. }
    ));
}

#[test]
fn merged_and_closed_pull_requests_follow_up_and_approvals_merge_only_when_auto() {
    let key = WorkItemKey::parse("github:acme/app#1").unwrap();
    let closed = |merged| EventAction::PullRequestClosed {
        merged,
        branch: "baton/acme_app_1".into(),
    };
    let follow_up = |decision: Decision| match decision {
        Decision::PullRequest { follow_up, .. } => Some(follow_up),
        _ => None,
    };
    let github = github_rules();
    assert_eq!(
        follow_up(route(
            &pr_event(closed(true), &key.marker(), Association::Member),
            &github
        )),
        Some(FollowUp::Merged)
    );
    assert_eq!(
        follow_up(route(
            &pr_event(closed(false), &key.marker(), Association::Member),
            &github
        )),
        Some(FollowUp::Closed)
    );
    let approved = pr_event(
        review(ReviewState::Approved),
        &key.marker(),
        Association::Member,
    );
    assert_eq!(follow_up(route(&approved, &github)), None);
    let auto = rules("tracker:\n  kind: github\ngates:\n  merge:\n    auto: true");
    assert_eq!(follow_up(route(&approved, &auto)), Some(FollowUp::Merge));
}

#[test]
fn the_dispatch_gate_holds_runs_until_approved() {
    let gated =
        rules("tracker:\n  kind: github\ngates:\n  approval_required: true\n  approvers: [carol]");
    let labeled = event(
        EventAction::Labeled {
            label: "baton".into(),
        },
        "open",
        &["baton"],
    );
    assert_eq!(
        route(&labeled, &gated),
        Decision::AwaitApproval {
            reason: JobReason::Labeled
        }
    );
    // The approval label releases it, as does `/baton approve` by an approver.
    let approved = event(
        EventAction::Labeled {
            label: "baton:approved".into(),
        },
        "open",
        &["baton", "baton:approved"],
    );
    assert!(is_run(&route(&approved, &gated), JobReason::Approved));
    let mut by_carol = comment("/baton approve", Association::None);
    by_carol.actor.login = "carol".into();
    assert_eq!(
        route(&by_carol, &gated),
        Decision::Approve { by: "carol".into() }
    );
    let by_alice = comment("/baton approve", Association::Owner);
    assert!(
        matches!(route(&by_alice, &gated), Decision::Ignore { reason } if reason.contains("gates.approvers"))
    );
    // Without a gate there is nothing to approve.
    assert!(matches!(
        route(&by_alice, &github_rules()),
        Decision::Ignore { .. }
    ));
}

#[test]
fn a_wait_route_neither_starts_nor_stops_work() {
    let profiled = rules(
        "tracker:\n  kind: linear\nworkflow:\n  profile:\n    kind: coding_pr_delivery\n    routes:\n      developing: [In Progress]\n      review: [In Review]\n      resolved: [Done]",
    );
    let moved = |to: &str| {
        let mut e = event(
            EventAction::StateChanged {
                from: None,
                to: to.into(),
            },
            to,
            &["baton"],
        );
        e.source = SourceKind::Linear;
        e
    };
    assert!(
        matches!(route(&moved("In Review"), &profiled), Decision::Ignore { reason } if reason.contains("`review` route"))
    );
    assert!(is_run(
        &route(&moved("In Progress"), &profiled),
        JobReason::StateChanged
    ));
    assert!(matches!(
        route(&moved("Done"), &profiled),
        Decision::Cancel { .. }
    ));
}

/// A poll of the issue as `state`/`labels`, with what baton stored as `previous`.
fn polled(state: &str, labels: &[&str], previous: Option<(&str, &[&str])>) -> NormalizedEvent {
    let previous =
        previous.map(|(state, labels)| Box::new(event(EventAction::Edited, state, labels).issue));
    event(EventAction::Polled { previous }, state, labels)
}

fn linear_rules() -> StateRules {
    rules("tracker:\n  kind: linear")
}

fn linear_polled(state: &str, labels: &[&str], previous: (&str, &[&str])) -> NormalizedEvent {
    let mut e = polled(state, labels, Some(previous));
    e.source = SourceKind::Linear;
    e
}

#[test]
fn a_polled_eligible_issue_unknown_to_baton_queues_a_run() {
    let decision = route(&polled("open", &["baton"], None), &github_rules());
    assert!(is_run(&decision, JobReason::Polled), "{decision:?}");
}

#[test]
fn a_polled_issue_that_is_not_eligible_and_unknown_is_ignored() {
    for (state, labels) in [("open", &[][..]), ("closed", &["baton"][..])] {
        let decision = route(&polled(state, labels, None), &github_rules());
        assert!(
            matches!(decision, Decision::Ignore { .. }),
            "{state}: {decision:?}"
        );
    }
}

#[test]
fn a_polled_issue_that_has_not_changed_asks_for_nothing() {
    let rules = github_rules();
    for labels in [&["baton"][..], &["bug"][..], &[][..]] {
        let decision = route(&polled("open", labels, Some(("open", labels))), &rules);
        assert!(
            matches!(decision, Decision::Ignore { .. }),
            "{labels:?}: {decision:?}"
        );
    }
}

#[test]
fn a_polled_issue_that_became_eligible_queues_a_run() {
    let rules = rules("tracker:\n  kind: github\n  required_labels: [backend]");
    // The trigger label was added, or the last required label, or the issue reopened.
    for previous in [
        ("open", &["backend"][..]),
        ("open", &["baton"][..]),
        ("closed", &["baton", "backend"][..]),
    ] {
        let decision = route(
            &polled("open", &["baton", "backend"], Some(previous)),
            &rules,
        );
        assert!(
            is_run(&decision, JobReason::Polled),
            "{previous:?}: {decision:?}"
        );
    }
}

#[test]
fn a_polled_move_between_active_states_runs_like_the_webhook_would() {
    let moved = linear_polled("In Progress", &["baton"], ("Todo", &["baton"]));
    assert!(is_run(&route(&moved, &linear_rules()), JobReason::Polled));
    let same = linear_polled("In Progress", &["baton"], ("in progress", &["baton"]));
    assert!(matches!(
        route(&same, &linear_rules()),
        Decision::Ignore { .. }
    ));
    let off = rules("tracker:\n  kind: linear\ntriggers:\n  on_active_state: false");
    assert!(matches!(route(&moved, &off), Decision::Ignore { .. }));
}

#[test]
fn a_polled_issue_in_a_terminal_or_inactive_state_is_cancelled() {
    let closed = route(
        &polled("closed", &["baton"], Some(("open", &["baton"]))),
        &github_rules(),
    );
    assert!(
        matches!(&closed, Decision::Cancel { reason } if reason.contains("terminal")),
        "{closed:?}"
    );
    let backlog = route(
        &linear_polled("Backlog", &["baton"], ("Todo", &["baton"])),
        &linear_rules(),
    );
    assert!(
        matches!(&backlog, Decision::Cancel { reason } if reason.contains("active")),
        "{backlog:?}"
    );
}

#[test]
fn a_polled_issue_that_lost_its_trigger_label_is_cancelled() {
    let decision = route(
        &polled("open", &["bug"], Some(("open", &["baton", "bug"]))),
        &github_rules(),
    );
    assert!(matches!(decision, Decision::Cancel { .. }), "{decision:?}");
    // Losing a label that gates nothing changes nothing.
    let decision = route(
        &polled("open", &["baton"], Some(("open", &["baton", "bug"]))),
        &github_rules(),
    );
    assert!(matches!(decision, Decision::Ignore { .. }), "{decision:?}");
}

#[test]
fn a_polled_issue_queued_by_a_command_without_the_label_is_left_alone() {
    // `/baton run` works without the trigger label; the poll must not undo it.
    let decision = route(&polled("open", &[], Some(("open", &[]))), &github_rules());
    assert!(matches!(decision, Decision::Ignore { .. }), "{decision:?}");
}

#[test]
fn answers_come_from_people_allowed_to_run_commands() {
    let rules = github_rules();
    let answer = route(
        &comment(
            "/baton answer Postgres.\nAnd keep SQLite for tests.",
            Association::Owner,
        ),
        &rules,
    );
    assert_eq!(
        answer,
        Decision::Answer {
            by: "alice".into(),
            text: "Postgres.\nAnd keep SQLite for tests.".into()
        }
    );
    let reply = route(&comment("  Use Postgres.  ", Association::Member), &rules);
    assert_eq!(
        reply,
        Decision::Reply {
            by: "alice".into(),
            text: "Use Postgres.".into()
        }
    );
    let empty = route(&comment("/baton answer   ", Association::Owner), &rules);
    assert!(
        matches!(&empty, Decision::Ignore { reason } if reason.contains("needs the answer")),
        "{empty:?}"
    );
    for outsider in [
        comment("/baton answer Postgres", Association::None),
        comment("Use Postgres", Association::None),
    ] {
        let decision = route(&outsider, &rules);
        assert!(matches!(decision, Decision::Ignore { .. }), "{decision:?}");
    }
    // baton's own question, posted with a person's token, is not a reply.
    let own = comment(
        "<!-- baton:question -->\n### The agent needs an answer",
        Association::Owner,
    );
    assert!(matches!(route(&own, &rules), Decision::Ignore { .. }));
}
