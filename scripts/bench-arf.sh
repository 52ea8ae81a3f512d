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
# Usage: scripts/bench-arf.sh [RUNS]    (median of RUNS runs, default 5, the commands
#        run round-robin; oscap at most 3 runs, and not on the synthetic files)
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

# set_cmd IDX FILE: sets CMD to the IDX-th command of the comparison on FILE.
LABELS=("imprimatur arf summary" "imprimatur arf report --format json" "xmllint --stream --noout"
        "python3 lxml iterparse" "oscap xccdf generate report")
set_cmd() {
  local x=$2
  case $1 in
    0) CMD=("$BIN" arf summary "$x") ;;
    1) CMD=("$BIN" arf report "$x" --format json) ;;
    2) CMD=(xmllint --stream --noout "$x") ;;
    3) CMD=("$PY" "$WORK/lxml_count.py" "$x") ;;
    4) CMD=(oscap xccdf generate report "$x") ;;
  esac
}

# bench_file FILE IDX...: runs the commands round-robin (so load changes hit all of
# them alike), RUNS times (oscap at most 3), and prints one table row per command:
# median wall time, MB/s, max RSS.
bench_file() {
  local file=$1; shift
  local idxs=("$@") i run t0 t1 r size_mb
  size_mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN {printf "%.1f", b/1e6}')
  for i in "${idxs[@]}"; do : > "$WORK/walls.$i"; echo 0 > "$WORK/rss.$i"; done
  for run in $(seq "$RUNS"); do
    for i in "${idxs[@]}"; do
      (( i == 4 && run > 3 )) && continue
      t0=$(date +%s%N)
      set_cmd "$i" "$file"
      /usr/bin/time -o "$WORK/time.out" -f '%M' "${CMD[@]}" >/dev/null 2>&1 || true
      t1=$(date +%s%N)
      awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b-a)/1e9}' >> "$WORK/walls.$i"
      r=$(tail -1 "$WORK/time.out")
      (( r > $(cat "$WORK/rss.$i") )) && echo "$r" > "$WORK/rss.$i"
    done
  done
  for i in "${idxs[@]}"; do
    local wall mbs rss
    wall=$(sort -n "$WORK/walls.$i" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    mbs=$(awk -v s="$size_mb" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", s/w; else print "—" }')
    rss=$(awk -v k="$(cat "$WORK/rss.$i")" 'BEGIN {printf "%.0f", k/1024}')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$(basename "$file")" "$size_mb" "${LABELS[$i]}" "$wall" "$mbs" "$rss"
  done
}

echo
echo "oscap $(oscap --version | head -1 | awk '{print $NF}'), $(xmllint --version 2>&1 | head -1), lxml $($PY -c 'import lxml.etree as e; print(".".join(map(str, e.LXML_VERSION)))'), $(nproc) CPUs; median of $RUNS runs (oscap: 3), round-robin, wall time incl. process start"
echo
echo "| file | MB | command | wall s | MB/s | max RSS MB |"
echo "|---|---|---|---|---|---|"
for f in "${REAL[@]}"; do
  bench_file "$WORK/$f.xml" 0 1 2 3 4
done
for k in 2 4 8; do
  bench_file "$WORK/grown-x$k-arf.xml" 0 2
done
