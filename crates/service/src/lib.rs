//! The scanning and signing service: `ImageScanningRequest` and
//! `ImageSigningRequest` (compatible with the predecessor's
//! `cop.redhat.com/v1alpha2`), the OpenSCAP scanner, and the pipeline that
//! scans, gates, signs, publishes and verifies, usable without any cluster.
//!
//! - [`request`]: the request types and their parsing.
//! - [`status`]: phase, typed conditions merged by type, scan counts.
//! - [`content`]: choosing SCAP content from the image's `/etc/os-release`.
//! - [`scanner`]: OpenSCAP on an unpacked image (`oscap-chroot` semantics).
//! - [`image_streams`]: `imageStreamTag` resolution and publishing,
//!   pluggable (the controller's OpenShift image API).
//! - [`pipeline`]: resolve → scan → gate → sign → publish → verify.
//! - [`keys`]: where signing keys come from.
//! - [`scratch`]: where scratch roots go (memory when the image fits).
//! - [`freshness`]: scan freshness (`maxScanAge`, reuse of a passed scan,
//!   rescans, new findings): the controller's decisions, without I/O.
//! - [`scan_result`]: a scan's result handed back from a Job (framed log
//!   payload checked against the termination message).
//! - `crd` (feature `kube`): the custom resources and their CRDs.
//! - `scan_job` (feature `kube`): the Job that scans one request at one digest.
//!
//! The signed digest is always the scanned digest, a failed gate writes no
//! signature, and running a request twice leaves one signature.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod content;
#[cfg(feature = "kube")]
pub mod crd;
pub mod error;
mod fakeroot;
pub mod freshness;
pub mod image_streams;
pub mod keys;
mod locks;
pub mod pipeline;
mod process_group;
pub mod request;
#[cfg(feature = "kube")]
pub mod scan_job;
pub mod scan_result;
pub mod scanner;
mod schema;
pub mod scratch;
pub mod status;

pub use error::{Error, Result};
pub use keys::{KeyDir, KeyProvider, SecretKeys};
pub use pipeline::{PassedScan, Pipeline, PipelineEvent, RunOutput, Step};
pub use request::{ImageScanningRequestSpec, ImageSigningRequestSpec, Request};
pub use scanner::{ScanOptions, ScanOutput, Scanner};
pub use scratch::ScratchDir;
pub use status::{Condition, ConditionType, Phase, RequestStatus};
