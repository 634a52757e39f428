//! The deliveries the load generator sends: signed GitHub `issues` webhooks of about 4 KB,
//! each with a fresh delivery id and a body of its own (a replay defence that dedupes on the
//! body's digest must not turn them into duplicates), labelling one of a bounded set of
//! issues so that the state they create stays bounded.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The webhook secret both servers verify with.
pub const SECRET: &str = "bench-webhook-secret";
/// The label that triggers a run in the built-in development workflow.
const TRIGGER_LABEL: &str = "baton";
/// The size of a body.
const BODY_BYTES: usize = 4096;

pub struct Delivery {
    pub id: String,
    pub body: Bytes,
    pub signature: String,
}

/// Delivery number `seq`, for issue `seq % issues + 1` of `acme/app`. `run` keeps the ids
/// of separate runs (and processes) apart.
pub fn delivery(run: &str, seq: u64, issues: u64) -> Delivery {
    let number = seq % issues.max(1) + 1;
    let id = format!("{run}-{seq:012}");
    let head = format!(
        r#"{{"action":"labeled","label":{{"name":"{TRIGGER_LABEL}"}},"issue":{{"id":{},"number":{number},"title":"Issue {number}: the export drops rows","state":"open","labels":[{{"id":1,"name":"{TRIGGER_LABEL}"}}],"html_url":"https://github.com/acme/app/issues/{number}","user":{{"login":"alice","type":"User"}},"author_association":"OWNER","body":"Delivery {id}. "#,
        1000 + number
    );
    let tail = r#""},"repository":{"full_name":"acme/app","name":"app","owner":{"login":"acme"}},"sender":{"login":"alice","type":"User"}}"#;
    let filler = BODY_BYTES.saturating_sub(head.len() + tail.len());
    let mut body = String::with_capacity(BODY_BYTES);
    body.push_str(&head);
    // Plain words: nothing to escape, nothing that looks like a secret.
    const WORDS: &str = "steps to reproduce the export of a large report drops rows ";
    body.extend(WORDS.chars().cycle().take(filler));
    body.push_str(tail);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    Delivery {
        id,
        body: Bytes::from(body),
        signature,
    }
}
