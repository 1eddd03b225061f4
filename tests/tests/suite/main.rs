//! One integration test binary for the whole workspace: each module is a story a user
//! would check, driven through the same service as the CLI and the Lambda functions.

mod alerts;
mod bank;
mod composing;
mod delivery;
mod invoices;
mod microsoft;
mod payments;
mod renewal_cycle;
mod rules;
mod run_in_one_process;
mod transfers;
mod webhook;
