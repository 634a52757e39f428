//! Deduplication: a delivery claims its id, and a webhook from a sender that signs no
//! timestamp also claims its body's SHA-256 digest, as delivery records in the store.
//!
//! The sender's delivery id is not signed, so a captured body resent with fresh ids would
//! pass the id check every time; the digest stops it. A genuine redelivery carries the same
//! id and the same body, so it was a duplicate already and nothing legitimate is lost.
//!
//! Cost: the two claims (and later the two completions) run concurrently, so the wait is
//! one store round trip as before (two, one after the other, only when another copy holds
//! a key), but the store does two writes where it did one; plus one SHA-256 pass over the
//! body (a few µs per KB).

use super::{Ingress, IngressError};
use crate::domain::{DeliveryKey, DeliveryOutcome, NormalizedEvent, SourceKind};
use crate::ports::DeliveryClaim;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The prefix that keeps digest records apart from senders' delivery ids.
const BODY_KEY_PREFIX: &str = "body-sha256:";

/// The record key of `body`'s digest for `source`.
pub(super) fn body_key(source: SourceKind, body: &[u8]) -> DeliveryKey {
    let digest = Sha256::digest(body);
    DeliveryKey::new(source, format!("{BODY_KEY_PREFIX}{}", hex::encode(digest)))
}

impl Ingress {
    /// Claims every key for `owner`. `Ok(true)`: this request owns them all and must settle
    /// them; `Ok(false)`: one was processed before (a duplicate), and the keys this request
    /// did claim are given back.
    ///
    /// The usual case (nothing else holds them) costs one concurrent attempt. When another
    /// request holds one of them, the keys are given back and claimed again one by one in
    /// order, waiting: two copies of a delivery that each took one key would otherwise
    /// wait for each other.
    pub(super) async fn claim_all(
        &self,
        keys: &[DeliveryKey],
        owner: &str,
    ) -> Result<bool, IngressError> {
        if let [id, body] = keys {
            let (a, b) = tokio::join!(self.begin(id, owner), self.begin(body, owner));
            let attempts = [a, b];
            if attempts
                .iter()
                .all(|attempt| matches!(attempt, Ok(DeliveryClaim::Claimed)))
            {
                return Ok(true);
            }
            for (key, attempt) in keys.iter().zip(&attempts) {
                if matches!(attempt, Ok(DeliveryClaim::Claimed)) {
                    self.release(key, owner).await;
                }
            }
            if attempts
                .iter()
                .any(|attempt| matches!(attempt, Ok(DeliveryClaim::Completed(_))))
            {
                return Ok(false);
            }
            if let Some(Err(error)) = attempts.into_iter().find(Result::is_err) {
                return Err(error);
            }
        }
        for (claimed, key) in keys.iter().enumerate() {
            let refused = match self.claim_delivery(key, owner).await {
                Ok(None) => continue,
                Ok(Some(_)) => Ok(false),
                Err(error) => Err(error),
            };
            for earlier in &keys[..claimed] {
                self.release(earlier, owner).await;
            }
            return refused;
        }
        Ok(true)
    }

    /// One attempt at claiming `key`.
    async fn begin(&self, key: &DeliveryKey, owner: &str) -> Result<DeliveryClaim, IngressError> {
        Ok(self
            .store
            .begin_delivery(
                key,
                owner,
                self.clock.now(),
                self.settings().delivery_lease,
                self.settings().delivery_retention,
            )
            .await?)
    }

    /// Claims one key. `Ok(None)`: this request owns it; `Ok(Some(_))`: it was processed
    /// before. A concurrent copy waits a little for the first copy's answer.
    async fn claim_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
    ) -> Result<Option<DeliveryOutcome>, IngressError> {
        let deadline = tokio::time::Instant::now() + self.settings().in_progress_wait;
        let mut pause = Duration::from_millis(5);
        loop {
            match self.begin(key, owner).await? {
                DeliveryClaim::Claimed => return Ok(None),
                DeliveryClaim::Completed(outcome) => return Ok(Some(outcome)),
                DeliveryClaim::InProgress if tokio::time::Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                DeliveryClaim::InProgress => {
                    return Err(IngressError::DeliveryInProgress(key.to_string()))
                }
            }
        }
    }

    /// Remembers what a delivery did under each of its keys, or gives them back when
    /// applying it failed, so that the next try is processed afresh.
    pub(super) async fn settle_delivery(
        &self,
        keys: &[DeliveryKey],
        owner: &str,
        event: &NormalizedEvent,
        applied: Result<DeliveryOutcome, IngressError>,
    ) -> Result<super::Accepted, IngressError> {
        let outcome = match applied {
            Ok(outcome) => outcome,
            Err(error) => {
                for key in keys {
                    self.release(key, owner).await;
                }
                return Err(error);
            }
        };
        let complete = |key| {
            self.store.complete_delivery(
                key,
                owner,
                &outcome,
                event,
                self.clock.now(),
                self.settings().delivery_retention,
            )
        };
        let results = match keys {
            [first, second] => {
                let (a, b) = tokio::join!(complete(first), complete(second));
                vec![(first, a), (second, b)]
            }
            _ => {
                let mut results = Vec::with_capacity(keys.len());
                for key in keys {
                    results.push((key, complete(key).await));
                }
                results
            }
        };
        for (key, result) in results {
            if let Err(error) = result {
                // The job is durable already; at worst a later try queues a second job, and
                // the first becomes superseded.
                tracing::warn!(delivery = %key, %error, "could not mark delivery complete");
            }
        }
        Ok(super::Accepted::from(outcome))
    }

    async fn release(&self, key: &DeliveryKey, owner: &str) {
        if let Err(error) = self.store.release_delivery(key, owner).await {
            tracing::warn!(delivery = %key, %error,
                "could not release delivery; a retry succeeds once its lease expires");
        }
    }
}
