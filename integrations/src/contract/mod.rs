//! Contract suites: one behaviour, every adapter.

pub mod fake_tracker;
pub mod repo;
pub mod tracker;
