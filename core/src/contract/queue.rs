//! The `Queue` contract: SQS standard-queue behaviour, with its redrive policy.
//!
//! Each case needs an empty queue (and dead-letter queue) of its own.

use super::unique;
use crate::domain::{Job, JobId, JobReason, SourceKind, WorkItemKey, JOB_SCHEMA_VERSION};
use crate::ports::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
use chrono::Utc;
use std::future::Future;
use std::time::{Duration, Instant};

/// Expands to one `#[tokio::test]` per queue contract case.
///
/// `fresh` is evaluated inside each (async) test and must give a new, empty queue (a value
/// implementing `Queue`); `.await` may be used in it. `send_raw` is an async function
/// `(&Q, String)` that puts the body on that queue as is: the poison-message case needs it.
#[macro_export]
macro_rules! queue_contract_tests {
    (fresh = $fresh:expr, send_raw = $send_raw:expr $(,)?) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_send_receive_round_trip() {
            let queue = $fresh;
            $crate::contract::queue::send_receive_round_trip(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_long_poll_wakes_on_send() {
            let queue = $fresh;
            $crate::contract::queue::long_poll_wakes_on_send(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_receive_takes_at_most_max() {
            let queue = $fresh;
            $crate::contract::queue::receive_takes_at_most_max(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_visibility_hides_then_returns() {
            let queue = $fresh;
            $crate::contract::queue::visibility_hides_then_returns(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_delete_acknowledges() {
            let queue = $fresh;
            $crate::contract::queue::delete_acknowledges(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_change_visibility_extends_and_shortens() {
            let queue = $fresh;
            $crate::contract::queue::change_visibility_extends_and_shortens(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_unknown_receipts_are_invalid() {
            let queue = $fresh;
            $crate::contract::queue::unknown_receipts_are_invalid(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_dead_letters_after_max_receives() {
            let queue = $fresh;
            $crate::contract::queue::dead_letters_after_max_receives(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_delayed_send_waits_out_its_delay() {
            let queue = $fresh;
            $crate::contract::queue::delayed_send_waits_out_its_delay(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_dead_letter_skips_the_jobs_queue() {
            let queue = $fresh;
            $crate::contract::queue::dead_letter_skips_the_jobs_queue(&queue).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_unparseable_body_is_an_error() {
            let queue = $fresh;
            let send_raw = $send_raw;
            $crate::contract::queue::unparseable_body_is_an_error(&queue, |body| {
                send_raw(&queue, body)
            })
            .await;
        }
    };
}

/// A job for a fresh work item.
pub fn job() -> Job {
    Job {
        v: JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: WorkItemKey::new(SourceKind::Github, &format!("{}#7", unique("acme/app"))),
        reason: JobReason::Labeled,
        attempt: 2,
        queued_at: Utc::now(),
        delivery_id: Some(unique("delivery")),
        continuation: 0,
    }
}

const LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_secs(5);

async fn receive(
    queue: &dyn Queue,
    max: usize,
    wait: Duration,
    visibility: Duration,
) -> Vec<ReceivedJob> {
    queue
        .receive(max, wait, visibility)
        .await
        .unwrap_or_else(|e| panic!("receive failed: {e}"))
}

/// Long-polls until one message arrives.
async fn receive_one(queue: &dyn Queue, visibility: Duration) -> ReceivedJob {
    let mut got = receive(queue, 1, POLL, visibility).await;
    assert_eq!(got.len(), 1, "expected one message, got {got:?}");
    got.remove(0)
}

/// Asserts that nothing is visible for `wait`.
async fn assert_empty(queue: &dyn Queue, wait: Duration, why: &str) {
    let got = receive(queue, 10, wait, LONG).await;
    assert!(got.is_empty(), "{why}: expected no message, got {got:?}");
}

fn assert_invalid(result: Result<(), QueueError>, what: &str) {
    match result {
        Err(QueueError::InvalidReceipt(_)) => {}
        other => panic!("{what}: expected InvalidReceipt, got {other:?}"),
    }
}

fn parsed(received: &ReceivedJob) -> &Job {
    match &received.job {
        Ok(job) => job,
        Err(e) => panic!("the message did not parse: {e}"),
    }
}

/// A job comes back intact, with a receipt and a receive count of 1.
pub async fn send_receive_round_trip(queue: &dyn Queue) {
    assert_empty(queue, Duration::ZERO, "a new queue").await;
    let sent = job();
    queue.send(&sent).await.expect("send");
    let got = receive_one(queue, LONG).await;
    assert_eq!(parsed(&got), &sent);
    assert_eq!(got.receive_count, 1);
    assert!(!got.receipt.is_empty());
    queue.delete(&got.receipt).await.expect("delete");
}

/// A waiting receive returns as soon as a message is sent, not at the end of its wait.
pub async fn long_poll_wakes_on_send(queue: &dyn Queue) {
    let sent = job();
    let started = Instant::now();
    let (got, ()) = tokio::join!(receive(queue, 1, Duration::from_secs(15), LONG), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        queue.send(&sent).await.expect("send");
    });
    let waited = started.elapsed();
    assert_eq!(got.len(), 1, "the long poll returned {got:?}");
    assert_eq!(parsed(&got[0]), &sent);
    assert!(
        waited < Duration::from_secs(5),
        "the long poll returned after {waited:?}"
    );
    queue.delete(&got[0].receipt).await.expect("delete");
}

/// `max` bounds a batch; every message is received once.
pub async fn receive_takes_at_most_max(queue: &dyn Queue) {
    let sent: Vec<Job> = (0..3).map(|_| job()).collect();
    for job in &sent {
        queue.send(job).await.expect("send");
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < sent.len() && Instant::now() < deadline {
        let batch = receive(queue, 2, Duration::from_secs(1), LONG).await;
        assert!(batch.len() <= 2, "asked for 2, got {}", batch.len());
        for got in batch {
            assert_eq!(got.receive_count, 1);
            seen.push(parsed(&got).clone());
            queue.delete(&got.receipt).await.expect("delete");
        }
    }
    seen.sort_by(|a, b| a.job_id.as_str().cmp(b.job_id.as_str()));
    let mut expected = sent;
    expected.sort_by(|a, b| a.job_id.as_str().cmp(b.job_id.as_str()));
    assert_eq!(seen, expected);
}

/// A received message is hidden for its visibility timeout, then delivered again with a
/// higher receive count and a new receipt.
pub async fn visibility_hides_then_returns(queue: &dyn Queue) {
    let sent = job();
    queue.send(&sent).await.expect("send");
    let first = receive_one(queue, Duration::from_secs(3)).await;
    assert_eq!(first.receive_count, 1);
    assert_empty(
        queue,
        Duration::from_secs(1),
        "while the message is invisible",
    )
    .await;

    let again = receive_one(queue, LONG).await;
    assert_eq!(parsed(&again), &sent);
    assert_eq!(again.receive_count, 2);
    assert_ne!(
        again.receipt, first.receipt,
        "each receive has its own receipt"
    );
    queue.delete(&again.receipt).await.expect("delete");
}

/// A deleted message is not delivered again; deleting it twice is not an error.
pub async fn delete_acknowledges(queue: &dyn Queue) {
    queue.send(&job()).await.expect("send");
    let got = receive_one(queue, Duration::from_secs(1)).await;
    queue.delete(&got.receipt).await.expect("delete");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_empty(queue, Duration::from_secs(1), "after delete").await;
    queue
        .delete(&got.receipt)
        .await
        .expect("deleting a deleted message again");
}

/// `change_visibility` keeps a message hidden past its first timeout, and a zero timeout
/// makes it visible at once.
pub async fn change_visibility_extends_and_shortens(queue: &dyn Queue) {
    queue.send(&job()).await.expect("send");
    let got = receive_one(queue, Duration::from_secs(1)).await;
    queue
        .change_visibility(&got.receipt, LONG)
        .await
        .expect("extend");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_empty(queue, Duration::from_secs(1), "after the extension").await;

    queue
        .change_visibility(&got.receipt, Duration::ZERO)
        .await
        .expect("shorten");
    let again = receive_one(queue, LONG).await;
    assert_eq!(again.receive_count, 2);
    queue.delete(&again.receipt).await.expect("delete");
}

/// Receipts that were never issued are refused.
pub async fn unknown_receipts_are_invalid(queue: &dyn Queue) {
    assert_invalid(queue.delete("not-a-receipt").await, "delete");
    assert_invalid(
        queue
            .change_visibility("not-a-receipt", Duration::from_secs(5))
            .await,
        "change_visibility",
    );
}

/// The receipt of an earlier receive is refused once the message was received again.
///
/// Not in [`queue_contract_tests!`]: moto accepts every receipt a message ever had, and SQS
/// refuses a stale receipt on `ChangeMessageVisibility` but documents only that a
/// `DeleteMessage` with one "might not" delete. The memory queue is held to it.
pub async fn stale_receipts_are_invalid(queue: &dyn Queue) {
    queue.send(&job()).await.expect("send");
    let first = receive_one(queue, Duration::from_secs(1)).await;
    let second = receive_one(queue, LONG).await;
    assert_eq!(second.receive_count, 2);
    assert_invalid(
        queue
            .change_visibility(&first.receipt, Duration::ZERO)
            .await,
        "change_visibility with a stale receipt",
    );
    assert_invalid(
        queue.delete(&first.receipt).await,
        "delete with a stale receipt",
    );
    assert_empty(queue, Duration::ZERO, "after the refused calls").await;
    queue.delete(&second.receipt).await.expect("delete");
}

/// A message received [`MAX_RECEIVE_COUNT`] times without being deleted moves to the
/// dead-letter queue instead of being delivered once more.
pub async fn dead_letters_after_max_receives(queue: &dyn Queue) {
    let sent = job();
    queue.send(&sent).await.expect("send");
    for count in 1..=MAX_RECEIVE_COUNT {
        let got = receive_one(queue, LONG).await;
        assert_eq!(got.receive_count, count);
        assert_eq!(parsed(&got), &sent);
        // Give it back at once instead of waiting out a timeout.
        queue
            .change_visibility(&got.receipt, Duration::ZERO)
            .await
            .expect("release");
    }
    assert_empty(
        queue,
        Duration::from_secs(1),
        "after MAX_RECEIVE_COUNT receives",
    )
    .await;

    // The count is approximate on SQS: give it a few seconds to settle.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = queue.dead_letter_count().await.expect("dead_letter_count");
        if count == 1 || Instant::now() > deadline {
            assert_eq!(count, 1, "messages in the dead-letter queue");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls until the dead-letter count reaches `at_least` (SQS's count is approximate and may
/// lag), for up to 10 s, then asserts that it did.
async fn assert_dead_letters_reach(queue: &dyn Queue, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = queue.dead_letter_count().await.expect("dead_letter_count");
        if count >= at_least || Instant::now() > deadline {
            assert!(
                count >= at_least,
                "messages in the dead-letter queue: {count}, expected at least {at_least}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A delayed job is invisible until its delay has passed, then arrives like any other. A
/// zero delay is none; a delay past [`MAX_SEND_DELAY`] is cut to it, not refused.
pub async fn delayed_send_waits_out_its_delay(queue: &dyn Queue) {
    let far = job();
    queue
        .send_delayed(&far, MAX_SEND_DELAY * 4)
        .await
        .expect("a delay past the maximum is cut to it");
    let delay = Duration::from_secs(2);
    let delayed = job();
    let sent_at = Instant::now();
    queue
        .send_delayed(&delayed, delay)
        .await
        .expect("send_delayed");
    assert_empty(queue, Duration::ZERO, "right after the delayed sends").await;

    let undelayed = job();
    queue
        .send_delayed(&undelayed, Duration::ZERO)
        .await
        .expect("send_delayed without a delay");
    let got = receive_one(queue, LONG).await;
    assert_eq!(
        parsed(&got),
        &undelayed,
        "the job sent without a delay arrives first"
    );
    queue.delete(&got.receipt).await.expect("delete");

    // Long polls: a poll may end before the delay has passed on a slow machine.
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        let mut batch = receive(queue, 10, POLL, LONG).await;
        if !batch.is_empty() || Instant::now() > deadline {
            assert_eq!(
                batch.len(),
                1,
                "expected the delayed job alone, got {batch:?}"
            );
            break batch.remove(0);
        }
    };
    let waited = sent_at.elapsed();
    assert_eq!(parsed(&got), &delayed);
    assert_eq!(got.receive_count, 1);
    assert!(
        waited >= delay - Duration::from_millis(500),
        "a job delayed by {delay:?} arrived after {waited:?}"
    );
    queue.delete(&got.receipt).await.expect("delete");
    assert_empty(
        queue,
        Duration::from_secs(1),
        "the job delayed by the maximum",
    )
    .await;
}

/// `dead_letter` puts a job on the dead-letter queue at once, not on the jobs queue.
pub async fn dead_letter_skips_the_jobs_queue(queue: &dyn Queue) {
    let before = queue.dead_letter_count().await.expect("dead_letter_count");
    queue.dead_letter(&job()).await.expect("dead_letter");
    assert_dead_letters_reach(queue, before + 1).await;
    assert_empty(queue, Duration::from_secs(1), "the jobs queue").await;
}

/// A body that is not a job still arrives, as `job: Err(..)`, and can be deleted.
pub async fn unparseable_body_is_an_error<F, Fut>(queue: &dyn Queue, send_raw: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    send_raw("{\"not\": \"a job\"".to_owned()).await;
    let got = receive_one(queue, LONG).await;
    assert!(got.job.is_err(), "parsed a poison body as {:?}", got.job);
    assert_eq!(got.receive_count, 1);
    queue.delete(&got.receipt).await.expect("delete");
}
