//! Storage-layer classification (§2.2, last paragraph) and the untrusted
//! dump (§1.4).

use crate::verify::parse_envelope;
use crate::{Error, MalformedError, Payload, VerifyError};

/// What a stored signature blob is, judged by its first byte as
/// containers/image does for `dir:` and lookaside storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredFormat<'a> {
    /// A binary OpenPGP message: a simple-signing signature.
    SimpleSigning,
    /// The internal tagged format `\0<format-id>\n<payload>`.
    Tagged {
        /// The format ID (`simple-signing`, `sigstore-json`, …).
        format_id: &'a str,
        /// The bytes after the newline.
        payload: &'a [u8],
    },
}

/// Classifies a blob read from a `dir:` directory or a lookaside store by
/// its first byte. Accepted OpenPGP starts: `0xA0–0xA3`, `0xC8` (compressed
/// data), `0x90–0x92`, `0xC4` (one-pass signature), `0x88–0x8B`, `0xC2`
/// (signature). `0x93` is rejected, like the RI (which lists `0x3d` by
/// mistake). `0x00` starts the tagged format, whose id must be printable
/// ASCII and end with a newline. Anything else (armor starts with `0x2d`) is
/// [`VerifyError::UnrecognizedFormat`].
pub fn classify_stored_blob(blob: &[u8]) -> Result<StoredFormat<'_>, VerifyError> {
    let Some(&first) = blob.first() else {
        return Err(VerifyError::Empty);
    };
    match first {
        0xA0..=0xA3 | 0xC8 | 0x90..=0x92 | 0xC4 | 0x88..=0x8B | 0xC2 => {
            Ok(StoredFormat::SimpleSigning)
        }
        0x00 => {
            let rest = &blob[1..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                return Err(VerifyError::Malformed(MalformedError::TaggedWithoutNewline));
            };
            let id = &rest[..nl];
            if id.is_empty() || !id.iter().all(|b| (0x20..=0x7e).contains(b)) {
                return Err(VerifyError::Malformed(MalformedError::TaggedBadId));
            }
            let format_id = std::str::from_utf8(id)
                .map_err(|_| VerifyError::Malformed(MalformedError::TaggedBadId))?;
            Ok(StoredFormat::Tagged {
                format_id,
                payload: &rest[nl + 1..],
            })
        }
        b => Err(VerifyError::UnrecognizedFormat(b)),
    }
}

/// What an unverified signature claims (§1.4). **Never use for decisions.**
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UntrustedSignatureInfo {
    /// `UntrustedDockerManifestDigest`.
    pub docker_manifest_digest: String,
    /// `UntrustedDockerReference`.
    pub docker_reference: String,
    /// `UntrustedCreatorID` (string or null).
    pub creator: Option<String>,
    /// `UntrustedTimestamp` in Unix seconds (or null).
    pub timestamp: Option<i64>,
    /// `UntrustedShortKeyIdentifier`: 16 uppercase hex digits.
    pub short_key_id: String,
}

impl UntrustedSignatureInfo {
    /// The timestamp as RFC 3339 UTC (`2016-03-17T18:35:13Z`), if present.
    pub fn timestamp_rfc3339(&self) -> Option<String> {
        self.timestamp.map(rfc3339)
    }
}

/// Reads a signature **without verifying it** (skopeo's hidden
/// `untrusted-signature-dump-without-verification`): binary input only
/// (armor is an error), a signed message with exactly one signature, payload
/// parsed strictly.
pub fn untrusted_dump(blob: &[u8]) -> Result<UntrustedSignatureInfo, Error> {
    let env = parse_envelope(blob, false)?;
    let short_key_id = env
        .sig
        .get_issuers()
        .first()
        .map(|h| {
            let hex = h.to_hex();
            hex[hex.len().saturating_sub(16)..].to_owned()
        })
        .ok_or(VerifyError::Malformed(MalformedError::NoIssuer))?;
    let p = Payload::parse(&env.literal)?;
    Ok(UntrustedSignatureInfo {
        docker_manifest_digest: p.docker_manifest_digest,
        docker_reference: p.docker_reference,
        creator: p.creator,
        timestamp: p.timestamp,
        short_key_id,
    })
}

/// Formats Unix seconds as RFC 3339 UTC.
pub(crate) fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        for b in [0xA0u8, 0xA3, 0xC8, 0x90, 0x92, 0xC4, 0x88, 0x8B, 0xC2] {
            assert_eq!(
                classify_stored_blob(&[b, 1, 2]),
                Ok(StoredFormat::SimpleSigning),
                "{b:#x}"
            );
        }
        for b in [0x2Du8, 0x93, 0x3d, 0xC3, 0xFF, b'{'] {
            assert_eq!(
                classify_stored_blob(&[b, 1]),
                Err(VerifyError::UnrecognizedFormat(b))
            );
        }
        assert_eq!(
            classify_stored_blob(b"\0sigstore-json\n{}"),
            Ok(StoredFormat::Tagged {
                format_id: "sigstore-json",
                payload: b"{}"
            })
        );
        assert_eq!(
            classify_stored_blob(b"\0bad\x01id\nx"),
            Err(VerifyError::Malformed(MalformedError::TaggedBadId))
        );
        assert_eq!(
            classify_stored_blob(b"\0no-newline"),
            Err(VerifyError::Malformed(MalformedError::TaggedWithoutNewline))
        );
        assert_eq!(classify_stored_blob(b""), Err(VerifyError::Empty));
    }

    #[test]
    fn rfc3339_format() {
        assert_eq!(rfc3339(1_458_239_713), "2016-03-17T18:35:13Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_825_600), "2000-02-29T12:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
