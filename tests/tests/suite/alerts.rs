//! What the operator and a late customer are told: alerts and catch-up wording.
