//! Folding a head commit's individual checks into one [`CheckState`], the same way on
//! every platform: one failure fails the whole, then anything unfinished keeps it pending.

use super::CheckState;

/// One check's result, in the platform-neutral vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckOutcome {
    Passing,
    Pending,
    Failing,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CheckTally {
    passing: usize,
    pending: usize,
    failing: usize,
}

impl CheckTally {
    pub(crate) fn add(&mut self, outcome: CheckOutcome) {
        match outcome {
            CheckOutcome::Passing => self.passing += 1,
            CheckOutcome::Pending => self.pending += 1,
            CheckOutcome::Failing => self.failing += 1,
        }
    }

    pub(crate) fn state(&self) -> CheckState {
        if self.failing > 0 {
            CheckState::Failing
        } else if self.pending > 0 {
            CheckState::Pending
        } else if self.passing > 0 {
            CheckState::Passing
        } else {
            CheckState::None
        }
    }
}

/// A commit status (`success`, `pending`, `failure`, `error`), as GitHub and CNB name them.
/// An unknown word counts as pending: it must not let a merge through.
pub(crate) fn commit_status(state: &str) -> CheckOutcome {
    match state.to_ascii_lowercase().as_str() {
        "success" => CheckOutcome::Passing,
        "failure" | "error" => CheckOutcome::Failing,
        _ => CheckOutcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_wins_then_pending_then_passing() {
        let tally = |outcomes: &[CheckOutcome]| {
            let mut t = CheckTally::default();
            outcomes.iter().for_each(|o| t.add(*o));
            t.state()
        };
        use CheckOutcome::*;
        assert_eq!(tally(&[]), CheckState::None);
        assert_eq!(tally(&[Passing, Passing]), CheckState::Passing);
        assert_eq!(tally(&[Passing, Pending]), CheckState::Pending);
        assert_eq!(tally(&[Pending, Failing, Passing]), CheckState::Failing);
        assert_eq!(commit_status("ERROR"), Failing);
        assert_eq!(commit_status("something new"), Pending);
    }
}
