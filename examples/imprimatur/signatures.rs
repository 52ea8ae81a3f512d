//! `signatures list`, `signatures copy` and `sign IMAGE`: signatures where
//! nodes look for them, through `imprimatur-registry`'s stores (the
//! registry's extension API when it announces one, else the lookaside that
//! registries.d names, else the built-in default directory).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use imprimatur::registry::store::{
    self, Added, DirStore, PlainHttp, SignatureStore, StoreOptions, StoredSignature,
};
use imprimatur::registry::{ImageReference, ImageSource, RegistryClient, ResolvedImage, files};
use imprimatur_policy::RegistriesConfig;
use imprimatur_reference::{Digest, Reference};
use imprimatur_signature as sig;
use serde_json::json;

use crate::registry_args::{RegistryArgs, runtime};

/// Where the user's registries.d is when none is given: containers/image's
/// search (`$HOME/.config/containers/registries.d` if it exists, else
/// `/etc/containers/registries.d`).
fn default_registries_d() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME") {
        let user = Path::new(&home).join(".config/containers/registries.d");
        if user.is_dir() {
            return user;
        }
    }
    PathBuf::from("/etc/containers/registries.d")
}

/// Whether we run as root (the built-in lookaside differs).
fn is_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}

/// registries.d and the registry flags: how a store is found and reached.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// registries.d directory (default: ~/.config/containers/registries.d
    /// if it exists, else /etc/containers/registries.d).
    #[arg(long = "registries-d", value_name = "DIR")]
    pub(crate) registries_d: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

impl StoreArgs {
    /// The store options (registries.d loaded, the registry client, an
    /// HTTP client for http(s) lookasides).
    pub(crate) fn options(&self, client: &RegistryClient) -> Result<StoreOptions> {
        let dir = self
            .registries_d
            .clone()
            .unwrap_or_else(default_registries_d);
        let registries: RegistriesConfig = files::load_registries_dir(&dir)
            .with_context(|| format!("registries.d {}", dir.display()))?;
        let home = std::env::var("HOME").unwrap_or_default();
        let default = imprimatur_policy::default_lookaside(is_root(), &home);
        Ok(StoreOptions::new(registries, default)
            .registry(client.clone())
            .lookaside_http(Arc::new(PlainHttp::new()?)))
    }
}

/// An image, its digest and manifest, and the store of its signatures.
pub(crate) struct Located {
    /// What the user named.
    pub(crate) image: ImageReference,
    /// Digest and manifest bytes.
    pub(crate) resolved: ResolvedImage,
    /// The store.
    pub(crate) store: Arc<dyn SignatureStore>,
}

/// Resolves `image` to its digest and finds its signature store:
/// `docker://` → the store containers/image would use for that repository;
/// `oci:` → the lookaside of `identity` (an OCI layout stores no simple
/// signatures; they live where the image will be pulled from); `dir:` → its
/// `signature-N` files.
pub(crate) async fn locate(
    image: &ImageReference,
    identity: Option<&Reference>,
    client: &RegistryClient,
    options: &StoreOptions,
) -> Result<Located> {
    let resolved = ImageSource::new(image, client)
        .resolve()
        .await
        .with_context(|| format!("resolving {image}"))?;
    let store: Arc<dyn SignatureStore> = match image {
        ImageReference::Docker(r) => store::choose(r, options).await?.store,
        ImageReference::Dir(p) => Arc::new(DirStore::new(p)),
        _ => {
            let Some(identity) = identity else {
                bail!("{image}: give --identity REF: its lookaside holds the signatures");
            };
            let mut o = options.clone();
            o.registry = None;
            store::choose(identity, &o).await?.store
        }
    };
    Ok(Located {
        image: image.clone(),
        resolved,
        store,
    })
}

/// The issuer fingerprint of a signature blob (unverified), as 40 hex.
fn issuer_fingerprint(blob: &[u8]) -> Option<String> {
    use sequoia_openpgp::Packet;
    use sequoia_openpgp::parse::Parse;
    let pile = sequoia_openpgp::PacketPile::from_bytes(blob).ok()?;
    pile.descendants().find_map(|p| match p {
        Packet::Signature(s) => s.issuer_fingerprints().next().map(|f| f.to_hex()),
        _ => None,
    })
}

/// One signature as `signatures list` shows it (claims unverified).
fn describe_signature(s: &StoredSignature) -> serde_json::Value {
    let fingerprint = issuer_fingerprint(&s.blob);
    let (untrusted, error) = match sig::untrusted_dump(&s.blob) {
        Ok(i) => (
            json!({
                "dockerReference": i.docker_reference,
                "dockerManifestDigest": i.docker_manifest_digest,
                "creator": i.creator,
                "timestamp": i.timestamp,
                "shortKeyId": i.short_key_id,
            }),
            serde_json::Value::Null,
        ),
        Err(e) => (serde_json::Value::Null, json!(e.to_string())),
    };
    json!({
        "location": s.location,
        "size": s.blob.len(),
        "fingerprint": fingerprint,
        "untrusted": untrusted,
        "error": error,
    })
}

// ---------------------------------------------------------------------------
// signatures list | copy

/// List and copy the signatures of images where they are stored.
#[derive(Debug, Args)]
pub(crate) struct SignaturesArgs {
    #[command(subcommand)]
    command: SignaturesCommand,
}

#[derive(Debug, Subcommand)]
enum SignaturesCommand {
    List(ListArgs),
    Copy(CopyArgs),
}

/// List the signatures of an image: where each is stored, the fingerprint of
/// the key that made it, and the identity and digest it claims.
///
/// The claims are read WITHOUT verification (anyone can store anything in a
/// lookaside): use `policy check` to decide whether an image is trusted.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur signatures list docker://quay.io/org/app:1.0
  imprimatur signatures list --registries-d ./registries.d --tls-verify=false --json \\
      docker://localhost:5000/org/app:1.0

JSON: {\"image\", \"digest\", \"store\": description of the store,
       \"signatures\": [{\"location\": path, URL or extension signature name,
                       \"size\": bytes,
                       \"fingerprint\": issuer key fingerprint (40 hex) or null,
                       \"untrusted\": {\"dockerReference\", \"dockerManifestDigest\",
                                     \"creator\", \"timestamp\", \"shortKeyId\"} or null,
                       \"error\": why the claims could not be read, or null}]}")]
pub(crate) struct ListArgs {
    /// The image: docker://…, oci:DIR[:TAG] (with --identity) or dir:PATH.
    image: ImageReference,
    /// For oci: images, the docker reference whose lookaside holds the
    /// signatures.
    #[arg(long, value_name = "REF")]
    identity: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Copy every signature of an image from SRC's store to DST's (a mirror
/// keeps its signatures). Both must resolve to the same digest. Signatures
/// already in DST (byte-identical) are skipped, so running it twice adds
/// nothing.
///
/// A signature names the identity it was made for; pulls from the mirror
/// accept it when policy.json maps the mirror to that identity
/// (`signedIdentity: remapIdentity`, or `matchRepository` on the original).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur signatures copy docker://quay.io/org/app:1.0 docker://mirror.example/org/app:1.0
  imprimatur signatures copy --registries-d ./registries.d \\
      docker://registry.example/org/app@sha256:<hex> dir:/srv/export/app")]
pub(crate) struct CopyArgs {
    /// Where the signatures are.
    src: ImageReference,
    /// Where they go.
    dst: ImageReference,
    /// For oci: images, the docker reference whose lookaside is meant.
    #[arg(long, value_name = "REF")]
    identity: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

pub(crate) fn run(args: SignaturesArgs) -> ExitCode {
    crate::exit(match args.command {
        SignaturesCommand::List(a) => list(a),
        SignaturesCommand::Copy(a) => copy(a),
    })
}

fn parse_identity(s: Option<&str>) -> Result<Option<Reference>> {
    s.map(|s| Reference::parse_normalized(s).with_context(|| format!("invalid --identity {s:?}")))
        .transpose()
}

fn list(a: ListArgs) -> Result<()> {
    let identity = parse_identity(a.identity.as_deref())?;
    let client = a.store.registry.client()?;
    let options = a.store.options(&client)?;
    let (located, signatures) = runtime()?.block_on(async {
        let l = locate(&a.image, identity.as_ref(), &client, &options).await?;
        let mut sigs = l
            .store
            .list(&l.resolved.digest)
            .await
            .with_context(|| format!("listing signatures in {}", l.store.describe()))?;
        // Sigstore signatures (registry attachments) after the atomic ones,
        // in containers/image's order.
        sigs.extend(
            crate::sigstore::attachment_signatures(
                &l.image,
                &l.resolved.digest,
                &client,
                &options.registries,
            )
            .await?,
        );
        Ok::<_, anyhow::Error>((l, sigs))
    })?;
    let listed: Vec<serde_json::Value> = signatures
        .iter()
        .map(|s| crate::sigstore::describe(s).unwrap_or_else(|| describe_signature(s)))
        .collect();
    if a.json {
        let j = json!({
            "image": located.image.to_string(),
            "digest": located.resolved.digest.to_string(),
            "store": located.store.describe(),
            "signatures": listed,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!("Image:  {}", located.image);
    println!("Digest: {}", located.resolved.digest);
    println!("Store:  {}", located.store.describe());
    println!(
        "{} signature(s); claims below are NOT verified",
        listed.len()
    );
    for (i, s) in listed.iter().enumerate() {
        println!("{}. {}", i + 1, s["location"].as_str().unwrap_or_default());
        if let Some(kind) = s["kind"].as_str() {
            println!("   kind: {kind}");
        }
        println!(
            "   key fingerprint: {}",
            s["fingerprint"].as_str().unwrap_or("(none)")
        );
        if let Some(u) = s["untrusted"].as_object() {
            println!(
                "   claims (unverified): identity {}, digest {}",
                u["dockerReference"].as_str().unwrap_or_default(),
                u["dockerManifestDigest"].as_str().unwrap_or_default()
            );
        } else {
            println!("   unreadable: {}", s["error"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

fn copy(a: CopyArgs) -> Result<()> {
    let identity = parse_identity(a.identity.as_deref())?;
    let client = a.store.registry.client()?;
    let options = a.store.options(&client)?;
    runtime()?.block_on(async {
        let src = locate(&a.src, identity.as_ref(), &client, &options).await?;
        let dst = locate(&a.dst, identity.as_ref(), &client, &options).await?;
        if src.resolved.digest != dst.resolved.digest {
            bail!(
                "{} is {} but {} is {}: not the same image",
                a.src,
                src.resolved.digest,
                a.dst,
                dst.resolved.digest
            );
        }
        let digest = &src.resolved.digest;
        let sigs = src
            .store
            .list(digest)
            .await
            .with_context(|| format!("listing signatures in {}", src.store.describe()))?;
        let (mut added, mut present) = (0, 0);
        for s in &sigs {
            match dst
                .store
                .add(digest, &s.blob)
                .await
                .with_context(|| format!("writing to {}", dst.store.describe()))?
            {
                Added::Stored { location } => {
                    added += 1;
                    println!("copied {} -> {location}", s.location);
                }
                Added::AlreadyPresent { location } => {
                    present += 1;
                    println!("present {location}");
                }
                _ => {}
            }
        }
        println!(
            "{} signature(s) of {digest}: {added} copied, {present} already in {}",
            sigs.len(),
            dst.store.describe()
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// sign IMAGE

/// The IMAGE form of `sign`: arguments beside the key options.
#[derive(Debug, Clone, Args)]
pub(crate) struct SignImageArgs {
    /// Images to sign where they live: docker://… (tagged: signed for that
    /// reference) or oci:DIR[:TAG] (with --identity). Each is resolved to its
    /// digest; the signature goes to the store containers/image reads.
    #[arg(value_name = "IMAGE")]
    pub(crate) images: Vec<ImageReference>,
    /// The identity to sign for (a docker reference with tag or digest);
    /// required for untagged and oci: images; one image only.
    #[arg(long, value_name = "REF")]
    pub(crate) identity: Option<String>,
    /// Images signed at once (one connection pool for all).
    #[arg(long = "image-jobs", value_name = "N", default_value_t = 8)]
    pub(crate) image_jobs: usize,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// The identity a signature of `image` claims.
pub(crate) fn identity_for(
    image: &ImageReference,
    identity: Option<&Reference>,
) -> Result<Reference> {
    if let Some(r) = identity {
        if r.is_name_only() {
            bail!("--identity {r} needs a tag or digest");
        }
        return Ok(r.clone());
    }
    match image {
        ImageReference::Docker(r) if r.tag().is_some() => Ok(r.clone()),
        ImageReference::Docker(r) if r.digest().is_none() => Ok(r.with_default_tag()),
        _ => Err(anyhow!(
            "{image}: give --identity REF (the reference the signature is for)"
        )),
    }
}

/// Signs every image and publishes the signatures, `image_jobs` at a time
/// over one registry client (its connections and tokens are shared); prints
/// identity, digest and location per image, in the order given.
pub(crate) fn sign_images(args: &SignImageArgs, signer: sig::Signer) -> Result<()> {
    let client = args.store.registry.client()?;
    let options = Arc::new(args.store.options(&client)?);
    let signer = Arc::new(signer);
    for_each_image(args, "signing", move |image, identity, timestamp| {
        let (client, options, signer) = (client.clone(), options.clone(), signer.clone());
        async move {
            sign_one(
                &image,
                identity.as_ref(),
                &client,
                &options,
                &signer,
                timestamp,
            )
            .await
        }
    })
}

/// Runs `work` for every image of `args`, `image_jobs` at a time, with the
/// `--identity` (one image only) and one signing timestamp for all; prints
/// each image's line in the order given, every error on stderr, and fails
/// with the first error. Shared by the atomic and the sigstore signers.
pub(crate) fn for_each_image<F, Fut>(
    args: &SignImageArgs,
    what: &'static str,
    work: F,
) -> Result<()>
where
    F: Fn(ImageReference, Option<Reference>, i64) -> Fut,
    Fut: std::future::Future<Output = Result<String>> + Send + 'static,
{
    let identity = parse_identity(args.identity.as_deref())?;
    if identity.is_some() && args.images.len() > 1 {
        bail!("--identity applies to one image");
    }
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    let permits = Arc::new(tokio::sync::Semaphore::new(args.image_jobs.max(1)));
    let results: Vec<Result<String>> = runtime()?.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, image) in args.images.iter().cloned().enumerate() {
            let permits = permits.clone();
            let job = work(image.clone(), identity.clone(), timestamp);
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (i, job.await.with_context(|| format!("{what} {image}")))
            });
        }
        let mut out: Vec<Option<Result<String>>> = args.images.iter().map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => out[i] = Some(r),
                Err(e) => return vec![Err(anyhow!("signing task failed: {e}"))],
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(anyhow!("not signed"))))
            .collect()
    });
    let mut failed = None;
    for r in results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

async fn sign_one(
    image: &ImageReference,
    identity: Option<&Reference>,
    client: &RegistryClient,
    options: &StoreOptions,
    signer: &sig::Signer,
    timestamp: i64,
) -> Result<String> {
    let claimed = identity_for(image, identity)?;
    let located = locate(image, Some(&claimed), client, options).await?;
    let digest: &Digest = &located.resolved.digest;
    let payload = sig::Payload::for_image(&claimed, digest, timestamp);
    let blob = signer.sign(&payload)?;
    let added = located
        .store
        .add(digest, &blob)
        .await
        .with_context(|| format!("publishing to {}", located.store.describe()))?;
    let what = if added.is_new() {
        "stored"
    } else {
        "already present"
    };
    Ok(format!(
        "{claimed} {digest} {what}: {} ({})",
        added.location(),
        located.store.describe()
    ))
}

// ---------------------------------------------------------------------------
// policy check IMAGE

/// What `policy check` evaluates for a `docker://` or `oci:` image: the
/// policy's view of the image, its manifest, and the signature blobs from
/// its store.
pub(crate) fn policy_input(
    image: &str,
    identity: Option<&str>,
    registries_d: Option<&Path>,
    registry: &RegistryArgs,
) -> Result<(imprimatur_policy::PolicyImage, Vec<u8>, Vec<Vec<u8>>)> {
    let image: ImageReference = image.parse().map_err(|e| anyhow!("{e}"))?;
    let identity = parse_identity(identity)?;
    let store_args = StoreArgs {
        registries_d: registries_d.map(Path::to_path_buf),
        registry: registry.clone(),
    };
    let client = registry.client()?;
    let options = store_args.options(&client)?;
    let (located, signatures) = runtime()?.block_on(async {
        let l = locate(&image, identity.as_ref(), &client, &options).await?;
        let sigs = match (&image, &identity) {
            // An OCI layout holds no simple signatures; only an identity
            // names a lookaside to read.
            (ImageReference::OciLayout { .. }, None) => Vec::new(),
            // Blobs that are not signatures go to the evaluator, which
            // rejects them one by one (as skopeo's policy does) instead of
            // failing the whole check.
            _ => l
                .store
                .list_unclassified(&l.resolved.digest)
                .await
                .with_context(|| format!("reading signatures from {}", l.store.describe()))?,
        };
        let mut sigs = sigs;
        sigs.extend(
            crate::sigstore::attachment_signatures(
                &image,
                &l.resolved.digest,
                &client,
                &options.registries,
            )
            .await?,
        );
        Ok::<_, anyhow::Error>((l, sigs))
    })?;
    let target = match &image {
        ImageReference::Docker(r) => imprimatur_policy::PolicyImage::docker(r),
        ImageReference::OciLayout { dir, tag } => {
            // containers/image's oci transport: identity "<resolved dir>:<tag>",
            // namespaces the directory and its parents.
            let dir = std::fs::canonicalize(dir)
                .with_context(|| format!("oci:{}", dir.display()))?
                .to_string_lossy()
                .into_owned();
            match tag {
                Some(t) => {
                    let mut p =
                        imprimatur_policy::PolicyImage::path_like("oci", &format!("{dir}:{t}"));
                    p.namespaces.insert(0, dir);
                    p
                }
                None => imprimatur_policy::PolicyImage::path_like("oci", &dir),
            }
        }
        other => bail!("{other}: policy check takes docker:// and oci: images here"),
    };
    Ok((
        target,
        located.resolved.manifest.to_vec(),
        signatures.into_iter().map(|s| s.blob).collect(),
    ))
}
