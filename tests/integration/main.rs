//! The one integration test binary (as in ripgrep): each module tests one
//! area against the real peers (skopeo, gpg, docker-registry, oscap, …).
//!
//! Tests that need an external tool call [`util::require_tool`]: when the tool
//! is missing they fail if `CI` is set and are skipped (with a message) otherwise.

mod arf;
mod controller;
mod deploy;
mod machineconfig;
mod peers;
mod policy;
mod reference;
mod registry;
mod service;
mod signing;
mod sigstore;
mod stores;
mod util;
