//! `trust set` and `trust show`: edit and display `policy.json` and
//! `registries.d` (in the spirit of `podman image trust` / `atomic trust`,
//! but writing both files, atomically).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use imprimatur_policy::{IdentityMatch, Policy, Requirement, TrustBuilder, TrustView};
use imprimatur_registry::files as pfs;

pub(crate) const DEFAULT_POLICY: &str = "/etc/containers/policy.json";
pub(crate) const DEFAULT_REGISTRIES_D: &str = "/etc/containers/registries.d";

/// Manage trust: which images a node accepts (policy.json) and where their
/// signatures are stored (registries.d).
#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    #[command(subcommand)]
    command: TrustCommand,
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    Set(SetArgs),
    Show(ShowArgs),
    Machineconfig(crate::machineconfig::MachineConfigArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TrustType {
    /// Require a simple signature by one of --pubkeys.
    #[value(name = "signedBy")]
    SignedBy,
    /// Reject every image in the scope.
    Reject,
    /// Accept every image in the scope without checks (insecureAcceptAnything).
    Accept,
    /// Require a sigstore (cosign) signature by one of --pubkeys (PEM public
    /// keys; one key is written as keyPath, which skopeo 1.9.3 loads), and
    /// turn on use-sigstore-attachments for the scope in registries.d.
    #[value(name = "sigstoreSigned")]
    SigstoreSigned,
}

/// Set the trust of one scope (a docker registry, namespace or repository,
/// or `default`). The files are edited in place (created, with their
/// directory, when absent; a new policy starts as default reject); every
/// other scope is left untouched. Writes are atomic.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # Default: reject everything not configured below.
  imprimatur trust set --type reject default
  # The vendor registry, signed by the vendor key, signatures on the web:
  imprimatur trust set --type signedBy --pubkeys /etc/pki/vendor.gpg \\
      --lookaside https://vendor.example/sigstore registry.vendor.example
  # The internal registry: any of two keys, signatures in a local lookaside:
  imprimatur trust set --type signedBy --pubkeys site-a.gpg --pubkeys site-b.gpg \\
      --lookaside file:///var/lib/containers/sigstore registry.internal:5000
  # A mirror whose images are signed under the vendor's names:
  imprimatur trust set --type signedBy --pubkeys vendor.gpg \\
      --identity remapIdentity=mirror.internal/vendor,registry.vendor.example \\
      mirror.internal/vendor

--identity takes matchRepoDigestOrExact (the default), matchExact,
matchRepository, exactReference=REF, exactRepository=REPO or
remapIdentity=PREFIX,SIGNED_PREFIX.")]
pub(crate) struct SetArgs {
    /// policy.json to edit.
    #[arg(long, value_name = "P", default_value = DEFAULT_POLICY)]
    policy_path: PathBuf,
    /// registries.d directory to edit (with --lookaside/--lookaside-staging,
    /// and --type sigstoreSigned: use-sigstore-attachments).
    #[arg(long = "registries-d", value_name = "DIR", default_value = DEFAULT_REGISTRIES_D)]
    registries_d: PathBuf,
    /// Requirement type for the scope.
    #[arg(long = "type", short = 't', value_enum)]
    trust_type: TrustType,
    /// Public key file(s) for signedBy; several mean "any of them" (keyPaths).
    #[arg(long, short = 'f', value_name = "FILE")]
    pubkeys: Vec<PathBuf>,
    /// Lookaside URL signatures are read from (registries.d `lookaside`).
    #[arg(long, value_name = "URL")]
    lookaside: Option<String>,
    /// Lookaside URL signatures are written to (registries.d `lookaside-staging`).
    #[arg(long, value_name = "URL")]
    lookaside_staging: Option<String>,
    /// signedIdentity rule (see below).
    #[arg(long, value_name = "RULE")]
    identity: Option<String>,
    /// Transport of the scope.
    #[arg(long, default_value = "docker")]
    transport: String,
    /// A docker scope (host[:port][/namespace…][/repo[:tag]], *.domain) or `default`.
    #[arg(value_name = "SCOPE")]
    scope: String,
}

/// Show the trust configuration: every scope's requirements and the
/// registries.d lookaside configured for it.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur trust show
  imprimatur trust show --policy-path ./policy.json --registries-d ./registries.d --json")]
pub(crate) struct ShowArgs {
    /// policy.json to read.
    #[arg(long, value_name = "P", default_value = DEFAULT_POLICY)]
    policy_path: PathBuf,
    /// registries.d directory to read.
    #[arg(long = "registries-d", value_name = "DIR", default_value = DEFAULT_REGISTRIES_D)]
    registries_d: PathBuf,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: TrustArgs) -> ExitCode {
    let r = match args.command {
        TrustCommand::Set(a) => set(a),
        TrustCommand::Show(a) => show(a),
        TrustCommand::Machineconfig(a) => crate::machineconfig::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imprimatur trust: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses an `--identity` value (the library's identity specification).
pub(crate) fn parse_identity(s: &str) -> Result<IdentityMatch> {
    s.parse::<IdentityMatch>()
        .map_err(|e| anyhow::anyhow!("--identity: {e} (see --help)"))
}

/// Pretty JSON of a view, members sorted by name (as `serde_json::Value`
/// keeps them), so output keeps the layout it had before the views.
pub(crate) fn to_json_text(view: &impl serde::Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::to_value(view)?)?)
}

fn absolute(p: &Path) -> Result<String> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .context("current directory")?
            .join(p)
    };
    Ok(abs.to_string_lossy().into_owned())
}

fn load_or_new_policy(path: &Path) -> Result<Policy> {
    if path.exists() {
        Ok(pfs::load_policy(path)?)
    } else {
        Ok(Policy::with_default(vec![Requirement::Reject]))
    }
}

fn set(a: SetArgs) -> Result<()> {
    let default = a.scope == "default";
    let policy = load_or_new_policy(&a.policy_path)?;
    let identity = a.identity.as_deref().map(parse_identity).transpose()?;
    let sigstore = a.trust_type == TrustType::SigstoreSigned;
    if !matches!(
        a.trust_type,
        TrustType::SignedBy | TrustType::SigstoreSigned
    ) && (!a.pubkeys.is_empty() || identity.is_some())
    {
        bail!("--pubkeys and --identity only apply to --type signedBy and sigstoreSigned");
    }
    if sigstore && a.transport != "docker" && a.transport != "atomic" {
        bail!("--type sigstoreSigned applies to docker scopes only");
    }
    if sigstore && a.pubkeys.len() > 1 {
        eprintln!(
            "warning: several keys are written as keyPaths, which containers/image before 5.33 \
             (skopeo 1.9.3 included) refuses: the whole policy.json fails to load there"
        );
    }
    let keys: Vec<String> = a
        .pubkeys
        .iter()
        .map(|p| absolute(p))
        .collect::<Result<_>>()?;
    for k in &a.pubkeys {
        if !k.exists() {
            eprintln!("warning: key file {} does not exist (yet)", k.display());
        }
    }
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut b = TrustBuilder::edit(policy, Default::default());
    b = match (a.trust_type, default) {
        (TrustType::Reject, true) => b.set_default_reject(),
        (TrustType::Accept, true) => b.set_default_insecure_accept_anything(),
        (TrustType::SignedBy, true) => b.set_default_signed_by(&key_refs, identity)?,
        (TrustType::Reject, false) => b.reject(&a.transport, &a.scope)?,
        (TrustType::Accept, false) => b.insecure_accept_anything(&a.transport, &a.scope)?,
        (TrustType::SignedBy, false) => b.signed_by(&a.transport, &a.scope, &key_refs, identity)?,
        (TrustType::SigstoreSigned, true) => b.set_default_sigstore_signed(&key_refs, identity)?,
        (TrustType::SigstoreSigned, false) => {
            b.sigstore_signed(&a.transport, &a.scope, &key_refs, identity)?
        }
    };
    // Validate lookaside URLs through the builder before touching any file.
    let section_scope = if default { "" } else { a.scope.as_str() };
    let wants_lookaside = a.lookaside.is_some() || a.lookaside_staging.is_some();
    if wants_lookaside {
        if a.transport != "docker" && a.transport != "atomic" {
            bail!("--lookaside applies to docker scopes only");
        }
        b = b.lookaside(
            section_scope,
            a.lookaside.as_deref(),
            a.lookaside_staging.as_deref(),
        )?;
    }
    if a.trust_type == TrustType::Accept {
        eprintln!(
            "warning: {}: insecureAcceptAnything: images are accepted without any signature check",
            if default { "default" } else { a.scope.as_str() }
        );
    }
    let trust = b.build();
    pfs::write_atomic(
        &a.policy_path,
        trust.policy.to_json().as_bytes(),
        &pfs::WriteOptions::new(),
    )?;
    println!("updated {}", a.policy_path.display());
    if wants_lookaside {
        let section = if default {
            trust.registries.default_docker.clone()
        } else {
            trust.registries.docker.get(&a.scope).cloned()
        };
        if let Some(path) = pfs::set_registries_section(&a.registries_d, section_scope, section)? {
            println!("updated {}", path.display());
        }
    }
    if sigstore {
        // Without it containers/image neither reads nor writes the
        // signatures (registry attachments) this requirement needs.
        if let Some(path) = crate::sigstore::enable_attachments(&a.registries_d, section_scope)? {
            println!("updated {}", path.display());
        }
    }
    Ok(())
}

fn show(a: ShowArgs) -> Result<()> {
    let policy = pfs::load_policy(&a.policy_path)?;
    let reg = pfs::load_registries_dir(&a.registries_d)?;
    let view = TrustView::new(&policy, &reg);
    if a.json {
        println!("{}", to_json_text(&view)?);
        return Ok(());
    }
    for row in &view.scopes {
        let scope = match &row.transport {
            Some(t) => format!("{t}:{}", row.scope),
            None => "default".to_owned(),
        };
        let reqs = match &row.requirements {
            Some(list) => list
                .iter()
                .map(|r| {
                    let mut s = r.kind.clone();
                    if let Some(keys) = &r.keys {
                        s.push_str(&format!(" [{}]", keys.join(", ")));
                    }
                    if let Some(id) = r.identity.as_deref()
                        && id != "matchRepoDigestOrExact"
                    {
                        s.push_str(&format!(" identity {id}"));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(" + "),
            None => "(no policy scope: the default or a wider scope applies)".to_owned(),
        };
        println!("{scope}\t{reqs}");
        if let Some(r) = &row.registries {
            if let Some(l) = &r.section.lookaside {
                println!("\tlookaside {l}");
            }
            if let Some(l) = &r.section.lookaside_staging {
                println!("\tlookaside-staging {l}");
            }
        }
    }
    Ok(())
}
