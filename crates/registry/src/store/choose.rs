//! Which store holds an image's signatures, decided as containers/image
//! decides it (spec §6.2, §7.1): the registry's signature extension when
//! `/v2/` answers with `X-Registry-Supports-Signatures: 1`, otherwise the
//! lookaside of the most specific `registries.d` section that names one
//! (reading from `lookaside`, writing to `lookaside-staging`), otherwise the
//! built-in default directory.

use std::sync::Arc;

use imprimatur_policy::{Purpose, RegistriesConfig, Section};
use imprimatur_reference::Reference;

use super::http::{HttpRequest, HttpSend, RegistryHttp};
use super::{ExtensionStore, LookasideEndpoint, LookasideStore, SignatureStore, StoreError};
use crate::RegistryClient;

/// What [`choose`] needs besides the image.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// The merged `registries.d` (see [`crate::files::load_registries_dir`]).
    pub registries: RegistriesConfig,
    /// The lookaside used when no section names one
    /// ([`imprimatur_policy::default_lookaside`]).
    pub default_lookaside: String,
    /// The registry client: with one, the registry is asked whether it
    /// supports the extension API (and that API is used through it); without
    /// one, only lookasides are considered.
    pub registry: Option<RegistryClient>,
    /// The client for `http(s)` lookasides.
    pub lookaside_http: Option<Arc<dyn HttpSend>>,
    /// Whether `file:` writes are synced (default true).
    pub sync: bool,
}

impl StoreOptions {
    /// Options with a `registries.d` configuration and the default lookaside.
    pub fn new(registries: RegistriesConfig, default_lookaside: impl Into<String>) -> StoreOptions {
        StoreOptions {
            registries,
            default_lookaside: default_lookaside.into(),
            registry: None,
            lookaside_http: None,
            sync: true,
        }
    }

    /// Sets the registry client (enables the extension API).
    pub fn registry(mut self, client: RegistryClient) -> StoreOptions {
        self.registry = Some(client);
        self
    }

    /// Sets the client for `http(s)` lookasides.
    pub fn lookaside_http(mut self, http: Arc<dyn HttpSend>) -> StoreOptions {
        self.lookaside_http = Some(http);
        self
    }

    /// Sets whether `file:` writes are synced.
    pub fn sync(mut self, sync: bool) -> StoreOptions {
        self.sync = sync;
        self
    }
}

/// The chosen store and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreChoice {
    /// The store.
    pub store: Arc<dyn SignatureStore>,
    /// Whether it is the registry extension API (else a lookaside).
    pub extension: bool,
}

/// Whether the registry behind `http` announces the extension API: `GET
/// /v2/` carries `X-Registry-Supports-Signatures: 1` (exactly), whatever the
/// status.
pub async fn supports_signature_extension(http: &dyn HttpSend) -> Result<bool, StoreError> {
    let resp = http.send(HttpRequest::get("/v2/", 64 * 1024)).await?;
    Ok(resp.header("X-Registry-Supports-Signatures") == Some("1"))
}

/// Whether `url` is what a section's staging keys say.
fn is_staging(section: &Section, url: &str) -> bool {
    [&section.lookaside_staging, &section.sigstore_staging]
        .iter()
        .any(|o| o.as_deref() == Some(url))
}

/// The lookaside store of `reference` from `registries.d` (§6.2).
pub(crate) fn lookaside_for(reference: &Reference, options: &StoreOptions) -> LookasideStore {
    let regs = &options.registries;
    let read = regs.lookaside_for(reference, Purpose::Read);
    let write = regs.lookaside_for(reference, Purpose::Write);
    let write_staging = write.as_ref().is_some_and(|c| {
        let section = match &c.scope {
            Some(s) => regs.docker.get(s).map(|l| &l.section),
            None => regs.default_docker.as_ref().map(|l| &l.section),
        };
        section.is_some_and(|s| is_staging(s, &c.url))
    });
    let describe = |c: &imprimatur_policy::LookasideChoice| {
        let scope = c
            .scope
            .as_ref()
            .map_or_else(|| "default-docker".to_owned(), |s| format!("docker {s:?}"));
        format!("registries.d {scope} in {}", c.file)
    };
    let origin = match (&read, &write) {
        (Some(r), Some(w)) if r.file == w.file && r.scope == w.scope => describe(r),
        (Some(r), Some(w)) => format!("read: {}; write: {}", describe(r), describe(w)),
        (Some(r), None) => format!("read: {}; write: built-in default", describe(r)),
        (None, Some(w)) => format!("read: built-in default; write: {}", describe(w)),
        (None, None) => "built-in default".to_owned(),
    };
    let read_ep = LookasideEndpoint::new(
        read.map_or_else(|| options.default_lookaside.clone(), |c| c.url),
        false,
    );
    let write_ep = LookasideEndpoint::new(
        write.map_or_else(|| options.default_lookaside.clone(), |c| c.url),
        write_staging,
    );
    let mut store = LookasideStore::new(reference, read_ep, write_ep)
        .sync(options.sync)
        .origin(origin);
    if let Some(h) = &options.lookaside_http {
        store = store.http(h.clone());
    }
    store
}

/// Chooses the store for the signatures of `reference`'s repository, as
/// containers/image does.
pub async fn choose(
    reference: &Reference,
    options: &StoreOptions,
) -> Result<StoreChoice, StoreError> {
    if let Some(client) = &options.registry {
        let http: Arc<dyn HttpSend> = Arc::new(RegistryHttp::new(client.clone(), reference));
        if supports_signature_extension(http.as_ref()).await? {
            return Ok(StoreChoice {
                store: Arc::new(ExtensionStore::new(http, reference.path())),
                extension: true,
            });
        }
    }
    Ok(StoreChoice {
        store: Arc::new(lookaside_for(reference, options)),
        extension: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> RegistriesConfig {
        RegistriesConfig::from_files([("a.yaml", yaml.as_bytes())]).unwrap()
    }

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap()
    }

    #[test]
    fn l08_staging_for_writes_lookaside_for_reads() {
        let c = config(
            "docker:\n  example.com:\n    lookaside: https://read.example\n    lookaside-staging: file:///srv/staging\n",
        );
        let s = lookaside_for(
            &r("example.com/a/b:1"),
            &StoreOptions::new(c, "file:///default"),
        );
        assert_eq!(s.read_endpoint().url, "https://read.example");
        assert_eq!(
            s.write_endpoint(),
            &LookasideEndpoint::new("file:///srv/staging", true)
        );
        assert!(s.describe().contains("docker \"example.com\" in a.yaml"));
    }

    #[test]
    fn plain_http_lookaside_is_not_staging_and_default_applies() {
        let c = config("docker:\n  example.com:\n    lookaside: https://read.example\n");
        let s = lookaside_for(
            &r("example.com/a/b:1"),
            &StoreOptions::new(c.clone(), "file:///d"),
        );
        assert_eq!(
            s.write_endpoint(),
            &LookasideEndpoint::new("https://read.example", false)
        );
        let s = lookaside_for(&r("other.example/x"), &StoreOptions::new(c, "file:///d"));
        assert_eq!(s.read_endpoint().url, "file:///d");
        assert_eq!(s.write_endpoint().url, "file:///d");
        assert!(s.describe().contains("built-in default"));
    }

    #[test]
    fn l11_fall_through_to_less_specific_sections() {
        let c = config(
            "docker:\n  example.com/a:\n    use-sigstore-attachments: false\n  example.com:\n    sigstore-staging: https://stage.example\n    sigstore: https://read.example\n",
        );
        let s = lookaside_for(&r("example.com/a/b"), &StoreOptions::new(c, "file:///d"));
        assert_eq!(s.read_endpoint().url, "https://read.example");
        assert_eq!(
            s.write_endpoint(),
            &LookasideEndpoint::new("https://stage.example", true)
        );
    }
}
