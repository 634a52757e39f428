//! The five profiles Maestro names, as contracts: routes, deliverable, tools, and what the
//! agent is told.

use super::{Deliverable, ProfileKind, ProfileSpec, RouteAction};
use crate::workflow::host_tools;
use RouteAction::{Dispatch, Stop, TransitionThenDispatch, Wait};

const CODING: ProfileSpec = ProfileSpec {
    kind: ProfileKind::CodingPrDelivery,
    routes: &[
        ("planning", TransitionThenDispatch { to: "developing" }),
        ("developing", Dispatch),
        ("review", Wait),
        ("merging", Wait),
        ("rework", Dispatch),
        ("resolved", Stop),
        ("rejected", Stop),
    ],
    deliverable: Deliverable::PullRequest,
    after_delivery: Some("review"),
    after_merge: Some("resolved"),
    tools: host_tools::CODING,
    contract: "Change the code in the workspace to resolve the issue and leave the changes \
               in the working tree; baton commits them, pushes the work branch and opens the \
               pull request. Run the project's tests before you stop.",
};

const ANALYSIS: ProfileSpec = ProfileSpec {
    kind: ProfileKind::RequirementAnalysis,
    routes: &[
        ("intake", TransitionThenDispatch { to: "analyzing" }),
        ("analyzing", Dispatch),
        ("needs_info", Wait),
        ("review", Wait),
        ("ready", Stop),
        ("rejected", Stop),
    ],
    deliverable: Deliverable::AnalysisComment,
    after_delivery: Some("review"),
    after_merge: None,
    tools: host_tools::READ_AND_REPORT,
    contract: "Analyse the requirement: scope, affected areas, risks, open questions. Do not \
               change code. Your final message is posted on the issue as the analysis.",
};

const REFINEMENT: ProfileSpec = ProfileSpec {
    kind: ProfileKind::RequirementRefinement,
    routes: &[
        ("draft", TransitionThenDispatch { to: "refining" }),
        ("refining", Dispatch),
        ("needs_decision", Wait),
        ("review", Wait),
        ("ready", Stop),
        ("rejected", Stop),
    ],
    deliverable: Deliverable::AcceptanceCriteria,
    after_delivery: Some("review"),
    after_merge: None,
    tools: host_tools::READ_AND_REPORT,
    contract: "Refine the requirement into testable acceptance criteria. Your final message \
               must contain a heading `Acceptance criteria` followed by a checklist \
               (`- [ ] ...`), one item per criterion; it is posted on the issue.",
};

const REVIEW_ROUTING: ProfileSpec = ProfileSpec {
    kind: ProfileKind::ReviewRouting,
    routes: &[
        ("pending_review", TransitionThenDispatch { to: "routing" }),
        ("routing", Dispatch),
        ("needs_context", Wait),
        ("assigned", Wait),
        ("escalated", Wait),
        ("completed", Stop),
        ("rejected", Stop),
    ],
    deliverable: Deliverable::ReviewerAssignment,
    after_delivery: Some("assigned"),
    after_merge: None,
    tools: host_tools::REVIEW_ROUTING,
    contract: "Choose who should review this work. Write `.baton/result.json` as \
               {\"reviewers\": [\"login\", ...], \"reason\": \"...\"} with at least one reviewer.",
};

const TRIAGE: ProfileSpec = ProfileSpec {
    kind: ProfileKind::Triage,
    routes: &[
        ("intake", TransitionThenDispatch { to: "classifying" }),
        ("classifying", Dispatch),
        ("needs_info", Wait),
        ("routed", Stop),
        ("duplicate", Stop),
        ("rejected", Stop),
    ],
    deliverable: Deliverable::LabelsAndPriority,
    after_delivery: Some("routed"),
    after_merge: None,
    tools: host_tools::TRIAGE,
    contract: "Classify the issue. Write `.baton/result.json` as {\"labels\": [\"...\"], \
               \"priority\": 1-4, \"reason\": \"...\"} with at least one label; priority 1 is \
               the most urgent.",
};

impl ProfileKind {
    pub fn spec(self) -> &'static ProfileSpec {
        match self {
            Self::CodingPrDelivery => &CODING,
            Self::RequirementAnalysis => &ANALYSIS,
            Self::RequirementRefinement => &REFINEMENT,
            Self::ReviewRouting => &REVIEW_ROUTING,
            Self::Triage => &TRIAGE,
        }
    }
}
