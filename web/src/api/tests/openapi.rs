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
    ] {
        assert!(schemas.contains_key(name), "{name} is documented");
    }
    assert!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer",
        "{}",
        doc["components"]
    );
}
