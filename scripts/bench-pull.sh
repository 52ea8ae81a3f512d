#!/usr/bin/env bash
# scripts/bench-pull.sh — pull and unpack of a multi-layer image from a
# docker-registry on loopback, measured in one run with alternating rounds:
#
#   imprimatur   imprimatur unpack docker://… DIR (download, digest check,
#                decompress and unpack in one pass per layer)
#   skopeo+umoci skopeo copy docker://… oci:L:t && umoci unpack --image L:t B
#   gzip|tar     for each layer blob (already on disk): gzip -dc | tar -x
#                (the single-stream limit: no download, no digest check)
#
# The image: the Debian 11 minbase root (cached, see scripts/debian-image.sh)
# plus two layers of this machine's /usr/share/locale and /usr/lib/python3,
# about 460 MB unpacked. Prints the median of ROUNDS rounds (default 5) and the
# ratios.
#
#   bash scripts/bench-pull.sh          ROUNDS=7 bash scripts/bench-pull.sh
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

WORK=$(mktemp -d /var/tmp/imprimatur-bench-pull.XXXXXX)
REG_PID=""
cleanup() { [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

LAYOUT=$(debian_layout)

echo "==> building a 3-layer image"
cp -a "$LAYOUT" "$WORK/layout"
( cd "$WORK"
  umoci unpack --image layout:latest b1 >/dev/null
  mkdir -p b1/rootfs/usr/share/locale-extra && cp -a /usr/share/locale/. b1/rootfs/usr/share/locale-extra/
  umoci repack --image layout:l2 b1 >/dev/null
  umoci unpack --image layout:l2 b2 >/dev/null
  mkdir -p b2/rootfs/usr/lib/python3-extra && cp -a /usr/lib/python3/. b2/rootfs/usr/lib/python3-extra/
  umoci repack --image layout:big b2 >/dev/null
  rm -rf b1 b2 )

start_registry "$WORK/registry"
PORT=$REG_PORT
IMAGE="docker://127.0.0.1:$PORT/bench/big:1"
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/layout:big" "$IMAGE"
"$BIN" inspect --tls-verify=false "$IMAGE" | sed -n '/Layers/,$p'

# The layer blobs, in order, for the gzip|tar baseline.
mapfile -t LAYERS < <(skopeo inspect --tls-verify=false "$IMAGE" | python3 -c 'import json,sys; print("\n".join(l.split(":")[1] for l in json.load(sys.stdin)["Layers"]))')

now() { date +%s.%N; }
declare -a T_OURS T_PEER T_TAR
for round in $(seq "$ROUNDS"); do
  rm -rf "$WORK/out"; mkdir -p "$WORK/out"; sync
  t0=$(now); "$BIN" unpack --tls-verify=false "$IMAGE" "$WORK/out/ours" >/dev/null; t1=$(now)
  T_OURS+=("$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")")
  rm -rf "$WORK/out"; mkdir -p "$WORK/out"; sync
  t0=$(now)
  skopeo copy -q --insecure-policy --src-tls-verify=false "$IMAGE" "oci:$WORK/out/layout:t"
  umoci unpack --image "$WORK/out/layout:t" "$WORK/out/bundle" >/dev/null
  t1=$(now)
  T_PEER+=("$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")")
  rm -rf "$WORK/out"; mkdir -p "$WORK/out/tar"; sync
  t0=$(now)
  for l in "${LAYERS[@]}"; do gzip -dc "$WORK/layout/blobs/sha256/$l" | tar -x -C "$WORK/out/tar" 2>/dev/null || true; done
  t1=$(now)
  T_TAR+=("$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")")
  echo "round $round: imprimatur ${T_OURS[-1]} s, skopeo+umoci ${T_PEER[-1]} s, gzip|tar ${T_TAR[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
M_OURS=$(median "${T_OURS[@]}"); M_PEER=$(median "${T_PEER[@]}"); M_TAR=$(median "${T_TAR[@]}")
SIZE=$(du -sm "$WORK/layout/blobs" | cut -f1)
echo
echo "medians over $ROUNDS rounds (image blobs ${SIZE} MB on disk incl. the base image):"
echo "  imprimatur unpack:        $M_OURS s"
echo "  skopeo copy + umoci:      $M_PEER s   ($(awk "BEGIN{printf \"%.2f\", $M_PEER / $M_OURS}")x imprimatur's time)"
echo "  gzip -dc | tar -x:        $M_TAR s   (imprimatur at $(awk "BEGIN{printf \"%.2f\", $M_OURS / $M_TAR}")x of it)"
