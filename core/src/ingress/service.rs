use super::{dedupe, verify, work_items};
use crate::clock::Clock;
use crate::domain::{
    DeliveryKey, DeliveryOutcome, JobId, NormalizedEvent, SourceKind, WorkItemKey,
};
use crate::ports::{Announcer, Queue, Store, StoreError};
use crate::routing::{self, Decision};
use crate::secret::Secret;
use crate::webhooks::{self, Parsed, WebhookRequest};
use crate::workflow::{Workflow, WorkflowSet, WorkflowWatch};
use baton_telemetry::redact;
use http::HeaderMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Tunables of the ingress, with production defaults.
#[derive(Debug, Clone)]
pub struct IngressSettings {
    /// Largest body accepted; Lambda's own synchronous payload limit by default.
    pub max_body_bytes: usize,
    /// The memory all bodies waiting for verification may hold together (see
    /// `baton_web::ingress::BodyBudget`); over it, 503 with `Retry-After`.
    pub body_budget_bytes: usize,
    /// How long a claim on a delivery id holds before a crashed holder's claim can be taken.
    pub delivery_lease: Duration,
    /// How long a processed delivery id is remembered for deduplication.
    pub delivery_retention: Duration,
    /// How long a concurrent copy of a delivery waits for the first copy's answer.
    pub in_progress_wait: Duration,
    /// The longest a webhook's answer waits on announcing a hold in chat (see
    /// [`Announcer`]); past it the announcement is given up, the delivery still accepted.
    pub announce_timeout: Duration,
}

impl Default for IngressSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 6 * 1024 * 1024,
            // Ten bodies at the largest size: on Lambda (one request per instance) it never
            // binds; in `baton dev` it caps what a flood of large bodies can hold.
            body_budget_bytes: 64 * 1024 * 1024,
            delivery_lease: Duration::from_secs(30),
            delivery_retention: Duration::from_secs(7 * 24 * 3600),
            in_progress_wait: Duration::from_secs(2),
            announce_timeout: Duration::from_secs(3),
        }
    }
}

/// What happened to an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Queued {
        work_item: WorkItemKey,
        job_id: JobId,
    },
    CancelRequested {
        work_item: WorkItemKey,
    },
    AwaitingApproval {
        work_item: WorkItemKey,
    },
    Ignored {
        reason: String,
    },
    /// This delivery id, or (for senders that sign no timestamp) this exact body, was
    /// processed before.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    /// Bad, missing or stale signature, or no secret configured: 401.
    #[error("{0}")]
    InvalidSignature(String),
    /// Signed, but not understood: 400.
    #[error("{0}")]
    Malformed(String),
    /// The store or the queue failed; nothing was acknowledged: 503.
    #[error("{0}")]
    Backend(String),
    /// The Content-Type is not one the source sends: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Another copy of this delivery is being processed right now: 503, retry shortly.
    #[error("delivery {0} is being processed by another request; retry shortly")]
    DeliveryInProgress(String),
    /// A manual request conflicts with the work item's state (a run is queued or under
    /// way already): 409. Webhooks never get it.
    #[error("{0}")]
    Conflict(String),
}

impl From<StoreError> for IngressError {
    fn from(error: StoreError) -> Self {
        Self::Backend(error.to_string())
    }
}

/// The webhook pipeline, independent of HTTP.
pub struct Ingress {
    pub(super) store: Arc<dyn Store>,
    pub(super) queue: Arc<dyn Queue>,
    pub(super) clock: Arc<dyn Clock>,
    /// Read once per delivery: no file I/O on the request path.
    workflows: WorkflowWatch,
    settings: IngressSettings,
    /// Tells the workflow's chat about runs held for approval; none: nobody is told.
    pub(super) announcer: Option<Arc<dyn Announcer>>,
    /// Agent sessions (baton as a Linear agent), when a token for them is configured.
    pub(super) sessions: Option<super::acknowledge::SessionDesk>,
}

impl Ingress {
    /// One workflow that never changes. `secrets` are the webhook secrets resolved for
    /// `workflow` (see [`Workflow::webhook_secrets`]); a source without one refuses every
    /// request.
    pub fn new(
        workflow: &Workflow,
        secrets: BTreeMap<SourceKind, Secret>,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: IngressSettings,
    ) -> Self {
        let set = WorkflowSet::single(Arc::new(workflow.clone()), secrets);
        Self::with_workflows(WorkflowWatch::fixed(set), store, queue, clock, settings)
    }

    /// Serves whatever set `workflows` holds at each delivery, so a reload applies from the
    /// next webhook on.
    pub fn with_workflows(
        workflows: WorkflowWatch,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: IngressSettings,
    ) -> Self {
        Self {
            store,
            queue,
            clock,
            workflows,
            settings,
            announcer: None,
            sessions: None,
        }
    }

    /// Announces runs held for approval through `announcer` (the workflow's `notify`).
    pub fn with_announcer(mut self, announcer: Arc<dyn Announcer>) -> Self {
        self.announcer = Some(announcer);
        self
    }

    pub fn settings(&self) -> &IngressSettings {
        &self.settings
    }

    pub fn workflows(&self) -> &WorkflowWatch {
        &self.workflows
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Sources that have a secret and so can accept webhooks, in the current set.
    pub fn configured_sources(&self) -> impl Iterator<Item = SourceKind> {
        let sources: Vec<_> = self.workflows.current().configured_sources().collect();
        sources.into_iter()
    }

    /// What the headers alone decide, before the body is read: the source takes webhooks
    /// and has a secret, the signature header is there, the Content-Type is one the source
    /// sends. [`Ingress::accept`] checks it too; the router calls it first so that a request
    /// refused anyway never has its body read.
    pub fn screen(&self, source: SourceKind, headers: &HeaderMap) -> Result<(), IngressError> {
        let handler = handler(source)?;
        if self
            .workflows
            .current()
            .candidate_secrets(source)
            .is_empty()
        {
            return Err(no_secret(source));
        }
        webhooks::screen_headers(handler, headers).map_err(|refused| match refused {
            webhooks::ScreenError::Unsigned(e) => IngressError::InvalidSignature(e.to_string()),
            webhooks::ScreenError::Media(e) => IngressError::UnsupportedMediaType(e.to_string()),
        })
    }

    /// Verifies, parses, routes and records one webhook; answers only once a requested job
    /// is durable on the queue.
    pub async fn accept(
        &self,
        source: SourceKind,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Accepted, IngressError> {
        self.screen(source, headers)?;
        let handler = handler(source)?;
        let workflows = self.workflows.current();
        let request = WebhookRequest { headers, body };
        let signed_by = verify::signing_secret(
            handler,
            request,
            workflows.candidate_secrets(source),
            self.clock.now(),
        )?;
        let delivery = handler
            .parse(request)
            .map_err(|e| IngressError::Malformed(e.to_string()))?;
        let delivery_key = DeliveryKey::new(source, validate_delivery_id(delivery.delivery_id)?);
        // The router's `webhook` span: every later line of this delivery names it.
        let span = tracing::Span::current();
        span.record("delivery_id", delivery_key.id.as_str());
        let event = match delivery.parsed {
            Parsed::Ignored { reason } => return Ok(Accepted::Ignored { reason }),
            Parsed::Event(event) => scrubbed(event),
        };
        if event.issue.identifier.is_empty() {
            return Err(IngressError::Malformed(
                "payload names no issue identifier".into(),
            ));
        }
        span.record(
            "work_item",
            WorkItemKey::new(source, &event.issue.identifier).as_str(),
        );
        let accepted = self
            .route_verified(
                (source, handler),
                body,
                (&workflows, signed_by),
                &event,
                delivery_key,
            )
            .await;
        // Before the answer: an agent session learns at once that it was heard.
        if let Ok(accepted) = &accepted {
            self.acknowledge(&event, accepted).await;
        }
        accepted
    }

    /// Routes and records a verified event.
    async fn route_verified(
        &self,
        (source, handler): (SourceKind, &dyn webhooks::WebhookSource),
        body: &[u8],
        (workflows, signed_by): (&WorkflowSet, usize),
        event: &NormalizedEvent,
        delivery_key: DeliveryKey,
    ) -> Result<Accepted, IngressError> {
        // Only now, with the body verified, may it say which workflow serves it.
        let Some(served) = workflows.select_served(source, &event.issue) else {
            return Ok(Accepted::Ignored {
                reason: format!(
                    "no workflow serves {}",
                    verify::target(source, &event.issue)
                ),
            });
        };
        verify::check_signer(served, source, signed_by, &event.issue)?;
        let decision = routing::route(event, served.rules());
        if let Decision::Ignore { reason } = decision {
            return Ok(Accepted::Ignored { reason });
        }

        // Without a signed timestamp, a captured body stays valid forever and the delivery
        // id is not signed: the body's digest is claimed beside the id.
        let mut keys = vec![delivery_key];
        if !handler.signs_timestamp() {
            keys.push(dedupe::body_key(source, body));
        }
        let owner = uuid::Uuid::new_v4().to_string();
        if !self.claim_all(&keys, &owner).await? {
            tracing::debug!(delivery = %keys[0], "duplicate delivery");
            return Ok(Accepted::Duplicate);
        }
        let applied = work_items::apply(
            self.store.as_ref(),
            self.queue.as_ref(),
            self.clock.as_ref(),
            event,
            decision,
            &keys[0],
            served.name(),
        )
        .await;
        self.settle_and_announce(&keys, &owner, event, applied, served.workflow())
            .await
    }
}

fn handler(source: SourceKind) -> Result<&'static dyn webhooks::WebhookSource, IngressError> {
    crate::sources::webhook(source).ok_or_else(|| {
        IngressError::InvalidSignature(format!("{source} sends no webhooks, so none are accepted"))
    })
}

pub(super) fn no_secret(source: SourceKind) -> IngressError {
    IngressError::InvalidSignature(format!(
        "no secret is configured for {source} webhooks, so none are accepted \
         (set {} or webhooks.{source}.secret in the workflow)",
        crate::sources::webhook(source).map_or("a secret", |w| w.secret_variable())
    ))
}

/// The event with every secret the process knows replaced in its text: a credential pasted
/// into an issue or a label reaches neither the answer, the log, the record, the read API
/// nor the agent's prompt.
fn scrubbed(event: Box<NormalizedEvent>) -> Box<NormalizedEvent> {
    redact::redact_known_in(&*event)
        .map(Box::new)
        .unwrap_or(event)
}

fn validate_delivery_id(id: String) -> Result<String, IngressError> {
    let id = id.trim().to_owned();
    if id.is_empty() {
        return Err(IngressError::Malformed("delivery id is empty".into()));
    }
    if id.len() > DeliveryKey::MAX_ID_LEN || id.chars().any(|c| c.is_control()) {
        return Err(IngressError::Malformed(format!(
            "delivery id must be at most {} printable characters",
            DeliveryKey::MAX_ID_LEN
        )));
    }
    Ok(id)
}

/// The safety poll's way in (see `crate::reconciler::poll`), and the end both ways share.
impl Ingress {
    /// An event read from the tracker rather than received: routed, deduplicated under
    /// `delivery_id` and recorded exactly like a verified webhook.
    pub async fn accept_event(
        &self,
        event: &crate::domain::NormalizedEvent,
        delivery_id: &str,
    ) -> Result<Accepted, IngressError> {
        let clean = redact::redact_known_in(event);
        let event = clean.as_ref().unwrap_or(event);
        let delivery_key =
            DeliveryKey::new(event.source, validate_delivery_id(delivery_id.to_owned())?);
        if event.issue.identifier.is_empty() {
            return Err(IngressError::Malformed(
                "the event names no issue identifier".into(),
            ));
        }
        let workflows = self.workflows.current();
        let Some(served) = workflows.select_served(event.source, &event.issue) else {
            return Ok(Accepted::Ignored {
                reason: format!(
                    "no workflow serves {}",
                    verify::target(event.source, &event.issue)
                ),
            });
        };
        let decision = routing::route(event, served.rules());
        if let Decision::Ignore { reason } = decision {
            return Ok(Accepted::Ignored { reason });
        }
        let owner = uuid::Uuid::new_v4().to_string();
        let keys = [delivery_key];
        if !self.claim_all(&keys, &owner).await? {
            return Ok(Accepted::Duplicate);
        }
        let applied = work_items::apply(
            self.store.as_ref(),
            self.queue.as_ref(),
            self.clock.as_ref(),
            event,
            decision,
            &keys[0],
            served.name(),
        )
        .await;
        self.settle_and_announce(&keys, &owner, event, applied, served.workflow())
            .await
    }
}

impl From<DeliveryOutcome> for Accepted {
    fn from(outcome: DeliveryOutcome) -> Self {
        match outcome {
            DeliveryOutcome::Queued { work_item, job_id } => Self::Queued { work_item, job_id },
            DeliveryOutcome::CancelRequested { work_item } => Self::CancelRequested { work_item },
            DeliveryOutcome::AwaitingApproval { work_item } => Self::AwaitingApproval { work_item },
            DeliveryOutcome::Ignored { reason } => Self::Ignored { reason },
        }
    }
}
