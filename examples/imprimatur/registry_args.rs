//! The flags every command that reaches a registry takes, as skopeo spells
//! them, and the client they build. Shared so that `inspect`, `unpack`,
//! `sign IMAGE`, `signatures …` and `policy check IMAGE` behave alike.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use imprimatur::registry::{CredentialSource, Credentials, RegistryClient, RetryPolicy};

/// Registry access: TLS, certificates and credentials.
#[derive(Debug, Clone, Args)]
pub(crate) struct RegistryArgs {
    /// Verify TLS certificates. `--tls-verify=false` also allows plain HTTP
    /// registries (as skopeo does); use it only for registries you control.
    #[arg(long = "tls-verify", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) tls_verify: bool,
    /// Directory with `*.crt` CA certificates and a client `*.cert`/`*.key`
    /// pair, used instead of /etc/containers/certs.d/HOST/.
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub(crate) cert_dir: Option<PathBuf>,
    /// Credentials file (default: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).
    #[arg(long, value_name = "FILE", conflicts_with = "creds")]
    pub(crate) authfile: Option<PathBuf>,
    /// Credentials as USER[:PASSWORD] for every registry reached.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub(crate) creds: Option<String>,
    /// Retries of a failed idempotent request (5xx, reset, timeout, body cut
    /// short), with exponential backoff from 200 ms.
    #[arg(long = "retry-times", value_name = "N", default_value_t = 4)]
    pub(crate) retry_times: u32,
    /// Seconds to wait for the next bytes of a response before the request
    /// counts as failed (and is retried or resumed).
    #[arg(long = "read-timeout", value_name = "SECONDS", default_value_t = 60)]
    pub(crate) read_timeout: u64,
}

impl RegistryArgs {
    /// The registry client these flags describe.
    pub(crate) fn client(&self) -> Result<RegistryClient> {
        let credentials = match (&self.creds, &self.authfile) {
            (Some(c), _) => CredentialSource::Explicit(Credentials::from_creds_flag(c)?),
            (None, Some(f)) => CredentialSource::AuthFile(f.clone()),
            (None, None) => CredentialSource::DefaultAuthFile,
        };
        let mut builder = RegistryClient::builder()
            .credentials(credentials)
            .retry(RetryPolicy::new(
                self.retry_times.saturating_add(1),
                Duration::from_millis(200),
            ))
            .timeouts(
                Duration::from_secs(30),
                Duration::from_secs(self.read_timeout.max(1)),
            );
        if let Some(dir) = &self.cert_dir {
            builder = builder.cert_dir(dir);
        }
        if !self.tls_verify {
            builder = builder.dangerous_accept_any_certificate_and_plain_http();
        }
        builder.build().context("registry access")
    }
}

/// Installs the process's one rustls crypto provider (ring). Every binary
/// that reaches a registry calls this once at start, before any client is
/// built, so that all TLS users in the process (reqwest, kube) share it.
pub(crate) fn install_crypto_provider() {
    // An error means one is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A runtime for one command: the CLI is synchronous at the top.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
