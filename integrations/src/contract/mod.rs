//! Contract suites: one behaviour, every adapter.

pub mod tracker;
