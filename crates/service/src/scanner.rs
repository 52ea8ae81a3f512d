//! Running OpenSCAP against an image: pull and unpack it safely into a
//! scratch root, run `oscap xccdf eval` the way `oscap-chroot` does
//! (`OSCAP_PROBE_ROOT`, `OSCAP_EVALUATION_TARGET=chroot://…`), read the ARF
//! with `imprimatur-arf`, and remove the scratch root on every path.
//!
//! oscap's exit codes: 0 all rules passed, 2 some failed (not an error),
//! anything else an error, reported with oscap's stderr. Its warnings about
//! probes that cannot inspect an offline root are reported as the scan's
//! known limitations instead of being passed over.
//!
//! Not running as root, the scanner cannot give the unpacked files their
//! owners: it records them and runs oscap under `fakeroot` so that rules on
//! file owners judge the image, not the scanner's uid (see
//! [`crate::fakeroot`]).
//!
//! oscap can hang (OpenSCAP 1.3's probe threads can deadlock): a run that
//! uses no CPU time at all for the stall window (two minutes) is killed and
//! run once more (see [`crate::process_group`]).
//!
//! Cancellation: drop the future. oscap's process group is killed with it,
//! and the scratch root is a `TempDir`, removed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use imprimatur_arf::Report;
use imprimatur_registry::unpack::{OwnerLedger, Unpacker};
use imprimatur_registry::{ImageSource, Platform, ResolvedImage, pull};
use tokio::io::AsyncReadExt as _;

use crate::content::{self, ChosenContent};
use crate::error::{Error, Result};
use crate::fakeroot;
use crate::process_group::{self, KillGroupOnDrop};
use crate::scratch::{ScratchDir, is_out_of_space};

/// How long oscap may use no CPU time before it is taken as hung.
const DEFAULT_STALL: Duration = Duration::from_secs(120);

/// How to scan: content and limits. `Scanner::default()` uses `oscap` from
/// `PATH`, SSG content from [`content::DEFAULT_CONTENT_DIR`], 30 minutes.
#[derive(Debug, Clone)]
pub struct Scanner {
    oscap: PathBuf,
    fakeroot: PathBuf,
    content_dir: PathBuf,
    timeout: Duration,
    stall: Duration,
    scratch: ScratchDir,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            oscap: PathBuf::from("oscap"),
            fakeroot: PathBuf::from("fakeroot"),
            content_dir: PathBuf::from(content::DEFAULT_CONTENT_DIR),
            timeout: Duration::from_secs(1800),
            stall: DEFAULT_STALL,
            scratch: ScratchDir::Auto,
        }
    }
}

/// What to scan with (all optional: see [`content::choose`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// The datastream.
    pub datastream: Option<PathBuf>,
    /// The profile (full id or short name).
    pub profile: Option<String>,
    /// A tailoring file.
    pub tailoring: Option<PathBuf>,
    /// An OVAL definitions file evaluated too (`oscap oval eval`).
    pub oval: Option<PathBuf>,
}

/// The outcome of a scan whose results could be read (the rules may have
/// failed: that is for a gate to judge).
#[derive(Debug)]
pub struct ScanOutput {
    /// The content used.
    pub content: ChosenContent,
    /// The parsed ARF.
    pub report: Report,
    /// The parsed OVAL results, when an OVAL file was evaluated.
    pub oval_report: Option<Report>,
    /// oscap's exit code (0 or 2).
    pub exit_code: i32,
    /// Known limits of scanning an offline root, from oscap's warnings.
    pub limitations: Vec<String>,
    /// The ARF exactly as oscap wrote it (in a scratch directory removed
    /// when this is dropped).
    pub arf_path: PathBuf,
    /// The OVAL results file, if any.
    pub oval_results_path: Option<PathBuf>,
    _results_dir: tempfile::TempDir,
}

/// Timings of a scan's steps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScanTimings {
    /// Pulling and unpacking.
    pub unpack: Duration,
    /// oscap itself.
    pub oscap: Duration,
    /// Parsing the results.
    pub parse: Duration,
}

impl Scanner {
    /// The oscap binary to run.
    pub fn oscap(mut self, path: impl Into<PathBuf>) -> Self {
        self.oscap = path.into();
        self
    }

    /// The `fakeroot` to run oscap under when the scanner is not root
    /// (default: `fakeroot` from `PATH`).
    pub fn fakeroot(mut self, path: impl Into<PathBuf>) -> Self {
        self.fakeroot = path.into();
        self
    }

    /// Where SSG datastreams are looked for.
    pub fn content_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.content_dir = dir.into();
        self
    }

    /// The longest a scan may take (oscap is killed after it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long oscap may use no CPU time at all before it is taken as hung,
    /// killed and run once more (default two minutes).
    pub fn stall_timeout(mut self, window: Duration) -> Self {
        self.stall = window;
        self
    }

    /// Where scratch roots are made (default: [`ScratchDir::Auto`], memory
    /// when the image fits comfortably, else the temporary directory).
    pub fn scratch_dir(mut self, dir: ScratchDir) -> Self {
        self.scratch = dir;
        self
    }

    /// Scratch roots under `dir`, always (`scratch_dir(ScratchDir::In(dir))`).
    pub fn scratch_parent(self, dir: impl Into<PathBuf>) -> Self {
        self.scratch_dir(ScratchDir::In(dir.into()))
    }

    fn scratch(&self, prefix: &str, parent: Option<&Path>) -> Result<tempfile::TempDir> {
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        match parent {
            Some(p) => b.tempdir_in(p),
            None => b.tempdir(),
        }
        .map_err(|e| {
            Error::io(
                "create scratch directory",
                parent.map_or_else(std::env::temp_dir, Path::to_path_buf),
                e,
            )
        })
    }

    /// Pulls and unpacks `resolved` into a scratch root, scans it, removes
    /// the root. The digest scanned is `resolved.digest` (for an index, the
    /// platform image in it).
    pub async fn scan_image(
        &self,
        source: &ImageSource,
        resolved: &ResolvedImage,
        platform: &Platform,
        options: &ScanOptions,
        progress: Option<pull::ProgressFn>,
    ) -> Result<(ScanOutput, ScanTimings)> {
        let started = std::time::Instant::now();
        let (image, manifest) = source.image_manifest(resolved, platform).await?;
        let compressed: u64 = manifest.layers.iter().map(|l| l.size).sum();
        let parent = self.scratch.parent_for(compressed);
        let unpacked = self
            .unpack_into_scratch(
                source,
                &image.digest,
                &manifest,
                parent.as_deref(),
                &progress,
            )
            .await;
        let (scratch, owners) = match unpacked {
            // Memory filled up after all: start again on disk.
            Err(e)
                if parent.is_some() && self.scratch == ScratchDir::Auto && is_out_of_space(&e) =>
            {
                self.unpack_into_scratch(source, &image.digest, &manifest, None, &progress)
                    .await?
            }
            other => other?,
        };
        let unpack = started.elapsed();
        let (output, mut timings) = self
            .scan_unpacked(&scratch.path().join("rootfs"), options, owners.as_ref())
            .await?;
        timings.unpack = unpack;
        drop(scratch);
        Ok((output, timings))
    }

    /// A new scratch directory under `parent` holding the image's layers
    /// unpacked in `rootfs/`, and, when this process cannot apply owners,
    /// the owners the layers give.
    async fn unpack_into_scratch(
        &self,
        source: &ImageSource,
        image: &imprimatur_reference::Digest,
        manifest: &imprimatur_registry::Manifest,
        parent: Option<&Path>,
        progress: &Option<pull::ProgressFn>,
    ) -> Result<(tempfile::TempDir, Option<OwnerLedger>)> {
        let scratch = self.scratch("imprimatur-root.", parent)?;
        let owners = fakeroot::owners_need_recording().then(OwnerLedger::new);
        let mut unpacker = Unpacker::builder();
        if let Some(ledger) = &owners {
            unpacker = unpacker.record_owners(ledger.clone());
        }
        pull::unpack_manifest(
            source,
            image,
            manifest,
            &unpacker.build(),
            &scratch.path().join("rootfs"),
            progress.clone(),
        )
        .await?;
        Ok((scratch, owners))
    }

    /// Scans an unpacked root filesystem, as its files' owners are.
    pub async fn scan_root(
        &self,
        root: &Path,
        options: &ScanOptions,
    ) -> Result<(ScanOutput, ScanTimings)> {
        self.scan_unpacked(root, options, None).await
    }

    /// Scans a root filesystem unpacked without its owners (by a process
    /// that is not root), with the owners its unpacker recorded in
    /// `owners` ([`imprimatur_registry::unpack::UnpackerBuilder::record_owners`]):
    /// oscap runs under `fakeroot` and sees them.
    pub async fn scan_root_with_owners(
        &self,
        root: &Path,
        options: &ScanOptions,
        owners: &OwnerLedger,
    ) -> Result<(ScanOutput, ScanTimings)> {
        self.scan_unpacked(root, options, Some(owners)).await
    }

    async fn scan_unpacked(
        &self,
        root: &Path,
        options: &ScanOptions,
        owners: Option<&OwnerLedger>,
    ) -> Result<(ScanOutput, ScanTimings)> {
        let chosen = content::choose(
            root,
            &self.content_dir,
            options.datastream.as_deref(),
            options.profile.as_deref(),
        )?;
        // Results are small and outlive the root: always the temporary
        // directory (or the one the caller named).
        let results_parent = match &self.scratch {
            ScratchDir::In(dir) => Some(dir.as_path()),
            ScratchDir::Auto => None,
        };
        let results = self.scratch("imprimatur-results.", results_parent)?;
        let arf_path = results.path().join("results-arf.xml");
        let mut limitations = Vec::new();
        let owners_db = match owners {
            Some(_) if fakeroot::find_program(&self.fakeroot).is_none() => {
                limitations.push(fakeroot::limitation_without_fakeroot(&self.fakeroot));
                None
            }
            Some(ledger) => Some(fakeroot::write_db(ledger, results.path())?),
            None => None,
        };
        let owners_db = owners_db.as_deref();
        let mut args: Vec<std::ffi::OsString> = vec![
            "xccdf".into(),
            "eval".into(),
            "--profile".into(),
            chosen.profile.clone().into(),
        ];
        if let Some(t) = &options.tailoring {
            args.push("--tailoring-file".into());
            args.push(t.into());
        }
        args.push("--results-arf".into());
        args.push(arf_path.clone().into());
        args.push(chosen.datastream.clone().into());
        let started = std::time::Instant::now();
        let run = self.run_oscap(root, &args, owners_db).await?;
        let oscap_time = started.elapsed();
        if run.code != 0 && run.code != 2 {
            return Err(Error::Scanner {
                message: format!(
                    "exit code {} ({}): {}",
                    run.code,
                    chosen.datastream.display(),
                    tail(&run.stderr)
                ),
            });
        }
        if !arf_path.is_file() {
            return Err(Error::Scanner {
                message: format!(
                    "exited {} but wrote no results: {}",
                    run.code,
                    tail(&run.stderr)
                ),
            });
        }
        limitations.extend(limitations_of(&run.stderr));
        let (oval_report, oval_results_path) = match &options.oval {
            Some(oval) => {
                let path = results.path().join("oval-results.xml");
                let args: Vec<std::ffi::OsString> = vec![
                    "oval".into(),
                    "eval".into(),
                    "--results".into(),
                    path.clone().into(),
                    oval.into(),
                ];
                let oval_run = self.run_oscap(root, &args, owners_db).await?;
                if oval_run.code != 0 && oval_run.code != 2 || !path.is_file() {
                    return Err(Error::Scanner {
                        message: format!(
                            "OVAL {}: exit code {}: {}",
                            oval.display(),
                            oval_run.code,
                            tail(&oval_run.stderr)
                        ),
                    });
                }
                for l in limitations_of(&oval_run.stderr) {
                    if !limitations.contains(&l) {
                        limitations.push(l);
                    }
                }
                (Some(parse_file(&path)?), Some(path))
            }
            None => (None, None),
        };
        let started = std::time::Instant::now();
        let report = parse_file(&arf_path)?;
        let parse_time = started.elapsed();
        if report.test_results.is_empty() {
            return Err(Error::Scanner {
                message: format!(
                    "{} holds no TestResult: {}",
                    arf_path.display(),
                    tail(&run.stderr)
                ),
            });
        }
        Ok((
            ScanOutput {
                content: chosen,
                report,
                oval_report,
                exit_code: run.code,
                limitations,
                arf_path,
                oval_results_path,
                _results_dir: results,
            },
            ScanTimings {
                unpack: Duration::ZERO,
                oscap: oscap_time,
                parse: parse_time,
            },
        ))
    }

    /// Runs oscap on `root`; under `fakeroot -i owners_db` when given. A
    /// run that hangs is killed and run once more; both share the scan's
    /// timeout.
    async fn run_oscap(
        &self,
        root: &Path,
        args: &[std::ffi::OsString],
        owners_db: Option<&Path>,
    ) -> Result<OscapRun> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        for _attempt in 0..2 {
            if let Some(run) = self.run_oscap_once(root, args, owners_db, deadline).await? {
                return Ok(run);
            }
        }
        Err(Error::Scanner {
            message: format!(
                "{} used no CPU time for {} s, twice, and was killed: it hung \
                 (OpenSCAP's probe threads can deadlock)",
                self.oscap.display(),
                self.stall.as_secs()
            ),
        })
    }

    /// One run of oscap: `None` when it hung ([`process_group::stalled`])
    /// and was killed.
    async fn run_oscap_once(
        &self,
        root: &Path,
        args: &[std::ffi::OsString],
        owners_db: Option<&Path>,
        deadline: tokio::time::Instant,
    ) -> Result<Option<OscapRun>> {
        let root = std::path::absolute(root).map_err(|e| Error::io("resolve", root, e))?;
        let cannot_run = |e: &dyn std::fmt::Display| Error::Scanner {
            message: format!(
                "cannot run {}: {e} (install openscap-scanner)",
                self.oscap.display()
            ),
        };
        let mut command = match owners_db {
            Some(db) => {
                // fakeroot would only say "exit code 127": check first.
                if fakeroot::find_program(&self.oscap).is_none() {
                    return Err(cannot_run(&"not found"));
                }
                let mut c = tokio::process::Command::new(&self.fakeroot);
                c.arg("-i").arg(db).arg("--").arg(&self.oscap);
                c
            }
            None => tokio::process::Command::new(&self.oscap),
        };
        command.process_group(0);
        let mut child = command
            .args(args)
            .env("OSCAP_PROBE_ROOT", &root)
            .env(
                "OSCAP_EVALUATION_TARGET",
                format!("chroot://{}", root.display()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| cannot_run(&e))?;
        let pgid = child.id();
        let mut group = KillGroupOnDrop::new(pgid);
        let mut stderr_pipe = child.stderr.take();
        let wait = async {
            let mut stderr = Vec::new();
            if let Some(pipe) = stderr_pipe.as_mut() {
                // Bounded: oscap's warnings are a few lines; keep 1 MiB at most.
                let _ = pipe.take(1 << 20).read_to_end(&mut stderr).await;
            }
            let status = child.wait().await;
            group.disarm();
            (status, stderr)
        };
        let hung = async {
            match pgid {
                Some(pgid) => process_group::stalled(pgid, self.stall).await,
                None => std::future::pending().await,
            }
        };
        let watched = async {
            tokio::select! {
                finished = wait => Some(finished),
                () = hung => None,
            }
        };
        // On a timeout or a hang, `group` (dropped on return) kills the
        // process group, and `child` (kill_on_drop) the child.
        match tokio::time::timeout_at(deadline, watched).await {
            Ok(Some((status, stderr))) => {
                let status = status.map_err(|e| Error::Scanner {
                    message: format!("waiting for oscap: {e}"),
                })?;
                Ok(Some(OscapRun {
                    code: status.code().unwrap_or(-1),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                }))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(Error::Timeout {
                seconds: self.timeout.as_secs(),
            }),
        }
    }
}

struct OscapRun {
    code: i32,
    stderr: String,
}

fn parse_file(path: &Path) -> Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    Ok(imprimatur_arf::parse_report(
        std::io::BufReader::with_capacity(256 << 10, file),
    )?)
}

/// The last lines of oscap's stderr, for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    let text = lines[start..].join(" | ");
    if text.is_empty() {
        "no output on stderr".into()
    } else {
        text
    }
}

/// oscap's warnings that mean part of the content could not be evaluated on
/// an offline root, explained; other warnings and errors kept as they are.
pub fn limitations_of(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let text = line
            .trim()
            .trim_start_matches("E: oscap:")
            .trim_start_matches("W: oscap:")
            .trim();
        if text.is_empty() || !(line.starts_with("E:") || line.starts_with("W:")) {
            continue;
        }
        let explained = if let Some(probe) = text
            .strip_prefix("Requested offline mode is not supported by ")
            .and_then(|r| r.strip_suffix(" probe."))
        {
            format!(
                "the {probe} probe cannot inspect an offline root: its tests report errors or are not checked"
            )
        } else if text.starts_with("dpkginfo_init has failed") {
            "the dpkginfo probe could not open the image's dpkg database: package-version tests may be wrong".into()
        } else if text.starts_with("rpminfo_init has failed") || text.contains("rpmdb") {
            "the rpminfo probe could not open the image's RPM database: package-version tests may be wrong".into()
        } else {
            format!("oscap: {text}")
        };
        if !out.contains(&explained) {
            out.push(explained);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oscap_warnings_become_explained_limitations() {
        let stderr = "E: oscap:     dpkginfo_init has failed.\n\
                      W: oscap:       Requested offline mode is not supported by sysctl probe.\n\
                      W: oscap:       Requested offline mode is not supported by sysctl probe.\n\
                      some other line\n";
        let l = limitations_of(stderr);
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l[0].contains("dpkginfo probe"));
        assert!(l[1].starts_with("the sysctl probe cannot inspect an offline root"));
        assert!(limitations_of("").is_empty());
    }

    /// A root to scan (with `etc/`) and options naming a datastream with the
    /// standard profile in it; the stand-in oscaps here never read it.
    fn root_with_a_datastream() -> (tempfile::TempDir, ScanOptions) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let ds = dir.path().join("ds.xml");
        std::fs::write(
            &ds,
            r#"<Profile id="xccdf_org.ssgproject.content_profile_standard"/>"#,
        )
        .unwrap();
        let opts = ScanOptions {
            datastream: Some(ds),
            ..ScanOptions::default()
        };
        (dir, opts)
    }

    /// An executable shell script `name` in `dir`: a stand-in for oscap.
    fn stand_in(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    }

    /// An XCCDF result document with one passed rule.
    const ONE_RULE_RESULT: &str = r#"<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="xccdf_t_benchmark_b">
  <TestResult id="xccdf_t_testresult_r" start-time="2026-11-29T00:00:00" end-time="2026-11-29T00:00:01">
    <rule-result idref="xccdf_t_rule_a" severity="low"><result>pass</result></rule-result>
  </TestResult>
</Benchmark>
"#;

    #[tokio::test]
    async fn an_oscap_that_hangs_once_is_killed_and_run_again() {
        let (dir, opts) = root_with_a_datastream();
        let result = dir.path().join("result.xml");
        std::fs::write(&result, ONE_RULE_RESULT).unwrap();
        let first = dir.path().join("first-run");
        let hung_pid = dir.path().join("hung.pid");
        // First run: hangs without using CPU. Second: writes the result
        // where --results-arf says.
        let script = format!(
            "if [ ! -e {first} ]; then touch {first}; echo $$ > {pid}; exec sleep 60; fi\n\
             while [ $# -gt 0 ]; do\n\
               if [ \"$1\" = --results-arf ]; then cp {result} \"$2\"; fi; shift\n\
             done\n\
             exit 0\n",
            first = first.display(),
            pid = hung_pid.display(),
            result = result.display(),
        );
        let oscap = stand_in(dir.path(), "flaky-oscap", &script);
        let (out, _) = Scanner::default()
            .oscap(&oscap)
            .timeout(Duration::from_secs(50))
            .stall_timeout(Duration::from_secs(1))
            .scan_root(dir.path(), &opts)
            .await
            .unwrap();
        assert_eq!(out.exit_code, 0);
        assert_eq!(out.report.test_results.len(), 1);
        // The hung run was killed (its group), not left behind.
        let pid = std::fs::read_to_string(&hung_pid).unwrap();
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "the hung oscap survived: {stat}"
        );
    }

    #[tokio::test]
    async fn a_missing_oscap_is_a_clear_error_and_a_timeout_kills_it() {
        let (dir, opts) = root_with_a_datastream();
        let e = Scanner::default()
            .oscap("/nonexistent/oscap")
            .scan_root(dir.path(), &opts)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Scanner { .. }) && e.to_string().contains("/nonexistent/oscap"),
            "{e}"
        );

        // A stand-in that hangs: the timeout fires and the process is killed.
        let script = stand_in(dir.path(), "slow-oscap", "sleep 30\n");
        let e = Scanner::default()
            .oscap(&script)
            .timeout(Duration::from_millis(200))
            .scan_root(dir.path(), &opts)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");

        // Under fakeroot (a scanner that is not root), the timeout kills
        // the whole process group: fakeroot's script, its daemon and oscap.
        if fakeroot::find_program(Path::new("fakeroot")).is_some() {
            let pid_file = dir.path().join("oscap.pid");
            let grouped = stand_in(
                dir.path(),
                "grouped-oscap",
                &format!("echo $$ > {}\nexec sleep 30\n", pid_file.display()),
            );
            let e = Scanner::default()
                .oscap(&grouped)
                .timeout(Duration::from_secs(5))
                .scan_root_with_owners(dir.path(), &opts, &OwnerLedger::new())
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Timeout { .. }), "{e}");
            let pid = std::fs::read_to_string(&pid_file).unwrap();
            let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
            // SIGKILL is delivered at once; reaping by init may lag a little.
            for _ in 0..50 {
                let gone = std::fs::read_to_string(proc_dir.join("stat"))
                    .map_or(true, |stat| stat.contains(") Z "));
                if gone {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            assert!(
                stat.is_empty() || stat.contains(") Z "),
                "oscap under fakeroot survived the timeout: {stat}"
            );
        } else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set and fakeroot is missing"
            );
        }

        // A run that uses no CPU at all (a deadlocked oscap) is killed
        // after the stall window and run once more: hanging twice is an
        // error saying so, well before the timeout.
        let hangs = stand_in(dir.path(), "hanging-oscap", "exec sleep 60\n");
        let e = Scanner::default()
            .oscap(&hangs)
            .timeout(Duration::from_secs(50))
            .stall_timeout(Duration::from_secs(1))
            .scan_root(dir.path(), &opts)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Scanner { .. }) && e.to_string().contains("twice"),
            "{e}"
        );

        // Exit code 1 is an error carrying oscap's stderr.
        let failing = stand_in(
            dir.path(),
            "failing-oscap",
            "echo 'OpenSCAP Error: bad content' >&2\nexit 1\n",
        );
        let e = Scanner::default()
            .oscap(&failing)
            .scan_root(dir.path(), &opts)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("exit code 1") && e.to_string().contains("bad content"),
            "{e}"
        );
    }
}
