//! Signature stores against real peers: `imprimatur sign IMAGE`,
//! `signatures list|copy` and `policy check IMAGE` with skopeo 1.9.3 and
//! docker-registry on loopback, for a `file://` lookaside, an `http://`
//! lookaside (`python3 -m http.server`), and the registry signature
//! extension API (`doubles/extension_server.py` in front of docker-registry,
//! serving the endpoints as openshift/image-registry does).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::peers::{
    GpgAlgo, GpgHome, OciLayout, PushedImage, Registry, Scratch, require_tools, run, run_ok,
};
use crate::util;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `imprimatur keygen` (Ed25519); returns (fingerprint, secret, public).
fn keygen(dir: &Scratch, name: &str) -> (String, PathBuf, PathBuf) {
    let secret = dir.path(&format!("{name}.key"));
    let public = dir.path(&format!("{name}.pub"));
    let out = run_ok(
        util::imprimatur()
            .args(["keygen", "--userid"])
            .arg(format!("{name} <{name}@example.test>"))
            .arg("--secret-key-out")
            .arg(&secret)
            .arg("--public-key-out")
            .arg(&public),
    );
    let fpr = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(fpr.len(), 40, "{fpr:?}");
    (fpr, secret, public)
}

fn trust_set(policy: &Path, regd: &Path, args: &[&str]) {
    run_ok(
        util::imprimatur()
            .args(["trust", "set", "--policy-path"])
            .arg(policy)
            .arg("--registries-d")
            .arg(regd)
            .args(args),
    );
}

/// `imprimatur sign --key K --registries-d D --tls-verify=false IMAGE…`.
fn imp_sign(key: &Path, regd: &Path, images: &[&str], extra: &[&str]) -> Output {
    run(util::imprimatur()
        .arg("sign")
        .arg("--key")
        .arg(key)
        .arg("--registries-d")
        .arg(regd)
        .arg("--tls-verify=false")
        .args(extra)
        .args(images))
}

/// `skopeo copy` of `image` to a scratch `dir:` under a policy: allowed?
fn skopeo_allows(policy: &Path, regd: &Path, image: &str) -> (bool, String) {
    let dest = Scratch::new();
    let out = run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
        .arg(policy)
        .arg("--registries.d")
        .arg(regd)
        .arg(image)
        .arg(format!("dir:{}", s(&dest.path("out")))));
    let t = text(&out);
    if !out.status.success() {
        assert!(
            t.contains("Source image rejected"),
            "skopeo failed for another reason: {t}"
        );
    }
    (out.status.success(), t)
}

/// `imprimatur policy check IMAGE`: allowed (0) / denied (1); 2 panics.
fn imp_allows(policy: &Path, regd: &Path, image: &str) -> (bool, String) {
    let out = run(util::imprimatur()
        .args(["policy", "check", "--policy"])
        .arg(policy)
        .arg("--registries-d")
        .arg(regd)
        .arg("--tls-verify=false")
        .arg(image));
    let t = text(&out);
    match out.status.code() {
        Some(0) => (true, t),
        Some(1) => (false, t),
        c => panic!("policy check {image} exited {c:?}: {t}"),
    }
}

/// `imprimatur signatures list --json IMAGE`.
fn imp_list(regd: &Path, image: &str) -> serde_json::Value {
    let out = run_ok(
        util::imprimatur()
            .args([
                "signatures",
                "list",
                "--json",
                "--tls-verify=false",
                "--registries-d",
            ])
            .arg(regd)
            .arg(image),
    );
    serde_json::from_slice(&out.stdout).expect("list --json is JSON")
}

fn fingerprints(list: &serde_json::Value) -> Vec<String> {
    list["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| s["fingerprint"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until something accepts TCP connections on `port`.
fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {port}");
}

/// A process killed on drop.
struct Peer {
    child: Child,
    port: u16,
}

impl Peer {
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -m http.server` serving `dir` on loopback.
fn static_server(dir: &Path) -> Peer {
    let port = util::free_port();
    let mut child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    wait_port(port, &mut child, "python3 -m http.server");
    Peer { child, port }
}

/// One of the Python doubles in `tests/integration/doubles/`, started with
/// `args`; it prints `listening on PORT` when ready.
fn python_double(script: &str, args: &[&std::ffi::OsStr]) -> Peer {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/doubles")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the port");
    let port: u16 = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    wait_port(port, &mut child, &script.display().to_string());
    Peer { child, port }
}

/// The extension-API double in front of `registry`.
fn extension_server(registry: &Registry, extra: &[&str]) -> Peer {
    let upstream = registry.host();
    let mut args: Vec<&std::ffi::OsStr> = vec!["--upstream".as_ref(), upstream.as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    python_double("extension_server.py", &args)
}

/// A static web server that accepts PUT (exclusive with `If-None-Match: *`).
fn put_server(root: &Path) -> Peer {
    python_double("put_server.py", &[root.as_os_str()])
}

/// A GPG home with one generated key, its public key exported to `dir`.
fn gpg_signer(dir: &Scratch) -> (GpgHome, String, PathBuf) {
    let home = GpgHome::new();
    let fpr = home.gen_key("Skopeo <skopeo@example.test>", GpgAlgo::Ed25519, None);
    let public = dir.write("gpg.pub", home.export_public(&fpr));
    (home, fpr, public)
}

/// `skopeo copy --sign-by FPR SRC docker://DST` (insecure policy, plain HTTP).
fn skopeo_sign_copy(home: &GpgHome, fpr: &str, regd: &Path, src: &str, dst: &str) {
    run_ok(
        home.command("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--dest-tls-verify=false",
                "--src-tls-verify=false",
                "--sign-by",
                fpr,
                "--registries.d",
            ])
            .arg(regd)
            .arg(src)
            .arg(dst),
    );
}

const TOOLS: &[&str] = &["docker-registry", "umoci", "skopeo", "python3"];

// ---------------------------------------------------------------------------

#[test]
fn sign_image_into_file_lookaside_is_accepted_by_skopeo_and_policy_check() {
    if !require_tools(TOOLS) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1", "v2", "v3"]);
    let signed = layout.push("v1", &format!("{host}/ns/app:v1"));
    let unsigned = layout.push("v2", &format!("{host}/ns/app:v2"));
    let other_key = layout.push("v3", &format!("{host}/ns/app:v3"));
    let sc = Scratch::new();
    let (fpr, key, public) = keygen(&sc, "site");
    let (_, other, _) = keygen(&sc, "other");
    let (policy, regd, look) = (
        sc.path("policy.json"),
        sc.path("registries.d"),
        sc.path("look"),
    );
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("file://{}", s(&look)),
            &host,
        ],
    );

    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", signed.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.contains(&format!("{host}/ns/app:v1 {} stored:", signed.digest)),
        "{line}"
    );
    let file = look.join(format!(
        "ns/app@{}/signature-1",
        signed.digest.replace(':', "=")
    ));
    assert!(line.contains(&s(&file)), "{line}");
    assert!(file.is_file());
    // Signing again the same second may give identical bytes (Ed25519):
    // never a duplicate, at most a second signature.
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", signed.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = imp_sign(
        &other,
        &regd,
        &[&format!("docker://{}", other_key.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));

    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", signed.reference));
    assert!(ok, "skopeo refused what imprimatur signed: {t}");
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", signed.reference));
    assert!(ok, "{t}");
    for image in [&unsigned, &other_key] {
        let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", image.reference));
        assert!(!ok, "skopeo accepted {}: {t}", image.reference);
        let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", image.reference));
        assert!(!ok, "policy check accepted {}: {t}", image.reference);
    }

    let list = imp_list(&regd, &format!("docker://{}", signed.reference));
    assert_eq!(list["digest"], signed.digest.as_str());
    assert!(
        list["store"]
            .as_str()
            .unwrap_or_default()
            .starts_with("lookaside file://"),
        "{list}"
    );
    let fprs = fingerprints(&list);
    assert!(!fprs.is_empty() && fprs.iter().all(|f| *f == fpr), "{list}");
    let first = &list["signatures"][0];
    assert_eq!(
        first["untrusted"]["dockerReference"],
        format!("{host}/ns/app:v1").as_str()
    );
    assert_eq!(
        first["untrusted"]["dockerManifestDigest"],
        signed.digest.as_str()
    );
    // The plain output labels the claims as unverified and shows the 40-hex fingerprint.
    let out = run_ok(
        util::imprimatur()
            .args(["signatures", "list", "--tls-verify=false", "--registries-d"])
            .arg(&regd)
            .arg(format!("docker://{}", signed.reference)),
    );
    let plain = String::from_utf8_lossy(&out.stdout);
    assert!(
        plain.contains("NOT verified") && plain.contains(&fpr),
        "{plain}"
    );
}

#[test]
fn sign_image_via_staging_is_read_by_skopeo_from_an_http_lookaside() {
    if !require_tools(TOOLS) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1", "v2"]);
    let signed = layout.push("v1", &format!("{host}/web/app:v1"));
    let unsigned = layout.push("v2", &format!("{host}/web/app:v2"));
    let sc = Scratch::new();
    let (_, key, public) = keygen(&sc, "web");
    let served = sc.path("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let web = static_server(&served);
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("http://{}/sigs", web.host()),
            "--lookaside-staging",
            &format!("file://{}/sigs", s(&served)),
            &host,
        ],
    );
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", signed.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", signed.reference));
    assert!(ok, "skopeo refused the http lookaside signature: {t}");
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", signed.reference));
    assert!(ok, "{t}");
    let (ok, _) = skopeo_allows(&policy, &regd, &format!("docker://{}", unsigned.reference));
    assert!(!ok);
    let (ok, _) = imp_allows(&policy, &regd, &format!("docker://{}", unsigned.reference));
    assert!(!ok);
    // Read back over HTTP by us: the location is the http URL.
    let list = imp_list(&regd, &format!("docker://{}", signed.reference));
    let loc = list["signatures"][0]["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        loc.starts_with(&format!("http://{}/sigs/web/app@sha256=", web.host())),
        "{list}"
    );
    // A plain http lookaside without staging is not writable (as containers/image).
    let regd2 = sc.path("registries2.d");
    trust_set(
        &sc.path("policy2.json"),
        &regd2,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("http://{}/sigs", web.host()),
            &host,
        ],
    );
    let out = imp_sign(
        &key,
        &regd2,
        &[&format!("docker://{}", unsigned.reference)],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Configure a lookaside-staging"),
        "{}",
        text(&out)
    );
}

#[test]
fn skopeo_and_imprimatur_read_each_others_file_lookaside_signatures() {
    if !require_tools(&["docker-registry", "umoci", "skopeo", "gpg", "gpgconf"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let sc = Scratch::new();
    let (home, gpg_fpr, gpg_pub) = gpg_signer(&sc);
    let (fpr, key, public) = keygen(&sc, "ours");
    let look = sc.path("look");
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&gpg_pub),
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("file://{}", s(&look)),
            &host,
        ],
    );
    // skopeo pushes and signs (writes signature-1 into the lookaside).
    let dst = format!("{host}/mixed/app:v1");
    skopeo_sign_copy(
        &home,
        &gpg_fpr,
        &regd,
        &layout.image("v1"),
        &format!("docker://{dst}"),
    );
    let list = imp_list(&regd, &format!("docker://{dst}"));
    assert_eq!(fingerprints(&list), [gpg_fpr.as_str()], "{list}");
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{dst}"));
    assert!(ok, "policy check refused skopeo's signature: {t}");
    // We add ours as signature-2; skopeo reads both.
    let out = imp_sign(&key, &regd, &[&format!("docker://{dst}")], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("signature-2"),
        "{}",
        text(&out)
    );
    let list = imp_list(&regd, &format!("docker://{dst}"));
    assert_eq!(fingerprints(&list), [gpg_fpr, fpr], "{list}");
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{dst}"));
    assert!(ok, "{t}");
}

#[test]
fn extension_api_signatures_interoperate_with_skopeo() {
    if !require_tools(&[
        "docker-registry",
        "umoci",
        "skopeo",
        "python3",
        "gpg",
        "gpgconf",
    ]) {
        return;
    }
    let reg = Registry::start();
    let ext = extension_server(&reg, &[]);
    let host = ext.host();
    let layout = OciLayout::build(&["v1", "v2", "v3"]);
    let sc = Scratch::new();
    let (home, gpg_fpr, gpg_pub) = gpg_signer(&sc);
    let (fpr, key, public) = keygen(&sc, "ext");
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    // A lookaside is configured too: with the extension it must be ignored.
    let look = sc.path("look-unused");
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&gpg_pub),
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("file://{}", s(&look)),
            &host,
        ],
    );

    // skopeo signs through the extension API; we read and verify.
    let by_skopeo = format!("{host}/ext/app:v1");
    skopeo_sign_copy(
        &home,
        &gpg_fpr,
        &regd,
        &layout.image("v1"),
        &format!("docker://{by_skopeo}"),
    );
    assert!(
        !look.exists(),
        "lookaside used although the registry has the extension"
    );
    let list = imp_list(&regd, &format!("docker://{by_skopeo}"));
    assert!(
        list["store"]
            .as_str()
            .unwrap_or_default()
            .contains("extension API"),
        "{list}"
    );
    assert_eq!(fingerprints(&list), [gpg_fpr.as_str()], "{list}");
    let name = list["signatures"][0]["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        name.starts_with(&format!("{}@", list["digest"].as_str().unwrap_or_default())),
        "{name}"
    );
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{by_skopeo}"));
    assert!(ok, "{t}");

    // We sign through the extension API; skopeo reads and verifies.
    let pushed: PushedImage = layout.push("v2", &format!("{host}/ext/app:v2"));
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", pushed.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.contains(&format!("stored: {}@", pushed.digest)) && line.contains("extension API"),
        "{line}"
    );
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", pushed.reference));
    assert!(ok, "skopeo refused our extension-API signature: {t}");
    // Adding the same signature again writes nothing (X04).
    let list = imp_list(&regd, &format!("docker://{}", pushed.reference));
    assert_eq!(fingerprints(&list), [fpr], "{list}");

    // Unsigned: refused by both.
    let unsigned = layout.push("v3", &format!("{host}/ext/app:v3"));
    let (ok, _) = skopeo_allows(&policy, &regd, &format!("docker://{}", unsigned.reference));
    assert!(!ok);
    let (ok, _) = imp_allows(&policy, &regd, &format!("docker://{}", unsigned.reference));
    assert!(!ok);

    // Copy skopeo's signature to the v2 image's digest? No: copy is per
    // digest. Mirror v1's signatures into a dir: export, twice: the second
    // run adds nothing.
    let export = sc.path("export");
    run_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--src-tls-verify=false",
                "--remove-signatures",
            ])
            .arg(format!("docker://{by_skopeo}"))
            .arg(format!("dir:{}", s(&export))),
    );
    for expect in ["1 copied", "0 copied"] {
        let out = run_ok(
            util::imprimatur()
                .args(["signatures", "copy", "--tls-verify=false", "--registries-d"])
                .arg(&regd)
                .arg(format!("docker://{by_skopeo}"))
                .arg(format!("dir:{}", s(&export))),
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expect),
            "{}",
            text(&out)
        );
    }
    assert!(export.join("signature-1").is_file() && !export.join("signature-2").exists());
}

#[test]
fn extension_store_fault_leaves_no_signature_then_succeeds() {
    if !require_tools(TOOLS) {
        return;
    }
    let reg = Registry::start();
    let ext = extension_server(&reg, &["--fail-puts", "1"]);
    let layout = OciLayout::build(&["v1"]);
    let image = layout.push("v1", &format!("{}/fault/app:v1", ext.host()));
    let sc = Scratch::new();
    let (fpr, key, _) = keygen(&sc, "fault");
    let regd = sc.path("registries.d");
    std::fs::create_dir_all(&regd).expect("mkdir");
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", image.reference)],
        &[],
    );
    assert!(
        !out.status.success(),
        "the injected 500 must fail the command"
    );
    assert!(text(&out).contains("HTTP 500"), "{}", text(&out));
    let list = imp_list(&regd, &format!("docker://{}", image.reference));
    assert_eq!(
        list["signatures"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", image.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fingerprints(&imp_list(&regd, &format!("docker://{}", image.reference))),
        [fpr]
    );
}

#[test]
fn concurrent_sign_processes_lose_no_signature() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let image = layout.push("v1", &format!("{host}/conc/app:v1"));
    let sc = Scratch::new();
    let (_, key, _) = keygen(&sc, "conc");
    let look = sc.path("look");
    let regd = sc.path("registries.d");
    sc.write(
        "registries.d/l.yaml",
        format!("docker:\n  {host}:\n    lookaside: file://{}\n", s(&look)),
    );
    // Distinct identities make distinct signatures, so that none can be
    // deduplicated away: every one must land in its own signature-N.
    let n = 12;
    let children: Vec<Child> = (0..n)
        .map(|i| {
            util::imprimatur()
                .arg("sign")
                .arg("--key")
                .arg(&key)
                .arg("--registries-d")
                .arg(&regd)
                .arg("--tls-verify=false")
                .arg("--identity")
                .arg(format!("{host}/conc/app:id{i}"))
                .arg(format!("docker://{}", image.reference))
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn sign")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let dir = look.join(format!("conc/app@{}", image.digest.replace(':', "=")));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("signature dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| {
        n.trim_start_matches("signature-")
            .parse::<usize>()
            .unwrap_or(0)
    });
    let want: Vec<String> = (1..=n).map(|i| format!("signature-{i}")).collect();
    assert_eq!(
        names, want,
        "every signer got its own file, nothing else left"
    );
    let list = imp_list(&regd, &format!("docker://{}", image.reference));
    let mut ids: Vec<String> = list["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| {
            s["untrusted"]["dockerReference"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "{list}");
}

#[test]
fn sign_many_tags_at_once_and_oci_images_with_identity() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let tags = ["a", "b", "c", "d"];
    let layout = OciLayout::build(&tags);
    let pushed: Vec<PushedImage> = tags
        .iter()
        .map(|t| layout.push(t, &format!("{host}/many/app:{t}")))
        .collect();
    let sc = Scratch::new();
    let (fpr, key, _) = keygen(&sc, "many");
    let look = sc.path("look");
    let regd = sc.path("registries.d");
    sc.write(
        "registries.d/l.yaml",
        format!("default-docker:\n  lookaside: file://{}\n", s(&look)),
    );
    let images: Vec<String> = pushed
        .iter()
        .map(|p| format!("docker://{}", p.reference))
        .collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let out = imp_sign(&key, &regd, &refs, &["--image-jobs", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(stdout.lines().count(), tags.len(), "{stdout}");
    for (line, p) in stdout.lines().zip(&pushed) {
        assert!(
            line.starts_with(&format!("{} {}", p.reference, p.digest)),
            "{line}"
        );
        assert_eq!(
            fingerprints(&imp_list(&regd, &format!("docker://{}", p.reference))),
            [fpr.as_str()]
        );
    }
    // An oci: layout image needs --identity; its signature goes to that
    // identity's lookaside, under the layout image's digest.
    let out = imp_sign(&key, &regd, &[&layout.image("a")], &[]);
    assert!(
        !out.status.success() && text(&out).contains("--identity"),
        "{}",
        text(&out)
    );
    let out = imp_sign(
        &key,
        &regd,
        &[&layout.image("a")],
        &["--identity", "registry.example/oci/app:a"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("registry.example/oci/app:a sha256:"));
    let under_identity = std::fs::read_dir(look.join("oci"))
        .expect("the identity's namespace")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("app@sha256="));
    assert!(
        under_identity,
        "signature stored under the identity's repository"
    );
}

#[test]
fn a_signer_killed_midway_leaves_only_complete_signatures() {
    // No peers needed: `sign --batch` into a file lookaside, killed with
    // SIGKILL while it writes; every file left is a complete signature and
    // nothing else (no temporary names) is left behind.
    let sc = Scratch::new();
    let (_, key, _) = keygen(&sc, "kill");
    let n = 4000;
    let mut list = String::new();
    for i in 0..n {
        let d = imprimatur::reference::Digest::sha256_of(format!("manifest {i}").as_bytes());
        list.push_str(&format!("registry.example/kill/app{}:v{i} {d}\n", i % 7));
    }
    let list = sc.write("list", list);
    let look = sc.path("look");
    let mut child = util::imprimatur()
        .args(["sign", "--quiet", "--jobs", "2", "--key"])
        .arg(&key)
        .arg("--batch")
        .arg(&list)
        .arg("--output-dir")
        .arg(&look)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sign --batch");
    // Kill once some signatures are there (or after 5 s at the latest).
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let some = std::fs::read_dir(look.join("kill")).is_ok_and(|d| d.count() > 20);
        if some {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the signer finished before it was killed"
    );
    let mut files = 0;
    for repo in std::fs::read_dir(look.join("kill")).expect("lookaside") {
        let repo = repo.expect("entry").path();
        for f in std::fs::read_dir(&repo).expect("signature dir") {
            let f = f.expect("entry").path();
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            assert_eq!(
                name.as_deref(),
                Some("signature-1"),
                "unexpected file {}",
                f.display()
            );
            let blob = std::fs::read(&f).expect("read");
            let info = imprimatur::signature::untrusted_dump(&blob)
                .unwrap_or_else(|e| panic!("{} is not a complete signature: {e}", f.display()));
            assert!(
                repo.to_string_lossy()
                    .ends_with(&info.docker_manifest_digest.replace(':', "=")),
                "{}",
                f.display()
            );
            files += 1;
        }
    }
    assert!(files > 0 && files < n, "{files} signatures");
}

#[test]
fn http_staging_by_put_is_read_back_by_skopeo_and_concurrent_writers_lose_nothing() {
    if !require_tools(TOOLS) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let image = layout.push("v1", &format!("{host}/put/app:v1"));
    let sc = Scratch::new();
    let (_, key, public) = keygen(&sc, "put");
    let root = sc.path("web");
    std::fs::create_dir_all(&root).expect("mkdir");
    let web = put_server(&root);
    let url = format!("http://{}/sigs", web.host());
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &url,
            "--lookaside-staging",
            &url,
            &host,
        ],
    );
    // Several signers at once, distinct identities: each PUT takes its own
    // signature-N (412 sends the loser to the next index).
    let n = 6;
    let children: Vec<Child> = (0..n)
        .map(|i| {
            util::imprimatur()
                .arg("sign")
                .arg("--key")
                .arg(&key)
                .arg("--registries-d")
                .arg(&regd)
                .arg("--tls-verify=false")
                .arg("--identity")
                .arg(if i == 0 {
                    format!("{host}/put/app:v1")
                } else {
                    format!("{host}/put/app:other{i}")
                })
                .arg(format!("docker://{}", image.reference))
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn sign")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let dir = root.join(format!("sigs/put/app@{}", image.digest.replace(':', "=")));
    let files = std::fs::read_dir(&dir).expect("signature dir").count();
    assert_eq!(files, n, "every PUT landed in its own signature-N");
    let list = imp_list(&regd, &format!("docker://{}", image.reference));
    assert_eq!(
        list["signatures"].as_array().map(Vec::len),
        Some(n),
        "{list}"
    );
    // skopeo reads them over HTTP; one of them is for this identity.
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", image.reference));
    assert!(ok, "skopeo refused the PUT signatures: {t}");
}

#[test]
fn mirrored_signatures_are_copied_once_and_accepted_with_remap_identity() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let vendor = layout.push("v1", &format!("{host}/vendor/app:v1"));
    let mirror = layout.push("v1", &format!("{host}/mirror/app:v1"));
    assert_eq!(vendor.digest, mirror.digest);
    let sc = Scratch::new();
    let (_, key, public) = keygen(&sc, "vendor");
    let look = sc.path("look");
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("file://{}", s(&look)),
            &host,
        ],
    );
    let out = imp_sign(
        &key,
        &regd,
        &[&format!("docker://{}", vendor.reference)],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let copy = || {
        run_ok(
            util::imprimatur()
                .args(["signatures", "copy", "--tls-verify=false", "--registries-d"])
                .arg(&regd)
                .arg(format!("docker://{}", vendor.reference))
                .arg(format!("docker://{}", mirror.reference)),
        )
    };
    assert!(String::from_utf8_lossy(&copy().stdout).contains("1 copied, 0 already"));
    assert!(String::from_utf8_lossy(&copy().stdout).contains("0 copied, 1 already"));
    // The signature names the vendor's repository: a plain signedBy on the
    // mirror refuses it, remapIdentity accepts it.
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", mirror.reference));
    assert!(!ok, "identity mismatch accepted: {t}");
    let (ok, _) = imp_allows(&policy, &regd, &format!("docker://{}", mirror.reference));
    assert!(!ok);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--identity",
            &format!("remapIdentity={host}/mirror,{host}/vendor"),
            &format!("{host}/mirror"),
        ],
    );
    let (ok, t) = skopeo_allows(&policy, &regd, &format!("docker://{}", mirror.reference));
    assert!(
        ok,
        "skopeo refused the mirrored signature under remapIdentity: {t}"
    );
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", mirror.reference));
    assert!(ok, "{t}");
}

#[test]
fn signatures_commands_have_help_with_examples_and_sign_image_is_exclusive() {
    for cmd in [
        &["signatures", "list"][..],
        &["signatures", "copy"],
        &["sign"],
    ] {
        let out = run_ok(util::imprimatur().args(cmd).arg("--help"));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{cmd:?}: {help}");
        assert!(
            help.contains("--registries-d") && help.contains("--tls-verify"),
            "{cmd:?}: {help}"
        );
    }
    // The IMAGE form does not mix with the file form.
    let sc = Scratch::new();
    let (_, key, _) = keygen(&sc, "mix");
    let out = run(util::imprimatur().arg("sign").arg("--key").arg(&key).args([
        "--output",
        "x.sig",
        "docker://registry.example/a:1",
    ]));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("IMAGE signs images where they live"),
        "{}",
        text(&out)
    );
    // Neither form given: clap names what is missing.
    let out = run(util::imprimatur().args(["sign", "--key", "/nonexistent.key"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_garbage_blob_in_the_lookaside_is_a_denial_for_policy_check_as_for_skopeo() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let image = layout.push("v1", &format!("{host}/junk/app:v1"));
    let sc = Scratch::new();
    let (_, _, public) = keygen(&sc, "junk");
    let look = sc.path("look");
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&public),
            "--lookaside",
            &format!("file://{}", s(&look)),
            &host,
        ],
    );
    sc.write(
        &format!(
            "look/junk/app@{}/signature-1",
            image.digest.replace(':', "=")
        ),
        "<html>not a signature</html>",
    );
    let (ok, _) = skopeo_allows(&policy, &regd, &format!("docker://{}", image.reference));
    assert!(!ok);
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", image.reference));
    assert!(!ok, "{t}");
    // Listing is strict, as containers/image's reader: the blob is named.
    let out = run(util::imprimatur()
        .args(["signatures", "list", "--tls-verify=false", "--registries-d"])
        .arg(&regd)
        .arg(format!("docker://{}", image.reference)));
    assert!(!out.status.success());
    assert!(text(&out).contains("signature-1"), "{}", text(&out));
}
