//! The auth layer: the bearer token, the dashboard's cookie and `/login`, loopback-only
//! serving without a token, IAM mode, and the routes that are never wrapped. That the token
//! never reaches a log line is `core/tests/auth_logging.rs`, in a process of its own.

use super::*;
use crate::api::{login_router, require_auth, ApiAuth, AuthConfigError};
use axum::extract::ConnectInfo;
use axum::http::header;
use baton_core::secret::Secret;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "s3cr3t-t0ken-never-logged";

fn token_auth() -> ApiAuth {
    ApiAuth::token(Secret::new(TOKEN).expect("non-empty"))
}

/// The API behind `auth`, next to `/login`, a stand-in dashboard page and the ingress's
/// own routes, as `baton dev` assembles them.
fn protected(auth: ApiAuth) -> Router {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ingress = ingress_on(store, Arc::new(MemoryQueue::new()));
    let dashboard = Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html("<h1>dashboard</h1>") }),
    );
    let api = router(Arc::clone(&ingress), CursorKey::random()).merge(dashboard);
    ingress::router(ingress)
        .merge(require_auth(api, auth.clone()))
        .merge(login_router(auth))
}

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// Sends a request built by `build` from `peer` (`None`: no peer known, as on Lambda).
async fn call(
    app: &Router,
    peer: Option<IpAddr>,
    build: impl FnOnce(axum::http::request::Builder) -> axum::http::request::Builder,
    body: &str,
) -> Raw {
    let mut request = build(Request::builder())
        .body(Body::from(body.to_owned()))
        .expect("request");
    if let Some(ip) = peer {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 50_000)));
    }
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .expect("body");
    Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn get_state(builder: axum::http::request::Builder) -> axum::http::request::Builder {
    builder.uri("/api/v1/state")
}

fn assert_unauthorized(raw: &Raw) {
    assert_eq!(raw.status, StatusCode::UNAUTHORIZED, "{}", raw.body);
    assert_eq!(
        raw.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let body: Value = serde_json::from_str(&raw.body).expect("JSON");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
}

#[tokio::test]
async fn with_a_token_every_api_route_needs_the_bearer_token() {
    let app = protected(token_auth());
    let paths = [
        "/api/v1/state",
        "/api/v1/openapi.json",
        "/api/v1/metrics",
        "/api/v1/issues/github%3Aacme%2Fapp%231",
        "/api/v1/runs/00000000-0000-7000-8000-000000000001/events",
    ];
    for path in paths {
        // From loopback too: a configured token is always required.
        for peer in [Some(LOCAL), Some(REMOTE), None] {
            assert_unauthorized(&call(&app, peer, |b| b.uri(path), "").await);
            let wrong = call(
                &app,
                peer,
                |b| b.uri(path).header("authorization", "Bearer not-the-token"),
                "",
            )
            .await;
            assert_unauthorized(&wrong);
        }
    }
    for refused in [
        format!("Basic {TOKEN}"),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[1..]),
        TOKEN.to_owned(),
        "Bearer".to_owned(),
    ] {
        let raw = call(
            &app,
            Some(REMOTE),
            |b| get_state(b).header("authorization", refused.as_str()),
            "",
        )
        .await;
        assert_unauthorized(&raw);
    }
    // Actions too: nothing is done without the token.
    let post = call(
        &app,
        Some(REMOTE),
        |b| {
            b.method("POST")
                .uri("/api/v1/issues/github%3Aacme%2Fapp%231/cancel")
        },
        "",
    )
    .await;
    assert_unauthorized(&post);

    for accepted in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
        let raw = call(
            &app,
            Some(REMOTE),
            |b| get_state(b).header("authorization", accepted.as_str()),
            "",
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    }
    // Behind the check, the API's own errors are unchanged.
    let unknown = call(
        &app,
        None,
        |b| {
            b.uri("/api/v1/issues/github%3Aacme%2Fapp%2399")
                .header("authorization", format!("Bearer {TOKEN}"))
        },
        "",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

#[tokio::test]
async fn login_sets_an_http_only_strict_cookie_that_admits_the_browser() {
    let app = protected(token_auth());
    let form = call(&app, Some(REMOTE), |b| b.uri("/login"), "").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<form method=\"post\""), "{}", form.body);
    assert!(form.body.contains("name=\"token\""), "{}", form.body);

    let post = |token: &str, https: bool| {
        let body = format!("token={}", utf8_percent_encode(token, NON_ALPHANUMERIC));
        let app = app.clone();
        async move {
            call(
                &app,
                Some(REMOTE),
                |b| {
                    let b = b
                        .method("POST")
                        .uri("/login")
                        .header("content-type", "application/x-www-form-urlencoded");
                    if https {
                        b.header("x-forwarded-proto", "https")
                    } else {
                        b
                    }
                },
                &body,
            )
            .await
        }
    };
    let wrong = post("guess", false).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    assert!(wrong.body.contains("not the API token"), "{}", wrong.body);

    let signed_in = post(TOKEN, false).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(
        signed_in
            .headers
            .get(header::LOCATION)
            .map(|v| v.as_bytes()),
        Some(&b"/"[..])
    );
    let set_cookie = signed_in
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    let attributes: Vec<&str> = set_cookie.split("; ").collect();
    assert!(attributes[0].starts_with("baton_token="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attribute), "{set_cookie}");
    }
    assert!(!attributes.contains(&"Secure"), "plain HTTP: {set_cookie}");
    assert!(
        !set_cookie.contains(TOKEN),
        "the cookie is not the token itself"
    );
    let session = attributes[0].to_owned();

    for path in ["/api/v1/state", "/"] {
        let raw = call(
            &app,
            Some(REMOTE),
            |b| {
                b.uri(path)
                    .header("cookie", format!("theme=dark; {session}"))
            },
            "",
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK, "{path}: {}", raw.body);
    }
    let forged = call(
        &app,
        Some(REMOTE),
        |b| get_state(b).header("cookie", format!("baton_token={TOKEN}")),
        "",
    )
    .await;
    assert_unauthorized(&forged);

    let https = post(TOKEN, true).await;
    let cookie = https
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
}

#[tokio::test]
async fn a_browser_without_a_session_is_sent_to_the_login_form() {
    let app = protected(token_auth());
    let page = call(
        &app,
        Some(REMOTE),
        |b| b.uri("/").header("accept", "text/html,*/*"),
        "",
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers.get(header::LOCATION).map(|v| v.as_bytes()),
        Some(&b"/login"[..])
    );
    // API clients get the 401, whatever they accept.
    let api = call(
        &app,
        Some(REMOTE),
        |b| get_state(b).header("accept", "text/html"),
        "",
    )
    .await;
    assert_unauthorized(&api);
}

#[tokio::test]
async fn without_a_token_only_loopback_peers_are_served() {
    let app = protected(ApiAuth::LoopbackOnly);
    for peer in [
        LOCAL,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        // An IPv4 client on a dual-stack socket.
        IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
    ] {
        let raw = call(&app, Some(peer), get_state, "").await;
        assert_eq!(raw.status, StatusCode::OK, "{peer}: {}", raw.body);
    }
    for peer in [
        Some(REMOTE),
        Some(IpAddr::V6("2001:db8::1".parse().expect("ip"))),
        None,
    ] {
        let raw = call(&app, peer, get_state, "").await;
        assert_unauthorized(&raw);
        assert!(raw.body.contains("BATON_API_TOKEN"), "{}", raw.body);
    }
    // A page whose name was re-pointed at 127.0.0.1 (DNS rebinding) still names itself.
    for host in ["evil.example:3000", "evil.example", "10.0.0.8:3000"] {
        let raw = call(
            &app,
            Some(LOCAL),
            |b| get_state(b).header(header::HOST, host),
            "",
        )
        .await;
        assert_unauthorized(&raw);
    }
    for host in [
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
        "LOCALHOST",
    ] {
        let raw = call(
            &app,
            Some(LOCAL),
            |b| get_state(b).header(header::HOST, host),
            "",
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK, "{host}: {}", raw.body);
    }
    // A bearer token means nothing when none is configured.
    let raw = call(
        &app,
        Some(REMOTE),
        |b| get_state(b).header("authorization", format!("Bearer {TOKEN}")),
        "",
    )
    .await;
    assert_unauthorized(&raw);
}

#[tokio::test]
async fn a_web_page_of_another_origin_cannot_act_on_a_loopback_server() {
    let app = protected(ApiAuth::LoopbackOnly);
    let cancel = |origin: Option<&'static str>| {
        move |b: axum::http::request::Builder| {
            let b = b
                .method("POST")
                .uri("/api/v1/issues/github%3Aacme%2Fapp%231/cancel")
                .header(header::HOST, "127.0.0.1:3000");
            match origin {
                Some(origin) => b.header(header::ORIGIN, origin),
                None => b,
            }
        }
    };
    for origin in ["https://evil.example", "http://127.0.0.1:4000", "null"] {
        let raw = call(&app, Some(LOCAL), cancel(Some(origin)), "").await;
        assert_eq!(raw.status, StatusCode::FORBIDDEN, "{origin}: {}", raw.body);
        assert!(raw.body.contains("cross_origin"), "{}", raw.body);
    }
    // The CLI sends no Origin, the dashboard's own origin matches: both reach the handler
    // (which answers that no such item exists).
    for origin in [None, Some("http://127.0.0.1:3000")] {
        let raw = call(&app, Some(LOCAL), cancel(origin), "").await;
        assert_eq!(
            raw.status,
            StatusCode::NOT_FOUND,
            "{origin:?}: {}",
            raw.body
        );
    }
    // Reads are not writes: another origin's page cannot read the answer anyway (no CORS).
    let raw = call(
        &app,
        Some(LOCAL),
        |b| get_state(b).header(header::ORIGIN, "https://evil.example"),
        "",
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
}

#[tokio::test]
async fn iam_mode_trusts_what_reached_the_function() {
    let app = protected(ApiAuth::Iam);
    for peer in [Some(REMOTE), None] {
        let raw = call(&app, peer, get_state, "").await;
        assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    }
}

#[tokio::test]
async fn webhooks_and_healthz_are_never_behind_the_check() {
    for auth in [token_auth(), ApiAuth::LoopbackOnly] {
        let app = protected(auth);
        let health = call(&app, Some(REMOTE), |b| b.uri("/healthz"), "").await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.body);
        // The ingress answers (its own signature check), not the API's auth.
        let hook = call(
            &app,
            Some(REMOTE),
            |b| {
                b.method("POST")
                    .uri("/webhooks/github")
                    .header("x-github-event", "issues")
            },
            "{}",
        )
        .await;
        let body: Value = serde_json::from_str(&hook.body).expect("JSON");
        assert_ne!(body["error"]["code"], "unauthorized", "{body}");
        assert_eq!(hook.status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "invalid_signature", "{body}");
        // Unknown paths stay 404.
        let unknown = call(&app, Some(REMOTE), |b| b.uri("/nope"), "").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_real_loopback_connection_is_admitted_when_the_peer_is_known() {
    let app = protected(ApiAuth::LoopbackOnly);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /api/v1/state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    server.abort();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"counts\""), "{response}");
}

#[test]
fn the_mode_comes_from_the_environment() {
    let lookup = |mode: Option<&'static str>, token: Option<&'static str>| {
        move |name: &str| match name {
            "BATON_API_AUTH" => mode.map(str::to_owned),
            "BATON_API_TOKEN" => token.map(str::to_owned),
            _ => None,
        }
    };
    let mode = |m, t| ApiAuth::from_lookup(lookup(m, t)).map(|auth| auth.describe());
    assert_eq!(mode(None, Some(TOKEN)).ok(), Some("bearer token"));
    assert_eq!(mode(Some("token"), Some(TOKEN)).ok(), Some("bearer token"));
    assert_eq!(
        mode(None, None).ok(),
        Some("loopback peers only (no BATON_API_TOKEN)")
    );
    assert_eq!(
        mode(None, Some("")).ok(),
        mode(None, None).ok(),
        "empty counts as unset"
    );
    assert_eq!(
        mode(Some("iam"), None).ok(),
        Some("IAM (trusting the Function URL)")
    );
    let refused: Result<_, AuthConfigError> = mode(Some("none"), Some(TOKEN));
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("`none`"), "{message}");
    assert!(!format!("{:?}", token_auth()).contains(TOKEN));
}
