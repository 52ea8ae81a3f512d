//! `inspect` and `unpack`: images where they live (`docker://`, `oci:`,
//! `dir:`), read by `imprimatur-registry`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use clap::Args;
use imprimatur::registry::unpack::{OwnerLedger, Unpacker};
use imprimatur::registry::{
    ImageReference, ImageSource, Platform, PullEvent, inspect, unpack_image,
};

use crate::registry_args::{RegistryArgs, runtime};

/// Show an image: the digest its reference resolves to, platforms, layers, labels.
///
/// IMAGE is docker://HOST/REPO[:TAG|@DIGEST], oci:DIR[:TAG] or dir:PATH. The
/// digest shown is what signatures name (for a multi-platform image, the
/// index's digest, as skopeo); the rest describes the image for --platform.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur inspect docker://quay.io/org/app:1.0
  imprimatur inspect --json --tls-verify=false docker://localhost:5000/app:1.0
  imprimatur inspect --platform linux/arm64 oci:/srv/layout:1.0

--json prints skopeo inspect's field names where they overlap (Name, Digest,
Created, Labels, Architecture, Os, Layers), plus MediaType, ImageDigest,
Platforms and LayersData.")]
pub(crate) struct InspectArgs {
    /// The image.
    image: ImageReference,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Platform to describe in a multi-platform image (OS/ARCH[/VARIANT]).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<Platform>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Unpack an image into DIR as its root filesystem.
///
/// DIR is created (its parent must exist) and must not exist yet. Layers are
/// downloaded, digest-checked, decompressed and unpacked in one pass. No entry
/// can write outside DIR (every path is resolved beneath it with
/// openat2(RESOLVE_IN_ROOT)); whiteouts are applied; device nodes are never
/// created unless --devices is given (and only as root); owners are kept when
/// run as root (as another user, --owners-db records them for fakeroot). On
/// any error DIR is removed again.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur unpack docker://quay.io/org/app:1.0 /tmp/app-rootfs
  imprimatur unpack --tls-verify=false docker://localhost:5000/app:1.0 rootfs
  imprimatur unpack oci:/srv/layout:1.0 rootfs
  # as non-root: the image's owners seen through fakeroot
  imprimatur unpack --owners-db owners.db oci:/srv/layout:1.0 rootfs
  fakeroot -i owners.db -- ls -ln rootfs/etc/shadow")]
pub(crate) struct UnpackArgs {
    /// The image.
    image: ImageReference,
    /// The directory to create.
    dir: PathBuf,
    /// Platform to unpack from a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<Platform>,
    /// Create character and block devices (needs root).
    #[arg(long)]
    devices: bool,
    /// Write the owner, group and mode the layers give every entry, by
    /// inode, as a fakeroot database (`fakeroot -i FILE` shows them): for
    /// unpacking as a user who cannot give files their owners. Written
    /// atomically; an existing FILE is replaced.
    #[arg(long, value_name = "FILE")]
    owners_db: Option<PathBuf>,
    /// Print what was unpacked as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub(crate) fn inspect_cmd(args: InspectArgs) -> ExitCode {
    crate::exit(run_inspect(args))
}

pub(crate) fn unpack_cmd(args: UnpackArgs) -> ExitCode {
    crate::exit(run_unpack(args))
}

fn run_inspect(args: InspectArgs) -> Result<()> {
    let client = args.registry.client()?;
    let source = ImageSource::new(&args.image, &client);
    let platform = args.platform.unwrap_or_else(Platform::current);
    let (_, info) = runtime()?
        .block_on(inspect(&source, &platform))
        .with_context(|| format!("inspecting {}", args.image))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info)?;
        writeln!(out)?;
        return Ok(());
    }
    if !info.name.is_empty() {
        writeln!(out, "Name:         {}", info.name)?;
    }
    writeln!(out, "Digest:       {}", info.digest)?;
    writeln!(out, "MediaType:    {}", info.media_type)?;
    if info.image_digest != info.digest {
        writeln!(out, "ImageDigest:  {}", info.image_digest)?;
    }
    if !info.platforms.is_empty() {
        writeln!(out, "Platforms:    {}", info.platforms.join(", "))?;
    }
    let variant = info
        .variant
        .as_deref()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    writeln!(
        out,
        "Platform:     {}/{}{variant}",
        info.os, info.architecture
    )?;
    if let Some(created) = &info.created {
        writeln!(out, "Created:      {created}")?;
    }
    writeln!(out, "Layers:       {}", info.layers.len())?;
    for l in &info.layers_data {
        writeln!(out, "  {}  {:>12}  {}", l.digest, l.size, l.mime_type)?;
    }
    if !info.labels.is_empty() {
        writeln!(out, "Labels:")?;
        for (k, v) in &info.labels {
            writeln!(out, "  {k}={v}")?;
        }
    }
    Ok(())
}

fn run_unpack(args: UnpackArgs) -> Result<()> {
    let client = args.registry.client()?;
    let source = ImageSource::new(&args.image, &client);
    let platform = args.platform.unwrap_or_else(Platform::current);
    let owners = args.owners_db.as_ref().map(|_| OwnerLedger::new());
    let mut unpacker = Unpacker::builder().allow_devices(args.devices);
    if let Some(ledger) = &owners {
        unpacker = unpacker.record_owners(ledger.clone());
    }
    let unpacker = unpacker.build();
    let progress = std::io::stderr().is_terminal().then(progress_bar);
    let rt = runtime()?;
    let unpacked = rt
        .block_on(async {
            let resolved = source.resolve().await?;
            unpack_image(
                &source, &resolved, &platform, &unpacker, &args.dir, progress,
            )
            .await
        })
        .with_context(|| format!("unpacking {} into {}", args.image, args.dir.display()))?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    if let (Some(path), Some(ledger)) = (&args.owners_db, &owners) {
        let mut db = Vec::new();
        ledger.write_fakeroot_db(&mut db)?;
        let options = imprimatur::registry::files::WriteOptions::new()
            .mode(0o644)
            .overwrite(true)
            .create_dirs(false);
        imprimatur::registry::files::write_atomic(path, &db, &options)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        let layers: Vec<_> = unpacked
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "digest": l.digest.to_string(),
                    "compression": l.compression.to_string(),
                    "compressedBytes": l.compressed_bytes,
                    "uncompressedBytes": l.uncompressed_bytes,
                    "entries": l.entries,
                    "whiteouts": l.whiteouts,
                    "skippedDevices": l.skipped_devices,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "digest": unpacked.digest.to_string(),
            "imageDigest": unpacked.image_digest.to_string(),
            "rootfs": args.dir,
            "layers": layers,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let entries: u64 = unpacked.layers.iter().map(|l| l.entries).sum();
        let bytes: u64 = unpacked.layers.iter().map(|l| l.uncompressed_bytes).sum();
        let skipped: u64 = unpacked.layers.iter().map(|l| l.skipped_devices).sum();
        println!(
            "unpacked {} ({} layers, {entries} entries, {} MB) into {}",
            unpacked.image_digest,
            unpacked.layers.len(),
            bytes / 1_000_000,
            args.dir.display()
        );
        if skipped > 0 {
            println!("skipped {skipped} device nodes (use --devices as root to create them)");
        }
    }
    Ok(())
}

/// A one-line progress display on stderr (only when it is a terminal).
fn progress_bar() -> imprimatur::registry::pull::ProgressFn {
    let total = Arc::new(AtomicU64::new(0));
    let done_before = Arc::new(AtomicU64::new(0));
    let current = Arc::new(AtomicU64::new(0));
    Arc::new(move |event| match event {
        PullEvent::Started { total_bytes, .. } => total.store(total_bytes, Ordering::Relaxed),
        PullEvent::Progress { bytes, .. } => {
            let prev = current.swap(bytes, Ordering::Relaxed);
            let sofar = done_before.load(Ordering::Relaxed) + bytes;
            // Redraw about every MiB.
            if bytes / (1 << 20) != prev / (1 << 20) {
                let all = total.load(Ordering::Relaxed).max(1);
                eprint!(
                    "\r{:>5.1} / {:.1} MB ({:>3}%)",
                    sofar as f64 / 1e6,
                    all as f64 / 1e6,
                    sofar * 100 / all
                );
            }
        }
        PullEvent::LayerDone { summary, .. } => {
            done_before.fetch_add(summary.compressed_bytes, Ordering::Relaxed);
            current.store(0, Ordering::Relaxed);
        }
        _ => {}
    })
}
