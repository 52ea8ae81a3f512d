//! Verifying atomic signatures: the OpenPGP envelope and crypto (§2.2, §3.1
//! steps 1–2).

use std::io::Read;
use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::Packet;
use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::packet::Signature;
use openpgp::parse::{Dearmor, PacketParserBuilder, PacketParserResult, Parse};
use openpgp::policy::{HashAlgoSecurity, Policy, StandardPolicy};
use openpgp::types::{DataFormat, HashAlgorithm, RevocationStatus, SignatureType};

use crate::{
    Clock, Fingerprint, KeyInvalidReason, MalformedError, OpenPgpError, TrustedKeys, VerifyError,
};

/// Verifies `sig` over `message` with `key` as sequoia's
/// `Signature::verify_message` does, without its process-wide cache.
///
/// Why: sequoia remembers every signature that verified (about 100 bytes
/// each, in a map that is never evicted), so a long-running verifier that
/// sees distinct signatures — a controller, a registry gate — would grow
/// without bound. Signed content here is a few hundred bytes and each blob
/// is verified once per decision, so the cache buys nothing. The checks are
/// sequoia's own (2.4): v6 signatures only with v6 keys, the v6 salt size, a
/// creation time not before the key's; then the public-key operation.
fn verify_message_uncached<P, R>(
    sig: &Signature,
    key: &openpgp::packet::Key<P, R>,
    message: &[u8],
) -> openpgp::Result<()>
where
    P: openpgp::packet::key::KeyParts,
    R: openpgp::packet::key::KeyRole,
{
    use openpgp::crypto::hash::Hash as _;
    let bad = |m: String| openpgp::Error::BadSignature(m).into();
    if (sig.version() == 6) != (key.version() == 6) {
        return Err(bad(format!(
            "signature (v{}) and key (v{}) version mismatch",
            sig.version(),
            key.version()
        )));
    }
    let salt = match sig {
        Signature::V6(s) => Some(s.salt()),
        _ => None,
    };
    if sig.version() == 6 && Some(sig.hash_algo().salt_size()?) != salt.map(<[u8]>::len) {
        return Err(bad("wrong salt size".into()));
    }
    match sig.signature_creation_time() {
        Some(created) if created < key.creation_time() => {
            return Err(bad(format!(
                "signature (created {created:?}) predates key ({:?})",
                key.creation_time()
            )));
        }
        Some(_) => {}
        None => return Err(bad("signature has no creation time subpacket".into())),
    }
    let mut hash = sig.hash_algo().context()?.for_signature(sig.version());
    if let Some(salt) = salt {
        hash.update(salt);
    }
    hash.update(message);
    sig.hash(&mut hash)?;
    let digest = hash.into_digest()?;
    key.parts_as_public()
        .verify(sig.mpis(), sig.hash_algo(), &digest)
}

/// Signature blobs larger than this are refused before parsing.
pub const MAX_SIGNATURE_BYTES: usize = 4 * 1024 * 1024;

/// Signed content (the payload) larger than this is refused while reading
/// (guards against decompression bombs).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// At most this many packets are read from one message.
const MAX_PACKETS: usize = 32;

/// Which fingerprint a subkey-made signature is attributed to when matching
/// the accepted identities (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubkeyAttribution {
    /// Accept a subkey signature when the subkey's primary key is accepted
    /// (newer containers/image, ≥ 5.37). The default.
    #[default]
    Primary,
    /// Only the fingerprint of the key that made the signature counts
    /// (skopeo 1.9.3: `signedBy` rejects subkey signatures).
    Strict,
}

/// A signature that passed the envelope and crypto checks (§3.1 step 1).
///
/// The payload is returned **unparsed**: parse it with
/// [`Payload::parse`](crate::Payload::parse) only after checking the key
/// identity (step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedSignature {
    /// The signed content (literal data), as signed.
    pub payload: Vec<u8>,
    /// Fingerprint of the key that made the signature (a subkey's for a
    /// subkey signature).
    pub signer: Fingerprint,
    /// Fingerprint of that key's primary key.
    pub primary: Fingerprint,
    /// Signature creation time (Unix seconds), if present.
    pub created: Option<i64>,
}

impl VerifiedSignature {
    /// True if `accepted` contains the signer, or (with
    /// [`SubkeyAttribution::Primary`]) its primary key.
    pub fn is_accepted(&self, accepted: &[Fingerprint], mode: SubkeyAttribution) -> bool {
        accepted.contains(&self.signer)
            || (mode == SubkeyAttribution::Primary && accepted.contains(&self.primary))
    }

    /// The identity reported for this signature under `mode`: the primary
    /// key (default) or the key that made it (strict).
    pub fn identity(&self, mode: SubkeyAttribution) -> &Fingerprint {
        match mode {
            SubkeyAttribution::Primary => &self.primary,
            SubkeyAttribution::Strict => &self.signer,
        }
    }
}

/// The parsed envelope of a signed message (no crypto checked).
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) literal: Vec<u8>,
    pub(crate) format: DataFormat,
    pub(crate) sig: Signature,
}

fn unparseable(e: openpgp::anyhow::Error) -> VerifyError {
    VerifyError::Malformed(MalformedError::Parse(e.into()))
}

/// Parses the OpenPGP structure: a signed message with exactly one literal
/// and exactly one signature.
pub(crate) fn parse_envelope(blob: &[u8], allow_armor: bool) -> Result<Envelope, VerifyError> {
    if blob.is_empty() {
        return Err(VerifyError::Empty);
    }
    if blob.len() > MAX_SIGNATURE_BYTES {
        return Err(VerifyError::TooLarge {
            size: blob.len(),
            limit: MAX_SIGNATURE_BYTES,
        });
    }
    let armored = blob[0] & 0x80 == 0;
    if armored && !allow_armor {
        return Err(VerifyError::UnrecognizedFormat(blob[0]));
    }
    let dearmor = if armored {
        Dearmor::Enabled(Default::default())
    } else {
        Dearmor::Disabled
    };
    let mut ppr = PacketParserBuilder::from_bytes(blob)
        .map_err(unparseable)?
        .dearmor(dearmor)
        // Cleartext-signed input (armored only) becomes a signed message.
        .process_csf_message(armored)
        .max_recursion_depth(4)
        .max_packet_size(1 << 20)
        .build()
        .map_err(unparseable)?;

    let mut literal: Option<(Vec<u8>, DataFormat)> = None;
    let mut sigs: Vec<Signature> = Vec::new();
    let mut literals = 0usize;
    let mut packets = 0usize;
    while let PacketParserResult::Some(mut pp) = ppr {
        packets += 1;
        if packets > MAX_PACKETS {
            return Err(VerifyError::Malformed(MalformedError::TooManyPackets(
                MAX_PACKETS,
            )));
        }
        match &pp.packet {
            Packet::CompressedData(_) | Packet::OnePassSig(_) | Packet::Marker(_) => {}
            Packet::Signature(_) => {}
            Packet::Literal(l) => {
                literals += 1;
                let format = l.format();
                let mut body = Vec::new();
                (&mut pp)
                    .take(MAX_PAYLOAD_BYTES as u64 + 1)
                    .read_to_end(&mut body)
                    .map_err(|e| {
                        VerifyError::Malformed(MalformedError::Parse(OpenPgpError::new(e)))
                    })?;
                if body.len() > MAX_PAYLOAD_BYTES {
                    return Err(VerifyError::PayloadTooLarge(MAX_PAYLOAD_BYTES));
                }
                literal = Some((body, format));
            }
            Packet::PKESK(_) | Packet::SKESK(_) | Packet::SEIP(_) => {
                return Err(VerifyError::Encrypted);
            }
            Packet::Unknown(u) => {
                return Err(VerifyError::Malformed(MalformedError::CorruptPacket {
                    tag: u.tag().to_string(),
                    source: OpenPgpError::msg(u.error()),
                }));
            }
            other => {
                return Err(VerifyError::Malformed(MalformedError::UnexpectedPacket(
                    other.tag().to_string(),
                )));
            }
        }
        let (packet, next) = pp.recurse().map_err(unparseable)?;
        if let Packet::Signature(s) = packet {
            sigs.push(s);
        }
        ppr = next;
    }
    let eof_grammar = match &ppr {
        PacketParserResult::EOF(eof) => eof.is_message().err(),
        PacketParserResult::Some(_) => None,
    };
    if literals > 1 {
        return Err(VerifyError::Malformed(MalformedError::SeveralLiterals));
    }
    let Some((literal, format)) = literal else {
        return Err(if sigs.is_empty() {
            if packets == 0 {
                VerifyError::Malformed(MalformedError::NoPackets)
            } else {
                VerifyError::NotSigned
            }
        } else {
            VerifyError::Detached
        });
    };
    match sigs.len() {
        0 => return Err(VerifyError::NotSigned),
        1 => {}
        n => return Err(VerifyError::SignatureCount(n)),
    }
    if let Some(e) = eof_grammar {
        return Err(VerifyError::Malformed(MalformedError::Grammar(e.into())));
    }
    let sig = sigs.remove(0);
    Ok(Envelope {
        literal,
        format,
        sig,
    })
}

/// True for hashes that must not be trusted for signatures.
fn is_weak(h: HashAlgorithm) -> bool {
    #[allow(deprecated)]
    let weak = matches!(
        h,
        HashAlgorithm::MD5 | HashAlgorithm::SHA1 | HashAlgorithm::RipeMD
    );
    weak
}

/// Text-mode signatures hash the content with CRLF line endings.
fn normalize_text(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn to_unix(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Verifies signature blobs against a set of trusted keys.
///
/// ```no_run
/// # use imprimatur_signature::*;
/// # fn f(keys: &TrustedKeys, blob: &[u8]) -> Result<(), VerifyError> {
/// let v = Verifier::new(keys).verify(blob)?;
/// println!("signed by {} (primary {})", v.signer, v.primary);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Verifier<'k> {
    keys: &'k TrustedKeys,
    attribution: SubkeyAttribution,
    clock: std::sync::Arc<dyn Clock>,
    allow_armor: bool,
}

impl<'k> Verifier<'k> {
    /// A verifier with the defaults: subkey signatures attributed to the
    /// primary key, reference time = [`SystemClock`](crate::SystemClock)
    /// at each call (see [`clock`](Self::clock)), armored input accepted
    /// (as `skopeo standalone-verify` does through gpgme).
    pub fn new(keys: &'k TrustedKeys) -> Verifier<'k> {
        Verifier {
            keys,
            attribution: SubkeyAttribution::Primary,
            clock: std::sync::Arc::new(crate::SystemClock),
            allow_armor: true,
        }
    }

    /// The clock asked for the reference time at each verification.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// Sets how subkey signatures are attributed (§2.3).
    pub fn subkey_attribution(mut self, mode: SubkeyAttribution) -> Self {
        self.attribution = mode;
        self
    }

    /// The subkey attribution in use.
    pub fn attribution(&self) -> SubkeyAttribution {
        self.attribution
    }

    /// Sets the time at which keys must be valid and signatures unexpired.
    pub fn reference_time(self, t: SystemTime) -> Self {
        self.clock(t)
    }

    /// Accept ASCII-armored blobs (default true). Blobs read from `dir:` or
    /// lookaside storage should go through
    /// [`classify_stored_blob`](crate::classify_stored_blob) first, which
    /// rejects armor as containers/image does.
    pub fn allow_armor(mut self, allow: bool) -> Self {
        self.allow_armor = allow;
        self
    }

    /// §3.1 step 1: envelope and cryptographic verification. Returns the
    /// unparsed payload and the signer; does not check which keys are
    /// accepted (see [`verify_accepted`](Self::verify_accepted)).
    pub fn verify(&self, blob: &[u8]) -> Result<VerifiedSignature, VerifyError> {
        let env = parse_envelope(blob, self.allow_armor)?;
        let sig = &env.sig;
        match sig.typ() {
            SignatureType::Binary | SignatureType::Text => {}
            t => return Err(VerifyError::UnsupportedSignatureType(t.to_string())),
        }
        if is_weak(sig.hash_algo()) {
            return Err(VerifyError::WeakHash(sig.hash_algo().to_string()));
        }
        let issuers = sig.get_issuers();
        let Some(cert) = issuers.iter().find_map(|h| self.keys.lookup(h)) else {
            let who = issuers
                .first()
                .map(|h| h.to_hex())
                .unwrap_or_else(|| "(no issuer)".to_owned());
            return Err(VerifyError::UnknownKey(who));
        };
        let primary = Fingerprint::from_sequoia_any(&cert.fingerprint());
        let policy = StandardPolicy::new();
        let time = self.clock.now();

        let vc = cert
            .with_policy(&policy, time)
            .map_err(|e| VerifyError::KeyInvalid {
                fingerprint: primary.clone(),
                reason: KeyInvalidReason::CertificateNotValid,
                source: Some(e.into()),
            })?;
        if let RevocationStatus::Revoked(_) = vc.revocation_status() {
            return Err(VerifyError::KeyRevoked(primary));
        }
        if vc.alive().is_err() {
            return Err(VerifyError::KeyExpired(primary));
        }

        // The key that made the signature, among those the policy accepts.
        let ka = vc
            .keys()
            .find(|ka| issuers.iter().any(|h| h.aliases(ka.key().key_handle())));
        let Some(ka) = ka else {
            // The issuer is in the certificate but has no valid binding now
            // (or the policy rejects it): find out which for the message.
            let fp = cert
                .keys()
                .find(|ka| issuers.iter().any(|h| h.aliases(ka.key().key_handle())))
                .map(|ka| Fingerprint::from_sequoia_any(&ka.key().fingerprint()))
                .unwrap_or_else(|| primary.clone());
            return Err(VerifyError::KeyInvalid {
                fingerprint: fp,
                reason: KeyInvalidReason::NoValidBinding,
                source: None,
            });
        };
        let signer = Fingerprint::from_sequoia_any(&ka.key().fingerprint());
        if let RevocationStatus::Revoked(_) = ka.revocation_status() {
            return Err(VerifyError::KeyRevoked(signer));
        }
        if ka.alive().is_err() {
            return Err(VerifyError::KeyExpired(signer));
        }
        if !ka.for_signing() {
            return Err(VerifyError::KeyInvalid {
                fingerprint: signer,
                reason: KeyInvalidReason::NotSigningCapable,
                source: None,
            });
        }

        // Crypto, unless this very blob by this key checked out before.
        let remembered = crate::verified::VerifiedSignatures::key(blob, &signer);
        if !remembered
            .as_ref()
            .is_some_and(|r| self.keys.verified.contains(r))
        {
            let checked = if sig.typ() == SignatureType::Text {
                verify_message_uncached(sig, ka.key(), &normalize_text(&env.literal))
            } else {
                verify_message_uncached(sig, ka.key(), &env.literal)
            };
            if let Err(e) = checked {
                return Err(VerifyError::BadSignature(e.into()));
            }
            if let Some(r) = remembered {
                self.keys.verified.insert(r);
            }
        }

        // Expiration (a creation time in the future is accepted, as gpg does).
        if let Some(exp) = sig.signature_expiration_time()
            && exp <= time
        {
            return Err(VerifyError::SignatureExpired(to_unix(exp)));
        }
        if let Err(e) = policy.signature(sig, HashAlgoSecurity::CollisionResistance) {
            return Err(VerifyError::Policy(e.into()));
        }
        let _ = env.format;

        Ok(VerifiedSignature {
            payload: env.literal,
            signer,
            primary,
            created: sig.signature_creation_time().map(to_unix),
        })
    }

    /// §3.1 steps 1 and 2: [`verify`](Self::verify), then require the signer
    /// (or, per the attribution mode, its primary key) to be in `accepted`.
    pub fn verify_accepted(
        &self,
        blob: &[u8],
        accepted: &[Fingerprint],
    ) -> Result<VerifiedSignature, VerifyError> {
        let v = self.verify(blob)?;
        if v.is_accepted(accepted, self.attribution) {
            Ok(v)
        } else {
            Err(VerifyError::KeyNotAccepted {
                signer: v.signer.clone(),
                expected: accepted
                    .iter()
                    .map(Fingerprint::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_normalization() {
        assert_eq!(normalize_text(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n".to_vec());
    }

    #[test]
    fn refuses_large_and_empty() {
        let keys = TrustedKeys::new();
        let v = Verifier::new(&keys);
        assert_eq!(v.verify(b""), Err(VerifyError::Empty));
        let big = vec![0xa3u8; MAX_SIGNATURE_BYTES + 1];
        assert!(matches!(v.verify(&big), Err(VerifyError::TooLarge { .. })));
        // Text that is no OpenPGP data: refused by sequoia's parser, typed.
        assert!(
            matches!(
                v.verify(b"invalid signature"),
                Err(VerifyError::Malformed(MalformedError::Parse(_)))
            ),
            "{:?}",
            v.verify(b"invalid signature")
        );
    }
}
