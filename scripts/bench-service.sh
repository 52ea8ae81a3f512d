#!/usr/bin/env bash
# scripts/bench-service.sh — the scanning and signing service against the shell
# pipeline a user would write for the same result, on the same real Debian 11
# image in a loopback docker-registry, alternating rounds, medians:
#
#   imprimatur scan          resolve, pull+unpack, oscap, parse (one process)
#   imprimatur request run   scan, gate, sign, publish to a file:// lookaside, verify
#                            (scratch root where it goes by default: in memory,
#                            /dev/shm, when the image fits comfortably)
#   … --scratch-dir          the same request with the scratch root on disk
#                            (/var/tmp, as the shell pipeline's umoci unpack)
#   shell pipeline           skopeo copy docker://… oci:L:t; umoci unpack;
#                            oscap-chroot … xccdf eval; skopeo standalone-sign;
#                            cp into the lookaside
#   oscap alone              oscap-chroot on an already unpacked root
#   gzip|tar                 gzip -dc | tar -x of the same layer blob(s)
#
# and the split of `imprimatur scan` (pull+unpack, oscap, parse) from its JSON
# progress events. ROUNDS (default 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-5}
source scripts/deps.sh
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_system_packages
cargo build --locked --release --example imprimatur >/dev/null
BIN="$ROOT/target/release/examples/imprimatur"
DS=/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml
PROFILE=xccdf_org.ssgproject.content_profile_standard

WORK=$(mktemp -d /var/tmp/imprimatur-bench-service.XXXXXX)
REG_PID=""
cleanup() {
  [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null
  gpgconf --kill all 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export GNUPGHOME="$WORK/gnupg"; mkdir -m 700 "$GNUPGHOME"

LAYOUT=$(debian_layout)

start_registry "$WORK/registry"
PORT=$REG_PORT
REF="127.0.0.1:$PORT/bench/debian:11"
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$LAYOUT:latest" "docker://$REF"

# One key, in both forms: gpg's keyring for skopeo, an export for imprimatur.
gpg --batch --passphrase '' --quick-gen-key 'Bench <bench@example.com>' ed25519 sign never 2>/dev/null
FPR=$(gpg --with-colons --list-secret-keys bench@example.com | awk -F: '/^fpr/{print $10; exit}')
mkdir -p "$WORK/keys"
gpg --batch --export-secret-keys --armor "$FPR" > "$WORK/keys/bench"
gpg --batch --export --armor "$FPR" > "$WORK/bench.pub"
"$BIN" trust set --policy-path "$WORK/policy.json" --registries-d "$WORK/registries.d" --type reject default >/dev/null
"$BIN" trust set --policy-path "$WORK/policy.json" --registries-d "$WORK/registries.d" --type signedBy \
  --pubkeys "$WORK/bench.pub" --lookaside "file://$WORK/lookaside" "127.0.0.1:$PORT" >/dev/null
cat > "$WORK/sign.yaml" <<EOF
apiVersion: cop.redhat.com/v1alpha2
kind: ImageSigningRequest
metadata: {name: bench}
spec:
  image: docker://$REF
  signingKeySecretName: bench
  requireScan: true
  gate: {maxFailed: {high: 10, medium: 50, low: 50, unknown: 10}}
EOF
BLOBS=$(python3 - "$LAYOUT" <<'PY'
import json, sys, os
root = sys.argv[1]
idx = json.load(open(os.path.join(root, "index.json")))
m = json.load(open(os.path.join(root, "blobs/sha256", idx["manifests"][0]["digest"].split(":")[1])))
print(" ".join(os.path.join(root, "blobs/sha256", l["digest"].split(":")[1]) for l in m["layers"]))
PY
)
umoci unpack --image "$LAYOUT:latest" "$WORK/unpacked" >/dev/null

now() { date +%s.%N; }
el() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
declare -a A B C D E U O P R
for round in $(seq "$ROUNDS"); do
  rm -rf "$WORK/lookaside" "$WORK/shell"; sync
  t0=$(now); "$BIN" scan --tls-verify=false "docker://$REF" >"$WORK/scan.txt" 2>/dev/null; t1=$(now); A+=("$(el "$t0" "$t1")")
  # The split, as the scan measured it: "time: pull+unpack X s, oscap Y s, parse Z s".
  read -r P1 P2 P3 < <(awk '/^time:/ {gsub(/[^0-9. ]/," "); print $1, $2, $3}' "$WORK/scan.txt")
  O+=("$P2"); P+=("$P1/$P3")
  t0=$(now); "$BIN" request run "$WORK/sign.yaml" --key-dir "$WORK/keys" --registries-d "$WORK/registries.d" \
    --policy "$WORK/policy.json" --tls-verify=false >/dev/null 2>&1; t1=$(now); B+=("$(el "$t0" "$t1")")
  t0=$(now); "$BIN" request run "$WORK/sign.yaml" --key-dir "$WORK/keys" --registries-d "$WORK/registries.d" \
    --policy "$WORK/policy.json" --tls-verify=false --scratch-dir "$WORK" >/dev/null 2>&1; t1=$(now); R+=("$(el "$t0" "$t1")")
  t0=$(now)
  mkdir -p "$WORK/shell"
  skopeo copy -q --insecure-policy --src-tls-verify=false "docker://$REF" "oci:$WORK/shell/layout:t"
  umoci unpack --image "$WORK/shell/layout:t" "$WORK/shell/bundle" >/dev/null
  oscap-chroot "$WORK/shell/bundle/rootfs" xccdf eval --profile "$PROFILE" --results-arf "$WORK/shell/arf.xml" "$DS" >/dev/null 2>&1 || true
  skopeo inspect --raw --tls-verify=false "docker://$REF" > "$WORK/shell/manifest.json"
  DIG=$(skopeo manifest-digest "$WORK/shell/manifest.json")
  skopeo standalone-sign "$WORK/shell/manifest.json" "$REF" "$FPR" -o "$WORK/shell/sig"
  mkdir -p "$WORK/lookaside-shell/bench/debian@${DIG/:/=}"
  cp "$WORK/shell/sig" "$WORK/lookaside-shell/bench/debian@${DIG/:/=}/signature-$round"
  t1=$(now); C+=("$(el "$t0" "$t1")")
  t0=$(now); oscap-chroot "$WORK/unpacked/rootfs" xccdf eval --profile "$PROFILE" --results-arf "$WORK/o.xml" "$DS" >/dev/null 2>&1 || true; t1=$(now); D+=("$(el "$t0" "$t1")")
  rm -rf "$WORK/tar"; mkdir -p "$WORK/tar"; sync
  t0=$(now); for b in $BLOBS; do gzip -dc "$b" | tar -x -C "$WORK/tar" 2>/dev/null || true; done; t1=$(now); E+=("$(el "$t0" "$t1")")
  rm -rf "$WORK/u"; sync
  t0=$(now); "$BIN" unpack --tls-verify=false "docker://$REF" "$WORK/u" >/dev/null; t1=$(now); U+=("$(el "$t0" "$t1")")
  echo "round $round: scan ${A[-1]} (pull+unpack/parse ${P[-1]}, oscap ${O[-1]})  request ${B[-1]} (disk scratch ${R[-1]})  shell ${C[-1]}  oscap ${D[-1]}  gzip|tar ${E[-1]}  unpack ${U[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
MA=$(median "${A[@]}"); MB=$(median "${B[@]}"); MC=$(median "${C[@]}"); MD=$(median "${D[@]}"); ME=$(median "${E[@]}"); MU=$(median "${U[@]}"); MR=$(median "${R[@]}")
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
echo
echo "medians over $ROUNDS rounds (seconds):"
echo "  imprimatur scan:                 $MA"
echo "  imprimatur request run:          $MB   (scan+gate+sign+publish+verify)"
echo "  request run, scratch on disk:    $MR"
echo "  shell pipeline:                  $MC   ($(ratio "$MC" "$MB")x the request's time, $(ratio "$MC" "$MR")x with the scratch on disk)"
echo "  oscap-chroot alone:              $MD"
echo "  gzip -dc | tar -x:               $ME"
echo "  imprimatur unpack alone:         $MU"
BEYOND=$(awk "BEGIN{printf \"%.2f\", $MB - $MD}")
echo "  request time beyond oscap:       $BEYOND   ($(ratio "$BEYOND" "$ME")x gzip|tar)"
BEYOND_DISK=$(awk "BEGIN{printf \"%.2f\", $MR - $MD}")
echo "  … with the scratch on disk:      $BEYOND_DISK   ($(ratio "$BEYOND_DISK" "$ME")x gzip|tar)"
