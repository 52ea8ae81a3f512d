//! Images as the policy sees them, and scope selection (§5.4).

use imprimatur_reference::Reference;

use crate::error::Error;
use crate::model::{Policy, Requirement};

/// An image as a policy sees it: its transport, its policy identity and the
/// namespaces to search, and its docker reference if the transport has one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyImage {
    /// Transport name (`docker`, `dir`, …).
    pub transport: String,
    /// The reference as the transport prints it (`//host/repo:tag` for docker,
    /// the path for `dir:`).
    pub within_transport: String,
    /// The exact-identity scope (e.g. `docker.io/library/busybox:latest`).
    pub identity: String,
    /// Less specific scopes to try, most specific first (without `""`).
    pub namespaces: Vec<String>,
    /// The docker identity used by `signedIdentity` rules, if any.
    pub docker_reference: Option<Reference>,
}

impl PolicyImage {
    /// A `docker:` image. A name-only reference gets `:latest`, as the docker
    /// transport does.
    pub fn docker(reference: &Reference) -> PolicyImage {
        PolicyImage::docker_like("docker", reference)
    }

    /// Parses a docker reference (normalizing it) into a `docker:` image.
    pub fn parse_docker(reference: &str) -> Result<PolicyImage, Error> {
        let r = Reference::parse_normalized(reference).map_err(|e| Error::InvalidReference {
            reference: reference.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(PolicyImage::docker(&r))
    }

    /// An image of a docker-like transport (`docker`, `atomic`).
    pub fn docker_like(transport: &str, reference: &Reference) -> PolicyImage {
        let r = reference.with_default_tag();
        let identity = r.to_string();
        let namespaces = r
            .docker_namespaces()
            .into_iter()
            .filter(|n| *n != identity)
            .collect();
        PolicyImage {
            transport: transport.to_owned(),
            within_transport: format!("//{identity}"),
            identity,
            namespaces,
            docker_reference: Some(r),
        }
    }

    /// A `dir:` image at an absolute, already resolved path (the caller
    /// resolves symlinks: that is I/O). Namespaces are the parent
    /// directories, excluding `/`.
    pub fn dir(resolved_path: &str) -> PolicyImage {
        PolicyImage::path_like("dir", resolved_path)
    }

    /// An image of a path-based transport (`dir`, `oci`, …).
    pub fn path_like(transport: &str, resolved_path: &str) -> PolicyImage {
        let mut namespaces = Vec::new();
        let mut p = resolved_path;
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            if p.is_empty() {
                break;
            }
            namespaces.push(p.to_owned());
        }
        PolicyImage {
            transport: transport.to_owned(),
            within_transport: resolved_path.to_owned(),
            identity: resolved_path.to_owned(),
            namespaces,
            docker_reference: None,
        }
    }

    /// `transport:within`, as in the reference's messages.
    pub fn display_name(&self) -> String {
        format!("{}:{}", self.transport, self.within_transport)
    }
}

/// Which part of the policy applies to an image.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScopeChoice<'p> {
    /// `Some((transport, scope))` for a transport scope (`scope` may be `""`);
    /// `None` for the global `default`.
    pub scope: Option<(String, String)>,
    /// The requirement list used (alone; lists are never merged).
    pub requirements: &'p [Requirement],
}

impl ScopeChoice<'_> {
    /// A human-readable description (`transports.docker["x"]` or `default`).
    pub fn describe(&self) -> String {
        match &self.scope {
            None => "default".to_owned(),
            Some((t, s)) => format!("transports.{t}[{s:?}]"),
        }
    }
}

impl Policy {
    /// Selects the requirement list for an image: exact identity, then each
    /// namespace, then the transport's `""`, then the global default.
    pub fn select(&self, image: &PolicyImage) -> ScopeChoice<'_> {
        if let Some(scopes) = self.transports.get(&image.transport) {
            let candidates = std::iter::once(image.identity.as_str())
                .chain(image.namespaces.iter().map(String::as_str))
                .chain(std::iter::once(""));
            for c in candidates {
                if let Some(reqs) = scopes.get(c) {
                    return ScopeChoice {
                        scope: Some((image.transport.clone(), c.to_owned())),
                        requirements: reqs,
                    };
                }
            }
        }
        ScopeChoice {
            scope: None,
            requirements: &self.default,
        }
    }
}
