//! ECDSA P-256 keys: generation, cosign's encrypted private key files, PEM
//! public keys.
//!
//! The private key file is what `cosign generate-key-pair` writes and
//! containers/image reads (`--sign-by-sigstore-private-key`): a PEM block of
//! type `ENCRYPTED COSIGN PRIVATE KEY` (newer releases also read `ENCRYPTED
//! SIGSTORE PRIVATE KEY`) whose body is the JSON document
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"…"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"…"},"ciphertext":"…"}
//! ```
//!
//! (standard padded base64; a 32-byte salt; a 24-byte nonce; the plaintext
//! is the PKCS#8 DER private key). The key is always encrypted: no
//! passphrase means the empty one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use imprimatur_signature::Passphrase;
use imprimatur_signature::json::{self, Value};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::{KeyError, SignatureEncodingError, pem};

/// PEM type of the private key files this crate writes (and containers/image
/// 5.23.1 reads).
pub const COSIGN_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM type newer sigstore tools also read; read here, never written.
pub const SIGSTORE_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM type of public keys (PKIX `SubjectPublicKeyInfo` DER).
pub const PUBLIC_KEY_PEM_TYPE: &str = "PUBLIC KEY";
/// Largest key file read (real ones are well under 1 KiB).
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;

/// scrypt cost: N = 2^15, r = 8, p = 1, as cosign writes and containers/image
/// requires.
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_N: u64 = 1 << SCRYPT_LOG_N;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// An ECDSA P-256 private key. It never prints (`Debug` shows only the
/// public key id) and its memory is wiped when dropped.
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        loop {
            OsRng
                .try_fill_bytes(&mut bytes[..])
                .map_err(|e| KeyError::Random(e.to_string()))?;
            // Out of range scalars (probability ~2^-32) are drawn again.
            if let Ok(key) = SigningKey::from_slice(&bytes[..]) {
                return Ok(PrivateKey { key });
            }
        }
    }

    /// Reads a PKCS#8 DER private key (unencrypted).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        SigningKey::from_pkcs8_der(der)
            .map(|key| PrivateKey { key })
            .map_err(|e| KeyError::PrivateKey(format!("not a PKCS#8 ECDSA P-256 key: {e}")))
    }

    /// The key as PKCS#8 DER (unencrypted: handle with care).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|e| KeyError::PrivateKey(e.to_string()))
    }

    /// Reads a cosign key file (`ENCRYPTED COSIGN PRIVATE KEY` or
    /// `ENCRYPTED SIGSTORE PRIVATE KEY`), decrypting it with `passphrase`
    /// (the empty passphrase when the key was written without one).
    pub fn from_encrypted_pem(
        file: &[u8],
        passphrase: &Passphrase,
    ) -> Result<PrivateKey, KeyError> {
        if file.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                size: file.len(),
                limit: MAX_KEY_FILE_BYTES,
            });
        }
        let block = pem::decode_first(file)?;
        if block.label != COSIGN_PRIVATE_KEY_PEM_TYPE
            && block.label != SIGSTORE_PRIVATE_KEY_PEM_TYPE
        {
            return Err(KeyError::PemType {
                found: block.label,
                expected: "ENCRYPTED COSIGN PRIVATE KEY or ENCRYPTED SIGSTORE PRIVATE KEY",
            });
        }
        let doc = EncryptedDocument::parse(&block.data)?;
        let plaintext = doc.decrypt(passphrase.expose().as_bytes())?;
        PrivateKey::from_pkcs8_der(&plaintext)
    }

    /// Writes the key as an `ENCRYPTED COSIGN PRIVATE KEY` PEM file,
    /// encrypted with `passphrase` (may be empty) under a fresh random salt
    /// and nonce.
    pub fn to_encrypted_pem(&self, passphrase: &Passphrase) -> Result<Zeroizing<String>, KeyError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut salt)
            .and_then(|()| OsRng.try_fill_bytes(&mut nonce))
            .map_err(|e| KeyError::Random(e.to_string()))?;
        self.to_encrypted_pem_with(passphrase, &salt, &nonce)
    }

    /// [`PrivateKey::to_encrypted_pem`] with a given salt and nonce (for
    /// reproducible test vectors; never reuse a nonce with the same
    /// passphrase and salt).
    pub fn to_encrypted_pem_with(
        &self,
        passphrase: &Passphrase,
        salt: &[u8; SALT_LEN],
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Zeroizing<String>, KeyError> {
        let der = self.to_pkcs8_der()?;
        let key = derive_key(passphrase.expose().as_bytes(), salt)?;
        let ciphertext = XSalsa20Poly1305::new((&*key).into())
            .encrypt(nonce.into(), der.as_slice())
            .map_err(|_| KeyError::Format("encryption failed".to_owned()))?;
        let json = Zeroizing::new(format!(
            r#"{{"kdf":{{"name":"scrypt","params":{{"N":{SCRYPT_N},"r":{SCRYPT_R},"p":{SCRYPT_P}}},"salt":"{}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}}"#,
            STANDARD.encode(salt),
            STANDARD.encode(nonce),
            STANDARD.encode(&ciphertext),
        ));
        Ok(pem::encode(COSIGN_PRIVATE_KEY_PEM_TYPE, json.as_bytes()))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    /// Signs `message` (ECDSA P-256 over SHA-256, deterministic nonce per
    /// RFC 6979) and returns the ASN.1 DER signature.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(message);
        let der: DerSignature = sig.to_der();
        der.as_bytes().to_vec()
    }
}

fn derive_key(passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, KEY_LEN)
        .map_err(|e| KeyError::Format(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(passphrase, salt, &params, &mut key[..])
        .map_err(|e| KeyError::Format(format!("scrypt: {e}")))?;
    Ok(key)
}

/// The JSON body of an encrypted key file.
struct EncryptedDocument {
    salt: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl EncryptedDocument {
    fn parse(body: &[u8]) -> Result<EncryptedDocument, KeyError> {
        let v = json::parse_with(body, &json::Limits::default().max_bytes(MAX_KEY_FILE_BYTES))
            .map_err(|e| KeyError::Format(e.to_string()))?;
        let top = members(&v, "")?;
        let kdf = members(field(top, "", "kdf")?, "kdf")?;
        let kdf_name = string(field(kdf, "kdf", "name")?, "kdf.name")?;
        if kdf_name != "scrypt" {
            return Err(KeyError::Format(format!(
                "unsupported key derivation function {kdf_name:?}"
            )));
        }
        let params = members(field(kdf, "kdf", "params")?, "kdf.params")?;
        let n = integer(field(params, "kdf.params", "N")?, "kdf.params.N")?;
        let r = integer(field(params, "kdf.params", "r")?, "kdf.params.r")?;
        let p = integer(field(params, "kdf.params", "p")?, "kdf.params.p")?;
        if (n, r, p) != (SCRYPT_N, u64::from(SCRYPT_R), u64::from(SCRYPT_P)) {
            return Err(KeyError::ScryptParams { n, r, p });
        }
        let salt = bytes(field(kdf, "kdf", "salt")?, "kdf.salt")?;
        if salt.len() > 1024 {
            return Err(KeyError::Format("kdf.salt is too long".to_owned()));
        }
        let cipher = members(field(top, "", "cipher")?, "cipher")?;
        let cipher_name = string(field(cipher, "cipher", "name")?, "cipher.name")?;
        if cipher_name != "nacl/secretbox" {
            return Err(KeyError::Format(format!(
                "unsupported cipher {cipher_name:?}"
            )));
        }
        let nonce = bytes(field(cipher, "cipher", "nonce")?, "cipher.nonce")?;
        let nonce: [u8; NONCE_LEN] = nonce.as_slice().try_into().map_err(|_| {
            KeyError::Format(format!(
                "cipher.nonce is {} bytes, expected {NONCE_LEN}",
                nonce.len()
            ))
        })?;
        let ciphertext = bytes(field(top, "", "ciphertext")?, "ciphertext")?;
        Ok(EncryptedDocument {
            salt,
            nonce,
            ciphertext,
        })
    }

    fn decrypt(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = derive_key(passphrase, &self.salt)?;
        XSalsa20Poly1305::new((&*key).into())
            .decrypt((&self.nonce).into(), self.ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Decrypt)
    }
}

type Members = [(String, Value)];

fn members<'a>(v: &'a Value, path: &str) -> Result<&'a Members, KeyError> {
    match v {
        Value::Object(m) => {
            if let Some(k) = v.duplicate_key() {
                return Err(KeyError::Format(format!("{path}: duplicate key {k:?}")));
            }
            Ok(m)
        }
        other => Err(KeyError::Format(format!(
            "{}: object expected, got {}",
            if path.is_empty() { "document" } else { path },
            other.type_name()
        ))),
    }
}

fn field<'a>(m: &'a Members, path: &str, key: &str) -> Result<&'a Value, KeyError> {
    m.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            KeyError::Format(if path.is_empty() {
                format!("key {key:?} missing")
            } else {
                format!("{path}: key {key:?} missing")
            })
        })
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, KeyError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(KeyError::Format(format!(
            "{path}: string expected, got {}",
            other.type_name()
        ))),
    }
}

fn integer(v: &Value, path: &str) -> Result<u64, KeyError> {
    match v {
        Value::Number(n) => n.as_str().parse::<u64>().map_err(|_| {
            KeyError::Format(format!("{path}: {} is not a small integer", n.as_str()))
        }),
        other => Err(KeyError::Format(format!(
            "{path}: number expected, got {}",
            other.type_name()
        ))),
    }
}

fn bytes(v: &Value, path: &str) -> Result<Vec<u8>, KeyError> {
    STANDARD
        .decode(string(v, path)?)
        .map_err(|e| KeyError::Format(format!("{path}: invalid base64: {e}")))
}

/// An ECDSA P-256 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl PublicKey {
    /// Reads the first `PUBLIC KEY` PEM block of `file` (PKIX DER inside).
    pub fn from_pem(file: &[u8]) -> Result<PublicKey, KeyError> {
        if file.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                size: file.len(),
                limit: MAX_KEY_FILE_BYTES,
            });
        }
        let block = pem::decode_first(file)?;
        if block.label != PUBLIC_KEY_PEM_TYPE {
            return Err(KeyError::PemType {
                found: block.label,
                expected: PUBLIC_KEY_PEM_TYPE,
            });
        }
        PublicKey::from_der(&block.data)
    }

    /// Reads a PKIX `SubjectPublicKeyInfo` DER public key.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_public_key_der(der)
            .map(|key| PublicKey { key })
            .map_err(|e| {
                KeyError::PublicKey(format!(
                    "not a PKIX ECDSA P-256 public key (the only kind supported): {e}"
                ))
            })
    }

    /// PKIX `SubjectPublicKeyInfo` DER.
    pub fn to_der(&self) -> Vec<u8> {
        self.key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// A `PUBLIC KEY` PEM block with a final newline, as cosign writes
    /// `cosign.pub`.
    pub fn to_pem(&self) -> String {
        pem::encode(PUBLIC_KEY_PEM_TYPE, &self.to_der()).to_string()
    }

    /// A stable identifier for messages: lowercase hex SHA-256 of the PKIX
    /// DER encoding.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.to_der()))
    }

    /// Verifies an ASN.1 DER ECDSA signature over `message` (SHA-256).
    /// `Err` carries what was wrong with the encoding; a well-formed
    /// signature that does not verify is `Ok(false)`.
    pub fn verify(
        &self,
        message: &[u8],
        der_signature: &[u8],
    ) -> Result<bool, SignatureEncodingError> {
        let sig = Signature::from_der(der_signature)
            .map_err(|_| SignatureEncodingError::NotDerEcdsaP256)?;
        Ok(self.key.verify(message, &sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_key_round_trip_and_wrong_passphrase() {
        let key = PrivateKey::generate().expect("generate");
        let pass = Passphrase::from("hunter2");
        let pem = key.to_encrypted_pem(&pass).expect("encrypt");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let back = PrivateKey::from_encrypted_pem(pem.as_bytes(), &pass).expect("decrypt");
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(
            PrivateKey::from_encrypted_pem(pem.as_bytes(), &Passphrase::from("hunter3")).err(),
            Some(KeyError::Decrypt)
        );
        // Newer tools' PEM type is read too.
        let sigstore = pem.replace("COSIGN", "SIGSTORE");
        assert!(PrivateKey::from_encrypted_pem(sigstore.as_bytes(), &pass).is_ok());
        // The empty passphrase still encrypts.
        let empty = key
            .to_encrypted_pem(&Passphrase::default())
            .expect("encrypt");
        let doc = pem::decode_first(empty.as_bytes()).expect("pem");
        let body = String::from_utf8(doc.data.to_vec()).expect("utf8");
        assert!(
            body.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#
            ),
            "{body}"
        );
        assert!(PrivateKey::from_encrypted_pem(empty.as_bytes(), &Passphrase::default()).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = PrivateKey::generate().expect("generate");
        let scalar = key.key.to_bytes();
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains(&key.public_key().key_id()));
        let hex = hex::encode(&scalar[..8]);
        let listed = format!("{:?}", &scalar[..8]);
        for needle in [
            hex.clone(),
            hex.to_uppercase(),
            listed.trim_end_matches(']').into(),
        ] {
            assert!(!shown.contains(&needle), "secret {needle} in {shown}");
        }
        // The needle is what a derived Debug over the scalar would print.
        assert!(format!("{:?}", &scalar[..]).contains(listed.trim_end_matches(']')));
    }

    #[test]
    fn refuses_other_parameters_and_types() {
        let key = PrivateKey::generate().expect("generate");
        let pass = Passphrase::default();
        let pem = key.to_encrypted_pem(&pass).expect("encrypt");
        let body = pem::decode_first(pem.as_bytes()).expect("pem");
        let json = String::from_utf8(body.data.to_vec()).expect("utf8");
        let reencode = |j: &str, label: &str| pem::encode(label, j.as_bytes()).to_string();
        let cheap = reencode(&json.replace("32768", "16384"), COSIGN_PRIVATE_KEY_PEM_TYPE);
        assert_eq!(
            PrivateKey::from_encrypted_pem(cheap.as_bytes(), &pass).err(),
            Some(KeyError::ScryptParams {
                n: 16384,
                r: 8,
                p: 1
            })
        );
        let other = reencode(&json, "EC PRIVATE KEY");
        assert!(matches!(
            PrivateKey::from_encrypted_pem(other.as_bytes(), &pass),
            Err(KeyError::PemType { .. })
        ));
        let dup = reencode(
            &json.replacen("{\"kdf\"", "{\"ciphertext\":\"\",\"kdf\"", 1),
            COSIGN_PRIVATE_KEY_PEM_TYPE,
        );
        assert!(matches!(
            PrivateKey::from_encrypted_pem(dup.as_bytes(), &pass),
            Err(KeyError::Format(m)) if m.contains("duplicate")
        ));
        assert!(matches!(
            PublicKey::from_pem(pem.as_bytes()),
            Err(KeyError::PemType { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn key_readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = PublicKey::from_pem(&bytes);
            let _ = PublicKey::from_der(&bytes);
            let _ = PrivateKey::from_pkcs8_der(&bytes);
            let _ = PrivateKey::from_encrypted_pem(&bytes, &Passphrase::default());
            let mut pem = b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n".to_vec();
            pem.extend_from_slice(&bytes);
            pem.extend_from_slice(b"\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n");
            let _ = PrivateKey::from_encrypted_pem(&pem, &Passphrase::default());
        }
    }

    #[test]
    fn sign_and_verify() {
        let key = PrivateKey::generate().expect("generate");
        let other = PrivateKey::generate().expect("generate");
        let sig = key.sign(b"hello");
        let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes()).expect("pem");
        assert_eq!(public.verify(b"hello", &sig), Ok(true));
        assert_eq!(public.verify(b"hellO", &sig), Ok(false));
        assert_eq!(other.public_key().verify(b"hello", &sig), Ok(false));
        assert_eq!(
            public.verify(b"hello", b"\x30\x00"),
            Err(SignatureEncodingError::NotDerEcdsaP256)
        );
        let pkcs8 = key.to_pkcs8_der().expect("der");
        let again = PrivateKey::from_pkcs8_der(&pkcs8).expect("pkcs8");
        assert_eq!(again.sign(b"x"), key.sign(b"x"));
    }
}
