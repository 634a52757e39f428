//! baton's web edge: everything that speaks HTTP to people and trackers, over the kernel
//! (`baton_core`).
//!
//! `ingress` serves webhooks (the pipeline itself, with no HTTP in it, is
//! `baton_core::ingress`), `api` the read API and its OpenAPI document, `dashboard` its HTML
//! pages; all are axum routers that merge into one, served by `lambda_http` on Lambda and by
//! `axum::serve` in `baton dev`. `series` reads the trends back for the metrics API, the
//! dashboard's charts and `baton status --since`.

pub mod api;
pub mod dashboard;
mod http_error;
pub mod ingress;
pub mod series;
