//! Pulling an image into a root filesystem in one pass: each layer is
//! downloaded, digest-checked, decompressed and unpacked as it streams, with
//! no copy of the blob on disk.
//!
//! The download runs on the async runtime; the unpacker (synchronous, `*at`
//! system calls) runs on a blocking thread; a bounded channel between them
//! keeps memory flat whatever the layer size.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::{Buf as _, Bytes};
use imprimatur_reference::Digest;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::image::{Descriptor, Manifest, Platform};
use crate::source::{ImageSource, ResolvedImage};
use crate::unpack::{Compression, LayerSummary, Unpacker, open_root};

/// Chunks buffered between a layer's download and its unpacking (about
/// 16 × the registry's chunk size, typically 8–64 KiB each).
const CHANNEL_CHUNKS: usize = 64;

/// Progress of a pull, for a progress bar or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullEvent {
    /// The platform image was chosen; `layers` will follow.
    Started {
        /// The image's digest (the platform image).
        image: Digest,
        /// How many layers.
        layers: usize,
        /// Their total compressed size.
        total_bytes: u64,
    },
    /// Some bytes of a layer arrived.
    Progress {
        /// Which layer (0-based).
        layer: usize,
        /// Bytes of this layer so far.
        bytes: u64,
    },
    /// A layer was unpacked.
    LayerDone {
        /// Which layer (0-based).
        layer: usize,
        /// What the unpacker did.
        summary: LayerSummary,
    },
}

/// What [`unpack_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnpackedImage {
    /// The digest the reference resolved to.
    pub digest: Digest,
    /// The digest of the platform image that was unpacked.
    pub image_digest: Digest,
    /// One summary per layer, lowest first.
    pub layers: Vec<LayerSummary>,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(PullEvent) + Send + Sync>;

/// Unpacks the image `resolved` (for `platform`, when it is an index) into
/// `dest`, which is created and must not exist (its parent must). On any
/// error `dest` is removed again: nothing half-unpacked is left, and nothing
/// is ever written beside it.
pub async fn unpack_image(
    source: &ImageSource,
    resolved: &ResolvedImage,
    platform: &Platform,
    unpacker: &Unpacker,
    dest: &Path,
    progress: Option<ProgressFn>,
) -> Result<UnpackedImage> {
    let (image, manifest) = source.image_manifest(resolved, platform).await?;
    let layers =
        unpack_manifest(source, &image.digest, &manifest, unpacker, dest, progress).await?;
    Ok(UnpackedImage {
        digest: resolved.digest.clone(),
        image_digest: image.digest,
        layers,
    })
}

/// Unpacks the layers of an image manifest already fetched (with
/// [`ImageSource::image_manifest`]) into `dest`, as [`unpack_image`] does:
/// for callers that look at the manifest first (say, at the layers' sizes to
/// choose where to unpack) without fetching it twice. `image` is the digest
/// of that manifest, for progress and errors.
pub async fn unpack_manifest(
    source: &ImageSource,
    image: &Digest,
    manifest: &Manifest,
    unpacker: &Unpacker,
    dest: &Path,
    progress: Option<ProgressFn>,
) -> Result<Vec<LayerSummary>> {
    std::fs::create_dir(dest).map_err(|e| Error::io("create directory", dest, e))?;
    let result = unpack_layers(source, &manifest.layers, unpacker, dest, progress, image).await;
    if result.is_err() {
        // std's remove_dir_all does not follow symlinks (openat/unlinkat).
        let _ = std::fs::remove_dir_all(dest);
    }
    result
}

async fn unpack_layers(
    source: &ImageSource,
    layers: &[Descriptor],
    unpacker: &Unpacker,
    dest: &Path,
    progress: Option<ProgressFn>,
    image: &Digest,
) -> Result<Vec<LayerSummary>> {
    let emit = |event: PullEvent| {
        if let Some(p) = &progress {
            p(event);
        }
    };
    emit(PullEvent::Started {
        image: image.clone(),
        layers: layers.len(),
        total_bytes: layers.iter().map(|l| l.size).sum(),
    });
    let root = Arc::new(open_root(dest).map_err(|e| Error::Unpack {
        layer: image.clone(),
        source: e,
    })?);
    let mut summaries = Vec::with_capacity(layers.len());
    for (index, layer) in layers.iter().enumerate() {
        let compression =
            Compression::from_media_type(&layer.media_type).map_err(|e| Error::Unpack {
                layer: layer.digest.clone(),
                source: e,
            })?;
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let worker = {
            let unpacker = unpacker.clone();
            let root = root.clone();
            let digest = layer.digest.clone();
            tokio::task::spawn_blocking(move || {
                unpacker.unpack_layer(&*root, ChannelReader::new(rx), compression, &digest)
            })
        };
        let mut received = 0u64;
        let download = source
            .blob(layer, |chunk| {
                received += chunk.len() as u64;
                emit(PullEvent::Progress {
                    layer: index,
                    bytes: received,
                });
                let tx = tx.clone();
                async move {
                    // A closed channel means the unpacker stopped: its own
                    // error says why.
                    tx.send(chunk)
                        .await
                        .map_err(|_| Error::Aborted("unpacker stopped".into()))
                }
            })
            .await;
        drop(tx);
        let unpacked = worker
            .await
            .map_err(|e| Error::Aborted(format!("unpacking worker failed: {e}")))?;
        let summary = match (download, unpacked) {
            (Ok(_), Ok(summary)) => summary,
            // The unpacker's error explains a closed channel.
            (Err(Error::Aborted(_)), Err(e)) | (Ok(_), Err(e)) => {
                return Err(Error::Unpack {
                    layer: layer.digest.clone(),
                    source: e,
                });
            }
            (Err(e), _) => return Err(e),
        };
        emit(PullEvent::LayerDone {
            layer: index,
            summary: summary.clone(),
        });
        summaries.push(summary);
    }
    Ok(summaries)
}

/// A `Read` over chunks arriving on a channel; the end of the channel is the
/// end of the stream.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
