#!/usr/bin/env bash
# scripts/deps.sh — sourced by the other scripts: installs what they need.

# Debian packages: the peers we test against, and what the crates build with.
SYSTEM_PACKAGES=(
  # building: sequoia's nettle backend (bindgen needs libclang), bzip2
  build-essential pkg-config clang libclang-dev nettle-dev libbz2-dev
  # the peers: signatures and policy, OpenPGP, a registry, image layouts
  skopeo gnupg docker-registry umoci
  # registry set-ups of the tests: htpasswd (bcrypt) for basic auth, openssl for a test CA
  apache2-utils openssl
  # OpenSCAP and its content, xmllint (comparison benchmarks)
  openscap-scanner openscap-utils ssg-debian libxml2-utils
  # scanning as non-root (as the scan Job does): fakeroot shows oscap the image's owners
  fakeroot
  # a real Debian image without a container engine (scripts/debian-image.sh)
  debootstrap
  # headless browser for the HTML report test; small tools the tests use
  chromium curl jq bzip2 gzip
  # scripts/bench-arf.sh: Python lxml (comparison), GNU time (peak memory)
  python3-lxml time
  # tests/integration/sigstore.rs: an independent cosign implementation (ECDSA, secretbox)
  python3-cryptography python3-nacl
)

missing_packages() {
  local p
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

install_system_packages() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  [[ -z "${missing// }" ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y $missing" >&2
    exit 1
  fi
  echo "==> installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_cargo_tool() {
  local tool="$1"
  command -v "$tool" >/dev/null && return 0
  echo "==> cargo install --locked $tool"
  cargo install --locked "$tool"
}
