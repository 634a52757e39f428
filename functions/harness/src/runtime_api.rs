//! A stand-in for the Lambda Runtime API (the `2018-06-01` interface a `provided.al2023`
//! bootstrap polls): it hands each queued event to `GET …/invocation/next` with the headers
//! Lambda sends, and takes the function's answer from `POST …/invocation/{id}/response` or
//! `…/{id}/error` (and an `…/init/error` of a function that failed to start).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long an invocation may take before the test fails (a function's own timeout is 10 to
/// 60 s; a debug build on a loaded machine gets the longest).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `…/response`: the handler's result.
    Response { body: Value, at: Instant },
    /// `…/error`: the error document and `Lambda-Runtime-Function-Error-Type`.
    Error {
        body: Value,
        error_type: Option<String>,
        at: Instant,
    },
}

impl Outcome {
    pub fn at(&self) -> Instant {
        match self {
            Outcome::Response { at, .. } | Outcome::Error { at, .. } => *at,
        }
    }
}

struct Shared {
    /// Events not yet handed out, with their request ids; one runtime client takes them.
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Vec<u8>)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
}

/// The stand-in, served on a free loopback port until dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    events: mpsc::UnboundedSender<(String, Vec<u8>)>,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            next: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("runtime API server");
        });
        Self {
            address,
            events,
            shared,
            server,
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Queues `event` and waits for the function's answer to it.
    pub async fn invoke(&self, event: &Value) -> Outcome {
        self.invoke_raw(event.to_string().into_bytes()).await
    }

    /// Queues a payload as it is (it need not be JSON) and waits for the answer.
    pub async fn invoke_raw(&self, payload: Vec<u8>) -> Outcome {
        let id = uuid::Uuid::new_v4().to_string();
        let (sender, receiver) = oneshot::channel();
        lock(&self.shared.waiting).insert(id.clone(), sender);
        self.events
            .send((id, payload))
            .expect("the stand-in is serving");
        match tokio::time::timeout(INVOCATION_TIMEOUT, receiver).await {
            Ok(Ok(outcome)) => outcome,
            _ => panic!(
                "no answer within {INVOCATION_TIMEOUT:?}; init error: {:?}",
                lock(&self.shared.init_error)
            ),
        }
    }

    /// What the function posted to `…/init/error`, if it failed to start.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.shared.init_error).clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    // Long poll, as Lambda's: the runtime client waits here between invocations.
    let Some((id, payload)) = shared.next.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(INVOCATION_TIMEOUT)
        .as_millis();
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:baton-test".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-00000000-{};Sampled=0",
                id.replace('-', "").chars().take(24).collect::<String>()
            ),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, payload).into_response()
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn settle(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&shared.waiting).remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        // An answer to no invocation, or a second one: Lambda refuses it too.
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    settle(
        &shared,
        &id,
        Outcome::Response {
            body: parse(&body),
            at,
        },
    )
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    settle(
        &shared,
        &id,
        Outcome::Error {
            body: parse(&body),
            error_type,
            at,
        },
    )
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(parse(&body));
    StatusCode::ACCEPTED
}
