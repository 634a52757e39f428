#![no_main]

#[path = "common.rs"]
mod common;

use baton_core::domain::SourceKind;
use common::Spec;
use libfuzzer_sys::fuzz_target;

const SPEC: Spec = Spec {
    kind: SourceKind::Jira,
    signature: ("X-Hub-Signature", Some("sha256=")),
    delivery: "X-Atlassian-Webhook-Identifier",
    alternate_delivery: None,
    // Jira names the event in the body (`webhookEvent`).
    event: None,
    events: &[],
};

fuzz_target!(|data: &[u8]| common::run(&SPEC, data));
