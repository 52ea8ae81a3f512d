//! Image references with their transport, as skopeo writes them:
//! `docker://HOST/REPO[:TAG|@DIGEST]`, `oci:DIR[:TAG]` and `dir:PATH`.
//!
//! The docker reference grammar is `imprimatur-reference`'s (which follows
//! containers/image exactly); this module only splits off the transport.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use imprimatur_reference::Reference;

use crate::error::Error;

/// An image and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageReference {
    /// An image in an OCI distribution registry (`docker://`). A reference
    /// without tag or digest means `:latest`, as in skopeo.
    Docker(Reference),
    /// An image in an OCI image layout directory (`oci:DIR[:TAG]`). Without a
    /// tag the layout must hold exactly one image.
    OciLayout {
        /// The layout directory (holding `oci-layout` and `index.json`).
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to look for.
        tag: Option<String>,
    },
    /// An image in skopeo's directory format (`dir:PATH`): `manifest.json`,
    /// blobs named by their hex digest, `signature-N`.
    Dir(PathBuf),
}

impl ImageReference {
    /// The docker reference, for `docker://` images.
    pub fn docker(&self) -> Option<&Reference> {
        match self {
            ImageReference::Docker(r) => Some(r),
            _ => None,
        }
    }

    /// The transport's name as skopeo prints it: `docker`, `oci`, `dir`.
    pub fn transport(&self) -> &'static str {
        match self {
            ImageReference::Docker(_) => "docker",
            ImageReference::OciLayout { .. } => "oci",
            ImageReference::Dir(_) => "dir",
        }
    }

    /// A local path, for `oci:` and `dir:` images.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ImageReference::Docker(_) => None,
            ImageReference::OciLayout { dir, .. } => Some(dir),
            ImageReference::Dir(p) => Some(p),
        }
    }
}

fn invalid(input: &str, reason: impl Into<String>) -> Error {
    Error::InvalidImageReference {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

impl FromStr for ImageReference {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let Some((transport, rest)) = input.split_once(':') else {
            return Err(invalid(
                input,
                "no transport: write docker://HOST/REPO[:TAG], oci:DIR[:TAG] or dir:PATH",
            ));
        };
        match transport {
            "docker" => {
                let name = rest.strip_prefix("//").ok_or_else(|| {
                    invalid(
                        input,
                        "docker references start with docker:// (two slashes)",
                    )
                })?;
                let reference =
                    Reference::parse_normalized(name).map_err(|e| invalid(input, e.to_string()))?;
                Ok(ImageReference::Docker(reference))
            }
            // containers/image splits `oci:` at the first colon: a layout path
            // cannot contain one.
            "oci" => {
                let (dir, tag) = match rest.split_once(':') {
                    Some((dir, tag)) => (dir, Some(tag)),
                    None => (rest, None),
                };
                if dir.is_empty() {
                    return Err(invalid(input, "oci: needs a layout directory"));
                }
                if let Some(tag) = tag {
                    validate_layout_tag(input, tag)?;
                }
                Ok(ImageReference::OciLayout {
                    dir: PathBuf::from(dir),
                    tag: tag.map(str::to_owned),
                })
            }
            "dir" => {
                if rest.is_empty() {
                    return Err(invalid(input, "dir: needs a directory"));
                }
                Ok(ImageReference::Dir(PathBuf::from(rest)))
            }
            other => Err(invalid(
                input,
                format!("unknown transport {other:?}: use docker://, oci: or dir:"),
            )),
        }
    }
}

/// containers/image's rule for the reference part of `oci:` names:
/// `^[a-zA-Z0-9._/:@-]*$` minus an empty one (which means "no tag").
fn validate_layout_tag(input: &str, tag: &str) -> Result<(), Error> {
    if tag.is_empty() {
        return Err(invalid(input, "empty tag after oci:DIR:"));
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._/:@-".contains(*c)))
    {
        return Err(invalid(input, format!("invalid character {c:?} in tag")));
    }
    Ok(())
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageReference::Docker(r) => write!(f, "docker://{r}"),
            ImageReference::OciLayout { dir, tag: Some(t) } => {
                write!(f, "oci:{}:{t}", dir.display())
            }
            ImageReference::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            ImageReference::Dir(p) => write!(f, "dir:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageReference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_references_are_normalized() {
        let r = parse("docker://busybox");
        assert_eq!(r.to_string(), "docker://docker.io/library/busybox");
        let r = parse("docker://localhost:5000/a/b:1");
        assert_eq!(r.docker().map(|r| r.domain()), Some("localhost:5000"));
        assert_eq!(r.transport(), "docker");
    }

    #[test]
    fn docker_needs_two_slashes() {
        let e = "docker:busybox".parse::<ImageReference>().unwrap_err();
        assert!(matches!(e, Error::InvalidImageReference { .. }), "{e}");
        assert!(e.to_string().contains("docker://"), "{e}");
    }

    #[test]
    fn bad_docker_reference_names_the_reason() {
        let e = "docker://UPPER/case".parse::<ImageReference>().unwrap_err();
        assert!(matches!(e, Error::InvalidImageReference { .. }));
    }

    #[test]
    fn oci_splits_at_the_first_colon() {
        assert_eq!(
            parse("oci:/tmp/l:v1"),
            ImageReference::OciLayout {
                dir: "/tmp/l".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            parse("oci:/tmp/l"),
            ImageReference::OciLayout {
                dir: "/tmp/l".into(),
                tag: None
            }
        );
        assert_eq!(parse("oci:rel:a:b").to_string(), "oci:rel:a:b");
        assert!("oci:/tmp/l:bad tag".parse::<ImageReference>().is_err());
        assert!("oci::v1".parse::<ImageReference>().is_err());
    }

    #[test]
    fn dir_and_unknown_transports() {
        assert_eq!(parse("dir:/x"), ImageReference::Dir("/x".into()));
        assert!("dir:".parse::<ImageReference>().is_err());
        let e = "docker-archive:/x.tar"
            .parse::<ImageReference>()
            .unwrap_err();
        assert!(e.to_string().contains("unknown transport"), "{e}");
        assert!("busybox".parse::<ImageReference>().is_err());
    }
}
