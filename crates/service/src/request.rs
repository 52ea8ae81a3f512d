//! `ImageSigningRequest` and `ImageScanningRequest`: the predecessor's
//! `cop.redhat.com/v1alpha2` resources, read unchanged, plus what users asked
//! for (any image reference, an explicit identity, a scan gate before
//! signing, a store override).
//!
//! The same types serve a local request file (`imprimatur request run`) and,
//! behind the `kube` feature, the custom resources of the controller, so a
//! status means the same thing in both places.

use std::collections::BTreeMap;

use imprimatur_arf::Gate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::status::RequestStatus;

/// The API group and version of both kinds (the predecessor's).
pub const API_VERSION: &str = "cop.redhat.com/v1alpha2";

/// What to scan with; everything optional (chosen from the image's
/// `/etc/os-release` among the installed SCAP Security Guide content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanSettings {
    /// The SCAP source datastream (a path where the scanner runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastream: Option<String>,
    /// The XCCDF profile id, or its short name (`standard` for
    /// `xccdf_org.ssgproject.content_profile_standard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// An XCCDF tailoring file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailoring: Option<String>,
    /// An OVAL definitions file evaluated in the same scan (vulnerabilities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oval: Option<String>,
    /// The longest the scan may take, in seconds (default 1800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// Where to publish signatures, when not where `registries.d` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreOverride {
    /// A lookaside URL to write to (`file:///…` or `http(s)://…` accepting PUT).
    /// The controller takes it only under the prefixes its operator allowed
    /// (`IMPRIMATUR_ALLOWED_LOOKASIDES`; by default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookaside: Option<String>,
}

/// `ImageSigningRequest.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    kube(
        group = "cop.redhat.com",
        version = "v1alpha2",
        kind = "ImageSigningRequest",
        plural = "imagesigningrequests",
        shortname = "sigreq",
        category = "imprimatur",
        namespaced,
        status = "RequestStatus",
        derive = "PartialEq",
        doc = "An `ImageSigningRequest`: sign an image (after a passed scan when asked).",
        printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
        printcolumn = r#"{"name":"ImageStreamTag","type":"string","jsonPath":".spec.imageStreamTag"}"#,
        printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
        printcolumn = r#"{"name":"Digest","type":"string","jsonPath":".status.imageDigest"}"#,
        printcolumn = r#"{"name":"Passed","type":"integer","jsonPath":".status.scanResult.passedRules"}"#,
        printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.scanResult.failedRules"}"#,
        printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSigningRequestSpec {
    /// The predecessor's image: `name:tag` of an ImageStream in the request's
    /// namespace. One of `imageStreamTag` and `image` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_stream_tag: Option<String>,
    /// Any image: `docker://HOST/REPO:TAG`, `HOST/REPO:TAG` (docker implied)
    /// or `oci:DIR:TAG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The Secret (in a cluster) or key file name (locally) holding the
    /// OpenPGP secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_secret_name: Option<String>,
    /// A user ID (or e-mail) the signing key must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_sign_by: Option<String>,
    /// The identity to sign for (default: the reference as written, tag
    /// included, which skopeo's default `matchRepoDigestOrExact` expects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Sign only after a scan of the same digest passed the gate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_scan: bool,
    /// How to scan, when `requireScan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSettings>,
    /// The gate a scan must pass (`imprimatur arf gate`'s format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::gate")]
    pub gate: Option<Gate>,
    /// Where to publish, when not where `registries.d` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreOverride>,
    /// Which signatures to make: `atomic`, `sigstore` or both (default
    /// `[atomic]`). Both come from the same key name: locally
    /// `<signingKeySecretName>` (OpenPGP) and `<signingKeySecretName>.sigstore.key`
    /// (cosign's encrypted key, passphrase in `….sigstore.passphrase`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature_types: Vec<SignatureType>,
    /// With `requireScan`, in a cluster: the oldest passed scan of the same
    /// digest (same settings, same gate) that may be reused instead of
    /// scanning again, as a duration (`24h`, `90m`, `3600s`, `1h30m`;
    /// default `24h`; `0s` reuses none). Checked by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub max_scan_age: Option<String>,
}

impl ImageSigningRequestSpec {
    /// The signature types asked for, each once, in a fixed order (atomic
    /// first); `[Atomic]` when none is named.
    pub fn signature_types(&self) -> Vec<SignatureType> {
        if self.signature_types.is_empty() {
            return vec![SignatureType::Atomic];
        }
        [SignatureType::Atomic, SignatureType::Sigstore]
            .into_iter()
            .filter(|t| self.signature_types.contains(t))
            .collect()
    }
}

/// A kind of signature a signing request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SignatureType {
    /// An atomic ("simple signing") OpenPGP signature, published to the
    /// store `registries.d` names (lookaside, registry extension API) and
    /// checked by a `signedBy` policy requirement.
    Atomic,
    /// A key-based sigstore (cosign) signature, added to the image's
    /// sigstore attachment (`sha256-<hex>.sig`) in its registry when
    /// `registries.d` enables `use-sigstore-attachments`; checked by a
    /// `sigstoreSigned` requirement.
    Sigstore,
}

/// `ImageScanningRequest.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    kube(
        group = "cop.redhat.com",
        version = "v1alpha2",
        kind = "ImageScanningRequest",
        plural = "imagescanningrequests",
        shortname = "scanreq",
        category = "imprimatur",
        namespaced,
        status = "RequestStatus",
        derive = "PartialEq",
        doc = "An `ImageScanningRequest`: scan an image with OpenSCAP and judge it by a gate.",
        printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
        printcolumn = r#"{"name":"ImageStreamTag","type":"string","jsonPath":".spec.imageStreamTag"}"#,
        printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
        printcolumn = r#"{"name":"Digest","type":"string","jsonPath":".status.imageDigest"}"#,
        printcolumn = r#"{"name":"Passed","type":"integer","jsonPath":".status.scanResult.passedRules"}"#,
        printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.scanResult.failedRules"}"#,
        printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageScanningRequestSpec {
    /// The predecessor's image: `name:tag` of an ImageStream in the request's
    /// namespace. One of `imageStreamTag` and `image` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_stream_tag: Option<String>,
    /// Any image: `docker://HOST/REPO:TAG`, `HOST/REPO:TAG` or `oci:DIR:TAG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How to scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSettings>,
    /// The gate the scan is judged by (default: no gate; the phase is then
    /// `Completed` whatever the results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::gate")]
    pub gate: Option<Gate>,
    /// Rescan every this many seconds after a scan ends (the controller;
    /// ignored locally; `0` or absent: never). Each run resolves the image
    /// again, runs a new Job and is recorded in `status.scanHistory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescan_interval_seconds: Option<u64>,
}

/// The metadata of a request file (the Kubernetes fields that matter here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestMeta {
    /// The request's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (for `imageStreamTag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its generation (conditions record the one they observed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Its UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Labels, kept as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations, kept as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A request document: `apiVersion`, `kind`, `metadata`, `spec`, `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<S> {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// `ImageSigningRequest` or `ImageScanningRequest`.
    pub kind: String,
    /// Name, namespace, generation.
    #[serde(default)]
    pub metadata: RequestMeta,
    /// What is asked for.
    pub spec: S,
    /// What happened (absent before the first run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestStatus>,
}

/// A request of either kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Request {
    /// Scan, gate, sign, publish, verify.
    Signing(Document<ImageSigningRequestSpec>),
    /// Scan and gate.
    Scanning(Document<ImageScanningRequestSpec>),
}

/// Where an image named by a request lives, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageTarget {
    /// An ImageStreamTag: `namespace`, `stream`, `tag`.
    ImageStreamTag {
        /// The namespace.
        namespace: String,
        /// The image stream's name.
        stream: String,
        /// The tag (the predecessor defaulted to `latest`).
        tag: String,
    },
    /// An image reference with its transport (`docker://`, `oci:`, `dir:`);
    /// a bare `HOST/REPO:TAG` is `docker://`.
    Image(String),
}

impl Request {
    /// Parses a request file (YAML or JSON). Unknown kinds and API versions
    /// are refused with what was found.
    pub fn from_yaml(text: &str) -> Result<Request> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            #[serde(default)]
            api_version: String,
            #[serde(default)]
            kind: String,
        }
        if text.len() > 1 << 20 {
            return Err(Error::Request("request file larger than 1 MiB".into()));
        }
        let head: Head = serde_saphyr::from_str(text).map_err(|e| Error::Request(e.to_string()))?;
        if head.api_version != API_VERSION {
            return Err(Error::Request(format!(
                "apiVersion {:?}: expected {API_VERSION}",
                head.api_version
            )));
        }
        let request = match head.kind.as_str() {
            "ImageSigningRequest" => Request::Signing(
                serde_saphyr::from_str(text).map_err(|e| Error::Request(e.to_string()))?,
            ),
            "ImageScanningRequest" => Request::Scanning(
                serde_saphyr::from_str(text).map_err(|e| Error::Request(e.to_string()))?,
            ),
            other => {
                return Err(Error::Request(format!(
                    "kind {other:?}: expected ImageSigningRequest or ImageScanningRequest"
                )));
            }
        };
        request.target()?;
        if let Request::Signing(doc) = &request {
            // Used by the controller only, but a file that says something
            // wrong says it here too.
            crate::freshness::max_scan_age(&doc.spec)
                .map_err(|e| Error::Request(format!("spec.maxScanAge: {e}")))?;
        }
        Ok(request)
    }

    /// The request's metadata.
    pub fn metadata(&self) -> &RequestMeta {
        match self {
            Request::Signing(d) => &d.metadata,
            Request::Scanning(d) => &d.metadata,
        }
    }

    /// The image the request names.
    pub fn target(&self) -> Result<ImageTarget> {
        let (ist, image) = match self {
            Request::Signing(d) => (&d.spec.image_stream_tag, &d.spec.image),
            Request::Scanning(d) => (&d.spec.image_stream_tag, &d.spec.image),
        };
        target_of(ist.as_deref(), image.as_deref(), self.metadata())
    }

    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Signing(_) => "ImageSigningRequest",
            Request::Scanning(_) => "ImageScanningRequest",
        }
    }
}

/// The image of a spec: exactly one of `imageStreamTag` and `image`.
pub fn target_of(
    image_stream_tag: Option<&str>,
    image: Option<&str>,
    meta: &RequestMeta,
) -> Result<ImageTarget> {
    match (image_stream_tag, image) {
        (Some(_), Some(_)) => Err(Error::Request(
            "spec.imageStreamTag and spec.image are both set: give one".into(),
        )),
        (None, None) => Err(Error::Request(
            "spec.imageStreamTag or spec.image is required".into(),
        )),
        (None, Some(image)) if image.trim().is_empty() => {
            Err(Error::Request("spec.image is empty".into()))
        }
        (None, Some(image)) => Ok(ImageTarget::Image(image.trim().to_owned())),
        (Some(ist), None) => {
            let (stream, tag) = ist.split_once(':').unwrap_or((ist, "latest"));
            if stream.is_empty() || tag.is_empty() || stream.contains('/') {
                return Err(Error::Request(format!(
                    "spec.imageStreamTag {ist:?}: expected NAME:TAG of an image stream in the request's namespace"
                )));
            }
            Ok(ImageTarget::ImageStreamTag {
                namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
                stream: stream.to_owned(),
                tag: tag.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The predecessor's example requests (redhat-cop/image-scanning-signing-service
    /// `examples/`), unchanged.
    const PREDECESSOR_SIGNING: &str = "\
apiVersion: cop.redhat.com/v1alpha2
kind: ImageSigningRequest
metadata:
  name: sign-myapp
spec:
  imageStreamTag: myapp:latest
  signingKeySecretName: mygpgkey
  signingKeySignBy: openshift@example.com
";
    const PREDECESSOR_SCANNING: &str = "\
apiVersion: cop.redhat.com/v1alpha2
kind: ImageScanningRequest
metadata:
  name: scan-myapp
spec:
  imageStreamTag: myapp:latest
";

    #[test]
    fn predecessor_requests_parse_unchanged() {
        let Request::Signing(s) = Request::from_yaml(PREDECESSOR_SIGNING).unwrap() else {
            panic!("not signing")
        };
        assert_eq!(s.spec.signing_key_secret_name.as_deref(), Some("mygpgkey"));
        assert_eq!(
            s.spec.signing_key_sign_by.as_deref(),
            Some("openshift@example.com")
        );
        let r = Request::from_yaml(PREDECESSOR_SCANNING).unwrap();
        assert_eq!(r.kind(), "ImageScanningRequest");
        assert_eq!(
            r.target().unwrap(),
            ImageTarget::ImageStreamTag {
                namespace: "default".into(),
                stream: "myapp".into(),
                tag: "latest".into()
            }
        );
    }

    #[test]
    fn every_example_request_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let r = Request::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            r.target().unwrap();
            n += 1;
        }
        assert!(n >= 4, "{n} examples");
    }

    #[test]
    fn new_fields_and_their_errors() {
        let r = Request::from_yaml(
            "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {name: x, namespace: team}\n\
             spec:\n  image: docker://localhost:5000/app:1\n  requireScan: true\n  identity: localhost:5000/app:1\n\
             \x20 gate: {maxFailed: {high: 0}, waivers: [{cve: CVE-1, reason: unreachable}]}\n",
        )
        .unwrap();
        let Request::Signing(s) = &r else { panic!() };
        assert!(s.spec.require_scan);
        assert_eq!(s.spec.gate.as_ref().unwrap().waivers.len(), 1);
        assert_eq!(
            r.target().unwrap(),
            ImageTarget::Image("docker://localhost:5000/app:1".into())
        );

        for (bad, want) in [
            ("spec: {}", "is required"),
            ("spec: {image: a, imageStreamTag: b:c}", "both set"),
            ("spec: {image: a, bogus: 1}", "bogus"),
            ("spec: {imageStreamTag: 'ns/x:y'}", "NAME:TAG"),
            (
                "spec: {image: a, maxScanAge: 1d}",
                "spec.maxScanAge: duration \"1d\": unexpected 'd'",
            ),
        ] {
            let text =
                format!("apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\n{bad}\n");
            let e = Request::from_yaml(&text).unwrap_err();
            assert!(matches!(e, Error::Request(_)), "{e}");
            assert!(e.to_string().contains(want), "{bad}: {e}");
        }
        let e = Request::from_yaml("apiVersion: v1\nkind: Pod\nspec: {}\n").unwrap_err();
        assert!(e.to_string().contains("apiVersion"), "{e}");
        let e = Request::from_yaml("apiVersion: cop.redhat.com/v1alpha2\nkind: Pod\nspec: {}\n")
            .unwrap_err();
        assert!(e.to_string().contains("kind \"Pod\""), "{e}");
    }

    #[test]
    fn signature_types_default_to_atomic_and_are_deduplicated() {
        let spec = |types: Vec<SignatureType>| ImageSigningRequestSpec {
            signature_types: types,
            ..ImageSigningRequestSpec::default()
        };
        assert_eq!(spec(vec![]).signature_types(), vec![SignatureType::Atomic]);
        assert_eq!(
            spec(vec![
                SignatureType::Sigstore,
                SignatureType::Atomic,
                SignatureType::Sigstore
            ])
            .signature_types(),
            vec![SignatureType::Atomic, SignatureType::Sigstore]
        );
        let parsed: ImageSigningRequestSpec =
            serde_json::from_str(r#"{"image":"x/y:z","signatureTypes":["sigstore"]}"#).unwrap();
        assert_eq!(parsed.signature_types(), vec![SignatureType::Sigstore]);
        assert!(
            serde_json::from_str::<ImageSigningRequestSpec>(r#"{"signatureTypes":["gpg"]}"#)
                .is_err()
        );
    }
}
