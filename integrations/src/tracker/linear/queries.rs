//! The GraphQL documents the Linear adapter sends, each with the operation name the request
//! carries (Linear logs it, and it makes a failing call easy to find).

/// One GraphQL operation: its name and its document.
#[derive(Debug, Clone, Copy)]
pub(super) struct Operation {
    pub name: &'static str,
    pub document: &'static str,
}

/// The issue fields every read asks for; `inverseRelations` of type `blocks` are the issues
/// that block this one.
macro_rules! issue_fields {
    () => {
        "id identifier title description priority url branchName createdAt updatedAt
        state { name }
        assignee { id }
        creator { name }
        labels { nodes { name } }
        inverseRelations { nodes { type issue { id identifier state { name } } } }"
    };
}

pub(super) const ISSUE: Operation = Operation {
    name: "BatonIssue",
    document: concat!(
        "query BatonIssue($id: String!) { issue(id: $id) { ",
        issue_fields!(),
        " } }"
    ),
};

pub(super) const ISSUES: Operation = Operation {
    name: "BatonIssues",
    document: concat!(
        "query BatonIssues($filter: IssueFilter, $first: Int!, $after: String) { ",
        "issues(filter: $filter, first: $first, after: $after) { nodes { ",
        issue_fields!(),
        " } pageInfo { hasNextPage endCursor } } }"
    ),
};

/// What a state move needs: the current state, and the states of the issue's team (a state
/// id is only valid within its team).
pub(super) const ISSUE_STATES: Operation = Operation {
    name: "BatonIssueStates",
    document: "query BatonIssueStates($id: String!) { issue(id: $id) { id state { id name } \
               team { id states(first: 100) { nodes { id name } } } } }",
};

pub(super) const COMMENT_CREATE: Operation = Operation {
    name: "BatonCommentCreate",
    document: "mutation BatonCommentCreate($issueId: String!, $body: String!) { \
               commentCreate(input: { issueId: $issueId, body: $body }) { success comment { id url } } }",
};

pub(super) const COMMENT_UPDATE: Operation = Operation {
    name: "BatonCommentUpdate",
    document: "mutation BatonCommentUpdate($id: String!, $body: String!) { \
               commentUpdate(id: $id, input: { body: $body }) { success } }",
};

pub(super) const ISSUE_UPDATE_STATE: Operation = Operation {
    name: "BatonIssueUpdateState",
    document: "mutation BatonIssueUpdateState($id: String!, $stateId: String!) { \
               issueUpdate(id: $id, input: { stateId: $stateId }) { success issue { state { name } } } }",
};

pub(super) const AGENT_ACTIVITY_CREATE: Operation = Operation {
    name: "BatonAgentActivityCreate",
    document: "mutation BatonAgentActivityCreate($input: AgentActivityCreateInput!) { \
               agentActivityCreate(input: $input) { success agentActivity { id } } }",
};

pub(super) const AGENT_SESSION_UPDATE: Operation = Operation {
    name: "BatonAgentSessionUpdate",
    document: "mutation BatonAgentSessionUpdate($id: String!, $input: AgentSessionUpdateInput!) { \
               agentSessionUpdate(id: $id, input: $input) { success } }",
};
