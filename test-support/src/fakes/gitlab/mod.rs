//! A stateful fake of GitLab's REST API (v4) for one project, as one GitLab: its issues and
//! merge requests (numbered separately, each by its `iid`, as GitLab does), the issues'
//! notes and labels, and the merge requests' notes, discussions (general and diff threads,
//! resolvable), labels, approvals and pipelines.
//!
//! Answers come in GitLab's JSON shapes, status codes and pagination headers (`Link`,
//! `x-next-page`, ...); listings serve at most [`GitlabFake::DEFAULT_MAX_PER_PAGE`] items a
//! page. Serve [`GitlabFake::router`] with `crate::FakeApi`; the adapters' `base_url` is
//! `<fake url>/api/v4`, as on gitlab.com. The project answers to its numeric id and to its
//! URL-encoded path (`group%2Fproject`).
//!
//! - `issues`: issues and their notes;
//! - `merge_requests`: merge requests, merges, notes, discussions, approvals, pipelines;
//! - `json`: the records as GitLab renders them, errors and pagination.

mod issues;
mod json;
mod merge_requests;

use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;
use json::{message, Api, Failure};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

const PROJECT_ID: u64 = 4_242;

/// An issue to put on the fake, as a person would have written it.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub title: String,
    /// GitLab sends `null` for an issue created without one.
    pub description: Option<String>,
    pub labels: Vec<String>,
    /// `opened` or `closed`.
    pub state: String,
    pub assignees: Vec<String>,
    pub author: String,
}

impl NewIssue {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            description: None,
            labels: Vec::new(),
            state: "opened".to_owned(),
            assignees: Vec::new(),
            author: "root".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    pub iid: u64,
    /// The instance-wide id, distinct from the iid.
    pub id: u64,
    pub title: String,
    pub description: Option<String>,
    /// `opened` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

/// A note on an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNote {
    pub id: u64,
    pub issue_iid: u64,
    pub body: String,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: String,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed`, `merged`.
    pub state: String,
    pub labels: Vec<String>,
    pub merge_commit_sha: Option<String>,
}

/// A note in a merge request's discussion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeThreadNote {
    pub id: u64,
    pub body: String,
    pub author: String,
    pub system: bool,
    pub resolvable: bool,
    pub resolved: bool,
    /// `(path, line)` for a diff note.
    pub position: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDiscussion {
    pub id: String,
    pub mr: u64,
    pub individual_note: bool,
    pub notes: Vec<FakeThreadNote>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePipeline {
    pub id: u64,
    pub mr: u64,
    pub sha: String,
    /// `created`, `pending`, `running`, `success`, `failed`, `canceled`, `skipped`, `manual`.
    pub status: String,
}

#[derive(Debug)]
struct Project {
    path: String,
    /// Tokens accepted as `PRIVATE-TOKEN: <token>` (or `Authorization: Bearer`). With none,
    /// any credential is accepted.
    tokens: Vec<String>,
    /// Who the tokens belong to: the author of what is written through the API.
    viewer: String,
    max_per_page: usize,
    issues: BTreeMap<u64, FakeIssue>,
    notes: Vec<FakeNote>,
    /// Branch heads: the fake does not look into git, tests tell it what was pushed.
    branches: HashMap<String, String>,
    merge_requests: BTreeMap<u64, FakeMergeRequest>,
    discussions: Vec<FakeDiscussion>,
    /// Usernames that approved, per merge request.
    approvals: HashMap<u64, Vec<String>>,
    pipelines: Vec<FakePipeline>,
    next_issue_iid: u64,
    next_mr_iid: u64,
    /// Instance-wide ids for issues, merge requests, notes and pipelines; far from iids.
    next_id: u64,
    commits: u64,
}

/// The fake GitLab. Clones share one project, so a test can inspect what was written.
#[derive(Debug, Clone)]
pub struct GitlabFake {
    project: Arc<Mutex<Project>>,
}

impl GitlabFake {
    /// Below 3, so every contract's listings span several pages.
    pub const DEFAULT_MAX_PER_PAGE: usize = 2;

    /// An empty project at `path` (`group/project`, subgroups allowed) with a `main`
    /// branch, accepting any credential until told which ([`Self::require_token`]).
    pub fn new(path: &str) -> Self {
        let fake = Self {
            project: Arc::new(Mutex::new(Project {
                path: path.to_owned(),
                tokens: Vec::new(),
                viewer: "baton-bot".to_owned(),
                max_per_page: Self::DEFAULT_MAX_PER_PAGE,
                issues: BTreeMap::new(),
                notes: Vec::new(),
                branches: HashMap::new(),
                merge_requests: BTreeMap::new(),
                discussions: Vec::new(),
                approvals: HashMap::new(),
                pipelines: Vec::new(),
                next_issue_iid: 1,
                next_mr_iid: 1,
                next_id: 500_001,
                commits: 0,
            })),
        };
        fake.push("main");
        fake
    }

    /// Accepts this token, and answers 401 to requests that carry no accepted one. Call
    /// once per token (a tracker's and a repo's).
    pub fn require_token(self, token: &str) -> Self {
        self.lock().tokens.push(token.to_owned());
        self
    }

    /// At most `max` items a page on every listing.
    pub fn set_max_per_page(&self, max: usize) {
        self.lock().max_per_page = max.max(1);
    }

    // ---- Issues ----

    /// Creates an issue as a person would; returns its iid.
    pub fn add_issue(&self, issue: NewIssue) -> u64 {
        self.lock().insert_issue(issue)
    }

    pub fn issue(&self, iid: u64) -> Option<FakeIssue> {
        self.lock().issues.get(&iid).cloned()
    }

    /// The issue's notes, oldest first.
    pub fn notes(&self, iid: u64) -> Vec<FakeNote> {
        self.lock()
            .notes
            .iter()
            .filter(|n| n.issue_iid == iid)
            .cloned()
            .collect()
    }

    // ---- Branches and merge requests ----

    /// A new commit on `branch`; returns its sha.
    pub fn push(&self, branch: &str) -> String {
        let mut project = self.lock();
        project.commits += 1;
        let sha = format!("{:040x}", 0x0009_a1ab_0000_u64 + project.commits);
        project.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    /// Every merge request, by iid.
    pub fn merge_requests(&self) -> Vec<FakeMergeRequest> {
        self.lock().merge_requests.values().cloned().collect()
    }

    pub fn merge_request(&self, iid: u64) -> Option<FakeMergeRequest> {
        self.lock().merge_requests.get(&iid).cloned()
    }

    /// The sha at the head of the merge request's source branch.
    pub fn head_sha(&self, iid: u64) -> String {
        let project = self.lock();
        project
            .merge_requests
            .get(&iid)
            .and_then(|mr| project.branches.get(&mr.source_branch))
            .cloned()
            .unwrap_or_else(|| panic!("no merge request !{iid} on the fake"))
    }

    /// The merge request's discussions, oldest first.
    pub fn discussions(&self, iid: u64) -> Vec<FakeDiscussion> {
        self.lock()
            .discussions
            .iter()
            .filter(|d| d.mr == iid)
            .cloned()
            .collect()
    }

    /// A thread on the merge request; `position` makes it a diff thread. Returns its id.
    pub fn add_thread(
        &self,
        iid: u64,
        author: &str,
        body: &str,
        position: Option<(&str, u64)>,
        resolved: bool,
    ) -> String {
        let mut project = self.lock();
        let note_id = project.take_id();
        let discussion_id = format!("{:040x}", 0xd15c_0000_u64 + note_id);
        project.discussions.push(FakeDiscussion {
            id: discussion_id.clone(),
            mr: iid,
            individual_note: false,
            notes: vec![FakeThreadNote {
                id: note_id,
                body: body.to_owned(),
                author: author.to_owned(),
                system: false,
                resolvable: true,
                resolved,
                position: position.map(|(p, l)| (p.to_owned(), l)),
            }],
        });
        discussion_id
    }

    /// A reply in the thread `discussion_id`, at the position of its first note.
    pub fn add_reply(&self, discussion_id: &str, author: &str, body: &str) {
        let mut project = self.lock();
        let id = project.take_id();
        let Some(thread) = project
            .discussions
            .iter_mut()
            .find(|d| d.id == discussion_id)
        else {
            panic!("no discussion {discussion_id} on the fake");
        };
        let first = thread.notes.first().cloned();
        thread.notes.push(FakeThreadNote {
            id,
            body: body.to_owned(),
            author: author.to_owned(),
            system: false,
            resolvable: true,
            resolved: first.as_ref().is_some_and(|n| n.resolved),
            position: first.and_then(|n| n.position),
        });
    }

    /// A system note ("added 1 commit"), as GitLab writes on every push.
    pub fn add_system_note(&self, iid: u64, body: &str) {
        let mut project = self.lock();
        let note_id = project.take_id();
        let author = project.viewer.clone();
        project.discussions.push(FakeDiscussion {
            id: format!("{:040x}", 0x5157_0000_u64 + note_id),
            mr: iid,
            individual_note: true,
            notes: vec![FakeThreadNote {
                id: note_id,
                body: body.to_owned(),
                author,
                system: true,
                resolvable: false,
                resolved: false,
                position: None,
            }],
        });
    }

    /// `username` approves the merge request.
    pub fn approve(&self, iid: u64, username: &str) {
        let mut project = self.lock();
        project
            .approvals
            .entry(iid)
            .or_default()
            .push(username.to_owned());
    }

    /// Replaces the merge request's pipelines with these `(sha, status)`, oldest first.
    pub fn set_pipelines(&self, iid: u64, pipelines: &[(&str, &str)]) {
        let mut project = self.lock();
        project.pipelines.retain(|p| p.mr != iid);
        for (sha, status) in pipelines {
            let id = project.take_id();
            project.pipelines.push(FakePipeline {
                id,
                mr: iid,
                sha: (*sha).to_owned(),
                status: (*status).to_owned(),
            });
        }
    }

    /// The routes, in GitLab's paths under `/api/v4`.
    pub fn router(&self) -> Router {
        let route = |path: &str| format!("/api/v4/projects/{{project}}{path}");
        Router::new()
            .route(
                &route("/issues"),
                get(issues::list_issues).post(issues::create_issue),
            )
            .route(
                &route("/issues/{iid}"),
                get(issues::get_issue).put(issues::update_issue),
            )
            .route(
                &route("/issues/{iid}/notes"),
                get(issues::list_notes).post(issues::create_note),
            )
            .route(
                &route("/issues/{iid}/notes/{note_id}"),
                get(issues::get_note).put(issues::update_note),
            )
            .route(
                &route("/merge_requests"),
                get(merge_requests::list).post(merge_requests::create),
            )
            .route(
                &route("/merge_requests/{iid}"),
                get(merge_requests::get).put(merge_requests::update),
            )
            .route(
                &route("/merge_requests/{iid}/merge"),
                put(merge_requests::merge),
            )
            .route(
                &route("/merge_requests/{iid}/notes"),
                post(merge_requests::create_note),
            )
            .route(
                &route("/merge_requests/{iid}/discussions"),
                get(merge_requests::list_discussions),
            )
            .route(
                &route("/merge_requests/{iid}/approvals"),
                get(merge_requests::approvals),
            )
            .route(
                &route("/merge_requests/{iid}/pipelines"),
                get(merge_requests::list_pipelines),
            )
            .with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Project> {
        self.project
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks the credential and the project (already URL-decoded by the router).
    fn open(
        &self,
        headers: &HeaderMap,
        project_id: &str,
    ) -> Result<(MutexGuard<'_, Project>, Api), Failure> {
        let project = self.lock();
        if !project.authorized(headers) {
            return Err(message(
                axum::http::StatusCode::UNAUTHORIZED,
                "401 Unauthorized",
            ));
        }
        if project_id != project.path && project_id != PROJECT_ID.to_string() {
            return Err(message(
                axum::http::StatusCode::NOT_FOUND,
                "404 Project Not Found",
            ));
        }
        let api = Api::new(headers, &project.path);
        Ok((project, api))
    }
}

impl Project {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        let private = headers.get("private-token").and_then(|v| v.to_str().ok());
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        self.tokens
            .iter()
            .any(|t| private == Some(t.as_str()) || bearer == Some(t.as_str()))
    }
}
