//! Human gates (`gates` in the front matter): an approval before a run is dispatched, and
//! approval, passing checks and mergeability before baton merges a pull request.
//!
//! ```yaml
//! gates:
//!   approval_required: true        # a person approves before any run starts
//!   approval_label: baton:approved # ... by adding this label, or commenting `/baton approve`
//!   approvers: [alice, bob]        # who may approve (else triggers.allowed_associations)
//!   merge:
//!     auto: true                   # baton merges once every merge gate passes
//!     approval_required: true
//!     passing_checks_required: true
//!     mergeable_required: true
//! ```
//!
//! Who may approve is checked in the ingress, before anything is queued.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatesConfig {
    pub approval_required: bool,
    pub approval_label: String,
    /// Logins that may approve; empty: anyone who may run commands.
    pub approvers: Vec<String>,
    pub merge: MergeGates,
}

impl Default for GatesConfig {
    fn default() -> Self {
        Self {
            approval_required: false,
            approval_label: "baton:approved".into(),
            approvers: Vec::new(),
            merge: MergeGates::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MergeGates {
    /// Whether baton merges the pull request itself once the gates pass.
    pub auto: bool,
    pub approval_required: bool,
    pub passing_checks_required: bool,
    pub mergeable_required: bool,
}

impl Default for MergeGates {
    fn default() -> Self {
        Self {
            auto: false,
            approval_required: true,
            passing_checks_required: true,
            mergeable_required: true,
        }
    }
}

impl GatesConfig {
    /// Whether the issue already carries the approval label.
    pub fn is_approved_by_label(&self, labels: &[String]) -> bool {
        let wanted = self.approval_label.trim().to_lowercase();
        labels.iter().any(|l| l.to_lowercase() == wanted)
    }

    /// Whether `login` may approve; `may_command` is the workflow's command permission.
    pub fn may_approve(&self, login: &str, may_command: bool) -> bool {
        if self.approvers.is_empty() {
            may_command
        } else {
            self.approvers.iter().any(|a| a.eq_ignore_ascii_case(login))
        }
    }
}

/// What the merge gates look at, read from the platform just before merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeFacts {
    pub approved: bool,
    pub changes_requested: bool,
    /// `Some(true)`: every check passed (or none is configured); `None`: still running.
    pub checks_passing: Option<bool>,
    pub mergeable: Option<bool>,
}

impl MergeGates {
    /// Every gate that blocks the merge, in words; empty when baton may merge.
    pub fn blockers(&self, facts: &MergeFacts) -> Vec<String> {
        let mut blockers = Vec::new();
        if self.approval_required && (!facts.approved || facts.changes_requested) {
            blockers.push(if facts.changes_requested {
                "a reviewer requested changes".to_owned()
            } else {
                "no approving review yet".to_owned()
            });
        }
        if self.passing_checks_required {
            match facts.checks_passing {
                Some(true) => {}
                Some(false) => blockers.push("checks failed".to_owned()),
                None => blockers.push("checks are still running".to_owned()),
            }
        }
        if self.mergeable_required && facts.mergeable != Some(true) {
            blockers.push(match facts.mergeable {
                Some(false) => "the pull request has conflicts".to_owned(),
                _ => "mergeability is not known yet".to_owned(),
            });
        }
        blockers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> MergeFacts {
        MergeFacts {
            approved: true,
            changes_requested: false,
            checks_passing: Some(true),
            mergeable: Some(true),
        }
    }

    #[test]
    fn every_merge_gate_blocks_on_its_own() {
        let gates = MergeGates::default();
        assert!(gates.blockers(&facts()).is_empty());
        let cases = [
            (
                MergeFacts {
                    approved: false,
                    ..facts()
                },
                "no approving review yet",
            ),
            (
                MergeFacts {
                    changes_requested: true,
                    ..facts()
                },
                "a reviewer requested changes",
            ),
            (
                MergeFacts {
                    checks_passing: Some(false),
                    ..facts()
                },
                "checks failed",
            ),
            (
                MergeFacts {
                    checks_passing: None,
                    ..facts()
                },
                "checks are still running",
            ),
            (
                MergeFacts {
                    mergeable: Some(false),
                    ..facts()
                },
                "the pull request has conflicts",
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(gates.blockers(&facts), vec![expected.to_owned()]);
        }
    }

    #[test]
    fn gates_that_are_off_do_not_block() {
        let gates = MergeGates {
            auto: true,
            approval_required: false,
            passing_checks_required: false,
            mergeable_required: false,
        };
        let facts = MergeFacts {
            approved: false,
            changes_requested: true,
            checks_passing: Some(false),
            mergeable: Some(false),
        };
        assert!(gates.blockers(&facts).is_empty());
    }

    #[test]
    fn approvers_narrow_who_may_approve() {
        let open = GatesConfig::default();
        assert!(open.may_approve("anyone", true));
        assert!(!open.may_approve("anyone", false));
        let named = GatesConfig {
            approvers: vec!["Alice".into()],
            ..GatesConfig::default()
        };
        assert!(named.may_approve("alice", false));
        assert!(!named.may_approve("bob", true));
        assert!(named.is_approved_by_label(&["baton:approved".into()]));
    }
}
