//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the
//! handlers' `#[utoipa::path]` annotations and the response types' `ToSchema` derives, so it
//! cannot drift from the code (a test checks that it names every route).

use super::{actions, events, issue, metrics, run, state, workflows};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's path.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "baton status API",
        description = "What baton is working on, what each run did, and the actions a person can take: retry, cancel, replay. \
            Errors are `{\"error\":{\"code\",\"message\"}}`; an unknown route is 404 `not_found`, a known route with another method 405 `method_not_allowed`."
    ),
    paths(
        state::get_state,
        issue::get_issue,
        run::get_run,
        events::list_run_events,
        actions::retry_issue,
        actions::cancel_issue,
        actions::replay_delivery,
        workflows::list_workflows,
        metrics::get_metrics,
        get_openapi,
    ),
    modifiers(&BearerToken),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the document's `security` names.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document itself.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn get_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
