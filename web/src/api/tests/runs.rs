//! `GET /api/v1/runs/{id}` and `GET /api/v1/runs/{id}/events`.

use super::*;
use crate::api::MAX_EVENTS_LIMIT;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Appends events `from..=to` to a run's timeline and its count.
async fn append(store: &MemoryStore, run_id: &RunId, from: u32, to: u32) {
    let events: Vec<RunEvent> = (from..=to)
        .map(|seq| RunEvent {
            run_id: run_id.clone(),
            seq,
            at: Utc::now(),
            kind: "message".into(),
            data: json!({ "text": format!("event {seq}") }),
        })
        .collect();
    store.append_events(&events, RETAIN).await.expect("append");
}

/// A run of `acme/app#12` with `events` events, in `status`.
async fn stored_run(store: &MemoryStore, n: u32, status: RunStatus, events: u32) -> RunId {
    let key = github("acme/app#12");
    let id = run_id(n);
    let mut stored = run(&key, id.clone(), 1, status);
    stored.events = events;
    store.put_run(&stored, None).await.expect("put run");
    if events > 0 {
        append(store, &id, 1, events).await;
    }
    id
}

fn events_uri(run: &RunId, query: &str) -> String {
    format!("/api/v1/runs/{run}/events{query}")
}

fn seqs(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {page}"))
        .iter()
        .map(|event| event["seq"].as_u64().unwrap_or(0))
        .collect()
}

fn cursor(page: &Value) -> Option<String> {
    page["next_cursor"].as_str().map(str::to_owned)
}

/// The query string carrying `cursor` (base64url needs no encoding, but a client would).
fn with_cursor(cursor: &str, limit: Option<usize>) -> String {
    let encoded = utf8_percent_encode(cursor, NON_ALPHANUMERIC);
    match limit {
        Some(limit) => format!("?cursor={encoded}&limit={limit}"),
        None => format!("?cursor={encoded}"),
    }
}

#[tokio::test]
async fn a_run_is_found_by_id_without_its_timeline() {
    let store = Arc::new(MemoryStore::new());
    let id = stored_run(&store, 1, RunStatus::Succeeded, 3).await;
    let quiet = stored_run(&store, 2, RunStatus::Running, 0).await;
    let app = api(store);

    let answer = get(&app, &format!("/api/v1/runs/{id}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(keys(&answer.body), set(&["work_item", "run"]));
    assert_eq!(answer.body["work_item"], "github:acme/app#12");
    let run = &answer.body["run"];
    assert_eq!(run["run_id"], id.as_str());
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["reason"], "labeled");
    assert_eq!(run["event_count"], 3);
    assert_eq!(run["events"], json!([]));
    assert_eq!(run["events_truncated"], true, "the timeline is elsewhere");

    let answer = get(&app, &format!("/api/v1/runs/{quiet}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["run"]["events_truncated"], false);
}

#[tokio::test]
async fn unknown_and_malformed_run_ids_are_404_and_400() {
    let app = api(Arc::new(MemoryStore::new()));
    let unknown = run_id(77);
    for uri in [
        format!("/api/v1/runs/{unknown}"),
        format!("/api/v1/runs/{unknown}/events"),
    ] {
        let message = assert_error(
            &get(&app, &uri).await,
            StatusCode::NOT_FOUND,
            "run_not_found",
        );
        assert!(message.contains(unknown.as_str()), "{message}");
    }
    for id in [
        "not-a-uuid",
        "12",
        "00000000-0000-7000-8000-00000000000g",
        "%FF",
    ] {
        for uri in [
            format!("/api/v1/runs/{id}"),
            format!("/api/v1/runs/{id}/events"),
        ] {
            assert_error(
                &get(&app, &uri).await,
                StatusCode::BAD_REQUEST,
                "invalid_run_id",
            );
        }
    }
}

#[tokio::test]
async fn paging_walks_a_long_ended_timeline_in_order_and_stops() {
    let store = Arc::new(MemoryStore::new());
    let total = 1234;
    let id = stored_run(&store, 1, RunStatus::Succeeded, total).await;
    let app = api(store);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut query = "?limit=100".to_owned();
    loop {
        let answer = get(&app, &events_uri(&id, &query)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            keys(&answer.body),
            set(&["run_id", "events", "next_cursor"])
        );
        assert_eq!(answer.body["run_id"], id.as_str());
        let page = seqs(&answer.body);
        assert!(page.len() <= 100, "page of {}", page.len());
        seen.extend(page);
        pages += 1;
        assert!(pages <= 20, "the walk does not end");
        match cursor(&answer.body) {
            Some(next) => query = with_cursor(&next, Some(100)),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=u64::from(total)).collect();
    assert_eq!(seen, expected, "every event once, oldest first");
    assert_eq!(pages, 13);
}

#[tokio::test]
async fn limit_defaults_to_100_and_is_bounded() {
    let store = Arc::new(MemoryStore::new());
    let id = stored_run(&store, 1, RunStatus::Succeeded, 600).await;
    let app = api(store);

    let first = get(&app, &events_uri(&id, "")).await;
    assert_eq!(seqs(&first.body).len(), 100);
    assert!(cursor(&first.body).is_some(), "more follow");
    let most = get(
        &app,
        &events_uri(&id, &format!("?limit={MAX_EVENTS_LIMIT}")),
    )
    .await;
    assert_eq!(seqs(&most.body).len(), MAX_EVENTS_LIMIT);

    for limit in ["501", "0", "-1", "ten", "", "1e3"] {
        let answer = get(&app, &events_uri(&id, &format!("?limit={limit}"))).await;
        let message = assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_limit");
        assert!(message.contains("500"), "{message}");
    }
}

#[tokio::test]
async fn a_live_run_keeps_a_cursor_that_picks_up_new_events() {
    let store = Arc::new(MemoryStore::new());
    let id = stored_run(&store, 1, RunStatus::Running, 2).await;
    let app = api(store.clone());

    let answer = get(&app, &events_uri(&id, "")).await;
    assert_eq!(seqs(&answer.body), vec![1, 2]);
    let after_two = cursor(&answer.body).expect("a running run keeps a cursor");

    // Nothing new yet: an empty page, and still a cursor to poll with.
    let answer = get(&app, &events_uri(&id, &with_cursor(&after_two, None))).await;
    assert_eq!(seqs(&answer.body), Vec::<u64>::new());
    let still = cursor(&answer.body).expect("the cursor survives an empty page");

    append(&store, &id, 3, 5).await;
    let mut ended = run(&github("acme/app#12"), id.clone(), 1, RunStatus::Succeeded);
    ended.events = 5;
    ended.version = 2;
    store.put_run(&ended, Some(1)).await.expect("end the run");

    let answer = get(&app, &events_uri(&id, &with_cursor(&still, None))).await;
    assert_eq!(seqs(&answer.body), vec![3, 4, 5]);
    assert_eq!(
        answer.body["next_cursor"],
        Value::Null,
        "ended, nothing more"
    );
}

#[tokio::test]
async fn tampered_foreign_and_other_run_cursors_are_400_invalid_cursor() {
    let store = Arc::new(MemoryStore::new());
    let id = stored_run(&store, 1, RunStatus::Succeeded, 30).await;
    let other = stored_run(&store, 2, RunStatus::Succeeded, 30).await;
    let app = api(store.clone());

    let page = get(&app, &events_uri(&id, "?limit=10")).await;
    let good = cursor(&page.body).expect("cursor");
    // The cursor works where it was issued.
    let next = get(&app, &events_uri(&id, &with_cursor(&good, Some(10)))).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_eq!(seqs(&next.body).first(), Some(&11));

    // Another run's timeline.
    let answer = get(&app, &events_uri(&other, &with_cursor(&good, None))).await;
    let message = assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_cursor");
    assert!(message.contains("another run"), "{message}");

    // The position rewritten, the tag kept.
    let mut bytes = URL_SAFE_NO_PAD.decode(&good).expect("base64url");
    assert_eq!(bytes[..3], *b"10.", "the payload starts with the seq");
    bytes[0] = b'2';
    let forged = URL_SAFE_NO_PAD.encode(&bytes);
    // A server with another key (a restart without BATON_CURSOR_KEY).
    let restarted = api(store);
    let foreign = get(&restarted, &events_uri(&id, &with_cursor(&good, None))).await;
    assert_error(&foreign, StatusCode::BAD_REQUEST, "invalid_cursor");

    for bad in [forged.as_str(), "garbage", "", &good[1..]] {
        let answer = get(&app, &events_uri(&id, &with_cursor(bad, None))).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_cursor");
    }
}

#[tokio::test]
async fn a_shared_cursor_key_lets_another_instance_resume() {
    let store = Arc::new(MemoryStore::new());
    let id = stored_run(&store, 1, RunStatus::Succeeded, 30).await;
    let instance = |store: Arc<MemoryStore>| {
        router(
            ingress_on(store, Arc::new(MemoryQueue::new())),
            CursorKey::from_secret(b"shared between instances"),
        )
    };
    let page = get(&instance(store.clone()), &events_uri(&id, "?limit=20")).await;
    let next = cursor(&page.body).expect("cursor");
    let answer = get(
        &instance(store),
        &events_uri(&id, &with_cursor(&next, None)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(seqs(&answer.body), (21..=30).collect::<Vec<u64>>());
}

#[tokio::test]
async fn run_reads_that_fail_in_the_store_are_503() {
    let inner = Arc::new(MemoryStore::new());
    let id = stored_run(&inner, 1, RunStatus::Succeeded, 3).await;
    for (fails, uri) in [
        ("get_run", format!("/api/v1/runs/{id}")),
        ("get_run", events_uri(&id, "")),
        ("list_events", events_uri(&id, "")),
    ] {
        let store = Arc::new(FailingStore {
            inner: inner.clone(),
            fails,
        });
        let answer = get(&router_on(store), &uri).await;
        let message = assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        );
        assert!(!message.contains(BACKEND_DETAIL), "{fails}: {message}");
    }
}
