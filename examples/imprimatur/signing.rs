//! `keygen`, `sign` and `verify`: atomic ("simple signing") signatures that
//! skopeo / containers/image accept, made and checked in process with
//! `imprimatur-signature`.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use imprimatur_reference::{Digest, Reference};
use imprimatur_registry::store::LookasideStore;
use imprimatur_signature as sig;

/// Largest file we read as a manifest, key, passphrase or list (untrusted
/// input is bounded).
const MAX_FILE: u64 = 64 << 20;

// ---------------------------------------------------------------------------
// keygen

/// Generate an OpenPGP key for signing container images.
///
/// The primary key itself is signing-capable and is the key that signs
/// (skopeo 1.9.3's `signedBy` rejects signatures made by subkeys). The
/// fingerprint is printed on stdout. The secret key file is written with mode
/// 0600, atomically, and is never overwritten unless `--force` is given.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  imprimatur keygen --userid 'Release Signer <release@example.com>' \\
      --secret-key-out signer.key --public-key-out signer.pub
  # -> prints the fingerprint, e.g. 3A4F...C0DE

The public key (armored) is what verifiers trust: `imprimatur verify
--public-key signer.pub`, `gpg --import signer.pub` for skopeo, or the keyPath
of a signedBy policy.json requirement.")]
pub(crate) struct KeygenArgs {
    /// User ID of the key, e.g. 'Name <email>'.
    #[arg(long, value_name = "USERID", required_unless_present = "sigstore")]
    userid: Option<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = Cipher::Ed25519)]
    cipher: Cipher,
    /// Protect the secret key with the passphrase in this file (first line).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Where to write the secret key (armored, mode 0600).
    #[arg(long, value_name = "FILE", required_unless_present = "sigstore")]
    secret_key_out: Option<PathBuf>,
    /// Where to write the public certificate (armored).
    #[arg(long, value_name = "FILE")]
    public_key_out: PathBuf,
    /// Overwrite existing output files.
    #[arg(long)]
    force: bool,
    /// `--sigstore`: a sigstore (cosign) key pair instead.
    #[command(flatten)]
    sigstore: crate::sigstore::KeygenSigstoreArgs,
}

/// Key algorithms for `keygen`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Cipher {
    /// Ed25519 (EdDSA): small, fast, the default.
    Ed25519,
    /// RSA 2048 bits.
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// RSA 4096 bits.
    Rsa4096,
}

pub(crate) fn keygen(args: KeygenArgs) -> ExitCode {
    report(keygen_inner(args))
}

fn keygen_inner(args: KeygenArgs) -> Result<()> {
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    if args.sigstore.sigstore {
        return crate::sigstore::keygen(
            &args.sigstore,
            &args.public_key_out,
            passphrase,
            args.force,
        );
    }
    let (Some(userid), Some(secret_key_out)) = (&args.userid, &args.secret_key_out) else {
        bail!("--userid and --secret-key-out are required (or --sigstore)");
    };
    for out in [secret_key_out, &args.public_key_out] {
        if !args.force && out.exists() {
            bail!("{} exists; use --force to overwrite it", out.display());
        }
    }
    let key =
        sig::generate_key(keygen_options(userid, args.cipher)).context("generating the key")?;
    let secret = key
        .secret_armored(passphrase.as_ref().map(sig::Passphrase::expose))
        .context("exporting the secret key")?;
    let public = key.public_armored().context("exporting the public key")?;
    write_atomic(secret_key_out, secret.as_ref(), 0o600, args.force)
        .with_context(|| format!("writing {}", secret_key_out.display()))?;
    write_atomic(&args.public_key_out, public.as_ref(), 0o644, args.force)
        .with_context(|| format!("writing {}", args.public_key_out.display()))?;
    println!("{}", key.fingerprint());
    Ok(())
}

fn keygen_options(userid: &str, cipher: Cipher) -> sig::KeyGenOptions {
    let cipher = match cipher {
        Cipher::Ed25519 => sig::Cipher::Ed25519,
        Cipher::Rsa2048 => sig::Cipher::Rsa2048,
        Cipher::Rsa3072 => sig::Cipher::Rsa3072,
        Cipher::Rsa4096 => sig::Cipher::Rsa4096,
    };
    sig::KeyGenOptions::new(userid).cipher(cipher)
}

// ---------------------------------------------------------------------------
// sign

/// Sign container images: one signature file, or thousands into a lookaside
/// directory.
///
/// A signature binds a manifest digest to a docker reference (the identity
/// that policies check). Give the manifest (its digest is computed as
/// containers/image does, schema-1 signatures stripped) or the digest itself.
/// The reference is normalized (`busybox:1` signs `docker.io/library/busybox:1`).
///
/// With `--batch LIST --output-dir DIR`, each non-blank, non-`#` line of LIST
/// is `REFERENCE DIGEST`; every signature is written to
/// `DIR/<repository path>@<algo>=<hex>/signature-<N>` (the first free N,
/// created atomically: concurrent runs never overwrite each other), using every
/// core. DIR can then be served as a `file://` (or http) lookaside named in
/// registries.d.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur sign --key signer.key --reference registry.example.com/app:1.0 \\
      --manifest manifest.json --output app.sig
  imprimatur sign --key signer.key --passphrase-file pass.txt \\
      --reference quay.io/org/app:2 --digest sha256:<64 hex> --output app.sig

  # bulk, for a mirror: LIST has lines like
  #   registry.example.com/mirror/busybox:1.36 sha256:<64 hex>
  imprimatur sign --key signer.key --batch LIST --output-dir /srv/lookaside

  # images where they live: resolved to their digests, signatures published
  # to the store containers/image reads (registry extension API or the
  # registries.d lookaside):
  imprimatur sign --key signer.key docker://registry.example.com/app:1.0 \\
      docker://registry.example.com/app:1.1
  imprimatur sign --key signer.key --identity registry.example.com/app:2 oci:/srv/layout:2
  # registries.d/mirror.yaml:
  #   docker:
  #     registry.example.com:
  #       lookaside: file:///srv/lookaside")]
pub(crate) struct SignArgs {
    /// Secret key file (armored or binary; e.g. `gpg --export-secret-keys
    /// --armor` or `imprimatur keygen` output).
    #[arg(long, value_name = "FILE", required_unless_present = "sigstore_key")]
    key: Option<PathBuf>,
    /// Passphrase of the secret key: the first line of this file.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Docker reference to sign for (the identity), e.g. quay.io/org/app:1.
    #[arg(
        long,
        value_name = "REF",
        required_unless_present_any = ["batch", "images"],
        conflicts_with = "batch"
    )]
    reference: Option<String>,
    /// Manifest file whose digest is signed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["digest", "batch"])]
    manifest: Option<PathBuf>,
    /// Manifest digest to sign (sha256:<hex>), instead of --manifest.
    #[arg(long, value_name = "DIGEST", conflicts_with = "batch")]
    digest: Option<String>,
    /// Signature file to write (binary OpenPGP, as skopeo writes).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["batch", "images"],
        conflicts_with = "batch"
    )]
    output: Option<PathBuf>,
    /// Sign every `REFERENCE DIGEST` line of this file (`-` for stdin).
    #[arg(long, value_name = "LIST", requires = "output_dir")]
    batch: Option<PathBuf>,
    /// Lookaside directory that --batch writes into.
    #[arg(long, value_name = "DIR", requires = "batch")]
    output_dir: Option<PathBuf>,
    /// Worker threads for --batch (default: every core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Hash algorithm of the OpenPGP signature.
    #[arg(long, value_enum, default_value_t = HashArg::Sha256)]
    hash: HashArg,
    /// Compress the signed message (ZIP), as gpg does by default; costs time,
    /// saves ~75 bytes. Both forms are accepted by skopeo.
    #[arg(long)]
    compress: bool,
    /// No progress on stderr during --batch.
    #[arg(long, short)]
    quiet: bool,
    /// The IMAGE form: resolve images and publish their signatures.
    #[command(flatten)]
    image: crate::signatures::SignImageArgs,
    /// Sigstore signatures (IMAGE form only), alone or beside --key.
    #[command(flatten)]
    sigstore: crate::sigstore::SignSigstoreArgs,
}

/// Signature hash algorithms.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HashArg {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

pub(crate) fn sign(args: SignArgs) -> ExitCode {
    report(sign_inner(args))
}

fn sign_inner(args: SignArgs) -> Result<()> {
    let sigstore_key = crate::sigstore::key_for_sign(
        &args.sigstore,
        args.key.is_some(),
        args.passphrase_file.as_deref(),
    )?;
    if sigstore_key.is_some() && args.image.images.is_empty() {
        bail!("--sigstore-key signs images where they live: give IMAGE");
    }
    let Some(key_path) = args.key.clone() else {
        let key = sigstore_key.ok_or_else(|| anyhow!("--key or --sigstore-key is required"))?;
        return crate::sigstore::sign_images(&args.image, key);
    };
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let key_bytes = read_bounded(&key_path)?;
    let secret = sig::SecretKey::from_bytes(&key_bytes)
        .with_context(|| format!("loading the secret key {}", key_path.display()))?;
    let hash = match args.hash {
        HashArg::Sha256 => sig::HashAlgo::Sha256,
        HashArg::Sha512 => sig::HashAlgo::Sha512,
    };
    let build_signer = || -> Result<sig::Signer> {
        sig::Signer::builder(&secret)
            .hash(hash)
            .compressed(args.compress)
            .passphrase_opt(passphrase.as_ref().map(sig::Passphrase::expose))
            .build()
            .with_context(|| format!("unlocking the secret key {}", key_path.display()))
    };

    if !args.image.images.is_empty() {
        if args.reference.is_some() || args.output.is_some() || args.batch.is_some() {
            bail!("IMAGE signs images where they live: not with --reference, --output or --batch");
        }
        crate::signatures::sign_images(&args.image, build_signer()?)?;
        if let Some(key) = sigstore_key {
            crate::sigstore::sign_images(&args.image, key)?;
        }
        return Ok(());
    }

    if let (Some(list), Some(dir)) = (&args.batch, &args.output_dir) {
        // Validate the whole list before unlocking the key or writing.
        let items = read_batch_list(list)?;
        let signer = build_signer()?;
        return sign_batch(&items, dir, args.jobs, args.quiet, &signer);
    }

    // Single signature. clap guarantees reference and output here.
    let reference = args
        .reference
        .as_deref()
        .ok_or_else(|| anyhow!("--reference is required"))?;
    let output = args
        .output
        .as_deref()
        .ok_or_else(|| anyhow!("--output is required"))?;
    let reference = parse_reference(reference)?;
    let digest = match (&args.manifest, &args.digest) {
        (Some(m), None) => {
            let bytes = read_bounded(m)?;
            sig::manifest_digest(&bytes)
                .with_context(|| format!("computing the digest of {}", m.display()))?
        }
        (None, Some(d)) => parse_digest(d)?,
        _ => bail!("give exactly one of --manifest and --digest"),
    };
    if reference.is_name_only() {
        eprintln!(
            "warning: {reference} has no tag or digest; policies matching a tagged image \
             (matchRepoDigestOrExact) will not accept this signature"
        );
    }
    let signer = build_signer()?;
    let payload = sig::Payload::for_image(&reference, &digest, unix_now());
    let blob = signer.sign(&payload).context("signing")?;
    write_atomic(output, &blob, 0o644, true)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// One line of a batch list.
#[derive(Debug)]
struct BatchItem {
    reference: Reference,
    digest: Digest,
}

fn read_batch_list(path: &Path) -> Result<Vec<BatchItem>> {
    let text = if path.as_os_str() == "-" {
        // Bounded by what is read: one byte past the limit is an error, not
        // a silently truncated list.
        let mut s = String::new();
        io::Read::read_to_string(&mut io::Read::take(io::stdin(), MAX_FILE + 1), &mut s)
            .context("reading the list from stdin")?;
        if s.len() as u64 > MAX_FILE {
            bail!("the list on stdin is larger than {} MiB", MAX_FILE >> 20);
        }
        s
    } else {
        String::from_utf8(read_bounded(path)?)
            .with_context(|| format!("{} is not UTF-8", path.display()))?
    };
    parse_batch_list(&text).map_err(|errors| {
        let shown: Vec<String> = errors
            .iter()
            .take(20)
            .map(|(line, e)| format!("{}:{line}: {e}", path.display()))
            .collect();
        let more = errors.len().saturating_sub(shown.len());
        let mut msg = shown.join("\n");
        if more > 0 {
            msg.push_str(&format!("\n… and {more} more invalid lines"));
        }
        anyhow!("{msg}\nnothing was signed")
    })
}

/// Parses a batch list; on failure, every bad line with its 1-based number.
fn parse_batch_list(text: &str) -> Result<Vec<BatchItem>, Vec<(usize, String)>> {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [r, d] = fields[..] else {
            errors.push((
                i + 1,
                format!("expected `REFERENCE DIGEST`, found {} fields", fields.len()),
            ));
            continue;
        };
        match (parse_reference(r), parse_digest(d)) {
            (Ok(reference), Ok(digest)) => items.push(BatchItem { reference, digest }),
            (Err(e), _) | (_, Err(e)) => errors.push((i + 1, format!("{e:#}"))),
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(errors)
    }
}

/// Adds one signature to the `file://` lookaside at `root` through the
/// registry crate: the first free `signature-N` by exclusive link (never a
/// partial file, never an overwrite), an identical one not written twice, at
/// most 128 per image. Not synced one by one: [`sign_batch`] syncs the file
/// system once at the end (an fsync per signature costs ~10x the signing).
fn store_in_lookaside(root: &Path, item: &BatchItem, blob: &[u8]) -> Result<()> {
    LookasideStore::file(root, &item.reference)
        .sync(false)
        .add_blocking(&item.digest, blob)?;
    Ok(())
}

fn sign_batch(
    items: &[BatchItem],
    out: &Path,
    jobs: Option<usize>,
    quiet: bool,
    signer: &sig::Signer,
) -> Result<()> {
    let total = items.len();
    let jobs = jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, total.max(1));
    let timestamp = unix_now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                // Counted even if the worker panics, so progress ends.
                let _finished = CountOnDrop(&finished);
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let payload = sig::Payload::for_image(&item.reference, &item.digest, timestamp);
                    let result = signer
                        .sign(&payload)
                        .map_err(anyhow::Error::from)
                        .and_then(|blob| store_in_lookaside(out, item, &blob));
                    match result {
                        Ok(_) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(format!("{} {}: {e:#}", item.reference, item.digest));
                            }
                        }
                    }
                }
            });
        }
        // Progress for long runs: a line every two seconds.
        if !quiet {
            let tty = io::stderr().is_terminal();
            let mut last = Instant::now();
            let mut printed = false;
            while finished.load(Ordering::Acquire) < jobs {
                if last.elapsed() >= Duration::from_secs(2) {
                    last = Instant::now();
                    let n = done.load(Ordering::Relaxed);
                    let rate = n as f64 / started.elapsed().as_secs_f64();
                    let end = if tty { "\r" } else { "\n" };
                    eprint!("signed {n}/{total} ({rate:.0}/s){end}");
                    printed = true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if printed && tty {
                eprintln!();
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let errors = errors.into_inner().unwrap_or_default();
    // What was written is made durable in one go, even after an error.
    let synced = if n > 0 {
        imprimatur_registry::files::sync_filesystem(out)
            .with_context(|| format!("syncing {}", out.display()))
    } else {
        Ok(())
    };
    if let Some(first) = errors.first() {
        bail!("{first}\nstopped after signing {n} of {total}");
    }
    synced?;
    let rate = if elapsed > 0.0 {
        n as f64 / elapsed
    } else {
        f64::INFINITY
    };
    println!(
        "signed {n} of {total} in {elapsed:.3} s ({rate:.0} signatures/s, {jobs} threads) into {}",
        out.display()
    );
    let _ = io::stdout().flush();
    Ok(())
}

/// Increments its counter when dropped.
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------
// verify

/// Verify a signature as `skopeo standalone-verify` does.
///
/// The signature must be made by one of the keys in the --public-key files
/// (or, with --fingerprint, by exactly that key), sign the digest of the
/// manifest (or the --digest given), and name the expected reference: both
/// are normalized and must then be equal, with no default tag added
/// (`busybox:latest` matches `docker.io/library/busybox:latest`, `busybox`
/// does not). Exits 0 and prints `Signature verified using fingerprint <FPR>,
/// digest <DIGEST>`, or exits 1 with the reason on stderr.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  imprimatur verify --public-key signer.pub \\
      --reference registry.example.com/app:1.0 --manifest manifest.json app.sig
  # Signature verified using fingerprint 3A4F...C0DE, digest sha256:...

Signatures made by skopeo (standalone-sign, copy --sign-by) verify too: give
the signer's `gpg --export` (armored or binary) as --public-key.")]
pub(crate) struct VerifyArgs {
    /// Public key file(s) (armored or binary, one or several certificates).
    #[arg(long, value_name = "FILE", required = true)]
    public_key: Vec<PathBuf>,
    /// Accept only signatures by this key (40 hex digits, as skopeo's
    /// KEY-FINGERPRINT). Without it, any key of the --public-key files.
    #[arg(long, value_name = "FPR")]
    fingerprint: Option<String>,
    /// The docker reference the signature must name.
    #[arg(long, value_name = "REF")]
    reference: String,
    /// The manifest whose digest must be signed.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "digest",
        conflicts_with = "digest"
    )]
    manifest: Option<PathBuf>,
    /// The digest that must be signed, instead of --manifest.
    #[arg(long, value_name = "DIGEST")]
    digest: Option<String>,
    /// Attribute a subkey's signature to the subkey only, as skopeo 1.9.3
    /// does (by default a signature made by a subkey counts for its primary
    /// key, as newer containers/image do).
    #[arg(long)]
    exact_signer: bool,
    /// The signature file.
    #[arg(value_name = "SIGNATURE_FILE")]
    signature: PathBuf,
}

pub(crate) fn verify(args: VerifyArgs) -> ExitCode {
    match verify_inner(&args) {
        Ok((fpr, digest)) => {
            println!("Signature verified using fingerprint {fpr}, digest {digest}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error verifying signature: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn verify_inner(args: &VerifyArgs) -> Result<(String, String)> {
    // The expected reference is checked first, as skopeo does.
    // (verify_standalone parses it again; this only orders the errors.)
    Reference::parse_normalized(&args.reference)
        .with_context(|| format!("invalid reference {:?}", args.reference))?;
    let mut keys = sig::TrustedKeys::new();
    for f in &args.public_key {
        keys.add_bytes(&read_bounded(f)?)
            .with_context(|| format!("loading the public keys in {}", f.display()))?;
    }
    let accepted = match args.fingerprint.as_deref() {
        Some(f) => vec![
            sig::Fingerprint::parse(f).with_context(|| format!("invalid --fingerprint {f:?}"))?,
        ],
        None => keys.primary_fingerprints().to_vec(),
    };
    let blob = read_bounded(&args.signature)?;
    let verifier = sig::Verifier::new(&keys).subkey_attribution(if args.exact_signer {
        sig::SubkeyAttribution::Strict
    } else {
        sig::SubkeyAttribution::Primary
    });
    match (&args.manifest, &args.digest) {
        (Some(m), None) => {
            let manifest = read_bounded(m)?;
            let v =
                sig::verify_standalone(&verifier, &manifest, &args.reference, &accepted, &blob)?;
            Ok((v.fingerprint.to_string(), v.digest.to_string()))
        }
        (None, Some(d)) => {
            let digest = parse_digest(d)?;
            let v = sig::verify_standalone_digest(
                &verifier,
                &digest,
                &args.reference,
                &accepted,
                &blob,
            )?;
            Ok((v.fingerprint.to_string(), v.digest.to_string()))
        }
        _ => bail!("give exactly one of --manifest and --digest"),
    }
}

// ---------------------------------------------------------------------------
// helpers

fn report(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn parse_reference(s: &str) -> Result<Reference> {
    Reference::parse_normalized(s).with_context(|| format!("invalid reference {s:?}"))
}

fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).with_context(|| format!("invalid digest {s:?}"))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads a whole file, refusing files over [`MAX_FILE`].
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(f, MAX_FILE + 1), &mut buf)
        .with_context(|| format!("reading {}", path.display()))?;
    if buf.len() as u64 > MAX_FILE {
        bail!("{} is larger than {} MiB", path.display(), MAX_FILE >> 20);
    }
    Ok(buf)
}

/// The first line of a passphrase file, without its line ending (as skopeo's
/// --passphrase-file). The file's bytes are wiped once the line is copied.
pub(crate) fn read_passphrase(path: &Path) -> Result<sig::Passphrase> {
    // A Passphrase around the whole file, so the buffer is wiped on drop.
    let whole = sig::Passphrase::new(
        String::from_utf8(read_bounded(path)?)
            .map_err(|_| anyhow!("{} is not UTF-8", path.display()))?,
    );
    let line = whole.expose().lines().next().unwrap_or("");
    Ok(sig::Passphrase::from(
        line.strip_suffix('\r').unwrap_or(line),
    ))
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// with `mode` from the start (so a secret never exists with wider
/// permissions), then renames it into place (or links it, when `overwrite` is
/// false, so an existing file is never replaced).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> Result<()> {
    let options = imprimatur_registry::files::WriteOptions::new()
        .mode(mode)
        .overwrite(overwrite)
        .create_dirs(false);
    imprimatur_registry::files::write_atomic(path, bytes, &options)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn batch_list_skips_blanks_and_comments_and_numbers_errors() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!(
            "# mirror\n\n  busybox:1 {d}\nquay.io/x/y:2\t{d}  \nBAD {d}\nx:1 sha256:zz\none\n"
        );
        let errs = parse_batch_list(&text).unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5, 6, 7]);
        let ok = parse_batch_list(&text.lines().take(4).collect::<Vec<_>>().join("\n")).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].reference.to_string(), "docker.io/library/busybox:1");
        assert_eq!(ok[1].digest.to_string(), d);
    }

    #[test]
    fn passphrase_is_first_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pass");
        fs::write(&p, "s3cret\r\nsecond line\n").unwrap();
        assert_eq!(read_passphrase(&p).unwrap().expose(), "s3cret");
        assert!(!format!("{:?}", read_passphrase(&p).unwrap()).contains("s3cret"));
        fs::write(&p, "").unwrap();
        assert_eq!(read_passphrase(&p).unwrap().expose(), "");
    }

    #[test]
    fn write_atomic_sets_mode_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        write_atomic(&p, b"one", 0o600, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(write_atomic(&p, b"two", 0o600, false).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"three", 0o600, true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }
}
