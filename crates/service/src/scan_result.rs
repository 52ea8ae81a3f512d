//! The result channel of a scan that runs somewhere else (a Kubernetes Job):
//! how the scanner hands its result back, and how the receiver checks it.
//!
//! Why this shape: the scan pod handles untrusted image content, so it gets
//! no API credentials and cannot write its result anywhere. What a pod can
//! return without credentials is its log (read by the controller through
//! `pods/log`) and its termination message (capped at 4 KiB by the kubelet).
//! The log carries the result; the termination message carries a small
//! summary with the result's SHA-256 and length, so a log that was cut by
//! rotation, interleaved, or tampered with is refused instead of believed.
//!
//! - The scanner prints one frame on stdout: a begin line with the format
//!   version, the result as gzip-compressed JSON in base64 lines of 76
//!   characters, an end line ([`encode`], [`Encoded::frame`]).
//! - It writes the [`TerminationMessage`] (version, SHA-256 and length of the
//!   frame's base64 text, digest, verdict, counts): at most
//!   [`TERMINATION_MESSAGE_MAX`] bytes, enforced when it is serialized.
//! - The receiver calls [`decode`] with the whole pod log and the termination
//!   message. Other lines before and after the frame are ignored. Every size
//!   is bounded ([`Limits`]), the hash and the length are checked before the
//!   base64 is decoded or anything is decompressed, the decompressed JSON is
//!   capped (a gzip bomb is [`ScanResultError::DecompressedTooLarge`]), and
//!   the payload must agree with the summary. Each failure is a typed
//!   [`ScanResultError`] that says what was wrong.
//!
//! No I/O here: the CLI prints and writes, the controller reads the API.
//!
//! ```
//! use imprimatur_service::scan_result::{self, ScanResult};
//! use imprimatur_service::status::ScanCounts;
//!
//! let result = ScanResult::new(
//!     "sha256:0000000000000000000000000000000000000000000000000000000000000000",
//!     ScanCounts { total_rules: 3, passed_rules: 2, failed_rules: 1 },
//! );
//! let encoded = scan_result::encode(&result).unwrap();
//! let log = format!("oscap noise\n{}progress\n", encoded.frame);
//! let termination = encoded.termination.to_json().unwrap();
//! assert_eq!(scan_result::decode(log.as_bytes(), &termination).unwrap(), result);
//! ```

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::status::{
    ConditionStatus, ConditionType, GateVerdict, Phase, RequestStatus, ScanCounts, rfc3339,
};

/// The format version, in the begin line, the JSON and the termination message.
pub const VERSION: u32 = 1;

/// The kubelet keeps at most this many bytes of a container's termination
/// message (`terminationMessagePath`); more is cut, so more is refused here.
pub const TERMINATION_MESSAGE_MAX: usize = 4096;

/// The begin line: `-----BEGIN IMPRIMATUR SCAN RESULT v1-----`.
const BEGIN_PREFIX: &str = "-----BEGIN IMPRIMATUR SCAN RESULT v";
const MARKER_SUFFIX: &str = "-----";
/// The end line.
const END_LINE: &str = "-----END IMPRIMATUR SCAN RESULT-----";
/// Base64 line width (as PEM and MIME).
const LINE_WIDTH: usize = 76;
/// A report JSON larger than this is left out of the result (the counts,
/// verdict and CVEs stay): it would not fit the log the kubelet keeps.
pub const MAX_REPORT_JSON: usize = 8 << 20;
/// The longest error message put in a termination message.
const MAX_ERROR_MESSAGE: usize = 3072;

/// Size limits of [`decode_with`]. The defaults accept whatever [`encode`]
/// produces and stay below the kubelet's 10 MiB log rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The whole pod log.
    pub log: usize,
    /// The frame's base64 text (line breaks removed).
    pub payload: usize,
    /// The decompressed JSON.
    pub json: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            log: 8 << 20,
            payload: 4 << 20,
            json: 12 << 20,
        }
    }
}

impl Limits {
    /// Limits with these sizes.
    pub fn new(log: usize, payload: usize, json: usize) -> Self {
        Limits { log, payload, json }
    }
}

/// What went wrong encoding or decoding a scan result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanResultError {
    /// The termination message is longer than the kubelet keeps.
    #[error("termination message is {size} bytes, over the {max}-byte limit")]
    TerminationTooLarge {
        /// Its size.
        size: usize,
        /// [`TERMINATION_MESSAGE_MAX`].
        max: usize,
    },
    /// The termination message is empty or not the expected JSON.
    #[error("termination message: {0}")]
    BadTerminationMessage(String),
    /// A version this code does not read.
    #[error("{place}: format version {found}, this reader knows {VERSION}")]
    UnsupportedVersion {
        /// Where: `begin line`, `termination message` or `payload`.
        place: &'static str,
        /// The version found.
        found: u32,
    },
    /// The scanner reported that the scan failed (no payload to read).
    #[error("the scan failed: {0}")]
    ScanFailed(String),
    /// The pod log is larger than the limit.
    #[error("pod log is over the {max}-byte limit")]
    LogTooLarge {
        /// The limit.
        max: usize,
    },
    /// No begin line in the log.
    #[error("no scan result frame in the pod log")]
    MissingFrame,
    /// A line that starts like a begin line but is not one.
    #[error("malformed scan result begin line {0:?}")]
    BadBeginLine(String),
    /// A begin line without its end line: the log was cut.
    #[error("the scan result frame is truncated: no end line after {lines} lines")]
    Truncated {
        /// Lines after the begin line.
        lines: usize,
    },
    /// The base64 text is larger than the limit.
    #[error("scan result payload is over the {max}-byte limit")]
    PayloadTooLarge {
        /// The limit.
        max: usize,
    },
    /// The payload's length differs from the termination message's.
    #[error("scan result payload is {found} bytes, the termination message says {expected}")]
    LengthMismatch {
        /// The termination message's.
        expected: u64,
        /// The log's.
        found: u64,
    },
    /// The payload's SHA-256 differs from the termination message's.
    #[error("scan result payload has SHA-256 {found}, the termination message says {expected}")]
    HashMismatch {
        /// The termination message's.
        expected: String,
        /// The log's.
        found: String,
    },
    /// The payload is not base64.
    #[error("scan result payload is not base64: {0}")]
    BadBase64(String),
    /// The payload is not gzip.
    #[error("scan result payload is not gzip: {0}")]
    BadCompression(String),
    /// The payload decompresses to more than the limit (a gzip bomb, or a
    /// report too large).
    #[error("scan result decompresses to more than {max} bytes")]
    DecompressedTooLarge {
        /// The limit.
        max: usize,
    },
    /// The decompressed payload is not a scan result.
    #[error("scan result JSON: {0}")]
    BadJson(String),
    /// The payload and the termination message disagree.
    #[error("the scan result's {field} is {payload}, the termination message says {termination}")]
    Inconsistent {
        /// Which field.
        field: &'static str,
        /// The termination message's value.
        termination: String,
        /// The payload's value.
        payload: String,
    },
    /// The result is for another image than the one asked for.
    #[error("the scan result is for {found}, expected {expected}")]
    DigestMismatch {
        /// The digest asked for.
        expected: String,
        /// The digest in the result.
        found: String,
    },
    /// A status without what a result needs (encoding).
    #[error("no scan result to encode: {0}")]
    Incomplete(&'static str),
    /// The result cannot fit the limits even without its report (encoding).
    #[error("scan result is {size} bytes even without the report, over the {max}-byte limit")]
    TooLarge {
        /// The size reached.
        size: usize,
        /// The limit it passed.
        max: usize,
    },
}

/// The gate's verdict in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The scan passed the gate.
    Passed,
    /// It failed the gate.
    Failed,
    /// No gate was given.
    None,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::None => "none",
        }
    }
}

/// The scan part of a status, as the scanner hands it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// [`VERSION`].
    pub version: u32,
    /// The digest scanned.
    pub image_digest: String,
    /// The predecessor's rule counts.
    pub scan_result: ScanCounts,
    /// Failed rules per severity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_by_severity: BTreeMap<String, u64>,
    /// CVEs found present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present_cves: Vec<String>,
    /// The gate's verdict (absent: no gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateVerdict>,
    /// Known limits of the scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_limitations: Vec<String>,
    /// The failed rule ids, sorted, at most
    /// [`crate::status::MAX_FAILED_RULES`] (a rescan compares them with the
    /// run before to find new failures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<String>,
    /// How many failed rule ids were left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_rules_omitted: u64,
    /// The content used: `PROFILE (why it was chosen)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The report (`imprimatur arf report --format json`'s document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    /// Why the report was left out, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_omitted: Option<String>,
}

impl ScanResult {
    /// A result with counts only.
    pub fn new(image_digest: impl Into<String>, counts: ScanCounts) -> Self {
        ScanResult {
            version: VERSION,
            image_digest: image_digest.into(),
            scan_result: counts,
            failed_by_severity: BTreeMap::new(),
            present_cves: Vec::new(),
            gate: None,
            scan_limitations: Vec::new(),
            failed_rules: Vec::new(),
            failed_rules_omitted: 0,
            content: None,
            report: None,
            report_omitted: None,
        }
    }

    /// The scan part of a status after a scan ran, with the report JSON
    /// (left out, saying why, when over [`MAX_REPORT_JSON`] or unreadable).
    pub fn from_status(
        status: &RequestStatus,
        content: Option<String>,
        report_json: Option<&str>,
    ) -> Result<Self, ScanResultError> {
        let digest = status
            .image_digest
            .clone()
            .ok_or(ScanResultError::Incomplete(
                "the status has no image digest",
            ))?;
        let counts = status
            .scan_result
            .ok_or(ScanResultError::Incomplete("the status has no scan counts"))?;
        let mut result = ScanResult::new(digest, counts);
        result.failed_by_severity = status.failed_by_severity.clone();
        result.present_cves = status.present_cves.clone();
        result.gate = status.gate.clone();
        result.scan_limitations = status.scan_limitations.clone();
        let (rules, omitted) = crate::status::bounded_failed_rules(status.failed_rules.clone());
        result.failed_rules = rules;
        result.failed_rules_omitted = omitted + status.failed_rules_omitted;
        result.content = content;
        match report_json {
            Some(r) if r.len() > MAX_REPORT_JSON => {
                result.report_omitted = Some(format!(
                    "the report JSON is {} bytes, over the {MAX_REPORT_JSON}-byte limit",
                    r.len()
                ));
            }
            Some(r) => match serde_json::from_str(r) {
                Ok(v) => result.report = Some(v),
                Err(e) => result.report_omitted = Some(format!("the report JSON is invalid: {e}")),
            },
            None => {}
        }
        Ok(result)
    }

    /// The gate's verdict in one word.
    pub fn verdict(&self) -> Verdict {
        match &self.gate {
            None => Verdict::None,
            Some(g) if g.passed => Verdict::Passed,
            Some(_) => Verdict::Failed,
        }
    }

    /// Refuses a result for another digest than `expected`.
    pub fn ensure_digest(&self, expected: &str) -> Result<(), ScanResultError> {
        if self.image_digest == expected {
            Ok(())
        } else {
            Err(ScanResultError::DigestMismatch {
                expected: expected.to_owned(),
                found: self.image_digest.clone(),
            })
        }
    }

    /// Writes this result into a request's status, as the in-process
    /// pipeline would have: the scan fields, `Scanned`, `GatePassed` when
    /// there was a gate, and the end of the run (`Completed`, or `Failed`
    /// when the gate failed) with `Ready` and `endTime`.
    pub fn apply_to(&self, status: &mut RequestStatus, generation: Option<i64>, now: SystemTime) {
        use ConditionStatus::{False, True};
        status.image_digest = Some(self.image_digest.clone());
        status.scan_result = Some(self.scan_result);
        status.failed_by_severity = self.failed_by_severity.clone();
        status.present_cves = self.present_cves.clone();
        status.gate = self.gate.clone();
        status.scan_limitations = self.scan_limitations.clone();
        // Bounded again: the payload comes from the scan pod.
        let (rules, omitted) = crate::status::bounded_failed_rules(self.failed_rules.clone());
        status.failed_rules = rules;
        status.failed_rules_omitted = self.failed_rules_omitted.saturating_add(omitted);
        let c = self.scan_result;
        let content = self.content.as_deref().unwrap_or("default content");
        let message = format!(
            "{} with {content}: {} rules, {} passed, {} failed",
            self.image_digest, c.total_rules, c.passed_rules, c.failed_rules
        );
        status.set_condition(
            ConditionType::Scanned,
            True,
            "Scanned",
            message,
            generation,
            now,
        );
        let ready = match &self.gate {
            Some(g) if g.passed => {
                let m = "the scan passed the gate";
                status.set_condition(
                    ConditionType::GatePassed,
                    True,
                    "GatePassed",
                    m,
                    generation,
                    now,
                );
                (True, "Completed", "done".to_owned())
            }
            Some(g) => {
                let reasons = g.reasons.join("; ");
                status.set_condition(
                    ConditionType::GatePassed,
                    False,
                    "GateFailed",
                    reasons.clone(),
                    generation,
                    now,
                );
                (
                    False,
                    "GateFailed",
                    format!("the scan did not pass the gate: {reasons}"),
                )
            }
            None => (True, "Completed", "done".to_owned()),
        };
        status.phase = Some(if ready.0 == True {
            Phase::Completed
        } else {
            Phase::Failed
        });
        status.set_condition(
            ConditionType::Ready,
            ready.0,
            ready.1,
            ready.2,
            generation,
            now,
        );
        status.end_time = Some(rfc3339(now));
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The summary the scanner writes to its termination message: enough to
/// check the payload in the log, and the verdict even when the log is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminationMessage {
    /// [`VERSION`].
    pub version: u32,
    /// SHA-256 (lowercase hex) of the frame's base64 text, line breaks removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its length in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// The digest scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// The verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<ScanCounts>,
    /// Why the scan failed, when it did (then there is no payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TerminationMessage {
    /// The message of a scan that failed, with the reason cut to fit.
    pub fn failure(message: &str) -> Self {
        TerminationMessage {
            version: VERSION,
            sha256: None,
            length: None,
            image_digest: None,
            verdict: None,
            counts: None,
            error: Some(truncate(message, MAX_ERROR_MESSAGE).to_owned()),
        }
    }

    /// The JSON written to the termination log; refused when longer than
    /// [`TERMINATION_MESSAGE_MAX`] (the kubelet would cut it).
    pub fn to_json(&self) -> Result<String, ScanResultError> {
        let text = serde_json::to_string(self)
            .map_err(|e| ScanResultError::BadTerminationMessage(e.to_string()))?;
        if text.len() > TERMINATION_MESSAGE_MAX {
            return Err(ScanResultError::TerminationTooLarge {
                size: text.len(),
                max: TERMINATION_MESSAGE_MAX,
            });
        }
        Ok(text)
    }

    /// Parses a termination message (size-checked first).
    pub fn parse(text: &str) -> Result<Self, ScanResultError> {
        if text.len() > TERMINATION_MESSAGE_MAX {
            return Err(ScanResultError::TerminationTooLarge {
                size: text.len(),
                max: TERMINATION_MESSAGE_MAX,
            });
        }
        if text.trim().is_empty() {
            return Err(ScanResultError::BadTerminationMessage("empty".into()));
        }
        let message: TerminationMessage = serde_json::from_str(text.trim())
            .map_err(|e| ScanResultError::BadTerminationMessage(e.to_string()))?;
        if message.version != VERSION {
            return Err(ScanResultError::UnsupportedVersion {
                place: "termination message",
                found: message.version,
            });
        }
        Ok(message)
    }
}

/// The longest prefix of `s` within `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What the scanner prints and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The frame for stdout: begin line, base64 lines, end line, each ending
    /// in `\n`.
    pub frame: String,
    /// The summary for the termination log.
    pub termination: TerminationMessage,
}

/// Encodes a result with the default [`Limits`]: when it would not fit,
/// the report is left out (saying so) and the counts still go.
pub fn encode(result: &ScanResult) -> Result<Encoded, ScanResultError> {
    encode_with(result, &Limits::default())
}

/// [`encode`] with explicit limits (the receiver's).
pub fn encode_with(result: &ScanResult, limits: &Limits) -> Result<Encoded, ScanResultError> {
    match encode_once(result, limits) {
        Err(ScanResultError::TooLarge { size, max }) if result.report.is_some() => {
            let mut lean = result.clone();
            lean.report = None;
            lean.report_omitted = Some(format!(
                "the result with its report is {size} bytes, over the {max}-byte limit"
            ));
            encode_once(&lean, limits)
        }
        other => other,
    }
}

fn encode_once(result: &ScanResult, limits: &Limits) -> Result<Encoded, ScanResultError> {
    let json = serde_json::to_vec(result).map_err(|e| ScanResultError::BadJson(e.to_string()))?;
    if json.len() > limits.json {
        return Err(ScanResultError::TooLarge {
            size: json.len(),
            max: limits.json,
        });
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json)
        .and_then(|()| gz.try_finish())
        .map_err(|e| ScanResultError::BadCompression(e.to_string()))?;
    let compressed = gz
        .finish()
        .map_err(|e| ScanResultError::BadCompression(e.to_string()))?;
    let text = BASE64.encode(compressed);
    if text.len() > limits.payload {
        return Err(ScanResultError::TooLarge {
            size: text.len(),
            max: limits.payload,
        });
    }
    let termination = TerminationMessage {
        version: VERSION,
        sha256: Some(sha256_hex(text.as_bytes())),
        length: Some(text.len() as u64),
        image_digest: Some(result.image_digest.clone()),
        verdict: Some(result.verdict()),
        counts: Some(result.scan_result),
        error: None,
    };
    termination.to_json()?;
    Ok(Encoded {
        frame: frame_text(&text),
        termination,
    })
}

fn frame_text(base64: &str) -> String {
    let mut frame = String::with_capacity(base64.len() + base64.len() / LINE_WIDTH + 128);
    frame.push_str(&format!("{BEGIN_PREFIX}{VERSION}{MARKER_SUFFIX}\n"));
    let mut rest = base64;
    while !rest.is_empty() {
        // Base64 is ASCII: any byte index is a character boundary.
        let (line, tail) = rest.split_at(rest.len().min(LINE_WIDTH));
        frame.push_str(line);
        frame.push('\n');
        rest = tail;
    }
    frame.push_str(END_LINE);
    frame.push('\n');
    frame
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decodes and verifies a result with the default [`Limits`].
pub fn decode(log: &[u8], termination: &str) -> Result<ScanResult, ScanResultError> {
    decode_with(log, termination, &Limits::default())
}

/// Decodes and verifies: termination message, frame, length and hash, then
/// base64, bounded decompression, JSON, and agreement with the summary.
pub fn decode_with(
    log: &[u8],
    termination: &str,
    limits: &Limits,
) -> Result<ScanResult, ScanResultError> {
    let summary = TerminationMessage::parse(termination)?;
    let (Some(sha256), Some(length)) = (&summary.sha256, summary.length) else {
        return Err(match &summary.error {
            Some(e) => ScanResultError::ScanFailed(e.clone()),
            None => ScanResultError::BadTerminationMessage("no sha256 and length".into()),
        });
    };
    if log.len() > limits.log {
        return Err(ScanResultError::LogTooLarge { max: limits.log });
    }
    let text = frame_payload(log, limits.payload)?;
    if text.len() as u64 != length {
        return Err(ScanResultError::LengthMismatch {
            expected: length,
            found: text.len() as u64,
        });
    }
    let found = sha256_hex(&text);
    if !found.eq_ignore_ascii_case(sha256) {
        return Err(ScanResultError::HashMismatch {
            expected: sha256.clone(),
            found,
        });
    }
    let compressed = BASE64
        .decode(&text)
        .map_err(|e| ScanResultError::BadBase64(e.to_string()))?;
    let json = gunzip_bounded(&compressed, limits.json)?;
    let result: ScanResult =
        serde_json::from_slice(&json).map_err(|e| ScanResultError::BadJson(e.to_string()))?;
    if result.version != VERSION {
        return Err(ScanResultError::UnsupportedVersion {
            place: "payload",
            found: result.version,
        });
    }
    check_agreement(&summary, &result)?;
    Ok(result)
}

/// The base64 text of the last complete frame in the log, line breaks
/// removed, in one pass holding at most `max` bytes.
///
/// Lines inside the frame with bytes outside the base64 alphabet are
/// skipped: the pod log interleaves stderr with stdout line by line, so a
/// progress line may land inside the frame. Skipping never lets a corrupted
/// payload through: the length and hash decide.
fn frame_payload(log: &[u8], max: usize) -> Result<Vec<u8>, ScanResultError> {
    let mut last: Option<Vec<u8>> = None;
    let mut open: Option<(Vec<u8>, usize)> = None;
    for line in log.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(BEGIN_PREFIX.as_bytes()) {
            check_begin_line(line)?;
            open = Some((Vec::new(), 0));
            continue;
        }
        let Some((text, lines)) = open.as_mut() else {
            continue;
        };
        if line == END_LINE.as_bytes() {
            last = Some(std::mem::take(text));
            open = None;
            continue;
        }
        *lines += 1;
        if line.is_empty() || !line.iter().all(|b| is_base64(*b)) {
            continue;
        }
        if text.len() + line.len() > max {
            return Err(ScanResultError::PayloadTooLarge { max });
        }
        text.extend_from_slice(line);
    }
    match (open, last) {
        (Some((_, lines)), _) => Err(ScanResultError::Truncated { lines }),
        (None, Some(text)) => Ok(text),
        (None, None) => Err(ScanResultError::MissingFrame),
    }
}

fn check_begin_line(line: &[u8]) -> Result<(), ScanResultError> {
    let rest = &line[BEGIN_PREFIX.len()..];
    let version = rest
        .strip_suffix(MARKER_SUFFIX.as_bytes())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| {
            let shown = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
            ScanResultError::BadBeginLine(shown)
        })?;
    if version != VERSION {
        return Err(ScanResultError::UnsupportedVersion {
            place: "begin line",
            found: version,
        });
    }
    Ok(())
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// Decompresses at most `max` bytes; more is a typed error, never an
/// allocation.
fn gunzip_bounded(compressed: &[u8], max: usize) -> Result<Vec<u8>, ScanResultError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ScanResultError::BadCompression(e.to_string()))?;
    if out.len() > max {
        return Err(ScanResultError::DecompressedTooLarge { max });
    }
    Ok(out)
}

fn check_agreement(
    summary: &TerminationMessage,
    result: &ScanResult,
) -> Result<(), ScanResultError> {
    let mismatch = |field, termination: String, payload: String| {
        Err(ScanResultError::Inconsistent {
            field,
            termination,
            payload,
        })
    };
    if let Some(d) = &summary.image_digest
        && *d != result.image_digest
    {
        return mismatch("image digest", d.clone(), result.image_digest.clone());
    }
    if let Some(v) = summary.verdict
        && v != result.verdict()
    {
        return mismatch(
            "verdict",
            v.as_str().into(),
            result.verdict().as_str().into(),
        );
    }
    if let Some(c) = summary.counts
        && c != result.scan_result
    {
        return mismatch(
            "counts",
            format!("{c:?}"),
            format!("{:?}", result.scan_result),
        );
    }
    Ok(())
}

/// The last lines of a log, at most `max` bytes, as text with control
/// characters removed: for a `Failed` status when there is no result.
pub fn log_tail(log: &[u8], max: usize) -> String {
    let start = log.len().saturating_sub(max);
    let text = String::from_utf8_lossy(&log[start..]);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    text.trim().to_owned()
}

#[cfg(test)]
mod tests;
