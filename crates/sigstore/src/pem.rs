//! A small PEM reader and writer (RFC 7468 text, read leniently as Go's
//! `encoding/pem` does: text before the block, CRLF line ends, headers).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::KeyError;

/// One decoded PEM block.
pub(crate) struct Block {
    pub(crate) label: String,
    pub(crate) data: Zeroizing<Vec<u8>>,
}

/// Decodes the first PEM block of `input`.
pub(crate) fn decode_first(input: &[u8]) -> Result<Block, KeyError> {
    let text = std::str::from_utf8(input)
        .map_err(|_| KeyError::Pem("the file is not text (not PEM)".to_owned()))?;
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::Pem("no PEM block found".to_owned()))?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| KeyError::Pem("unterminated BEGIN line".to_owned()))?;
    let label = &rest[..label_end];
    if label.contains(['\n', '\r']) {
        return Err(KeyError::Pem("unterminated BEGIN line".to_owned()));
    }
    let body_and_rest = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| KeyError::Pem(format!("no END line for {label:?}")))?;
    let body = &body_and_rest[..end];
    // Headers ("Name: value" lines) end with an empty line (Go accepts them).
    let body = match body.find(':') {
        Some(_) => {
            let normalized = body.replace("\r\n", "\n");
            match normalized.find("\n\n") {
                Some(i) => Zeroizing::new(normalized[i + 2..].to_owned()),
                None => return Err(KeyError::Pem("malformed PEM headers".to_owned())),
            }
        }
        None => Zeroizing::new(body.to_owned()),
    };
    let b64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let data = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| KeyError::Pem(format!("invalid base64 in {label:?} block: {e}")))?;
    Ok(Block {
        label: label.to_owned(),
        data: Zeroizing::new(data),
    })
}

/// Encodes `data` as a PEM block with 64-character lines (as Go's
/// `pem.Encode`), ending in a newline.
pub(crate) fn encode(label: &str, data: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(data));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lenient_reading() {
        let data: Vec<u8> = (0..=255u8).collect();
        let pem = encode("PUBLIC KEY", &data);
        assert!(pem.lines().all(|l| l.len() <= 64));
        let b = decode_first(pem.as_bytes()).expect("decodes");
        assert_eq!(b.label, "PUBLIC KEY");
        assert_eq!(&*b.data, &data);
        let crlf = format!("junk before\r\n{}", pem.replace('\n', "\r\n"));
        assert_eq!(&*decode_first(crlf.as_bytes()).expect("crlf").data, &data);
        let headers = pem.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1);
        assert_eq!(
            &*decode_first(headers.as_bytes()).expect("headers").data,
            &data
        );
    }

    #[test]
    fn refuses_broken_blocks() {
        for bad in [
            &b""[..],
            b"hello",
            b"-----BEGIN X-----\nAAAA\n",
            b"-----BEGIN X-----\n!!!!\n-----END X-----\n",
            b"-----BEGIN X\n",
            b"\xff\xfe",
        ] {
            assert!(decode_first(bad).is_err(), "{bad:?}");
        }
    }
}
