//! Contract suites: one behaviour, every adapter.

pub mod repo;
pub mod tracker;
