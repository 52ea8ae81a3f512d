#!/usr/bin/env bash
# scripts/demo.sh — the main job available so far, end to end, printing each
# step: generate a signing key, sign a sample image manifest for an identity,
# verify the signature with imprimatur, and prove that skopeo (containers/image,
# GnuPG) accepts it too — and that both reject a signature for another image.
#
#   bash scripts/demo.sh
#
# As root it installs the Debian packages it needs (scripts/deps.sh); as
# another user it prints the exact apt-get line when something is missing.
# Everything happens in a temporary directory with a throwaway GNUPGHOME.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# shellcheck source=scripts/deps.sh
source scripts/deps.sh
install_system_packages

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# show CMD...: print the command (shell-quoted, on stderr), then run it.
show() { { printf '$'; printf ' %q' "$@"; echo; } >&2; "$@"; }

step "build the imprimatur CLI"
show cargo build --locked --example imprimatur
BIN="$ROOT/target/debug/examples/imprimatur"
imprimatur() { "$BIN" "$@"; }

WORK="$(mktemp -d /tmp/imprimatur-demo.XXXXXX)"
export GNUPGHOME="$WORK/gnupg"
mkdir -m 700 "$GNUPGHOME"
cleanup() {
  gpgconf --kill all 2>/dev/null || true   # the agent of our throwaway GNUPGHOME only
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
cp "$ROOT/tests/data/cli/sample-manifest.json" manifest.json
REF="registry.example.com/demo/app:1.0"

step "1. generate an Ed25519 signing key (secret key written 0600)"
printf 'demo passphrase\n' > passphrase.txt
show imprimatur keygen --userid 'Demo Signer <signer@example.com>' \
  --passphrase-file passphrase.txt --secret-key-out signer.key --public-key-out signer.pub | tee fingerprint.txt
FPR=$(tail -n1 fingerprint.txt)
ls -l signer.key signer.pub

step "2. sign the sample manifest for $REF"
show imprimatur sign --key signer.key --passphrase-file passphrase.txt \
  --reference "$REF" --manifest manifest.json --output app.sig
ls -l app.sig

step "3. verify it with imprimatur"
show imprimatur verify --public-key signer.pub --fingerprint "$FPR" \
  --reference "$REF" --manifest manifest.json app.sig

step "4. skopeo accepts it: import the public key into a throwaway GnuPG home, standalone-verify"
show gpg --batch --quiet --import signer.pub
show skopeo standalone-verify manifest.json "$REF" "$FPR" app.sig

step "5. both reject the signature for another identity (two errors expected below)"
if imprimatur verify --public-key signer.pub --reference registry.example.com/demo/other:1.0 \
    --manifest manifest.json app.sig; then
  echo "imprimatur accepted a signature for another identity" >&2; exit 1
fi
if skopeo standalone-verify manifest.json registry.example.com/demo/other:1.0 "$FPR" app.sig; then
  echo "skopeo accepted a signature for another identity" >&2; exit 1
fi

step "6. bulk: sign a list into a lookaside directory (what a mirror serves as file:// or http)"
DIGEST=$(skopeo manifest-digest manifest.json)
printf '# reference digest\n%s %s\nregistry.example.com/mirror/demo/app:1.0 %s\n' "$REF" "$DIGEST" "$DIGEST" > list.txt
show imprimatur sign --key signer.key --passphrase-file passphrase.txt --batch list.txt --output-dir lookaside
(cd lookaside && find . -type f | sort)
show skopeo standalone-verify manifest.json "$REF" "$FPR" "lookaside/demo/app@${DIGEST/:/=}/signature-1"

step "demo passed: imprimatur signatures are accepted by skopeo $(skopeo --version | awk '{print $3}')"
