#![no_main]

#[path = "common.rs"]
mod common;

use baton_core::domain::SourceKind;
use common::Spec;
use libfuzzer_sys::fuzz_target;

const SPEC: Spec = Spec {
    kind: SourceKind::Linear,
    signature: ("Linear-Signature", Some("")),
    delivery: "Linear-Delivery",
    alternate_delivery: None,
    event: Some("Linear-Event"),
    events: &["Issue", "Comment", "Project"],
};

fuzz_target!(|data: &[u8]| common::run(&SPEC, data));
