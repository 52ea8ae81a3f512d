//! Producing atomic signatures (§2.1).

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::Packet;
use openpgp::crypto::{KeyPair, Password, Signer as _};
use openpgp::packet::prelude::*;
use openpgp::packet::signature::subpacket::{Subpacket, SubpacketArea, SubpacketValue};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::Marshal;
use openpgp::serialize::stream::{Compressor, Message};
use openpgp::types::{
    CompressionAlgorithm, DataFormat, HashAlgorithm, PublicKeyAlgorithm, SignatureType, Timestamp,
};
use std::io::Write;

use crate::{Clock, Error, Fingerprint, KeyError, OpenPgpError, Passphrase, Payload, SecretKey};

/// The hash algorithm of produced signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HashAlgo {
    /// SHA-256 (what the containers/image fixtures use). The default.
    #[default]
    Sha256,
    /// SHA-512 (gpg's default on Debian bookworm).
    Sha512,
}

impl HashAlgo {
    fn sequoia(self) -> HashAlgorithm {
        match self {
            HashAlgo::Sha256 => HashAlgorithm::SHA256,
            HashAlgo::Sha512 => HashAlgorithm::SHA512,
        }
    }
}

/// Builder for [`Signer`]; see [`Signer::builder`].
///
/// `Debug` shows whether a passphrase was given, never the passphrase; the
/// passphrase is wiped from memory when the builder is dropped.
#[must_use]
pub struct SignerBuilder<'a> {
    key: &'a SecretKey,
    passphrase: Option<Passphrase>,
    hash: HashAlgo,
    compressed: bool,
    reference_time: Option<SystemTime>,
    clock: std::sync::Arc<dyn Clock>,
}

impl std::fmt::Debug for SignerBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerBuilder")
            .field("key", &self.key)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("hash", &self.hash)
            .field("compressed", &self.compressed)
            .field("reference_time", &self.reference_time)
            .field("clock", &self.clock)
            .finish()
    }
}

impl SignerBuilder<'_> {
    /// The passphrase that decrypts the secret key (ignored when the key is
    /// not encrypted). Takes a [`Passphrase`], a `String` or a `&str`.
    pub fn passphrase(mut self, passphrase: impl Into<Passphrase>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// Like [`passphrase`](Self::passphrase), taking an option.
    pub fn passphrase_opt(mut self, passphrase: Option<&str>) -> Self {
        self.passphrase = passphrase.map(Passphrase::from);
        self
    }

    /// The hash algorithm (default SHA-256).
    pub fn hash(mut self, hash: HashAlgo) -> Self {
        self.hash = hash;
        self
    }

    /// Wrap the message in a ZIP (deflate) compressed data packet, as gpg
    /// does by default. Off by default: compression costs more time than
    /// the ~75 bytes it saves, and skopeo accepts both.
    pub fn compressed(mut self, compressed: bool) -> Self {
        self.compressed = compressed;
        self
    }

    /// The time at which the key must be valid and signing-capable
    /// (default: the [`clock`](Self::clock)'s time when `build` runs).
    pub fn reference_time(mut self, t: SystemTime) -> Self {
        self.reference_time = Some(t);
        self
    }

    /// The clock [`Signer::sign`] and [`Signer::sign_bytes`] take the
    /// signature time from (default [`SystemClock`](crate::SystemClock)).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// Decrypts the primary secret key once and checks that it may sign.
    pub fn build(self) -> Result<Signer, Error> {
        let cert = &self.key.cert;
        let fingerprint = self.key.fingerprint();
        let policy = StandardPolicy::new();
        let vc = cert
            .with_policy(
                &policy,
                self.reference_time.unwrap_or_else(|| self.clock.now()),
            )
            .map_err(|e| {
                Error::Key(KeyError::NotValid {
                    fingerprint: fingerprint.clone(),
                    source: e.into(),
                })
            })?;
        if !vc.primary_key().for_signing() {
            return Err(Error::NotSigningCapable(fingerprint));
        }
        if let Err(e) = vc.primary_key().alive() {
            return Err(Error::Key(KeyError::NotAlive {
                fingerprint,
                source: e.into(),
            }));
        }
        let mut key = cert
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .map_err(KeyError::op("reading the secret key"))?;
        if key.secret().is_encrypted() {
            let Some(p) = &self.passphrase else {
                return Err(Error::PassphraseRequired);
            };
            key = key
                .decrypt_secret(&Password::from(p.expose()))
                .map_err(|_| Error::WrongPassphrase)?;
        }
        let created = key.creation_time();
        let keypair = key
            .into_keypair()
            .map_err(KeyError::op("using the secret key"))?;
        let pk_algo = keypair.public().pk_algo();
        let seq_fp = cert.fingerprint();
        let openpgp::Fingerprint::V4(fp_bytes) = &seq_fp else {
            return Err(Error::Key(KeyError::NotV4));
        };
        let hash = self.hash.sequoia();
        Ok(Signer {
            inner: std::sync::Arc::new(Inner {
                fingerprint,
                fp_bytes: *fp_bytes,
                keyid: cert.keyid(),
                seq_fp,
                pk_algo,
                hash,
                compressed: self.compressed,
                created,
                keypair,
            }),
            clock: self.clock,
        })
    }
}

struct Inner {
    fingerprint: Fingerprint,
    fp_bytes: [u8; 20],
    keyid: openpgp::KeyID,
    seq_fp: openpgp::Fingerprint,
    pk_algo: PublicKeyAlgorithm,
    hash: HashAlgorithm,
    compressed: bool,
    created: SystemTime,
    keypair: KeyPair,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("fingerprint", &self.fingerprint)
            .field("pk_algo", &self.pk_algo)
            .field("hash", &self.hash)
            .field("compressed", &self.compressed)
            .finish_non_exhaustive()
    }
}

/// Signs payloads with the primary key of a [`SecretKey`].
///
/// Built once (the key is decrypted once), then signs any number of
/// payloads. `Signer` is `Send + Sync` and cheap to clone (an `Arc`), so one
/// instance can serve every thread.
///
/// Output (§2.1): a binary OpenPGP signed message — one-pass signature,
/// binary literal data (empty file name, date = signing time), one v4
/// signature of type binary by the primary key, hashed subpackets issuer
/// fingerprint and creation time, unhashed issuer key ID; optionally all
/// inside a ZIP compressed data packet. No armor, no salt notation.
#[derive(Debug, Clone)]
pub struct Signer {
    inner: std::sync::Arc<Inner>,
    clock: std::sync::Arc<dyn Clock>,
}

impl Signer {
    /// Starts building a signer for `key` (SHA-256, uncompressed).
    pub fn builder(key: &SecretKey) -> SignerBuilder<'_> {
        SignerBuilder {
            key,
            passphrase: None,
            hash: HashAlgo::Sha256,
            compressed: false,
            reference_time: None,
            clock: std::sync::Arc::new(crate::SystemClock),
        }
    }

    /// The fingerprint of the signing (primary) key.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.inner.fingerprint
    }

    /// Signs a payload (its canonical JSON), at the time of the builder's
    /// [`clock`](SignerBuilder::clock). Refuses a payload with an empty
    /// digest or reference.
    pub fn sign(&self, payload: &Payload) -> Result<Vec<u8>, Error> {
        self.sign_at(payload, self.clock.now())
    }

    /// Signs a payload with signature creation time `t`.
    pub fn sign_at(&self, payload: &Payload, t: SystemTime) -> Result<Vec<u8>, Error> {
        if payload.docker_manifest_digest.is_empty() || payload.docker_reference.is_empty() {
            return Err(Error::EmptyContent);
        }
        self.sign_bytes_at(&payload.to_canonical_json(), t)
    }

    /// Signs arbitrary bytes as the literal data, at the time of the
    /// builder's [`clock`](SignerBuilder::clock).
    pub fn sign_bytes(&self, content: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_bytes_at(content, self.clock.now())
    }

    /// Signs arbitrary bytes with signature creation time `t`.
    pub fn sign_bytes_at(&self, content: &[u8], t: SystemTime) -> Result<Vec<u8>, Error> {
        let s = &*self.inner;
        if content.is_empty() {
            return Err(Error::EmptyContent);
        }
        let t = if t < s.created { s.created } else { t };
        let ts = Timestamp::try_from(t).map_err(|e| Error::Sign(e.into()))?;
        let secs = u32::from(ts);

        // Hashed area exactly as gpg writes it: issuer fingerprint (33),
        // then signature creation time (2).
        let mut hashed = Vec::with_capacity(30);
        hashed.extend_from_slice(&[22, 33, 4]);
        hashed.extend_from_slice(&s.fp_bytes);
        hashed.extend_from_slice(&[5, 2]);
        hashed.extend_from_slice(&secs.to_be_bytes());
        let hlen = hashed.len() as u16;
        let mut trailer = Vec::with_capacity(6 + hashed.len() + 6);
        trailer.extend_from_slice(&[
            4,
            u8::from(SignatureType::Binary),
            u8::from(s.pk_algo),
            u8::from(s.hash),
        ]);
        trailer.extend_from_slice(&hlen.to_be_bytes());
        trailer.extend_from_slice(&hashed);
        trailer.extend_from_slice(&[4, 0xff]);
        trailer.extend_from_slice(&(6 + u32::from(hlen)).to_be_bytes());

        let err = |e: openpgp::anyhow::Error| Error::Sign(e.into());
        let mut ctx = s.hash.context().map_err(err)?.for_signature(4);
        ctx.update(content);
        ctx.update(&trailer);
        let digest = ctx.into_digest().map_err(err)?;

        let mpis = self.raw_sign(&digest)?;

        let hashed_area = SubpacketArea::new(vec![
            Subpacket::new(SubpacketValue::IssuerFingerprint(s.seq_fp.clone()), false)
                .map_err(err)?,
            Subpacket::new(SubpacketValue::SignatureCreationTime(ts), false).map_err(err)?,
        ])
        .map_err(err)?;
        let unhashed_area = SubpacketArea::new(vec![
            Subpacket::new(SubpacketValue::Issuer(s.keyid.clone()), false).map_err(err)?,
        ])
        .map_err(err)?;
        let sig: Signature = Signature4::new(
            SignatureType::Binary,
            s.pk_algo,
            s.hash,
            hashed_area,
            unhashed_area,
            [digest[0], digest[1]],
            mpis,
        )
        .into();

        let mut ops = OnePassSig3::new(SignatureType::Binary);
        ops.set_hash_algo(s.hash);
        ops.set_pk_algo(s.pk_algo);
        ops.set_issuer(s.keyid.clone());
        ops.set_last(true);
        let mut lit = Literal::new(DataFormat::Binary);
        lit.set_date(Some(t)).map_err(err)?;
        lit.set_body(content.to_vec());

        let packets: [Packet; 3] = [ops.into(), lit.into(), sig.into()];
        let mut plain = Vec::with_capacity(content.len() + 600);
        for p in &packets {
            p.serialize(&mut plain).map_err(err)?;
        }
        if !s.compressed {
            return Ok(plain);
        }
        let mut out = Vec::with_capacity(plain.len());
        {
            let message = Message::new(&mut out);
            let mut w = Compressor::new(message)
                .algo(CompressionAlgorithm::Zip)
                .build()
                .map_err(err)?;
            w.write_all(&plain)
                .map_err(|e| Error::Sign(OpenPgpError::new(e)))?;
            w.finalize().map_err(err)?;
        }
        Ok(out)
    }

    fn raw_sign(&self, digest: &[u8]) -> Result<openpgp::crypto::mpi::Signature, Error> {
        let s = &*self.inner;
        let mut kp = s.keypair.clone();
        kp.sign(s.hash, digest).map_err(|e| Error::Sign(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn signer_is_send_sync() {
        assert_send_sync::<Signer>();
    }

    #[test]
    fn sign_takes_the_time_from_the_clock() {
        use openpgp::parse::Parse as _;
        use std::time::{Duration, UNIX_EPOCH};
        let created = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let at = created + Duration::from_secs(86_400);
        let g = crate::generate_key(
            crate::KeyGenOptions::new("C <c@example.invalid>").creation_time(created),
        )
        .expect("gen");
        let signer = Signer::builder(g.secret_key())
            .clock(at)
            .build()
            .expect("signer");
        let blob = signer.sign_bytes(b"content").expect("sign");
        let msg = openpgp::Message::from_bytes(&blob).expect("message");
        let sig = msg
            .packets()
            .descendants()
            .find_map(|p| match p {
                Packet::Signature(s) => Some(s.clone()),
                _ => None,
            })
            .expect("signature packet");
        assert_eq!(sig.signature_creation_time(), Some(at));
        // The verifier's clock decides validity: before the key existed, no.
        let keys = crate::TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
        let v = crate::Verifier::new(&keys).clock(at);
        assert!(v.verify(&blob).is_ok());
        let early = crate::Verifier::new(&keys).clock(created - Duration::from_secs(1));
        let r = early.verify(&blob);
        assert!(
            matches!(
                r,
                Err(crate::VerifyError::KeyInvalid {
                    reason: crate::KeyInvalidReason::CertificateNotValid,
                    source: Some(_),
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn key_errors_keep_their_source() {
        use std::time::{Duration, UNIX_EPOCH};
        let created = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let g = crate::generate_key(
            crate::KeyGenOptions::new("E <e@example.invalid>")
                .creation_time(created)
                .validity(Duration::from_secs(3600)),
        )
        .expect("gen");
        let err = Signer::builder(g.secret_key())
            .reference_time(created + Duration::from_secs(7200))
            .build()
            .expect_err("expired");
        match &err {
            Error::Key(
                KeyError::NotValid { fingerprint, .. } | KeyError::NotAlive { fingerprint, .. },
            ) => {
                assert_eq!(fingerprint, &g.fingerprint());
            }
            other => panic!("{other:?}"),
        }
        let source = std::error::Error::source(&err).expect("sequoia's reason is the source");
        let chain = crate::ErrorChain(&err).to_string();
        assert!(chain.contains(&source.to_string()), "{chain}");
        assert!(
            !err.to_string().contains(&source.to_string()),
            "not repeated"
        );
        assert!(chain.contains(g.fingerprint().as_str()), "{chain}");
    }

    #[test]
    fn builder_and_signer_do_not_print_secrets() {
        let g =
            crate::generate_key(crate::KeyGenOptions::new("D <d@example.invalid>")).expect("gen");
        let secret = crate::keys::tests::secret_bytes(g.secret_key());
        let b = Signer::builder(g.secret_key()).passphrase("hunter2-passphrase");
        let shown = format!("{b:?} {b:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        crate::keys::tests::assert_no_secret(&shown, &secret);
        let b = Signer::builder(g.secret_key()).passphrase_opt(Some("hunter2-passphrase"));
        assert!(!format!("{b:?}").contains("hunter2"));
        let signer = b.build().expect("unencrypted key: passphrase ignored");
        let shown = format!("{signer:?} {signer:#?}");
        crate::keys::tests::assert_no_secret(&shown, &secret);
        assert!(shown.contains(g.fingerprint().as_str()), "{shown}");
    }
}
