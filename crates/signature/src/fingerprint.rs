//! OpenPGP v4 fingerprints in the form containers/image compares them.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// An OpenPGP v4 key fingerprint: exactly 40 **uppercase** hex digits.
///
/// containers/image compares key identities as plain strings (§2.3): a
/// lowercase fingerprint or a 16-digit key ID never matches. Parsing is
/// therefore strict: [`FromStr`] rejects lowercase, spaces and key IDs rather
/// than normalizing them, so that what a user typed is what gets compared.
/// Use [`Fingerprint::parse_lenient`] to accept lowercase and spaces on
/// purpose (e.g. for display helpers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Parses a strict fingerprint (40 uppercase hex digits).
    pub fn parse(s: &str) -> Result<Fingerprint, Error> {
        if s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')) {
            Ok(Fingerprint(s.to_owned()))
        } else {
            Err(Error::InvalidFingerprint(s.to_owned()))
        }
    }

    /// Parses 40 hex digits in any case, ignoring ASCII spaces, and
    /// normalizes to uppercase. An explicit opt-in: containers/image itself
    /// would not match a lowercase fingerprint.
    pub fn parse_lenient(s: &str) -> Result<Fingerprint, Error> {
        let up: String = s
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        Fingerprint::parse(&up).map_err(|_| Error::InvalidFingerprint(s.to_owned()))
    }

    /// The 40 uppercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 16-digit key ID (the last 64 bits), uppercase.
    pub fn key_id(&self) -> &str {
        &self.0[24..]
    }

    /// Converts a sequoia fingerprint; `None` unless it is a v4 fingerprint.
    pub(crate) fn from_sequoia(fp: &sequoia_openpgp::Fingerprint) -> Option<Fingerprint> {
        match fp {
            sequoia_openpgp::Fingerprint::V4(_) => Fingerprint::parse(&fp.to_hex()).ok(),
            _ => None,
        }
    }

    /// Converts a sequoia fingerprint of any version (v6: 64 hex digits).
    /// Only for reporting; such a value never parses back with [`Fingerprint::parse`].
    pub(crate) fn from_sequoia_any(fp: &sequoia_openpgp::Fingerprint) -> Fingerprint {
        Fingerprint(fp.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Fingerprint::parse(s)
    }
}

impl AsRef<str> for Fingerprint {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";

    #[test]
    fn strict() {
        let fp: Fingerprint = K.parse().expect("valid");
        assert_eq!(fp.to_string(), K);
        assert_eq!(fp.key_id(), "E932F44B23E8DD43");
        assert!(Fingerprint::parse(&K.to_lowercase()).is_err());
        assert!(Fingerprint::parse("E932F44B23E8DD43").is_err());
        assert!(Fingerprint::parse(&format!("{K}0")).is_err());
        assert!(Fingerprint::parse("08CD 26E4").is_err());
    }

    #[test]
    fn lenient() {
        let spaced = "08cd 26e4 46e2 e952 49b7  a405 e932 f44b 23e8 dd43";
        assert_eq!(Fingerprint::parse_lenient(spaced).expect("ok").as_str(), K);
        assert!(Fingerprint::parse_lenient("xyz").is_err());
    }
}
