//! Lookaside signature storage as pure functions (§6.3–§6.5): the URL
//! layout, and the read and write disciplines a store calls with its own
//! I/O callbacks.

use imprimatur_reference::{Digest, Reference};
use url::Url;

use crate::error::Error;

/// Most signatures read for one image (the newer reference's limit).
pub const MAX_SIGNATURES: usize = 128;

/// Parses a lookaside base URL (`:emptyscheme` and other garbage is an error).
pub fn parse_base(base: &str) -> Result<Url, Error> {
    Url::parse(base).map_err(|e| Error::InvalidLookasideUrl {
        url: base.to_owned(),
        reason: e.to_string(),
    })
}

/// The path of `base` as Go's `url.Parse` sees it: `""` when the string
/// has no path at all (the `url` crate reports `/` for that).
fn go_path(base: &str, url: &Url) -> String {
    let path = url.path();
    if path == "/" {
        let raw = base.split(['?', '#']).next().unwrap_or(base);
        let after_scheme = raw.split_once("://").map_or(raw, |(_, r)| r);
        if !after_scheme.contains('/') {
            return String::new();
        }
    }
    path.to_owned()
}

/// The URL of signature number `index` (1-based) of `digest` in
/// `reference`'s repository under lookaside `base`:
/// `base.path + "/" + repo path + "@" + algo + "=" + hex + "/signature-" + index`.
/// A trailing `/` in the base yields `//`, as in the reference; query and
/// fragment of the base are kept.
pub fn signature_url(
    base: &str,
    reference: &Reference,
    digest: &str,
    index: usize,
) -> Result<Url, Error> {
    let d = Digest::parse(digest).map_err(|_| Error::InvalidDigest(digest.to_owned()))?;
    let mut url = parse_base(base)?;
    if url.cannot_be_a_base() {
        return Err(Error::InvalidLookasideUrl {
            url: base.to_owned(),
            reason: "not a hierarchical URL".to_owned(),
        });
    }
    let path = format!(
        "{}/{}@{}={}/signature-{}",
        go_path(base, &url),
        reference.path(),
        d.algorithm().as_str(),
        d.hex(),
        index
    );
    url.set_path(&path);
    Ok(url)
}

/// The per-repository base (`base/<repo path>`), as shown by tools.
pub fn repository_base(base: &str, reference: &Reference) -> Result<Url, Error> {
    let mut url = parse_base(base)?;
    let path = format!("{}/{}", go_path(base, &url), reference.path());
    url.set_path(&path);
    Ok(url)
}

/// The local path of a `file:` URL (percent-decoded).
fn file_path(url: &Url) -> Result<String, Error> {
    url.to_file_path()
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|()| Error::InvalidLookasideUrl {
            url: url.as_str().to_owned(),
            reason: "not a local file URL".to_owned(),
        })
}

/// How a signature URL is read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMethod {
    /// A local file at this path.
    File(String),
    /// An HTTP(S) GET of this URL.
    Http(String),
}

/// Chooses how to read a signature URL; other schemes are an error.
pub fn read_method(url: &Url) -> Result<ReadMethod, Error> {
    match url.scheme() {
        "file" => Ok(ReadMethod::File(file_path(url)?)),
        "http" | "https" => Ok(ReadMethod::Http(url.as_str().to_owned())),
        _ => Err(Error::LookasideUnsupportedScheme {
            url: url.as_str().to_owned(),
        }),
    }
}

/// The outcome of one fetch, for [`read_signatures`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fetched {
    /// The signature's bytes.
    Found(Vec<u8>),
    /// Absent (file does not exist, HTTP 404): reading stops here.
    Missing,
}

/// Classifies an HTTP status for a signature GET: 200 → `true` (found),
/// 404 → `false` (missing, reading stops), anything else → an error.
pub fn classify_http_status(status: u16, url: &str) -> Result<bool, Error> {
    match status {
        200 => Ok(true),
        404 => Ok(false),
        other => Err(Error::Store {
            location: url.to_owned(),
            message: format!("reading signature: status {other}"),
        }),
    }
}

/// The read discipline: fetch `signature-1`, `-2`, … until the first
/// missing one (a gap ends the list); more than `max` signatures is an error.
pub fn read_signatures<F>(max: usize, mut fetch: F) -> Result<Vec<Vec<u8>>, Error>
where
    F: FnMut(usize) -> Result<Fetched, Error>,
{
    let mut out = Vec::new();
    for index in 1.. {
        match fetch(index)? {
            Fetched::Missing => break,
            Fetched::Found(b) => {
                if out.len() >= max {
                    return Err(Error::Store {
                        location: format!("signature-{index}"),
                        message: format!(
                            "server provided {max} signatures, assuming that's unreasonable and a server error"
                        ),
                    });
                }
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// The local directory of a writable (`file:`) lookaside base; other
/// schemes are not writable (configure `lookaside-staging`).
pub fn writable_path(base: &str) -> Result<String, Error> {
    let url = parse_base(base)?;
    match url.scheme() {
        "file" => file_path(&url),
        scheme => Err(Error::LookasideNotWritable {
            scheme: scheme.to_owned(),
            url: base.to_owned(),
        }),
    }
}

/// Storage operations the write disciplines need, indexed from 1.
pub trait SignatureSlots {
    /// Writes (creates or overwrites) `signature-index`.
    fn put(&mut self, index: usize, blob: &[u8]) -> Result<(), Error>;
    /// Deletes `signature-index`; `Ok(false)` if it did not exist.
    fn delete(&mut self, index: usize) -> Result<bool, Error>;
    /// Whether `signature-index` exists.
    fn exists(&self, index: usize) -> Result<bool, Error>;
}

/// The reference's write discipline: given the complete list the
/// destination should hold, write `signature-1..N` and delete
/// `signature-(N+1)…` until one is missing. An empty list changes nothing.
pub fn replace_all<S: SignatureSlots + ?Sized>(
    store: &mut S,
    signatures: &[Vec<u8>],
) -> Result<(), Error> {
    if signatures.is_empty() {
        return Ok(());
    }
    for (i, s) in signatures.iter().enumerate() {
        store.put(i + 1, s)?;
    }
    let mut next = signatures.len() + 1;
    while store.delete(next)? {
        next += 1;
    }
    Ok(())
}

/// The protocol's append discipline: store one more signature at the first
/// index that does not exist; returns that index.
pub fn append<S: SignatureSlots + ?Sized>(store: &mut S, signature: &[u8]) -> Result<usize, Error> {
    let mut index = 1;
    while store.exists(index)? {
        index += 1;
    }
    store.put(index, signature)?;
    Ok(index)
}
