//! `GET /login` shows a one-field form for the API token; `POST /login` checks it and sets the
//! dashboard's session cookie (HttpOnly, SameSite=Strict), then sends the browser to `/`.
//! Served without the auth check, next to the protected routes.

use super::auth::{ApiAuth, SESSION_COOKIE};
use super::LOGIN_PATH;
use crate::http_error::method_not_allowed;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// `GET /login` and `POST /login`, without a fallback (merge it next to the other routers).
pub fn login_router(auth: ApiAuth) -> Router {
    Router::new()
        .route(
            LOGIN_PATH,
            get(show_form).post(sign_in).fallback(method_not_allowed),
        )
        .with_state(auth)
}

fn page(status: StatusCode, notice: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>baton: sign in</title></head>\n<body>\n<h1>baton</h1>\n{notice}\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\n\
         <label for=\"token\">API token</label>\n\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</body></html>\n"
    );
    (status, Html(body)).into_response()
}

async fn show_form(State(auth): State<ApiAuth>) -> Response {
    match auth {
        ApiAuth::Token(_) => page(StatusCode::OK, ""),
        ApiAuth::LoopbackOnly | ApiAuth::Iam => page(
            StatusCode::OK,
            "<p>No API token is configured, so there is nothing to sign in with.</p>\n",
        ),
    }
}

async fn sign_in(State(auth): State<ApiAuth>, headers: HeaderMap, body: Bytes) -> Response {
    let ApiAuth::Token(check) = auth else {
        return Redirect::to("/").into_response();
    };
    let token = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !check.is_token(&token) {
        tracing::info!("dashboard sign-in refused: wrong token");
        return page(
            StatusCode::UNAUTHORIZED,
            "<p role=\"alert\">That is not the API token.</p>\n",
        );
    }
    // `Secure` when the browser reached us over HTTPS (a Function URL, or a proxy that says
    // so); a plain-HTTP `baton dev` on localhost would never send a Secure cookie back.
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|proto| proto.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
        check.cookie(),
        if https { "; Secure" } else { "" }
    );
    let mut response = Redirect::to("/").into_response();
    // The value is hex and fixed text: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
