#!/usr/bin/env bash
# scripts/lib.sh — sourced by demo.sh and the bench scripts: the cached Debian
# image and a docker-registry on loopback.

IMPRIMATUR_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# debian_layout: prints the OCI layout of the Debian 11 minbase image, building
# it once (debootstrap + umoci, about 2 minutes) into $IMPRIMATUR_TEST_CACHE
# (default /var/cache/imprimatur-test), as the integration tests do.
debian_layout() {
  local cache=${IMPRIMATUR_TEST_CACHE:-/var/cache/imprimatur-test}
  local layout="$cache/bullseye-layout"
  if [[ ! -f "$layout/index.json" ]]; then
    mkdir -p "$cache"
    bash "$IMPRIMATUR_SCRIPTS/debian-image.sh" bullseye "$layout.building-$$" latest >&2
    mv "$layout.building-$$" "$layout"
  fi
  echo "$layout"
}

# start_registry DIR: starts docker-registry on a free loopback port with its
# storage in DIR, waits until /v2/ answers, and sets REG_PORT and REG_PID
# (the caller kills REG_PID when done).
start_registry() {
  local dir=$1
  REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  cat > "$dir/config.yml" <<EOF2
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/storage}}
http: {addr: 127.0.0.1:$REG_PORT, secret: local}
EOF2
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  local _
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0
    sleep 0.1
  done
  echo "docker-registry did not start:" >&2; cat "$dir/log" >&2
  return 1
}
