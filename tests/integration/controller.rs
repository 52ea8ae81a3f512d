//! The Kubernetes controller (`examples/controller`) end to end: the real
//! binary, built with the `kube` feature, against the fake API server in
//! `doubles/fake_apiserver.py` (list and streaming watch, status subresource,
//! server-side apply), signing a small image in a real `docker-registry`
//! (TLS with a test CA, trusted through `SSL_CERT_FILE`) into a `file://`
//! lookaside that skopeo then verifies.
//!
//! Requests are created and read through the fake's Kubernetes API with
//! plain HTTP; the fake's test hooks (`/_fake/log`, `/_fake/faults`) count
//! the controller's writes and hold one of them to kill the controller at a
//! chosen point.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::peers::{
    OciLayout, PodRun, PodSandbox, Registry, RegistrySetup, Scratch, require_tools, run, run_ok,
};
use crate::service::{Trust, condition, signatures_in, trust};
use crate::util::{controller_bin, free_port};

mod openshift;

/// A liveness bound for anything the controller does here (a tiny image:
/// seconds in practice; not a performance assertion).
const DEADLINE: Duration = Duration::from_secs(60);

const NS: &str = "team";
const SIGNING: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests";

fn tools() -> bool {
    require_tools(&[
        "python3",
        "skopeo",
        "umoci",
        "docker-registry",
        "openssl",
        "kill",
    ])
}

/// `doubles/fake_apiserver.py` on a free loopback port; killed on drop.
struct FakeApi {
    child: Child,
    port: u16,
}

impl FakeApi {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Started with more arguments (`--openshift`).
    fn start_with(args: &[&str]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/integration/doubles/fake_apiserver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--bookmark-interval", "2"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fake_apiserver.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the fake's port");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fake_apiserver.py said {line:?}"));
        FakeApi { child, port }
    }

    /// One HTTP/1.0 request; the status code and the JSON body.
    fn call(&self, method: &str, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).expect("JSON")
        };
        let (code, text) = self.call_raw(method, path, content_type, &body);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One HTTP/1.0 request with a raw body; the status code and the body.
    fn call_raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the fake");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .expect("send");
        s.write_all(body).expect("send body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read the answer");
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").expect("HTTP answer");
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status code");
        (code, body.to_owned())
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, "application/json", &Value::Null)
    }

    /// Creates a signing request in `team`; panics unless 201.
    fn create_signing(&self, name: &str, spec: Value) -> Value {
        self.create_request(SIGNING, "ImageSigningRequest", name, spec)
    }

    /// Creates a scanning request in `team`; panics unless 201.
    fn create_scanning(&self, name: &str, spec: Value) -> Value {
        self.create_request(SCANNING, "ImageScanningRequest", name, spec)
    }

    fn create_request(&self, collection: &str, kind: &str, name: &str, spec: Value) -> Value {
        let (code, obj) = self.call(
            "POST",
            collection,
            "application/json",
            &json!({
                "apiVersion": "cop.redhat.com/v1alpha2",
                "kind": kind,
                "metadata": {"name": name, "namespace": NS},
                "spec": spec,
            }),
        );
        assert_eq!(code, 201, "{obj}");
        obj
    }

    fn signing(&self, name: &str) -> Value {
        let (code, obj) = self.get(&format!("{SIGNING}/{name}"));
        assert_eq!(code, 200, "{obj}");
        obj
    }

    /// Polls the request until `done` holds for it, or panics after
    /// [`DEADLINE`] with the object and the controller's log.
    fn wait_for(&self, name: &str, ctl: &Controller, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_until(name, ctl, || self.signing(name), done)
    }

    /// [`FakeApi::wait_for`] for the scanning request `name`.
    fn wait_for_scanning(
        &self,
        name: &str,
        ctl: &Controller,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_until(name, ctl, || self.scanning(name), done)
    }

    /// Polls `get` until `done` holds for what it returns, or panics after
    /// [`DEADLINE`] with the object and the controller's log.
    fn wait_until(
        &self,
        name: &str,
        ctl: &Controller,
        get: impl Fn() -> Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let obj = get();
            if done(&obj) {
                return obj;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not get there within {DEADLINE:?}:\n{obj:#}\ncontroller log:\n{}",
                ctl.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every request the fake answered so far.
    fn log(&self) -> Vec<Value> {
        let (_, v) = self.get("/_fake/log");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// The status writes (any PATCH or PUT of `/status`) of one request.
    fn status_writes(&self, name: &str) -> usize {
        let path = format!("{SIGNING}/{name}/status");
        self.log()
            .iter()
            .filter(|e| e["path"] == path.as_str() && e["method"] != "GET")
            .count()
    }

    fn add_fault(&self, fault: Value) -> Value {
        let (code, v) = self.call("POST", "/_fake/faults", "application/json", &fault);
        assert_eq!(code, 200, "{v}");
        v
    }

    fn fault_hits(&self) -> u64 {
        let (_, v) = self.get("/_fake/faults");
        v["items"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["hits"].as_u64()).sum())
            .unwrap_or(0)
    }

    fn clear_faults(&self) {
        let (code, v) = self.call("DELETE", "/_fake/faults", "application/json", &Value::Null);
        assert_eq!(code, 200, "{v}");
    }

    /// A kubeconfig pointing at this server.
    fn kubeconfig(&self, scratch: &Scratch) -> PathBuf {
        scratch.write(
            "kubeconfig",
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\n\
                 users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {NS}\n\
                 current-context: fake\n",
                self.port
            ),
        )
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything a controller process needs: the fake API server, a TLS
/// registry with `ctl/app:v1` and `ctl/app:v2` pushed, a signing key named
/// `release`, and skopeo's trust for the registry (a `file://` lookaside).
struct World {
    api: FakeApi,
    registry: Registry,
    scratch: Scratch,
    trust: Trust,
    ca: PathBuf,
    kubeconfig: PathBuf,
    v1: String,
    v2: String,
    v1_digest: String,
    v2_digest: String,
}

impl World {
    fn new() -> Self {
        Self::new_with(&[])
    }

    /// A world whose fake API server gets `fake_args` (`--openshift`).
    fn new_with(fake_args: &[&str]) -> Self {
        let scratch = Scratch::new();
        let (ca, cert, key) = crate::peers::make_ca(&scratch);
        let registry = Registry::start_with(&RegistrySetup {
            htpasswd: None,
            tls: Some((cert, key)),
        });
        let layout = OciLayout::build(&["v1", "v2"]);
        let v1 = layout.push("v1", &format!("{}/ctl/app:v1", registry.host()));
        let v2 = layout.push("v2", &format!("{}/ctl/app:v2", registry.host()));
        let trust = trust(&scratch, &registry.host());
        let api = FakeApi::start_with(fake_args);
        let kubeconfig = api.kubeconfig(&scratch);
        let world = World {
            api,
            registry,
            scratch,
            trust,
            ca,
            kubeconfig,
            v1: v1.reference,
            v2: v2.reference,
            v1_digest: v1.digest,
            v2_digest: v2.digest,
        };
        world.create_key_secret();
        world
    }

    /// The signing key Secret `release` in `team`, as `kubectl create
    /// secret generic release --from-file=key=…` makes it: the controller
    /// signs with the keys of the request's own namespace.
    fn create_key_secret(&self) {
        use base64::Engine as _;
        let key = std::fs::read(self.trust.keys.join("release")).expect("key file");
        let (code, obj) = self.api.call(
            "POST",
            &format!("/api/v1/namespaces/{NS}/secrets"),
            "application/json",
            &json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "release", "namespace": NS},
                "type": "Opaque",
                "data": {"key": base64::engine::general_purpose::STANDARD.encode(key)},
            }),
        );
        assert_eq!(code, 201, "{obj}");
    }

    /// Starts a controller process without leader election.
    fn controller(&self) -> Controller {
        self.start_controller(None)
    }

    /// Starts a controller process electing its leader on the Lease in
    /// `imprimatur-system` as replica `identity`.
    fn replica(&self, identity: &str) -> Controller {
        self.start_controller(Some(identity))
    }

    fn start_controller(&self, identity: Option<&str>) -> Controller {
        self.start_controller_with(identity, &[])
    }

    /// A controller process with `env` set over the usual environment.
    fn start_controller_with(&self, identity: Option<&str>, env: &[(&str, String)]) -> Controller {
        let log = self.scratch.path(&format!(
            "controller-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let out = std::fs::File::create(&log).expect("controller log");
        let health = free_port();
        let mut command = Command::new(controller_bin());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.scratch.path("home"))
            .env("KUBECONFIG", &self.kubeconfig)
            // Scan Jobs are not run here: any image name will do.
            .env(
                "IMPRIMATUR_SCANNER_IMAGE",
                "registry.example/imprimatur:test",
            )
            .env("IMPRIMATUR_REGISTRIES_D", &self.trust.registries_d)
            .env("IMPRIMATUR_LISTEN", format!("127.0.0.1:{health}"))
            .env("SSL_CERT_FILE", &self.ca)
            .env("RUST_LOG", "info");
        match identity {
            Some(id) => command
                .env("POD_NAMESPACE", "imprimatur-system")
                .env("POD_NAME", id),
            None => command.env("IMPRIMATUR_LEADER_ELECTION", "off"),
        };
        command.envs(env.iter().map(|(k, v)| (*k, v)));
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out)
            .spawn()
            .expect("spawn the controller");
        Controller { child, log, health }
    }

    /// The spec of a signing request for `image` with the `release` key.
    fn spec(&self, image: &str) -> Value {
        json!({
            "image": format!("docker://{image}"),
            "signingKeySecretName": "release",
            "signingKeySignBy": "release@example.com",
        })
    }

    /// `skopeo copy` under the trust policy: whether it accepted the image.
    fn skopeo_accepts(&self, image: &str, dest: &str) -> std::process::Output {
        run(Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
            .arg(&self.trust.policy)
            .arg("--registries.d")
            .arg(&self.trust.registries_d)
            .arg(format!("docker://{image}"))
            .arg(format!("dir:{}", self.scratch.path(dest).display())))
    }

    fn signatures(&self) -> Vec<PathBuf> {
        signatures_in(&self.trust.lookaside)
    }

    fn signatures_of(&self, digest: &str) -> usize {
        let dir = digest.replace(':', "=");
        self.signatures()
            .iter()
            .filter(|p| p.to_string_lossy().contains(&dir))
            .count()
    }
}

/// A controller process; killed (SIGKILL) on drop.
struct Controller {
    child: Child,
    log: PathBuf,
    /// The port of `/healthz` and `/readyz` (`IMPRIMATUR_LISTEN`).
    health: u16,
}

impl Controller {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status, waiting at most [`DEADLINE`].
    fn terminate(mut self) -> std::process::ExitStatus {
        run_ok(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the controller") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the controller ignored SIGTERM for {DEADLINE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The HTTP status of `GET path` on the health port (None: no answer).
    /// The request goes out in one write unless `split_at` cuts it in two
    /// segments (TCP may deliver any request that way; a server must read
    /// on until the end of the head).
    fn health_status(&self, path: &str, split_at: Option<usize>) -> Option<u16> {
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut s = TcpStream::connect(("127.0.0.1", self.health)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.set_nodelay(true).ok()?;
        match split_at {
            None => s.write_all(request.as_bytes()).ok()?,
            Some(n) => {
                s.write_all(&request.as_bytes()[..n]).ok()?;
                // Shapes the input (two segments), asserts nothing.
                std::thread::sleep(Duration::from_millis(200));
                s.write_all(&request.as_bytes()[n..]).ok()?;
            }
        }
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        answer.split_whitespace().nth(1)?.parse().ok()
    }

    /// Panics if the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the controller exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn phase(obj: &Value) -> &str {
    obj["status"]["phase"].as_str().unwrap_or("")
}

/// Finished (Completed or Failed) for the object's current generation.
fn finished(obj: &Value) -> bool {
    matches!(phase(obj), "Completed" | "Failed")
        && condition(&obj["status"], "Ready")["observedGeneration"] == obj["metadata"]["generation"]
}

/// Every condition observed the object's current generation.
fn assert_conditions_observed(obj: &Value) {
    let generation = &obj["metadata"]["generation"];
    let conditions = obj["status"]["conditions"].as_array().expect("conditions");
    assert!(!conditions.is_empty(), "{obj:#}");
    for c in conditions {
        assert!(c["type"].is_string(), "{c}");
        assert!(
            matches!(c["status"].as_str(), Some("True" | "False" | "Unknown")),
            "{c}"
        );
        assert_eq!(&c["observedGeneration"], generation, "{c}\n{obj:#}");
    }
}

/// The status was written by server-side apply of the status subresource
/// with the field manager `imprimatur`.
fn assert_applied_by_imprimatur(obj: &Value) {
    let managed = obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    assert!(
        managed.iter().any(|m| m["manager"] == "imprimatur"
            && m["operation"] == "Apply"
            && m["subresource"] == "status"),
        "{managed:#?}"
    );
}

/// (a) and (d): a request is signed once, with a status whose conditions
/// observed its generation, and skopeo accepts the image; a new spec (a new
/// generation) is reconciled again and the conditions follow it.
#[test]
fn a_signing_request_is_signed_once_and_a_new_generation_again() {
    if !tools() {
        return;
    }
    let w = World::new();
    let mut ctl = w.controller();

    // Unsigned: skopeo refuses the image under the policy.
    assert!(!w.skopeo_accepts(&w.v1, "before").status.success());

    let created = w.api.create_signing("sign-app", w.spec(&w.v1));
    assert_eq!(created["metadata"]["generation"], 1);
    let obj = w.api.wait_for("sign-app", &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_conditions_observed(&obj);
    assert_eq!(condition(&obj["status"], "Ready")["status"], "True");
    assert_eq!(condition(&obj["status"], "Signed")["status"], "True");
    assert_eq!(obj["status"]["imageDigest"], w.v1_digest.as_str());
    assert_eq!(obj["status"]["signature"]["created"], true);
    assert_applied_by_imprimatur(&obj);
    let sigs = w.signatures();
    assert_eq!(sigs.len(), 1, "{sigs:?}");
    assert_eq!(w.signatures_of(&w.v1_digest), 1, "{sigs:?}");
    let out = w.skopeo_accepts(&w.v1, "accepted");
    assert!(
        out.status.success(),
        "skopeo refused the signed image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Running, then the result: two status writes, no more.
    assert_eq!(w.api.status_writes("sign-app"), 2);

    // (d) A new spec: generation 2, reconciled again, for the new image.
    let (code, patched) = w.api.call(
        "PATCH",
        &format!("{SIGNING}/sign-app"),
        "application/merge-patch+json",
        &json!({"spec": {"image": format!("docker://{}", w.v2)}}),
    );
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["metadata"]["generation"], 2);
    let obj = w.api.wait_for("sign-app", &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_conditions_observed(&obj);
    assert_eq!(obj["status"]["imageDigest"], w.v2_digest.as_str());
    assert_eq!(w.signatures_of(&w.v2_digest), 1, "{:?}", w.signatures());
    assert_eq!(w.signatures().len(), 2, "{:?}", w.signatures());
    let out = w.skopeo_accepts(&w.v2, "accepted-v2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each generation's end is one structured line naming the request.
    let lines = structured_log(&ctl.log());
    let finished: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "request finished" && l["name"] == "sign-app")
        .collect();
    assert_eq!(finished.len(), 2, "{lines:#?}");
    for line in &finished {
        assert_eq!(line["kind"], "ImageSigningRequest", "{line}");
        assert_eq!(line["phase"], "Completed", "{line}");
        assert_eq!(line["level"], "info", "{line}");
    }
    assert_eq!(finished[1]["digest"], w.v2_digest.as_str());
    ctl.kill();
}

/// (c) A request for an image the registry does not have ends Failed, with
/// a reason and a message naming the image, and signs nothing.
#[test]
fn a_request_for_a_missing_image_fails_with_a_reason() {
    if !tools() {
        return;
    }
    let w = World::new();
    let ctl = w.controller();
    let missing = format!("{}/ctl/missing:v1", w.registry.host());
    w.api.create_signing("sign-missing", w.spec(&missing));
    let obj = w.api.wait_for("sign-missing", &ctl, finished);
    assert_eq!(phase(&obj), "Failed", "{obj:#}");
    assert_conditions_observed(&obj);
    let ready = condition(&obj["status"], "Ready");
    assert_eq!(ready["status"], "False", "{obj:#}");
    assert!(
        ready["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{ready}"
    );
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("ctl/missing")),
        "{ready}"
    );
    assert!(w.signatures().is_empty(), "{:?}", w.signatures());

    // Its probes answer, and SIGTERM stops it cleanly.
    assert_eq!(
        ctl.health_status("/healthz", None),
        Some(200),
        "{}",
        ctl.log()
    );
    assert_eq!(ctl.health_status("/readyz", None), Some(200));
    assert_eq!(ctl.health_status("/nope", None), Some(404));
    assert_eq!(
        ctl.health_status("/healthz", Some(4)),
        Some(200),
        "a probe whose request line arrives in two segments"
    );
    let log_file = ctl.log.clone();
    let status = ctl.terminate();
    let log = std::fs::read_to_string(&log_file).expect("the controller's log");
    assert!(
        status.success(),
        "exit status {status} after SIGTERM:\n{log}"
    );
    // Structured logs, the shutdown among them.
    let lines = structured_log(&log);
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "shutting down" && l["level"] == "info"),
        "{log}"
    );
}

/// Checks a controller log is structured: every line one JSON object with
/// `time`, `level`, `logger` and `msg`. Returns the lines.
fn structured_log(log: &str) -> Vec<Value> {
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line {line:?} is not JSON: {e}"));
            for field in ["time", "level", "logger", "msg"] {
                assert!(entry[field].is_string(), "{field} missing in {line}");
            }
            entry
        })
        .collect();
    assert!(!lines.is_empty(), "the controller logged nothing");
    lines
}

/// Two requests for the same image at once leave one signature between
/// them (both Completed). The pipeline lists the store, then signs and
/// writes, with no lock per digest: reconciles that run concurrently
/// mostly sign in the same second, and same-second signatures by one key
/// are byte-identical and stored once. A failure here (two signature files)
/// means two of them crossed a second boundary inside that window.
#[test]
fn two_requests_for_one_image_at_once_sign_it_once() {
    if !tools() {
        return;
    }
    let w = World::new();
    for name in ["sign-twin-a", "sign-twin-b", "sign-twin-c"] {
        w.api.create_signing(name, w.spec(&w.v1));
    }
    // Created before the controller starts: its first list hands it all
    // three at once.
    let ctl = w.controller();
    for name in ["sign-twin-a", "sign-twin-b", "sign-twin-c"] {
        let obj = w.api.wait_for(name, &ctl, finished);
        assert_eq!(phase(&obj), "Completed", "{obj:#}");
    }
    assert_eq!(
        w.signatures_of(&w.v1_digest),
        1,
        "one signature for one image: {:?}",
        w.signatures()
    );
    ctl.kill();
}

/// The watch breaks (an API server restart) and, while the controller is
/// away, the history it would resume from is compacted: its watch gets 410
/// Expired, it lists again, and reconciles the request created in the gap.
#[test]
fn a_watch_expired_while_away_is_listed_again() {
    if !tools() {
        return;
    }
    let w = World::new();
    let ctl = w.controller();
    let cluster_wide = "/apis/cop.redhat.com/v1alpha2/imagesigningrequests";
    let requests = |watch: bool| {
        w.api
            .log()
            .iter()
            .filter(|e| {
                e["method"] == "GET"
                    && e["path"] == cluster_wide
                    && e["query"].as_str().unwrap_or("").contains("watch=true") == watch
            })
            .count()
    };
    let deadline = Instant::now() + DEADLINE;
    while requests(true) == 0 {
        assert!(Instant::now() < deadline, "never watched:\n{}", ctl.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let lists = requests(false);

    // New watches hang; the open ones end; the controller watches again.
    w.api.add_fault(json!({
        "method": "GET",
        "path": "/imagesigningrequests",
        "query": "watch=true",
        "action": "hang",
    }));
    let (code, _) = w.api.call(
        "POST",
        "/_fake/watches/close",
        "application/json",
        &Value::Null,
    );
    assert_eq!(code, 200);
    let deadline = Instant::now() + DEADLINE;
    while w.api.fault_hits() == 0 {
        assert!(Instant::now() < deadline, "no new watch:\n{}", ctl.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Meanwhile: a request, and the history compacted past it.
    w.api.create_signing("sign-gap", w.spec(&w.v1));
    let (code, _) = w
        .api
        .call("POST", "/_fake/compact", "application/json", &Value::Null);
    assert_eq!(code, 200);
    w.api.clear_faults();

    let obj = w.api.wait_for("sign-gap", &ctl, finished);
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(w.signatures_of(&w.v1_digest), 1);
    assert!(requests(false) > lists, "listed again after 410 Expired");
    ctl.kill();
}

/// A registry that cannot be reached yet (connection refused) is a
/// transient failure: the request is retried and completes once the
/// registry is up ("Retries with backoff, never a busy loop; a request that
/// can never succeed ends Failed", controller issue).
///
/// An unreachable registry is a transient failure: the request stays
/// Running with `Ready=False` reason `Retrying` (not Failed for good), and
/// once the registry is up with the image, a retry signs it.
///
/// Regression: the controller used to end the request Failed
/// (ImageUnavailable) once the registry client's own retries were spent,
/// and never tried again.
#[test]
fn an_unreachable_registry_is_retried_until_it_is_up() {
    if !tools() {
        return;
    }
    let w = World::new();
    let port = free_port();
    let image = format!("127.0.0.1:{port}/ctl/late:v1");
    // Signatures for that registry go to the test's lookaside too (not to
    // the controller's default one).
    std::fs::write(
        w.trust.registries_d.join("late.yaml"),
        format!(
            "docker:\n  127.0.0.1:{port}:\n    lookaside: file://{}\n",
            w.trust.lookaside.display()
        ),
    )
    .expect("registries.d entry");
    let ctl = w.controller();
    w.api.create_signing("sign-late", w.spec(&image));
    // The first attempt fails (connection refused): Running, Retrying...
    let first = w.api.wait_for("sign-late", &ctl, |o| {
        condition(&o["status"], "Ready")["reason"] == "Retrying"
    });
    assert_eq!(phase(&first), "Running", "{first:#}");
    assert!(
        condition(&first["status"], "Ready")["message"]
            .as_str()
            .is_some_and(|m| m.contains("retrying in")),
        "{first:#}"
    );
    // ...then the registry comes up, with the image already in it (pushed
    // to it on another port first).
    let setup = RegistrySetup {
        htpasswd: None,
        tls: Some((
            w.scratch.path("pki/server.crt"),
            w.scratch.path("pki/server.key"),
        )),
    };
    let staging = Registry::start_with(&setup);
    let layout = OciLayout::build(&["v1"]);
    let pushed = layout.push("v1", &format!("{}/ctl/late:v1", staging.host()));
    let registry = staging.move_to(port, &setup);
    let obj = w
        .api
        .wait_for("sign-late", &ctl, |o| phase(o) == "Completed");
    assert_eq!(obj["status"]["imageDigest"], pushed.digest.as_str());
    assert_eq!(w.signatures_of(&pushed.digest), 1);
    let lines = structured_log(&ctl.log());
    assert!(
        lines.iter().any(|l| l["msg"] == "request retrying"
            && l["level"] == "warn"
            && l["name"] == "sign-late"
            && l["reason"] == "Retrying"),
        "{lines:#?}"
    );
    drop(registry);
    ctl.kill();
}

/// (b) Restarts: the controller killed after it signed but before the
/// result was recorded (the fake holds that status write) leaves the
/// request Running; the next controller finishes it with the same single
/// signature. A further restart with the request Completed neither signs
/// nor writes its status.
#[test]
fn restarts_neither_sign_twice_nor_lose_the_status() {
    if !tools() {
        return;
    }
    let w = World::new();

    // Killed the moment it was started: the next one does the work.
    let ctl = w.controller();
    w.api.create_signing("sign-early", w.spec(&w.v2));
    ctl.kill();
    let ctl = w.controller();
    let obj = w.api.wait_for("sign-early", &ctl, finished);
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(w.signatures_of(&w.v2_digest), 1, "{:?}", w.signatures());
    ctl.kill();

    // Killed after signing, while writing the result.
    w.api.add_fault(json!({
        "method": "PATCH",
        "path": "/imagesigningrequests/sign-app/status",
        "body": "\"Completed\"",
        "action": "hang",
    }));
    let ctl = w.controller();
    w.api.create_signing("sign-app", w.spec(&w.v1));
    let deadline = Instant::now() + DEADLINE;
    while w.api.fault_hits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the controller never wrote Completed:\n{}",
            ctl.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        w.signatures_of(&w.v1_digest),
        1,
        "signed before the result is written"
    );
    ctl.kill();
    w.api.clear_faults();
    let obj = w.api.signing("sign-app");
    assert_eq!(
        phase(&obj),
        "Running",
        "the result was not recorded: {obj:#}"
    );

    let ctl = w.controller();
    let obj = w.api.wait_for("sign-app", &ctl, finished);
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_conditions_observed(&obj);
    assert_eq!(obj["status"]["imageDigest"], w.v1_digest.as_str());
    assert_eq!(
        w.signatures_of(&w.v1_digest),
        1,
        "no second signature: {:?}",
        w.signatures()
    );
    assert_eq!(obj["status"]["signature"]["created"], false, "{obj:#}");
    assert_eq!(
        condition(&obj["status"], "Signed")["reason"],
        "AlreadySigned"
    );
    let out = w.skopeo_accepts(&w.v1, "accepted");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctl.kill();

    // Restarted with both requests Completed: nothing is signed or written.
    let before = w.api.signing("sign-app");
    let early = w.api.signing("sign-early");
    let writes = (
        w.api.status_writes("sign-app"),
        w.api.status_writes("sign-early"),
    );
    let sigs = w.signatures();
    let ctl = w.controller();
    // A barrier rather than a sleep: a request created after the restart
    // and finished by this controller. The controller saw the completed
    // requests in its initial list, before this one's watch event, and a
    // reconcile of them would write Running first.
    let missing = format!("{}/ctl/missing:v1", w.registry.host());
    w.api.create_signing("sign-barrier", w.spec(&missing));
    let barrier = w.api.wait_for("sign-barrier", &ctl, finished);
    assert_eq!(phase(&barrier), "Failed", "{barrier:#}");
    let after = w.api.signing("sign-app");
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "a completed request was written again:\n{after:#}"
    );
    assert_eq!(
        w.api.signing("sign-early")["metadata"]["resourceVersion"],
        early["metadata"]["resourceVersion"]
    );
    assert_eq!(
        (
            w.api.status_writes("sign-app"),
            w.api.status_writes("sign-early")
        ),
        writes
    );
    assert_eq!(w.signatures(), sigs, "nothing signed again");
    ctl.kill();
}

/// The fake API server itself, through the wire: what the controller tests
/// rely on (status subresource, generation, apply merging conditions by
/// type, watch from a resourceVersion, 410 for an expired one, Status
/// errors, finalizers).
#[test]
fn the_fake_api_server_behaves_like_the_real_one_where_the_controller_looks() {
    if !require_tools(&["python3"]) {
        return;
    }
    let api = FakeApi::start();
    let obj = api.create_signing("x", json!({"image": "docker://a.example/b:1"}));
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(obj["metadata"]["uid"].is_string());
    let rv1: u64 = obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("resourceVersion");
    let (code, again) = api.call(
        "POST",
        SIGNING,
        "application/json",
        &json!({"kind": "ImageSigningRequest", "metadata": {"name": "x"}}),
    );
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let (code, missing) = api.get(&format!("{SIGNING}/nope"));
    assert_eq!(code, 404);
    assert_eq!(missing["kind"], "Status");
    assert_eq!(missing["reason"], "NotFound");

    // Status apply: conditions merge by type; a field the manager drops goes.
    let apply = |status: Value| {
        api.call(
            "PATCH",
            &format!("{SIGNING}/x/status?&force=true&fieldManager=imprimatur"),
            "application/apply-patch+yaml",
            &json!({"apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageSigningRequest", "status": status}),
        )
    };
    let (code, _) = apply(json!({"phase": "Running", "startTime": "t0",
        "conditions": [{"type": "A", "status": "True"}]}));
    assert_eq!(code, 200);
    let (code, other) = api.call(
        "PATCH",
        &format!("{SIGNING}/x/status?fieldManager=other"),
        "application/apply-patch+yaml",
        &json!({"status": {"conditions": [{"type": "B", "status": "False"}]}}),
    );
    assert_eq!(code, 200, "{other}");
    let (code, obj) = apply(json!({"phase": "Completed",
        "conditions": [{"type": "A", "status": "False"}]}));
    assert_eq!(code, 200);
    assert_eq!(obj["status"]["phase"], "Completed");
    assert!(obj["status"]["startTime"].is_null(), "{obj:#}");
    assert_eq!(condition(&obj["status"], "A")["status"], "False");
    assert_eq!(
        condition(&obj["status"], "B")["status"],
        "False",
        "the other manager's condition stays"
    );
    assert_eq!(obj["metadata"]["generation"], 1, "status writes keep it");
    // The same apply again changes nothing: same resourceVersion.
    let (_, same) = apply(json!({"phase": "Completed",
        "conditions": [{"type": "A", "status": "False"}]}));
    assert_eq!(
        same["metadata"]["resourceVersion"],
        obj["metadata"]["resourceVersion"]
    );

    // The main resource ignores status; a spec change bumps generation.
    let (code, obj) = api.call(
        "PATCH",
        &format!("{SIGNING}/x"),
        "application/merge-patch+json",
        &json!({"spec": {"image": "docker://a.example/b:2"}, "status": {"phase": "Nope"}}),
    );
    assert_eq!(code, 200, "{obj}");
    assert_eq!(obj["metadata"]["generation"], 2);
    assert_eq!(obj["status"]["phase"], "Completed");

    // Watch from the first resourceVersion: every later change, in order.
    let mut s = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
    write!(
        s,
        "GET /apis/cop.redhat.com/v1alpha2/imagesigningrequests?watch=true&resourceVersion={rv1}&timeoutSeconds=1 HTTP/1.0\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("watch stream");
    let events = watch_events(&text);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED"],
        "{text}"
    );

    // Finalizers hold a delete until they are removed.
    let (code, _) = api.call(
        "PATCH",
        &format!("{SIGNING}/x"),
        "application/json-patch+json",
        &json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]),
    );
    assert_eq!(code, 200);
    let (code, obj) = api.call(
        "DELETE",
        &format!("{SIGNING}/x"),
        "application/json",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj:#}");
    let (code, _) = api.call(
        "PATCH",
        &format!("{SIGNING}/x"),
        "application/json-patch+json",
        &json!([{"op": "remove", "path": "/metadata/finalizers"}]),
    );
    assert_eq!(code, 200);
    assert_eq!(api.get(&format!("{SIGNING}/x")).0, 404);

    // A pod's log, per container, as a scan Job's pod would leave it.
    let pods = "/api/v1/namespaces/team/pods";
    let (code, pod) = api.call(
        "POST",
        pods,
        "application/json",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "scan-1"},
                "spec": {"containers": [{"name": "scan"}, {"name": "side"}]}}),
    );
    assert_eq!(code, 201, "{pod}");
    let (code, status) = api.get(&format!("{pods}/scan-1/log"));
    assert_eq!((code, status["reason"].as_str()), (400, Some("BadRequest")));
    let (code, status) = api.get(&format!("{pods}/scan-1/log?container=scan"));
    assert_eq!(code, 400, "waiting to start: {status}");
    let (code, _) = api.call_raw(
        "PUT",
        "/_fake/logs/team/scan-1/scan",
        "text/plain",
        b"one\ntwo\n",
    );
    assert_eq!(code, 200);
    let (code, text) = api.call_raw(
        "GET",
        &format!("{pods}/scan-1/log?container=scan"),
        "text/plain",
        b"",
    );
    assert_eq!((code, text.as_str()), (200, "one\ntwo\n"));
    let (_, text) = api.call_raw(
        "GET",
        &format!("{pods}/scan-1/log?container=scan&tailLines=1"),
        "text/plain",
        b"",
    );
    assert_eq!(text, "two\n");
    let (code, list) = api.get(pods);
    assert_eq!((code, list["kind"].as_str()), (200, Some("PodList")));
}

/// A watch from a resourceVersion older than the fake's history gets the
/// real server's 410 Expired, as an ERROR event.
#[test]
fn the_fake_api_server_expires_old_resource_versions() {
    if !require_tools(&["python3"]) {
        return;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/doubles/fake_apiserver.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--history", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let api = FakeApi {
        port: line
            .trim()
            .trim_start_matches("listening on ")
            .parse()
            .expect("port"),
        child,
    };
    for n in 0..4 {
        api.create_signing(&format!("r{n}"), json!({}));
    }
    let (code, list) = api.get(SIGNING);
    assert_eq!(code, 200);
    assert_eq!(list["kind"], "ImageSigningRequestList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(4));
    let mut s = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
    write!(
        s,
        "GET {SIGNING}?watch=true&resourceVersion=1&timeoutSeconds=5 HTTP/1.0\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("watch stream");
    let event = watch_events(&text)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no event in {text}"));
    assert_eq!(event["type"], "ERROR", "{text}");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

/// The JSON objects of a raw (chunked) watch response.
fn watch_events(raw: &str) -> Vec<Value> {
    raw.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(Value::is_object)
        .collect()
}

/// Two replicas electing a leader on one Lease: only the holder reconciles
/// (one signature), the Lease names it; when the leader is killed without
/// releasing, the other takes over once the term ends and serves the next
/// request.
#[test]
fn two_replicas_one_leader_and_a_takeover() {
    if !tools() {
        return;
    }
    let w = World::new();
    let mut a = w.replica("replica-a");
    let mut b = w.replica("replica-b");
    w.api.create_signing("sign-led", w.spec(&w.v1));
    let obj = w.api.wait_for("sign-led", &a, finished);
    assert_eq!(
        phase(&obj),
        "Completed",
        "{obj:#}\n{}\n{}",
        a.log(),
        b.log()
    );
    assert_eq!(w.signatures_of(&w.v1_digest), 1, "{:?}", w.signatures());
    let lease_path =
        "/apis/coordination.k8s.io/v1/namespaces/imprimatur-system/leases/imprimatur-controller";
    let (code, lease) = w.api.get(lease_path);
    assert_eq!(code, 200, "{lease}");
    let holder = lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(holder == "replica-a" || holder == "replica-b", "{lease:#}");
    a.assert_running();
    b.assert_running();

    // SIGKILL the leader: no release; the follower takes over after the term.
    let (leader, follower) = if holder == "replica-a" {
        (a, b)
    } else {
        (b, a)
    };
    leader.kill();
    w.api.create_signing("sign-after", w.spec(&w.v2));
    let obj = w.api.wait_for("sign-after", &follower, finished);
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", follower.log());
    let (_, lease) = w.api.get(lease_path);
    assert_ne!(
        lease["spec"]["holderIdentity"],
        holder.as_str(),
        "{lease:#}"
    );
    assert_eq!(w.signatures_of(&w.v1_digest), 1, "{:?}", w.signatures());
    assert_eq!(w.signatures_of(&w.v2_digest), 1, "{:?}", w.signatures());
    follower.kill();
}

const SCANNING: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagescanningrequests";
const JOBS: &str = "/apis/batch/v1/namespaces/team/jobs";

impl FakeApi {
    /// The names of the Jobs in `team` now.
    fn jobs(&self) -> Vec<String> {
        let (code, list) = self.get(JOBS);
        assert_eq!(code, 200, "{list}");
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|j| j["metadata"]["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for a Job in `team` not in `seen`; returns it.
    fn wait_for_new_job(&self, seen: &[String], ctl: &Controller) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(name) = self.jobs().into_iter().find(|n| !seen.contains(n)) {
                let (code, job) = self.get(&format!("{JOBS}/{name}"));
                assert_eq!(code, 200, "{job}");
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "no new scan Job within {DEADLINE:?}:\n{}",
                ctl.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Plays the kubelet and the Job controller for a scan Job: its pod
    /// (labelled as the Job's pod template says) ends with the termination
    /// message and log of a real encoded scan `result`, then the Job is
    /// marked Complete (the pod first: the controller reads it when the Job
    /// changes).
    fn complete_scan_job(
        &self,
        job: &Value,
        result: &imprimatur::service::scan_result::ScanResult,
    ) {
        use imprimatur::service::scan_result;
        assert_eq!(
            job["metadata"]["annotations"]["imprimatur.cop.redhat.com/image-digest"],
            result.image_digest.as_str(),
            "the Job scans the digest the result is for"
        );
        let encoded = scan_result::encode(result).expect("encode");
        let termination = encoded.termination.to_json().expect("termination");
        let log = format!("{{\"event\":\"started\"}}\n{}", encoded.frame);
        self.report_scan_pod(job, 0, &termination, log.as_bytes());
    }

    /// Plays the kubelet for a scan Job as a real one would: runs the
    /// container its pod template describes (command, arguments,
    /// environment, `emptyDir` and ConfigMap volumes, the ConfigMaps read
    /// from the API as the kubelet does) in a [`PodSandbox`] that enforces
    /// what the template asks for (non-root, no capabilities, no privilege
    /// escalation, read-only root filesystem; each checked to be asked),
    /// then reports the pod's exit code, termination message and log, and
    /// the Job's outcome. Returns what the container printed.
    fn run_scan_job(&self, job: &Value, scratch: &Scratch) -> PodRun {
        let spec = &job["spec"]["template"]["spec"];
        let c = &spec["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{c:#}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{c:#}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{c:#}");
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{c:#}");
        assert_eq!(spec["automountServiceAccountToken"], false, "{spec:#}");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
        let mut empty_dirs = Vec::new();
        let mut files = Vec::new();
        for mount in c["volumeMounts"].as_array().cloned().unwrap_or_default() {
            let at = mount["mountPath"].as_str().expect("mountPath").to_owned();
            let volume = volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("no volume for {mount}"));
            if volume.get("emptyDir").is_some() {
                empty_dirs.push(at);
            } else if let Some(name) = volume["configMap"]["name"].as_str() {
                files.push((self.config_map_volume(name, scratch), at));
            } else {
                panic!("the kubelet double knows emptyDir and configMap volumes: {volume}");
            }
        }
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (field("name"), field("value"))
            })
            .collect();
        let pod = PodSandbox {
            empty_dirs,
            env,
            files,
        };
        let mut argv = strings(&c["command"]);
        argv.extend(strings(&c["args"]));
        let ran = pod.run(scratch, &argv);
        // The pod's log holds both of the container's streams.
        let mut log = ran.output.stderr.clone();
        log.extend_from_slice(&ran.output.stdout);
        self.report_scan_pod(
            job,
            ran.output.status.code().unwrap_or(-1),
            &ran.termination_message,
            &log,
        );
        ran
    }

    /// ConfigMap `name`'s keys as files in a new directory (a missing
    /// ConfigMap would keep a real pod from starting: here it fails the
    /// test).
    fn config_map_volume(&self, name: &str, scratch: &Scratch) -> PathBuf {
        let (code, cm) = self.get(&format!("/api/v1/namespaces/{NS}/configmaps/{name}"));
        assert_eq!(code, 200, "the pod's ConfigMap {name}: {cm}");
        let dir = scratch.path(&format!("configmap-{name}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (key, value) in cm["data"].as_object().cloned().unwrap_or_default() {
            std::fs::write(dir.join(key), value.as_str().unwrap_or_default()).expect("write");
        }
        dir
    }

    /// Creates the scan Job's pod (labelled as its template says) ended
    /// with `exit_code`, `termination` and `log`, then marks the Job
    /// Complete (exit 0 or 1: the scan ran, its gate judged) or Failed (the
    /// pod first: the controller reads it when the Job changes).
    fn report_scan_pod(&self, job: &Value, exit_code: i32, termination: &str, log: &[u8]) {
        let name = job["metadata"]["name"].as_str().expect("job name");
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        let pod = format!("{name}-pod");
        let pods = format!("/api/v1/namespaces/{NS}/pods");
        let (code, created) = self.call(
            "POST",
            &pods,
            "application/json",
            &json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "labels": labels},
                    "spec": {"containers": [{"name": "scan", "image": "scanner"}]}}),
        );
        assert_eq!(code, 201, "{created}");
        let (code, patched) = self.call(
            "PATCH",
            &format!("{pods}/{pod}/status"),
            "application/merge-patch+json",
            &json!({"status": {"phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
                "containerStatuses": [{
                "name": "scan", "image": "scanner", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "message": termination}}}]}}),
        );
        assert_eq!(code, 200, "{patched}");
        let (code, _) = self.call_raw(
            "PUT",
            &format!("/_fake/logs/{NS}/{pod}/scan"),
            "text/plain",
            log,
        );
        assert_eq!(code, 200);
        let status = if exit_code == 0 {
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
        } else {
            json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                "reason": "BackoffLimitExceeded"}]})
        };
        let (code, patched) = self.call(
            "PATCH",
            &format!("{JOBS}/{name}/status"),
            "application/merge-patch+json",
            &json!({ "status": status }),
        );
        assert_eq!(code, 200, "{patched}");
    }

    /// How many objects were created at `collection` (POSTs answered 201).
    fn created_at(&self, collection: &str) -> usize {
        self.log()
            .iter()
            .filter(|e| e["method"] == "POST" && e["path"] == collection && e["code"] == 201)
            .count()
    }

    fn scanning(&self, name: &str) -> Value {
        let (code, obj) = self.get(&format!("{SCANNING}/{name}"));
        assert_eq!(code, 200, "{obj}");
        obj
    }
}

/// A scan result for `digest` whose gate passed, with these failed rules.
fn passed_scan(
    digest: &str,
    failed_rules: &[&str],
) -> imprimatur::service::scan_result::ScanResult {
    use imprimatur::service::status::{GateVerdict, ScanCounts};
    let mut result = imprimatur::service::scan_result::ScanResult::new(
        digest,
        ScanCounts {
            total_rules: 40,
            passed_rules: 40 - failed_rules.len() as u64,
            failed_rules: failed_rules.len() as u64,
        },
    );
    result.failed_rules = failed_rules.iter().map(|r| (*r).to_owned()).collect();
    result.gate = Some(GateVerdict {
        passed: true,
        reasons: vec![],
        waived: vec![],
    });
    result
}

/// `requireScan` in the controller goes through an `ImageScanningRequest`:
/// the signing request creates one (owned by it, the image pinned by
/// digest; a controller restarted meanwhile makes no second one), its scan
/// Job's result (a real encoded frame, the pod and Job
/// played by the test) is verified, and the scanned digest is signed:
/// skopeo accepts the image. A second signing request for the same digest
/// reuses that passed scan: no second scanning request, no second Job, no
/// second signature.
#[test]
fn a_signing_request_that_requires_a_scan_is_signed_after_its_scan_job() {
    if !tools() {
        return;
    }
    let w = World::new();
    let ctl = w.controller();
    let mut spec = w.spec(&w.v1);
    spec["requireScan"] = json!(true);
    w.api.create_signing("sign-scanned", spec.clone());

    let job = w.api.wait_for_new_job(&[], &ctl);
    // The Job may come before the signing request's status write.
    let waiting = w
        .api
        .wait_for("sign-scanned", &ctl, |obj| phase(obj) == "Running");
    let scanned = condition(&waiting["status"], "Scanned");
    assert_eq!(scanned["reason"], "WaitingForScan", "{waiting:#}");
    let (_, scans) = w.api.get(SCANNING);
    let scans = scans["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(scans.len(), 1, "{scans:#?}");
    let scan = &scans[0];
    let scan_name = scan["metadata"]["name"].as_str().expect("name").to_owned();
    assert!(scan_name.starts_with("sign-scanned-scan-"), "{scan_name}");
    assert!(
        scanned["message"]
            .as_str()
            .is_some_and(|m| m.contains(&scan_name)),
        "{scanned}"
    );
    assert_eq!(
        scan["metadata"]["ownerReferences"][0]["name"],
        "sign-scanned"
    );
    assert_eq!(
        scan["metadata"]["ownerReferences"][0]["uid"],
        waiting["metadata"]["uid"]
    );
    let (repo, _) = w.v1.rsplit_once(':').expect("tag");
    assert_eq!(
        scan["spec"]["image"],
        format!("docker://{repo}@{}", w.v1_digest)
    );
    assert_eq!(w.signatures().len(), 0, "nothing signed before the scan");

    // A restart while it waits: the new process finds the scanning request
    // and the Job it made (no second of either) and waits on.
    ctl.kill();
    let mut ctl = w.controller();
    // Gives the new process time to look at the waiting request (shapes
    // the run; the assertions below hold either way).
    std::thread::sleep(Duration::from_millis(500));
    w.api
        .complete_scan_job(&job, &passed_scan(&w.v1_digest, &["rule_a"]));
    let obj = w.api.wait_for("sign-scanned", &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_conditions_observed(&obj);
    assert_eq!(obj["status"]["imageDigest"], w.v1_digest.as_str());
    assert_eq!(obj["status"]["scanResult"]["failedRules"], 1);
    assert!(
        condition(&obj["status"], "Scanned")["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("by ImageScanningRequest {scan_name}"))),
        "{obj:#}"
    );
    assert_eq!(w.signatures_of(&w.v1_digest), 1, "{:?}", w.signatures());
    let out = w.skopeo_accepts(&w.v1, "accepted");
    assert!(
        out.status.success(),
        "skopeo refused the signed image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(phase(&w.api.scanning(&scan_name)), "Completed");

    // A second request for the same digest reuses the passed scan.
    w.api.create_signing("sign-scanned-again", spec);
    let again = w.api.wait_for("sign-scanned-again", &ctl, finished);
    assert_eq!(phase(&again), "Completed", "{again:#}\n{}", ctl.log());
    assert!(
        condition(&again["status"], "Scanned")["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("by ImageScanningRequest {scan_name}"))),
        "{again:#}"
    );
    assert_eq!(w.api.created_at(SCANNING), 1, "no second scanning request");
    assert_eq!(w.api.created_at(JOBS), 1, "no second scan Job");
    assert_eq!(w.signatures_of(&w.v1_digest), 1, "{:?}", w.signatures());
    ctl.kill();
}

/// A scan Job run the way its pod template says (the kubelet played by
/// [`FakeApi::run_scan_job`]: non-root, no capabilities, read-only root
/// filesystem, the Job's own arguments, environment, `emptyDir`s and the
/// registry CA's ConfigMap) on a real Debian image in the TLS registry: the container succeeds, the controller reads and
/// verifies its result from the log and termination message, and the
/// recorded counts are those of `imprimatur scan` run as root on the same
/// image: owner rules included, seen through fakeroot.
#[test]
fn a_scan_job_run_as_its_pod_says_records_the_result_of_a_root_scan() {
    if !tools() || !require_tools(&["oscap", "fakeroot", "unshare", "setpriv", "debootstrap"]) {
        return;
    }
    let w = World::new();
    let image = format!("{}/ctl/debian:11", w.registry.host());
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--insecure-policy", "--dest-tls-verify=false"])
            .arg(format!(
                "oci:{}:latest",
                crate::peers::debian_layout().display()
            ))
            .arg(format!("docker://{image}")),
    );
    // The registry's CA reaches the Job as a ConfigMap in the request's
    // namespace (IMPRIMATUR_REGISTRY_CA_CONFIGMAP): without it the scan's
    // pull would not verify the registry.
    let ca = std::fs::read_to_string(&w.ca).expect("CA");
    let (code, obj) = w.api.call(
        "POST",
        &format!("/api/v1/namespaces/{NS}/configmaps"),
        "application/json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "registry-ca", "namespace": NS},
                "data": {"service-ca.crt": ca}}),
    );
    assert_eq!(code, 201, "{obj}");
    let ctl = w.start_controller_with(
        None,
        &[("IMPRIMATUR_REGISTRY_CA_CONFIGMAP", "registry-ca".to_owned())],
    );
    w.api.create_scanning(
        "scan-debian",
        json!({"image": format!("docker://{image}"), "gate": {}}),
    );
    let job = w.api.wait_for_new_job(&[], &ctl);
    let ran = w.api.run_scan_job(&job, &w.scratch);
    assert_eq!(
        ran.output.status.code(),
        Some(0),
        "the scan pod failed: {}\ntermination message: {}",
        String::from_utf8_lossy(&ran.output.stderr),
        ran.termination_message
    );

    let obj = w.api.wait_for_scanning("scan-debian", &ctl, finished);

    // The same image scanned as root by the CLI.
    let root_scan = run(crate::util::imprimatur()
        .args(["scan", "--json", "--tls-verify=false"])
        .arg(format!("docker://{image}")));
    assert_eq!(
        root_scan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&root_scan.stderr)
    );
    let as_root: Value = serde_json::from_slice(&root_scan.stdout).expect("status JSON");
    assert!(
        as_root["scanResult"]["failedRules"].as_u64() > Some(0),
        "{as_root:#}"
    );
    assert_eq!(
        obj["status"]["scanResult"], as_root["scanResult"],
        "{obj:#}"
    );
    assert_eq!(obj["status"]["scanLimitations"], as_root["scanLimitations"]);
    // An empty gate allows no failed rule: the image fails it, and the pod
    // still succeeded above (a Job fails only when the scan does).
    assert_eq!(
        condition(&obj["status"], "GatePassed")["status"],
        "False",
        "{obj:#}"
    );
    ctl.kill();
}

/// A scanning request with a one-second rescan interval: its first Job's
/// result is recorded, then a second Job (another name) runs, and its
/// result is recorded too: two history entries, the rule that newly
/// failed in `newFindings` and a `NewFindings` warning.
#[test]
fn a_scanning_request_rescans_on_schedule_and_records_each_run() {
    if !tools() {
        return;
    }
    let w = World::new();
    let mut ctl = w.controller();
    w.api.create_scanning(
        "scan-often",
        json!({"image": format!("docker://{}", w.v1), "gate": {},
               "rescanIntervalSeconds": 1}),
    );
    let wait_runs = |runs: usize| {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let obj = w.api.scanning("scan-often");
            let history = obj["status"]["scanHistory"].as_array().map_or(0, Vec::len);
            if history >= runs && phase(&obj) == "Completed" {
                return obj;
            }
            assert!(
                Instant::now() < deadline,
                "run {runs} not recorded within {DEADLINE:?}:\n{obj:#}\n{}",
                ctl.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = w.api.wait_for_new_job(&[], &ctl);
    w.api
        .complete_scan_job(&first, &passed_scan(&w.v1_digest, &["rule_a"]));
    let obj = wait_runs(1);
    assert_eq!(obj["status"]["scanRun"], 1, "{obj:#}");

    let first_name = first["metadata"]["name"].as_str().expect("name").to_owned();
    let second = w
        .api
        .wait_for_new_job(std::slice::from_ref(&first_name), &ctl);
    assert_ne!(second["metadata"]["name"], first_name.as_str());
    assert_eq!(
        second["metadata"]["annotations"]["imprimatur.cop.redhat.com/scan-run"],
        "2"
    );
    w.api
        .complete_scan_job(&second, &passed_scan(&w.v1_digest, &["rule_a", "rule_b"]));
    let obj = wait_runs(2);
    ctl.assert_running();
    let history = obj["status"]["scanHistory"].as_array().expect("history");
    assert_eq!(history.len(), 2, "{obj:#}");
    assert_eq!(
        (history[0]["run"].as_u64(), history[1]["run"].as_u64()),
        (Some(1), Some(2))
    );
    for h in history {
        assert_eq!(h["verdict"], "passed", "{h}");
        assert_eq!(h["imageDigest"], w.v1_digest.as_str(), "{h}");
    }
    assert_eq!(history[1]["newFindings"], 1, "{obj:#}");
    assert_eq!(obj["status"]["newFindings"], json!(["rule_b"]));
    // The event follows the status write it describes.
    let deadline = Instant::now() + DEADLINE;
    let (warned, events) = loop {
        let (_, events) = w
            .api
            .get(&format!("/apis/events.k8s.io/v1/namespaces/{NS}/events"));
        let warned = events["items"].as_array().is_some_and(|items| {
            items.iter().any(|e| {
                e["reason"] == "NewFindings"
                    && e["type"] == "Warning"
                    && e["regarding"]["name"] == "scan-often"
                    && e["note"].as_str().is_some_and(|n| n.contains("rule_b"))
            })
        });
        if warned || Instant::now() > deadline {
            break (warned, events);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(warned, "{events:#}");
    ctl.kill();
}
