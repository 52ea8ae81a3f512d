//! Envelope and key cases built in-process with sequoia (independent of the
//! code under test): subkeys without the signing flag, expired signing
//! subkeys, wrong signature types, decompression bombs, packet floods.

use std::io::Write;
use std::time::{Duration, SystemTime};

use imprimatur_signature::sequoia_openpgp as openpgp;
use imprimatur_signature::*;

use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::crypto::KeyPair;
use openpgp::packet::prelude::*;
use openpgp::serialize::stream::{Compressor, LiteralWriter, Message, Signer as StreamSigner};
use openpgp::serialize::{Marshal, SerializeInto};
use openpgp::types::{CompressionAlgorithm, KeyFlags, SignatureType};

fn keypair_of(key: &Key<key::SecretParts, key::UnspecifiedRole>) -> KeyPair {
    key.clone().into_keypair().expect("keypair")
}

/// A signed message made by sequoia's streaming signer.
fn stream_sign(
    signer: KeyPair,
    content: &[u8],
    compress: bool,
    typ: SignatureType,
    at: SystemTime,
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut m = Message::new(&mut out);
        if compress {
            m = Compressor::new(m)
                .algo(CompressionAlgorithm::Zip)
                .build()
                .expect("compressor");
        }
        let m = StreamSigner::with_template(m, signer, SignatureBuilder::new(typ))
            .expect("signer")
            .creation_time(at)
            .build()
            .expect("signer");
        let mut w = LiteralWriter::new(m).build().expect("literal");
        w.write_all(content).expect("write");
        w.finalize().expect("finalize");
    }
    out
}

fn keyring(cert: &openpgp::Cert) -> TrustedKeys {
    TrustedKeys::from_bytes(&cert.armored().to_vec().expect("armor")).expect("keys")
}

#[test]
fn encryption_only_subkey_signature_is_rejected() {
    // RSA, so that the encryption subkey is technically able to sign.
    let (cert, _) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::RSA2k)
        .add_userid("x <x@example.invalid>")
        .add_storage_encryption_subkey()
        .generate()
        .expect("cert");
    let sub = cert
        .keys()
        .subkeys()
        .secret()
        .next()
        .expect("subkey")
        .key()
        .clone()
        .role_into_unspecified();
    let blob = stream_sign(
        keypair_of(&sub),
        b"payload",
        false,
        SignatureType::Binary,
        SystemTime::now(),
    );
    let r = Verifier::new(&keyring(&cert)).verify(&blob);
    assert!(
        matches!(
            r,
            Err(VerifyError::KeyInvalid {
                reason: KeyInvalidReason::NotSigningCapable,
                source: None,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn expired_signing_subkey_is_rejected_and_valid_before() {
    let created = SystemTime::now() - Duration::from_secs(10 * 86_400);
    let (cert, _) = CertBuilder::new()
        .set_creation_time(created)
        .add_userid("x <x@example.invalid>")
        .add_subkey(
            KeyFlags::empty().set_signing(),
            Duration::from_secs(86_400),
            None,
        )
        .generate()
        .expect("cert");
    let sub = cert
        .keys()
        .subkeys()
        .secret()
        .next()
        .expect("subkey")
        .key()
        .clone()
        .role_into_unspecified();
    let signed_at = created + Duration::from_secs(3600);
    let blob = stream_sign(
        keypair_of(&sub),
        b"payload",
        true,
        SignatureType::Binary,
        signed_at,
    );
    let keys = keyring(&cert);
    let sub_fp: Fingerprint = sub.fingerprint().to_hex().parse().expect("fp");
    assert_eq!(
        Verifier::new(&keys).verify(&blob),
        Err(VerifyError::KeyExpired(sub_fp.clone()))
    );
    let v = Verifier::new(&keys)
        .reference_time(signed_at + Duration::from_secs(60))
        .verify(&blob)
        .expect("valid while the subkey was");
    assert_eq!(v.signer, sub_fp);
    assert_eq!(v.payload, b"payload");
    // Streaming-signer output (with sequoia's salt notation) is accepted too.
    assert_eq!(
        v.primary,
        cert.fingerprint()
            .to_hex()
            .parse::<Fingerprint>()
            .expect("fp")
    );
}

#[test]
fn other_signature_types_are_rejected() {
    let g = generate_key(KeyGenOptions::new("x <x@example.invalid>")).expect("keygen");
    let keys = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
    let key = g
        .secret_key()
        .cert()
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .expect("secret")
        .role_into_unspecified();
    let blob = stream_sign(
        keypair_of(&key),
        b"payload",
        false,
        SignatureType::Standalone,
        SystemTime::now(),
    );
    let r = Verifier::new(&keys).verify(&blob);
    assert!(
        matches!(
            r,
            Err(VerifyError::UnsupportedSignatureType(_)) | Err(VerifyError::Malformed(_))
        ),
        "{r:?}"
    );
    // Text signatures by sequoia verify.
    let blob = stream_sign(
        keypair_of(&key),
        b"line\nline\n",
        false,
        SignatureType::Text,
        SystemTime::now(),
    );
    let v = Verifier::new(&keys).verify(&blob).expect("text signature");
    assert_eq!(v.payload, b"line\nline\n");
}

#[test]
fn decompression_bomb_is_refused() {
    let g = generate_key(KeyGenOptions::new("x <x@example.invalid>")).expect("keygen");
    let keys = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
    let key = g
        .secret_key()
        .cert()
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .expect("secret")
        .role_into_unspecified();
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    let blob = stream_sign(
        keypair_of(&key),
        &big,
        true,
        SignatureType::Binary,
        SystemTime::now(),
    );
    assert!(blob.len() < MAX_SIGNATURE_BYTES);
    assert_eq!(
        Verifier::new(&keys).verify(&blob),
        Err(VerifyError::PayloadTooLarge(MAX_PAYLOAD_BYTES))
    );
}

#[test]
fn packet_flood_and_junk_are_refused() {
    let g = generate_key(KeyGenOptions::new("x <x@example.invalid>")).expect("keygen");
    let keys = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
    let signer = Signer::builder(g.secret_key()).build().expect("signer");
    let blob = signer.sign_bytes(b"payload").expect("sign");
    // 100 marker packets in front.
    let mut marker = Vec::new();
    Packet::Marker(Marker::default())
        .serialize(&mut marker)
        .expect("marker");
    let flood: Vec<u8> = marker.repeat(100).into_iter().chain(blob.clone()).collect();
    assert!(matches!(
        Verifier::new(&keys).verify(&flood),
        Err(VerifyError::Malformed(_))
    ));
    // A few markers are harmless (RFC 4880 says to ignore them).
    let few: Vec<u8> = marker.repeat(2).into_iter().chain(blob.clone()).collect();
    assert!(Verifier::new(&keys).verify(&few).is_ok());
    // Trailing junk after the message.
    let mut junk = blob.clone();
    junk.extend_from_slice(b"\x00\x01\x02");
    let r = Verifier::new(&keys).verify(&junk);
    assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");
    // A public key is not a message.
    let cert = g.secret_key().cert().clone().strip_secret_key_material();
    assert!(matches!(
        Verifier::new(&keys).verify(&cert.to_vec().expect("serialize")),
        Err(VerifyError::Malformed(_))
    ));
    // Truncation anywhere fails, and never panics.
    for n in 0..blob.len() {
        let r = Verifier::new(&keys).verify(&blob[..n]);
        assert!(
            matches!(
                r,
                Err(VerifyError::Empty
                    | VerifyError::Malformed(_)
                    | VerifyError::NotSigned
                    | VerifyError::Detached)
            ),
            "prefix {n}: {r:?}"
        );
    }
}
