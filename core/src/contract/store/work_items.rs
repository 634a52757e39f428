//! Versioned work items, and their listing by status.

use super::{assert_conflict, at, eventually};
use crate::contract::unique;
use crate::domain::{
    IssueSnapshot, JobId, Lease, RunId, SourceKind, TokenTotals, WorkItem, WorkItemKey,
    WorkItemStatus,
};
use crate::ports::Store;
use chrono::{DateTime, TimeZone, Utc};

/// Work items are written only over the version the writer read.
pub async fn work_item_versions(store: &dyn Store) {
    let mut item = work_item();
    item.version = 1;

    assert_eq!(
        store.get_work_item(&item.key).await.expect("get"),
        None,
        "an unknown key reads as None"
    );
    assert_conflict(
        store.put_work_item(&item, Some(1)).await,
        "put with an expected version on a new key",
    );
    store
        .put_work_item(&item, None)
        .await
        .expect("create a new item");
    assert_conflict(
        store.put_work_item(&item, None).await,
        "create over an existing item",
    );

    let mut next = item.clone();
    next.version = 2;
    next.status = WorkItemStatus::Running;
    store
        .put_work_item(&next, Some(1))
        .await
        .expect("update over the version read");

    let mut stale = item.clone();
    stale.version = 2;
    stale.cancel_requested = true;
    assert_conflict(
        store.put_work_item(&stale, Some(1)).await,
        "update over a stale version",
    );
    assert_conflict(
        store.put_work_item(&stale, Some(3)).await,
        "update over a future version",
    );
    assert_eq!(
        store.get_work_item(&item.key).await.expect("get"),
        Some(next),
        "the losing writes changed nothing"
    );

    assert_conflict(
        store.delete_work_item(&item.key, 1).await,
        "delete over a stale version",
    );
    store
        .delete_work_item(&item.key, 2)
        .await
        .expect("delete over the version read");
    assert_eq!(store.get_work_item(&item.key).await.expect("get"), None);
    assert_conflict(
        store.delete_work_item(&item.key, 2).await,
        "delete of an item that is gone",
    );
}

/// Every field of a work item comes back as written.
pub async fn work_item_round_trip(store: &dyn Store) {
    let minimal = WorkItem {
        issue: IssueSnapshot {
            id: "1".into(),
            identifier: "ENG-1".into(),
            ..IssueSnapshot::default()
        },
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: TokenTotals::default(),
        ..work_item()
    };
    for item in [work_item(), minimal] {
        store.put_work_item(&item, None).await.expect("put");
        let read = store
            .get_work_item(&item.key)
            .await
            .expect("get")
            .expect("the item just written");
        assert_eq!(read, item);
    }
}

/// A work item with every field set, under a fresh key.
fn work_item() -> WorkItem {
    let identifier = format!("acme/{}#12", unique("app"));
    let created_at = Utc
        .with_ymd_and_hms(2024, 2, 29, 23, 59, 58)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(123_456_789);
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, &identifier),
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: "I_kwDOabc123".into(),
            identifier,
            title: "Fix the “flaky” test — ünïcode, quotes \" and \\ backslashes".into(),
            body: "Steps:\n1. run\n2. 🔥\n\n```rust\nlet x = 1;\n```".into(),
            state: "In Progress".into(),
            labels: vec!["baton".into(), "bug".into(), "p1".into()],
            url: Some("https://github.com/acme/app/issues/12".into()),
            repository: Some("acme/app".into()),
            author: Some("octocat".into()),
        },
        status: WorkItemStatus::Retrying,
        attempt: 3,
        cancel_requested: true,
        pending_job: Some(JobId::generate()),
        last_delivery: Some(unique("delivery")),
        created_at,
        updated_at: created_at + chrono::Duration::milliseconds(1_500),
        requested_at: Some(created_at + chrono::Duration::microseconds(7)),
        lease: Some(Lease {
            owner: "runner-a".into(),
            run_id: RunId::generate(),
            expires_at: created_at + chrono::Duration::seconds(60),
        }),
        last_run: Some(RunId::generate()),
        next_retry_at: Some(created_at + chrono::Duration::seconds(20)),
        last_error: Some("turn_failed: the agent gave up".into()),
        tokens: TokenTotals {
            input_tokens: 10,
            output_tokens: 20,
            total_tokens: 30,
        },
        approved_by: Some("alice".into()),
        pull_request: Some(crate::domain::PullRequestLink {
            number: 34,
            url: "https://github.com/acme/app/pull/34".into(),
            branch: "baton/acme_app_12".into(),
        }),
        status_comment: Some("IC_kwDO123".into()),
        input_request: Some(crate::domain::InputRequest {
            question: "Postgres or SQLite? «both» \"quoted\"\nsecond line".into(),
            asked_at: created_at + chrono::Duration::seconds(3),
            deadline: Some(created_at + chrono::Duration::hours(24)),
            run_id: RunId::generate(),
            session_id: Some("thread-1".into()),
            answer: Some(crate::domain::InputAnswer {
                by: "alice".into(),
                text: "Postgres 🐘".into(),
                at: created_at + chrono::Duration::seconds(9),
            }),
        }),
        workflow: Some("app.md".into()),
        agent_session: Some(crate::domain::AgentSessionLink {
            id: "a9e75e55-1010-4c2d-9e8f-000000000042".into(),
            message: Some("Use Postgres COPY, please.".into()),
            by: Some("6f9a7b1e".into()),
        }),
        version: 7,
    }
}

/// A work item of `status` under `<prefix>#<n>`, last updated at `updated_at`.
fn listed_item(
    prefix: &str,
    n: u32,
    status: WorkItemStatus,
    updated_at: DateTime<Utc>,
) -> WorkItem {
    let mut item = work_item();
    item.key = WorkItemKey::new(SourceKind::Github, &format!("{prefix}#{n}"));
    item.issue.identifier = format!("{prefix}#{n}");
    item.status = status;
    item.created_at = updated_at - chrono::Duration::hours(1);
    item.updated_at = updated_at;
    item.version = 1;
    item
}

/// `list_work_items` gives the items of one status, most recently updated first, at most
/// `limit`; a rewrite moves an item in the listing, a status change moves it to another.
pub async fn work_items_listed_by_status(store: &dyn Store) {
    // Dated far ahead (past 2190), so that these are the newest items of their status even
    // in a table the other cases share (none of them dates anything that late), and newer
    // than any left by an earlier run: the `limit` checks can name exactly what they expect.
    let base = Utc::now() + chrono::Duration::days(175 * 365);
    let prefix = format!("acme/{}", unique("listed"));
    let mine = |items: Vec<WorkItem>| -> Vec<WorkItem> {
        items
            .into_iter()
            .filter(|item| item.key.as_str().contains(&prefix))
            .collect()
    };
    let list = |status: WorkItemStatus, limit: usize| async move {
        store
            .list_work_items(status, limit)
            .await
            .unwrap_or_else(|e| panic!("list_work_items({status:?}, {limit}) failed: {e}"))
    };

    let mut first = listed_item(&prefix, 1, WorkItemStatus::Queued, at(base, 1));
    let second = listed_item(&prefix, 2, WorkItemStatus::Queued, at(base, 3));
    let mut third = listed_item(&prefix, 3, WorkItemStatus::Queued, at(base, 2));
    let running = listed_item(&prefix, 4, WorkItemStatus::Running, at(base, 4));
    for item in [&first, &second, &third, &running] {
        store.put_work_item(item, None).await.expect("put");
    }
    eventually(
        "queued items, newest first",
        &vec![second.clone(), third.clone(), first.clone()],
        || async { mine(list(WorkItemStatus::Queued, 10_000).await) },
    )
    .await;

    // Updated last: first in the listing. Finished: in another listing.
    first.version = 2;
    first.updated_at = at(base, 5);
    store.put_work_item(&first, Some(1)).await.expect("update");
    third.version = 2;
    third.status = WorkItemStatus::Succeeded;
    third.updated_at = at(base, 6);
    store.put_work_item(&third, Some(1)).await.expect("update");

    let queued = vec![first.clone(), second.clone()];
    eventually("queued items after the updates", &queued, || async {
        mine(list(WorkItemStatus::Queued, 10_000).await)
    })
    .await;
    eventually("succeeded items", &vec![third.clone()], || async {
        mine(list(WorkItemStatus::Succeeded, 10_000).await)
    })
    .await;
    eventually("running items", &vec![running.clone()], || async {
        mine(list(WorkItemStatus::Running, 10_000).await)
    })
    .await;

    assert_eq!(list(WorkItemStatus::Queued, 1).await, vec![first.clone()]);
    assert_eq!(list(WorkItemStatus::Queued, 2).await, queued);
    assert_eq!(
        list(WorkItemStatus::Queued, 0).await,
        Vec::<WorkItem>::new()
    );

    let all = list(WorkItemStatus::Queued, 10_000).await;
    assert!(
        all.iter().all(|item| item.status == WorkItemStatus::Queued),
        "every listed item has the status asked for"
    );
    assert!(
        all.windows(2).all(|w| w[0].updated_at >= w[1].updated_at),
        "the listing is newest first"
    );
}
