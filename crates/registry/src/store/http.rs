//! HTTP for the stores: one small interface, "send this request and give me
//! the status, headers and a size-limited body", with two implementations:
//! [`PlainHttp`] for lookaside URLs (no registry authentication, as
//! containers/image) and [`RegistryHttp`] for a registry repository
//! (authentication, TLS and retries of [`crate::RegistryClient`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use imprimatur_reference::Reference;

use super::{BoxFuture, StoreError};
use crate::RegistryClient;
use crate::docker::RegistryRequest;

/// The methods the stores use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpMethod {
    /// GET
    Get,
    /// PUT
    Put,
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
        })
    }
}

/// One request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// GET or PUT.
    pub method: HttpMethod,
    /// An absolute URL for [`PlainHttp`]; a path (with query) below the
    /// registry, starting with `/`, for [`RegistryHttp`].
    pub target: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body of a PUT.
    pub body: Option<Vec<u8>>,
    /// Largest body read from the response.
    pub body_limit: u64,
}

impl HttpRequest {
    /// A GET reading at most `body_limit` bytes.
    pub fn get(target: impl Into<String>, body_limit: u64) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            target: target.into(),
            headers: Vec::new(),
            body: None,
            body_limit,
        }
    }

    /// A PUT of `body`, reading at most 64 KiB of the response.
    pub fn put(target: impl Into<String>, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Put,
            target: target.into(),
            headers: Vec::new(),
            body: Some(body),
            body_limit: 64 * 1024,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One response, its body read up to the request's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response (for test doubles and adapters).
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> HttpResponse {
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends requests: the stores' only view of HTTP, so that any client
/// (or a test double) plugs in.
pub trait HttpSend: Send + Sync + fmt::Debug {
    /// Where requests go, for messages (`https://host`, `quay.io/acme/app`).
    fn describe(&self) -> String;

    /// Sends `request`. A body larger than `request.body_limit` is
    /// [`StoreError::TooLarge`]; any status is returned as it is.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>>;
}

impl<T: HttpSend + ?Sized> HttpSend for Arc<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>> {
        (**self).send(request)
    }
}

fn headers_of(map: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

fn reqwest_method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Put => reqwest::Method::PUT,
    }
}

/// Error text with its causes (reqwest hides the interesting part there).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Plain HTTP(S) for lookaside servers: system trust roots, no
/// authentication, redirects followed (at most 10), timeouts.
#[derive(Debug, Clone)]
pub struct PlainHttp {
    client: reqwest::Client,
}

impl PlainHttp {
    /// A client with verified TLS (the process must have a rustls crypto
    /// provider installed), 30 s connect and 60 s read timeouts.
    pub fn new() -> Result<PlainHttp, StoreError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("imprimatur/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| StoreError::Connection {
                location: "HTTP client".to_owned(),
                message: chain(&e),
            })?;
        Ok(PlainHttp { client })
    }

    /// Wraps a client built by the caller.
    pub fn with_client(client: reqwest::Client) -> PlainHttp {
        PlainHttp { client }
    }
}

impl HttpSend for PlainHttp {
    fn describe(&self) -> String {
        "HTTP".to_owned()
    }

    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>> {
        Box::pin(async move {
            let url = request.target.clone();
            let conn = |e: reqwest::Error| StoreError::Connection {
                location: url.clone(),
                message: chain(&e),
            };
            let mut rb = self
                .client
                .request(reqwest_method(request.method), &request.target);
            for (n, v) in &request.headers {
                rb = rb.header(n, v);
            }
            if let Some(b) = request.body {
                rb = rb.body(b);
            }
            let mut resp = rb.send().await.map_err(conn)?;
            let status = resp.status().as_u16();
            let headers = headers_of(resp.headers());
            let too_large = || StoreError::TooLarge {
                location: url.clone(),
                limit: request.body_limit,
            };
            if resp
                .content_length()
                .is_some_and(|l| l > request.body_limit)
            {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(conn)? {
                if body.len() as u64 + chunk.len() as u64 > request.body_limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}

/// Requests to one repository of a registry through [`RegistryClient`]
/// (its authentication, TLS settings and retries). Targets are paths
/// (`/extensions/v2/<repo>/signatures/<digest>`).
#[derive(Debug, Clone)]
pub struct RegistryHttp {
    client: RegistryClient,
    registry: String,
    repository: String,
}

impl RegistryHttp {
    /// Requests to the registry of `image` about its repository (the
    /// domain and path: `docker.io`, `library/busybox`; the tag or digest
    /// is not used).
    pub fn new(client: RegistryClient, image: &Reference) -> RegistryHttp {
        RegistryHttp {
            client,
            registry: image.domain().to_owned(),
            repository: image.path().to_owned(),
        }
    }
}

impl HttpSend for RegistryHttp {
    fn describe(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, StoreError>> {
        Box::pin(async move {
            let operation = match (request.method, request.target.contains("/signatures/")) {
                (HttpMethod::Get, true) => "GET signatures".to_owned(),
                (HttpMethod::Put, true) => "PUT signature".to_owned(),
                (m, _) => format!("{m} {}", request.target),
            };
            let mut r = RegistryRequest::get(request.target.clone(), operation);
            r.method = reqwest_method(request.method);
            if request.method == HttpMethod::Put {
                r.idempotent = false;
                r.actions = "pull,push";
            }
            for (n, v) in &request.headers {
                let name = reqwest::header::HeaderName::from_bytes(n.as_bytes());
                let value = reqwest::header::HeaderValue::from_str(v);
                if let (Ok(n), Ok(v)) = (name, value) {
                    r.headers.insert(n, v);
                }
            }
            r.body = request.body.map(Bytes::from);
            let resp = self
                .client
                .send(&self.registry, &self.repository, &r)
                .await?;
            let status = resp.status().as_u16();
            let headers = headers_of(resp.headers());
            let body = resp.bytes_limited(request.body_limit).await?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}
