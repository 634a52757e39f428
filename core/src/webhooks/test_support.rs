//! Helpers shared by the sources' tests.

use super::{Parsed, ParsedDelivery};
use crate::domain::NormalizedEvent;
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

pub(super) fn secret(value: &str) -> Secret {
    Secret::new(value).expect("non-empty secret")
}

/// Hex HMAC-SHA256, computed here rather than with the code under test.
pub(super) fn sign_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub(super) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

/// The event of a delivery that must not be ignored.
pub(super) fn event(delivery: ParsedDelivery) -> NormalizedEvent {
    match delivery.parsed {
        Parsed::Event(event) => *event,
        Parsed::Ignored { reason } => panic!("expected an event, ignored: {reason}"),
    }
}

/// The reason of a delivery that must be ignored.
pub(super) fn ignored(delivery: ParsedDelivery) -> String {
    match delivery.parsed {
        Parsed::Ignored { reason } => reason,
        Parsed::Event(event) => panic!("expected to be ignored, got {event:?}"),
    }
}
