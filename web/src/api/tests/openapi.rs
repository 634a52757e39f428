//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document that names every route the router
//! serves, with exactly the methods it serves.

use super::*;
use crate::api::{routes, WORKFLOWS_PATH};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// A path template with its parameters filled in with values of the right shape.
fn concrete(template: &str) -> String {
    template
        .replace("{key}", "github%3Aacme%2Fapp%2312")
        .replace("{id}/replay", "github%3Aabc/replay")
        .replace("{id}", "00000000-0000-7000-8000-000000000001")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_every_route() {
    let app = api(seeded().await);
    let answer = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let doc = &answer.body;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let mut served: BTreeSet<&str> = routes().paths.into_iter().collect();
    served.insert(WORKFLOWS_PATH);
    assert_eq!(documented, served, "the document and the router disagree");

    // Each documented operation is served; every other method is 405 on that path.
    for (path, operations) in paths {
        if path == WORKFLOWS_PATH {
            continue; // A router of its own, tested with the workflows.
        }
        let uri = concrete(path);
        for method in METHODS {
            let answer = send(&app, method.to_uppercase().parse().expect("method"), &uri).await;
            if operations.get(method).is_some() {
                assert_ne!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri}"
                );
                assert_ne!(answer.body["error"]["code"], "not_found", "{method} {uri}");
                let responses = operations[method]["responses"]
                    .as_object()
                    .expect("responses");
                assert!(
                    responses.contains_key(answer.status.as_str()),
                    "{method} {uri} answered {}, which the document does not list",
                    answer.status
                );
            } else {
                assert_error(
                    &answer,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                );
            }
        }
    }
}

#[tokio::test]
async fn the_documented_schemas_match_the_answers() {
    let app = api(seeded().await);
    let doc = get(&app, "/api/v1/openapi.json").await.body;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let properties = |name: &str| -> BTreeSet<String> {
        schemas[name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no properties"))
            .keys()
            .cloned()
            .collect()
    };
    let state = get(&app, "/api/v1/state").await.body;
    let answered: BTreeSet<String> = keys(&state).into_iter().map(str::to_owned).collect();
    assert_eq!(properties("StateResponse"), answered);
    let counts: BTreeSet<String> = keys(&state["counts"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(properties("Counts"), counts);
    for name in [
        "RunView",
        "EventsResponse",
        "RunResponse",
        "ActionResponse",
        "ErrorEnvelope",
        "AccountView",
    ] {
        assert!(schemas.contains_key(name), "{name} is documented");
    }
    // A type alias must not become a component named after its container.
    assert!(!schemas.contains_key("BTreeMap"), "{:?}", schemas.keys());
    assert!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer",
        "{}",
        doc["components"]
    );
}

/// The domain types carry no schema; their mirrors in `api::schemas` do. A mirror must
/// serialise exactly as its domain type, with every optional field set and with none.
fn serialises_as_its_mirror<D, M>(value: D)
where
    D: serde::Serialize + Clone,
    M: From<D> + serde::Serialize,
{
    let domain = serde_json::to_value(value.clone()).expect("domain value");
    let mirror = serde_json::to_value(M::from(value)).expect("mirror value");
    assert_eq!(mirror, domain, "{}", std::any::type_name::<M>());
}

#[test]
fn each_schema_mirror_serialises_as_its_domain_type() {
    use crate::api::schemas::*;
    use baton_core::domain::{JobId, RunError, RunEvent, RunId};
    use baton_core::ports::{BudgetSpend, BudgetTotals, QuotaSignals, QuotaWindow};

    let run_id = RunId::generate();
    serialises_as_its_mirror::<_, RunIdSchema>(run_id.clone());
    serialises_as_its_mirror::<_, JobIdSchema>(JobId::generate());
    serialises_as_its_mirror::<_, WorkItemKeySchema>(github("acme/app#12"));
    serialises_as_its_mirror::<_, TokenTotalsSchema>(TokenTotals {
        input_tokens: 1,
        output_tokens: 2,
        total_tokens: 3,
    });
    serialises_as_its_mirror::<_, RunErrorSchema>(RunError {
        code: "turn_failed".into(),
        message: "the agent stopped".into(),
    });
    serialises_as_its_mirror::<_, RunEventSchema>(RunEvent {
        run_id,
        seq: 7,
        at: now(),
        kind: "command".into(),
        data: json!({"command": "cargo test", "exit_code": 0}),
    });
    let spend = BudgetSpend {
        tokens: 10,
        cost_micro_usd: 20,
    };
    serialises_as_its_mirror::<_, BudgetSpendSchema>(spend);
    serialises_as_its_mirror::<_, BudgetTotalsSchema>(BudgetTotals {
        item: spend,
        day: BudgetSpend::default(),
    });
    let full_window = QuotaWindow {
        name: "primary".into(),
        used_percent: Some(42.5),
        window_minutes: Some(300),
        resets_at: Some(now()),
    };
    let bare_window = QuotaWindow {
        name: "secondary".into(),
        ..QuotaWindow::default()
    };
    serialises_as_its_mirror::<_, QuotaWindowSchema>(full_window.clone());
    serialises_as_its_mirror::<_, QuotaWindowSchema>(bare_window.clone());
    serialises_as_its_mirror::<_, QuotaSignalsSchema>(QuotaSignals {
        observed_at: now(),
        windows: vec![full_window, bare_window],
        error: Some("rate limited".into()),
    });
    serialises_as_its_mirror::<_, QuotaSignalsSchema>(QuotaSignals::default());
}

/// Every value an enum schema documents is one the domain type reads and writes back, and
/// its mirror writes the same: a renamed or removed variant fails here.
#[tokio::test]
async fn each_documented_enum_value_is_a_domain_value() {
    use crate::api::schemas::{JobReasonSchema, RunStatusSchema, WorkItemStatusSchema};
    use baton_core::domain::{JobReason, RunStatus};

    fn round_trips<D, M>(doc: &Value, name: &str)
    where
        D: serde::de::DeserializeOwned + serde::Serialize + Clone,
        M: From<D> + serde::Serialize,
    {
        let values = doc["components"]["schemas"][name]["enum"]
            .as_array()
            .filter(|values| !values.is_empty())
            .unwrap_or_else(|| panic!("{name} is documented as an enum"));
        for value in values {
            let domain: D = serde_json::from_value(value.clone()).unwrap_or_else(|e| {
                panic!("{name} documents {value}, which it does not read: {e}")
            });
            assert_eq!(
                &serde_json::to_value(domain.clone()).expect("domain"),
                value
            );
            assert_eq!(
                &serde_json::to_value(M::from(domain)).expect("mirror"),
                value
            );
        }
    }

    let app = api(seeded().await);
    let doc = get(&app, "/api/v1/openapi.json").await.body;
    // The mirrors' `From` matches are exhaustive, so a domain variant the document lacks
    // does not compile, and one the domain lacks fails above.
    round_trips::<RunStatus, RunStatusSchema>(&doc, "RunStatus");
    round_trips::<WorkItemStatus, WorkItemStatusSchema>(&doc, "WorkItemStatus");
    round_trips::<JobReason, JobReasonSchema>(&doc, "JobReason");
}
