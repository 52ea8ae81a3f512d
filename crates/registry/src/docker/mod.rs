//! An OCI distribution (docker registry v2) client: manifests and blobs by
//! tag or digest, with the authentication, TLS set-up and fault handling that
//! skopeo users expect.
//!
//! Why not `oci-client`: it is the obvious crate, and this module uses the same
//! HTTP stack (reqwest 0.13 on rustls), but oci-client 0.18 reads manifest
//! and error bodies without a size limit, cannot present a client certificate
//! (`--cert-dir` `*.cert`/`*.key`), does not retry or resume, and hides its
//! HTTP client, which the signature extension API needs. What is left of a
//! registry client after those is small: ping, challenge, token, GET.
//!
//! Every request is addressed by registry host and repository; every failure
//! names both and the operation ([`crate::Location`]).

mod challenge;
mod credentials;
mod push;
mod retry;
mod tls;

pub use challenge::{Challenge, error_messages, parse_challenges};
pub use credentials::{AuthFile, Credentials};
pub use retry::RetryPolicy;
pub use tls::TlsVerification;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use imprimatur_reference::Digest;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::error::{Error, Location, Result};

/// Largest manifest accepted (containers/image's limit, 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Largest error, token or other small body read.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// The manifest media types asked for, in containers/image's order.
pub const MANIFEST_ACCEPT: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum CredentialSource {
    /// skopeo's default search path (see [`AuthFile::load_default`]).
    #[default]
    DefaultAuthFile,
    /// One auth file (`--authfile`).
    AuthFile(PathBuf),
    /// The same user and password for every registry (`--creds`).
    Explicit(Credentials),
    /// Anonymous access only.
    Anonymous,
}

/// Options of a [`RegistryClient`]: `RegistryClient::builder()` sets them.
#[derive(Debug, Clone)]
pub struct RegistryClientBuilder {
    verification: TlsVerification,
    cert_dir: Option<PathBuf>,
    credentials: CredentialSource,
    retry: RetryPolicy,
    connect_timeout: Duration,
    read_timeout: Duration,
    user_agent: String,
}

impl Default for RegistryClientBuilder {
    fn default() -> Self {
        RegistryClientBuilder {
            verification: TlsVerification::Verify,
            cert_dir: None,
            credentials: CredentialSource::DefaultAuthFile,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            user_agent: concat!("imprimatur/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl RegistryClientBuilder {
    /// Reads certificates from `dir` (`*.crt` CAs, `*.cert`+`*.key` client
    /// pair) for every registry, instead of `/etc/containers/certs.d/HOST/`.
    pub fn cert_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_dir = Some(dir.into());
        self
    }

    /// Where credentials come from (default: skopeo's auth file search path).
    pub fn credentials(mut self, source: CredentialSource) -> Self {
        self.credentials = source;
        self
    }

    /// Retries of idempotent requests.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long to wait for a connection, and for each read of a body.
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// skopeo's `--tls-verify=false`: any certificate is accepted, and a
    /// registry that does not speak TLS is reached over plain HTTP.
    pub fn dangerous_accept_any_certificate_and_plain_http(mut self) -> Self {
        self.verification = TlsVerification::DangerousAcceptAnyCertificate;
        self
    }

    /// Builds the client. Reads the auth file now (so a broken one is
    /// reported before any request); TLS files are read per registry on
    /// first use.
    pub fn build(self) -> Result<RegistryClient> {
        let auth_file = match &self.credentials {
            CredentialSource::DefaultAuthFile => Some(AuthFile::load_default()?),
            CredentialSource::AuthFile(p) => Some(AuthFile::load(p, false)?),
            _ => None,
        };
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                options: self,
                auth_file,
                hosts: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// A client for OCI distribution registries, cheap to clone and share
/// between tasks (connections and tokens are pooled per registry).
#[derive(Debug, Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: RegistryClientBuilder,
    auth_file: Option<AuthFile>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

/// What is known about one registry host after the first ping.
#[derive(Debug)]
struct Host {
    http: reqwest::Client,
    /// `https://host` or, only when allowed and TLS failed, `http://host`.
    base: String,
    /// The challenge of the `/v2/` ping, if it asked for authentication.
    challenge: Option<Challenge>,
}

/// A bearer token from a registry's token service. `Debug` never shows
/// the value: the client's `Debug` includes its token cache.
#[derive(Clone)]
struct Token {
    value: String,
    expires: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// A response whose status was checked; the body not yet read.
#[derive(Debug)]
pub struct RegistryResponse {
    /// The request's location, for messages.
    pub at: Location,
    response: reqwest::Response,
}

impl RegistryResponse {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub async fn bytes_limited(mut self, limit: u64) -> Result<Bytes> {
        if let Some(len) = self.response.content_length()
            && len > limit
        {
            return Err(Error::TooLarge {
                what: self.at.to_string(),
                limit,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = self
            .response
            .chunk()
            .await
            .map_err(|e| connection_error(&self.at, &e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::TooLarge {
                    what: self.at.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, reqwest::Error> {
        self.response.chunk().await
    }
}

/// One request to a repository of a registry.
#[derive(Debug, Clone)]
pub struct RegistryRequest {
    /// GET, HEAD, PUT, ...
    pub method: Method,
    /// The path and query, starting with `/` (`/v2/org/app/manifests/latest`).
    pub path: String,
    /// Extra headers.
    pub headers: HeaderMap,
    /// The body, for PUT and POST.
    pub body: Option<Bytes>,
    /// Whether sending it twice does no harm (then it is retried).
    pub idempotent: bool,
    /// The token scope actions needed: `pull` or `pull,push`.
    pub actions: &'static str,
    /// For messages: `GET manifest latest`.
    pub operation: String,
}

impl RegistryRequest {
    /// An idempotent GET needing pull access.
    pub fn get(path: impl Into<String>, operation: impl Into<String>) -> Self {
        RegistryRequest {
            method: Method::GET,
            path: path.into(),
            headers: HeaderMap::new(),
            body: None,
            idempotent: true,
            actions: "pull",
            operation: operation.into(),
        }
    }
}

impl RegistryClient {
    /// A builder with the defaults: verified TLS, skopeo's auth file search
    /// path, retries with backoff.
    pub fn builder() -> RegistryClientBuilder {
        RegistryClientBuilder::default()
    }

    /// Sends a request to `registry`/`repository`, authenticating as the
    /// registry asks, retrying what is safe to retry. Statuses are returned
    /// as they are, except 401 after authentication, which is
    /// [`Error::Unauthorized`].
    pub async fn send(
        &self,
        registry: &str,
        repository: &str,
        request: &RegistryRequest,
    ) -> Result<RegistryResponse> {
        let at = Location {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            operation: request.operation.clone(),
        };
        let host = self.host(registry, &at).await?;
        let mut auth = self
            .cached_authorization(&host, registry, repository, request.actions)
            .await?;
        let mut refreshed = false;
        loop {
            let response = self
                .send_with_retry(&host, &at, request, auth.as_ref())
                .await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(RegistryResponse { at, response });
            }
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_challenges(v).into_iter().next());
            if refreshed || challenge.is_none() {
                let realm = challenge
                    .as_ref()
                    .or(host.challenge.as_ref())
                    .and_then(|c| c.realm().map(str::to_owned));
                let body = RegistryResponse {
                    at: at.clone(),
                    response,
                }
                .bytes_limited(MAX_SMALL_BODY)
                .await
                .unwrap_or_default();
                return Err(Error::Unauthorized {
                    at,
                    realm,
                    message: error_messages(&body).1,
                });
            }
            refreshed = true;
            let challenge = challenge.unwrap_or_else(unreachable_challenge);
            auth = self
                .authorize(
                    &host,
                    &challenge,
                    registry,
                    repository,
                    request.actions,
                    &at,
                )
                .await?;
        }
    }

    /// The credentials configured for a repository, if any.
    fn credentials_for(&self, registry: &str, repository: &str) -> Option<Credentials> {
        match &self.inner.options.credentials {
            CredentialSource::Explicit(c) => Some(c.clone()),
            CredentialSource::Anonymous => None,
            _ => self
                .inner
                .auth_file
                .as_ref()
                .and_then(|f| f.lookup(registry, repository).cloned()),
        }
    }

    /// The Authorization header to send first: a cached token for the scope,
    /// or basic credentials when the ping asked for basic.
    async fn cached_authorization(
        &self,
        host: &Host,
        registry: &str,
        repository: &str,
        actions: &str,
    ) -> Result<Option<HeaderValue>> {
        let Some(challenge) = &host.challenge else {
            return Ok(None);
        };
        if challenge.scheme == "basic" {
            return Ok(self
                .credentials_for(registry, repository)
                .map(|c| basic_header(&c)));
        }
        let scope = format!("repository:{repository}:{actions}");
        let cached = lock(&self.inner.tokens)
            .get(&(registry.to_owned(), scope))
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone());
        Ok(cached.and_then(|t| bearer_header(&t)))
    }

    /// Answers a challenge: basic credentials, or a bearer token fetched from
    /// the realm.
    async fn authorize(
        &self,
        host: &Host,
        challenge: &Challenge,
        registry: &str,
        repository: &str,
        actions: &'static str,
        at: &Location,
    ) -> Result<Option<HeaderValue>> {
        let creds = self.credentials_for(registry, repository);
        match challenge.scheme.as_str() {
            "basic" => Ok(creds.map(|c| basic_header(&c))),
            "bearer" => {
                let scope = format!("repository:{repository}:{actions}");
                let token = self
                    .fetch_token(host, challenge, &scope, creds.as_ref(), at)
                    .await?;
                lock(&self.inner.tokens).insert((registry.to_owned(), scope), token.clone());
                Ok(bearer_header(&token.value))
            }
            other => Err(Error::Unauthorized {
                at: at.clone(),
                realm: challenge.realm().map(str::to_owned),
                message: format!("unsupported authentication scheme {other:?}"),
            }),
        }
    }

    async fn fetch_token(
        &self,
        host: &Host,
        challenge: &Challenge,
        scope: &str,
        creds: Option<&Credentials>,
        at: &Location,
    ) -> Result<Token> {
        let realm = challenge.realm().ok_or_else(|| Error::Unauthorized {
            at: at.clone(),
            realm: None,
            message: "bearer challenge without a realm".into(),
        })?;
        let token_at = Location {
            operation: format!("GET token from {realm}"),
            ..at.clone()
        };
        let mut url = reqwest::Url::parse(realm).map_err(|e| Error::Unauthorized {
            at: at.clone(),
            realm: Some(realm.to_owned()),
            message: format!("invalid realm URL: {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                q.append_pair("service", service);
            }
            q.append_pair("scope", scope);
        }
        let policy = &self.inner.options.retry;
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let mut req = host.http.get(url.clone());
            if let Some(c) = creds {
                req = req.header(header::AUTHORIZATION, basic_header(c));
            }
            match req.send().await {
                Ok(r) if retry::is_retryable_status(r.status().as_u16()) => {
                    if let Some(wait) = policy.backoff(attempt) {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    break r;
                }
                Ok(r) => break r,
                Err(e) => match policy.backoff(attempt) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(connection_error(&token_at, &e)),
                },
            }
        };
        let status = response.status();
        let body = RegistryResponse {
            at: token_at.clone(),
            response,
        }
        .bytes_limited(MAX_SMALL_BODY)
        .await?;
        if !status.is_success() {
            return Err(Error::Unauthorized {
                at: at.clone(),
                realm: Some(realm.to_owned()),
                message: format!(
                    "token request answered HTTP {}{}",
                    status.as_u16(),
                    match error_messages(&body).1 {
                        m if m.is_empty() => String::new(),
                        m => format!(": {m}"),
                    }
                ),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenBody {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let parsed: TokenBody = serde_json::from_slice(&body)
            .map_err(|e| Error::malformed(token_at.to_string(), format!("token response: {e}")))?;
        let value = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::malformed(token_at.to_string(), "token response without a token")
            })?;
        // Refresh a little early; registries default to 60 s.
        let lifetime = parsed.expires_in.unwrap_or(60).clamp(10, 3600);
        Ok(Token {
            value,
            expires: Instant::now() + Duration::from_secs(lifetime - 5),
        })
    }

    /// Sends once, and again after retryable failures when the request is
    /// idempotent.
    async fn send_with_retry(
        &self,
        host: &Host,
        at: &Location,
        request: &RegistryRequest,
        auth: Option<&HeaderValue>,
    ) -> Result<reqwest::Response> {
        let policy = &self.inner.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = host
                .http
                .request(
                    request.method.clone(),
                    format!("{}{}", host.base, request.path),
                )
                .headers(request.headers.clone());
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a.clone());
            }
            if let Some(body) = &request.body {
                req = req.body(body.clone());
            }
            let wait = match req.send().await {
                Ok(r) if request.idempotent && retry::is_retryable_status(r.status().as_u16()) => {
                    match policy.backoff(attempt) {
                        Some(wait) => wait,
                        None => return Ok(r),
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) if is_tls_error(&e) => return Err(tls_error(at, &e)),
                Err(e) => match policy.backoff(attempt).filter(|_| request.idempotent) {
                    Some(wait) => wait,
                    None => return Err(connection_error(at, &e)),
                },
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The state of a registry host, pinging `/v2/` on first use to learn
    /// the scheme and the authentication challenge.
    async fn host(&self, registry: &str, at: &Location) -> Result<Arc<Host>> {
        if let Some(h) = lock(&self.inner.hosts).get(registry) {
            return Ok(h.clone());
        }
        let options = &self.inner.options;
        let tls = tls::client_config(options.verification, options.cert_dir.as_deref(), registry)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(options.user_agent.clone())
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| Error::Tls {
                registry: registry.to_owned(),
                message: chain(&e),
            })?;
        let ping_at = Location {
            operation: "GET /v2/ (ping)".into(),
            ..at.clone()
        };
        let https = format!("https://{registry}");
        let (base, response) = match self.ping(&http, &https, &ping_at).await {
            Ok(r) => (https, r),
            Err(e) if options.verification == TlsVerification::DangerousAcceptAnyCertificate => {
                let plain = format!("http://{registry}");
                match self.ping(&http, &plain, &ping_at).await {
                    Ok(r) => (plain, r),
                    // Report the HTTPS failure: it is the one that matters.
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let challenge = (response.status() == StatusCode::UNAUTHORIZED)
            .then(|| {
                response
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_challenges(v).into_iter().next())
            })
            .flatten();
        let host = Arc::new(Host {
            http,
            base,
            challenge,
        });
        lock(&self.inner.hosts).insert(registry.to_owned(), host.clone());
        Ok(host)
    }

    async fn ping(
        &self,
        http: &reqwest::Client,
        base: &str,
        at: &Location,
    ) -> Result<reqwest::Response> {
        let policy = &self.inner.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match http.get(format!("{base}/v2/")).send().await {
                Ok(r) if retry::is_retryable_status(r.status().as_u16()) => {
                    match policy.backoff(attempt) {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => {
                            return Err(Error::Http {
                                at: at.clone(),
                                status: r.status().as_u16(),
                                message: String::new(),
                            });
                        }
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) if is_tls_error(&e) => return Err(tls_error(at, &e)),
                Err(e) => match policy.backoff(attempt) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(connection_error(at, &e)),
                },
            }
        }
    }

    /// Fetches a manifest by tag or digest: its exact bytes, its media type
    /// and its digest. By digest, the bytes are checked against it.
    pub async fn manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> Result<(Bytes, String, Digest)> {
        let mut request = RegistryRequest::get(
            format!("/v2/{repository}/manifests/{reference}"),
            format!("GET manifest {reference}"),
        );
        request.headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(&MANIFEST_ACCEPT.join(", "))
                .unwrap_or(HeaderValue::from_static("*/*")),
        );
        let response = self.send(registry, repository, &request).await?;
        let response = check_status(response, NotFound::Manifest).await?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let at = response.at.clone();
        let bytes = response.bytes_limited(MAX_MANIFEST_SIZE).await?;
        let media_type = crate::image::media_type_of(&bytes, content_type.as_deref());
        let digest = match Digest::parse(reference) {
            Ok(expected) => {
                crate::image::verify_digest(&at.to_string(), &expected, &bytes)?;
                expected
            }
            Err(_) => crate::image::manifest_digest(&bytes, &at.to_string())?,
        };
        Ok((bytes, media_type, digest))
    }

    /// Streams a blob into `sink`, checking its size and digest; a body cut
    /// short is resumed with a `Range` request (or re-read and skipped when
    /// the registry ignores ranges). `sink` sees every byte once, in order.
    pub async fn blob<Fut>(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        size: Option<u64>,
        mut sink: impl FnMut(Bytes) -> Fut,
    ) -> Result<u64>
    where
        Fut: std::future::Future<Output = Result<()>>,
    {
        let policy = &self.inner.options.retry;
        let mut hasher = crate::digesting::DigestHasher::for_digest(digest);
        let mut offset: u64 = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = RegistryRequest::get(
                format!("/v2/{repository}/blobs/{digest}"),
                format!("GET blob {digest}"),
            );
            if offset > 0 {
                request.headers.insert(
                    header::RANGE,
                    HeaderValue::from_str(&format!("bytes={offset}-"))
                        .map_err(|e| Error::Aborted(e.to_string()))?,
                );
            }
            let response = self.send(registry, repository, &request).await?;
            let mut response = check_status(response, NotFound::Blob).await?;
            // Without a 206 the body starts at 0 again: skip what we have.
            let mut skip = if response.status() == StatusCode::PARTIAL_CONTENT {
                0
            } else {
                offset
            };
            let at = response.at.clone();
            let failure = loop {
                match response.chunk().await {
                    Ok(Some(mut chunk)) => {
                        if skip > 0 {
                            let n = skip.min(chunk.len() as u64);
                            skip -= n;
                            chunk = chunk.slice(n as usize..);
                        }
                        if chunk.is_empty() {
                            continue;
                        }
                        offset += chunk.len() as u64;
                        if let Some(limit) = size
                            && offset > limit
                        {
                            return Err(Error::TooLarge {
                                what: format!("{at}: blob larger than its descriptor"),
                                limit,
                            });
                        }
                        hasher.update(&chunk);
                        sink(chunk).await?;
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            match failure {
                None if size.is_none_or(|s| s == offset) => {
                    let actual = hasher.finish();
                    if &actual != digest {
                        return Err(Error::DigestMismatch {
                            what: at.to_string(),
                            expected: digest.clone(),
                            actual,
                        });
                    }
                    return Ok(offset);
                }
                // Cut short (clean EOF before the declared size, or an error).
                outcome => match policy.backoff(attempt) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => {
                        return Err(Error::Connection {
                            at,
                            message: match outcome {
                                Some(e) => {
                                    format!("body cut short after {offset} bytes: {}", chain(&e))
                                }
                                None => format!(
                                    "body cut short: {offset} of {} bytes",
                                    size.unwrap_or_default()
                                ),
                            },
                        });
                    }
                },
            }
        }
    }
}

/// Which "unknown" a 404 means.
#[derive(Clone, Copy)]
enum NotFound {
    Manifest,
    Blob,
}

/// Turns a non-success status into the error that says what it means.
async fn check_status(response: RegistryResponse, not_found: NotFound) -> Result<RegistryResponse> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let at = response.at.clone();
    let body = response
        .bytes_limited(MAX_SMALL_BODY)
        .await
        .unwrap_or_default();
    let (codes, message) = error_messages(&body);
    let unknown = |c: &str| codes.iter().any(|x| x == c);
    Err(match (status, not_found) {
        (StatusCode::NOT_FOUND, NotFound::Manifest) => Error::ManifestUnknown { at, message },
        (_, NotFound::Manifest) if unknown("MANIFEST_UNKNOWN") => {
            Error::ManifestUnknown { at, message }
        }
        (StatusCode::NOT_FOUND, NotFound::Blob) => Error::BlobUnknown { at, message },
        (StatusCode::FORBIDDEN, _) => Error::Unauthorized {
            at,
            realm: None,
            message: if message.is_empty() {
                "forbidden".into()
            } else {
                message
            },
        },
        _ => Error::Http {
            at,
            status: status.as_u16(),
            message,
        },
    })
}

fn basic_header(c: &Credentials) -> HeaderValue {
    use base64::Engine as _;
    use imprimatur_signature::Zeroizing;
    let plain = Zeroizing::new(format!("{}:{}", c.username, c.password.as_str()));
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*plain));
    let header = Zeroizing::new(format!("Basic {}", encoded.as_str()));
    let mut value = HeaderValue::from_str(&header).unwrap_or(HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// `Authorization: Bearer <token>`, marked sensitive (HTTP/2 never indexes
/// it, and `HeaderValue`'s `Debug` hides it).
fn bearer_header(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn unreachable_challenge() -> Challenge {
    Challenge {
        scheme: String::new(),
        params: Default::default(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An error and its causes, joined: reqwest's own message is only the top.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn is_tls_error(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = s.source();
    }
    // tokio-rustls wraps rustls errors in io::Error, whose `source()` skips
    // the wrapped error, and reqwest boxes that again: recognise rustls's own
    // messages as the last resort.
    const RUSTLS_MESSAGES: &[&str] = &[
        "invalid peer certificate",
        "received corrupt message",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "tls handshake eof",
    ];
    let text = chain(e);
    RUSTLS_MESSAGES.iter().any(|m| text.contains(m))
}

fn tls_error(at: &Location, e: &reqwest::Error) -> Error {
    Error::Tls {
        registry: at.registry.clone(),
        message: chain(e),
    }
}

fn connection_error(at: &Location, e: &reqwest::Error) -> Error {
    Error::Connection {
        at: at.clone(),
        message: chain(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The client's `Debug` (which includes its options and token cache)
    /// and the authorization headers never show a password or a token.
    #[test]
    fn debug_never_shows_passwords_or_tokens() {
        let creds = Credentials::from_creds_flag("alice:hunter2-password").unwrap();
        let client = RegistryClient::builder()
            .credentials(CredentialSource::Explicit(creds.clone()))
            .build()
            .unwrap();
        let token = Token {
            value: "hunter2-token".into(),
            expires: Instant::now(),
        };
        lock(&client.inner.tokens).insert(("r".into(), "s".into()), token);
        let shown = format!("{client:?} {client:#?}");
        assert!(
            shown.contains("alice") && shown.contains("Token"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");

        for header in [
            bearer_header("hunter2-token").unwrap(),
            basic_header(&creds),
        ] {
            assert!(header.is_sensitive());
            assert!(!format!("{header:?}").contains("hunter2"));
        }
    }
}
