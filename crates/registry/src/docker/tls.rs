//! TLS for registry connections, set up as containers/image does: the system
//! roots plus a certificates directory per registry (`*.crt` CA files, a
//! client `*.cert` with its `*.key`), in `--cert-dir DIR` when given, else
//! `/etc/containers/certs.d/HOST/` and `/etc/docker/certs.d/HOST/`.
//!
//! The crypto provider is the process's default one: each binary installs
//! exactly one (`rustls::crypto::ring::default_provider().install_default()`),
//! so that this crate and others (kube) share it instead of fighting over it.
//! Skipping verification is [`TlsVerification::DangerousAcceptAnyCertificate`],
//! never a default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use imprimatur_signature::Zeroizing;

use crate::error::{Error, Result};

/// Whether server certificates are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsVerification {
    /// Verify against the system roots and the certificates directory.
    #[default]
    Verify,
    /// Accept any certificate (and plain HTTP): skopeo's `--tls-verify=false`.
    DangerousAcceptAnyCertificate,
}

/// The certificates directories to read for a registry host.
pub(crate) fn cert_dirs(explicit: Option<&Path>, host: &str) -> Vec<PathBuf> {
    match explicit {
        Some(dir) => vec![dir.to_owned()],
        None => vec![
            Path::new("/etc/containers/certs.d").join(host),
            Path::new("/etc/docker/certs.d").join(host),
        ],
    }
}

/// What a certificates directory holds.
#[derive(Default)]
struct DirContents {
    roots: Vec<CertificateDer<'static>>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

fn tls_config_err(path: &Path, message: impl Into<String>) -> Error {
    Error::TlsConfig {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Largest certificate or key file read from a certificates directory.
const MAX_PEM_FILE: u64 = 1 << 20;

/// A PEM file of a certificates directory, bounded by what is read (a
/// FIFO or `/dev/zero` there is an error, not a hang), in a buffer wiped
/// when dropped (it may be a private key).
fn read_pem(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    use crate::files::FileError;
    crate::files::read_limited(path, MAX_PEM_FILE)
        .map(Zeroizing::new)
        .map_err(|e| match e {
            FileError::TooLarge { limit, .. } => {
                tls_config_err(path, format!("larger than {limit} bytes"))
            }
            FileError::Io { source, .. } => tls_config_err(path, source.to_string()),
            other => tls_config_err(path, other.to_string()),
        })
}

fn read_dir_contents(dir: &Path, explicit: bool) -> Result<DirContents> {
    let mut out = DirContents::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("read certificates directory", dir, e)),
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                for cert in CertificateDer::pem_slice_iter(&read_pem(&path)?) {
                    out.roots
                        .push(cert.map_err(|e| tls_config_err(&path, e.to_string()))?);
                }
            }
            Some("cert") => {
                let key_path = path.with_extension("key");
                if !key_path.exists() {
                    return Err(tls_config_err(
                        &path,
                        format!("client certificate without its key {}", key_path.display()),
                    ));
                }
                let chain = CertificateDer::pem_slice_iter(&read_pem(&path)?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| tls_config_err(&path, e.to_string()))?;
                let key = PrivateKeyDer::from_pem_slice(&read_pem(&key_path)?)
                    .map_err(|e| tls_config_err(&key_path, e.to_string()))?;
                out.client = Some((chain, key));
            }
            Some("key") if !path.with_extension("cert").exists() => {
                return Err(tls_config_err(
                    &path,
                    "key without its client certificate (.cert)",
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Builds the rustls configuration for connections to `host`.
pub(crate) fn client_config(
    verification: TlsVerification,
    cert_dir: Option<&Path>,
    host: &str,
) -> Result<rustls::ClientConfig> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .ok_or(Error::NoCryptoProvider)?;
    let mut contents = DirContents::default();
    for dir in cert_dirs(cert_dir, host) {
        let found = read_dir_contents(&dir, cert_dir.is_some())?;
        contents.roots.extend(found.roots);
        if contents.client.is_none() {
            contents.client = found.client;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            registry: host.to_owned(),
            message: e.to_string(),
        })?;
    let builder = match verification {
        TlsVerification::Verify => builder.with_root_certificates(root_store(contents.roots)),
        TlsVerification::DangerousAcceptAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider))),
    };
    match contents.client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| Error::Tls {
                registry: host.to_owned(),
                message: format!("client certificate: {e}"),
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

fn root_store(extra: Vec<CertificateDer<'static>>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped, as Go's x509 pool does.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    roots.add_parsable_certificates(extra);
    roots
}

/// `--tls-verify=false`: any certificate is accepted, signatures are still
/// checked so the handshake itself is sound.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_cert_dir_replaces_the_defaults() {
        assert_eq!(
            cert_dirs(Some(Path::new("/c")), "h:5000"),
            [PathBuf::from("/c")]
        );
        assert_eq!(
            cert_dirs(None, "h:5000")[0],
            PathBuf::from("/etc/containers/certs.d/h:5000")
        );
    }

    #[test]
    fn a_missing_explicit_dir_is_an_error_and_lone_files_are_refused() {
        assert!(read_dir_contents(Path::new("/nonexistent/certs"), true).is_err());
        assert!(
            read_dir_contents(Path::new("/nonexistent/certs"), false)
                .unwrap()
                .roots
                .is_empty()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.cert"), "x").unwrap();
        let e = read_dir_contents(dir.path(), true).err().unwrap();
        assert!(e.to_string().contains("without its key"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.key"), "x").unwrap();
        assert!(read_dir_contents(dir.path(), true).is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "not pem").unwrap();
        assert!(
            read_dir_contents(dir.path(), true)
                .unwrap()
                .roots
                .is_empty()
        );
    }

    /// Certificate files are read bounded by what is read: a `.crt` that
    /// is `/dev/zero` (length 0, endless) is an error, not a hang.
    #[test]
    fn endless_certificate_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("ca.crt")).unwrap();
        let e = read_dir_contents(dir.path(), true).err().unwrap();
        assert!(matches!(e, Error::TlsConfig { .. }), "{e:?}");
        assert!(
            e.to_string().ends_with("ca.crt: larger than 1048576 bytes"),
            "{e}"
        );
    }
}
