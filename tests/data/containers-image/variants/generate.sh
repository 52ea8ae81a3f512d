#!/bin/bash
# Regenerates the gpg-made envelope variants used by the imprimatur-signature
# tests (spec §2.2 / E11–E16). Run from this directory with GnuPG 2.2:
#   bash generate.sh
# Every blob signs payload.json (the payload of ../image.signature: reference
# testing/manifest, digest D) unless stated otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/.."
export GNUPGHOME=$(mktemp -d)
trap 'rm -rf "$GNUPGHOME"' EXIT
K=08CD26E446E2E95249B7A405E932F44B23E8DD43
KP=F2B501009F78B0B340221A12A3CD242DA6028093
gpg --batch --quiet --import "$fixtures/secring.gpg" "$fixtures/pubring.gpg" 2>/dev/null || true
gpg --batch --quiet --decrypt "$fixtures/image.signature" > "$here/payload.json" 2>/dev/null
cd "$here"
s() { gpg --batch --yes --quiet --trust-model always --pinentry-mode loopback --passphrase WithPassphrase123 "$@"; }
s -u $K --digest-algo SHA256 -z 0 --sign -o uncompressed.signature payload.json
s -u $K --digest-algo SHA256 --compress-algo zlib --sign -o zlib.signature payload.json
s -u $K --digest-algo SHA256 --compress-algo bzip2 --sign -o bzip2.signature payload.json
s -u $K --digest-algo SHA512 --sign -o sha512.signature payload.json
s -u $K --digest-algo SHA256 --textmode --sign -o textmode.signature payload.json
s -u $K --digest-algo SHA1 --sign -o sha1.signature payload.json
s -u $K --digest-algo SHA256 --armor --sign -o armored.signature payload.json
s -u $K --digest-algo SHA256 --clearsign -o cleartext.signature payload.json
s -u $K --digest-algo SHA256 --detach-sign -o detached.signature payload.json
s -u $K -u $KP --digest-algo SHA256 --sign -o two-signatures.signature payload.json
s -u $K --digest-algo SHA256 --sign --encrypt -r $K -o signed-encrypted.signature payload.json
# A key that expired (created and used in 2020, valid one day).
s --faked-system-time 20200101T000000 --quick-gen-key 'expired key <expired@example.invalid>' rsa3072 sign 1d
EXP=$(gpg --with-colons --list-keys expired@example.invalid | awk -F: '$1=="fpr"{print $10; exit}')
s --faked-system-time 20200101T010000 -u $EXP --digest-algo SHA256 --sign -o key-expired.signature payload.json
gpg --armor --export $EXP > key-expired.gpg
# A revoked primary key (signature made before the revocation).
s --quick-gen-key 'revoked key <revoked@example.invalid>' rsa3072 sign never
REV=$(gpg --with-colons --list-keys revoked@example.invalid | awk -F: '$1=="fpr"{print $10; exit}')
s -u $REV --digest-algo SHA256 --sign -o key-revoked.signature payload.json
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$REV.rev" | gpg --batch --quiet --import
gpg --armor --export $REV > key-revoked.gpg
echo "$EXP" > key-expired.fingerprint
echo "$REV" > key-revoked.fingerprint
# Secret keys as `gpg --export-secret-keys` writes them (GnuPG 2.2): an
# Ed25519 key protected by a passphrase and an RSA-3072 key without one.
gpg --batch --quiet --pinentry-mode loopback --passphrase 'gpg pass phrase' \
    --quick-gen-key 'gpg ed25519 <ed25519@example.invalid>' ed25519 sign never
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'gpg rsa <rsa@example.invalid>' rsa3072 sign never
for who in ed25519 rsa; do
    fpr=$(gpg --with-colons --list-keys "$who@example.invalid" | awk -F: '$1=="fpr"{print $10; exit}')
    gpg --batch --pinentry-mode loopback --passphrase 'gpg pass phrase' --armor \
        --export-secret-keys "$fpr" > "gpg-$who-secret.asc"
    gpg --armor --export "$fpr" > "gpg-$who-public.asc"
    echo "$fpr" > "gpg-$who.fingerprint"
done
