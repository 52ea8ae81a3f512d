//! Where signing keys come from: a directory of key files locally (`--key-dir
//! DIR`, the key named `DIR/<signingKeySecretName>`), a Secret in a cluster.
//! Key material is never logged or put in a status; only fingerprints are.

use std::path::{Path, PathBuf};

use imprimatur_signature as sig;

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
}

/// Key files in a directory: `DIR/NAME` holds a secret key (as `imprimatur
/// keygen` writes it, or `gpg --export-secret-keys`), and `DIR/NAME.passphrase`,
/// when present, its passphrase.
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
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Key {
                path: self.dir.clone(),
                message: format!("invalid key name {name:?}"),
            });
        }
        let path = self.dir.join(name);
        let bytes = read_bounded(&path)?;
        let key = sig::SecretKey::from_bytes(&bytes).map_err(|e| Error::Key {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let pass_path = self.dir.join(format!("{name}.passphrase"));
        let passphrase = match std::fs::metadata(&pass_path) {
            Ok(_) => Some(read_passphrase(&pass_path)?),
            Err(_) => None,
        };
        if let Some(want) = sign_by {
            check_sign_by(&key, want, &path)?;
        }
        Ok((key, passphrase))
    }
}

/// The passphrase in `path`, without the line end. Every buffer that held
/// it is wiped when dropped.
fn read_passphrase(path: &Path) -> Result<sig::Passphrase> {
    let raw = read_bounded(path)?;
    let text = std::str::from_utf8(&raw).map_err(|_| Error::Key {
        path: path.to_owned(),
        message: "passphrase is not UTF-8".into(),
    })?;
    Ok(sig::Passphrase::from(text.trim_end_matches(['\n', '\r'])))
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
