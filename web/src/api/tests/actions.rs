//! `POST /api/v1/issues/{key}/retry`, `.../cancel` and `POST /api/v1/deliveries/{id}/replay`:
//! their answers and what they leave in the store and on the queue.

use super::*;
use baton_core::contract::store::sample_event;
use baton_core::domain::Job;
use baton_core::ports::Queue;

struct Fixture {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    ingress: Arc<Ingress>,
    app: Router,
}

fn fixture(store: Arc<MemoryStore>) -> Fixture {
    let queue = Arc::new(MemoryQueue::new());
    let ingress = ingress_on(store.clone(), queue.clone());
    let app = router(Arc::clone(&ingress), CursorKey::random());
    Fixture {
        store,
        queue,
        ingress,
        app,
    }
}

impl Fixture {
    /// Every job on the queue now.
    async fn jobs(&self) -> Vec<Job> {
        let received = self
            .queue
            .receive(10, Duration::ZERO, Duration::from_secs(60))
            .await
            .expect("receive");
        received
            .into_iter()
            .map(|message| message.job.expect("a valid job"))
            .collect()
    }

    async fn item(&self, key: &WorkItemKey) -> WorkItem {
        self.store
            .get_work_item(key)
            .await
            .expect("get")
            .expect("the item exists")
    }

    async fn post(&self, uri: &str) -> Answer {
        send(&self.app, Method::POST, uri).await
    }
}

fn action(key: &WorkItemKey, verb: &str) -> String {
    format!("/api/v1/issues/{}/{verb}", encoded(key))
}

#[tokio::test]
async fn retry_queues_a_manual_run_for_ended_and_retrying_items() {
    let f = fixture(seeded().await);
    // Succeeded, failed, cancelled, dead-lettered, and retrying (its backoff is skipped).
    for n in [5, 6, 7, 8, 4] {
        let key = github(&format!("acme/app#{n}"));
        let before = f.item(&key).await;
        let answer = f.post(&action(&key, "retry")).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{key}: {}",
            answer.body
        );
        assert_eq!(
            keys(&answer.body),
            set(&["work_item", "job_id", "status"]),
            "{}",
            answer.body
        );
        assert_eq!(answer.body["status"], "queued");
        assert_eq!(answer.body["work_item"], key.as_str());
        let job_id = answer.body["job_id"].as_str().expect("job id").to_owned();
        assert!(uuid::Uuid::parse_str(&job_id).is_ok(), "{job_id}");

        let after = f.item(&key).await;
        assert_eq!(after.status, WorkItemStatus::Queued, "{key}");
        assert_eq!(after.attempt, 1, "a new request starts at attempt 1");
        assert_eq!(after.next_retry_at, None, "{key}: the backoff is skipped");
        assert_eq!(
            after.pending_job.as_ref().map(JobId::as_str),
            Some(&*job_id)
        );
        assert_eq!(after.version, before.version + 1);
        assert_eq!(after.issue, before.issue, "the tracker's view is kept");

        let jobs = f.jobs().await;
        assert_eq!(jobs.len(), 1, "{key}: {jobs:?}");
        assert_eq!(jobs[0].job_id.as_str(), job_id);
        assert_eq!(jobs[0].work_item, key);
        assert_eq!(jobs[0].reason, JobReason::Manual);
        assert_eq!(jobs[0].attempt, 1);
        assert_eq!(jobs[0].delivery_id, None, "no webhook asked for it");
    }
}

#[tokio::test]
async fn retry_while_queued_running_or_awaiting_approval_is_409_and_changes_nothing() {
    let store = seeded().await;
    put(
        &store,
        item(github("acme/app#9"), WorkItemStatus::AwaitingApproval, 1, 9),
    )
    .await;
    let f = fixture(store);
    for n in [1, 3, 9] {
        let key = github(&format!("acme/app#{n}"));
        let before = f.item(&key).await;
        let answer = f.post(&action(&key, "retry")).await;
        let message = assert_error(&answer, StatusCode::CONFLICT, "conflict");
        assert!(message.contains(before.status.as_str()), "{message}");
        assert_eq!(f.item(&key).await, before, "{key}");
    }
    assert!(f.jobs().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn cancel_stops_live_items_and_refuses_ended_ones() {
    let f = fixture(seeded().await);
    // Queued and retrying: cancelled at once. Running: the runner stops it.
    for (n, status) in [
        (1, WorkItemStatus::Cancelled),
        (4, WorkItemStatus::Cancelled),
        (3, WorkItemStatus::Running),
    ] {
        let key = github(&format!("acme/app#{n}"));
        let answer = f.post(&action(&key, "cancel")).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{key}: {}",
            answer.body
        );
        assert_eq!(
            answer.body,
            json!({ "status": "cancel_requested", "work_item": key.as_str() })
        );
        let after = f.item(&key).await;
        assert_eq!(after.status, status, "{key}");
        assert!(after.cancel_requested, "{key}");
        assert_eq!(after.pending_job, None, "{key}");
    }
    for n in [5, 6, 7, 8, 1] {
        let key = github(&format!("acme/app#{n}"));
        let before = f.item(&key).await;
        let answer = f.post(&action(&key, "cancel")).await;
        let message = assert_error(&answer, StatusCode::CONFLICT, "conflict");
        assert!(message.contains("nothing to cancel"), "{message}");
        assert_eq!(f.item(&key).await, before, "{key}");
    }
    assert!(f.jobs().await.is_empty());
}

#[tokio::test]
async fn actions_on_unknown_or_malformed_keys_are_404_and_400() {
    let f = fixture(seeded().await);
    for verb in ["retry", "cancel"] {
        let unknown = f.post(&action(&github("acme/app#404"), verb)).await;
        assert_error(&unknown, StatusCode::NOT_FOUND, "issue_not_found");
        for key in ["nosource", "bitbucket%3Aacme%2Fapp%231", "github%3A"] {
            let answer = f.post(&format!("/api/v1/issues/{key}/{verb}")).await;
            assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_key");
        }
        let wrong = send(&f.app, Method::GET, &action(&github("acme/app#1"), verb)).await;
        assert_error(&wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    assert!(
        f.store
            .get_work_item(&github("acme/app#404"))
            .await
            .expect("get")
            .is_none(),
        "no item was created"
    );
}

#[tokio::test]
async fn replay_routes_the_stored_event_again_bypassing_deduplication() {
    let f = fixture(Arc::new(MemoryStore::new()));
    let event = sample_event();
    let key = WorkItemKey::new(event.source, &event.issue.identifier);
    let first = f
        .ingress
        .accept_event(&event, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .await
        .expect("the event is accepted");
    let baton_core::ingress::Accepted::Queued {
        job_id: first_job, ..
    } = first
    else {
        panic!("the sample event should queue a run: {first:?}");
    };
    assert_eq!(f.jobs().await.len(), 1);
    // The same delivery again is a duplicate: deduplication is on.
    let again = f
        .ingress
        .accept_event(&event, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .await
        .expect("accepted");
    assert_eq!(again, baton_core::ingress::Accepted::Duplicate);

    let uri = "/api/v1/deliveries/github%3A72d3162e-cc78-11e3-81ab-4c9367dc0958/replay";
    let answer = f.post(uri).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["status"], "queued");
    assert_eq!(answer.body["work_item"], key.as_str());
    let replayed_job = answer.body["job_id"].as_str().expect("job id");
    assert_ne!(replayed_job, first_job.as_str(), "a new job");

    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].job_id.as_str(), replayed_job);
    assert_eq!(jobs[0].reason, JobReason::Labeled, "the event's own reason");
    let fresh = jobs[0].delivery_id.clone().expect("a delivery id");
    assert!(fresh.starts_with("replay-"), "{fresh}");
    let item = f.item(&key).await;
    assert_eq!(
        item.pending_job.as_ref().map(JobId::as_str),
        Some(replayed_job)
    );
    assert_eq!(item.last_delivery.as_deref(), Some(fresh.as_str()));

    // The replay is a delivery of its own, replayable in turn.
    let replay_of_replay = format!("/api/v1/deliveries/github%3A{fresh}/replay");
    let answer = f.post(&replay_of_replay).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(f.jobs().await.len(), 1);
}

#[tokio::test]
async fn replay_of_unknown_or_malformed_deliveries_is_404_and_400() {
    let f = fixture(Arc::new(MemoryStore::new()));
    let answer = f
        .post("/api/v1/deliveries/github%3Anever-seen/replay")
        .await;
    let message = assert_error(&answer, StatusCode::NOT_FOUND, "delivery_not_found");
    assert!(message.contains("github:never-seen"), "{message}");
    for id in [
        "nosource",
        "bitbucket%3Aabc",
        "github%3A",
        "github%3A%07bell",
    ] {
        let answer = f.post(&format!("/api/v1/deliveries/{id}/replay")).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_delivery_id");
    }
    let wrong = send(
        &f.app,
        Method::GET,
        "/api/v1/deliveries/github%3Anever-seen/replay",
    )
    .await;
    assert_error(&wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(f.jobs().await.is_empty());
}

#[tokio::test]
async fn actions_that_fail_in_the_store_are_503() {
    let inner = seeded().await;
    for (fails, uri) in [
        ("get_work_item", action(&github("acme/app#6"), "retry")),
        ("put_work_item", action(&github("acme/app#6"), "retry")),
        ("put_work_item", action(&github("acme/app#1"), "cancel")),
        (
            "get_delivery",
            "/api/v1/deliveries/github%3Aabc/replay".to_owned(),
        ),
    ] {
        let store = Arc::new(FailingStore {
            inner: inner.clone(),
            fails,
        });
        let answer = send(&router_on(store), Method::POST, &uri).await;
        let message = assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        );
        assert!(!message.contains(BACKEND_DETAIL), "{fails}: {message}");
    }
    // Nothing changed: the failed item is still failed.
    let item = inner
        .get_work_item(&github("acme/app#6"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(item.status, WorkItemStatus::Failed);
}
