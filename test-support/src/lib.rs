//! baton's test support, one place for every test crate: one fake per external API, in its
//! real shapes ([`fakes`]: GitHub, GitLab, Linear, Jira, TAPD, CNB; [`slack`]; [`model`], a
//! scripted model server for the real agent CLIs), and [`FakeApi`], the local HTTP server
//! that serves a fake, records every request and injects faults (rate limits, 5xx, malformed
//! bodies) in front of it. `baton-integrations` re-exports it as `test_support` under its
//! `contract-tests` feature.

pub mod agent_clis;
pub mod fakes;
pub mod model;
pub mod slack;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request the fake API received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Every header as `name: value`, lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer the fake sends instead of the real one, `times` times in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    /// The body to send; `None` sends a JSON error message.
    pub body: Option<String>,
    pub times: u32,
}

impl Fault {
    pub fn status(status: u16, times: u32) -> Self {
        Self {
            status,
            retry_after_secs: None,
            body: None,
            times,
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            status: 429,
            retry_after_secs: Some(retry_after_secs),
            body: None,
            times: 1,
        }
    }

    /// A 200 whose body is `body`: a record with missing fields, or not JSON at all.
    pub fn body(body: &str) -> Self {
        Self {
            status: 200,
            retry_after_secs: None,
            body: Some(body.to_owned()),
            times: 1,
        }
    }
}

#[derive(Debug, Default)]
struct Recorder {
    requests: Vec<RecordedRequest>,
    faults: VecDeque<Fault>,
}

/// A running fake API. Dropping it stops the server.
pub struct FakeApi {
    addr: SocketAddr,
    recorder: Arc<Mutex<Recorder>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeApi {
    /// Serves `app` (the fake's routes, in the real API's shapes) on a free loopback port.
    pub async fn spawn(app: Router) -> Self {
        let recorder = Arc::new(Mutex::new(Recorder::default()));
        let app = app.layer(middleware::from_fn_with_state(
            recorder.clone(),
            record_and_fault,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake API");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            recorder,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn inject(&self, fault: Fault) {
        self.recorder.lock().unwrap().faults.push_back(fault);
    }

    pub fn clear_faults(&self) {
        self.recorder.lock().unwrap().faults.clear();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.recorder.lock().unwrap().requests.clear();
    }
}

async fn record_and_fault(
    State(recorder): State<Arc<Mutex<Recorder>>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let fault = {
        let mut recorder = recorder.lock().unwrap();
        recorder.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            uri: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
        match recorder.faults.front_mut() {
            Some(fault) => {
                let current = fault.clone();
                fault.times = fault.times.saturating_sub(1);
                if fault.times == 0 {
                    recorder.faults.pop_front();
                }
                Some(current)
            }
            None => None,
        }
    };
    if let Some(fault) = fault {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = fault
            .body
            .unwrap_or_else(|| format!(r#"{{"message":"injected fault {}"}}"#, fault.status));
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        if let Some(secs) = fault.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
        }
        return response;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
