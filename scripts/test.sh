#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, as CI runs it.
#
#   bash scripts/test.sh
#
# 1. installs the system packages and cargo tools the tests need (as root; as
#    another user it prints the exact apt-get line and stops),
# 2. checks formatting, 3. runs clippy with -D warnings, 4. runs every test
#    (unit, doc, integration against the real skopeo/gpg/docker-registry/oscap),
# 5. runs cargo-deny (bans, licenses, sources).
#
# The integration tests start their own services (registry, gpg-agent) on
# loopback and stop them. Set CI=true to make a missing peer tool a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# A CI run starts from a fresh clone and never reuses incremental state, which
# would only take disk (gigabytes over the suite's feature combinations).
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
target_dir="${CARGO_TARGET_DIR:-target}"
report_disk() {
  local where="$target_dir"
  [ -d "$where" ] || where=.
  printf 'disk: %s free where the target dir is' \
    "$(df -h --output=avail "$where" | tail -1 | tr -d ' ')"
  if [ -d "$target_dir" ]; then printf ', target dir %s' "$(du -sh "$target_dir" | cut -f1)"; fi
  printf '\n'
}
report_disk

# shellcheck source=scripts/deps.sh
source scripts/deps.sh
install_system_packages
install_cargo_tool cargo-deny

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build: the controller (feature kube) for the integration tests"
# tests/integration/controller.rs runs the real controller binary against the
# fake API server (tests/integration/doubles/fake_apiserver.py). The test
# builds it too (a no-op once fresh); building it here first keeps that
# compile in its own step.
cargo build --example controller --features kube --locked

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "cargo test: optional features (oci-spec conversions)"
cargo clippy -p imprimatur-reference --all-targets --features oci-spec --locked -- -D warnings
cargo test -p imprimatur-reference --features oci-spec --locked

step "cargo test: the openshift feature (image streams, image signatures over kube's mock service)"
cargo clippy -p imprimatur-registry --features openshift --all-targets --locked -- -D warnings
cargo test -p imprimatur-registry --features openshift --locked openshift

step "cargo test: the kube feature (custom resources, CRDs in deploy/crds up to date)"
cargo clippy -p imprimatur-service --features kube --all-targets --locked -- -D warnings
cargo test -p imprimatur-service --features kube --locked
# examples/controller (root package, required-features = kube): lint with
# cfg(test) and run its reconcile tests (kube's client over tower-test). Its
# end-to-end tests against the fake API server ran with the integration tests
# above (tests/integration/controller.rs), once.
cargo clippy --example controller --features kube --profile test --locked -- -D warnings
cargo test --example controller --features kube --locked

step "cargo deny check bans licenses sources"
cargo deny --log-level error check bans licenses sources
# Every optional feature's tree too (kube, openshift, the crypto backends):
# deny only reads metadata, so mutually exclusive backends do not matter here.
cargo deny --all-features --log-level error check bans licenses sources

report_disk
step "all checks passed"
