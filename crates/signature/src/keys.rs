//! Keys: trusted public keyrings, secret keys, key generation.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use sequoia_openpgp as openpgp;

use openpgp::Cert;
use openpgp::KeyHandle;
use openpgp::cert::{CertBuilder, CertParser, CipherSuite};
use openpgp::crypto::Password;
use openpgp::parse::Parse;
use openpgp::serialize::SerializeInto;
use openpgp::types::KeyFlags;

use crate::{Error, Fingerprint, KeyError, Zeroizing};

/// Upper bound on key material accepted by the loaders (a keyring of many
/// keys still fits easily).
pub const MAX_KEY_BYTES: usize = 16 * 1024 * 1024;

/// Splits input into armored blocks (each parsed on its own, as gpgme does
/// for several concatenated armored exports) or returns the input as one
/// binary chunk.
fn chunks(bytes: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let starts: Vec<usize> = bytes
        .windows(BEGIN.len())
        .enumerate()
        .filter(|(_, w)| *w == BEGIN)
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        return vec![bytes];
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
        out.push(&bytes[s..end]);
    }
    out
}

/// Parses every certificate it can find; unparseable input yields none.
fn parse_certs(bytes: &[u8]) -> Vec<Cert> {
    let mut certs = Vec::new();
    for chunk in chunks(bytes) {
        let Ok(parser) = CertParser::from_bytes(chunk) else {
            continue;
        };
        for cert in parser.flatten() {
            certs.push(cert);
        }
    }
    certs
}

/// A set of trusted public keys (what `signedBy` key files or
/// `--public-key` files give), the equivalent of gpgme's ephemeral keyring.
///
/// Loading follows gpgme's import (§2.3): binary or armored, several keys or
/// armored blocks concatenated; input without any key (empty, garbage)
/// imports nothing and is **not** an error (check
/// [`is_empty`](TrustedKeys::is_empty)). The identities are the primary key
/// fingerprints in input order, duplicates included (E17–E21).
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    certs: Vec<Cert>,
    primaries: Vec<Fingerprint>,
    /// Every (sub)key's fingerprint and key ID → index into `certs`.
    index: HashMap<String, usize>,
    /// Signatures by these keys whose cryptography checked out (bounded).
    pub(crate) verified: crate::verified::VerifiedSignatures,
}

/// Alias: a keyring of trusted public keys.
pub type Keyring = TrustedKeys;

impl TrustedKeys {
    /// An empty keyring.
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Loads keys from bytes (see the type's docs). Errors only when the
    /// input exceeds [`MAX_KEY_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<TrustedKeys, KeyError> {
        let mut k = TrustedKeys::new();
        k.add_bytes(bytes)?;
        Ok(k)
    }

    /// Adds the keys found in `bytes`; returns the primary fingerprints added
    /// (empty when nothing was found).
    pub fn add_bytes(&mut self, bytes: &[u8]) -> Result<Vec<Fingerprint>, KeyError> {
        if bytes.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge {
                size: bytes.len(),
                limit: MAX_KEY_BYTES,
            });
        }
        let mut added = Vec::new();
        for cert in parse_certs(bytes) {
            // Only v4 keys have the 40-hex identities containers/image uses.
            let Some(fp) = Fingerprint::from_sequoia(&cert.fingerprint()) else {
                continue;
            };
            self.add_cert(cert.strip_secret_key_material());
            self.primaries.push(fp.clone());
            added.push(fp);
        }
        Ok(added)
    }

    fn add_cert(&mut self, cert: Cert) {
        let existing = self.index.get(&cert.fingerprint().to_hex()).copied();
        let idx = match existing {
            Some(i) if self.certs[i].fingerprint() == cert.fingerprint() => {
                if let Ok(m) = self.certs[i].clone().merge_public(cert) {
                    self.certs[i] = m;
                }
                i
            }
            _ => {
                self.certs.push(cert);
                self.certs.len() - 1
            }
        };
        for key in self.certs[idx].keys() {
            self.index
                .entry(key.key().fingerprint().to_hex())
                .or_insert(idx);
            self.index.entry(key.key().keyid().to_hex()).or_insert(idx);
        }
    }

    /// Primary key fingerprints, in input order, duplicates included.
    pub fn primary_fingerprints(&self) -> &[Fingerprint] {
        &self.primaries
    }

    /// True if no key was loaded.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificate containing the (sub)key `handle`, if any.
    pub(crate) fn lookup(&self, handle: &KeyHandle) -> Option<&Cert> {
        self.index.get(&handle.to_hex()).map(|&i| &self.certs[i])
    }

    /// All certificates (merged: one per primary key).
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }
}

/// A secret key loaded for signing: gpg `--export-secret-keys` output
/// (armored or binary, with or without a passphrase) or what
/// [`GeneratedKey::secret_armored`] wrote.
///
/// The secret stays as loaded (possibly encrypted) until a
/// [`Signer`](crate::Signer) is built from it.
///
/// `Debug` shows the fingerprint and whether the key is encrypted, never
/// key material (sequoia's own `Debug` prints unencrypted secret MPIs in
/// debug builds).
#[derive(Clone)]
pub struct SecretKey {
    pub(crate) cert: Cert,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("fingerprint", &self.fingerprint())
            .field("encrypted", &self.is_encrypted())
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Loads the first certificate whose primary key has secret material.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, Error> {
        if bytes.len() > MAX_KEY_BYTES {
            return Err(Error::Key(KeyError::TooLarge {
                size: bytes.len(),
                limit: MAX_KEY_BYTES,
            }));
        }
        let mut seen = false;
        for cert in parse_certs(bytes) {
            seen = true;
            if cert.primary_key().key().has_secret() {
                if Fingerprint::from_sequoia(&cert.fingerprint()).is_none() {
                    return Err(Error::Key(KeyError::NotV4));
                }
                return Ok(SecretKey { cert });
            }
        }
        Err(Error::Key(if seen {
            KeyError::NoSecretKey
        } else {
            KeyError::NoKey
        }))
    }

    /// The primary key fingerprint (the identity signatures are made by).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::from_sequoia_any(&self.cert.fingerprint())
    }

    /// True if the primary secret key is passphrase-protected.
    pub fn is_encrypted(&self) -> bool {
        self.cert
            .primary_key()
            .key()
            .optional_secret()
            .is_some_and(|s| s.is_encrypted())
    }

    /// The public certificate, ASCII-armored.
    pub fn public_armored(&self) -> Result<Vec<u8>, Error> {
        self.cert
            .armored()
            .to_vec()
            .map_err(KeyError::op("exporting the public key"))
    }

    /// The sequoia certificate (with secret material).
    pub fn cert(&self) -> &Cert {
        &self.cert
    }
}

/// Algorithm of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cipher {
    /// Ed25519 (EdDSA, v4). The default: small and fast.
    #[default]
    Ed25519,
    /// RSA 2048.
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

impl Cipher {
    /// The CLI name (`ed25519`, `rsa2048`, `rsa3072`, `rsa4096`).
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Ed25519 => "ed25519",
            Cipher::Rsa2048 => "rsa2048",
            Cipher::Rsa3072 => "rsa3072",
            Cipher::Rsa4096 => "rsa4096",
        }
    }

    /// Parses a CLI name (see [`Cipher::name`]).
    pub fn from_name(s: &str) -> Option<Cipher> {
        [
            Cipher::Ed25519,
            Cipher::Rsa2048,
            Cipher::Rsa3072,
            Cipher::Rsa4096,
        ]
        .into_iter()
        .find(|c| c.name() == s)
    }

    fn suite(self) -> CipherSuite {
        match self {
            Cipher::Ed25519 => CipherSuite::Cv25519,
            Cipher::Rsa2048 => CipherSuite::RSA2k,
            Cipher::Rsa3072 => CipherSuite::RSA3k,
            Cipher::Rsa4096 => CipherSuite::RSA4k,
        }
    }
}

/// Options for [`generate_key`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyGenOptions {
    /// User ID, e.g. `Name <email>`.
    pub userid: String,
    /// Algorithm.
    pub cipher: Cipher,
    /// Key creation time (default: [`SystemClock`](crate::SystemClock)'s
    /// now, when [`generate_key`] runs). Signatures must not predate it.
    pub creation_time: Option<SystemTime>,
    /// Validity period from creation (default: none, the key never expires).
    pub validity: Option<Duration>,
}

impl KeyGenOptions {
    /// Options for `userid` with the defaults (Ed25519, created now, no expiry).
    pub fn new(userid: impl Into<String>) -> KeyGenOptions {
        KeyGenOptions {
            userid: userid.into(),
            cipher: Cipher::default(),
            creation_time: None,
            validity: None,
        }
    }

    /// Sets the algorithm.
    pub fn cipher(mut self, cipher: Cipher) -> Self {
        self.cipher = cipher;
        self
    }

    /// Sets the creation time.
    pub fn creation_time(mut self, t: SystemTime) -> Self {
        self.creation_time = Some(t);
        self
    }

    /// Sets a validity period (the key expires after it).
    pub fn validity(mut self, d: Duration) -> Self {
        self.validity = Some(d);
        self
    }
}

/// Generates a v4 key whose primary key is certification- and
/// signing-capable (skopeo 1.9.3's `signedBy` only accepts signatures made by
/// the primary key), without subkeys.
pub fn generate_key(opts: KeyGenOptions) -> Result<GeneratedKey, Error> {
    let mut b = CertBuilder::new()
        .set_profile(openpgp::Profile::RFC4880)
        .map_err(KeyError::op("generating a key"))?
        .set_cipher_suite(opts.cipher.suite())
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .set_validity_period(opts.validity)
        .add_userid(opts.userid.as_str());
    b = b.set_creation_time(
        opts.creation_time
            .unwrap_or_else(|| crate::Clock::now(&crate::SystemClock)),
    );
    let (cert, _rev) = b.generate().map_err(KeyError::op("generating a key"))?;
    Ok(GeneratedKey {
        key: SecretKey { cert },
    })
}

/// A freshly generated key (secret material unencrypted in memory).
///
/// `Debug` shows the fingerprint only, never key material.
#[derive(Clone)]
pub struct GeneratedKey {
    key: SecretKey,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl GeneratedKey {
    /// The primary key fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }

    /// The public certificate, ASCII-armored (for `signedBy` `keyPath`,
    /// `gpg --import`, `imprimatur verify --public-key`).
    pub fn public_armored(&self) -> Result<Vec<u8>, Error> {
        self.key.public_armored()
    }

    /// The secret key, ASCII-armored, encrypted with `passphrase` if given
    /// (iterated and salted S2K, as gpg reads it). Write it with mode 0600.
    ///
    /// Without a passphrase the bytes are the secret key in clear, so they
    /// come in a [`Zeroizing`](crate::Zeroizing) buffer that is wiped when
    /// dropped (dereference it to get the bytes).
    pub fn secret_armored(&self, passphrase: Option<&str>) -> Result<Zeroizing<Vec<u8>>, Error> {
        let cert = match passphrase {
            None => self.key.cert.clone(),
            Some(p) => encrypt_cert(&self.key.cert, p)?,
        };
        cert.as_tsk()
            .armored()
            .to_vec()
            .map(Zeroizing::new)
            .map_err(KeyError::op("exporting the secret key"))
    }

    /// The secret key, for building a [`Signer`](crate::Signer) right away.
    pub fn secret_key(&self) -> &SecretKey {
        &self.key
    }
}

/// Encrypts every secret key of `cert` with `passphrase`.
fn encrypt_cert(cert: &Cert, passphrase: &str) -> Result<Cert, Error> {
    let password = Password::from(passphrase);
    let mut packets: Vec<openpgp::Packet> = Vec::new();
    let primary = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .map_err(KeyError::op("encrypting the secret key"))?
        .encrypt_secret(&password)
        .map_err(KeyError::op("encrypting the secret key"))?;
    packets.push(primary.into());
    for ka in cert.keys().subkeys().secret() {
        let k = ka
            .key()
            .clone()
            .encrypt_secret(&password)
            .map_err(KeyError::op("encrypting a secret subkey"))?;
        packets.push(k.into());
    }
    let (cert, _) = cert
        .clone()
        .insert_packets(packets)
        .map_err(KeyError::op("encrypting the secret key"))?;
    Ok(cert)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn generate_and_reload() {
        let g = generate_key(KeyGenOptions::new("Test <test@example.invalid>")).expect("generate");
        let fp = g.fingerprint();
        assert_eq!(fp.as_str().len(), 40);
        let public = g.public_armored().expect("public");
        let keys = TrustedKeys::from_bytes(&public).expect("load");
        assert_eq!(keys.primary_fingerprints(), std::slice::from_ref(&fp));

        let plain = SecretKey::from_bytes(&g.secret_armored(None).expect("export")).expect("load");
        assert!(!plain.is_encrypted());
        assert_eq!(plain.fingerprint(), fp);
        let enc = SecretKey::from_bytes(&g.secret_armored(Some("pw")).expect("export")).expect("l");
        assert!(enc.is_encrypted());
        assert_eq!(enc.fingerprint(), fp);

        // Public key is not a secret key.
        assert!(matches!(
            SecretKey::from_bytes(&public),
            Err(Error::Key(KeyError::NoSecretKey))
        ));
        assert!(matches!(
            SecretKey::from_bytes(b"garbage"),
            Err(Error::Key(KeyError::NoKey))
        ));
        let huge = vec![0u8; MAX_KEY_BYTES + 1];
        assert!(matches!(
            SecretKey::from_bytes(&huge),
            Err(Error::Key(KeyError::TooLarge { .. }))
        ));
        assert!(matches!(
            TrustedKeys::from_bytes(&huge),
            Err(KeyError::TooLarge { .. })
        ));
    }

    /// The unencrypted secret scalar of an Ed25519 key, as bytes.
    pub(crate) fn secret_bytes(key: &SecretKey) -> Vec<u8> {
        use openpgp::crypto::mpi;
        use openpgp::packet::key::SecretKeyMaterial;
        match key.cert.primary_key().key().optional_secret() {
            Some(SecretKeyMaterial::Unencrypted(u)) => u.map(|m| match m {
                mpi::SecretKeyMaterial::EdDSA { scalar } => scalar.value().to_vec(),
                _ => Vec::new(),
            }),
            _ => Vec::new(),
        }
    }

    /// Every way the secret could appear in a formatted string.
    pub(crate) fn assert_no_secret(shown: &str, secret: &[u8]) {
        assert!(secret.len() >= 16, "test key has a secret");
        let upper: String = secret.iter().map(|b| format!("{b:02X}")).collect();
        let spaced: Vec<String> = secret.iter().map(|b| format!("{b:02X}")).collect();
        for needle in [
            upper.clone(),
            upper.to_lowercase(),
            spaced[..8].join(" "),
            format!("{:?}", &secret[..8])
                .trim_end_matches(']')
                .to_owned(),
        ] {
            assert!(!shown.contains(&needle), "secret {needle} in {shown}");
        }
        assert!(!shown.contains("bits:"), "an MPI is printed: {shown}");
    }

    #[test]
    fn secret_keys_do_not_print_key_material() {
        let g = generate_key(KeyGenOptions::new("Debug <debug@example.invalid>")).expect("gen");
        let secret = secret_bytes(g.secret_key());
        let shown = format!("{g:?} {g:#?} {:?}", g.secret_key());
        assert_no_secret(&shown, &secret);
        assert!(shown.contains(g.fingerprint().as_str()), "{shown}");
        let reloaded =
            SecretKey::from_bytes(&g.secret_armored(None).expect("export")).expect("load");
        assert_no_secret(&format!("{reloaded:?} {reloaded:#?}"), &secret);
        // The check itself would catch sequoia's Debug in debug builds.
        if cfg!(debug_assertions) {
            let leaky = format!("{:?}", g.secret_key().cert.primary_key().key());
            assert!(leaky.contains("bits:"), "sequoia's Debug changed: {leaky}");
        }
    }

    #[test]
    fn garbage_imports_nothing() {
        for input in [&b""[..], b"This is invalid", b"-----BEGIN PGP garbage"] {
            let k = TrustedKeys::from_bytes(input).expect("no error");
            assert!(k.is_empty());
            assert!(k.primary_fingerprints().is_empty());
        }
    }

    #[test]
    fn cipher_names() {
        for c in [
            Cipher::Ed25519,
            Cipher::Rsa2048,
            Cipher::Rsa3072,
            Cipher::Rsa4096,
        ] {
            assert_eq!(Cipher::from_name(c.name()), Some(c));
        }
        assert_eq!(Cipher::from_name("dsa"), None);
    }
}
