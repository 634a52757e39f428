//! The harness shared by the four targets: turns fuzz input into a request for one source,
//! then runs verify and parse. Neither may panic, whatever the headers and body.
//!
//! Input layout:
//! - byte 0, flags:
//!   - bit 0: a signature header that is valid for the body (so parse sees verified input);
//!   - bit 1: a signature header with the raw segment as value (when bit 0 is clear);
//!   - bit 2: the delivery id header; bit 6: the alternate delivery header (GitLab);
//!   - bit 3: the event header, from the source's event list (bit 7: the raw segment);
//!   - bits 4-5: content type: none, `application/json`, form-encoded, the raw segment;
//! - byte 1: index into the source's event list;
//! - when any raw option is set, a segment up to the first NUL byte;
//! - the rest: the body.

use baton_core::domain::{NormalizedEvent, SourceKind};
use baton_core::secret::Secret;
use baton_core::webhooks::{source, Parsed, WebhookRequest};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

pub const SECRET: &str = "fuzz-secret";
/// `now` for verification: the `webhookTimestamp` of the Linear seeds.
pub const NOW_MS: i64 = 1_714_640_000_000;

pub struct Spec {
    pub kind: SourceKind,
    /// Signature header and the prefix before the hex; `None` prefix: the token itself.
    pub signature: (&'static str, Option<&'static str>),
    pub delivery: &'static str,
    pub alternate_delivery: Option<&'static str>,
    pub event: Option<&'static str>,
    pub events: &'static [&'static str],
}

fn sign_hex(body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Header names are written as the senders do; `from_bytes` lowercases them.
fn insert(headers: &mut HeaderMap, name: &str, value: &[u8]) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value),
    ) {
        headers.insert(name, value);
    }
}

pub fn run(spec: &Spec, data: &[u8]) {
    let (Some(&flags), Some(&event_index)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = &data[2..];
    let content_type = (flags >> 4) & 0b11;
    let wants_raw = flags & 0b10 != 0 || flags & 0x80 != 0 || content_type == 3;
    let (raw, body) = if wants_raw {
        match rest.iter().position(|&b| b == 0) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &rest[rest.len()..]),
        }
    } else {
        (&rest[..0], rest)
    };

    let mut headers = HeaderMap::new();
    let (signature_header, prefix) = spec.signature;
    if flags & 0b1 != 0 {
        let value = match prefix {
            Some(prefix) => format!("{prefix}{}", sign_hex(body)),
            None => SECRET.to_owned(),
        };
        insert(&mut headers, signature_header, value.as_bytes());
    } else if flags & 0b10 != 0 {
        insert(&mut headers, signature_header, raw);
    }
    if flags & 0b100 != 0 {
        insert(
            &mut headers,
            spec.delivery,
            b"5f0c7f4e-0000-4000-8000-00000000fuzz",
        );
    }
    if flags & 0x40 != 0 {
        if let Some(name) = spec.alternate_delivery {
            insert(&mut headers, name, raw);
        }
    }
    if let Some(name) = spec.event {
        if flags & 0x80 != 0 {
            insert(&mut headers, name, raw);
        } else if flags & 0b1000 != 0 && !spec.events.is_empty() {
            let event = spec.events[usize::from(event_index) % spec.events.len()];
            insert(&mut headers, name, event.as_bytes());
        }
    }
    match content_type {
        1 => insert(&mut headers, "content-type", b"application/json"),
        2 => insert(
            &mut headers,
            "content-type",
            b"application/x-www-form-urlencoded",
        ),
        3 => insert(&mut headers, "content-type", raw),
        _ => {}
    }

    check(spec.kind, &headers, body, now());
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(NOW_MS)
        .single()
        .unwrap_or_else(Utc::now)
}

fn check(kind: SourceKind, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) {
    let Some(secret) = Secret::new(SECRET) else {
        return;
    };
    let Some(source) = source(kind) else {
        return;
    };
    let request = WebhookRequest { headers, body };
    let _ = source.verify(request, &secret, now);
    if let Ok(delivery) = source.parse(request) {
        if let Parsed::Event(event) = delivery.parsed {
            invariants(kind, &event);
        }
    }
}

/// What every normalized event promises, whatever the input.
fn invariants(kind: SourceKind, event: &NormalizedEvent) {
    assert_eq!(event.source, kind);
    assert!(!event.issue.identifier.is_empty(), "empty identifier");
    assert!(!event.issue.id.is_empty(), "empty id");
    // The event is stored and queued as JSON: it must serialize and read back identically.
    let json = serde_json::to_vec(event).expect("serializes");
    let back: NormalizedEvent = serde_json::from_slice(&json).expect("deserializes");
    assert_eq!(&back, event);
}
