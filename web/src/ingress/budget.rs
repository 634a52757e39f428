//! The memory held by webhook bodies waiting for verification, bounded across all requests.
//!
//! Each body takes its bytes from one process-wide budget before they are buffered: the
//! declared `Content-Length` up front, or each frame as it arrives for a chunked body. When
//! the budget is spent the request is refused with 503 and `Retry-After` instead of
//! buffering: 150 concurrent 6 MB bodies cost at most the budget, never 900 MB.

use std::sync::Arc;
use tokio::sync::Semaphore;

/// The process-wide byte budget; cheap to clone.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// The budget is spent: the caller answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSpent;

impl BodyBudget {
    pub fn new(total_bytes: usize) -> Self {
        let total = total_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The budget's size in bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes not held by any body right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// An empty hold, grown with [`Held::grow`].
    pub fn hold(&self) -> Held {
        Held {
            budget: Arc::clone(&self.bytes),
            bytes: 0,
        }
    }
}

/// Bytes taken from the budget; given back when dropped.
#[derive(Debug)]
pub struct Held {
    budget: Arc<Semaphore>,
    bytes: usize,
}

impl Held {
    /// Takes `bytes` more without waiting, or refuses when the budget cannot cover them.
    pub fn grow(&mut self, bytes: usize) -> Result<(), BudgetSpent> {
        if bytes == 0 {
            return Ok(());
        }
        let permits = u32::try_from(bytes).map_err(|_| BudgetSpent)?;
        let permit = self
            .budget
            .try_acquire_many(permits)
            .map_err(|_| BudgetSpent)?;
        // Given back in `Drop`, as one sum, rather than as many permits held.
        permit.forget();
        self.bytes += bytes;
        Ok(())
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.add_permits(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_bounded_and_given_back() {
        let budget = BodyBudget::new(100);
        let mut first = budget.hold();
        assert_eq!(first.grow(60), Ok(()));
        let mut second = budget.hold();
        assert_eq!(second.grow(50), Err(BudgetSpent));
        assert_eq!(second.grow(40), Ok(()));
        assert_eq!(budget.available(), 0);
        drop(first);
        assert_eq!(budget.available(), 60);
        assert_eq!(second.bytes(), 40);
        drop(second);
        assert_eq!(budget.available(), budget.total());
    }
}
