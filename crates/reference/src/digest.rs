//! Content digests (`algorithm:hex`), validated as go-digest does.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::Error;

/// A digest algorithm supported by containers/image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (64 hex characters). The only algorithm signatures match with.
    Sha256,
    /// SHA-384 (96 hex characters).
    Sha384,
    /// SHA-512 (128 hex characters).
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears in a digest string (`sha256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The number of hexadecimal characters of an encoded digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    /// Looks an algorithm up by its exact (lowercase) name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha384" => Some(Algorithm::Sha384),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated content digest such as `sha256:0123…`.
///
/// The encoded part is always lowercase hexadecimal of the exact length for
/// the algorithm; uppercase hex is rejected (as go-digest does).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// The full `algorithm:hex` string.
    full: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex` with go-digest's rules and error
    /// precedence (format, then algorithm, then length, then hex charset).
    ///
    /// ```
    /// use imprimatur_reference::{Digest, Error};
    /// let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32)))?;
    /// assert_eq!(d.hex().len(), 64);
    /// assert_eq!(Digest::parse("sha256:abc"), Err(Error::DigestInvalidLength));
    /// assert_eq!(Digest::parse("md5:abc"), Err(Error::DigestUnsupported));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Digest, Error> {
        let Some(colon) = s.find(':') else {
            return Err(Error::DigestInvalidFormat);
        };
        if colon == 0 || colon + 1 == s.len() {
            return Err(Error::DigestInvalidFormat);
        }
        let (name, encoded) = (&s[..colon], &s[colon + 1..]);
        let Some(algorithm) = Algorithm::from_name(name) else {
            return if is_go_digest_syntax(name, encoded) {
                Err(Error::DigestUnsupported)
            } else {
                Err(Error::DigestInvalidFormat)
            };
        };
        if encoded.len() != algorithm.hex_len() {
            return Err(Error::DigestInvalidLength);
        }
        if !encoded
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(Error::DigestInvalidFormat);
        }
        Ok(Digest {
            algorithm,
            full: s.to_owned(),
        })
    }

    /// Computes the digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let hex = match algorithm {
            Algorithm::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
            Algorithm::Sha384 => hex::encode(sha2::Sha384::digest(bytes)),
            Algorithm::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
        };
        Digest {
            algorithm,
            full: format!("{}:{hex}", algorithm.as_str()),
        }
    }

    /// Computes the SHA-256 digest of `bytes`.
    ///
    /// ```
    /// use imprimatur_reference::Digest;
    /// assert_eq!(
    ///     Digest::sha256_of(b"").to_string(),
    ///     "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// );
    /// ```
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, bytes)
    }

    /// Whether `bytes` hash to this digest with this digest's algorithm.
    ///
    /// Note that signature verification (`MatchesDigest`) always uses
    /// SHA-256; compare with [`Digest::sha256_of`] there.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(self.algorithm, bytes) == *self
    }

    /// The digest algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hexadecimal part (after the `:`).
    pub fn hex(&self) -> &str {
        // The algorithm name is ASCII, so this index is a char boundary.
        self.full
            .get(self.algorithm.as_str().len() + 1..)
            .unwrap_or("")
    }

    /// The full `algorithm:hex` string.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

/// go-digest's `DigestRegexp`, anchored:
/// `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_go_digest_syntax(algorithm: &str, encoded: &str) -> bool {
    let algorithm_ok = algorithm
        .split(['.', '+', '_', '-'])
        .all(|c| !c.is_empty() && c.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9')));
    let encoded_ok = !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
    algorithm_ok && encoded_ok
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest, Error> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_valid() {
        for (alg, n) in [("sha256", 64), ("sha384", 96), ("sha512", 128)] {
            let s = format!("{alg}:{}", "0a".repeat(n / 2));
            let d = Digest::parse(&s).expect("valid");
            assert_eq!(d.algorithm().as_str(), alg);
            assert_eq!(d.hex(), &s[alg.len() + 1..]);
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn parse_errors() {
        let f64 = "f".repeat(64);
        let cases: &[(String, Error)] = &[
            (String::new(), Error::DigestInvalidFormat),
            ("sha256".into(), Error::DigestInvalidFormat),
            (":abc".into(), Error::DigestInvalidFormat),
            ("sha256:".into(), Error::DigestInvalidFormat),
            (
                format!("sha256:{}", "F".repeat(64)),
                Error::DigestInvalidFormat,
            ),
            (
                format!("sha256:{}", "g".repeat(64)),
                Error::DigestInvalidFormat,
            ),
            (
                format!("sha256:{}", "f".repeat(34)),
                Error::DigestInvalidLength,
            ),
            (
                format!("sha256:{}", "f".repeat(65)),
                Error::DigestInvalidLength,
            ),
            (format!("sha512:{f64}"), Error::DigestInvalidLength),
            (format!("invaliddigest:{f64}"), Error::DigestUnsupported),
            (format!("md5:{f64}"), Error::DigestUnsupported),
            (format!("SHA256:{f64}"), Error::DigestInvalidFormat),
            (format!("sha-256:{f64}"), Error::DigestUnsupported),
            (format!("sha--256:{f64}"), Error::DigestInvalidFormat),
            (format!("foo:{f64}!"), Error::DigestInvalidFormat),
        ];
        for (input, want) in cases {
            assert_eq!(Digest::parse(input).as_ref(), Err(want), "{input:?}");
        }
    }

    #[test]
    fn known_hashes() {
        // Well-known values of SHA-2 on "abc" (FIPS 180-2 test vectors).
        assert_eq!(
            Digest::sha256_of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Digest::of(Algorithm::Sha384, b"abc").hex(),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        assert!(Digest::sha256_of(b"abc").matches(b"abc"));
        assert!(!Digest::sha256_of(b"abc").matches(b"abd"));
    }

    #[test]
    fn serde_as_string() {
        let d = Digest::sha256_of(b"x");
        let json = serde_json::to_string(&d).expect("serialize");
        assert_eq!(json, format!("\"{}\"", d.as_str()));
        let back: Digest = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    }
}
