#![no_main]

#[path = "common.rs"]
mod common;

use baton_core::domain::SourceKind;
use common::Spec;
use libfuzzer_sys::fuzz_target;

const SPEC: Spec = Spec {
    kind: SourceKind::Github,
    signature: ("X-Hub-Signature-256", Some("sha256=")),
    delivery: "X-GitHub-Delivery",
    alternate_delivery: None,
    event: Some("X-GitHub-Event"),
    events: &[
        "issues",
        "issue_comment",
        "pull_request",
        "pull_request_review",
        "ping",
        "push",
    ],
};

fuzz_target!(|data: &[u8]| common::run(&SPEC, data));
