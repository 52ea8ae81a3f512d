//! The registry signature extension API (spec §7.1; OpenShift's integrated
//! registry, `openshift/image-registry` `signaturedispatcher.go`):
//!
//! - `GET /extensions/v2/<repo>/signatures/<algo>:<hex>` → 200
//!   `{"signatures":[{"schemaVersion":2,"name":"sha256:…@<id>","type":"atomic","content":"<base64>"}]}`;
//!   only entries with `schemaVersion` 2 and `type` `atomic` are signatures
//!   (others are ignored, as containers/image does); any other status is an
//!   error;
//! - `PUT` of one entry, named `<digest>@<32 lowercase hex>`, compact JSON
//!   with the keys in that order and no `Content-Type`, as containers/image
//!   sends it → 201 created; 409 (`SIGNATURE_EXISTS`) is taken as already
//!   there; 400 (`SIGNATURE_INVALID`) and 404 (unknown image) are typed
//!   errors.

use std::sync::Arc;

use base64::Engine as _;
use imprimatur_reference::Digest;
use serde::Deserialize;

use super::http::{HttpRequest, HttpSend};
use super::{Added, BoxFuture, MAX_SIGNATURES, SignatureStore, StoreError, StoredSignature};

/// Largest listing read (containers/image's limit for it, 4 MiB).
const MAX_LISTING_BYTES: u64 = 4 << 20;

/// One entry of an extension-API listing, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtensionSignature {
    /// `schemaVersion`.
    pub schema_version: i64,
    /// `name`: `<digest>@<id>`.
    pub name: String,
    /// `type`: `atomic` for simple signing.
    pub signature_type: String,
    /// `content`, base64-decoded.
    pub content: Vec<u8>,
}

impl ExtensionSignature {
    /// Whether containers/image uses it (schema version 2, type `atomic`).
    pub fn is_atomic(&self) -> bool {
        self.schema_version == 2 && self.signature_type == "atomic"
    }
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    signatures: Option<Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default, rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    signature_type: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

/// Parses a listing body leniently (unknown fields ignored).
fn parse_listing(body: &[u8], location: &str) -> Result<Vec<ExtensionSignature>, StoreError> {
    let malformed = |message: String| StoreError::Malformed {
        location: location.to_owned(),
        message,
    };
    let listing: Listing = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("signature listing is not valid JSON: {e}")))?;
    listing
        .signatures
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let content = base64::engine::general_purpose::STANDARD
                .decode(e.content.unwrap_or_default())
                .map_err(|err| malformed(format!("signature content is not base64: {err}")))?;
            Ok(ExtensionSignature {
                schema_version: e.schema_version.unwrap_or(0),
                name: e.name.unwrap_or_default(),
                signature_type: e.signature_type.unwrap_or_default(),
                content,
            })
        })
        .collect()
}

/// The body of one PUT, byte for byte as containers/image sends it.
pub(crate) fn put_body(name: &str, content: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(content);
    // serde_json escapes the strings; the key order is fixed here.
    format!(
        "{{\"schemaVersion\":2,\"name\":{},\"type\":\"atomic\",\"content\":{}}}",
        serde_json::Value::String(name.to_owned()),
        serde_json::Value::String(b64)
    )
    .into_bytes()
}

/// 16 random bytes as 32 lowercase hex digits (the signature name's id).
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !from_os {
        use std::hash::{BuildHasher, Hasher};
        for half in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    hex::encode(bytes)
}

/// Distribution-style error text (`{"errors":[{"code","message"}]}`), or
/// the start of the body.
fn error_text(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        return e
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ");
    }
    String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_owned()
}

/// The signatures of one repository, through the registry signature
/// extension API.
#[derive(Debug, Clone)]
pub struct ExtensionStore {
    http: Arc<dyn HttpSend>,
    repository: String,
}

impl ExtensionStore {
    /// The extension API of the registry `http` talks to (a
    /// [`super::RegistryHttp`] for the repository, or any [`HttpSend`] that
    /// resolves paths against the registry), for `repository` (the path
    /// without the domain: `library/busybox`).
    pub fn new(http: Arc<dyn HttpSend>, repository: &str) -> ExtensionStore {
        ExtensionStore {
            http,
            repository: repository.to_owned(),
        }
    }

    fn path(&self, digest: &Digest) -> String {
        format!(
            "/extensions/v2/{}/signatures/{}",
            self.repository,
            digest.as_str()
        )
    }

    fn location(&self) -> String {
        format!(
            "registry extension API of {} ({})",
            self.repository,
            self.http.describe()
        )
    }

    /// Every entry the server lists for `digest`, atomic or not.
    pub async fn entries(&self, digest: &Digest) -> Result<Vec<ExtensionSignature>, StoreError> {
        let path = self.path(digest);
        let resp = self
            .http
            .send(HttpRequest::get(path.clone(), MAX_LISTING_BYTES))
            .await?;
        let location = format!("{} {path}", self.http.describe());
        match resp.status {
            200 => parse_listing(&resp.body, &location),
            404 => Err(StoreError::ImageNotFound { location }),
            status => Err(StoreError::Http {
                location,
                status,
                message: error_text(&resp.body),
            }),
        }
    }
}

impl SignatureStore for ExtensionStore {
    fn describe(&self) -> String {
        self.location()
    }

    fn list<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        Box::pin(async move {
            let entries = self.entries(digest).await?;
            let atomic: Vec<StoredSignature> = entries
                .into_iter()
                .filter(ExtensionSignature::is_atomic)
                .map(|e| StoredSignature::new(e.content, e.name))
                .collect();
            if atomic.len() > MAX_SIGNATURES {
                return Err(StoreError::TooMany {
                    location: self.location(),
                    limit: MAX_SIGNATURES,
                });
            }
            Ok(atomic)
        })
    }

    fn add<'a>(
        &'a self,
        digest: &'a Digest,
        signature: &'a [u8],
    ) -> BoxFuture<'a, Result<Added, StoreError>> {
        Box::pin(async move {
            let entries = self.entries(digest).await?;
            if let Some(e) = entries
                .iter()
                .find(|e| e.is_atomic() && e.content == signature)
            {
                return Ok(Added::AlreadyPresent {
                    location: e.name.clone(),
                });
            }
            if entries.iter().filter(|e| e.is_atomic()).count() >= MAX_SIGNATURES {
                return Err(StoreError::TooMany {
                    location: self.location(),
                    limit: MAX_SIGNATURES,
                });
            }
            let name = loop {
                let candidate = format!("{}@{}", digest.as_str(), random_id());
                if !entries.iter().any(|e| e.name == candidate) {
                    break candidate;
                }
            };
            let path = self.path(digest);
            let resp = self
                .http
                .send(HttpRequest::put(path.clone(), put_body(&name, signature)))
                .await?;
            let location = format!("{} {path}", self.http.describe());
            match resp.status {
                201 => Ok(Added::Stored { location: name }),
                409 => Ok(Added::AlreadyPresent { location: name }),
                400 => Err(StoreError::Rejected {
                    location,
                    message: error_text(&resp.body),
                }),
                404 => Err(StoreError::ImageNotFound { location }),
                status => Err(StoreError::Http {
                    location,
                    status,
                    message: error_text(&resp.body),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::HttpMethod;
    use super::super::http::HttpResponse;
    use super::*;

    /// A recorded PUT: path, body, headers.
    type Put = (String, Vec<u8>, Vec<(String, String)>);

    #[derive(Debug, Default)]
    struct Fake {
        listing: Mutex<Vec<u8>>,
        get_status: u16,
        put_status: u16,
        puts: Mutex<Vec<Put>>,
    }

    impl HttpSend for Fake {
        fn describe(&self) -> String {
            "fake.example/ns/img".into()
        }
        fn send(&self, r: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>> {
            Box::pin(async move {
                Ok(match r.method {
                    HttpMethod::Get => HttpResponse::new(
                        self.get_status,
                        vec![],
                        self.listing.lock().unwrap().clone(),
                    ),
                    _ => {
                        self.puts.lock().unwrap().push((
                            r.target,
                            r.body.unwrap_or_default(),
                            r.headers,
                        ));
                        HttpResponse::new(
                            self.put_status,
                            vec![],
                            br#"{"errors":[{"code":"SIGNATURE_INVALID","message":"invalid signature format"}]}"#.to_vec(),
                        )
                    }
                })
            })
        }
    }

    fn fake(listing: &str, get_status: u16, put_status: u16) -> Arc<Fake> {
        Arc::new(Fake {
            listing: Mutex::new(listing.as_bytes().to_vec()),
            get_status,
            put_status,
            puts: Mutex::default(),
        })
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[tokio::test]
    async fn x03_only_schema_2_atomic_entries_in_order() {
        let d = Digest::sha256_of(b"m");
        let listing = format!(
            r#"{{"signatures":[
              {{"schemaVersion":2,"name":"{d}@1","type":"atomic","content":"{}"}},
              {{"schemaVersion":1,"name":"{d}@2","type":"atomic","content":"{}"}},
              {{"schemaVersion":2,"name":"{d}@3","type":"AtomicImageV1","content":"{}"}},
              {{"schemaVersion":2,"name":"{d}@4","type":"atomic","content":"{}","extra":true}}
            ]}}"#,
            b64(b"one"),
            b64(b"two"),
            b64(b"three"),
            b64(b"four")
        );
        let f = fake(&listing, 200, 201);
        let s = ExtensionStore::new(f.clone(), "ns/img");
        let l = s.list(&d).await.unwrap();
        assert_eq!(
            l,
            [
                StoredSignature::new(b"one".to_vec(), format!("{d}@1")),
                StoredSignature::new(b"four".to_vec(), format!("{d}@4"))
            ]
        );
    }

    #[tokio::test]
    async fn x04_x05_put_only_new_signatures_with_the_exact_body() {
        let d = Digest::sha256_of(b"m");
        let listing = format!(
            r#"{{"signatures":[{{"schemaVersion":2,"name":"{d}@1","type":"atomic","content":"{}"}}]}}"#,
            b64(b"old")
        );
        let f = fake(&listing, 200, 201);
        let s = ExtensionStore::new(f.clone(), "ns/img");
        assert_eq!(
            s.add(&d, b"old").await.unwrap(),
            Added::AlreadyPresent {
                location: format!("{d}@1")
            }
        );
        assert!(f.puts.lock().unwrap().is_empty());
        let added = s.add(&d, b"new").await.unwrap();
        assert!(added.is_new());
        let puts = f.puts.lock().unwrap();
        assert_eq!(puts.len(), 1);
        let (path, body, headers) = &puts[0];
        assert_eq!(path, &format!("/extensions/v2/ns/img/signatures/{d}"));
        assert!(headers.is_empty(), "no Content-Type: {headers:?}");
        let name = added.location();
        let id = name.strip_prefix(&format!("{d}@")).unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            format!(
                r#"{{"schemaVersion":2,"name":"{name}","type":"atomic","content":"{}"}}"#,
                b64(b"new")
            )
        );
    }

    #[tokio::test]
    async fn x06_x07_statuses_are_typed() {
        let d = Digest::sha256_of(b"m");
        let empty = r#"{"signatures":[]}"#;
        let s = ExtensionStore::new(fake(empty, 200, 409), "ns/img");
        assert!(!s.add(&d, b"x").await.unwrap().is_new());
        let s = ExtensionStore::new(fake(empty, 200, 400), "ns/img");
        let e = s.add(&d, b"x").await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Rejected { message, .. } if message.contains("SIGNATURE_INVALID")),
            "{e}"
        );
        let s = ExtensionStore::new(fake(empty, 200, 404), "ns/img");
        assert!(matches!(
            s.add(&d, b"x").await,
            Err(StoreError::ImageNotFound { .. })
        ));
        let s = ExtensionStore::new(fake(empty, 200, 500), "ns/img");
        assert!(matches!(
            s.add(&d, b"x").await,
            Err(StoreError::Http { status: 500, .. })
        ));
        let s = ExtensionStore::new(fake("", 404, 201), "ns/img");
        assert!(matches!(
            s.list(&d).await,
            Err(StoreError::ImageNotFound { .. })
        ));
        let s = ExtensionStore::new(fake("", 500, 201), "ns/img");
        assert!(matches!(
            s.list(&d).await,
            Err(StoreError::Http { status: 500, .. })
        ));
        let s = ExtensionStore::new(fake("not json", 200, 201), "ns/img");
        assert!(matches!(
            s.list(&d).await,
            Err(StoreError::Malformed { .. })
        ));
        let s = ExtensionStore::new(fake(r#"{"signatures":null}"#, 200, 201), "ns/img");
        assert!(s.list(&d).await.unwrap().is_empty());
    }
}
