//! Generating whole trust configurations (`policy.json` + `registries.d`),
//! in the spirit of `atomic trust add` / `podman image trust set`.
//!
//! The predecessors' node configuration (default reject; the vendor registry
//! signed by the vendor key with a web lookaside; the internal registry
//! signed by the site key for both the `docker` and `atomic` transports):
//!
//! ```
//! use imprimatur_policy::{Policy, RegistriesFile, TrustBuilder};
//!
//! let trust = TrustBuilder::default_reject()
//!     .signed_by("docker", "registry.access.redhat.com",
//!                &["/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release"], None)?
//!     .lookaside("registry.access.redhat.com",
//!                Some("https://access.redhat.com/webassets/docker/content/sigstore"), None)?
//!     .signed_by("docker", "docker-registry.default.svc:5000",
//!                &["/etc/pki/containers/openshift@example.com"], None)?
//!     .signed_by("atomic", "docker-registry.default.svc:5000",
//!                &["/etc/pki/containers/openshift@example.com"], None)?
//!     .build();
//! let text = trust.policy.to_json();
//! assert!(text.contains("\"registry.access.redhat.com\": ["));
//! assert_eq!(Policy::from_json(text.as_bytes(), "policy.json")?, trust.policy);
//! let yaml = trust.registries.to_yaml();
//! assert!(yaml.contains("https://access.redhat.com/webassets/docker/content/sigstore"));
//! assert_eq!(RegistriesFile::from_yaml(yaml.as_bytes(), "r.yaml")?, trust.registries);
//! # Ok::<(), imprimatur_policy::Error>(())
//! ```

use crate::error::Error;
use crate::model::{IdentityMatch, KeySource, Policy, Requirement, SignedBy, SigstoreSigned};
use crate::registries::{RegistriesFile, Section};

/// A generated trust configuration: the policy and one `registries.d` file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrustConfig {
    /// The `policy.json` model.
    pub policy: Policy,
    /// The `registries.d` file with a lookaside section per configured scope.
    pub registries: RegistriesFile,
}

/// Builds or edits a trust configuration. Every scope is set as a whole
/// (requirement lists are replaced, never merged); other scopes are kept.
#[derive(Debug, Clone)]
pub struct TrustBuilder {
    policy: Policy,
    registries: RegistriesFile,
}

/// The key source for one or several key files: one file is `keyPath`,
/// several are `keyPaths` (a signature by any of them is accepted).
pub fn key_source_for_paths(paths: &[&str]) -> Result<KeySource, Error> {
    match paths {
        [] => Err(Error::InvalidTrust(
            "signedBy needs at least one public key".to_owned(),
        )),
        [one] if !one.is_empty() => Ok(KeySource::Path((*one).to_owned())),
        many => {
            if many.iter().any(|p| p.is_empty()) {
                return Err(Error::InvalidTrust("empty key path".to_owned()));
            }
            Ok(KeySource::Paths(
                many.iter().map(|p| (*p).to_owned()).collect(),
            ))
        }
    }
}

impl TrustBuilder {
    /// Starts from `"default": [{"type": "reject"}]`.
    pub fn default_reject() -> TrustBuilder {
        TrustBuilder::edit(
            Policy::with_default(vec![Requirement::Reject]),
            RegistriesFile::default(),
        )
    }

    /// Starts from `"default": [{"type": "insecureAcceptAnything"}]`: every
    /// image not covered by a scope is accepted without any check.
    pub fn default_insecure_accept_anything() -> TrustBuilder {
        TrustBuilder::edit(
            Policy::with_default(vec![Requirement::InsecureAcceptAnything]),
            RegistriesFile::default(),
        )
    }

    /// Edits an existing configuration.
    pub fn edit(policy: Policy, registries: RegistriesFile) -> TrustBuilder {
        TrustBuilder { policy, registries }
    }

    /// Sets the global default to `reject`.
    pub fn set_default_reject(mut self) -> TrustBuilder {
        self.policy.default = vec![Requirement::Reject];
        self
    }

    /// Sets the global default to `insecureAcceptAnything`.
    pub fn set_default_insecure_accept_anything(mut self) -> TrustBuilder {
        self.policy.default = vec![Requirement::InsecureAcceptAnything];
        self
    }

    /// Sets the global default to `signedBy` the given keys.
    pub fn set_default_signed_by(
        mut self,
        key_paths: &[&str],
        identity: Option<IdentityMatch>,
    ) -> Result<TrustBuilder, Error> {
        let keys = key_source_for_paths(key_paths)?;
        self.policy.default = vec![Requirement::SignedBy(SignedBy::gpg(keys, identity))];
        Ok(self)
    }

    /// `transports[transport][scope] = [signedBy(keys, identity)]`.
    pub fn signed_by(
        self,
        transport: &str,
        scope: &str,
        key_paths: &[&str],
        identity: Option<IdentityMatch>,
    ) -> Result<TrustBuilder, Error> {
        let keys = key_source_for_paths(key_paths)?;
        self.signed_by_keys(transport, scope, keys, identity)
    }

    /// Like [`TrustBuilder::signed_by`] with any key source (e.g. `keyData`).
    pub fn signed_by_keys(
        mut self,
        transport: &str,
        scope: &str,
        keys: KeySource,
        identity: Option<IdentityMatch>,
    ) -> Result<TrustBuilder, Error> {
        let req = Requirement::SignedBy(SignedBy::gpg(keys, identity));
        self.policy.set_scope(transport, scope, vec![req])?;
        Ok(self)
    }

    /// `transports[transport][scope] = [sigstoreSigned(keys, identity)]`:
    /// one key file is `keyPath` (which containers/image 5.23.1 loads);
    /// several are `keyPaths` (containers/image ≥ 5.33 only: older releases
    /// refuse the whole policy file). Pair it with
    /// [`TrustBuilder::use_sigstore_attachments`] so that the signatures are
    /// read at all.
    pub fn sigstore_signed(
        mut self,
        transport: &str,
        scope: &str,
        key_paths: &[&str],
        identity: Option<IdentityMatch>,
    ) -> Result<TrustBuilder, Error> {
        let req = Requirement::SigstoreSigned(sigstore_requirement(key_paths, identity)?);
        self.policy.set_scope(transport, scope, vec![req])?;
        Ok(self)
    }

    /// Sets the global default to `sigstoreSigned` the given keys.
    pub fn set_default_sigstore_signed(
        mut self,
        key_paths: &[&str],
        identity: Option<IdentityMatch>,
    ) -> Result<TrustBuilder, Error> {
        self.policy.default = vec![Requirement::SigstoreSigned(sigstore_requirement(
            key_paths, identity,
        )?)];
        Ok(self)
    }

    /// Sets `use-sigstore-attachments` in the `registries.d` section of a
    /// docker scope (`""` or `"default-docker"` for the default section),
    /// keeping the section's other keys.
    pub fn use_sigstore_attachments(mut self, scope: &str, on: bool) -> TrustBuilder {
        let section = if scope.is_empty() || scope == "default-docker" {
            self.registries
                .default_docker
                .get_or_insert_with(Section::default)
        } else {
            self.registries.docker.entry(scope.to_owned()).or_default()
        };
        section.use_sigstore_attachments = Some(on);
        self
    }

    /// `transports[transport][scope] = [reject]`.
    pub fn reject(mut self, transport: &str, scope: &str) -> Result<TrustBuilder, Error> {
        self.policy
            .set_scope(transport, scope, vec![Requirement::Reject])?;
        Ok(self)
    }

    /// `transports[transport][scope] = [insecureAcceptAnything]`: images in
    /// this scope are accepted without any signature check.
    pub fn insecure_accept_anything(
        mut self,
        transport: &str,
        scope: &str,
    ) -> Result<TrustBuilder, Error> {
        self.policy
            .set_scope(transport, scope, vec![Requirement::InsecureAcceptAnything])?;
        Ok(self)
    }

    /// Any requirement list for a scope (for lists this builder has no
    /// shortcut for, e.g. two `signedBy` that must both hold).
    pub fn requirements(
        mut self,
        transport: &str,
        scope: &str,
        requirements: Vec<Requirement>,
    ) -> Result<TrustBuilder, Error> {
        self.policy.set_scope(transport, scope, requirements)?;
        Ok(self)
    }

    /// Removes a scope from the policy (and nothing else).
    pub fn remove(mut self, transport: &str, scope: &str) -> TrustBuilder {
        self.policy.remove_scope(transport, scope);
        self
    }

    /// Sets the `registries.d` section of a docker scope (`""` or
    /// `"default-docker"` for the default section). URLs must parse and have
    /// a scheme; `None` for both removes the section.
    pub fn lookaside(
        mut self,
        scope: &str,
        lookaside: Option<&str>,
        staging: Option<&str>,
    ) -> Result<TrustBuilder, Error> {
        for u in [lookaside, staging].into_iter().flatten() {
            crate::lookaside::parse_base(u)?;
        }
        let default = scope.is_empty() || scope == "default-docker";
        if lookaside.is_none() && staging.is_none() {
            if default {
                self.registries.default_docker = None;
            } else {
                self.registries.docker.remove(scope);
            }
            return Ok(self);
        }
        let section = Section {
            lookaside: lookaside.map(str::to_owned),
            lookaside_staging: staging.map(str::to_owned),
            ..Section::default()
        };
        if default {
            self.registries.default_docker = Some(section);
        } else {
            self.registries.docker.insert(scope.to_owned(), section);
        }
        Ok(self)
    }

    /// The configuration.
    pub fn build(self) -> TrustConfig {
        TrustConfig {
            policy: self.policy,
            registries: self.registries,
        }
    }
}

fn sigstore_requirement(
    key_paths: &[&str],
    identity: Option<IdentityMatch>,
) -> Result<SigstoreSigned, Error> {
    if key_paths.is_empty() {
        return Err(Error::InvalidTrust(
            "sigstoreSigned needs at least one public key".to_owned(),
        ));
    }
    if key_paths.iter().any(|p| p.is_empty()) {
        return Err(Error::InvalidTrust("empty key path".to_owned()));
    }
    let paths: Vec<String> = key_paths.iter().map(|p| (*p).to_owned()).collect();
    Ok(SigstoreSigned::with_key_paths(&paths, identity))
}

/// A file name for a `registries.d` file holding one docker scope
/// (`registry.example:5000/ns` → `registry.example_5000_ns.yaml`).
pub fn registries_file_name(scope: &str) -> String {
    if scope.is_empty() || scope == "default-docker" {
        return "default.yaml".to_owned();
    }
    let mut out: String = scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.push_str(".yaml");
    out
}
