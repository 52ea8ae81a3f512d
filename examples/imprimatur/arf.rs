//! `imprimatur arf …`: OpenSCAP results (ARF, XCCDF results, OVAL results) read by
//! `imprimatur-arf`. File handling, decompression and exit codes live here; the
//! library takes a `BufRead` and returns values.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use imprimatur::arf::{self, Gate, ParseOptions, output};

/// Read OpenSCAP scan results: summaries, reports (JSON, JUnit, HTML) and gates.
///
/// FILE is what `oscap xccdf eval --results-arf` writes (ARF 1.1), a plain XCCDF
/// results file (`--results`, XCCDF 1.1 or 1.2), or an OVAL results file
/// (`oscap oval eval --results`). `-` reads standard input; gzip and bzip2
/// compressed input is recognised by its first bytes and read transparently.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oscap xccdf eval --profile standard --results-arf scan-arf.xml ssg-debian11-ds.xml
  imprimatur arf summary scan-arf.xml
  imprimatur arf report scan-arf.xml.gz --format html --output scan.html
  imprimatur arf gate scan-arf.xml --gate gate.yaml")]
pub(crate) struct ArfArgs {
    #[command(subcommand)]
    command: ArfCommand,
}

#[derive(Debug, Subcommand)]
enum ArfCommand {
    Summary(SummaryArgs),
    Report(ReportArgs),
    Gate(GateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SummaryFormat {
    /// A compact human-readable summary.
    Text,
    /// Stable JSON (`schemaVersion` 1).
    Json,
}

/// Count the results: per result value, per severity, and two named views.
///
/// Reads only what the counts need (the embedded source datastream is skipped), in
/// memory that does not depend on the file size. Per TestResult (for ARF only those
/// under `arf:reports`, never the stale copies in the report request):
///
///   results     every rule-result, keyed by the nine XCCDF result names
///   scanResult  passedRules = pass + fixed, failedRules = fail,
///               totalRules = all - notselected - notapplicable
///               (the numbers of oscap's own HTML report)
///   oscap       what `oscap xccdf eval` prints: evaluated = all - notselected,
///               passed, failed, uncertain = error + unknown, other, ignored,
///               exitCode = 2 if any fail/error/unknown, else 0
///
/// and per OVAL results report the definition results (`true`, `false`, `error`,
/// `unknown`, `not evaluated`, `not applicable`).
///
/// Exit status: 0 when the file was read, 2 when it could not be read or parsed.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(after_help = "\
Examples:
  imprimatur arf summary scan-arf.xml
  imprimatur arf summary --format json scan-arf.xml.gz | jq '.testResults[].scanResult'
  oscap xccdf eval --results-arf /dev/stdout … | imprimatur arf summary -")]
struct SummaryArgs {
    /// The results file (`-` for standard input; .gz/.bz2 are decompressed).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: SummaryFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormat {
    /// Everything parsed, as stable JSON (`schemaVersion` 1): summary fields plus
    /// rule results with titles, idents, CVEs, checks and messages.
    Json,
    /// JUnit XML: one test case per evaluated rule (fail = failure,
    /// error/unknown = error, notapplicable/notchecked/informational = skipped).
    Junit,
    /// A self-contained HTML page: results-by-severity chart, failed rules table.
    Html,
}

/// Write a full report of the results as JSON, JUnit XML or HTML.
///
/// Rule titles and descriptions come from the benchmark embedded in the ARF report
/// request; CVE ids from the rule idents and from the OVAL definitions the rules
/// checked.
///
/// Exit status: 0 when the report was written, 2 when the input could not be read.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  imprimatur arf report scan-arf.xml --format html --output scan.html
  imprimatur arf report scan-arf.xml --format junit --output junit.xml   # for Jenkins/GitLab
  imprimatur arf report scan-arf.xml.bz2 --format json | jq '.testResults[0].ruleResults[] | select(.result==\"fail\")'")]
struct ReportArgs {
    /// The results file (`-` for standard input; .gz/.bz2 are decompressed).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GateFormat {
    /// PASS/FAIL and the reasons.
    Text,
    /// The outcome as JSON (`passed`, `reasons`, `findings`).
    Json,
}

/// Decide pass or fail with a gate file, printing every reason.
///
/// The gate file is YAML (or JSON):
///
///   maxFailed:            # failed results allowed per severity (absent = no limit)
///     high: 0             # "no failed high"
///     medium: 5           # "at most 5 failed medium"
///   maxFailedTotal: 20    # optional limit over all severities
///   errorAsFailed: true   # count `error` results as failed (default true)
///   unknownAsFailed: true # count `unknown` results as failed (default true)
///   testResults: all      # `all` TestResults of the file (default) or the `last`
///   waivers:              # each needs a reason
///     - rule: xccdf_org.ssgproject.content_rule_package_telnet_removed
///       reason: "needed by the legacy job, ticket OPS-12"
///     - cve: CVE-2024-45490
///       reason: "not reachable in this image"
///
/// An empty gate (`{}`) fails on any fail/error/unknown result, like oscap's exit
/// code. For OVAL-only files, true vulnerability/patch definitions are the failures
/// (severity from the advisory).
///
/// Exit status: 0 pass, 1 fail, 2 when the results or the gate file cannot be read.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(after_help = "\
Examples:
  printf 'maxFailed: {high: 0, medium: 3}\\n' > gate.yaml
  imprimatur arf gate scan-arf.xml --gate gate.yaml && echo 'image may be signed'")]
struct GateArgs {
    /// The results file (`-` for standard input; .gz/.bz2 are decompressed).
    file: PathBuf,
    /// The gate file (YAML or JSON).
    #[arg(long)]
    gate: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: GateFormat,
}

/// Runs `imprimatur arf …`.
pub(crate) fn run(args: ArfArgs) -> ExitCode {
    let r = match args.command {
        ArfCommand::Summary(a) => summary(a),
        ArfCommand::Report(a) => report(a),
        ArfCommand::Gate(a) => gate(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imprimatur arf: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Opens FILE (`-` = stdin) and transparently decompresses gzip/bzip2 by magic bytes.
fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
    };
    let mut r = BufReader::with_capacity(256 * 1024, raw);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(r),
        ))
    } else if head.starts_with(b"BZh") {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            bzip2::read::MultiBzDecoder::new(r),
        ))
    } else {
        Box::new(r)
    })
}

fn parse(path: &Path, options: &ParseOptions) -> anyhow::Result<arf::Report> {
    let input = open_input(path)?;
    arf::parse(input, options).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn write_output(output: Option<&Path>, s: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => std::fs::write(p, s).map_err(|e| anyhow::anyhow!("{}: {e}", p.display())),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(s.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

fn summary(a: SummaryArgs) -> anyhow::Result<ExitCode> {
    let report = parse(&a.file, &ParseOptions::summary())?;
    let s = report.summary();
    let text = match a.format {
        SummaryFormat::Text => output::summary_text(&s),
        SummaryFormat::Json => output::summary_json(&s)? + "\n",
    };
    write_output(None, &text)?;
    Ok(ExitCode::SUCCESS)
}

fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let report = parse(&a.file, &ParseOptions::full())?;
    let text = match a.format {
        ReportFormat::Json => output::report_json(&report)? + "\n",
        ReportFormat::Junit => output::junit_report(&report),
        ReportFormat::Html => output::html_report(&report),
    };
    write_output(a.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

fn gate(a: GateArgs) -> anyhow::Result<ExitCode> {
    let gate_text = std::fs::read_to_string(&a.gate)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.gate.display()))?;
    let gate =
        Gate::from_yaml(&gate_text).map_err(|e| anyhow::anyhow!("{}: {e}", a.gate.display()))?;
    let report = parse(&a.file, &ParseOptions::full())?;
    let outcome = gate.evaluate(&report);
    let text = match a.format {
        GateFormat::Text => output::gate_text(&outcome),
        GateFormat::Json => serde_json::to_string_pretty(&outcome)? + "\n",
    };
    write_output(None, &text)?;
    Ok(if outcome.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
