//! Conversions to and from [`oci_spec::distribution::Reference`] (feature
//! `oci-spec`).

use oci_spec::distribution::Reference as OciReference;

use crate::{DEFAULT_TAG, Error, Reference};

impl From<&Reference> for OciReference {
    /// Converts to an `oci-spec` reference. `oci-spec` references always have
    /// a tag or a digest, so a name-only reference gets the tag `latest`
    /// (as [`Reference::with_default_tag`] does).
    fn from(r: &Reference) -> OciReference {
        let registry = r.domain().to_owned();
        let repository = r.path().to_owned();
        match (r.tag(), r.digest()) {
            (Some(tag), Some(digest)) => OciReference::with_tag_and_digest(
                registry,
                repository,
                tag.to_owned(),
                digest.to_string(),
            ),
            (None, Some(digest)) => {
                OciReference::with_digest(registry, repository, digest.to_string())
            }
            (Some(tag), None) => OciReference::with_tag(registry, repository, tag.to_owned()),
            (None, None) => OciReference::with_tag(registry, repository, DEFAULT_TAG.to_owned()),
        }
    }
}

impl From<Reference> for OciReference {
    /// See the `From<&Reference>` implementation.
    fn from(r: Reference) -> OciReference {
        OciReference::from(&r)
    }
}

impl TryFrom<&OciReference> for Reference {
    type Error = Error;

    /// Converts from an `oci-spec` reference by re-parsing its full string
    /// with [`Reference::parse_normalized`], so every rule of this crate is
    /// applied (including the 64-hex rule and digest validation).
    fn try_from(r: &OciReference) -> Result<Reference, Error> {
        Reference::parse_normalized(&r.whole())
    }
}

impl TryFrom<OciReference> for Reference {
    type Error = Error;

    /// See the `TryFrom<&OciReference>` implementation.
    fn try_from(r: OciReference) -> Result<Reference, Error> {
        Reference::try_from(&r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digest;

    #[test]
    fn round_trip() {
        let d = Digest::sha256_of(b"manifest");
        for s in [
            "docker.io/library/busybox:latest".to_owned(),
            "quay.io/ns/repo:v1.2".to_owned(),
            format!("localhost:5000/a/b@{d}"),
            format!("gcr.io/x/y:tag@{d}"),
        ] {
            let ours = Reference::parse_canonical(&s).expect("canonical");
            let oci = OciReference::from(&ours);
            assert_eq!(oci.whole(), s);
            assert_eq!(oci.registry(), ours.domain());
            assert_eq!(oci.repository(), ours.path());
            assert_eq!(oci.tag(), ours.tag());
            assert_eq!(oci.digest(), ours.digest().map(Digest::as_str));
            // oci-spec's own parser agrees on the split.
            let parsed: OciReference = s.parse().expect("oci-spec parses");
            assert_eq!(parsed, oci);
            assert_eq!(Reference::try_from(&oci), Ok(ours.clone()));
            assert_eq!(Reference::try_from(oci), Ok(ours));
        }
    }

    #[test]
    fn name_only_gets_latest() {
        let r = Reference::parse_normalized("busybox").expect("valid");
        let oci = OciReference::from(r.clone());
        assert_eq!(oci.whole(), "docker.io/library/busybox:latest");
        assert_eq!(Reference::try_from(&oci), Ok(r.with_default_tag()));
    }

    #[test]
    fn from_oci_validates() {
        let oci = OciReference::with_tag("example.com".into(), "Bad".into(), "v1".into());
        assert_eq!(Reference::try_from(&oci), Err(Error::NameContainsUppercase));
        let oci = OciReference::with_digest("example.com".into(), "r".into(), "sha256:abc".into());
        assert!(Reference::try_from(oci).is_err());
    }
}
