//! The scanning and signing service end to end, on a real Debian image in a
//! real `docker-registry`: scan counts against `oscap-chroot` on the tree
//! `umoci unpack` makes, gates that sign nothing, idempotent signing that
//! skopeo accepts, the predecessor's requests, clear failures, and kills
//! in the middle of publishing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::peers::{
    PodRun, PodSandbox, Registry, Scratch, debian_layout, require_tools, run, run_ok,
};
use crate::util::imprimatur;

const DATASTREAM: &str = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml";
const PROFILE: &str = "xccdf_org.ssgproject.content_profile_standard";

fn tools() -> bool {
    require_tools(&[
        "skopeo",
        "umoci",
        "docker-registry",
        "oscap",
        "oscap-chroot",
        "debootstrap",
        "fakeroot",
        "unshare",
        "setpriv",
    ])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A registry holding the Debian image as `deb/bullseye:11` (and any extra
/// names); returns the registry and `HOST/deb/bullseye:11`.
fn registry_with_debian(extra: &[&str]) -> (Registry, String) {
    let registry = Registry::start();
    let layout = debian_layout();
    let mut names = vec!["deb/bullseye:11".to_owned()];
    names.extend(extra.iter().map(|s| (*s).to_owned()));
    for name in &names {
        run_ok(
            Command::new("skopeo")
                .args(["copy", "-q", "--insecure-policy", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:latest", layout.display()))
                .arg(format!("docker://{}/{name}", registry.host())),
        );
    }
    let image = format!("{}/deb/bullseye:11", registry.host());
    (registry, image)
}

/// The selected rules' results of the first TestResult of a JSON report
/// (`arf report --format json`, or a scan result's report), by rule id.
fn rule_results(report: &Value) -> BTreeMap<String, String> {
    report["testResults"][0]["ruleResults"]
        .as_array()
        .expect("ruleResults")
        .iter()
        .filter(|r| r["result"] != "notselected")
        .map(|r| {
            (
                r["idref"].as_str().unwrap_or_default().to_owned(),
                r["result"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `Result\r\tVALUE` lines of oscap's stdout, per rule (oscap writes a
/// carriage return before the tab, to redraw "processing" on terminals).
fn oscap_results(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rule = None;
    for line in stdout.lines() {
        let line = line.replace('\r', "");
        if let Some(r) = line.strip_prefix("Rule\t") {
            rule = Some(r.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("Result\t")
            && let Some(r) = rule.take()
        {
            out.insert(r, v.trim().to_owned());
        }
    }
    out
}

#[test]
fn scan_counts_equal_oscap_chroot_on_the_tree_umoci_unpacks() {
    if !tools() {
        return;
    }
    let (_registry, image) = registry_with_debian(&[]);
    let scratch = Scratch::new();
    let arf = scratch.path("ours-arf.xml");
    let out = run(imprimatur()
        .args(["scan", "--json", "--tls-verify=false", "--results-arf"])
        .arg(&arf)
        .arg(format!("docker://{image}")));
    assert_eq!(
        out.status.code(),
        Some(0),
        "no gate: exit 0\n{}",
        stderr(&out)
    );
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");

    // The reference: umoci unpacks the same image, oscap-chroot scans it.
    let bundle = scratch.path("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", debian_layout().display()))
            .arg(&bundle),
    );
    let reference = run(Command::new("oscap-chroot")
        .arg(bundle.join("rootfs"))
        .args(["xccdf", "eval", "--profile", PROFILE, "--results-arf"])
        .arg(scratch.path("ref-arf.xml"))
        .arg(DATASTREAM));
    assert_eq!(
        reference.status.code(),
        Some(2),
        "some rules fail on minbase: {}",
        stderr(&reference)
    );
    let theirs = oscap_results(&stdout(&reference));
    let count = |f: &dyn Fn(&str) -> bool| theirs.values().filter(|v| f(v)).count() as u64;
    let total = count(&|v| v != "notselected" && v != "notapplicable");
    let passed = count(&|v| v == "pass" || v == "fixed");
    let failed = count(&|v| v == "fail");
    assert!(total > 20 && failed > 0 && passed > 0, "{theirs:?}");
    assert_eq!(status["scanResult"]["totalRules"], total);
    assert_eq!(status["scanResult"]["passedRules"], passed);
    assert_eq!(status["scanResult"]["failedRules"], failed);

    // Rule by rule, from the ARF we kept (oscap's own, unchanged).
    let ours = run_ok(
        imprimatur()
            .args(["arf", "report", "--format", "json"])
            .arg(&arf),
    );
    let report: Value = serde_json::from_slice(&ours.stdout).expect("report json");
    assert_eq!(rule_results(&report), theirs);
    // The offline-root limits are reported, not passed over.
    let limits = status["scanLimitations"].as_array().expect("limitations");
    assert!(
        limits
            .iter()
            .any(|l| l.as_str().is_some_and(|s| s.contains("sysctl probe"))),
        "{limits:?}"
    );

    // The same image scanned as a scan Job's pod does (one more real scan,
    // non-root on a read-only root): the result read back from the frame
    // agrees with the --json status, rule by rule with oscap-chroot.
    result_frame_agrees_with_json(&image, &status, &theirs, &scratch);
}

/// `scan --result-frame --termination-log` as the controller's Job runs it,
/// in its pod's restrictions ([`PodSandbox`]: non-root, no capabilities,
/// read-only root): stdout holds the frame
/// (decoded by the library, checked against the termination message), the
/// counts are those of `--json` run as root, and the rules' results are
/// oscap-chroot's on the tree umoci unpacked as root (`reference`): a
/// scanner that cannot `chown` still judges the image's file owners.
fn result_frame_agrees_with_json(
    image: &str,
    status: &Value,
    reference: &BTreeMap<String, String>,
    scratch: &Scratch,
) {
    use imprimatur::service::scan_result::{self, TerminationMessage, Verdict};
    // The Job's pod (imprimatur_service::scan_job): its arguments, its
    // environment, its emptyDir mounted at /scratch and /tmp (oscap 1.3.7
    // makes its temporary directory in /tmp whatever TMPDIR says).
    let pod = PodSandbox {
        empty_dirs: vec!["/scratch".into(), "/tmp".into()],
        env: vec![
            ("TMPDIR".into(), "/scratch".into()),
            ("HOME".into(), "/scratch".into()),
        ],
        files: vec![],
    };
    let args: Vec<String> = [
        "imprimatur",
        "scan",
        &format!("docker://{image}"),
        "--result-frame",
        "--termination-log",
        "/dev/termination-log",
        "--scratch-dir",
        "/scratch",
        "--timeout",
        "1800",
        "--tls-verify=false",
    ]
    .map(str::to_owned)
    .into();
    let PodRun {
        output: out,
        termination_message: termination,
    } = pod.run(scratch, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(termination.len() <= 4096, "{termination}");
    // The pod log interleaves stderr (progress) with stdout.
    let mut log = out.stderr.clone();
    log.extend_from_slice(&out.stdout);
    let result = scan_result::decode(&log, &termination).expect("the frame decodes");

    assert_eq!(
        serde_json::to_value(result.scan_result).expect("counts"),
        status["scanResult"]
    );
    assert_eq!(
        result.image_digest,
        status["imageDigest"].as_str().expect("digest")
    );
    assert_eq!(
        serde_json::to_value(&result.scan_limitations).expect("limits"),
        status["scanLimitations"]
    );
    assert_eq!(result.verdict(), Verdict::None, "no gate given");
    let summary = TerminationMessage::parse(&termination).expect("summary");
    assert_eq!(summary.counts, Some(result.scan_result));
    // The report came along, with the rule results.
    let report = result.report.expect("the report fits");
    let rules = rule_results(&report);
    // Among them, the rules on /etc/passwd's, /etc/shadow's... owners and
    // groups, which a non-root unpack fails unless oscap sees the owners the
    // image gives (recorded by the unpacker, shown through fakeroot).
    assert!(
        reference
            .iter()
            .any(|(rule, result)| rule.contains("file_owner_etc_shadow") && result == "pass"),
        "{reference:?}"
    );
    assert_eq!(&rules, reference, "non-root scan vs oscap-chroot as root");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("rules:"),
        "no summary on stdout"
    );
}

/// A scan that cannot start still writes a termination message saying why,
/// and exits 2.
#[test]
fn a_failed_result_frame_scan_writes_the_reason_to_the_termination_log() {
    use imprimatur::service::scan_result::{self, ScanResultError};
    let scratch = Scratch::new();
    let termination_log = scratch.path("termination-log");
    let out = run(imprimatur()
        .args([
            "scan",
            "--result-frame",
            "--tls-verify=false",
            "--retry-times=0",
        ])
        .arg("--termination-log")
        .arg(&termination_log)
        .arg("docker://127.0.0.1:9/none/such:1"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no frame: {}", stdout(&out));
    let termination = std::fs::read_to_string(&termination_log).expect("termination log");
    match scan_result::decode(&out.stdout, &termination) {
        Err(ScanResultError::ScanFailed(m)) => assert!(m.contains("127.0.0.1:9"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A key, a trust configuration for the registry's scope with a `file://`
/// lookaside, and the paths of all of them.
pub(crate) struct Trust {
    pub(crate) keys: PathBuf,
    pub(crate) public: PathBuf,
    pub(crate) policy: PathBuf,
    pub(crate) registries_d: PathBuf,
    pub(crate) lookaside: PathBuf,
}

pub(crate) fn trust(scratch: &Scratch, registry_host: &str) -> Trust {
    let keys = scratch.path("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    let public = scratch.path("release.pub");
    run_ok(
        imprimatur()
            .args([
                "keygen",
                "--userid",
                "Release <release@example.com>",
                "--secret-key-out",
            ])
            .arg(keys.join("release"))
            .arg("--public-key-out")
            .arg(&public),
    );
    let t = Trust {
        keys,
        public,
        policy: scratch.path("policy.json"),
        registries_d: scratch.path("registries.d"),
        lookaside: scratch.path("lookaside"),
    };
    run_ok(
        imprimatur()
            .args([
                "trust",
                "set",
                "--type",
                "reject",
                "default",
                "--policy-path",
            ])
            .arg(&t.policy)
            .arg("--registries-d")
            .arg(&t.registries_d),
    );
    run_ok(
        imprimatur()
            .args(["trust", "set", "--type", "signedBy", "--policy-path"])
            .arg(&t.policy)
            .arg("--registries-d")
            .arg(&t.registries_d)
            .arg("--pubkeys")
            .arg(&t.public)
            .arg("--lookaside")
            .arg(format!("file://{}", t.lookaside.display()))
            .arg(registry_host),
    );
    t
}

fn signing_request(scratch: &Scratch, name: &str, image: &str, extra: &str) -> PathBuf {
    scratch.write(
        &format!("{name}.yaml"),
        format!(
            "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {{name: {name}, generation: 3}}\n\
             spec:\n  image: docker://{image}\n  signingKeySecretName: release\n  signingKeySignBy: release@example.com\n{extra}"
        ),
    )
}

fn run_request(t: &Trust, file: &Path) -> (std::process::Output, Value) {
    let out = run(imprimatur()
        .args(["request", "run", "--tls-verify=false", "--key-dir"])
        .arg(&t.keys)
        .arg("--registries-d")
        .arg(&t.registries_d)
        .arg("--policy")
        .arg(&t.policy)
        .arg(file));
    let yaml = stdout(&out);
    let status: Value = serde_saphyr::from_str(&yaml)
        .unwrap_or_else(|e| panic!("status YAML ({e}):\n{yaml}\n{}", stderr(&out)));
    (out, status["status"].clone())
}

pub(crate) fn signatures_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[test]
fn failing_gate_signs_nothing_passing_gate_signs_once_and_skopeo_accepts() {
    if !tools() {
        return;
    }
    let (registry, image) = registry_with_debian(&[]);
    let scratch = Scratch::new();
    let t = trust(&scratch, &registry.host());

    // The minbase image fails high-severity rules: a strict gate refuses it.
    let strict = signing_request(
        &scratch,
        "strict",
        &image,
        "  requireScan: true\n  gate: {maxFailed: {high: 0}}\n",
    );
    let (out, status) = run_request(&t, &strict);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(status["phase"], "Failed");
    assert_eq!(condition(&status, "GatePassed")["status"], "False");
    assert_eq!(condition(&status, "GatePassed")["observedGeneration"], 3);
    assert_eq!(condition(&status, "Ready")["reason"], "GateFailed");
    assert!(
        condition(&status, "Signed").is_null(),
        "no signing step after a failed gate"
    );
    assert!(
        signatures_in(&t.lookaside).is_empty(),
        "nothing written anywhere"
    );
    let denied = run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
        .arg(&t.policy)
        .arg("--registries.d")
        .arg(&t.registries_d)
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", scratch.path("denied").display())));
    assert!(!denied.status.success());

    // A lenient gate, waiving the high-severity findings with a reason.
    let lenient = signing_request(
        &scratch,
        "lenient",
        &image,
        "  requireScan: true\n  gate: {maxFailed: {high: 10, medium: 50, low: 50, unknown: 10}}\n",
    );
    let (out, status) = run_request(&t, &lenient);
    assert_eq!(out.status.code(), Some(0), "{}\n{status}", stderr(&out));
    assert_eq!(status["phase"], "Completed");
    for kind in [
        "Scanned",
        "GatePassed",
        "Signed",
        "Published",
        "Verified",
        "Ready",
    ] {
        assert_eq!(
            condition(&status, kind)["status"],
            "True",
            "{kind}: {status}"
        );
    }
    let digest = status["imageDigest"].as_str().expect("digest").to_owned();
    assert_eq!(
        status["signedImage"], status["unsignedImage"],
        "nothing re-pushed: same digest"
    );
    assert!(
        status["unsignedImage"]
            .as_str()
            .is_some_and(|s| s.ends_with(&digest))
    );
    assert_eq!(status["signature"]["created"], true);
    let sigs = signatures_in(&t.lookaside);
    assert_eq!(sigs.len(), 1, "{sigs:?}");
    assert!(
        sigs[0]
            .display()
            .to_string()
            .contains(&digest.replace(':', "=")),
        "{sigs:?}"
    );

    // skopeo, under the generated policy, accepts the image.
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
            .arg(&t.policy)
            .arg("--registries.d")
            .arg(&t.registries_d)
            .arg(format!("docker://{image}"))
            .arg(format!("dir:{}", scratch.path("accepted").display())),
    );

    // Idempotent: the same request again reuses the signature.
    let (out, status) = run_request(&t, &lenient);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status["signature"]["created"], false);
    assert_eq!(condition(&status, "Signed")["reason"], "AlreadySigned");
    assert_eq!(signatures_in(&t.lookaside).len(), 1);
}

#[test]
fn predecessor_requests_run_with_an_image_stream_registry() {
    if !tools() {
        return;
    }
    let (registry, _) = registry_with_debian(&["default/myapp:latest"]);
    let scratch = Scratch::new();
    let t = trust(&scratch, &registry.host());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/requests");
    for (file, kind) in [
        (
            "predecessor-image-scanning-request.yaml",
            "ImageScanningRequest",
        ),
        (
            "predecessor-image-signing-request.yaml",
            "ImageSigningRequest",
        ),
    ] {
        let text = std::fs::read_to_string(examples.join(file)).expect("example");
        assert!(
            text.contains(kind) && text.contains("imageStreamTag: myapp:latest"),
            "{file}"
        );
        // The predecessor's key secret was `mygpgkey` for openshift@example.com;
        // locally it is a file of that name.
        if !t.keys.join("mygpgkey").exists() {
            run_ok(
                imprimatur()
                    .args([
                        "keygen",
                        "--userid",
                        "openshift <openshift@example.com>",
                        "--secret-key-out",
                    ])
                    .arg(t.keys.join("mygpgkey"))
                    .arg("--public-key-out")
                    .arg(scratch.path("mygpgkey.pub")),
            );
        }
        let path = scratch.write(file, &text);
        let out = run(imprimatur()
            .args([
                "request",
                "run",
                "--tls-verify=false",
                "--image-stream-registry",
                &registry.host(),
                "--key-dir",
            ])
            .arg(&t.keys)
            .arg("--registries-d")
            .arg(&t.registries_d)
            .arg(&path));
        let status: Value = serde_saphyr::from_str(&stdout(&out)).expect("yaml");
        let status = &status["status"];
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}\n{status}",
            stderr(&out)
        );
        assert_eq!(status["phase"], "Completed", "{file}");
        assert!(
            status["unsignedImage"]
                .as_str()
                .is_some_and(|s| s.contains("/default/myapp@sha256:")),
            "{status}"
        );
        if kind == "ImageScanningRequest" {
            assert!(
                status["scanResult"]["totalRules"]
                    .as_u64()
                    .is_some_and(|n| n > 20),
                "{status}"
            );
        } else {
            assert_eq!(signatures_in(&t.lookaside).len(), 1);
        }
    }
    // Without a registry for image streams, the request fails with the reason.
    let path = examples.join("predecessor-image-scanning-request.yaml");
    let out = run(imprimatur()
        .args(["request", "run", "--tls-verify=false"])
        .arg(&path));
    assert_eq!(out.status.code(), Some(1));
    let status: Value = serde_saphyr::from_str(&stdout(&out)).expect("yaml");
    assert_eq!(status["status"]["phase"], "Failed");
    assert!(
        condition(&status["status"], "Ready")["message"]
            .as_str()
            .is_some_and(|m| m.contains("--image-stream-registry"))
    );
}

#[test]
fn failures_are_clear_and_end_in_a_failed_status() {
    if !tools() {
        return;
    }
    let (registry, image) = registry_with_debian(&[]);
    let scratch = Scratch::new();
    let t = trust(&scratch, &registry.host());
    let closed = crate::util::free_port();
    let cases = [
        (
            "bad-ref",
            "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {name: x}\nspec: {image: 'docker://UPPER/Case', signingKeySecretName: release}\n".to_owned(),
            "InvalidRequest",
            "UPPER/Case",
        ),
        (
            "no-ds",
            format!(
                "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageScanningRequest\nmetadata: {{name: x}}\nspec:\n  image: docker://{image}\n  scan: {{datastream: /nonexistent/ssg-ds.xml}}\n"
            ),
            "NoScanContent",
            "/nonexistent/ssg-ds.xml",
        ),
        (
            "bad-key",
            format!(
                "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {{name: x}}\nspec: {{image: 'docker://{image}', signingKeySecretName: nosuchkey}}\n"
            ),
            "KeyUnavailable",
            "nosuchkey",
        ),
        (
            "unreachable",
            format!(
                "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {{name: x}}\nspec: {{image: 'docker://127.0.0.1:{closed}/a/b:1', signingKeySecretName: release}}\n"
            ),
            "ImageUnavailable",
            &format!("127.0.0.1:{closed}") as &str,
        ),
    ];
    for (name, yaml, reason, mention) in cases {
        let path = scratch.write(&format!("{name}.yaml"), yaml);
        let (out, status) = run_request(&t, &path);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert_eq!(status["phase"], "Failed", "{name}");
        let ready = condition(&status, "Ready");
        assert_eq!(ready["reason"], reason, "{name}: {status}");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains(mention)),
            "{name}: {ready}"
        );
    }
    assert!(signatures_in(&t.lookaside).is_empty());
    // The scan command itself: exit 2 and the error on stderr.
    let out = run(imprimatur()
        .args([
            "scan",
            "--tls-verify=false",
            "--datastream",
            "/nonexistent/ds.xml",
        ])
        .arg(format!("docker://{image}")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/ds.xml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_kill_while_signing_and_publishing_leaves_no_partial_signature() {
    if !tools() {
        return;
    }
    let (registry, image) = registry_with_debian(&[]);
    let scratch = Scratch::new();
    let t = trust(&scratch, &registry.host());
    let request = signing_request(&scratch, "kill", &image, "");
    let manifest = scratch.path("manifest.json");
    std::fs::write(
        &manifest,
        run_ok(
            Command::new("skopeo")
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(format!("docker://{image}")),
        )
        .stdout,
    )
    .expect("manifest");
    // Kill after increasing delays: before, during and after the write.
    for delay_ms in [20u64, 60, 100, 140, 180, 220, 260, 300, 400, 600] {
        let mut child = imprimatur()
            .args(["request", "run", "--tls-verify=false", "--key-dir"])
            .arg(&t.keys)
            .arg("--registries-d")
            .arg(&t.registries_d)
            .arg(&request)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        for sig in signatures_in(&t.lookaside) {
            let name = sig
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            assert!(
                name.starts_with("signature-"),
                "stray file after a kill at {delay_ms} ms: {}",
                sig.display()
            );
            run_ok(
                imprimatur()
                    .args(["verify", "--public-key"])
                    .arg(&t.public)
                    .args(["--reference", &image, "--manifest"])
                    .arg(&manifest)
                    .arg(&sig),
            );
        }
    }
    // And a run to the end still leaves exactly one valid signature.
    let (out, _) = run_request(&t, &request);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(signatures_in(&t.lookaside).len(), 1);
}

#[test]
fn an_oval_file_is_evaluated_in_the_same_scan_and_its_cves_reported() {
    if !tools() {
        return;
    }
    let (_registry, image) = registry_with_debian(&[]);
    let scratch = Scratch::new();
    let oval = crate::util::data_dir().join("oval/bullseye-test-vulns.xml");
    // A gate that tolerates the SSG findings but not unwaived vulnerabilities
    // beyond them: the OVAL finding must be waived to pass.
    let gate = scratch.write("gate.yaml", "maxFailedTotal: 60\n");
    let out = run(imprimatur()
        .args(["scan", "--json", "--tls-verify=false", "--oval"])
        .arg(&oval)
        .arg("--gate")
        .arg(&gate)
        .arg(format!("docker://{image}")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status");
    assert_eq!(
        status["presentCves"],
        serde_json::json!(["CVE-2099-0001"]),
        "bullseye yes, buster no"
    );

    let strict = scratch.write(
        "strict.yaml",
        "maxFailed: {unknown: 0}\nmaxFailedTotal: 60\n",
    );
    let out = run(imprimatur()
        .args(["scan", "--json", "--tls-verify=false", "--oval"])
        .arg(&oval)
        .arg("--gate")
        .arg(&strict)
        .arg(format!("docker://{image}")));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status");
    let reasons = status["gate"]["reasons"].to_string();
    assert!(reasons.contains("oval:test.imprimatur:def:1"), "{reasons}");

    let waived = scratch.write(
        "waived.yaml",
        "maxFailed: {unknown: 0}\nmaxFailedTotal: 60\nwaivers:\n  - cve: CVE-2099-0001\n    reason: test data\n    author: tests\n    expires: '2999-01-01'\n  - rule: xccdf_org.ssgproject.content_rule_sysctl_kernel_randomize_va_space\n    reason: kernel setting, not the image's\n",
    );
    let out = run(imprimatur()
        .args(["scan", "--json", "--tls-verify=false", "--oval"])
        .arg(&oval)
        .arg("--gate")
        .arg(&waived)
        .arg(format!("docker://{image}")));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status");
    assert!(
        status["gate"]["waived"]
            .to_string()
            .contains("CVE-2099-0001"),
        "{status}"
    );
    assert!(
        !status["gate"]["reasons"]
            .to_string()
            .contains("oval:test.imprimatur:def:1"),
        "{status}"
    );

    // An expired waiver no longer applies, and the reason says so.
    let expired = scratch.write("expired.yaml", "maxFailed: {unknown: 0}\nmaxFailedTotal: 60\nwaivers:\n  - cve: CVE-2099-0001\n    reason: test data\n    expires: '2001-01-01'\n");
    let out = run(imprimatur()
        .args(["scan", "--json", "--tls-verify=false", "--oval"])
        .arg(&oval)
        .arg("--gate")
        .arg(&expired)
        .arg(format!("docker://{image}")));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status");
    assert!(
        status["gate"]["reasons"]
            .to_string()
            .contains("expired on 2001-01-01"),
        "{status}"
    );
}
