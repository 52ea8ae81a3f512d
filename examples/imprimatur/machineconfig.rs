//! `trust machineconfig`: the trust files `trust set` wrote, as an OpenShift
//! MachineConfig (or a plain tree with --bundle). The MachineConfig itself is
//! built by `imprimatur_policy::machine_config`; this reads files and prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use imprimatur_policy::{
    MAX_NODE_FILE_BYTES, MAX_POLICY_BYTES, MAX_REGISTRIES_FILE_BYTES, NODE_POLICY_PATH,
    NODE_REGISTRIES_D, NodeFile, Policy, is_config_file_name, machine_config, referenced_key_files,
};

use crate::trust::{DEFAULT_POLICY, DEFAULT_REGISTRIES_D};

/// Print an OpenShift MachineConfig that installs this trust on a pool's
/// nodes: /etc/containers/policy.json, every registries.d/*.yaml file under
/// /etc/containers/registries.d/, and every key file the policy names
/// (keyPath, keyPaths, sigstore …Path options) at that same path, mode 0644,
/// byte for byte. GPG (simple signing) trust cannot be expressed by
/// ClusterImagePolicy; this is how it reaches CRI-O.
///
/// Key paths in the policy must be absolute: they are the paths on the nodes.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur trust set --policy-path policy.json --registries-d registries.d \\
      --type signedBy --pubkeys /etc/pki/containers/release.gpg \\
      --lookaside https://sigs.example/sigstore registry.example.com
  imprimatur trust machineconfig --policy-path policy.json --registries-d registries.d \\
      --role worker > 99-worker-imprimatur-trust.yaml
  oc apply -f 99-worker-imprimatur-trust.yaml

  # The same files as a tree (DIR/etc/containers/policy.json, ...), for other clusters:
  imprimatur trust machineconfig --policy-path policy.json --registries-d registries.d \\
      --bundle ./node-trust")]
pub(crate) struct MachineConfigArgs {
    /// policy.json to install.
    #[arg(long, value_name = "P", default_value = DEFAULT_POLICY)]
    policy_path: PathBuf,
    /// registries.d directory whose *.yaml files are installed.
    #[arg(long = "registries-d", value_name = "DIR", default_value = DEFAULT_REGISTRIES_D)]
    registries_d: PathBuf,
    /// The Machine Config Pool role (label machineconfiguration.openshift.io/role).
    #[arg(long, value_name = "ROLE", required_unless_present = "bundle")]
    role: Option<String>,
    /// The MachineConfig's name (default 99-ROLE-imprimatur-trust).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Write the files under DIR (DIR/etc/containers/…) instead of printing a
    /// MachineConfig.
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
}

/// Reads a file, refusing more than `max` bytes.
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}", path.display()))?;
    if bytes.len() > max {
        bail!("{}: larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

/// The files a node needs, read from this machine.
fn node_files(a: &MachineConfigArgs) -> Result<Vec<NodeFile>> {
    let policy_bytes = read_bounded(&a.policy_path, MAX_POLICY_BYTES)?;
    let policy = Policy::from_json(&policy_bytes, &a.policy_path.display().to_string())?;
    let mut files = vec![NodeFile::new(NODE_POLICY_PATH, policy_bytes)];

    if a.registries_d.exists() {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&a.registries_d)
            .with_context(|| format!("{}", a.registries_d.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && is_config_file_name(&name) {
                names.push(name);
            } else {
                eprintln!(
                    "imprimatur trust machineconfig: skipping {} (containers/image reads only *.yaml files)",
                    entry.path().display()
                );
            }
        }
        names.sort();
        for name in names {
            let bytes = read_bounded(&a.registries_d.join(&name), MAX_REGISTRIES_FILE_BYTES)?;
            files.push(NodeFile::new(format!("{NODE_REGISTRIES_D}/{name}"), bytes));
        }
    }

    for key in referenced_key_files(&policy) {
        if !key.starts_with('/') {
            bail!(
                "{}: key file {key:?} is relative; a node needs an absolute path (run trust set with an absolute --pubkeys path)",
                a.policy_path.display()
            );
        }
        let bytes = read_bounded(Path::new(&key), MAX_NODE_FILE_BYTES)
            .with_context(|| format!("key file named by {}", a.policy_path.display()))?;
        files.push(NodeFile::new(key, bytes));
    }
    Ok(files)
}

pub(crate) fn run(a: MachineConfigArgs) -> Result<()> {
    let files = node_files(&a)?;
    let role = a.role.as_deref().unwrap_or("worker");
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("99-{role}-imprimatur-trust"));
    // Validates names, paths and sizes for the bundle too.
    let mc = machine_config(&name, role, &files)?;
    match &a.bundle {
        None => {
            print!("{}", serde_saphyr::to_string(&mc)?);
        }
        Some(dir) => {
            for file in &files {
                let path = dir.join(file.path.trim_start_matches('/'));
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("{}", parent.display()))?;
                }
                std::fs::write(&path, &file.contents)
                    .with_context(|| format!("{}", path.display()))?;
                eprintln!("{}", path.display());
            }
        }
    }
    Ok(())
}
