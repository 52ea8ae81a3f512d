//! Lookaside stores (containers-registries.d(5), spec §6): `signature-N`
//! files under `<base>/<repository path>@<algo>=<hex>/`, read from the
//! `lookaside` URL and written to the `lookaside-staging` URL (or to the
//! `lookaside` URL when it is a `file:` one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imprimatur_policy::lookaside::{self as layout, ReadMethod};
use imprimatur_reference::{Digest, Reference};

use super::http::{HttpRequest, HttpSend};
use super::slots::{add_slot, check_stored_blob, read_slots};
use super::{
    Added, BoxFuture, MAX_SIGNATURE_BYTES, MAX_SIGNATURES, SignatureStore, StoreError,
    StoredSignature, blocking,
};

/// One lookaside base URL and how it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookasideEndpoint {
    /// The base URL (`file:///srv/sigs`, `https://sigs.example/base`).
    pub url: String,
    /// Whether it came from `lookaside-staging`/`sigstore-staging`: only a
    /// staging `http(s)` URL is written to (by PUT); containers/image
    /// refuses to write to a plain `http(s)` `lookaside`.
    pub staging: bool,
}

impl LookasideEndpoint {
    /// A base URL; `staging` as configured.
    pub fn new(url: impl Into<String>, staging: bool) -> LookasideEndpoint {
        LookasideEndpoint {
            url: url.into(),
            staging,
        }
    }
}

/// A lookaside for one repository.
#[derive(Debug, Clone)]
pub struct LookasideStore {
    reference: Reference,
    read: LookasideEndpoint,
    write: LookasideEndpoint,
    http: Option<Arc<dyn HttpSend>>,
    sync: bool,
    origin: Option<String>,
}

impl LookasideStore {
    /// A `file://` lookaside rooted at directory `root` (a relative path is
    /// taken from the current directory), read and written.
    pub fn file(root: impl AsRef<Path>, reference: &Reference) -> LookasideStore {
        let root = root.as_ref();
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let url = url::Url::from_file_path(&root)
            .map(String::from)
            .unwrap_or_else(|()| format!("file://{}", root.display()));
        LookasideStore::new(
            reference,
            LookasideEndpoint::new(url.clone(), false),
            LookasideEndpoint::new(url, false),
        )
    }

    /// A lookaside read from `read` and written to `write` (give the same
    /// URL twice when there is no staging location).
    pub fn new(
        reference: &Reference,
        read: LookasideEndpoint,
        write: LookasideEndpoint,
    ) -> LookasideStore {
        LookasideStore {
            reference: reference.clone(),
            read,
            write,
            http: None,
            sync: true,
            origin: None,
        }
    }

    /// The HTTP client for `http(s)` URLs (without one they are an error).
    pub fn http(mut self, http: Arc<dyn HttpSend>) -> LookasideStore {
        self.http = Some(http);
        self
    }

    /// Whether `file:` writes are synced to disk (default true; bulk
    /// signing may trade durability across power loss for speed — a killed
    /// process still never leaves a partial file).
    pub fn sync(mut self, sync: bool) -> LookasideStore {
        self.sync = sync;
        self
    }

    /// Where the configuration came from, for [`SignatureStore::describe`].
    pub fn origin(mut self, origin: impl Into<String>) -> LookasideStore {
        self.origin = Some(origin.into());
        self
    }

    /// The read location.
    pub fn read_endpoint(&self) -> &LookasideEndpoint {
        &self.read
    }

    /// The write location.
    pub fn write_endpoint(&self) -> &LookasideEndpoint {
        &self.write
    }

    /// [`SignatureStore::add`] for synchronous callers (threads of a bulk
    /// signer): `file:` write locations only.
    pub fn add_blocking(&self, digest: &Digest, signature: &[u8]) -> Result<Added, StoreError> {
        match self.file_dir(&self.write.url, digest)? {
            Some(dir) => add_slot(&dir, signature, self.sync),
            None => Err(StoreError::NotWritable {
                location: self.write.url.clone(),
                message: "only file: lookasides can be written without async".to_owned(),
            }),
        }
    }

    /// [`SignatureStore::list`] for synchronous callers: `file:` read
    /// locations only.
    pub fn list_blocking(&self, digest: &Digest) -> Result<Vec<StoredSignature>, StoreError> {
        match self.file_dir(&self.read.url, digest)? {
            Some(dir) => read_slots(&dir, true),
            None => Err(StoreError::NotWritable {
                location: self.read.url.clone(),
                message: "only file: lookasides can be read without async".to_owned(),
            }),
        }
    }

    /// The directory of `digest`'s signatures under a `file:` base.
    fn file_dir(&self, base: &str, digest: &Digest) -> Result<Option<PathBuf>, StoreError> {
        let url = layout::signature_url(base, &self.reference, digest.as_str(), 1)?;
        match layout::read_method(&url)? {
            ReadMethod::File(p) => Ok(Path::new(&p).parent().map(Path::to_path_buf)),
            _ => Ok(None),
        }
    }

    fn http_client(&self, location: &str) -> Result<&Arc<dyn HttpSend>, StoreError> {
        self.http.as_ref().ok_or_else(|| StoreError::NotWritable {
            location: location.to_owned(),
            message: "no HTTP client configured for an http(s) lookaside".to_owned(),
        })
    }

    async fn list_http(
        &self,
        digest: &Digest,
        classify: bool,
    ) -> Result<Vec<StoredSignature>, StoreError> {
        let base = &self.read.url;
        let http = self.http_client(base)?;
        let mut out = Vec::new();
        for index in 1.. {
            let url = layout::signature_url(base, &self.reference, digest.as_str(), index)?;
            let url = url.as_str().to_owned();
            let Some(blob) = get_signature(http.as_ref(), &url).await? else {
                break;
            };
            if out.len() >= MAX_SIGNATURES {
                return Err(StoreError::TooMany {
                    location: base.clone(),
                    limit: MAX_SIGNATURES,
                });
            }
            if classify {
                check_stored_blob(&blob, &url)?;
            }
            out.push(StoredSignature::new(blob, url));
        }
        Ok(out)
    }

    /// PUT to a staging server: the first index that GET says is free,
    /// created with `If-None-Match: *` (servers that honour it make the
    /// creation exclusive: 412 means another writer was first).
    async fn add_http(&self, digest: &Digest, blob: &[u8]) -> Result<Added, StoreError> {
        let base = &self.write.url;
        let http = self.http_client(base)?;
        for index in 1..=MAX_SIGNATURES {
            let url = layout::signature_url(base, &self.reference, digest.as_str(), index)?;
            let url = url.as_str().to_owned();
            if let Some(existing) = get_signature(http.as_ref(), &url).await? {
                if existing == blob {
                    return Ok(Added::AlreadyPresent { location: url });
                }
                continue;
            }
            let resp = http
                .send(HttpRequest::put(url.clone(), blob.to_vec()).header("If-None-Match", "*"))
                .await?;
            match resp.status {
                200 | 201 | 204 => return Ok(Added::Stored { location: url }),
                412 => match get_signature(http.as_ref(), &url).await? {
                    Some(existing) if existing == blob => {
                        return Ok(Added::AlreadyPresent { location: url });
                    }
                    _ => continue,
                },
                status => {
                    return Err(StoreError::Http {
                        location: url,
                        status,
                        message: format!(
                            "writing signature: {}",
                            String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)]).trim()
                        ),
                    });
                }
            }
        }
        Err(StoreError::TooMany {
            location: base.clone(),
            limit: MAX_SIGNATURES,
        })
    }
}

impl LookasideStore {
    async fn list_any(
        &self,
        digest: &Digest,
        classify: bool,
    ) -> Result<Vec<StoredSignature>, StoreError> {
        match scheme_of(&self.read.url)?.as_str() {
            "file" => {
                let Some(dir) = self.file_dir(&self.read.url, digest)? else {
                    return Ok(Vec::new());
                };
                blocking(move || read_slots(&dir, classify)).await
            }
            "http" | "https" => self.list_http(digest, classify).await,
            _ => Err(imprimatur_policy::Error::LookasideUnsupportedScheme {
                url: self.read.url.clone(),
            }
            .into()),
        }
    }
}

/// GET one signature URL: 200 → the blob, 404 → `None`, else an error.
async fn get_signature(http: &dyn HttpSend, url: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let resp = http
        .send(HttpRequest::get(url.to_owned(), MAX_SIGNATURE_BYTES))
        .await?;
    match resp.status {
        200 => Ok(Some(resp.body)),
        404 => Ok(None),
        status => Err(StoreError::Http {
            location: url.to_owned(),
            status,
            message: "reading signature".to_owned(),
        }),
    }
}

fn scheme_of(base: &str) -> Result<String, StoreError> {
    Ok(layout::parse_base(base)?.scheme().to_owned())
}

impl SignatureStore for LookasideStore {
    fn describe(&self) -> String {
        let mut s = if self.read.url == self.write.url {
            format!("lookaside {}", self.read.url)
        } else {
            format!("lookaside {} (writes to {})", self.read.url, self.write.url)
        };
        if let Some(o) = &self.origin {
            s.push_str(&format!(" ({o})"));
        }
        s
    }

    fn list<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        Box::pin(self.list_any(digest, true))
    }

    fn list_unclassified<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        Box::pin(self.list_any(digest, false))
    }

    fn add<'a>(
        &'a self,
        digest: &'a Digest,
        signature: &'a [u8],
    ) -> BoxFuture<'a, Result<Added, StoreError>> {
        Box::pin(async move {
            match scheme_of(&self.write.url)?.as_str() {
                "file" => {
                    let Some(dir) = self.file_dir(&self.write.url, digest)? else {
                        return Err(StoreError::NotWritable {
                            location: self.write.url.clone(),
                            message: "not a local directory".to_owned(),
                        });
                    };
                    let blob = signature.to_vec();
                    let sync = self.sync;
                    blocking(move || add_slot(&dir, &blob, sync)).await
                }
                "http" | "https" if self.write.staging => self.add_http(digest, signature).await,
                scheme => Err(StoreError::NotWritable {
                    location: self.write.url.clone(),
                    message: format!(
                        "Writing directly to a {scheme} lookaside {} is not supported. Configure a lookaside-staging: location",
                        self.write.url
                    ),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::super::http::HttpResponse;
    use super::*;

    fn sig(s: &str) -> Vec<u8> {
        let mut v = vec![0xa3, 0x01];
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// An in-memory static server: GET/PUT of whole paths, honouring
    /// `If-None-Match: *`.
    #[derive(Debug, Default)]
    struct FakeServer {
        files: Mutex<BTreeMap<String, Vec<u8>>>,
        log: Mutex<Vec<String>>,
        fail_status: Option<u16>,
    }

    impl HttpSend for FakeServer {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn send(&self, r: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>> {
            Box::pin(async move {
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} {}", r.method, r.target));
                if let Some(s) = self.fail_status {
                    return Ok(HttpResponse::new(s, vec![], b"boom".to_vec()));
                }
                let mut files = self.files.lock().unwrap();
                Ok(match r.method {
                    super::super::HttpMethod::Get => match files.get(&r.target) {
                        Some(b) => HttpResponse::new(200, vec![], b.clone()),
                        None => HttpResponse::new(404, vec![], vec![]),
                    },
                    _ => {
                        let exclusive = r
                            .headers
                            .iter()
                            .any(|(n, v)| n.eq_ignore_ascii_case("if-none-match") && v == "*");
                        if exclusive && files.contains_key(&r.target) {
                            HttpResponse::new(412, vec![], vec![])
                        } else {
                            files.insert(r.target.clone(), r.body.unwrap_or_default());
                            HttpResponse::new(201, vec![], vec![])
                        }
                    }
                })
            })
        }
    }

    fn reference() -> Reference {
        Reference::parse_normalized("127.0.0.1:5000/ns/img:v1").unwrap()
    }

    #[tokio::test]
    async fn file_lookaside_layout_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LookasideStore::file(tmp.path(), &reference());
        let d = Digest::sha256_of(b"manifest");
        let a = store.add(&d, &sig("one")).await.unwrap();
        let want = tmp
            .path()
            .join(format!("ns/img@sha256={}/signature-1", d.hex()));
        assert_eq!(a.location(), want.display().to_string());
        assert_eq!(std::fs::read(&want).unwrap(), sig("one"));
        assert!(!store.add(&d, &sig("one")).await.unwrap().is_new());
        store.add(&d, &sig("two")).await.unwrap();
        let l = store.list(&d).await.unwrap();
        assert_eq!(l.len(), 2);
        assert!(store.describe().starts_with("lookaside file://"));
        // Another digest has none.
        assert!(
            store
                .list(&Digest::sha256_of(b"x"))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn relative_roots_are_taken_from_the_current_directory() {
        let store = LookasideStore::file("some/dir", &reference());
        let cwd = std::env::current_dir().unwrap();
        let want = url::Url::from_file_path(cwd.join("some/dir")).unwrap();
        assert_eq!(store.read_endpoint().url, want.as_str());
    }

    #[tokio::test]
    async fn http_read_stops_at_first_gap_and_write_needs_staging() {
        let server = Arc::new(FakeServer::default());
        let base = "http://sigs.example/base/";
        let d = Digest::sha256_of(b"m");
        let url = |i: usize| {
            format!(
                "http://sigs.example/base//ns/img@sha256={}/signature-{i}",
                d.hex()
            )
        };
        {
            let mut f = server.files.lock().unwrap();
            f.insert(url(1), sig("1"));
            f.insert(url(2), sig("2"));
            f.insert(url(4), sig("4"));
        }
        let plain = LookasideStore::new(
            &reference(),
            LookasideEndpoint::new(base, false),
            LookasideEndpoint::new(base, false),
        )
        .http(server.clone());
        let l = plain.list(&d).await.unwrap();
        assert_eq!(
            l.iter().map(|s| s.location.clone()).collect::<Vec<_>>(),
            [url(1), url(2)]
        );
        let e = plain.add(&d, &sig("new")).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("Writing directly to a http lookaside"),
            "{e}"
        );

        let staging = LookasideStore::new(
            &reference(),
            LookasideEndpoint::new(base, false),
            LookasideEndpoint::new(base, true),
        )
        .http(server.clone());
        assert_eq!(
            staging.add(&d, &sig("new")).await.unwrap(),
            Added::Stored { location: url(3) }
        );
        assert_eq!(
            staging.add(&d, &sig("2")).await.unwrap(),
            Added::AlreadyPresent { location: url(2) }
        );
        assert_eq!(staging.list(&d).await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn http_errors_are_typed() {
        let server = Arc::new(FakeServer {
            fail_status: Some(503),
            ..FakeServer::default()
        });
        let base = "https://sigs.example";
        let store = LookasideStore::new(
            &reference(),
            LookasideEndpoint::new(base, false),
            LookasideEndpoint::new(base, true),
        )
        .http(server);
        let d = Digest::sha256_of(b"m");
        assert!(matches!(
            store.list(&d).await,
            Err(StoreError::Http { status: 503, .. })
        ));
        assert!(matches!(
            store.add(&d, &sig("x")).await,
            Err(StoreError::Http { status: 503, .. })
        ));
    }

    #[tokio::test]
    async fn http_blobs_are_classified() {
        let server = Arc::new(FakeServer::default());
        let d = Digest::sha256_of(b"m");
        server.files.lock().unwrap().insert(
            format!("https://s.example/ns/img@sha256={}/signature-1", d.hex()),
            b"<html>not found</html>".to_vec(),
        );
        let store = LookasideStore::new(
            &reference(),
            LookasideEndpoint::new("https://s.example", false),
            LookasideEndpoint::new("https://s.example", false),
        )
        .http(server);
        assert!(matches!(
            store.list(&d).await,
            Err(StoreError::NotASignature { .. })
        ));
        assert_eq!(store.list_unclassified(&d).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unsupported_schemes_are_errors() {
        let store = LookasideStore::new(
            &reference(),
            LookasideEndpoint::new("ftp://x/y", false),
            LookasideEndpoint::new("ftp://x/y", true),
        );
        let d = Digest::sha256_of(b"m");
        assert!(store.list(&d).await.is_err());
        assert!(matches!(
            store.add(&d, &sig("x")).await,
            Err(StoreError::NotWritable { .. })
        ));
    }
}
