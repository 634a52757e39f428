//! Test support for the Lambda functions: invoke a packaged `bootstrap` as Lambda does,
//! through a local stand-in for the Lambda Runtime API.

pub mod bootstrap;
pub mod runtime_api;

pub use bootstrap::{binary, report, Bootstrap};
pub use runtime_api::{Outcome, RuntimeApi};
