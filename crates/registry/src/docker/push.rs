//! Writing to a repository: blobs (monolithic upload: `POST
//! /v2/<repo>/blobs/uploads/`, then `PUT <location>?digest=`; a `HEAD`
//! first skips blobs already there) and manifests (`PUT
//! /v2/<repo>/manifests/<tag>`). Used for sigstore attachments, which are
//! small; large layers would want chunked uploads.

use bytes::Bytes;
use imprimatur_reference::Digest;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::{NotFound, RegistryClient, RegistryRequest, check_status};
use crate::error::{Error, Result};

fn request(
    method: Method,
    path: String,
    operation: String,
    body: Option<Bytes>,
    idempotent: bool,
) -> RegistryRequest {
    RegistryRequest {
        method,
        path,
        headers: HeaderMap::new(),
        body,
        idempotent,
        actions: "pull,push",
        operation,
    }
}

/// The path and query of an upload `Location` (absolute URL or path).
fn location_path(location: &str) -> Option<String> {
    if location.starts_with('/') {
        return Some(location.to_owned());
    }
    let url = url::Url::parse(location).ok()?;
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

impl RegistryClient {
    /// Whether `repository` has the blob `digest` (`HEAD`; asks for push
    /// access, as it is used before uploads).
    pub async fn blob_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool> {
        let req = request(
            Method::HEAD,
            format!("/v2/{repository}/blobs/{digest}"),
            format!("HEAD blob {digest}"),
            None,
            true,
        );
        let response = self.send(registry, repository, &req).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => check_status(response, NotFound::Blob).await.map(|_| true),
        }
    }

    /// Uploads `bytes` as blob `digest` in one request, unless the
    /// repository has it already. Returns whether it was uploaded.
    pub async fn push_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<bool> {
        if !digest.matches(&bytes) {
            return Err(Error::DigestMismatch {
                what: format!("blob to upload to {registry}/{repository}"),
                expected: digest.clone(),
                actual: Digest::sha256_of(&bytes),
            });
        }
        if self.blob_exists(registry, repository, digest).await? {
            return Ok(false);
        }
        let start = request(
            Method::POST,
            format!("/v2/{repository}/blobs/uploads/"),
            format!("POST blob upload {digest}"),
            Some(Bytes::new()),
            false,
        );
        let response = self.send(registry, repository, &start).await?;
        let response = check_status(response, NotFound::Blob).await?;
        let at = response.at.clone();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(location_path)
            .ok_or_else(|| Error::Http {
                at: at.clone(),
                status: response.status().as_u16(),
                message: "upload started without a usable Location header".to_owned(),
            })?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let mut put = request(
            Method::PUT,
            format!("{location}{separator}digest={digest}"),
            format!("PUT blob {digest}"),
            Some(bytes),
            false,
        );
        put.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let response = self.send(registry, repository, &put).await?;
        check_status(response, NotFound::Blob).await?;
        Ok(true)
    }

    /// Stores `manifest` (of `media_type`) under `reference` (a tag or its
    /// digest); returns its digest.
    pub async fn push_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: Bytes,
    ) -> Result<Digest> {
        let digest = Digest::sha256_of(&manifest);
        let mut put = request(
            Method::PUT,
            format!("/v2/{repository}/manifests/{reference}"),
            format!("PUT manifest {reference}"),
            Some(manifest),
            true,
        );
        put.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|e| Error::Malformed {
                what: format!("manifest for {reference}"),
                message: format!("media type {media_type:?}: {e}"),
            })?,
        );
        let response = self.send(registry, repository, &put).await?;
        check_status(response, NotFound::Manifest).await?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::location_path;

    #[test]
    fn upload_locations() {
        assert_eq!(
            location_path("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u-1?_state=x").as_deref(),
            Some("/v2/a/b/blobs/uploads/u-1?_state=x")
        );
        assert_eq!(
            location_path("/v2/a/blobs/uploads/u").as_deref(),
            Some("/v2/a/blobs/uploads/u")
        );
        assert_eq!(location_path("not a url"), None);
    }
}
