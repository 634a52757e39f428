use super::lock;
use crate::domain::Job;
use crate::ports::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// SQS's limits, kept here so that code tested against memory also works against SQS.
const MAX_BATCH: usize = 10;
const MAX_WAIT: Duration = Duration::from_secs(20);
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The in-memory jobs queue, with SQS standard-queue semantics: visibility timeouts in whole
/// seconds, receive counts, long polling, receipts that go stale when the message is received
/// again, and a dead-letter list that takes a message instead of its
/// `MAX_RECEIVE_COUNT + 1`-th delivery (the redrive policy).
///
/// Receipts are `<message id>:<receive count>`.
///
/// One thing SQS does not do: a job sent for a work item that already has a job waiting
/// (sent, never received) takes that message's place instead of adding one. Only an item's
/// pending job runs (a runner acknowledges any other one unrun), and the newer job is the
/// pending one, so nothing observable is lost; but without it, an ingress with no runner
/// (`baton dev --no-runner`) would hold one message per webhook, forever.
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
    /// Woken when a message is sent or a visibility timeout is changed.
    changed: Notify,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// By id. A B-tree, not a hash map: ids only grow, so inserts append at its edge, and a
    /// backlog never stalls every sender while the whole map rehashes.
    messages: BTreeMap<u64, Message>,
    /// Visible messages, oldest first. May hold ids deleted since; they are skipped.
    ready: VecDeque<u64>,
    /// Received messages by the instant they become visible again.
    in_flight: BTreeSet<(Instant, u64)>,
    dead_letters: Vec<Arc<str>>,
    /// The waiting (sent, never received, not delayed) job message of each work item. An
    /// entry may name a message received or deleted since; it is checked before use.
    waiting: HashMap<String, u64>,
}

struct Message {
    body: Arc<str>,
    /// The work item whose waiting message this is (see `State::waiting`), until received.
    waiting_for: Option<String>,
    receive_count: u32,
    /// While received: when it becomes visible again.
    visible_at: Option<Instant>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts any body on the queue, valid job or not (tests use it for poison messages).
    pub fn send_raw(&self, body: impl Into<String>) {
        self.enqueue(Arc::from(body.into()), Duration::ZERO);
    }

    /// Sends `job` now, in place of the waiting message of its work item if there is one.
    fn send_job(&self, job: &Job) {
        let body: Arc<str> = Arc::from(job.to_message());
        {
            let mut state = lock(&self.state);
            let key = job.work_item.as_str();
            if let Some(&id) = state.waiting.get(key) {
                if let Some(message) = state.messages.get_mut(&id) {
                    if message.receive_count == 0 && message.visible_at.is_none() {
                        message.body = body;
                        return;
                    }
                }
            }
            let id = state.push(body, Duration::ZERO);
            if let Some(message) = state.messages.get_mut(&id) {
                message.waiting_for = Some(key.to_owned());
            }
            state.waiting.insert(key.to_owned(), id);
        }
        self.changed.notify_waiters();
    }

    /// Adds a message that becomes visible after `delay` (like SQS's `DelaySeconds`).
    fn enqueue(&self, body: Arc<str>, delay: Duration) {
        lock(&self.state).push(body, delay);
        self.changed.notify_waiters();
    }

    /// The bodies in the dead-letter list, oldest first.
    pub fn dead_letters(&self) -> Vec<String> {
        lock(&self.state)
            .dead_letters
            .iter()
            .map(|body| body.to_string())
            .collect()
    }
}

impl State {
    /// Adds a message that becomes visible after `delay`; returns its id.
    fn push(&mut self, body: Arc<str>, delay: Duration) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let visible_at = (!delay.is_zero()).then(|| Instant::now() + delay);
        self.messages.insert(
            id,
            Message {
                body,
                waiting_for: None,
                receive_count: 0,
                visible_at,
            },
        );
        match visible_at {
            Some(at) => {
                self.in_flight.insert((at, id));
            }
            None => self.ready.push_back(id),
        }
        id
    }

    /// Moves messages whose visibility timeout has passed back to the visible ones.
    fn promote(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.in_flight.first() {
            if at > now {
                break;
            }
            self.in_flight.pop_first();
            if let Some(message) = self.messages.get_mut(&id) {
                message.visible_at = None;
                self.ready.push_back(id);
            }
        }
    }

    /// Receives up to `max` visible messages, dead-lettering those received too often.
    fn take(
        &mut self,
        max: usize,
        now: Instant,
        visibility: Duration,
    ) -> Vec<(Arc<str>, String, u32)> {
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let Some(message) = self.messages.get_mut(&id) else {
                continue;
            };
            if message.receive_count >= MAX_RECEIVE_COUNT {
                if let Some(message) = self.messages.remove(&id) {
                    self.dead_letters.push(message.body);
                }
                continue;
            }
            message.receive_count += 1;
            // Received: no longer the one a newer job of its item replaces.
            if let Some(key) = message.waiting_for.take() {
                if self.waiting.get(&key) == Some(&id) {
                    self.waiting.remove(&key);
                }
            }
            let visible_at = now + visibility;
            message.visible_at = Some(visible_at);
            self.in_flight.insert((visible_at, id));
            taken.push((
                Arc::clone(&message.body),
                format!("{id}:{}", message.receive_count),
                message.receive_count,
            ));
        }
        taken
    }
}

/// Parses a receipt into the message id and the receive it was issued for.
fn parse_receipt(receipt: &str) -> Result<(u64, u32), QueueError> {
    receipt
        .split_once(':')
        .and_then(|(id, count)| Some((id.parse().ok()?, count.parse().ok()?)))
        .ok_or_else(|| QueueError::InvalidReceipt(format!("`{receipt}` is not a receipt")))
}

/// SQS counts visibility in whole seconds, up to 12 hours.
fn whole_seconds(duration: Duration) -> Duration {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    Duration::from_secs(seconds).min(MAX_VISIBILITY)
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_job(job);
        Ok(())
    }

    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let delay = Duration::from_secs(delay.as_secs()).min(MAX_SEND_DELAY);
        self.enqueue(Arc::from(job.to_message()), delay);
        Ok(())
    }

    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError> {
        lock(&self.state)
            .dead_letters
            .push(Arc::from(job.to_message()));
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        let max = max.clamp(1, MAX_BATCH);
        let visibility = whole_seconds(visibility);
        // Like SQS's WaitTimeSeconds: whole seconds, at most 20.
        let wait = Duration::from_secs(wait.as_secs()).min(MAX_WAIT);
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let (taken, next_visible) = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                state.promote(now);
                let taken = state.take(max, now, visibility);
                (taken, state.in_flight.first().map(|&(at, _)| at))
            };
            if !taken.is_empty() {
                return Ok(taken
                    .into_iter()
                    .map(|(body, receipt, receive_count)| ReceivedJob {
                        job: Job::from_message(&body),
                        receipt,
                        receive_count,
                    })
                    .collect());
            }
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            let wake = next_visible.map_or(deadline, |at| at.min(deadline));
            // Either outcome means: look again.
            let _ = tokio::time::timeout_at(wake, changed).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;
        let mut state = lock(&self.state);
        match state.messages.get(&id) {
            // Deleted before (or dead-lettered): deleting again is not an error, as on SQS.
            None if id < state.next_id && count > 0 => Ok(()),
            Some(message) if message.receive_count == count => {
                if let Some(at) = message.visible_at {
                    state.in_flight.remove(&(at, id));
                }
                state.messages.remove(&id);
                Ok(())
            }
            Some(_) => Err(QueueError::InvalidReceipt(format!(
                "`{receipt}` is stale: the message was received again"
            ))),
            None => Err(QueueError::InvalidReceipt(format!(
                "`{receipt}` was never issued"
            ))),
        }
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;
        let visibility = whole_seconds(visibility);
        {
            let mut state = lock(&self.state);
            let now = Instant::now();
            let Some(message) = state.messages.get_mut(&id) else {
                return Err(QueueError::InvalidReceipt(format!(
                    "`{receipt}`: no such message (deleted?)"
                )));
            };
            let Some(old) = message
                .visible_at
                .filter(|&at| message.receive_count == count && at > now)
            else {
                return Err(QueueError::InvalidReceipt(format!(
                    "`{receipt}` is stale: the message became visible again"
                )));
            };
            let new = now + visibility;
            message.visible_at = Some(new);
            state.in_flight.remove(&(old, id));
            state.in_flight.insert((new, id));
        }
        // A shortened timeout may make the message due before a waiting receiver looks again.
        self.changed.notify_waiters();
        Ok(())
    }

    async fn dead_letter_count(&self) -> Result<usize, QueueError> {
        Ok(lock(&self.state).dead_letters.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobId, JobReason, SourceKind, WorkItemKey, JOB_SCHEMA_VERSION};

    fn job(item: &str) -> Job {
        Job {
            v: JOB_SCHEMA_VERSION,
            job_id: JobId::generate(),
            work_item: WorkItemKey::new(SourceKind::Github, item),
            reason: JobReason::Labeled,
            attempt: 1,
            queued_at: chrono::Utc::now(),
            delivery_id: None,
            continuation: 0,
        }
    }

    async fn receive_all(queue: &MemoryQueue) -> Vec<Job> {
        let received = queue
            .receive(10, Duration::ZERO, Duration::from_secs(30))
            .await
            .expect("receive");
        received
            .into_iter()
            .map(|r| r.job.expect("a valid job"))
            .collect()
    }

    #[tokio::test]
    async fn a_newer_job_replaces_its_items_waiting_one() {
        let queue = MemoryQueue::new();
        let (first, second, other) = (job("acme/app#1"), job("acme/app#1"), job("acme/app#2"));
        for job in [&first, &other, &second] {
            queue.send(job).await.expect("send");
        }
        let ids: Vec<_> = receive_all(&queue)
            .await
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        // The newer job took the older one's place in line.
        assert_eq!(ids, [second.job_id.clone(), other.job_id]);

        // A received job is not replaced: the next one is a message of its own.
        let third = job("acme/app#1");
        queue.send(&third).await.expect("send");
        let ids: Vec<_> = receive_all(&queue)
            .await
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        assert_eq!(ids, [third.job_id]);
    }
}
