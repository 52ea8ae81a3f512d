//! [`Passphrase`]: a secret string that never prints and is wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// A passphrase for a secret key.
///
/// `Debug` prints `Passphrase(<redacted>)`; there is no `Display`. The
/// bytes are overwritten with zeros when the value is dropped (through
/// [`zeroize`](https://docs.rs/zeroize)). Copies the caller made before
/// handing the string over (and buffers left behind by a `String` that
/// grew) are the caller's to wipe.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps `s` (moved, not copied).
    pub fn new(s: String) -> Passphrase {
        Passphrase(Zeroizing::new(s))
    }

    /// The passphrase text, for handing to a key decryption routine.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for the empty passphrase.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl From<String> for Passphrase {
    fn from(s: String) -> Passphrase {
        Passphrase::new(s)
    }
}

impl From<&str> for Passphrase {
    fn from(s: &str) -> Passphrase {
        Passphrase::new(s.to_owned())
    }
}

impl From<&String> for Passphrase {
    fn from(s: &String) -> Passphrase {
        Passphrase::new(s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Passphrase::from("correct horse battery staple");
        let shown = format!("{p:?} {p:#?}");
        assert!(!shown.contains("horse"), "{shown}");
        assert_eq!(format!("{p:?}"), "Passphrase(<redacted>)");
        assert_eq!(p.expose(), "correct horse battery staple");
    }
}
