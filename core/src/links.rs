//! The addresses a deployment serves, for links that leave it: a work item's dashboard page
//! and its record in the API. The web edge (`baton_web`) serves these paths; the kernel names
//! them so the ingress, the runner and chat messages can link to them without depending on
//! it.

use crate::domain::WorkItemKey;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// The API's record of one work item, by its percent-encoded key.
pub const ISSUE_RECORD_PATH: &str = "/api/v1/issues/{key}";

/// The dashboard path of a work item: its key percent-encoded as one segment.
pub fn issue_path(key: &WorkItemKey) -> String {
    format!("/issues/{}", encoded(key))
}

/// Where the work item `key`'s record is read at a deployment whose public address is
/// `public_url` (`BATON_PUBLIC_URL`, without a trailing slash): the link chat messages and
/// tracker comments carry.
pub fn issue_url(public_url: &str, key: &WorkItemKey) -> String {
    format!(
        "{public_url}{}",
        ISSUE_RECORD_PATH.replace("{key}", &encoded(key))
    )
}

fn encoded(key: &WorkItemKey) -> String {
    utf8_percent_encode(key.as_str(), NON_ALPHANUMERIC).to_string()
}
