//! `policy check` and `policy lint`: evaluate an image against a
//! `policy.json` with a full explanation, and find foot-guns in the files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use imprimatur_policy::{DecisionView, Evaluator, Image, LintView, PolicyImage, Purpose};
use imprimatur_registry::files as pfs;
use imprimatur_signature::SubkeyAttribution;

use crate::trust::{DEFAULT_POLICY, DEFAULT_REGISTRIES_D};

/// Largest manifest or signature file read.
const MAX_FILE: u64 = 16 << 20;

/// Check images against a policy and lint policy files.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

// Parsed once per process: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum PolicyCommand {
    Check(CheckArgs),
    Lint(LintArgs),
}

/// Decide whether a policy allows an image, and explain why: the scope
/// chosen, each requirement, and for each signature why it was accepted or
/// rejected. Exit status: 0 allowed, 1 denied, 2 configuration error.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # A skopeo `dir:` image (manifest.json, signature-1, signature-2, …):
  imprimatur policy check --policy /etc/containers/policy.json dir:/tmp/img
  # A docker image given as files (no signature = unsigned):
  imprimatur policy check --policy policy.json --reference quay.io/org/app:1 \\
      --manifest manifest.json --signature sig-1 --signature sig-2
  # An image where it lives, its signatures from where nodes read them:
  imprimatur policy check --policy policy.json --registries-d /etc/containers/registries.d \\
      docker://quay.io/org/app:1
  # Machine-readable:
  imprimatur policy check --policy policy.json --json dir:/tmp/img")]
pub(crate) struct CheckArgs {
    /// policy.json to evaluate.
    #[arg(long, value_name = "P", default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// registries.d directory (validated; its lookaside for the image is shown).
    #[arg(long = "registries-d", value_name = "DIR")]
    registries_d: Option<PathBuf>,
    /// Docker reference of the image (docker transport).
    #[arg(
        long,
        value_name = "REF",
        requires = "manifest",
        conflicts_with = "image"
    )]
    reference: Option<String>,
    /// Manifest file of the image (with --reference).
    #[arg(long, value_name = "FILE", requires = "reference")]
    manifest: Option<PathBuf>,
    /// Signature file (binary OpenPGP as stored); repeatable, in order.
    #[arg(long, value_name = "FILE", requires = "reference")]
    signature: Vec<PathBuf>,
    /// Like skopeo 1.9.3: a signature made by a subkey is not accepted for
    /// its primary key (default: accepted, as newer containers/image do).
    #[arg(long)]
    strict_subkeys: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// The image: dir:PATH, docker://REF or oci:DIR[:TAG] (signatures read
    /// from the store containers/image uses: the registry's extension API or
    /// the registries.d lookaside).
    #[arg(value_name = "IMAGE", required_unless_present = "reference")]
    image: Option<String>,
    /// For oci: images, the docker reference whose lookaside holds the
    /// signatures.
    #[arg(long, value_name = "REF", requires = "image")]
    identity: Option<String>,
    #[command(flatten)]
    registry: crate::registry_args::RegistryArgs,
}

/// Validate policy.json (and registries.d) and warn about foot-guns:
/// relative key paths, missing key files, lookaside URLs without a scheme
/// (they crash skopeo 1.9.3), insecureAcceptAnything as the default, scopes
/// that can never match, options skopeo 1.9.3 does not know.
/// Exit status: 0 valid (warnings may be printed), 1 warnings with
/// --deny-warnings, 2 invalid.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur policy lint --policy /etc/containers/policy.json --registries-d /etc/containers/registries.d
  imprimatur policy lint --policy policy.json --json")]
pub(crate) struct LintArgs {
    /// policy.json to check.
    #[arg(long, value_name = "P", default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// registries.d directory to check.
    #[arg(long = "registries-d", value_name = "DIR", default_value = DEFAULT_REGISTRIES_D)]
    registries_d: PathBuf,
    /// Exit 1 when there are warnings.
    #[arg(long)]
    deny_warnings: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: PolicyArgs) -> ExitCode {
    match args.command {
        PolicyCommand::Check(a) => match check(a) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("imprimatur policy check: {e:#}");
                ExitCode::from(2)
            }
        },
        PolicyCommand::Lint(a) => match lint(a) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("imprimatur policy lint: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    Ok(pfs::read_limited(path, MAX_FILE)?)
}

/// Reads a skopeo `dir:` image: `manifest.json` (optional: a missing one
/// only matters to signedBy) and `signature-1`, `-2`, … up to the first gap.
/// A `dir:` image read from disk: resolved path, manifest, signatures.
type DirImage = (String, Option<Vec<u8>>, Vec<Vec<u8>>);

fn read_dir_image(path: &str) -> Result<DirImage> {
    let dir = std::fs::canonicalize(path).with_context(|| format!("dir:{path}"))?;
    let manifest = match read_bounded(&dir.join("manifest.json")) {
        Ok(m) => Some(m),
        Err(_) if !dir.join("manifest.json").exists() => None,
        Err(e) => return Err(e),
    };
    // signature-1, -2, … up to the first gap, at most 128, through the
    // registry crate's one dir: reader; blobs are judged by the evaluator.
    let sigs = imprimatur_registry::store::DirStore::new(&dir)
        .list_unclassified_blocking()?
        .into_iter()
        .map(|s| s.blob)
        .collect();
    Ok((dir.to_string_lossy().into_owned(), manifest, sigs))
}

fn check(a: CheckArgs) -> Result<bool> {
    let policy = pfs::load_policy(&a.policy)?;
    let registries = a
        .registries_d
        .as_deref()
        .map(pfs::load_registries_dir)
        .transpose()?;
    let (target, manifest, sigs) = if let Some(r) = &a.reference {
        let target = PolicyImage::parse_docker(r)?;
        let manifest = a.manifest.as_deref().map(read_bounded).transpose()?;
        let sigs = a
            .signature
            .iter()
            .map(|p| read_bounded(p))
            .collect::<Result<Vec<_>>>()?;
        (target, manifest, sigs)
    } else {
        let image = a
            .image
            .as_deref()
            .ok_or_else(|| anyhow!("an IMAGE or --reference is required"))?;
        match image.split_once(':') {
            Some(("dir", path)) => {
                let (resolved, manifest, sigs) = read_dir_image(path)?;
                (PolicyImage::dir(&resolved), manifest, sigs)
            }
            Some(("docker" | "oci", _)) => {
                let (target, manifest, sigs) = crate::signatures::policy_input(
                    image,
                    a.identity.as_deref(),
                    a.registries_d.as_deref(),
                    &a.registry,
                )?;
                (target, Some(manifest), sigs)
            }
            _ => bail!(
                "unsupported image {image:?}: use dir:PATH, docker://REF, oci:DIR[:TAG] or --reference"
            ),
        }
    };
    let mut ev = Evaluator::new(policy, pfs::FsKeyLoader);
    if a.strict_subkeys {
        ev = ev.subkey_attribution(SubkeyAttribution::Strict);
    }
    let image = Image::new(
        target.clone(),
        manifest.as_deref(),
        sigs.iter().map(Vec::as_slice).collect(),
    );
    let decision = ev.evaluate(&image);
    let lookaside = match (&registries, &target.docker_reference) {
        (Some(reg), Some(r)) => reg.lookaside_for(r, Purpose::Read),
        _ => None,
    };
    let view = DecisionView::new(&decision).with_lookaside(lookaside);
    if a.json {
        println!("{}", crate::trust::to_json_text(&view)?);
    } else {
        print!("{decision}");
        if let Some(l) = &view.lookaside {
            println!(
                "  lookaside: {} (registries.d {} in {})",
                l.url, l.scope, l.file
            );
        }
    }
    Ok(decision.allowed)
}

// ---------------------------------------------------------------------------
// lint

fn lint(a: LintArgs) -> Result<u8> {
    let policy = pfs::load_policy(&a.policy)?;
    let reg = pfs::load_registries_dir(&a.registries_d)?;
    let findings = imprimatur_policy::lint(&policy, &reg, &|p| Path::new(p).exists());
    if a.json {
        println!("{}", crate::trust::to_json_text(&LintView::new(&findings))?);
    } else {
        for f in &findings {
            println!("{f}");
        }
        println!(
            "{} and {} are valid ({} warning{})",
            a.policy.display(),
            a.registries_d.display(),
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if a.deny_warnings && !findings.is_empty() {
        1
    } else {
        0
    })
}
