//! Delivering the outbox: each message once, failing ones out of the way, failures seen.
