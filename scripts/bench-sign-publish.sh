#!/usr/bin/env bash
# bench-sign-publish.sh — sign and publish the signatures of N images (one
# tag in each of N repositories of a loopback docker-registry), three ways:
#
#   1. imprimatur sign IMAGE… (all N in one process) into a file:// lookaside
#   2. imprimatur sign IMAGE… through the registry signature extension API
#      (tests/integration/doubles/extension_server.py in front of the registry)
#   3. skopeo copy --sign-by, once per image (how skopeo signs: it copies the
#      image onto itself), for the lookaside and for the extension API
#
# Usage: scripts/bench-sign-publish.sh [N] [IMPRIMATUR_BINARY]
# Needs: docker-registry, skopeo, umoci, gpg, python3, curl. Prints seconds
# and images/s per way. Everything lives in a temporary directory.
set -euo pipefail

N="${1:-40}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMP="${2:-$ROOT/target/debug/examples/imprimatur}"
[[ -x "$IMP" ]] || { echo "build it first: cargo build --example imprimatur" >&2; exit 2; }
for t in docker-registry skopeo umoci gpg python3 curl; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done

W="$(mktemp -d /tmp/imp-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  GNUPGHOME="$W/gnupg" gpgconf --kill all 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); print('%7.2f s  %7.1f images/s' % (t, int(sys.argv[3])/t))" "$@"; }

# Registry and extension double.
RPORT=$(free_port)
"${START_REGISTRY:-$ROOT/../shared/recipes/start-registry.sh}" "$RPORT" "$W/registry" >/dev/null
PIDS+=("$(cat "$W/registry/registry.pid")")
python3 "$ROOT/tests/integration/doubles/extension_server.py" --upstream "127.0.0.1:$RPORT" > "$W/ext.out" &
PIDS+=("$!")
for _ in $(seq 100); do grep -q listening "$W/ext.out" 2>/dev/null && break; sleep 0.1; done
XPORT=$(awk '{print $3}' "$W/ext.out")
REG="127.0.0.1:$RPORT"
EXT="127.0.0.1:$XPORT"

# One small image, pushed to N repositories on both (blobs are shared).
(cd "$W" && umoci init --layout oci >/dev/null && umoci new --image oci:base >/dev/null \
  && umoci unpack --rootless --image oci:base bundle >/dev/null \
  && mkdir -p bundle/rootfs/etc && echo bench > bundle/rootfs/etc/motd \
  && umoci repack --image oci:v1 bundle >/dev/null)
for host in "$REG" "$EXT"; do
  for i in $(seq "$N"); do
    skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$W/oci:v1" "docker://$host/bench/r$i:v1"
  done
done

# Keys: ours and gpg's (same algorithm: Ed25519).
"$IMP" keygen --userid "bench <bench@example.test>" --secret-key-out "$W/k" --public-key-out "$W/k.pub" >/dev/null
mkdir -m 700 "$W/gnupg"
export GNUPGHOME="$W/gnupg"
gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "gpg <gpg@example.test>" ed25519 sign never 2>/dev/null
FPR=$(gpg --with-colons --list-keys gpg@example.test 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')

mkdir -p "$W/regd-imp" "$W/regd-sko"
printf 'default-docker:\n  lookaside: file://%s/look-imp\n' "$W" > "$W/regd-imp/d.yaml"
printf 'default-docker:\n  lookaside: file://%s/look-sko\n' "$W" > "$W/regd-sko/d.yaml"

images() { for i in $(seq "$N"); do echo "docker://$1/bench/r$i:v1"; done; }

echo "N=$N images, $(basename "$IMP") at $IMP"

t0=$(now)
"$IMP" sign --key "$W/k" --registries-d "$W/regd-imp" --tls-verify=false $(images "$REG") > /dev/null
t1=$(now)
echo "imprimatur sign IMAGE…   file lookaside : $(rate "$t0" "$t1" "$N")"

t0=$(now)
"$IMP" sign --key "$W/k" --registries-d "$W/regd-imp" --tls-verify=false $(images "$EXT") > /dev/null
t1=$(now)
echo "imprimatur sign IMAGE…   extension API  : $(rate "$t0" "$t1" "$N")"

t0=$(now)
for img in $(images "$REG"); do
  skopeo copy -q --insecure-policy --src-tls-verify=false --dest-tls-verify=false \
    --registries.d "$W/regd-sko" --sign-by "$FPR" "$img" "$img"
done
t1=$(now)
echo "skopeo copy --sign-by    file lookaside : $(rate "$t0" "$t1" "$N")"

t0=$(now)
for img in $(images "$EXT"); do
  skopeo copy -q --insecure-policy --src-tls-verify=false --dest-tls-verify=false \
    --registries.d "$W/regd-sko" --sign-by "$FPR" "$img" "$img"
done
t1=$(now)
echo "skopeo copy --sign-by    extension API  : $(rate "$t0" "$t1" "$N")"

# Sanity: every image has exactly one signature of each kind.
n_imp=$(find "$W/look-imp" -name 'signature-*' | wc -l)
n_sko=$(find "$W/look-sko" -name 'signature-*' | wc -l)
echo "lookaside files: imprimatur $n_imp, skopeo $n_sko (expected $N each)"
