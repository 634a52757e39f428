//! Shared signature helpers.
