#!/usr/bin/env bash
# scripts/bench-verify-memory.sh — the memory of a long-running verifier:
# N distinct signatures (default 200000) verified with imprimatur's Verifier
# and, for comparison, with sequoia's Signature::verify_message, whose
# process-wide cache of verified signatures is never evicted. Prints the
# resident set size as it goes (crates/signature/examples/verify_memory.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run --locked --release -q -p imprimatur-signature --example verify_memory -- "${1:-200000}"
