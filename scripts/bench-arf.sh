#!/usr/bin/env bash
# scripts/bench-arf.sh — whole-process comparison on the same ARF files, in one run:
#
#   imprimatur arf summary          (release build of the example; counts only)
#   imprimatur arf report --format json   (full parse + JSON output)
#   oscap xccdf generate report     (OpenSCAP's own HTML report generation)
#   xmllint --stream --noout        (libxml2's streaming reader, no work done)
#   python3 lxml iterparse          (counting rule-results, clearing as it goes)
#
# and peak memory (GNU time's max RSS). Synthetic files 2x/4x/8x the largest corpus
# file (its arf:reports repeated) show that summary memory stays flat as files grow.
#
# Usage: scripts/bench-arf.sh [RUNS]    (median of RUNS runs, default 5; oscap: 1 run
#        on the synthetic files is skipped, 3 runs on the real ones)
# Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
PY=/usr/bin/python3            # Debian's python3 (python3-lxml)
for t in oscap xmllint /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see scripts/deps.sh)" >&2; exit 1; }
done
$PY -c 'import lxml.etree' 2>/dev/null || { echo "missing python3-lxml" >&2; exit 1; }

echo "==> building the release example" >&2
cargo build --release --quiet --example imprimatur
BIN=target/release/examples/imprimatur

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Real files (uncompressed), largest first.
REAL=(host-big-syschar-arf chroot-bullseye-standard-arf edge-xccdf12-arf)
for f in "${REAL[@]}"; do
  gzip -dc "tests/data/arf/$f.xml.gz" > "$WORK/$f.xml"
done

# Synthetic growth: the arf:reports of the largest file repeated k times.
$PY - "$WORK/host-big-syschar-arf.xml" "$WORK" <<'EOF'
import sys, os
src, out = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
start = data.index(b'<arf:reports>') + len(b'<arf:reports>')
end = data.index(b'</arf:reports>')
head, body, tail = data[:start], data[start:end], data[end:]
for k in (2, 4, 8):
    with open(os.path.join(out, f'grown-x{k}-arf.xml'), 'wb') as f:
        f.write(head); f.write(body * k); f.write(tail)
EOF

cat > "$WORK/lxml_count.py" <<'EOF'
import sys
from lxml import etree
X = ('{http://checklists.nist.gov/xccdf/1.2}', '{http://checklists.nist.gov/xccdf/1.1}')
n = 0
for _, el in etree.iterparse(sys.argv[1], events=('end',), huge_tree=True):
    if el.tag in (X[0] + 'rule-result', X[1] + 'rule-result'):
        n += 1
    el.clear()
print(n)
EOF

# measure RUNS CMD... → prints "median_wall_s max_rss_kb"
measure() {
  local runs=$1; shift
  local walls=() rss=0 t0 t1 r
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    /usr/bin/time -o "$WORK/time.out" -f '%M' "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}')")
    r=$(tail -1 "$WORK/time.out")
    (( r > rss )) && rss=$r
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med $rss"
}

row() { # file label runs cmd...
  local file=$1 label=$2 runs=$3; shift 3
  local size_mb res wall rss mbs
  size_mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN {printf "%.1f", b/1e6}')
  res=$(measure "$runs" "$@")
  wall=${res% *}; rss=${res#* }
  mbs=$(awk -v s="$size_mb" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", s/w; else print "—" }')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$(basename "$file")" "$size_mb" "$label" "$wall" "$mbs" \
    "$(awk -v k="$rss" 'BEGIN {printf "%.0f", k/1024}')"
}

echo
echo "oscap $(oscap --version | head -1 | awk '{print $NF}'), $(xmllint --version 2>&1 | head -1), lxml $($PY -c 'import lxml.etree as e; print(".".join(map(str, e.LXML_VERSION)))'), $(nproc) CPUs; median of $RUNS runs (oscap: 3), wall time incl. process start"
echo
echo "| file | MB | command | wall s | MB/s | max RSS MB |"
echo "|---|---|---|---|---|---|"
for f in "${REAL[@]}"; do
  x="$WORK/$f.xml"
  row "$x" "imprimatur arf summary" "$RUNS" "$BIN" arf summary "$x"
  row "$x" "imprimatur arf report --format json" "$RUNS" "$BIN" arf report "$x" --format json
  row "$x" "xmllint --stream --noout" "$RUNS" xmllint --stream --noout "$x"
  row "$x" "python3 lxml iterparse" "$RUNS" "$PY" "$WORK/lxml_count.py" "$x"
  row "$x" "oscap xccdf generate report" 3 oscap xccdf generate report "$x"
done
for k in 2 4 8; do
  x="$WORK/grown-x$k-arf.xml"
  row "$x" "imprimatur arf summary" "$RUNS" "$BIN" arf summary "$x"
  row "$x" "xmllint --stream --noout" "$RUNS" xmllint --stream --noout "$x"
done
