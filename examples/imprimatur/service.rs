//! `scan` and `request run`: the scanning and signing service of
//! `imprimatur-service`, run locally. Argument parsing, files, progress
//! rendering and exit codes here; the pipeline is the library's.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use imprimatur::arf::{Gate, output};
use imprimatur::registry::files;
use imprimatur::registry::{Platform, PullEvent};
use imprimatur::service::pipeline::{EventFn, Pipeline, PipelineEvent};
use imprimatur::service::request::{
    API_VERSION, Document, ImageScanningRequestSpec, RequestMeta, ScanSettings,
};
use imprimatur::service::scan_result::{self, ScanResult, TerminationMessage};
use imprimatur::service::{KeyDir, Request, RunOutput, ScanOutput, Scanner, ScratchDir};

use crate::registry_args::{RegistryArgs, runtime};

/// Largest gate or request file read.
const MAX_INPUT: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormat {
    /// A self-contained HTML page.
    Html,
    /// The report as JSON.
    Json,
    /// JUnit XML (one test case per rule) for CI systems.
    Junit,
}

/// Scan an image with OpenSCAP and judge it with a gate.
///
/// The image is resolved once to its digest, pulled and unpacked safely into a
/// scratch root (removed afterwards), and scanned the way `oscap-chroot` does.
/// Without --datastream the SCAP Security Guide content is chosen from the
/// image's /etc/os-release (ssg-debian11-ds.xml for Debian 11, ...) and the
/// profile defaults to the distribution's `standard`.
///
/// Exit status: 0 the gate passed (or no gate), 1 it failed, 2 error.
/// A summary goes to stdout (--json: the status object), progress to stderr.
///
/// In a scan Job (the controller's), --result-frame prints the result as a
/// framed, compressed payload instead, and --termination-log writes its
/// SHA-256, length, verdict and counts (or, on error, the reason) where the
/// kubelet reads the termination message; the controller accepts the payload
/// only when they match.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur scan docker://quay.io/org/app:1.0
  imprimatur scan --gate gate.yaml --report scan.html --format html \\
      --tls-verify=false docker://localhost:5000/app:1.0
  imprimatur scan --datastream /usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml \\
      --profile standard --results-arf arf.xml oci:/srv/layout:1.0

A gate (YAML or JSON, as for `imprimatur arf gate`):
  maxFailed: {high: 0, medium: 5}
  waivers:
    - rule: xccdf_org.ssgproject.content_rule_package_telnet_removed
      reason: not installed in this image
      author: secteam@example.com
      expires: 2027-01-31")]
pub(crate) struct ScanArgs {
    /// The image: docker://HOST/REPO[:TAG|@DIGEST], oci:DIR[:TAG] or dir:PATH.
    image: String,
    /// The SCAP source datastream (default: chosen from the image's os-release).
    #[arg(long, value_name = "DS")]
    datastream: Option<PathBuf>,
    /// The XCCDF profile (full id, or its short name: `standard`).
    #[arg(long, value_name = "ID")]
    profile: Option<String>,
    /// An XCCDF tailoring file.
    #[arg(long, value_name = "FILE")]
    tailoring: Option<PathBuf>,
    /// An OVAL definitions file to evaluate too (its vulnerabilities count).
    #[arg(long, value_name = "FILE")]
    oval: Option<PathBuf>,
    /// The gate (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    gate: Option<PathBuf>,
    /// The gate as JSON text instead of a file (scan Jobs pass the request's
    /// gate this way: the pod mounts nothing).
    #[arg(long = "gate-json", value_name = "JSON", conflicts_with = "gate")]
    gate_json: Option<String>,
    /// Write oscap's ARF results here, unchanged.
    #[arg(long = "results-arf", value_name = "FILE")]
    results_arf: Option<PathBuf>,
    /// Write a report here (see --format).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The report's format.
    #[arg(long, value_enum, default_value = "html", requires = "report")]
    format: ReportFormat,
    /// Print the status object as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Print the scan result as a framed payload (gzip + base64 between
    /// BEGIN/END lines) instead of a summary, for a controller to read from
    /// the pod log. The exit code is then 0 once the result is written,
    /// whatever the gate's verdict (it is in the frame): a scan Job fails
    /// only when the scan does.
    #[arg(long = "result-frame", conflicts_with = "json")]
    result_frame: bool,
    /// Write the termination message (the frame's SHA-256 and length, the
    /// verdict and counts; on error the reason) to this file, at most 4096
    /// bytes. Usually /dev/termination-log.
    #[arg(
        long = "termination-log",
        value_name = "FILE",
        requires = "result_frame"
    )]
    termination_log: Option<PathBuf>,
    /// The longest the scan may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    timeout: u64,
    /// Platform to scan in a multi-platform image (OS/ARCH[/VARIANT]).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<Platform>,
    /// Where SCAP Security Guide datastreams are looked for.
    #[arg(long, value_name = "DIR", default_value = imprimatur::service::content::DEFAULT_CONTENT_DIR)]
    content_dir: PathBuf,
    /// Where the image is unpacked while oscap runs (default: in memory,
    /// /dev/shm, when the image fits comfortably, else $TMPDIR or /tmp).
    #[arg(long = "scratch-dir", value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Requests (ImageSigningRequest, ImageScanningRequest) run locally.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    #[command(subcommand)]
    command: RequestCommand,
}

#[derive(Debug, Subcommand)]
enum RequestCommand {
    Run(RunArgs),
}

/// Run an ImageSigningRequest or ImageScanningRequest file and print its status.
///
/// The request is the custom resource a cluster would hold (apiVersion
/// cop.redhat.com/v1alpha2, the predecessor's fields work unchanged). A signing
/// request resolves the image to its digest, scans and gates it when
/// `requireScan: true`, signs that digest with the key DIR/<signingKeySecretName>
/// (and DIR/<name>.passphrase, if present), publishes the signature to the store
/// registries.d chooses (or spec.store.lookaside), reads it back and, with
/// --policy, checks that the policy accepts the image. Running it twice leaves
/// one signature.
///
/// The resulting status is printed as YAML. Exit status: 0 Completed, 1 Failed.
#[derive(Debug, Args)]
#[command(after_help = "\
Example (sign.yaml):
  apiVersion: cop.redhat.com/v1alpha2
  kind: ImageSigningRequest
  metadata: {name: sign-app}
  spec:
    image: docker://localhost:5000/team/app:1.0
    signingKeySecretName: release
    requireScan: true
    gate: {maxFailed: {high: 0}}

  imprimatur request run sign.yaml --key-dir keys --registries-d registries.d \\
      --policy policy.json --tls-verify=false")]
struct RunArgs {
    /// The request file (YAML or JSON).
    file: PathBuf,
    /// Directory of signing keys (file names are signingKeySecretName values).
    #[arg(long = "key-dir", value_name = "DIR")]
    key_dir: Option<PathBuf>,
    /// registries.d directory choosing where signatures are published
    /// (default /etc/containers/registries.d when it exists).
    #[arg(long = "registries-d", value_name = "DIR")]
    registries_d: Option<PathBuf>,
    /// policy.json the signed image must satisfy before the request is done.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The registry serving image streams (for imageStreamTag requests):
    /// HOST[:PORT], images at HOST/NAMESPACE/STREAM:TAG.
    #[arg(long = "image-stream-registry", value_name = "HOST")]
    image_stream_registry: Option<String>,
    /// Write the scan's report here (HTML), when the request scans.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Where SCAP Security Guide datastreams are looked for.
    #[arg(long, value_name = "DIR", default_value = imprimatur::service::content::DEFAULT_CONTENT_DIR)]
    content_dir: PathBuf,
    /// Where the image is unpacked while oscap runs (default: in memory,
    /// /dev/shm, when the image fits comfortably, else $TMPDIR or /tmp).
    #[arg(long = "scratch-dir", value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub(crate) fn scan_cmd(args: ScanArgs) -> ExitCode {
    let termination_log = args.termination_log.clone();
    let verdict_in_frame = args.result_frame;
    match scan(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) if verdict_in_frame => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(path) = &termination_log {
                let message = TerminationMessage::failure(&format!("{e:#}"));
                if let Err(e) = write_termination_log(path, &message) {
                    eprintln!("error: {e:#}");
                }
            }
            ExitCode::from(2)
        }
    }
}

/// Writes the termination message in place: the kubelet bind-mounts the
/// file (so it cannot be replaced by a rename) and reads it only after the
/// process exited, so one write and an fsync are enough.
fn write_termination_log(path: &Path, message: &TerminationMessage) -> Result<()> {
    let text = message.to_json()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("opening the termination log {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the termination log {}", path.display()))
}

/// Prints the framed result on stdout (one write, after all progress) and
/// writes the termination message.
fn print_result_frame(
    out: &RunOutput,
    scan: &ScanOutput,
    termination_log: Option<&Path>,
) -> Result<()> {
    let report = output::report_json(&scan.report)?;
    let content = format!("{} ({})", scan.content.profile, scan.content.why);
    let result = ScanResult::from_status(&out.status, Some(content), Some(&report))?;
    let encoded = scan_result::encode(&result)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(encoded.frame.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the result frame to stdout")?;
    if let Some(path) = termination_log {
        write_termination_log(path, &encoded.termination)?;
    }
    Ok(())
}

pub(crate) fn request_cmd(args: RequestArgs) -> ExitCode {
    match args.command {
        RequestCommand::Run(a) => match run_request(a) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn scratch_dir(dir: Option<&Path>) -> ScratchDir {
    dir.map_or(ScratchDir::Auto, |d| ScratchDir::In(d.to_path_buf()))
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = files::read_limited(path, MAX_INPUT)
        .with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))
}

fn load_gate(path: &Path) -> Result<Gate> {
    let text = read_text(path)?;
    let gate = if text.trim_start().starts_with('{') {
        Gate::from_json(&text)
    } else {
        Gate::from_yaml(&text)
    };
    gate.with_context(|| format!("gate {}", path.display()))
}

fn scan(args: ScanArgs) -> Result<bool> {
    let gate = match (&args.gate, &args.gate_json) {
        (Some(path), _) => Some(load_gate(path)?),
        (None, Some(text)) => Some(Gate::from_json(text).context("--gate-json")?),
        (None, None) => None,
    };
    let client = args.registry.client()?;
    let mut pipeline = Pipeline::new(client)
        .scanner(
            Scanner::default()
                .content_dir(&args.content_dir)
                .scratch_dir(scratch_dir(args.scratch_dir.as_deref()))
                .timeout(std::time::Duration::from_secs(args.timeout)),
        )
        .events(progress_renderer());
    if let Some(p) = args.platform.clone() {
        pipeline = pipeline.platform(p);
    }
    let doc = Document {
        api_version: API_VERSION.into(),
        kind: "ImageScanningRequest".into(),
        metadata: RequestMeta {
            name: "scan".into(),
            ..RequestMeta::default()
        },
        spec: ImageScanningRequestSpec {
            image: Some(args.image.clone()),
            scan: Some(ScanSettings {
                datastream: args.datastream.as_ref().map(|p| p.display().to_string()),
                profile: args.profile.clone(),
                tailoring: args.tailoring.as_ref().map(|p| p.display().to_string()),
                oval: args.oval.as_ref().map(|p| p.display().to_string()),
                timeout_seconds: Some(args.timeout),
            }),
            gate,
            ..ImageScanningRequestSpec::default()
        },
        status: None,
    };
    let mut out = runtime()?.block_on(pipeline.run_scanning(&doc));
    finish_progress();
    write_outputs(
        &mut out,
        args.results_arf.as_deref(),
        args.report.as_deref(),
        args.format,
    )?;
    let status = &out.status;
    let Some(scan) = &out.scan else {
        // The scan did not happen: the Ready condition says why.
        bail!("{}", failure_message(status));
    };
    if args.result_frame {
        print_result_frame(&out, scan, args.termination_log.as_deref())?;
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(status)?);
    } else {
        let mut o = std::io::stdout().lock();
        let counts = status.scan_result.unwrap_or_default();
        writeln!(
            o,
            "image:    {} ({})",
            args.image,
            status.image_digest.as_deref().unwrap_or("?")
        )?;
        writeln!(
            o,
            "content:  {} ({})",
            scan.content.profile, scan.content.why
        )?;
        writeln!(
            o,
            "rules:    {} evaluated, {} passed, {} failed",
            counts.total_rules, counts.passed_rules, counts.failed_rules
        )?;
        if !status.failed_by_severity.is_empty() {
            let by: Vec<String> = status
                .failed_by_severity
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(o, "failed:   {}", by.join(", "))?;
        }
        if !status.present_cves.is_empty() {
            writeln!(o, "CVEs:     {}", status.present_cves.join(", "))?;
        }
        for l in &status.scan_limitations {
            writeln!(o, "limit:    {l}")?;
        }
        match &status.gate {
            Some(g) if g.passed => writeln!(o, "gate:     PASSED")?,
            Some(g) => {
                writeln!(o, "gate:     FAILED")?;
                for r in &g.reasons {
                    writeln!(o, "  - {r}")?;
                }
            }
            None => writeln!(o, "gate:     none given")?,
        }
        if let Some(r) = &args.report {
            writeln!(o, "report:   {}", r.display())?;
        }
        if let Some(t) = &out.timings {
            writeln!(
                o,
                "time:     pull+unpack {:.2} s, oscap {:.2} s, parse {:.2} s",
                t.unpack.as_secs_f64(),
                t.oscap.as_secs_f64(),
                t.parse.as_secs_f64()
            )?;
        }
    }
    Ok(status.gate.as_ref().is_none_or(|g| g.passed))
}

fn run_request(args: RunArgs) -> Result<bool> {
    let text = read_text(&args.file)?;
    let request =
        Request::from_yaml(&text).with_context(|| format!("request {}", args.file.display()))?;
    let client = args.registry.client()?;
    let registries_dir = args
        .registries_d
        .clone()
        .or_else(|| Some(PathBuf::from("/etc/containers/registries.d")).filter(|p| p.is_dir()));
    let registries = match &registries_dir {
        Some(dir) => files::load_registries_dir(dir)
            .with_context(|| format!("registries.d {}", dir.display()))?,
        None => imprimatur::policy::RegistriesConfig::default(),
    };
    let is_root = running_as_root();
    let home = std::env::var("HOME").unwrap_or_default();
    let mut pipeline = Pipeline::new(client)
        .scanner(
            Scanner::default()
                .content_dir(&args.content_dir)
                .scratch_dir(scratch_dir(args.scratch_dir.as_deref())),
        )
        .registries(
            registries,
            imprimatur::policy::default_lookaside(is_root, &home),
        )
        .events(progress_renderer());
    if let Some(dir) = &args.key_dir {
        pipeline = pipeline.keys(Arc::new(KeyDir::new(dir)));
    }
    if let Some(p) = &args.policy {
        pipeline = pipeline
            .policy(files::load_policy(p).with_context(|| format!("policy {}", p.display()))?);
    }
    if let Some(h) = &args.image_stream_registry {
        pipeline = pipeline.image_stream_registry(h.clone());
    }
    let mut out = runtime()?.block_on(pipeline.run(&request));
    finish_progress();
    if let Some(report) = &args.report
        && out.scan.is_some()
    {
        write_outputs(&mut out, None, Some(report), ReportFormat::Html)?;
    }
    print!("{}", status_yaml(&out)?);
    Ok(out.status.succeeded())
}

fn status_yaml(out: &RunOutput) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Wrapper<'a> {
        status: &'a imprimatur::service::RequestStatus,
    }
    Ok(serde_saphyr::to_string(&Wrapper {
        status: &out.status,
    })?)
}

/// Whether we run as root: the default lookaside differs (as in containers/image).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn failure_message(status: &imprimatur::service::RequestStatus) -> String {
    status
        .condition(imprimatur::service::ConditionType::Ready)
        .map(|c| c.message.clone())
        .unwrap_or_else(|| "failed".into())
}

/// Writes the ARF (oscap's, unchanged) and the report, and records the
/// report's path in the status.
fn write_outputs(
    out: &mut RunOutput,
    arf: Option<&Path>,
    report: Option<&Path>,
    format: ReportFormat,
) -> Result<()> {
    let Some(scan) = &out.scan else { return Ok(()) };
    if let Some(dest) = arf {
        std::fs::copy(&scan.arf_path, dest)
            .with_context(|| format!("writing {}", dest.display()))?;
    }
    if let Some(dest) = report {
        let body = match format {
            ReportFormat::Html => output::html_report(&scan.report),
            ReportFormat::Json => output::report_json(&scan.report)? + "\n",
            ReportFormat::Junit => output::junit_report(&scan.report),
        };
        files::write_atomic(dest, body.as_bytes(), &files::WriteOptions::new())
            .with_context(|| format!("writing {}", dest.display()))?;
        out.status.report = Some(dest.display().to_string());
    }
    Ok(())
}

/// Progress: a redrawn line per step on a terminal, JSON lines otherwise.
fn progress_renderer() -> EventFn {
    let tty = std::io::stderr().is_terminal();
    let last_mb = Arc::new(Mutex::new(0u64));
    Arc::new(move |event| {
        let mut err = std::io::stderr().lock();
        if !tty {
            let line = match &event {
                PipelineEvent::Started(s) => {
                    serde_json::json!({"event": "started", "step": s.name()})
                }
                PipelineEvent::Finished(s, m) => {
                    serde_json::json!({"event": "finished", "step": s.name(), "message": m})
                }
                PipelineEvent::Failed(s, m) => {
                    serde_json::json!({"event": "failed", "step": s.name(), "message": m})
                }
                PipelineEvent::Pull(PullEvent::LayerDone { layer, summary }) => serde_json::json!({
                    "event": "layer", "layer": layer, "digest": summary.digest.to_string(),
                    "bytes": summary.compressed_bytes
                }),
                _ => return,
            };
            let _ = writeln!(err, "{line}");
            return;
        }
        let _ = match &event {
            PipelineEvent::Started(s) => write!(err, "\r\x1b[K{:>8} ...", s.name()),
            PipelineEvent::Finished(s, m) => writeln!(err, "\r\x1b[K{:>8} ok   {m}", s.name()),
            PipelineEvent::Failed(s, m) => writeln!(err, "\r\x1b[K{:>8} FAIL {m}", s.name()),
            PipelineEvent::Pull(PullEvent::Progress { bytes, .. }) => {
                let mut last = last_mb
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if bytes / (1 << 20) != *last {
                    *last = bytes / (1 << 20);
                    write!(
                        err,
                        "\r\x1b[K    scan ... pulling {:.1} MB",
                        *bytes as f64 / 1e6
                    )
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
    })
}

fn finish_progress() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}
