//! `policy check` and `policy lint`: evaluate an image against a
//! `policy.json` with a full explanation, and find foot-guns in the files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use imprimatur_policy::{
    Evaluator, Image, KeySource, Policy, PolicyImage, Purpose, RegistriesConfig, Requirement,
};
use imprimatur_reference::Reference;
use imprimatur_registry::files as pfs;
use imprimatur_signature::SubkeyAttribution;
use serde_json::json;

use crate::trust::{DEFAULT_POLICY, DEFAULT_REGISTRIES_D};

/// Largest manifest or signature file read.
const MAX_FILE: u64 = 16 << 20;

/// Check images against a policy and lint policy files.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

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
    let mut sigs = Vec::new();
    for i in 1..=imprimatur_policy::lookaside::MAX_SIGNATURES + 1 {
        let p = dir.join(format!("signature-{i}"));
        if !p.exists() {
            break;
        }
        if i > imprimatur_policy::lookaside::MAX_SIGNATURES {
            bail!(
                "{}: more than {} signatures",
                dir.display(),
                imprimatur_policy::lookaside::MAX_SIGNATURES
            );
        }
        sigs.push(read_bounded(&p)?);
    }
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
        (Some(reg), Some(r)) => reg.lookaside_for(r, Purpose::Read).map(|c| {
            json!({"url": c.url, "scope": c.scope.unwrap_or_else(|| "default-docker".to_owned()), "file": c.file})
        }),
        _ => None,
    };
    if a.json {
        let mut j = decision.to_json();
        j["lookaside"] = lookaside.unwrap_or(serde_json::Value::Null);
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print!("{decision}");
        if let Some(l) = lookaside {
            println!(
                "  lookaside: {} (registries.d {} in {})",
                l["url"].as_str().unwrap_or_default(),
                l["scope"].as_str().unwrap_or_default(),
                l["file"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(decision.allowed)
}

// ---------------------------------------------------------------------------
// lint

struct Finding {
    location: String,
    message: String,
}

/// Why a docker scope can never match, if it can't.
fn docker_scope_problem(scope: &str) -> Option<String> {
    if scope.is_empty() {
        return None;
    }
    if let Some(rest) = scope.strip_prefix("*.") {
        if rest.contains(':') || rest.contains('/') {
            return Some("wildcard scopes are matched against the host without port or path; this one never matches".to_owned());
        }
        return if rest.split('.').all(|l| !l.is_empty()) {
            None
        } else {
            Some("malformed wildcard scope".to_owned())
        };
    }
    if !scope.contains('/') {
        // A registry host (with optional port) is a namespace of its images.
        let host_ok = !scope.is_empty()
            && scope.split(':').next().is_some_and(|h| {
                h.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
            });
        if host_ok {
            if !scope.contains('.') && !scope.contains(':') && scope != "localhost" {
                return Some(format!(
                    "matches only images on a registry host named {scope:?}; for the Docker Hub repository use \"docker.io/library/{scope}\""
                ));
            }
            return None;
        }
    }
    match Reference::parse_normalized(scope) {
        Err(e) => Some(format!("not a docker reference ({e}); never matches")),
        Ok(r) => {
            let canonical = if r.is_name_only() {
                r.name()
            } else {
                r.to_string()
            };
            if canonical == scope {
                None
            } else {
                Some(format!(
                    "scopes are compared with fully-qualified names; this never matches, use {canonical:?}"
                ))
            }
        }
    }
}

fn lint_requirements(loc: &str, reqs: &[Requirement], out: &mut Vec<Finding>) {
    for (i, r) in reqs.iter().enumerate() {
        let at = format!("{loc}[{i}]");
        match r {
            Requirement::SignedBy(sb) => {
                if sb.key_type != imprimatur_policy::KeyType::GpgKeys {
                    out.push(Finding {
                        location: at.clone(),
                        message: format!(
                            "keyType {} is not implemented: every image is denied",
                            sb.key_type.as_str()
                        ),
                    });
                }
                let paths: Vec<&String> = match &sb.keys {
                    KeySource::Path(p) => vec![p],
                    KeySource::Paths(ps) => {
                        if ps.is_empty() {
                            out.push(Finding {
                                location: at.clone(),
                                message: "keyPaths is empty: \"No public keys imported\", every image is denied".to_owned(),
                            });
                        }
                        ps.iter().collect()
                    }
                    KeySource::Data(d) => {
                        if imprimatur_signature::TrustedKeys::from_bytes(d)
                            .map(|k| k.is_empty())
                            .unwrap_or(true)
                        {
                            out.push(Finding {
                                location: at.clone(),
                                message: "keyData contains no public key: every image is denied"
                                    .to_owned(),
                            });
                        }
                        vec![]
                    }
                    _ => vec![],
                };
                for p in paths {
                    if !p.starts_with('/') {
                        out.push(Finding {
                            location: at.clone(),
                            message: format!("relative key path {p:?} is resolved against the working directory of each tool"),
                        });
                    } else if !Path::new(p).exists() {
                        out.push(Finding {
                            location: at.clone(),
                            message: format!("key file {p} does not exist: every image is denied"),
                        });
                    }
                }
            }
            Requirement::SignedBaseLayer { .. } => out.push(Finding {
                location: at,
                message:
                    "signedBaseLayer is not implemented by containers/image: every image is denied"
                        .to_owned(),
            }),
            Requirement::SigstoreSigned(ss) => {
                let newer: Vec<&str> = ss
                    .fields
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .filter(|k| {
                        !matches!(
                            *k,
                            "keyPath" | "keyData" | "rekorPublicKeyPath" | "rekorPublicKeyData"
                        )
                    })
                    .collect();
                if !newer.is_empty() {
                    out.push(Finding {
                        location: at,
                        message: format!("{} not understood by skopeo 1.9.3 (the whole policy is rejected there)", newer.join(", ")),
                    });
                }
            }
            _ => {}
        }
    }
}

fn lint_policy(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if policy
        .default
        .iter()
        .any(|r| matches!(r, Requirement::InsecureAcceptAnything))
        && !policy
            .default
            .iter()
            .any(|r| !matches!(r, Requirement::InsecureAcceptAnything))
    {
        out.push(Finding {
            location: "$.default".to_owned(),
            message: "insecureAcceptAnything as the default: every image not covered by a scope runs unchecked".to_owned(),
        });
    }
    lint_requirements("$.default", &policy.default, &mut out);
    for (t, scopes) in &policy.transports {
        if !imprimatur_policy::KNOWN_TRANSPORTS.contains(&t.as_str()) {
            out.push(Finding {
                location: format!("$.transports.{t}"),
                message: format!("transport {t:?} is unknown here; its scopes are not validated"),
            });
        }
        for (s, reqs) in scopes {
            let loc = format!("$.transports.{t}[{s:?}]");
            if (t == "docker" || t == "atomic")
                && let Some(p) = docker_scope_problem(s)
            {
                out.push(Finding {
                    location: loc.clone(),
                    message: p,
                });
            }
            lint_requirements(&loc, reqs, &mut out);
        }
    }
    out
}

fn lint_registries(reg: &RegistriesConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut sections: Vec<(String, &imprimatur_policy::Located)> = reg
        .docker
        .iter()
        .map(|(s, l)| (format!("docker[{s:?}]"), l))
        .collect();
    if let Some(d) = &reg.default_docker {
        sections.push(("default-docker".to_owned(), d));
    }
    for (name, l) in sections {
        let s = &l.section;
        for (key, v) in [
            ("lookaside", &s.lookaside),
            ("lookaside-staging", &s.lookaside_staging),
            ("sigstore", &s.sigstore),
            ("sigstore-staging", &s.sigstore_staging),
        ] {
            let Some(url) = v.as_deref().filter(|u| !u.is_empty()) else {
                continue;
            };
            let loc = format!("{}: {name}.{key}", l.file);
            match imprimatur_policy::lookaside::parse_base(url) {
                Err(e) => out.push(Finding {
                    location: loc,
                    message: format!("{e}; a lookaside without a scheme crashes skopeo 1.9.3"),
                }),
                Ok(u) if !matches!(u.scheme(), "file" | "http" | "https") => out.push(Finding {
                    location: loc,
                    message: format!("scheme {:?} is not supported for signatures", u.scheme()),
                }),
                Ok(u) if key.ends_with("staging") && u.scheme() != "file" => out.push(Finding {
                    location: loc,
                    message: "only file: lookasides are writable".to_owned(),
                }),
                Ok(_) => {}
            }
            if key.starts_with("sigstore") {
                out.push(Finding {
                    location: format!("{}: {name}.{key}", l.file),
                    message: format!(
                        "{key} is deprecated; use {}",
                        key.replace("sigstore", "lookaside")
                    ),
                });
            }
        }
    }
    for scope in reg.docker.keys() {
        if let Some(p) = docker_scope_problem(scope) {
            out.push(Finding {
                location: format!("registries.d docker[{scope:?}]"),
                message: p,
            });
        }
    }
    out
}

fn lint(a: LintArgs) -> Result<u8> {
    let policy = pfs::load_policy(&a.policy)?;
    let reg = pfs::load_registries_dir(&a.registries_d)?;
    let mut findings = lint_policy(&policy);
    findings.extend(lint_registries(&reg));
    if a.json {
        let list: Vec<_> = findings
            .iter()
            .map(|f| json!({"location": f.location, "warning": f.message}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"valid": true, "warnings": list}))?
        );
    } else {
        for f in &findings {
            println!("warning: {}: {}", f.location, f.message);
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
