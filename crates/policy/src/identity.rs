//! `signedIdentity` matching (§3.3): does a signature's `docker-reference`
//! fit the image's own reference under a rule?

use imprimatur_reference::Reference;

use crate::model::IdentityMatch;

/// Whether `signed` (the `docker-reference` from a signature payload) is
/// accepted for an image whose docker identity is `image` (`None` for
/// transports without one, such as `dir:`) under `rule`.
///
/// `image` must already be in the form the transport uses (for `docker:`
/// user input, with the default tag added: see
/// [`Reference::with_default_tag`]). A `signed` string that does not parse is
/// never accepted.
pub fn identity_matches(rule: &IdentityMatch, image: Option<&Reference>, signed: &str) -> bool {
    let Ok(s) = Reference::parse_normalized(signed) else {
        return false;
    };
    match rule {
        IdentityMatch::MatchExact => image.is_some_and(|i| match_exact(i, &s)),
        IdentityMatch::MatchRepoDigestOrExact => image.is_some_and(|i| repo_digest_or_exact(i, &s)),
        IdentityMatch::MatchRepository => image.is_some_and(|i| i.name() == s.name()),
        IdentityMatch::ExactReference(configured) => {
            Reference::parse_normalized(configured).is_ok_and(|c| match_exact(&c, &s))
        }
        IdentityMatch::ExactRepository(configured) => {
            Reference::parse_normalized(configured).is_ok_and(|c| c.name() == s.name())
        }
        IdentityMatch::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            let Some(i) = image else { return false };
            match remap(i, prefix, signed_prefix) {
                Some(Ok(rewritten)) => repo_digest_or_exact(&rewritten, &s),
                Some(Err(())) => false,
                None => repo_digest_or_exact(i, &s),
            }
        }
    }
}

fn match_exact(a: &Reference, b: &Reference) -> bool {
    !a.is_name_only() && !b.is_name_only() && a.to_string() == b.to_string()
}

fn repo_digest_or_exact(image: &Reference, signed: &Reference) -> bool {
    if signed.is_name_only() {
        return false;
    }
    if image.tag().is_some() {
        image.to_string() == signed.to_string()
    } else if image.digest().is_some() {
        image.name() == signed.name()
    } else {
        false
    }
}

/// Whether the reference's name equals `prefix` or continues it with `/`.
pub fn ref_matches_prefix(r: &Reference, prefix: &str) -> bool {
    let name = r.name();
    match name.len().cmp(&prefix.len()) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => name == prefix,
        std::cmp::Ordering::Greater => {
            name.starts_with(prefix) && name.as_bytes().get(prefix.len()) == Some(&b'/')
        }
    }
}

/// The `remapIdentity` rewrite: `None` if the prefix does not apply,
/// `Some(Err)` if the rewritten string is not a canonical reference.
pub fn remap(
    image: &Reference,
    prefix: &str,
    signed_prefix: &str,
) -> Option<Result<Reference, ()>> {
    if !ref_matches_prefix(image, prefix) {
        return None;
    }
    let full = image.to_string();
    let rewritten = full.replacen(prefix, signed_prefix, 1);
    Some(Reference::parse_canonical(&rewritten).map_err(|_| ()))
}
