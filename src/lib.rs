//! Imprimatur: an open toolkit for container image trust.
//!
//! This facade re-exports the workspace crates so that an application can
//! depend on one crate and pick one OpenPGP crypto backend through features
//! (`crypto-nettle`, the default; `crypto-openssl`; `crypto-rust`).
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`reference`](mod@crate::reference) | `imprimatur-reference` | docker references and digests, normalized as containers/image does |
//! | [`signature`] | `imprimatur-signature` | atomic ("simple signing") signatures: payload, sign, verify, keys |
//! | [`sigstore`] | `imprimatur-sigstore` | key-based sigstore (cosign) signatures: keys, payload, sign, verify, attachments |
//! | [`arf`] | `imprimatur-arf` | OpenSCAP ARF / XCCDF / OVAL results: streaming parser, summaries, gates, reports |
//! | [`policy`] | `imprimatur-policy` | `policy.json` and `registries.d`: model, parse, generate, evaluate, explain |
//! | [`service`] | `imprimatur-service` | the scanning and signing service: requests, OpenSCAP scanner, scan-gate-sign-publish-verify pipeline |
//! | [`registry`] | `imprimatur-registry` | images where they live (registries, OCI layouts, `dir:`), safe unpacking, signature stores |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use imprimatur_arf as arf;
pub use imprimatur_policy as policy;
pub use imprimatur_reference as reference;
pub use imprimatur_registry as registry;
pub use imprimatur_service as service;
pub use imprimatur_signature as signature;
pub use imprimatur_sigstore as sigstore;
