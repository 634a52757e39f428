//! Helpers shared by the permission tests.
#![allow(dead_code)] // Each test binary uses its own part.

pub mod permissions;
pub mod rust_source;
