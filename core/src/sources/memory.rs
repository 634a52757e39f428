//! The in-memory tracker of `baton dev`: baton's own board, one per workflow.

use super::Source;
use crate::domain::{IssueSnapshot, SourceKind};

pub struct MemorySource;

impl Source for MemorySource {
    fn kind(&self) -> SourceKind {
        SourceKind::Memory
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        crate::sources::contract::Samples {
            scope: None,
            webhook: None,
        }
    }

    /// It has no states of its own, so it takes Linear's names, as the tracker contract
    /// seeds it.
    fn default_active_states(&self) -> &'static [&'static str] {
        &["todo", "in progress"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["done", "closed", "cancelled", "canceled"]
    }

    /// One board per workflow: nothing to narrow.
    fn scope_key(&self) -> Option<&'static str> {
        None
    }

    fn check_scope(&self, _value: &str) -> Result<(), &'static str> {
        Ok(())
    }

    fn in_scope(&self, _issue: &IssueSnapshot, _value: &str) -> bool {
        false
    }
}
