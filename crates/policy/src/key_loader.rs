//! Reading the key files a policy names (`keyPath`, `keyPaths`): the
//! [`KeyLoader`] trait the caller implements (this crate does no I/O) and its
//! typed error, worded as containers/image words it.

use std::io;
use std::sync::Arc;

/// Why a [`KeyLoader`] could not read a key file.
///
/// containers/image reports a missing key file with Go's `*os.PathError`:
/// `open /x: no such file or directory`. This error renders the same text
/// as a chain: the message is `open /x`, and the [`source`] is the
/// [`io::Error`], whose text is rewritten to Go's for the common kinds
/// (`no such file or directory`, `permission denied`, `is a directory`).
/// Print it with [`ErrorChain`](imprimatur_signature::ErrorChain) (as
/// [`Rejection`](crate::Rejection) does) to get the whole text.
///
/// `Clone` (the I/O error is shared) because an
/// [`Evaluator`](crate::Evaluator) caches the outcome of loading keys, and
/// `PartialEq` by path, kind and text so that decisions stay comparable.
///
/// [`source`]: std::error::Error::source
#[derive(Debug, Clone)]
pub struct KeyFileError {
    path: String,
    source: Arc<io::Error>,
}

impl std::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "open {}", self.path)
    }
}

/// The source is the [`io::Error`] itself (not the `Arc` around it), so
/// callers can `downcast_ref::<io::Error>()`.
impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl KeyFileError {
    /// `path` (as written in the policy) could not be read because of
    /// `source`. The text of `source` is replaced by Go's for `NotFound`,
    /// `PermissionDenied` and `IsADirectory`; its kind is kept.
    pub fn new(path: impl Into<String>, source: io::Error) -> KeyFileError {
        KeyFileError {
            path: path.into(),
            source: Arc::new(go_worded(source)),
        }
    }

    /// `path` holds more than `limit` bytes (kind `FileTooLarge`).
    /// containers/image has no limit, so there is no Go wording to keep.
    pub fn too_large(path: impl Into<String>, limit: u64) -> KeyFileError {
        let message = format!("key file larger than {limit} bytes");
        KeyFileError::new(path, io::Error::new(io::ErrorKind::FileTooLarge, message))
    }

    /// The path as written in the policy.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The kind of the I/O error (`NotFound`, `PermissionDenied`, …).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The I/O error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl PartialEq for KeyFileError {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.kind() == other.kind()
            && self.source.to_string() == other.source.to_string()
    }
}

impl Eq for KeyFileError {}

/// The error with Go's text for the kinds containers/image users see most
/// (`syscall.Errno` strings), so messages match skopeo's.
fn go_worded(e: io::Error) -> io::Error {
    let text = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory",
        io::ErrorKind::PermissionDenied => "permission denied",
        io::ErrorKind::IsADirectory => "is a directory",
        _ => return e,
    };
    io::Error::new(e.kind(), text)
}

/// Reads key files named by `keyPath`/`keyPaths`, once per key source and
/// [`Evaluator`](crate::Evaluator) (the outcome is cached). The error is
/// kept in [`KeysError::Load`](crate::KeysError::Load) and shown to the
/// user as `open /x: no such file or directory`.
///
/// `imprimatur-registry`'s `files::FsKeyLoader` reads the file system; a
/// closure `Fn(&str) -> Result<Vec<u8>, KeyFileError>` is a loader too.
pub trait KeyLoader: Send + Sync {
    /// The bytes of the key file at `path` (as written in the policy).
    fn load(&self, path: &str) -> Result<Vec<u8>, KeyFileError>;
}

impl<F> KeyLoader for F
where
    F: Fn(&str) -> Result<Vec<u8>, KeyFileError> + Send + Sync,
{
    fn load(&self, path: &str) -> Result<Vec<u8>, KeyFileError> {
        self(path)
    }
}

/// A loader for policies without key files: every path is an error (kind
/// `Unsupported`), for callers that evaluate `keyData` policies only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeyFiles;

impl KeyLoader for NoKeyFiles {
    fn load(&self, path: &str) -> Result<Vec<u8>, KeyFileError> {
        let unavailable = io::Error::new(
            io::ErrorKind::Unsupported,
            "key files are not available in this context",
        );
        Err(KeyFileError::new(path, unavailable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprimatur_signature::ErrorChain;

    fn chain(e: &KeyFileError) -> String {
        ErrorChain(e).to_string()
    }

    #[test]
    fn reads_like_go_and_keeps_the_io_error() {
        let e = KeyFileError::new("/x", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(chain(&e), "open /x: no such file or directory");
        assert_eq!(e.path(), "/x");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::NotFound));

        let e = KeyFileError::new("/y", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(chain(&e), "open /y: permission denied");
    }

    #[test]
    fn other_errors_keep_their_text() {
        let e = KeyFileError::new("/x", io::Error::other("disk on fire"));
        assert_eq!(chain(&e), "open /x: disk on fire");
        let e = KeyFileError::too_large("/big", 8);
        assert_eq!(chain(&e), "open /big: key file larger than 8 bytes");
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn no_key_files_names_the_path() {
        let e = NoKeyFiles.load("/k").err();
        assert_eq!(
            e.as_ref().map(chain).as_deref(),
            Some("open /k: key files are not available in this context")
        );
        assert_eq!(e.map(|e| e.kind()), Some(io::ErrorKind::Unsupported));
    }
}
