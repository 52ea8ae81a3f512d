//! Docker references: grammar, normalization and string forms.

use std::fmt;
use std::str::FromStr;

use crate::{Digest, Error};

/// The default registry domain (Docker Hub).
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, rewritten to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of official Docker Hub images (`busybox` is `library/busybox`).
pub const OFFICIAL_REPO_NAME: &str = "library";
/// The tag [`Reference::with_default_tag`] adds to name-only references.
pub const DEFAULT_TAG: &str = "latest";
/// Maximum length of a repository name (domain, `/` and path).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A docker image reference: `domain/path[:tag][@digest]`, normalized as
/// containers/image's `ParseNormalizedNamed` does.
///
/// Both a tag and a digest may be present (the `docker:` transport refuses
/// such references for pulling, but signatures and policies can name them).
///
/// Equality, ordering and hashing compare the normalized components, so
/// `busybox` and `docker.io/library/busybox` are equal once parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// The pieces of a string that matched the reference grammar.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    domain: &'a str,
    path: &'a str,
    name_len: usize,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl Reference {
    /// Parses a reference the way containers/image's `ParseNormalizedNamed`
    /// does: a familiar name such as `busybox:latest` becomes
    /// `docker.io/library/busybox:latest`.
    ///
    /// Rules, in order: an input of exactly 64 lowercase hex characters is
    /// refused ([`Error::HexIdentifier`]); the part before the first `/` is a
    /// domain iff it contains `.` or `:` or is `localhost` (otherwise the
    /// domain is `docker.io`); `index.docker.io` becomes `docker.io`; a
    /// single-component path on `docker.io` gets `library/`; the repository
    /// part (up to the first `:` after the domain) must be lowercase; then the
    /// whole string must match the grammar, with a name of at most 255 bytes.
    ///
    /// No default tag is added; use [`Reference::with_default_tag`] for that.
    ///
    /// One quirk is kept for compatibility: a would-be domain that is not a
    /// valid host name but is a valid path component (e.g. `my_reg.com/foo`)
    /// parses with an empty [`domain`](Reference::domain) and the whole name
    /// as path, exactly as containers/image does.
    pub fn parse_normalized(s: &str) -> Result<Reference, Error> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::HexIdentifier(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => remainder.as_str(),
        };
        if remote_name.to_lowercase() != remote_name {
            return Err(Error::NameContainsUppercase);
        }
        parse_any(&format!("{domain}/{remainder}"))
    }

    /// Parses a reference that must already be in its normalized full form
    /// (containers/image's `ParseNamed`): `docker.io/library/busybox:latest`
    /// is accepted, `busybox:latest` is refused with
    /// [`Error::NameNotCanonical`].
    pub fn parse_canonical(s: &str) -> Result<Reference, Error> {
        let r = Reference::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(Error::NameNotCanonical);
        }
        Ok(r)
    }

    /// The registry domain, e.g. `docker.io` or `localhost:5000` (may contain
    /// uppercase letters; never case-folded). Empty only in the quirk
    /// described at [`Reference::parse_normalized`].
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path without the domain, e.g. `library/busybox`. This is
    /// also the path used in lookaside signature URLs.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository name, `domain/path` (the "Name" form of identity
    /// matching).
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether the reference has neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// containers/image's `TagNameOnly`: adds the tag `latest` if the
    /// reference has neither tag nor digest; otherwise returns it unchanged.
    pub fn with_default_tag(&self) -> Reference {
        let mut r = self.clone();
        if r.is_name_only() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        r
    }

    /// Returns this reference with its tag replaced by `tag` (the digest, if
    /// any, is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, Error> {
        if !is_tag(tag) {
            return Err(Error::TagInvalidFormat);
        }
        let mut r = self.clone();
        r.tag = Some(tag.to_owned());
        Ok(r)
    }

    /// Returns this reference with its digest replaced by `digest` (the tag,
    /// if any, is kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        let mut r = self.clone();
        r.digest = Some(digest);
        r
    }

    /// Returns the repository alone, without tag and digest
    /// (containers/image's `TrimNamed`).
    pub fn without_tag_and_digest(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// The familiar (Docker UI) form: `docker.io/` is dropped, and so is
    /// `library/` when the path is exactly `library/<name>`; tag and digest
    /// are kept. `docker.io/library/busybox:latest` → `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut out = if self.domain == DEFAULT_DOMAIN {
            match self.path.split_once('/') {
                Some((OFFICIAL_REPO_NAME, rest)) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        };
        push_tag_digest(&mut out, self.tag(), self.digest());
        out
    }
}

impl Reference {
    /// The policy namespaces of this reference, most specific first, as
    /// containers/image's `DockerReferenceNamespaces` computes them (without
    /// the identity string itself; see [`Reference::policy_scopes`]):
    ///
    /// 1. the repository name `host[:port]/ns/…/repo`;
    /// 2. each shorter `/`-prefix of it, down to `host[:port]`;
    /// 3. wildcard domains: the port is stripped from the host and, while the
    ///    host contains a `.`, its first label is dropped and `*.` + rest is
    ///    emitted.
    ///
    /// The port-less host itself is never a namespace when there is a port.
    ///
    /// ```
    /// use imprimatur_reference::Reference;
    /// let r = Reference::parse_normalized("a.b.example.com:5000/x/y:v1")?;
    /// assert_eq!(
    ///     r.docker_namespaces(),
    ///     [
    ///         "a.b.example.com:5000/x/y",
    ///         "a.b.example.com:5000/x",
    ///         "a.b.example.com:5000",
    ///         "*.b.example.com",
    ///         "*.example.com",
    ///         "*.com",
    ///     ]
    /// );
    /// # Ok::<(), imprimatur_reference::Error>(())
    /// ```
    pub fn docker_namespaces(&self) -> Vec<String> {
        let full = self.name();
        let mut out = Vec::new();
        let mut name = full.as_str();
        loop {
            out.push(name.to_owned());
            match name.rfind('/') {
                Some(i) => name = &name[..i],
                None => break,
            }
        }
        if let Some(i) = name.find(':') {
            name = &name[..i];
        }
        while let Some(i) = name.find('.') {
            name = &name[i + 1..];
            out.push(format!("*.{name}"));
        }
        out
    }

    /// The full ordered list of policy scopes (and `registries.d` `docker:`
    /// keys) to try for this reference: the identity string (the full form,
    /// as given; apply [`Reference::with_default_tag`] first for user input)
    /// followed by [`Reference::docker_namespaces`]. For a name-only
    /// reference the identity equals the repository name and is listed once.
    /// The transport default (`""` / `default-docker`) is not included.
    pub fn policy_scopes(&self) -> Vec<String> {
        let identity = self.to_string();
        let mut out = Vec::new();
        if !self.is_name_only() {
            out.push(identity);
        }
        out.extend(self.docker_namespaces());
        out
    }
}

fn push_tag_digest(out: &mut String, tag: Option<&str>, digest: Option<&Digest>) {
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest.as_str());
    }
}

/// containers/image's `splitDockerDomain`.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (mut domain, remainder) = match name.find('/') {
        Some(i)
            if {
                let first = &name[..i];
                first.contains(['.', ':']) || first == "localhost"
            } =>
        {
            (&name[..i], &name[i + 1..])
        }
        _ => (DEFAULT_DOMAIN, name),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN;
    }
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_NAME}/{remainder}")
    } else {
        remainder.to_owned()
    };
    (domain, remainder)
}

/// containers/image's `Parse` (the grammar, without normalization), restricted
/// to named references. The domain may come out empty.
fn parse_any(s: &str) -> Result<Reference, Error> {
    let Some(parts) = match_reference(s) else {
        if s.is_empty() {
            return Err(Error::NameEmpty);
        }
        if match_reference(&s.to_lowercase()).is_some() {
            return Err(Error::NameContainsUppercase);
        }
        return Err(Error::InvalidFormat);
    };
    if parts.name_len > NAME_TOTAL_LENGTH_MAX {
        return Err(Error::NameTooLong);
    }
    let digest = parts.digest.map(Digest::parse).transpose()?;
    Ok(Reference {
        domain: parts.domain.to_owned(),
        path: parts.path.to_owned(),
        tag: parts.tag.map(str::to_owned),
        digest,
    })
}

/// Matches the anchored `ReferenceRegexp`:
/// `name (":" tag)? ("@" digest)?`, and splits the name like
/// `anchoredNameRegexp` (a leading domain is taken when it matches).
fn match_reference(s: &str) -> Option<Parts<'_>> {
    // Neither name nor tag may contain '@'; the digest may not either.
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_reference_digest(d)) {
        return None;
    }
    // A tag contains neither ':' nor '/'; a ':' in the name is only a port,
    // which is always followed by a '/'.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, path)) if is_domain(first) && is_path(path) => (first, path),
        _ if is_path(name) => ("", name),
        _ => return None,
    };
    Some(Parts {
        domain,
        path,
        name_len: name.len(),
        tag,
        digest,
    })
}

/// `path-component ("/" path-component)*`.
fn is_path(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+ (([._]|__|-*) [a-z0-9]+)*`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `domain-component ("." domain-component)* (":" [0-9]+)?`.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    host.split('.').all(is_domain_component)
}

/// `[a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// `[\w][\w.-]{0,127}`.
pub(crate) fn is_tag(s: &str) -> bool {
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let b = s.as_bytes();
    match b.split_first() {
        Some((first, rest)) => {
            word(first)
                && rest.len() <= 127
                && rest.iter().all(|c| word(c) || matches!(c, b'.' | b'-'))
        }
        None => false,
    }
}

/// The reference grammar's digest:
/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn is_reference_digest(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphabetic) && b.iter().all(u8::is_ascii_alphanumeric)
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

impl fmt::Display for Reference {
    /// The normalized full form, `domain/path[:tag][@digest]` (the "String"
    /// form of identity matching).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.domain.is_empty() {
            f.write_str(&self.domain)?;
            f.write_str("/")?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;
    /// Same as [`Reference::parse_normalized`].
    fn from_str(s: &str) -> Result<Reference, Error> {
        Reference::parse_normalized(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    /// Deserializes a string with [`Reference::parse_normalized`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Reference::parse_normalized(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
