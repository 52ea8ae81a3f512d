//! Delivering trust to nodes: the files a node needs (`policy.json`, the
//! `registries.d` files, every key file the policy names) and the OpenShift
//! `MachineConfig` that writes them. GPG ("simple signing") trust cannot be
//! expressed by OpenShift's ClusterImagePolicy, so it reaches CRI-O as these
//! files.
//!
//! Pure functions over bytes: the caller reads the files (`imprimatur trust
//! machineconfig` does) and decides where the result goes.
//!
//! ```
//! use base64::Engine as _;
//! use imprimatur_policy::{NodeFile, Policy, machine_config, referenced_key_files};
//!
//! let policy = br#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/acme":
//!     [{"type":"signedBy","keyType":"GPGKeys","keyPath":"/etc/pki/containers/acme.gpg"}]}}}"#;
//! let keys = referenced_key_files(&Policy::from_json(policy, "policy.json")?);
//! assert_eq!(keys, ["/etc/pki/containers/acme.gpg"]);
//!
//! let files = [
//!     NodeFile::new("/etc/containers/policy.json", policy.to_vec()),
//!     NodeFile::new("/etc/pki/containers/acme.gpg", b"KEY".to_vec()),
//! ];
//! let mc = machine_config("99-worker-imprimatur-trust", "worker", &files)?;
//! assert_eq!(mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"], "worker");
//! let file = &mc["spec"]["config"]["storage"]["files"][1];
//! assert_eq!(file["path"], "/etc/pki/containers/acme.gpg");
//! assert_eq!(file["mode"], 420);
//! assert_eq!(file["contents"]["source"], "data:;base64,S0VZ");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::model::{KeySource, Policy, Requirement};

/// Where CRI-O and podman read the policy on a node.
pub const NODE_POLICY_PATH: &str = "/etc/containers/policy.json";
/// Where they read `registries.d` files on a node.
pub const NODE_REGISTRIES_D: &str = "/etc/containers/registries.d";
/// The Ignition config version of the generated MachineConfig (OpenShift ≥ 4.6).
pub const IGNITION_VERSION: &str = "3.2.0";
/// The mode of every file written: 0644.
pub const NODE_FILE_MODE: u32 = 0o644;
/// The largest file accepted (Ignition configs live in etcd, which limits an
/// object to about 1.5 MiB).
pub const MAX_NODE_FILE_BYTES: usize = 512 * 1024;

/// One file for a node: an absolute path and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    /// The absolute path on the node.
    pub path: String,
    /// The bytes, unchanged.
    pub contents: Vec<u8>,
}

impl NodeFile {
    /// A file at `path` with `contents`.
    pub fn new(path: impl Into<String>, contents: Vec<u8>) -> NodeFile {
        NodeFile {
            path: path.into(),
            contents,
        }
    }
}

/// Why a MachineConfig cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeTrustError {
    /// The name is not a DNS subdomain (what Kubernetes requires).
    #[error(
        "MachineConfig name {0:?}: expected a DNS subdomain (lowercase letters, digits, '-', '.'; at most 253)"
    )]
    Name(String),
    /// The role is not a label value Machine Config Pools select on.
    #[error("role {0:?}: expected a label value such as worker, master or infra")]
    Role(String),
    /// A path is not absolute, or has `.`/`..` components.
    #[error("{0:?}: a node file path must be absolute and normalized")]
    Path(String),
    /// The same path twice with different bytes.
    #[error("{0}: given twice with different contents")]
    Conflict(String),
    /// A file too large for a MachineConfig.
    #[error("{path}: {len} bytes, more than {max} for a MachineConfig file")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        len: usize,
        /// [`MAX_NODE_FILE_BYTES`].
        max: usize,
    },
}

/// Every file the policy names that a node must have: `keyPath`/`keyPaths`
/// of `signedBy`, and of `sigstoreSigned` every `…Path`/`…Paths` option
/// (`keyPath(s)`, `rekorPublicKeyPath(s)`, `fulcio.caPath`,
/// `pki.caRootsPath`, …). Sorted, without duplicates; inline key data
/// (`keyData`) needs no file.
pub fn referenced_key_files(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let lists = std::iter::once(&policy.default).chain(
        policy
            .transports
            .values()
            .flat_map(|scopes| scopes.values()),
    );
    for list in lists {
        for requirement in list {
            match requirement {
                Requirement::SignedBy(s) => match &s.keys {
                    KeySource::Path(p) => out.push(p.clone()),
                    KeySource::Paths(ps) => out.extend(ps.iter().cloned()),
                    _ => {}
                },
                Requirement::SigstoreSigned(s) => {
                    for (key, value) in &s.fields {
                        path_options(key, value, &mut out);
                    }
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The file paths of an option named `…Path` (a string) or `…Paths` (strings),
/// looking inside objects (`fulcio`, `pki`).
fn path_options(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if key.ends_with("Path") => out.push(s.clone()),
        Value::Array(items) if key.ends_with("Paths") => {
            out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Value::Object(map) => {
            for (k, v) in map {
                path_options(k, v, out);
            }
        }
        _ => {}
    }
}

/// An OpenShift `MachineConfig` (`machineconfiguration.openshift.io/v1`)
/// for the pool `role` whose Ignition config ([`IGNITION_VERSION`]) writes
/// `files`, mode 0644, overwriting, contents as `data:;base64,…` of the exact
/// bytes. Files are sorted by path; the same path twice is accepted only
/// with the same bytes.
pub fn machine_config(name: &str, role: &str, files: &[NodeFile]) -> Result<Value, NodeTrustError> {
    if !is_dns_subdomain(name) {
        return Err(NodeTrustError::Name(name.to_owned()));
    }
    if !is_label_value(role) {
        return Err(NodeTrustError::Role(role.to_owned()));
    }
    let mut by_path: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for file in files {
        if !is_absolute_normalized(&file.path) {
            return Err(NodeTrustError::Path(file.path.clone()));
        }
        if file.contents.len() > MAX_NODE_FILE_BYTES {
            return Err(NodeTrustError::TooLarge {
                path: file.path.clone(),
                len: file.contents.len(),
                max: MAX_NODE_FILE_BYTES,
            });
        }
        if let Some(old) = by_path.insert(&file.path, &file.contents)
            && old != file.contents.as_slice()
        {
            return Err(NodeTrustError::Conflict(file.path.clone()));
        }
    }
    let entries: Vec<Value> = by_path
        .into_iter()
        .map(|(path, bytes)| {
            json!({
                "path": path,
                "mode": NODE_FILE_MODE,
                "overwrite": true,
                "contents": {
                    "source": format!(
                        "data:;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(bytes)
                    )
                }
            })
        })
        .collect();
    Ok(json!({
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": {
            "name": name,
            "labels": {"machineconfiguration.openshift.io/role": role}
        },
        "spec": {
            "config": {
                "ignition": {"version": IGNITION_VERSION},
                "storage": {"files": entries}
            }
        }
    }))
}

/// The bytes of a `data:` URL source as [`machine_config`] writes them
/// (`data:;base64,…`), for checking a MachineConfig.
pub fn decode_data_url(source: &str) -> Option<Vec<u8>> {
    let b64 = source.strip_prefix("data:;base64,")?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn is_absolute_normalized(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !path.contains('\0')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_label_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_of_every_requirement_kind() {
        let policy = Policy::from_json(
            br#"{
            "default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k/default.gpg"}],
            "transports": {
                "docker": {
                    "a.example/x": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/k/b.gpg", "/k/a.gpg"]}],
                    "b.example/y": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "S0VZ"}],
                    "c.example/z": [{"type": "sigstoreSigned", "keyPath": "/k/cosign.pub"}],
                    "d.example/w": [{"type": "sigstoreSigned", "keyPaths": ["/k/c1.pub", "/k/a.gpg"]}],
                    "e.example/v": [{"type": "insecureAcceptAnything"}]
                }
            }
        }"#,
            "policy.json",
        )
        .unwrap();
        assert_eq!(
            referenced_key_files(&policy),
            [
                "/k/a.gpg",
                "/k/b.gpg",
                "/k/c1.pub",
                "/k/cosign.pub",
                "/k/default.gpg"
            ]
        );
    }

    #[test]
    fn nested_sigstore_paths() {
        let mut out = Vec::new();
        path_options(
            "fulcio",
            &json!({"caPath": "/ca.pem", "oidcIssuer": "https://x", "subjectEmail": "a@b"}),
            &mut out,
        );
        path_options("rekorPublicKeyPaths", &json!(["/r1", "/r2"]), &mut out);
        path_options("keyData", &json!("S0VZ"), &mut out);
        assert_eq!(out, ["/ca.pem", "/r1", "/r2"]);
    }

    #[test]
    fn machine_config_shape_and_exact_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mc = machine_config(
            "99-worker-trust",
            "worker",
            &[
                NodeFile::new("/etc/pki/b.gpg", bytes.clone()),
                NodeFile::new(NODE_POLICY_PATH, b"{}\n".to_vec()),
                NodeFile::new("/etc/pki/b.gpg", bytes.clone()),
            ],
        )
        .unwrap();
        assert_eq!(mc["apiVersion"], "machineconfiguration.openshift.io/v1");
        assert_eq!(mc["kind"], "MachineConfig");
        assert_eq!(mc["metadata"]["name"], "99-worker-trust");
        assert_eq!(mc["spec"]["config"]["ignition"]["version"], "3.2.0");
        let files = mc["spec"]["config"]["storage"]["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "duplicates with equal bytes merged");
        assert_eq!(files[0]["path"], NODE_POLICY_PATH);
        assert_eq!(files[1]["path"], "/etc/pki/b.gpg");
        for f in files {
            assert_eq!(f["mode"], 420);
            assert_eq!(f["overwrite"], true);
        }
        assert_eq!(
            decode_data_url(files[1]["contents"]["source"].as_str().unwrap()).unwrap(),
            bytes
        );
    }

    #[test]
    fn machine_config_refusals() {
        let f = |p: &str| NodeFile::new(p, b"x".to_vec());
        assert_eq!(
            machine_config("Bad_Name", "worker", &[]),
            Err(NodeTrustError::Name("Bad_Name".into()))
        );
        assert_eq!(
            machine_config("ok", "work er", &[]),
            Err(NodeTrustError::Role("work er".into()))
        );
        for bad in [
            "relative.gpg",
            "/etc/../x",
            "/etc//x",
            "/etc/./x",
            "/",
            "/etc/",
        ] {
            assert_eq!(
                machine_config("ok", "worker", &[f(bad)]),
                Err(NodeTrustError::Path(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            machine_config(
                "ok",
                "worker",
                &[f("/a"), NodeFile::new("/a", b"y".to_vec())]
            ),
            Err(NodeTrustError::Conflict("/a".into()))
        );
        assert!(matches!(
            machine_config(
                "ok",
                "worker",
                &[NodeFile::new("/a", vec![0; MAX_NODE_FILE_BYTES + 1])]
            ),
            Err(NodeTrustError::TooLarge { .. })
        ));
        assert_eq!(decode_data_url("data:text/plain,abc"), None);
    }
}
