#!/usr/bin/python3
"""An independent implementation of key-based cosign signatures for the
integration tests: Debian's python3-cryptography (ECDSA P-256, PKCS#8,
PKIX) and python3-nacl (secretbox), hashlib's scrypt. It shares no code
with imprimatur.

  genkey PRIV_OUT PUB_OUT PASSPHRASE   P-256 key; ENCRYPTED COSIGN PRIVATE KEY + PUBLIC KEY PEM
  decrypt PRIV PASSPHRASE PUB_OUT      read an encrypted key file; write its public key PEM
  export-pkcs8 PRIV PASSPHRASE DER_OUT read an encrypted key file; write the PKCS#8 DER
  sign PRIV PASSPHRASE PAYLOAD         print base64 ASN.1 DER ECDSA-SHA256 signature of PAYLOAD
  verify PUB PAYLOAD SIG_B64 IDENTITY DIGEST
                                       exit 0 and print "accepted" when the signature verifies
                                       and the payload is a cosign payload for IDENTITY and
                                       DIGEST; exit 1 with the reason otherwise
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import nacl.secret

N, R, P = 32768, 8, 1


def b64(b):
    return base64.b64encode(b).decode()


def key_of(passphrase, salt):
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=N, r=R, p=P, maxmem=64 * 1024 * 1024, dklen=32)


def pem(label, data):
    body = b64(data)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def unpem(text):
    lines = text.strip().splitlines()
    label = lines[0][len("-----BEGIN "):-len("-----")]
    if not lines[-1] == "-----END %s-----" % label:
        raise ValueError("bad PEM")
    return label, base64.b64decode("".join(lines[1:-1]))


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def read_private(path, passphrase):
    label, body = unpem(open(path).read())
    if label not in ("ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY"):
        raise ValueError("PEM type " + label)
    doc = json.loads(body, object_pairs_hook=no_duplicates)
    kdf, cipher = doc["kdf"], doc["cipher"]
    assert kdf["name"] == "scrypt" and kdf["params"] == {"N": N, "r": R, "p": P}, kdf
    assert cipher["name"] == "nacl/secretbox", cipher
    salt = base64.b64decode(kdf["salt"], validate=True)
    nonce = base64.b64decode(cipher["nonce"], validate=True)
    assert len(salt) == 32 and len(nonce) == 24, (len(salt), len(nonce))
    box = nacl.secret.SecretBox(key_of(passphrase, salt))
    der = box.decrypt(base64.b64decode(doc["ciphertext"], validate=True), nonce)
    return serialization.load_der_private_key(der, password=None), der


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def main(argv):
    cmd = argv[1]
    if cmd == "genkey":
        priv_out, pub_out, passphrase = argv[2:5]
        key = ec.generate_private_key(ec.SECP256R1())
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        salt, nonce = os.urandom(32), os.urandom(24)
        sealed = nacl.secret.SecretBox(key_of(passphrase, salt)).encrypt(der, nonce).ciphertext
        doc = {
            "kdf": {"name": "scrypt", "params": {"N": N, "r": R, "p": P}, "salt": b64(salt)},
            "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
            "ciphertext": b64(sealed),
        }
        open(priv_out, "w").write(pem("ENCRYPTED COSIGN PRIVATE KEY", json.dumps(doc).encode()))
        open(pub_out, "w").write(public_pem(key))
        return 0
    if cmd == "decrypt":
        key, _ = read_private(argv[2], argv[3])
        open(argv[4], "w").write(public_pem(key))
        return 0
    if cmd == "export-pkcs8":
        _, der = read_private(argv[2], argv[3])
        open(argv[4], "wb").write(der)
        return 0
    if cmd == "sign":
        key, _ = read_private(argv[2], argv[3])
        payload = open(argv[4], "rb").read()
        print(b64(key.sign(payload, ec.ECDSA(hashes.SHA256()))))
        return 0
    if cmd == "verify":
        pub_path, payload_path, sig_b64, identity, digest = argv[2:7]
        pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
        payload = open(payload_path, "rb").read()
        try:
            pub.verify(base64.b64decode(sig_b64, validate=True), payload, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError) as e:
            print("refused: bad signature %r" % e)
            return 1
        try:
            doc = json.loads(payload, object_pairs_hook=no_duplicates)
        except ValueError as e:
            print("refused: payload %s" % e)
            return 1
        crit = doc.get("critical", {})
        if set(doc) != {"critical", "optional"} or set(crit) != {"identity", "image", "type"}:
            print("refused: payload keys")
            return 1
        if crit["type"] != "cosign container image signature":
            print("refused: type")
            return 1
        if crit["image"] != {"docker-manifest-digest": digest}:
            print("refused: digest %s" % crit["image"])
            return 1
        if crit["identity"] != {"docker-reference": identity}:
            print("refused: identity %s" % crit["identity"])
            return 1
        print("accepted")
        return 0
    print("unknown command " + cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
