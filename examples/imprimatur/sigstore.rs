//! Key-based sigstore (cosign) signatures on the command line: `keygen
//! --sigstore`, `sign --sigstore-key … IMAGE`, and the attachment reading
//! that `signatures list` and `policy check` share. The logic is in
//! `imprimatur-sigstore` (keys, payload, sign) and `imprimatur-registry`
//! (attachments); this module is argument parsing and printing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use imprimatur::registry::files::{self, WriteOptions};
use imprimatur::registry::sigstore::{Attachments, use_attachments};
use imprimatur::registry::store::StoredSignature;
use imprimatur::registry::{ImageReference, ImageSource, RegistryClient};
use imprimatur::sigstore::{self as cosign, PrivateKey, SigstorePayload, SigstoreSignature};
use imprimatur_policy::RegistriesConfig;
use imprimatur_reference::{Digest, Reference};
use imprimatur_signature::Passphrase;
use serde_json::json;

use crate::signatures::{SignImageArgs, identity_for};

/// `keygen --sigstore`: the options beside the OpenPGP ones.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeygenSigstoreArgs {
    /// Generate a sigstore (cosign) ECDSA P-256 key pair instead of an
    /// OpenPGP key: --private-key-out gets an `ENCRYPTED COSIGN PRIVATE KEY`
    /// file (encrypted with the --passphrase-file passphrase, the empty one
    /// without it, as cosign does), --public-key-out the `PUBLIC KEY` PEM
    /// that `sigstoreSigned` policies name. Prints the public key's id
    /// (SHA-256 of its DER).
    #[arg(long)]
    pub(crate) sigstore: bool,
    /// With --sigstore: where to write the encrypted private key (mode 0600).
    #[arg(long, value_name = "FILE", requires = "sigstore")]
    pub(crate) private_key_out: Option<PathBuf>,
}

/// Generates and writes a sigstore key pair.
pub(crate) fn keygen(
    args: &KeygenSigstoreArgs,
    public_out: &Path,
    passphrase: Option<Passphrase>,
    force: bool,
) -> Result<()> {
    let private_out = args
        .private_key_out
        .as_deref()
        .ok_or_else(|| anyhow!("--sigstore needs --private-key-out FILE"))?;
    for out in [private_out, public_out] {
        if !force && out.exists() {
            bail!("{} exists; use --force to overwrite it", out.display());
        }
    }
    let key = PrivateKey::generate().context("generating the key")?;
    let pem = key
        .to_encrypted_pem(&passphrase.unwrap_or_default())
        .context("encrypting the private key")?;
    let public = key.public_key();
    files::write_atomic(
        private_out,
        pem.as_bytes(),
        &WriteOptions::secret().overwrite(force),
    )
    .with_context(|| format!("writing {}", private_out.display()))?;
    files::write_atomic(
        public_out,
        public.to_pem().as_bytes(),
        &WriteOptions::new().overwrite(force),
    )
    .with_context(|| format!("writing {}", public_out.display()))?;
    println!("{}", public.key_id());
    Ok(())
}

/// `sign --sigstore-key`: the options beside the OpenPGP ones.
#[derive(Debug, Clone, Args)]
pub(crate) struct SignSigstoreArgs {
    /// Sign IMAGE with this sigstore private key (cosign's `ENCRYPTED
    /// COSIGN PRIVATE KEY` or `ENCRYPTED SIGSTORE PRIVATE KEY` file), alone
    /// or beside --key: the signature is added to the image's registry
    /// attachment (`sha256-<hex>.sig`), which needs
    /// `use-sigstore-attachments: true` for the image in registries.d
    /// (`trust set --type sigstoreSigned` sets it).
    #[arg(long, value_name = "FILE")]
    pub(crate) sigstore_key: Option<PathBuf>,
    /// Passphrase of --sigstore-key (first line) when --key is given too;
    /// without --key, --passphrase-file is the sigstore key's. No
    /// passphrase: the empty one.
    #[arg(long, value_name = "FILE", requires = "sigstore_key")]
    pub(crate) sigstore_passphrase_file: Option<PathBuf>,
}

/// Reads and decrypts a sigstore private key file.
pub(crate) fn load_private_key(path: &Path, passphrase: Option<&Passphrase>) -> Result<PrivateKey> {
    let bytes = files::read_limited(path, cosign::MAX_KEY_FILE_BYTES as u64)
        .with_context(|| format!("reading {}", path.display()))?;
    let empty = Passphrase::default();
    PrivateKey::from_encrypted_pem(&bytes, passphrase.unwrap_or(&empty))
        .with_context(|| format!("loading the sigstore private key {}", path.display()))
}

/// Signs every image with `key` and adds the signatures to the images'
/// attachments; prints identity, digest and attachment per image.
pub(crate) fn sign_images(args: &SignImageArgs, key: PrivateKey) -> Result<()> {
    let client = args.store.registry.client()?;
    let registries = Arc::new(args.store.options(&client)?.registries);
    let key = Arc::new(key);
    crate::signatures::for_each_image(
        args,
        "sigstore-signing",
        move |image, identity, timestamp| {
            let (client, registries, key) = (client.clone(), registries.clone(), key.clone());
            async move {
                sign_one(
                    &image,
                    identity.as_ref(),
                    &client,
                    &registries,
                    &key,
                    timestamp,
                )
                .await
            }
        },
    )
}

/// The repository whose attachments hold `image`'s sigstore signatures:
/// its own for `docker://`, the identity's otherwise.
fn attachment_repository(image: &ImageReference, identity: &Reference) -> Reference {
    match image {
        ImageReference::Docker(r) => r.clone(),
        _ => identity.clone(),
    }
}

async fn sign_one(
    image: &ImageReference,
    identity: Option<&Reference>,
    client: &RegistryClient,
    registries: &RegistriesConfig,
    key: &PrivateKey,
    timestamp: i64,
) -> Result<String> {
    let claimed = identity_for(image, identity)?;
    let repository = attachment_repository(image, &claimed);
    if !use_attachments(registries, &repository) {
        bail!(
            "{repository}: writing sigstore attachments is disabled by configuration \
             (registries.d: use-sigstore-attachments: true; `imprimatur trust set --type \
             sigstoreSigned` sets it)"
        );
    }
    let resolved = ImageSource::new(image, client)
        .resolve()
        .await
        .with_context(|| format!("resolving {image}"))?;
    let digest: &Digest = &resolved.digest;
    let signature = cosign::sign(
        key,
        &SigstorePayload::for_image(&claimed, digest, timestamp),
    );
    let out = Attachments::new(client, &repository)
        .add(digest, &[signature])
        .await?;
    let what = if out.added > 0 {
        "stored"
    } else {
        "already present"
    };
    Ok(format!(
        "{claimed} {digest} sigstore {what}: {}:{}",
        repository.name(),
        out.tag
    ))
}

/// The sigstore attachment of a `docker://` image as stored signatures (the
/// `\0sigstore-json\n…` form), when registries.d enables attachments for
/// it; nothing for other transports (a `dir:` image keeps them in its
/// `signature-N` files, which its store lists already).
pub(crate) async fn attachment_signatures(
    image: &ImageReference,
    digest: &Digest,
    client: &RegistryClient,
    registries: &RegistriesConfig,
) -> Result<Vec<StoredSignature>> {
    let ImageReference::Docker(r) = image else {
        return Ok(Vec::new());
    };
    if !use_attachments(registries, r) {
        return Ok(Vec::new());
    }
    let attachments = Attachments::new(client, r);
    let sigs = attachments
        .list(digest)
        .await
        .with_context(|| format!("reading the sigstore attachment of {r}"))?;
    let tag = cosign::attachment::attachment_tag(digest);
    Ok(sigs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            StoredSignature::new(s.to_blob(), format!("{}:{tag} layer {}", r.name(), i + 1))
        })
        .collect())
}

/// How `signatures list` shows a stored sigstore signature (claims
/// unverified); `None` for other blobs.
pub(crate) fn describe(s: &StoredSignature) -> Option<serde_json::Value> {
    if !cosign::is_sigstore_blob(&s.blob) {
        return None;
    }
    let (kind, untrusted, error) = match SigstoreSignature::from_blob(&s.blob) {
        Err(e) => ("sigstore", serde_json::Value::Null, json!(e.to_string())),
        Ok(sig) if !sig.is_signature() => (
            "sigstore attachment",
            serde_json::Value::Null,
            json!(format!("not a signature: MIME type {}", sig.mime_type)),
        ),
        Ok(sig) => match SigstorePayload::parse(&sig.payload) {
            Ok(p) => (
                "sigstore",
                json!({
                    "dockerReference": p.docker_reference,
                    "dockerManifestDigest": p.docker_manifest_digest,
                    "creator": p.creator,
                    "timestamp": p.timestamp,
                }),
                serde_json::Value::Null,
            ),
            Err(e) => ("sigstore", serde_json::Value::Null, json!(e.to_string())),
        },
    };
    Some(json!({
        "kind": kind,
        "location": s.location,
        "size": s.blob.len(),
        "fingerprint": serde_json::Value::Null,
        "untrusted": untrusted,
        "error": error,
    }))
}

/// Turns on `use-sigstore-attachments` for a docker scope (`""` = the
/// default section) in a registries.d directory, keeping the section's
/// other keys. Returns the file written.
pub(crate) fn enable_attachments(registries_d: &Path, scope: &str) -> Result<Option<PathBuf>> {
    let files_now = files::read_registries_files(registries_d)
        .with_context(|| format!("registries.d {}", registries_d.display()))?;
    let mut section = files_now
        .iter()
        .find_map(|(_, f)| {
            if scope.is_empty() {
                f.default_docker.clone()
            } else {
                f.docker.get(scope).cloned()
            }
        })
        .unwrap_or_default();
    section.use_sigstore_attachments = Some(true);
    Ok(files::set_registries_section(
        registries_d,
        scope,
        Some(section),
    )?)
}

/// For `sign`: the sigstore key and passphrase to use, if any.
pub(crate) fn key_for_sign(
    args: &SignSigstoreArgs,
    with_openpgp_key: bool,
    passphrase_file: Option<&Path>,
) -> Result<Option<PrivateKey>> {
    let Some(path) = &args.sigstore_key else {
        return Ok(None);
    };
    let pass_file = if with_openpgp_key {
        args.sigstore_passphrase_file.as_deref()
    } else {
        args.sigstore_passphrase_file.as_deref().or(passphrase_file)
    };
    let passphrase = pass_file.map(crate::signing::read_passphrase).transpose()?;
    load_private_key(path, passphrase.as_ref()).map(Some)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::Cli;

    #[test]
    fn sigstore_flags_parse_without_the_openpgp_ones() {
        Cli::command().debug_assert();
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(
            parse(&[
                "imprimatur",
                "keygen",
                "--sigstore",
                "--private-key-out",
                "k",
                "--public-key-out",
                "p"
            ])
            .is_ok()
        );
        assert!(parse(&["imprimatur", "keygen", "--public-key-out", "p"]).is_err());
        assert!(
            parse(&[
                "imprimatur",
                "keygen",
                "--private-key-out",
                "k",
                "--public-key-out",
                "p",
                "--userid",
                "u",
                "--secret-key-out",
                "s"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "imprimatur",
                "sign",
                "--sigstore-key",
                "k",
                "docker://r.example/a:1"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "imprimatur",
                "sign",
                "--key",
                "g",
                "--sigstore-key",
                "k",
                "--sigstore-passphrase-file",
                "p",
                "docker://r.example/a:1"
            ])
            .is_ok()
        );
        assert!(parse(&["imprimatur", "sign", "docker://r.example/a:1"]).is_err());
        assert!(
            parse(&[
                "imprimatur",
                "trust",
                "set",
                "--type",
                "sigstoreSigned",
                "--pubkeys",
                "c.pub",
                "r.example"
            ])
            .is_ok()
        );
    }
}
