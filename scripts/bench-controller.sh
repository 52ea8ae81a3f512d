#!/usr/bin/env bash
# scripts/bench-controller.sh — the controller at scale: N signing requests
# (default 1000), each for a distinct image (distinct digest and tag) in a
# loopback TLS docker-registry, reconciled by the real controller (release
# build) against tests/integration/doubles/fake_apiserver.py. Reports
# requests per second (creation of the first request to the last one
# Completed), the controller's resident memory over the run (peak, and at
# each quarter), and checks one signature per request.
#
#   bash scripts/bench-controller.sh [N]
#   IMPRIMATUR_CONCURRENCY=64 bash scripts/bench-controller.sh [N]
#
# The fake API server is Python (one process): at high rates it, not the
# controller, may set the pace; its CPU time is reported beside the
# controller's so that can be told.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
N=${1:-1000}
source scripts/deps.sh
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_system_packages
cargo build --locked --release --features kube --example controller --example imprimatur >/dev/null
CTL="$ROOT/target/release/examples/controller"
BIN="$ROOT/target/release/examples/imprimatur"

WORK=$(mktemp -d /var/tmp/imprimatur-bench-controller.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A TLS registry on loopback (the controller verifies TLS; SSL_CERT_FILE
# makes it trust this certificate).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$WORK/registry.key" -out "$WORK/registry.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/registry.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 2 -extfile "$WORK/ext.cnf" -out "$WORK/registry.crt" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/storage"
cat > "$WORK/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/storage}}
http: {addr: 127.0.0.1:$PORT, secret: bench, tls: {certificate: $WORK/registry.crt, key: $WORK/registry.key}}
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
PIDS+=("$REG_PID")
for _ in $(seq 100); do curl -sf --cacert "$WORK/ca.crt" "https://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done

# One real image, then N distinct manifests of it (an annotation each):
# N digests, N tags, the same layers.
LAYOUT=$(debian_layout)
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$LAYOUT:latest" "docker://127.0.0.1:$PORT/bench/app:base"
python3 - "$PORT" "$WORK/ca.crt" "$N" <<'PY'
import json, ssl, sys, http.client
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
conn.request("GET", "/v2/bench/app/manifests/base", headers={"Accept": accept})
r = conn.getresponse(); base = json.loads(r.read()); media = r.getheader("Content-Type")
for i in range(n):
    m = dict(base); m["annotations"] = {"bench.imprimatur/n": str(i)}
    conn.request("PUT", "/v2/bench/app/manifests/t%d" % i, body=json.dumps(m).encode(),
                 headers={"Content-Type": media})
    r = conn.getresponse(); r.read()
    assert r.status == 201, (r.status, i)
PY

"$BIN" keygen --userid "Bench <bench@example.com>" --secret-key-out "$WORK/release.key" \
  --public-key-out "$WORK/release.pub" >/dev/null
mkdir -p "$WORK/registries.d"
printf 'docker:\n  127.0.0.1:%s:\n    lookaside: file://%s/lookaside\n' "$PORT" "$WORK" > "$WORK/registries.d/bench.yaml"

# A watch history long enough for the whole run: the 410 Expired relists a
# short one causes are tested elsewhere (tests/integration/controller.rs).
python3 tests/integration/doubles/fake_apiserver.py --history 200000 > "$WORK/api.port" 2>"$WORK/api.log" &
API_PID=$!
PIDS+=("$API_PID")
for _ in $(seq 100); do grep -q listening "$WORK/api.port" 2>/dev/null && break; sleep 0.1; done
API=$(awk '/listening on/ {print $3}' "$WORK/api.port")
cat > "$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:$API"}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: team}}]
current-context: fake
EOF

# The key Secret, then the N requests (before the controller starts: its
# first list sees them all, as after a restart or an outage).
python3 - "$API" "$WORK/release.key" "$N" "$PORT" <<'PY'
import base64, json, sys, http.client
api, key, n, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", api)
def post(path, obj):
    conn.request("POST", path, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"})
    r = conn.getresponse(); body = r.read()
    assert r.status == 201, (r.status, body)
post("/api/v1/namespaces/team/secrets", {"apiVersion": "v1", "kind": "Secret",
     "metadata": {"name": "release", "namespace": "team"},
     "data": {"key": base64.b64encode(open(key, "rb").read()).decode()}})
for i in range(n):
    post("/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests",
         {"apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageSigningRequest",
          "metadata": {"name": "sign-%d" % i, "namespace": "team"},
          "spec": {"image": "docker://127.0.0.1:%s/bench/app:t%d" % (port, i),
                   "signingKeySecretName": "release"}})
PY

START=$(date +%s.%N)
env -i PATH="$PATH" HOME="$WORK" KUBECONFIG="$WORK/kubeconfig" SSL_CERT_FILE="$WORK/ca.crt" \
  IMPRIMATUR_SCANNER_IMAGE=registry.example/imprimatur:bench IMPRIMATUR_LEADER_ELECTION=off \
  IMPRIMATUR_REGISTRIES_D="$WORK/registries.d" IMPRIMATUR_LISTEN=127.0.0.1:0 \
  IMPRIMATUR_CONCURRENCY="${IMPRIMATUR_CONCURRENCY:-64}" \
  "$CTL" >"$WORK/controller.log" 2>&1 &
CTL_PID=$!
PIDS+=("$CTL_PID")

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
PEAK=0
declare -A AT
while :; do
  kill -0 "$CTL_PID" 2>/dev/null || { echo "the controller exited:"; tail -20 "$WORK/controller.log"; exit 1; }
  DONE=$(python3 - "$API" <<'PY'
import json, sys, http.client
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
conn.request("GET", "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests")
items = json.loads(conn.getresponse().read())["items"]
print(sum(1 for o in items if (o.get("status") or {}).get("phase") in ("Completed", "Failed")))
PY
)
  R=$(rss "$CTL_PID"); (( R > PEAK )) && PEAK=$R
  for q in 1 2 3 4; do
    if [[ -z "${AT[$q]:-}" ]] && (( DONE * 4 >= N * q )); then AT[$q]=$R; fi
  done
  (( DONE >= N )) && break
  sleep 1
done
END=$(date +%s.%N)
SIGS=$( (find "$WORK/lookaside" -name 'signature-*' 2>/dev/null || true) | wc -l)
CTL_CPU=$(awk '{printf "%.1f", ($14+$15)/100}' "/proc/$CTL_PID/stat")
API_CPU=$(awk '{printf "%.1f", ($14+$15)/100}' "/proc/$API_PID/stat")
REG_CPU=$(awk '{printf "%.1f", ($14+$15)/100}' "/proc/$REG_PID/stat")
ELAPSED=$(awk "BEGIN{printf \"%.1f\", $END - $START}")
echo
echo "controller: $N signing requests (distinct images) against the fake API server"
echo "  elapsed:            $ELAPSED s   ($(awk "BEGIN{printf \"%.1f\", $N / ($END - $START)}") requests/s)"
echo "  signatures:         $SIGS (one per request expected)"
echo "  controller RSS:     peak ${PEAK} KiB; at 25/50/75/100%: ${AT[1]:-?} / ${AT[2]:-?} / ${AT[3]:-?} / ${AT[4]:-?} KiB"
echo "  CPU time:           controller ${CTL_CPU} s, fake API server ${API_CPU} s, docker-registry ${REG_CPU} s"
# Where the time goes, from the fake API server's request log: each
# request's first status write (Running) to its last (Completed), how many
# were in flight at once, and the API calls per request.
curl -s "http://127.0.0.1:$API/_fake/log" > "$WORK/api-log.json"
python3 - "$WORK/api-log.json" "$START" <<'PY'
import json, re, statistics, sys
log = json.load(open(sys.argv[1]))["items"]
start = float(sys.argv[2])
status = re.compile(r"/imagesigningrequests/([^/]+)/status$")
spans, calls = {}, {}
for e in log:
    m = status.search(e["path"])
    if m and e["method"] == "PATCH":
        first, _ = spans.get(m.group(1), (e["time"], e["time"]))
        spans[m.group(1)] = (first, e["time"])
    kind = "status writes" if m else "events" if "/events" in e["path"] else \
        "secrets" if "/secrets/" in e["path"] else "watches and lists" if e["method"] == "GET" else "other"
    calls[kind] = calls.get(kind, 0) + 1
if not spans:
    sys.exit(0)
lat = sorted(b - a for a, b in spans.values())
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
edges = sorted([(a, 1) for a, _ in spans.values()] + [(b, -1) for _, b in spans.values()])
flight = peak = 0
for _, d in edges:
    flight += d
    peak = max(peak, flight)
firsts = sorted(a for a, _ in spans.values())
n = len(spans)
print("  first status write: %.1f s after start; the last request started %.1f s after start"
      % (firsts[0] - start, firsts[-1] - start))
print("  Running -> done:    median %.0f ms, p90 %.0f ms, max %.0f ms; at most %d in flight"
      % (statistics.median(lat) * 1000, q(0.9) * 1000, lat[-1] * 1000, peak))
print("  API calls/request:  " + ", ".join("%s %.1f" % (k, v / n) for k, v in sorted(calls.items())))
PY
if [[ "$SIGS" -ne "$N" ]]; then
  echo "expected $N signatures; one request's status and the controller's log:"
  curl -s "http://127.0.0.1:$API/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-0" | python3 -m json.tool | tail -25
  tail -20 "$WORK/controller.log"
  exit 1
fi
