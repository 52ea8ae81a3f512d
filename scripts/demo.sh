#!/usr/bin/env bash
# scripts/demo.sh — the main job, end to end, on a fresh machine with no
# cluster and no container engine, printing each step:
#
#   1. build a small real Debian 11 image (debootstrap minbase, packed with umoci;
#      cached in /var/cache/imprimatur-test after the first run),
#   2. start a docker-registry on loopback and push the image with skopeo,
#   3. generate a signing key and the trust configuration nodes would get
#      (policy.json: reject by default, signedBy for the registry; registries.d:
#      a file:// lookaside),
#   4. scan the image with the Debian SCAP content and write the HTML report,
#   5. an ImageSigningRequest whose gate fails: nothing is signed, skopeo refuses,
#   6. one whose gate passes: scanned digest signed, published, read back,
#      policy-checked; run twice, still one signature,
#   7. skopeo copy under the generated policy accepts the image.
#
#   bash scripts/demo.sh            (as root: it installs what it needs)
#   KEEP=1 bash scripts/demo.sh     keep the work directory (report, lookaside, ...)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# shellcheck source=scripts/deps.sh
source scripts/deps.sh
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_system_packages

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# show CMD...: print the command (shell-quoted, on stderr), then run it.
show() { { printf '$'; printf ' %q' "$@"; echo; } >&2; "$@"; }

step "build the imprimatur CLI"
show cargo build --locked --example imprimatur
BIN="$ROOT/target/debug/examples/imprimatur"
imprimatur() { "$BIN" "$@"; }

WORK="$(mktemp -d /tmp/imprimatur-demo.XXXXXX)"
REG_PID=""
cleanup() {
  [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"

step "1. a real Debian 11 image (debootstrap --variant=minbase, packed by umoci)"
LAYOUT=$(debian_layout)

step "2. a docker-registry on loopback, and the image pushed to it"
start_registry "$WORK/registry"
PORT=$REG_PORT
IMAGE="127.0.0.1:$PORT/demo/debian:11"
show skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$LAYOUT:latest" "docker://$IMAGE"
show imprimatur inspect --tls-verify=false "docker://$IMAGE"

step "3. a signing key and the trust configuration for nodes"
mkdir -p keys
show imprimatur keygen --userid 'Release Signer <release@example.com>' \
  --secret-key-out keys/release --public-key-out release.pub
show imprimatur trust set --policy-path policy.json --registries-d registries.d --type reject default
show imprimatur trust set --policy-path policy.json --registries-d registries.d --type signedBy \
  --pubkeys "$WORK/release.pub" --lookaside "file://$WORK/lookaside" "127.0.0.1:$PORT"
cat policy.json registries.d/*.yaml

step "4. scan with the Debian SCAP Security Guide content (chosen from /etc/os-release)"
show imprimatur scan --tls-verify=false --report "$WORK/report.html" "docker://$IMAGE" 2>/dev/null
echo "HTML report: $WORK/report.html"

step "5. a signing request whose gate fails: no high-severity failure allowed"
cat > strict.yaml <<EOF
apiVersion: cop.redhat.com/v1alpha2
kind: ImageSigningRequest
metadata: {name: sign-debian-strict}
spec:
  image: docker://$IMAGE
  signingKeySecretName: release
  signingKeySignBy: release@example.com
  requireScan: true
  gate: {maxFailed: {high: 0}}
EOF
cat strict.yaml
set +e
show imprimatur request run strict.yaml --key-dir keys --registries-d registries.d \
  --policy policy.json --tls-verify=false 2>/dev/null | grep -E 'phase|GateFailed|reasons' -A1 | head -12
code=${PIPESTATUS[0]}
set -e
echo "exit code $code (1 = failed); signatures in the lookaside: $(find lookaside -type f 2>/dev/null | wc -l)"
if skopeo copy -q --policy policy.json --registries.d registries.d --src-tls-verify=false \
  "docker://$IMAGE" "dir:$WORK/refused" 2>err.txt; then
  echo "UNEXPECTED: skopeo accepted an unsigned image"; exit 1
fi
echo "skopeo refuses the unsigned image: $(head -c 200 err.txt)"

step "6. a signing request whose gate passes (thresholds the minbase image meets)"
cat > sign.yaml <<EOF
apiVersion: cop.redhat.com/v1alpha2
kind: ImageSigningRequest
metadata: {name: sign-debian}
spec:
  image: docker://$IMAGE
  signingKeySecretName: release
  signingKeySignBy: release@example.com
  requireScan: true
  gate:
    maxFailed: {high: 2, medium: 15, low: 10, unknown: 2}
EOF
cat sign.yaml
show imprimatur request run sign.yaml --key-dir keys --registries-d registries.d \
  --policy policy.json --tls-verify=false --report "$WORK/report-signed.html" 2>/dev/null | tee status.yaml
echo "--- again (idempotent):"
show imprimatur request run sign.yaml --key-dir keys --registries-d registries.d \
  --policy policy.json --tls-verify=false 2>/dev/null | grep -E 'phase|created|AlreadySigned'
find lookaside -type f

step "7. skopeo copy under the generated policy accepts the signed image"
show skopeo copy -q --policy policy.json --registries.d registries.d --src-tls-verify=false \
  "docker://$IMAGE" "dir:$WORK/accepted"
echo "accepted: $(ls "$WORK/accepted" | tr '\n' ' ')"

step "done: scanned, gated, signed, published, and accepted by skopeo"
echo "report: $WORK/report-signed.html (KEEP=1 keeps it)"
