//! End-to-end tests: every conformance scenario, and the runner's own checks.

mod conformance;
mod runner;
