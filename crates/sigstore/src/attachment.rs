//! Sigstore attachments as containers/image stores them in a registry, and
//! the stored form of one signature.
//!
//! - The attachment of image `sha256:<hex>` is the manifest tagged
//!   [`attachment_tag`] `sha256-<hex>.sig` in the image's repository: an OCI
//!   image manifest whose layers are the signatures (media type
//!   [`SIGNATURE_MIME_TYPE`], the payload as blob, the base64 signature in
//!   annotation [`SIGNATURE_ANNOTATION`]) and whose config is
//!   `{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[…]}}`.
//! - [`plan_append`] computes the new manifest, config and blobs for adding
//!   signatures: new ones become new layers (and diff_ids), identical ones
//!   (same media type, payload and annotations) are skipped, existing ones
//!   are kept.
//! - [`SigstoreSignature::to_blob`] / [`SigstoreSignature::from_blob`]: the
//!   `\0sigstore-json\n{"mimeType":…,"payload":…,"annotations":…}` form of
//!   skopeo's `dir:` `signature-N` files and of this workspace's policy
//!   evaluation.
//!
//! Everything here parses untrusted bytes with limits and never panics.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imprimatur_reference::Digest;
use imprimatur_signature::json::{self, Value};

use crate::AttachmentError;
use crate::gojson::{write_string, write_value};

/// Media type of a signature layer (the cosign simple-signing payload).
pub const SIGNATURE_MIME_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Annotation holding the base64 ASN.1 DER signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Media type of the attachment manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the attachment config.
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Largest attachment manifest or config read (containers/image's limits).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest signature layer (payload) read: containers/image's signature body
/// limit.
pub const MAX_LAYER_BYTES: u64 = 4 * 1024 * 1024;
/// Most layers read from or written to one attachment manifest.
pub const MAX_LAYERS: usize = 128;
/// Largest stored signature (`\0sigstore-json\n…`) parsed.
pub const MAX_BLOB_BYTES: usize = 8 * 1024 * 1024;
/// The format id of the stored form.
pub const FORMAT_ID: &str = "sigstore-json";

/// The attachment tag of an image: `<algorithm>-<hex>.sig`.
pub fn attachment_tag(digest: &Digest) -> String {
    let s = digest.to_string();
    format!("{}.sig", s.replacen(':', "-", 1))
}

/// One sigstore signature (or other attachment) as containers/image carries
/// it: MIME type, payload bytes, annotations. Nothing here is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigstoreSignature {
    /// The layer's media type ([`SIGNATURE_MIME_TYPE`] for signatures).
    pub mime_type: String,
    /// The payload (the layer blob).
    pub payload: Vec<u8>,
    /// The layer's annotations (the signature is in
    /// [`SIGNATURE_ANNOTATION`]).
    pub annotations: BTreeMap<String, String>,
}

impl SigstoreSignature {
    /// A simple-signing signature: `payload` signed, `signature_base64` the
    /// base64 of the DER signature.
    pub fn new(payload: Vec<u8>, signature_base64: String) -> SigstoreSignature {
        SigstoreSignature {
            mime_type: SIGNATURE_MIME_TYPE.to_owned(),
            payload,
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), signature_base64)]),
        }
    }

    /// The base64 signature annotation, if present.
    pub fn signature_base64(&self) -> Option<&str> {
        self.annotations
            .get(SIGNATURE_ANNOTATION)
            .map(String::as_str)
    }

    /// Whether this is a simple-signing signature (by MIME type).
    pub fn is_signature(&self) -> bool {
        self.mime_type == SIGNATURE_MIME_TYPE
    }

    /// The digest of the payload (the layer digest).
    pub fn payload_digest(&self) -> Digest {
        Digest::sha256_of(&self.payload)
    }

    /// The stored form: `\0sigstore-json\n` and the JSON object
    /// `{"mimeType":…,"payload":<base64>,"annotations":{…}}` exactly as Go's
    /// `json.Marshal` writes it (annotations `null` when there are none).
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.payload.len() * 4 / 3 + 128);
        out.push(0);
        out.extend_from_slice(FORMAT_ID.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(br#"{"mimeType":"#);
        write_string(&mut out, &self.mime_type);
        out.extend_from_slice(br#","payload":""#);
        out.extend_from_slice(STANDARD.encode(&self.payload).as_bytes());
        out.extend_from_slice(br#"","annotations":"#);
        if self.annotations.is_empty() {
            out.extend_from_slice(b"null");
        } else {
            write_annotations(&mut out, &self.annotations);
        }
        out.push(b'}');
        out
    }

    /// Parses the stored form (with its `\0sigstore-json\n` prefix).
    /// Duplicate keys and wrong types are refused; unknown members are
    /// ignored, as Go does.
    pub fn from_blob(blob: &[u8]) -> Result<SigstoreSignature, AttachmentError> {
        const WHAT: &str = "sigstore signature";
        let prefix = b"\0sigstore-json\n";
        let Some(body) = blob.strip_prefix(&prefix[..]) else {
            return Err(invalid(WHAT, "", "does not start with \\0sigstore-json\\n"));
        };
        if body.len() > MAX_BLOB_BYTES {
            return Err(AttachmentError::TooLarge {
                what: WHAT,
                size: body.len(),
                limit: MAX_BLOB_BYTES,
            });
        }
        let v = json::parse_with(body, &json::Limits::default().max_bytes(MAX_BLOB_BYTES))
            .map_err(|error| AttachmentError::Syntax { what: WHAT, error })?;
        let m = object(WHAT, &v, "")?;
        let mime_type = opt_string(WHAT, m, "mimeType")?.unwrap_or_default();
        let payload = match opt_string(WHAT, m, "payload")? {
            None => Vec::new(),
            Some(p) => STANDARD
                .decode(p.as_bytes())
                .map_err(|e| invalid(WHAT, "payload", &format!("invalid base64: {e}")))?,
        };
        let annotations = string_map(WHAT, m, "annotations")?;
        Ok(SigstoreSignature {
            mime_type,
            payload,
            annotations,
        })
    }
}

/// A content descriptor of an OCI manifest (the members this crate keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Descriptor {
    /// `mediaType`.
    pub media_type: String,
    /// `digest`.
    pub digest: Digest,
    /// `size`.
    pub size: u64,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// Whether this layer is exactly `sig` (containers/image's
    /// `layerMatchesSigstoreSignature`).
    pub fn matches(&self, sig: &SigstoreSignature) -> bool {
        self.media_type == sig.mime_type
            && self.size == sig.payload.len() as u64
            && self.digest == sig.payload_digest()
            && self.annotations == sig.annotations
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"mediaType":"#);
        write_string(out, &self.media_type);
        out.extend_from_slice(br#","digest":"#);
        write_string(out, self.digest.as_str());
        out.extend_from_slice(br#","size":"#);
        out.extend_from_slice(self.size.to_string().as_bytes());
        if !self.annotations.is_empty() {
            out.extend_from_slice(br#","annotations":"#);
            write_annotations(out, &self.annotations);
        }
        out.push(b'}');
    }
}

/// An attachment manifest (an OCI image manifest), parsed from untrusted
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachmentManifest {
    /// `config`.
    pub config: Descriptor,
    /// `layers`, in order: one per signature or attachment.
    pub layers: Vec<Descriptor>,
    /// Manifest-level `annotations` (kept when rewriting).
    pub annotations: BTreeMap<String, String>,
}

impl AttachmentManifest {
    /// Parses an OCI image manifest: `schemaVersion` 2, `mediaType` absent
    /// or [`OCI_MANIFEST_MEDIA_TYPE`], a `config` and `layers` (at most
    /// [`MAX_LAYERS`], each at most [`MAX_LAYER_BYTES`]), no `manifests`
    /// member (that would be an index), no duplicate keys.
    pub fn parse(bytes: &[u8]) -> Result<AttachmentManifest, AttachmentError> {
        const WHAT: &str = "attachment manifest";
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(AttachmentError::TooLarge {
                what: WHAT,
                size: bytes.len(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let v = json::parse_with(
            bytes,
            &json::Limits::default().max_bytes(MAX_MANIFEST_BYTES),
        )
        .map_err(|error| AttachmentError::Syntax { what: WHAT, error })?;
        let m = object(WHAT, &v, "")?;
        match member(m, "schemaVersion") {
            Some(Value::Number(n)) if n.as_str() == "2" => {}
            _ => return Err(invalid(WHAT, "schemaVersion", "must be 2")),
        }
        if let Some(t) = opt_string(WHAT, m, "mediaType")?
            && t != OCI_MANIFEST_MEDIA_TYPE
        {
            return Err(invalid(
                WHAT,
                "mediaType",
                &format!("{t:?} is not {OCI_MANIFEST_MEDIA_TYPE}"),
            ));
        }
        if member(m, "manifests").is_some() {
            return Err(invalid(WHAT, "manifests", "an image index, not a manifest"));
        }
        let config = descriptor(
            WHAT,
            member(m, "config").ok_or_else(|| invalid(WHAT, "config", "missing"))?,
            "config",
        )?;
        let layers = match member(m, "layers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                if a.len() > MAX_LAYERS {
                    return Err(AttachmentError::TooManyLayers {
                        count: a.len(),
                        limit: MAX_LAYERS,
                    });
                }
                let mut out = Vec::with_capacity(a.len());
                for (i, l) in a.iter().enumerate() {
                    let path = format!("layers[{i}]");
                    let d = descriptor(WHAT, l, &path)?;
                    if d.size > MAX_LAYER_BYTES {
                        return Err(invalid(
                            WHAT,
                            &path,
                            &format!("size {} is over the limit of {MAX_LAYER_BYTES}", d.size),
                        ));
                    }
                    out.push(d);
                }
                out
            }
            Some(other) => {
                return Err(invalid(
                    WHAT,
                    "layers",
                    &format!("array expected, got {}", other.type_name()),
                ));
            }
        };
        let annotations = string_map(WHAT, m, "annotations")?;
        Ok(AttachmentManifest {
            config,
            layers,
            annotations,
        })
    }

    /// Serializes as containers/image writes it (Go's `json.Marshal` of
    /// image-spec's `Manifest`).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(300 + self.layers.len() * 300);
        out.extend_from_slice(br#"{"schemaVersion":2,"mediaType":"#);
        write_string(&mut out, OCI_MANIFEST_MEDIA_TYPE);
        out.extend_from_slice(br#","config":"#);
        self.config.write(&mut out);
        out.extend_from_slice(br#","layers":["#);
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            l.write(&mut out);
        }
        out.push(b']');
        if !self.annotations.is_empty() {
            out.extend_from_slice(br#","annotations":"#);
            write_annotations(&mut out, &self.annotations);
        }
        out.push(b'}');
        out
    }
}

/// A blob to upload before the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its media type (for messages).
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What to upload to add signatures to an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachmentUpdate {
    /// New signature payloads, then the new config (upload in this order,
    /// then [`AttachmentUpdate::manifest`]).
    pub blobs: Vec<NewBlob>,
    /// The new manifest bytes (`None` when nothing changed).
    pub manifest: Option<Vec<u8>>,
    /// How many signatures were added.
    pub added: usize,
    /// How many were already there (skipped).
    pub already_present: usize,
}

/// The config of a new attachment for these diff_ids.
pub fn new_config(diff_ids: &[Digest]) -> Vec<u8> {
    let mut out =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["#
            .to_vec();
    for (i, d) in diff_ids.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(&mut out, d.as_str());
    }
    out.extend_from_slice(b"]}}");
    out
}

/// Adds `diff_ids` to an existing attachment config, keeping everything
/// else in it (member order included).
pub fn append_to_config(config: &[u8], diff_ids: &[Digest]) -> Result<Vec<u8>, AttachmentError> {
    const WHAT: &str = "attachment config";
    if config.len() > MAX_MANIFEST_BYTES {
        return Err(AttachmentError::TooLarge {
            what: WHAT,
            size: config.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let mut v = json::parse_with(
        config,
        &json::Limits::default().max_bytes(MAX_MANIFEST_BYTES),
    )
    .map_err(|error| AttachmentError::Syntax { what: WHAT, error })?;
    object(WHAT, &v, "")?;
    let Value::Object(top) = &mut v else {
        return Err(invalid(WHAT, "", "object expected"));
    };
    let new_ids = diff_ids.iter().map(|d| Value::String(d.to_string()));
    match top.iter_mut().find(|(k, _)| k == "rootfs") {
        None => top.push((
            "rootfs".to_owned(),
            Value::Object(vec![
                ("type".to_owned(), Value::String("layers".to_owned())),
                ("diff_ids".to_owned(), Value::Array(new_ids.collect())),
            ]),
        )),
        Some((_, rootfs)) => {
            object(WHAT, rootfs, "rootfs")?;
            let Value::Object(r) = rootfs else {
                return Err(invalid(WHAT, "rootfs", "object expected"));
            };
            match r.iter_mut().find(|(k, _)| k == "diff_ids") {
                None => r.push(("diff_ids".to_owned(), Value::Array(new_ids.collect()))),
                Some((_, ids @ Value::Null)) => *ids = Value::Array(new_ids.collect()),
                Some((_, Value::Array(ids))) => ids.extend(new_ids),
                Some((_, other)) => {
                    return Err(invalid(
                        WHAT,
                        "rootfs.diff_ids",
                        &format!("array expected, got {}", other.type_name()),
                    ));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(config.len() + diff_ids.len() * 80);
    write_value(&mut out, &v);
    Ok(out)
}

/// Plans adding `signatures` to an attachment: `existing` is the current
/// manifest and its config blob, if there is an attachment already.
/// Signatures already present (or repeated in `signatures`) are skipped;
/// when nothing is new, nothing is uploaded.
pub fn plan_append(
    existing: Option<(&AttachmentManifest, &[u8])>,
    signatures: &[SigstoreSignature],
) -> Result<AttachmentUpdate, AttachmentError> {
    let mut layers: Vec<Descriptor> = existing.map(|(m, _)| m.layers.clone()).unwrap_or_default();
    let mut blobs = Vec::new();
    let mut new_ids = Vec::new();
    let mut already_present = 0;
    for sig in signatures {
        if layers.iter().any(|l| l.matches(sig)) {
            already_present += 1;
            continue;
        }
        if layers.len() >= MAX_LAYERS {
            return Err(AttachmentError::TooManyLayers {
                count: layers.len() + 1,
                limit: MAX_LAYERS,
            });
        }
        let digest = sig.payload_digest();
        layers.push(Descriptor {
            media_type: sig.mime_type.clone(),
            digest: digest.clone(),
            size: sig.payload.len() as u64,
            annotations: sig.annotations.clone(),
        });
        if !blobs.iter().any(|b: &NewBlob| b.digest == digest) {
            blobs.push(NewBlob {
                digest: digest.clone(),
                media_type: sig.mime_type.clone(),
                bytes: sig.payload.clone(),
            });
        }
        new_ids.push(digest);
    }
    let added = new_ids.len();
    if added == 0 {
        return Ok(AttachmentUpdate {
            blobs,
            manifest: None,
            added,
            already_present,
        });
    }
    let config = match existing {
        Some((_, config)) => append_to_config(config, &new_ids)?,
        None => new_config(&new_ids),
    };
    let config_digest = Digest::sha256_of(&config);
    let manifest = AttachmentManifest {
        config: Descriptor {
            media_type: OCI_CONFIG_MEDIA_TYPE.to_owned(),
            digest: config_digest.clone(),
            size: config.len() as u64,
            annotations: BTreeMap::new(),
        },
        layers,
        annotations: existing
            .map(|(m, _)| m.annotations.clone())
            .unwrap_or_default(),
    };
    blobs.push(NewBlob {
        digest: config_digest,
        media_type: OCI_CONFIG_MEDIA_TYPE.to_owned(),
        bytes: config,
    });
    Ok(AttachmentUpdate {
        blobs,
        manifest: Some(manifest.to_json()),
        added,
        already_present,
    })
}

fn write_annotations(out: &mut Vec<u8>, a: &BTreeMap<String, String>) {
    out.push(b'{');
    for (i, (k, v)) in a.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_string(out, v);
    }
    out.push(b'}');
}

type Members = [(String, Value)];

fn invalid(what: &'static str, path: &str, reason: &str) -> AttachmentError {
    AttachmentError::Invalid {
        what,
        path: if path.is_empty() {
            "(document)".to_owned()
        } else {
            path.to_owned()
        },
        reason: reason.to_owned(),
    }
}

fn object<'a>(
    what: &'static str,
    v: &'a Value,
    path: &str,
) -> Result<&'a Members, AttachmentError> {
    let Value::Object(m) = v else {
        return Err(invalid(
            what,
            path,
            &format!("object expected, got {}", v.type_name()),
        ));
    };
    if let Some(k) = v.duplicate_key() {
        return Err(invalid(what, path, &format!("duplicate key {k:?}")));
    }
    Ok(m)
}

fn member<'a>(m: &'a Members, key: &str) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn opt_string(
    what: &'static str,
    m: &Members,
    key: &str,
) -> Result<Option<String>, AttachmentError> {
    match member(m, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            what,
            key,
            &format!("string expected, got {}", other.type_name()),
        )),
    }
}

fn string_map(
    what: &'static str,
    m: &Members,
    key: &str,
) -> Result<BTreeMap<String, String>, AttachmentError> {
    let mut out = BTreeMap::new();
    match member(m, key) {
        None | Some(Value::Null) => {}
        Some(v) => {
            for (k, val) in object(what, v, key)? {
                match val {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => {
                        return Err(invalid(
                            what,
                            &format!("{key}.{k}"),
                            &format!("string expected, got {}", other.type_name()),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn descriptor(what: &'static str, v: &Value, path: &str) -> Result<Descriptor, AttachmentError> {
    let m = object(what, v, path)?;
    let media_type = opt_string(what, m, "mediaType")?.unwrap_or_default();
    let digest = match member(m, "digest") {
        Some(Value::String(s)) => Digest::parse(s)
            .map_err(|e| invalid(what, &format!("{path}.digest"), &e.to_string()))?,
        _ => return Err(invalid(what, &format!("{path}.digest"), "string expected")),
    };
    let size = match member(m, "size") {
        Some(Value::Number(n)) => n.as_str().parse::<u64>().map_err(|_| {
            invalid(
                what,
                &format!("{path}.size"),
                &format!("{} is not a non-negative integer", n.as_str()),
            )
        })?,
        _ => return Err(invalid(what, &format!("{path}.size"), "number expected")),
    };
    let annotations = string_map(what, m, "annotations")?;
    Ok(Descriptor {
        media_type,
        digest,
        size,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u8) -> SigstoreSignature {
        SigstoreSignature::new(vec![b'{', n, b'}'], format!("MEUCIQ{n}=="))
    }

    #[test]
    fn tag_and_stored_form() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(attachment_tag(&d), format!("sha256-{}.sig", d.hex()));
        let s = sig(1);
        let blob = s.to_blob();
        assert!(blob.starts_with(b"\0sigstore-json\n{\"mimeType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"payload\":\"ewF9\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEUCIQ1==\"}}"), "{}", String::from_utf8_lossy(&blob));
        assert_eq!(SigstoreSignature::from_blob(&blob), Ok(s));
        let mut bare = sig(2);
        bare.annotations.clear();
        assert!(bare.to_blob().ends_with(b"\"annotations\":null}"));
        assert_eq!(SigstoreSignature::from_blob(&bare.to_blob()), Ok(bare));
        for bad in [
            &b"\0simple-signing\n{}"[..],
            b"\0sigstore-json\n{\"payload\":\"!!\"}",
            b"\0sigstore-json\n{\"payload\":1}",
            b"\0sigstore-json\n{\"annotations\":{\"a\":1}}",
            b"\0sigstore-json\n{\"mimeType\":\"a\",\"mimeType\":\"b\"}",
            b"\0sigstore-json\n[]",
        ] {
            assert!(SigstoreSignature::from_blob(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn append_keeps_existing_and_skips_identical() {
        let first = plan_append(None, &[sig(1)]).expect("plan");
        assert_eq!(
            (first.added, first.already_present, first.blobs.len()),
            (1, 0, 2)
        );
        let manifest_bytes = first.manifest.expect("manifest");
        let config = &first.blobs[1].bytes;
        assert_eq!(
            String::from_utf8_lossy(config),
            format!(
                r#"{{"architecture":"","os":"","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
                sig(1).payload_digest()
            )
        );
        let manifest = AttachmentManifest::parse(&manifest_bytes).expect("parse");
        assert_eq!(manifest.to_json(), manifest_bytes);
        assert!(manifest.layers[0].matches(&sig(1)));
        assert_eq!(manifest.config.digest, Digest::sha256_of(config));

        let again = plan_append(Some((&manifest, config)), &[sig(1)]).expect("plan");
        assert_eq!(
            (again.added, again.already_present, again.manifest),
            (0, 1, None)
        );
        assert!(again.blobs.is_empty());

        let second =
            plan_append(Some((&manifest, config)), &[sig(1), sig(2), sig(2)]).expect("plan");
        assert_eq!((second.added, second.already_present), (1, 2));
        let m2 = AttachmentManifest::parse(&second.manifest.expect("manifest")).expect("parse");
        assert_eq!(m2.layers.len(), 2);
        assert!(m2.layers[0].matches(&sig(1)) && m2.layers[1].matches(&sig(2)));
        let config2 = &second.blobs.last().expect("config").bytes;
        assert_eq!(
            String::from_utf8_lossy(config2),
            format!(
                r#"{{"architecture":"","os":"","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
                sig(1).payload_digest(),
                sig(2).payload_digest()
            )
        );
    }

    #[test]
    fn foreign_config_members_are_kept() {
        let cfg = br#"{"created":"0001-01-01T00:00:00Z","architecture":"","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#;
        let d = Digest::sha256_of(b"p");
        let out = append_to_config(cfg, std::slice::from_ref(&d)).expect("append");
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!(
                r#"{{"created":"0001-01-01T00:00:00Z","architecture":"","os":"","rootfs":{{"type":"layers","diff_ids":["{d}"]}},"config":{{}}}}"#
            )
        );
        assert!(
            append_to_config(br#"{"rootfs":{"diff_ids":7}}"#, std::slice::from_ref(&d)).is_err()
        );
        assert!(append_to_config(b"[]", &[d]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = AttachmentManifest::parse(&bytes);
            let _ = append_to_config(&bytes, &[Digest::sha256_of(b"x")]);
            let mut blob = b"\0sigstore-json\n".to_vec();
            blob.extend_from_slice(&bytes);
            let _ = SigstoreSignature::from_blob(&blob);
        }

        #[test]
        fn mutated_manifests_never_panic(pos in 0usize..2000, byte in proptest::prelude::any::<u8>()) {
            let plan = plan_append(None, &[sig(1), sig(2)]).expect("plan");
            let mut m = plan.manifest.expect("manifest");
            let i = pos % m.len();
            m[i] = byte;
            if let Ok(parsed) = AttachmentManifest::parse(&m) {
                proptest::prop_assert_eq!(AttachmentManifest::parse(&parsed.to_json()).ok(), Some(parsed));
            }
        }
    }

    #[test]
    fn manifest_parser_refuses() {
        let d = Digest::sha256_of(b"c");
        let ok = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{d}","size":1}},"layers":[]}}"#
        );
        assert!(AttachmentManifest::parse(ok.as_bytes()).is_ok());
        for bad in [
            ok.replace("\"schemaVersion\":2", "\"schemaVersion\":1"),
            ok.replace("\"layers\":[]", "\"layers\":{}"),
            ok.replace("\"layers\":[]", "\"manifests\":[]"),
            ok.replace("\"size\":1", "\"size\":-1"),
            ok.replace("\"size\":1", "\"size\":1,\"size\":2"),
            ok.replace("{\"schemaVersion\":2,", "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","),
            ok.replace(&d.to_string(), "sha256:zz"),
            ok.replace("\"layers\":[]", &format!("\"layers\":[{{\"mediaType\":\"m\",\"digest\":\"{d}\",\"size\":99999999}}]")),
            "{}".to_owned(),
        ] {
            assert!(AttachmentManifest::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..=MAX_LAYERS)
            .map(|_| format!(r#"{{"mediaType":"m","digest":"{d}","size":1}}"#))
            .collect();
        let too_many = ok.replace("\"layers\":[]", &format!("\"layers\":[{}]", many.join(",")));
        assert!(matches!(
            AttachmentManifest::parse(too_many.as_bytes()),
            Err(AttachmentError::TooManyLayers { .. })
        ));
    }
}
