//! `imprimatur arf …`: OpenSCAP results (ARF, XCCDF results, OVAL results) read by
//! `imprimatur-arf`. File handling, decompression and exit codes live here; the
//! library takes a `BufRead` and returns values.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
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

/// Largest input read (after decompression): a gzip/bzip2 bomb, a FIFO or
/// `/dev/zero` stops here with an error instead of running forever. Real
/// ARF files are well below 1 GiB.
const MAX_INPUT_BYTES: u64 = 4 << 30;

/// Largest gate file read.
const MAX_GATE_FILE_BYTES: u64 = arf::MAX_GATE_BYTES as u64;

/// A reader that fails (rather than ending early, which would read as a
/// truncated document) once more than `remaining` bytes came through.
struct Bounded<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    what: &'static str,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Read up to one byte past the limit, so that reaching it exactly is fine.
        let cap = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let want = buf.len().min(cap);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.remaining {
            return Err(io::Error::other(format!(
                "{} input exceeds {} bytes",
                self.what, self.limit
            )));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn bounded<R: Read>(inner: R, what: &'static str) -> Bounded<R> {
    Bounded {
        inner,
        remaining: MAX_INPUT_BYTES,
        limit: MAX_INPUT_BYTES,
        what,
    }
}

/// Opens FILE (`-` = stdin) and transparently decompresses gzip/bzip2 by
/// magic bytes. Raw and decompressed bytes are both bounded by
/// [`MAX_INPUT_BYTES`].
fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
    };
    let mut r = BufReader::with_capacity(256 * 1024, bounded(raw, "raw"));
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            bounded(flate2::read::MultiGzDecoder::new(r), "decompressed gzip"),
        ))
    } else if head.starts_with(b"BZh") {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            bounded(bzip2::read::MultiBzDecoder::new(r), "decompressed bzip2"),
        ))
    } else {
        Box::new(r)
    })
}

/// Reads a gate file, bounded by what is read (FIFOs and `/proc` files
/// have no meaningful size).
fn read_gate_file(path: &Path) -> anyhow::Result<String> {
    let f = File::open(path).with_context(|| path.display().to_string())?;
    let mut bytes = Vec::new();
    f.take(MAX_GATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| path.display().to_string())?;
    if bytes.len() as u64 > MAX_GATE_FILE_BYTES {
        anyhow::bail!(
            "{}: gate file larger than {MAX_GATE_FILE_BYTES} bytes",
            path.display()
        );
    }
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))
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
    let gate_text = read_gate_file(&a.gate)?;
    let gate = Gate::from_yaml(&gate_text).with_context(|| a.gate.display().to_string())?;
    let report = parse(&a.file, &ParseOptions::full())?;
    let outcome = gate.evaluate_at(&report, std::time::SystemTime::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn small(inner: impl Read, limit: u64) -> Bounded<impl Read> {
        Bounded {
            inner,
            remaining: limit,
            limit,
            what: "test",
        }
    }

    #[test]
    fn bounded_reader_errors_past_the_limit() {
        let mut out = Vec::new();
        small(&b"0123456789"[..], 10)
            .read_to_end(&mut out)
            .expect("exactly the limit is fine");
        assert_eq!(out.len(), 10);
        let err = small(&b"0123456789x"[..], 10)
            .read_to_end(&mut Vec::new())
            .expect_err("one byte over");
        assert_eq!(err.to_string(), "test input exceeds 10 bytes");
        // An endless source (like /dev/zero or a decompression bomb) stops.
        let err = small(io::repeat(0), 1 << 20)
            .read_to_end(&mut Vec::new())
            .expect_err("endless");
        assert!(err.to_string().contains("exceeds"), "{err}");
    }

    #[test]
    fn gate_file_is_bounded_by_what_is_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("gate.yaml");
        std::fs::write(&p, "maxFailed: {high: 0}\n").expect("write");
        assert!(read_gate_file(&p).is_ok());
        std::fs::write(&p, vec![b'#'; MAX_GATE_FILE_BYTES as usize + 1]).expect("write");
        let e = read_gate_file(&p).expect_err("too big");
        assert!(e.to_string().contains("larger than"), "{e}");
        // /dev/zero reports a size of 0 and never ends: still bounded.
        let e = read_gate_file(Path::new("/dev/zero")).expect_err("endless");
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
