//! The source contract: every registered source, checked the same way. Each source gives its
//! [`Samples`] in its own file (a test-only method of [`Source`], so a new source does not
//! compile its tests without them); the checks here are shared.
//!
//! For every origin: it is registered under its own kind, its default states are lowercase
//! and disjoint, and a scope value is checked, contains the issue it should and not another.
//! For every webhook source besides: its secret variable is a distinct environment variable
//! name; a body signed its way verifies (and its published vector, where the sender
//! publishes one); a changed byte, another secret or a missing signature is refused; its
//! recorded deliveries parse (an event, and a delivery it ignores); and the event routes to
//! a run under a workflow of its kind.

use super::{describe, webhook_named, webhook_sources};
use crate::domain::{IssueSnapshot, NormalizedEvent, SourceKind};
use crate::routing::{self, Decision};
use crate::secret::Secret;
use crate::webhooks::{self, Parsed, VerifyError, WebhookRequest, WebhookSource};
use crate::workflow::{StateRules, Workflow};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashSet;

/// What a source shows the contract.
pub struct Samples {
    /// `None` for a source that cannot be narrowed.
    pub scope: Option<ScopeSample>,
    /// `None` for an origin that posts no webhooks.
    pub webhook: Option<WebhookSamples>,
}

pub struct ScopeSample {
    /// A value [`Source::check_scope`] accepts.
    pub value: &'static str,
    pub inside: IssueSnapshot,
    pub outside: IssueSnapshot,
}

pub struct WebhookSamples {
    /// The signature headers the sender adds for `body` signed with `secret` (computed
    /// independently of the code under test).
    pub sign: Signer,
    /// The sender's published test vector, where it publishes one.
    pub published: Option<Published>,
    /// A recorded delivery baton acts on, and the issue it names.
    pub event: Recorded,
    pub identifier: &'static str,
    /// A recorded delivery baton ignores (a ping, an event it has no use for).
    pub ignored: Recorded,
    /// A time at which the recorded bodies are fresh (for senders that sign a timestamp).
    pub now: DateTime<Utc>,
    /// Front matter under which `event` asks for a run.
    pub workflow: &'static str,
}

/// The headers a sender adds to sign `body` with `secret`.
pub type Signer = fn(secret: &str, body: &[u8]) -> Vec<(&'static str, String)>;

pub struct Published {
    pub secret: &'static str,
    pub body: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
}

/// A delivery as sent, without its signature headers.
pub struct Recorded {
    pub headers: &'static [(&'static str, &'static str)],
    pub body: &'static str,
}

const SECRET: &str = "contract-secret-5f1d";

fn header_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

fn signed(samples: &WebhookSamples, recorded: &Recorded, secret: &str, body: &[u8]) -> HeaderMap {
    let signature = (samples.sign)(secret, body);
    header_map(
        recorded.headers.iter().copied().chain(
            signature
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        ),
    )
}

fn verify(
    source: &dyn WebhookSource,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let secret = Secret::new(secret).expect("a secret");
    source.verify(WebhookRequest { headers, body }, &secret, now)
}

#[test]
fn every_origin_is_registered_under_its_own_kind() {
    for kind in SourceKind::ALL {
        let source = describe(kind);
        assert_eq!(source.kind(), kind);
        assert_eq!(
            webhook_named(kind.as_str()).is_some(),
            source.webhook().is_some()
        );
        if let Some(webhook) = source.webhook() {
            assert_eq!(
                webhook.kind(),
                kind,
                "{kind}: its webhook is another source's"
            );
        }
    }
    assert_eq!(webhook_named("bitbucket"), None);
    assert_eq!(webhook_named(""), None);
}

#[test]
fn default_states_are_lowercase_and_disjoint() {
    for kind in SourceKind::ALL {
        let source = describe(kind);
        let active = source.default_active_states();
        let terminal = source.default_terminal_states();
        assert!(!active.is_empty() && !terminal.is_empty(), "{kind}");
        for state in active.iter().chain(terminal) {
            assert_eq!(*state, state.trim().to_lowercase(), "{kind}: `{state}`");
        }
        assert!(
            active.iter().all(|state| !terminal.contains(state)),
            "{kind}: a state both active and terminal"
        );
    }
}

#[test]
fn scopes_are_checked_and_contain_what_they_should() {
    for kind in SourceKind::ALL {
        let source = describe(kind);
        let samples = source.samples();
        match (source.scope_key(), samples.scope) {
            (None, None) => {}
            (Some(key), Some(scope)) => {
                assert!(!key.is_empty(), "{kind}");
                assert_eq!(source.check_scope(scope.value), Ok(()), "{kind}");
                for nonsense in ["", "a b", "//"] {
                    assert!(
                        source.check_scope(nonsense).is_err(),
                        "{kind}: `{nonsense}`"
                    );
                }
                assert!(source.in_scope(&scope.inside, scope.value), "{kind}");
                assert!(!source.in_scope(&scope.outside, scope.value), "{kind}");
            }
            (key, _) => panic!("{kind}: scope key {key:?} without a sample, or the reverse"),
        }
    }
}

#[test]
fn comment_links_need_a_comment_id() {
    for kind in SourceKind::ALL {
        let source = describe(kind);
        for id in ["", "abc", "12a"] {
            assert_eq!(
                source.comment_url("https://tracker.example/issues/1", id),
                None,
                "{kind}: `{id}`"
            );
        }
        if let Some(link) = source.comment_url("https://tracker.example/issues/1#top", "77") {
            assert!(
                link.contains("77") && !link.contains("#top"),
                "{kind}: {link}"
            );
        }
    }
}

#[test]
fn webhook_sources_name_distinct_secret_variables() {
    let mut seen = HashSet::new();
    for kind in webhook_sources() {
        let webhook = describe(kind).webhook().expect("a webhook source");
        let variable = webhook.secret_variable();
        assert!(
            !variable.is_empty()
                && variable
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{kind}: `{variable}`"
        );
        assert!(seen.insert(variable), "{kind}: `{variable}` is another's");
        assert!(
            describe(kind).samples().webhook.is_some(),
            "{kind}: no samples"
        );
    }
}

#[test]
fn signatures_verify_and_tampering_is_refused() {
    for kind in webhook_sources() {
        let source = describe(kind).webhook().expect("a webhook source");
        let samples = describe(kind).samples().webhook.expect("samples");
        let body = samples.event.body.as_bytes();
        let headers = signed(&samples, &samples.event, SECRET, body);
        assert_eq!(
            verify(source, &headers, body, SECRET, samples.now),
            Ok(()),
            "{kind}"
        );
        assert_eq!(webhooks::screen_headers(source, &headers), Ok(()), "{kind}");

        let refused = verify(source, &headers, body, "another-secret", samples.now);
        assert!(refused.is_err(), "{kind}: another secret");

        // A changed byte in the body: a signature over it no longer matches (a token
        // scheme, which signs nothing, is the exception the source says it is).
        let mut tampered = body.to_vec();
        if let Some(byte) = tampered.iter_mut().rev().find(|b| b.is_ascii_digit()) {
            *byte = if *byte == b'9' { b'0' } else { *byte + 1 };
        }
        let verdict = verify(source, &headers, &tampered, SECRET, samples.now);
        let signs_body = (samples.sign)(SECRET, body) != (samples.sign)(SECRET, &tampered);
        assert_eq!(
            verdict.is_err(),
            signs_body,
            "{kind}: tampered body: {verdict:?}"
        );

        let mut unsigned = headers.clone();
        unsigned.remove(source.signature_header());
        assert!(
            verify(source, &unsigned, body, SECRET, samples.now).is_err(),
            "{kind}: unsigned"
        );
        assert!(
            webhooks::screen_headers(source, &unsigned).is_err(),
            "{kind}"
        );

        if let Some(published) = samples.published {
            let headers = header_map(published.headers.iter().copied());
            let body = published.body.as_bytes();
            let verdict = verify(source, &headers, body, published.secret, samples.now);
            assert_eq!(verdict, Ok(()), "{kind}: the published vector");
        }
    }
}

#[test]
fn recorded_deliveries_parse_and_route() {
    for kind in webhook_sources() {
        let source = describe(kind).webhook().expect("a webhook source");
        let samples = describe(kind).samples().webhook.expect("samples");
        let parse = |recorded: &Recorded| {
            let body = recorded.body.as_bytes();
            let headers = signed(&samples, recorded, SECRET, body);
            source
                .parse(WebhookRequest {
                    headers: &headers,
                    body,
                })
                .unwrap_or_else(|error| panic!("{kind}: {error}"))
        };
        let delivery = parse(&samples.event);
        assert!(!delivery.delivery_id.trim().is_empty(), "{kind}");
        let event: NormalizedEvent = match delivery.parsed {
            Parsed::Event(event) => *event,
            Parsed::Ignored { reason } => panic!("{kind}: the event was ignored: {reason}"),
        };
        assert_eq!(event.source, kind);
        assert_eq!(event.issue.identifier, samples.identifier, "{kind}");
        assert!(
            matches!(parse(&samples.ignored).parsed, Parsed::Ignored { .. }),
            "{kind}: the ignored sample was acted on"
        );

        let workflow = Workflow::parse(&format!("---\n{}\n---\n", samples.workflow))
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        assert_eq!(workflow.config.tracker.kind, kind.as_str());
        let decision = routing::route(&event, &StateRules::new(&workflow.config));
        assert!(
            matches!(decision, Decision::Run { .. }),
            "{kind}: {decision:?}"
        );
    }
}
