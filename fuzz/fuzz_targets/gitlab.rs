#![no_main]

#[path = "common.rs"]
mod common;

use baton_core::domain::SourceKind;
use common::Spec;
use libfuzzer_sys::fuzz_target;

const SPEC: Spec = Spec {
    kind: SourceKind::Gitlab,
    // GitLab sends the token itself, no HMAC.
    signature: ("X-Gitlab-Token", None),
    delivery: "X-Gitlab-Event-UUID",
    alternate_delivery: Some("Idempotency-Key"),
    event: Some("X-Gitlab-Event"),
    events: &[
        "Issue Hook",
        "Note Hook",
        "Merge Request Hook",
        "Confidential Issue Hook",
        "Confidential Note Hook",
        "Push Hook",
    ],
};

fuzz_target!(|data: &[u8]| common::run(&SPEC, data));
