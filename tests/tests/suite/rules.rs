//! Rules where they meet: plan changes, reductions, mixed terms and renewal off.
