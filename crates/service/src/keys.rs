//! Where signing keys come from: a directory of key files locally (`--key-dir
//! DIR`, the key named `DIR/<signingKeySecretName>`), a Secret in a cluster.
//! Key material is never logged or put in a status; only fingerprints are.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use imprimatur_signature as sig;
use imprimatur_sigstore::PrivateKey;

use crate::error::{Error, Result};

/// Largest key file read.
const MAX_KEY_FILE: u64 = 1 << 20;

/// Supplies the secret key a request names.
pub trait KeyProvider: Send + Sync {
    /// The key called `name` (and its passphrase, if it has one). When
    /// `sign_by` is given, the key must carry a user ID equal to it or whose
    /// e-mail address is it.
    fn signing_key(
        &self,
        name: &str,
        sign_by: Option<&str>,
    ) -> Result<(sig::SecretKey, Option<sig::Passphrase>)>;

    /// The sigstore (cosign) private key called `name`, decrypted. Providers
    /// without sigstore keys keep this default, an error saying so.
    fn sigstore_key(&self, name: &str) -> Result<PrivateKey> {
        Err(Error::Key {
            path: PathBuf::from(name),
            message: "this key provider holds no sigstore keys".into(),
        })
    }
}

/// Key files in a directory: `DIR/NAME` holds a secret key (as `imprimatur
/// keygen` writes it, or `gpg --export-secret-keys`), and `DIR/NAME.passphrase`,
/// when present, its passphrase. A sigstore key of the same name is
/// `DIR/NAME.sigstore.key` (as `imprimatur keygen --sigstore` or `cosign
/// generate-key-pair` writes it), its passphrase `DIR/NAME.sigstore.passphrase`
/// (none: the empty passphrase).
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// Keys in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyDir { dir: dir.into() }
    }
}

impl KeyProvider for KeyDir {
    fn signing_key(
        &self,
        name: &str,
        sign_by: Option<&str>,
    ) -> Result<(sig::SecretKey, Option<sig::Passphrase>)> {
        let path = self.path_of(name, "")?;
        let bytes = read_bounded(&path)?;
        let key = sig::SecretKey::from_bytes(&bytes).map_err(|e| Error::Key {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let passphrase = read_passphrase(&self.path_of(name, ".passphrase")?)?;
        if let Some(want) = sign_by {
            check_sign_by(&key, want, &path)?;
        }
        Ok((key, passphrase))
    }

    fn sigstore_key(&self, name: &str) -> Result<PrivateKey> {
        let path = self.path_of(name, ".sigstore.key")?;
        let bytes = read_bounded(&path)?;
        let passphrase =
            read_passphrase(&self.path_of(name, ".sigstore.passphrase")?)?.unwrap_or_default();
        PrivateKey::from_encrypted_pem(&bytes, &passphrase).map_err(|e| Error::Key {
            path,
            message: e.to_string(),
        })
    }
}

impl KeyDir {
    /// `DIR/<name><suffix>`, for a name that stays inside the directory.
    fn path_of(&self, name: &str, suffix: &str) -> Result<PathBuf> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Key {
                path: self.dir.clone(),
                message: format!("invalid key name {name:?}"),
            });
        }
        Ok(self.dir.join(format!("{name}{suffix}")))
    }
}

/// The passphrase in `path` (its final line break removed), if the file
/// exists. Every buffer that held it is wiped when dropped.
fn read_passphrase(path: &Path) -> Result<Option<sig::Passphrase>> {
    if std::fs::metadata(path).is_err() {
        return Ok(None);
    }
    passphrase_of(&read_bounded(path)?, path).map(Some)
}

/// A passphrase from its bytes (its final line break removed), read from
/// `from` (named in the error when it is not UTF-8).
fn passphrase_of(bytes: &[u8], from: &Path) -> Result<sig::Passphrase> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::Key {
        path: from.to_owned(),
        message: "passphrase is not UTF-8".into(),
    })?;
    Ok(sig::Passphrase::from(text.trim_end_matches(['\n', '\r'])))
}

/// The keys in one Kubernetes Secret (its `data`, decoded), for the request
/// whose `signingKeySecretName` names that Secret. Entries, first found wins:
///
/// - OpenPGP secret key: `key` (as `imprimatur keygen` writes it, armored or
///   binary) or the predecessor's `secring.gpg` (a GnuPG 1 keyring: the
///   first key with secret material; `signingKeySignBy` is then checked);
///   its passphrase: `passphrase`.
/// - sigstore key: `sigstore.key`, or cosign's own Secret layout (`cosign
///   generate-key-pair k8s://…`) `cosign.key`; its passphrase
///   `sigstore.passphrase` or `cosign.password` (none: the empty one).
///
/// The bytes are zeroized when dropped, and `Debug` shows entry names only.
#[derive(Clone)]
pub struct SecretKeys {
    name: String,
    data: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field("name", &self.name)
            .field("entries", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretKeys {
    /// The Secret `name`'s decoded data.
    pub fn new(name: impl Into<String>, data: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        SecretKeys {
            name: name.into(),
            data: data
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        }
    }

    /// The first of `entries` present, with its name.
    fn entry(&self, entries: &[&'static str]) -> Option<(&'static str, &[u8])> {
        entries
            .iter()
            .find_map(|e| self.data.get(*e).map(|v| (*e, v.as_slice())))
    }

    /// Where an entry is, for error messages: `secret NAME, entry KEY`.
    fn location(&self, entry: &str) -> PathBuf {
        PathBuf::from(format!("secret {}, entry {entry}", self.name))
    }

    fn check_name(&self, name: &str) -> Result<()> {
        if name == self.name {
            return Ok(());
        }
        Err(Error::Key {
            path: PathBuf::from(format!("secret {name}")),
            message: format!("only the keys of secret {} are available here", self.name),
        })
    }

    fn passphrase(&self, entries: &[&'static str]) -> Result<Option<sig::Passphrase>> {
        let Some((entry, bytes)) = self.entry(entries) else {
            return Ok(None);
        };
        passphrase_of(bytes, &self.location(entry)).map(Some)
    }
}

impl KeyProvider for SecretKeys {
    fn signing_key(
        &self,
        name: &str,
        sign_by: Option<&str>,
    ) -> Result<(sig::SecretKey, Option<sig::Passphrase>)> {
        self.check_name(name)?;
        let (entry, bytes) = self
            .entry(&["key", "secring.gpg"])
            .ok_or_else(|| Error::Key {
                path: PathBuf::from(format!("secret {name}")),
                message: "holds no OpenPGP secret key (entries `key` or `secring.gpg`)".into(),
            })?;
        let path = self.location(entry);
        let key = sig::SecretKey::from_bytes(bytes).map_err(|e| Error::Key {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(want) = sign_by {
            check_sign_by(&key, want, &path)?;
        }
        Ok((key, self.passphrase(&["passphrase"])?))
    }

    fn sigstore_key(&self, name: &str) -> Result<PrivateKey> {
        self.check_name(name)?;
        let (entry, bytes) =
            self.entry(&["sigstore.key", "cosign.key"])
                .ok_or_else(|| Error::Key {
                    path: PathBuf::from(format!("secret {name}")),
                    message: "holds no sigstore key (entries `sigstore.key` or `cosign.key`)"
                        .into(),
                })?;
        let passphrase = self
            .passphrase(&["sigstore.passphrase", "cosign.password"])?
            .unwrap_or_default();
        PrivateKey::from_encrypted_pem(bytes, &passphrase).map_err(|e| Error::Key {
            path: self.location(entry),
            message: e.to_string(),
        })
    }
}

/// Checks that `key` carries the user ID `want` (or one with that e-mail).
pub fn check_sign_by(key: &sig::SecretKey, want: &str, path: &Path) -> Result<()> {
    let ids: Vec<String> = key
        .cert()
        .userids()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        .collect();
    let matches = |id: &String| {
        id == want
            || id
                .rsplit_once('<')
                .and_then(|(_, rest)| rest.strip_suffix('>'))
                .is_some_and(|email| email.eq_ignore_ascii_case(want))
    };
    if ids.iter().any(matches) {
        return Ok(());
    }
    Err(Error::Key {
        path: path.to_owned(),
        message: format!(
            "signingKeySignBy {want:?} is not a user ID of key {} (it has: {})",
            key.fingerprint(),
            if ids.is_empty() {
                "none".into()
            } else {
                ids.join(", ")
            }
        ),
    })
}

/// The file at `path` (a secret key or a passphrase), at most
/// [`MAX_KEY_FILE`] bytes, in a buffer wiped when dropped.
fn read_bounded(path: &Path) -> Result<sig::Zeroizing<Vec<u8>>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| Error::Key {
        path: path.to_owned(),
        message: format!("cannot open: {e}"),
    })?;
    // Sized from the metadata (a hint only: the read is bounded by `take`),
    // so that a regular file is read without the buffer growing and leaving
    // unwiped copies behind.
    let hint = file.metadata().map_or(0, |m| m.len()).min(MAX_KEY_FILE) + 1;
    let mut bytes = sig::Zeroizing::new(Vec::with_capacity(hint as usize));
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(Error::Key {
            path: path.to_owned(),
            message: format!("larger than {MAX_KEY_FILE} bytes"),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_name_and_sign_by_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = sig::generate_key(sig::KeyGenOptions::new(
            "Release Signer <release@example.com>",
        ))
        .unwrap();
        std::fs::write(
            dir.path().join("release"),
            key.secret_armored(None).unwrap(),
        )
        .unwrap();
        let keys = KeyDir::new(dir.path());
        let (k, p) = keys
            .signing_key("release", Some("release@example.com"))
            .unwrap();
        assert_eq!(k.fingerprint(), key.fingerprint());
        assert!(p.is_none());
        keys.signing_key("release", Some("Release Signer <release@example.com>"))
            .unwrap();
        let e = keys
            .signing_key("release", Some("other@example.com"))
            .unwrap_err();
        assert!(
            matches!(e, Error::Key { .. }) && e.to_string().contains("release@example.com"),
            "{e}"
        );
        let e = keys.signing_key("missing", None).unwrap_err();
        assert!(
            e.to_string().contains("missing") && e.to_string().contains("cannot open"),
            "{e}"
        );
        assert!(keys.signing_key("../etc/passwd", None).is_err());
        std::fs::write(dir.path().join("garbage"), b"not a key").unwrap();
        assert!(matches!(
            keys.signing_key("garbage", None),
            Err(Error::Key { .. })
        ));
    }

    #[test]
    fn passphrase_file_is_read_next_to_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = sig::generate_key(sig::KeyGenOptions::new("x <x@example.com>")).unwrap();
        std::fs::write(
            dir.path().join("k"),
            key.secret_armored(Some("hunter2")).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("k.passphrase"), "hunter2\n").unwrap();
        let (k, p) = KeyDir::new(dir.path()).signing_key("k", None).unwrap();
        let shown = format!("{k:?} {p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let signer = sig::Signer::builder(&k).passphrase(p.unwrap()).build();
        assert!(signer.is_ok(), "the passphrase unlocks the key");
    }

    #[test]
    fn sigstore_keys_sit_beside_the_openpgp_key_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate().unwrap();
        let pem = key
            .to_encrypted_pem(&sig::Passphrase::from("pw".to_owned()))
            .unwrap();
        std::fs::write(dir.path().join("release.sigstore.key"), pem.as_bytes()).unwrap();
        let keys = KeyDir::new(dir.path());
        // Wrong (empty) passphrase: a key error naming the file.
        let e = keys.sigstore_key("release").unwrap_err();
        assert!(
            matches!(&e, Error::Key { path, .. } if path.ends_with("release.sigstore.key")),
            "{e}"
        );
        std::fs::write(dir.path().join("release.sigstore.passphrase"), "pw\n").unwrap();
        let loaded = keys.sigstore_key("release").unwrap();
        assert_eq!(loaded.public_key().key_id(), key.public_key().key_id());
        assert!(matches!(keys.sigstore_key("../x"), Err(Error::Key { .. })));
        assert!(matches!(
            keys.sigstore_key("absent"),
            Err(Error::Key { .. })
        ));
    }

    #[test]
    fn secret_data_holds_both_kinds_and_never_prints_them() {
        let key = sig::generate_key(sig::KeyGenOptions::new("S <s@example.com>")).unwrap();
        let armored = key.secret_armored(Some("pw")).unwrap().to_vec();
        let cosign = PrivateKey::generate().unwrap();
        let pem = cosign
            .to_encrypted_pem(&sig::Passphrase::from("cpw".to_owned()))
            .unwrap();
        let secret = SecretKeys::new(
            "signer",
            [
                ("secring.gpg".to_owned(), armored.clone()),
                ("passphrase".to_owned(), b"pw\n".to_vec()),
                ("cosign.key".to_owned(), pem.as_bytes().to_vec()),
                ("cosign.password".to_owned(), b"cpw".to_vec()),
            ],
        );
        let (k, p) = secret.signing_key("signer", Some("s@example.com")).unwrap();
        assert_eq!(k.fingerprint(), key.fingerprint());
        assert!(
            sig::Signer::builder(&k)
                .passphrase(p.unwrap())
                .build()
                .is_ok()
        );
        let c = secret.sigstore_key("signer").unwrap();
        assert_eq!(c.public_key().key_id(), cosign.public_key().key_id());
        // Another secret's name, a wrong user ID: typed errors naming them.
        let e = secret.signing_key("other", None).unwrap_err();
        assert!(
            matches!(e, Error::Key { .. }) && e.to_string().contains("other"),
            "{e}"
        );
        let e = secret
            .signing_key("signer", Some("x@example.com"))
            .unwrap_err();
        assert!(
            e.to_string().contains("secret signer, entry secring.gpg"),
            "{e}"
        );
        // Debug names the entries, never their bytes.
        let debug = format!("{secret:?}");
        assert!(
            debug.contains("cosign.password") && debug.contains("signer"),
            "{debug}"
        );
        assert!(
            !debug.contains("cpw") && !debug.contains("BEGIN"),
            "{debug}"
        );
        // Nothing to sign with: says which entries were looked for.
        let empty = SecretKeys::new("signer", []);
        let e = empty.sigstore_key("signer").unwrap_err();
        assert!(e.to_string().contains("cosign.key"), "{e}");
    }

    /// Errors name the file, never echo what is in it (a key file may be a
    /// secret in the wrong format, a passphrase file may not be UTF-8).
    #[test]
    fn errors_do_not_echo_file_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"hunter2-not-a-key").unwrap();
        let e = KeyDir::new(dir.path()).signing_key("k", None).unwrap_err();
        assert!(matches!(e, Error::Key { .. }), "{e:?}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let key = sig::generate_key(sig::KeyGenOptions::new("x <x@example.com>")).unwrap();
        std::fs::write(dir.path().join("k"), key.secret_armored(None).unwrap()).unwrap();
        std::fs::write(dir.path().join("k.passphrase"), b"hunter2\xff").unwrap();
        let e = KeyDir::new(dir.path()).signing_key("k", None).unwrap_err();
        assert!(matches!(e, Error::Key { .. }), "{e:?}");
        let shown = format!("{e} {e:?}");
        assert!(
            shown.contains("not UTF-8") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
