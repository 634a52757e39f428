//! The ingress: the HTTP edge that turns signed webhooks into durable jobs.
