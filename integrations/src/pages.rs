//! Reading every page of a listing that paginates with RFC 8288 `Link: <…>; rel="next"`
//! headers (GitHub and GitLab, for their trackers and their code platforms).

use crate::http::{ApiClient, ApiError};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A bound on pages per listing: a server that keeps answering `next` must not keep a job
/// busy forever. At 100 per page this is 5,000 reviews or comments on one pull request.
const MAX_PAGES: usize = 50;

/// Every item of the listing at `path`. `field` names the array inside an object answer
/// (GitHub's `check_runs`); `None` when the answer is the array itself.
pub(crate) async fn all_pages<T: DeserializeOwned>(
    client: &ApiClient,
    path: &str,
    field: Option<&str>,
) -> Result<Vec<T>, ApiError> {
    all_pages_up_to(client, path, field, MAX_PAGES).await
}

/// [`all_pages`] with its own bound on pages (issue listings run longer than reviews).
pub(crate) async fn all_pages_up_to<T: DeserializeOwned>(
    client: &ApiClient,
    path: &str,
    field: Option<&str>,
    max_pages: usize,
) -> Result<Vec<T>, ApiError> {
    let mut items = Vec::new();
    let mut next = Some(path.to_owned());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        if pages > max_pages {
            return Err(ApiError::malformed(
                client.service(),
                path,
                format!("the listing did not end after {max_pages} pages"),
            ));
        }
        let answer = client.get(&url).await?;
        let list = match field {
            Some(field) => answer.body.get(field).cloned().unwrap_or(Value::Null),
            None => answer.body.clone(),
        };
        let page: Vec<T> = serde_json::from_value(list)
            .map_err(|e| ApiError::malformed(client.service(), path, e.to_string()))?;
        items.extend(page);
        next = answer.next_link();
    }
    Ok(items)
}

/// `value` encoded for a query string.
pub(crate) fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
