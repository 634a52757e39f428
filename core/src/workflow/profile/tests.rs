use super::*;
use crate::workflow::Workflow;
use serde_json::json;

fn profile(front_matter: &str) -> Result<Profile, String> {
    Workflow::parse(&format!(
        "---\ntracker:\n  kind: linear\n{front_matter}\n---\n"
    ))
    .map(|w| w.config.profile)
    .map_err(|e| e.to_string())
}

fn output(commit: Option<&str>, message: Option<&str>, result: Option<Value>) -> RunOutput {
    RunOutput {
        commit: commit.map(str::to_owned),
        final_message: message.map(str::to_owned),
        result_file: result.map(Ok),
    }
}

#[test]
fn without_a_profile_the_workflow_delivers_code() {
    let p = profile("").unwrap();
    assert_eq!(p.kind(), ProfileKind::CodingPrDelivery);
    assert!(p.routes.is_empty());
}

#[test]
fn routes_map_tracker_states_to_actions() {
    let p = profile(
        "workflow:\n  profile:\n    kind: coding_pr_delivery\n    routes:\n      planning: Todo\n      developing: [In Progress]\n      review: [In Review]\n      resolved: [Done]",
    )
    .unwrap();
    assert_eq!(
        p.route_of("todo"),
        Some((
            "planning",
            RouteAction::TransitionThenDispatch { to: "developing" }
        ))
    );
    assert_eq!(p.route_of("In Review"), Some(("review", RouteAction::Wait)));
    assert_eq!(p.route_of("done"), Some(("resolved", RouteAction::Stop)));
    assert_eq!(p.route_of("Backlog"), None);
    assert_eq!(p.state_for("developing"), Some("In Progress"));
    let mut dispatch: Vec<_> = p.dispatch_states().collect();
    dispatch.sort();
    assert_eq!(dispatch, ["In Progress", "Todo"]);
}

#[test]
fn unknown_kinds_routes_and_double_mapped_states_are_refused() {
    let kind = profile("workflow:\n  profile:\n    kind: deploy_to_prod").unwrap_err();
    assert!(
        kind.contains("coding_pr_delivery, requirement_analysis"),
        "{kind}"
    );
    let route =
        profile("workflow:\n  profile:\n    kind: triage\n    routes:\n      developing: [Doing]")
            .unwrap_err();
    assert!(route.contains("`triage` has no such route"), "{route}");
    let twice = profile(
        "workflow:\n  profile:\n    kind: triage\n    routes:\n      routed: [Done]\n      duplicate: [done]",
    )
    .unwrap_err();
    assert!(twice.contains("mapped to both"), "{twice}");
}

#[test]
fn the_prompt_sees_the_contract_and_routes() {
    let p = profile("workflow:\n  profile:\n    kind: triage\n    routes:\n      intake: [Triage]")
        .unwrap();
    let value = p.prompt_value();
    assert_eq!(value["kind"], "triage");
    assert!(value["contract"]
        .as_str()
        .unwrap()
        .contains(".baton/result.json"));
    assert_eq!(value["routes"][0]["key"], "intake");
    assert_eq!(value["routes"][0]["action"], "transition_then_dispatch");
    assert_eq!(value["routes"][0]["states"], json!(["Triage"]));
}

#[test]
fn coding_pr_delivery_needs_a_commit() {
    let p = ProfileKind::CodingPrDelivery.spec();
    let p = Profile {
        spec: p,
        routes: BTreeMap::new(),
        tools: None,
    };
    assert_eq!(
        p.check_deliverable(&output(Some("abc"), None, None)),
        Ok(Delivered::PullRequest)
    );
    let missing = p
        .check_deliverable(&output(None, Some("done!"), None))
        .unwrap_err();
    assert!(missing.contains("left none"), "{missing}");
}

fn of(kind: ProfileKind) -> Profile {
    Profile {
        spec: kind.spec(),
        routes: BTreeMap::new(),
        tools: None,
    }
}

#[test]
fn requirement_analysis_needs_a_real_final_message() {
    let p = of(ProfileKind::RequirementAnalysis);
    let text = "Scope: the login form only. Risk: sessions are shared with the API.";
    assert_eq!(
        p.check_deliverable(&output(None, Some(text), None)),
        Ok(Delivered::Comment(text.to_owned()))
    );
    assert!(p
        .check_deliverable(&output(None, Some("ok"), None))
        .is_err());
    assert!(p.check_deliverable(&output(None, None, None)).is_err());
}

#[test]
fn requirement_refinement_needs_acceptance_criteria() {
    let p = of(ProfileKind::RequirementRefinement);
    let text = "Refined.\n\n## Acceptance criteria\n- [ ] a user can log in with SSO\n- [ ] a failed login shows why\n\n## Notes\n- [ ] not a criterion";
    match p.check_deliverable(&output(None, Some(text), None)) {
        Ok(Delivered::AcceptanceCriteria { criteria, .. }) => assert_eq!(
            criteria,
            ["a user can log in with SSO", "a failed login shows why"]
        ),
        other => panic!("{other:?}"),
    }
    let vague = p.check_deliverable(&output(None, Some("Make login better."), None));
    assert!(vague.unwrap_err().contains("Acceptance criteria"));
}

#[test]
fn review_routing_needs_reviewers_in_the_result_file() {
    let p = of(ProfileKind::ReviewRouting);
    assert_eq!(
        p.check_deliverable(&output(
            None,
            None,
            Some(json!({"reviewers": ["@alice", "bob"]}))
        )),
        Ok(Delivered::Reviewers(vec!["alice".into(), "bob".into()]))
    );
    assert!(p
        .check_deliverable(&output(None, None, Some(json!({"reviewers": []}))))
        .is_err());
    assert!(p
        .check_deliverable(&output(None, Some("alice"), None))
        .unwrap_err()
        .contains(RESULT_FILE));
    let broken = RunOutput {
        result_file: Some(Err("expected value at line 1".into())),
        ..RunOutput::default()
    };
    assert!(p
        .check_deliverable(&broken)
        .unwrap_err()
        .contains("not valid JSON"));
}

#[test]
fn triage_needs_labels_and_a_priority_in_range() {
    let p = of(ProfileKind::Triage);
    assert_eq!(
        p.check_deliverable(&output(
            None,
            None,
            Some(json!({"labels": ["Bug"], "priority": 2}))
        )),
        Ok(Delivered::Triage {
            labels: vec!["bug".into()],
            priority: 2
        })
    );
    for bad in [
        json!({"labels": ["bug"], "priority": 0}),
        json!({"labels": ["bug"], "priority": 5}),
        json!({"labels": [], "priority": 1}),
        json!({"labels": ["bug"]}),
        json!({"labels": "bug", "priority": 1}),
    ] {
        assert!(
            p.check_deliverable(&output(None, None, Some(bad.clone())))
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn each_profile_offers_only_its_tools() {
    assert!(of(ProfileKind::CodingPrDelivery).allows_tool("tracker_comment"));
    assert!(!of(ProfileKind::RequirementAnalysis).allows_tool("tracker_comment"));
    assert!(!of(ProfileKind::Triage).allows_tool("merge_pull_request"));
}

#[test]
fn a_workflow_can_narrow_the_tools_its_agent_gets() {
    let p = profile(
        "workflow:\n  profile:\n    kind: coding_pr_delivery\n    tools: [tracker_get_issue, pr_checks]",
    )
    .unwrap();
    assert_eq!(p.tools(), ["tracker_get_issue", "pr_checks"]);
    assert!(p.allows_tool("pr_checks"));
    assert!(!p.allows_tool("tracker_comment"));
    assert_eq!(
        p.prompt_value()["tools"],
        json!(["tracker_get_issue", "pr_checks"])
    );

    let error =
        profile("workflow:\n  profile:\n    tools: [tracker_get_issue, rm_rf]").unwrap_err();
    assert!(error.contains("`rm_rf` is not a host tool"), "{error}");
}

#[test]
fn coding_gets_the_whole_bridge_and_analysis_cannot_comment() {
    let coding = of(ProfileKind::CodingPrDelivery);
    for tool in crate::workflow::host_tools::HOST_TOOLS {
        assert!(coding.allows_tool(tool), "{tool}");
    }
    let analysis = of(ProfileKind::RequirementAnalysis);
    assert!(analysis.allows_tool("tracker_update_status"));
    assert!(!analysis.allows_tool("tracker_move_state"));
}
