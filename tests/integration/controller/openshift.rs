//! The controller on OpenShift, end to end: the fake API server started
//! with `--openshift` (discovery of `image.openshift.io/v1`, the virtual
//! `imagestreamtags`/`imagestreamimages` and `imagesignatures` create),
//! seeded with an ImageStream and its Images (from the recorded shapes in
//! `tests/data/openshift`) pointing at images in the loopback TLS registry,
//! and the controller on `IMPRIMATUR_OPENSHIFT=auto` with a `registries.d`
//! that names no store for that registry (so signatures go to the API).
//!
//! Each signature made is read back from the Image, checked by our verifier,
//! and copied into the lookaside skopeo is configured with, where skopeo's
//! policy (signedBy, `matchRepoDigestOrExact`) accepts a pull by tag.

use super::*;
use base64::Engine as _;

const IMAGES: &str = "/apis/image.openshift.io/v1/images";
const STREAMS: &str = "/apis/image.openshift.io/v1/namespaces/team/imagestreams";

fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openshift")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("recorded")).expect("JSON")
}

/// The world, with `v1` and `v2` also pushed as `team/app` (the image
/// stream's repository in the registry).
struct OpenShiftWorld {
    w: World,
    repo: String,
    /// The digests of `v1` and `v2` as pushed there.
    digests: [String; 2],
    /// Their manifests, as the registry serves them.
    manifests: [Vec<u8>; 2],
}

impl OpenShiftWorld {
    fn new() -> Self {
        let w = World::new_with(&["--openshift"]);
        let repo = format!("{}/team/app", w.registry.host());
        let layout = OciLayout::build(&["v1", "v2"]);
        let pushed = ["v1", "v2"].map(|tag| {
            let pushed = layout.push(tag, &format!("{repo}:{tag}"));
            w.create_image(&format!("{repo}@{}", pushed.digest), &pushed.digest);
            pushed
        });
        let digests = [pushed[0].digest.clone(), pushed[1].digest.clone()];
        let [p1, p2] = pushed;
        OpenShiftWorld {
            w,
            repo,
            digests,
            manifests: [p1.manifest, p2.manifest],
        }
    }

    /// A controller using the image API, with a registries.d naming no
    /// store for the registry.
    fn controller(&self) -> Controller {
        let empty = self.w.scratch.path("registries.d-empty");
        std::fs::create_dir_all(&empty).expect("empty registries.d");
        self.w.start_controller_with(
            None,
            &[
                ("IMPRIMATUR_OPENSHIFT", "auto".to_owned()),
                ("IMPRIMATUR_REGISTRIES_D", empty.display().to_string()),
            ],
        )
    }

    /// The image stream `app` (labels and annotations from `meta`), its tag
    /// `v1` at the digests `history` (newest first).
    fn create_stream(&self, meta: Value, history: &[&str]) {
        let mut stream = recorded("imagestream.json");
        stream["metadata"] = meta;
        stream["metadata"]["name"] = json!("app");
        stream["metadata"]["namespace"] = json!(NS);
        let (code, obj) = self
            .w
            .api
            .call("POST", STREAMS, "application/json", &stream);
        assert_eq!(code, 201, "{obj}");
        self.move_tag(history);
    }

    /// Sets tag `v1`'s history (newest first), as the registry does on push.
    fn move_tag(&self, history: &[&str]) {
        let items: Vec<Value> = history
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({"created": "2026-11-29T08:00:00Z", "dockerImageReference": format!("{}@{d}", self.repo),
                       "image": d, "generation": history.len() - i})
            })
            .collect();
        let (code, obj) = self.w.api.call(
            "PATCH",
            &format!("{STREAMS}/app/status"),
            "application/merge-patch+json",
            &json!({"status": {"dockerImageRepository": self.repo,
                               "tags": [{"tag": "v1", "items": items}]}}),
        );
        assert_eq!(code, 200, "{obj}");
    }

    /// The signatures on the Image `digest`.
    fn image_signatures(&self, digest: &str) -> Vec<Value> {
        let (code, image) = self.w.api.get(&format!("{IMAGES}/{digest}"));
        assert_eq!(code, 200, "{image}");
        image["signatures"].as_array().cloned().unwrap_or_default()
    }

    /// The one ImageSignature on `digest`: an atomic signature named
    /// `digest@<32 hex>` that our verifier accepts for `manifest` and
    /// `identity` with the release key; copied into skopeo's lookaside, and
    /// skopeo then accepts a pull of `pull` under the policy.
    fn assert_signed(&self, digest: &str, manifest: &[u8], identity: &str, pull: &str) {
        let sigs = self.image_signatures(digest);
        assert_eq!(sigs.len(), 1, "{sigs:#?}");
        assert_eq!(sigs[0]["type"], "atomic");
        let name = sigs[0]["metadata"]["name"].as_str().expect("name");
        let suffix = name
            .strip_prefix(&format!("{digest}@"))
            .expect("named DIGEST@…");
        assert!(
            suffix.len() == 32 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let blob = base64::engine::general_purpose::STANDARD
            .decode(sigs[0]["content"].as_str().expect("content"))
            .expect("base64");
        let public = std::fs::read(&self.w.trust.public).expect("public key");
        let trusted = imprimatur::signature::TrustedKeys::from_bytes(&public).expect("key");
        imprimatur::signature::verify_standalone(
            &imprimatur::signature::Verifier::new(&trusted),
            manifest,
            identity,
            trusted.primary_fingerprints(),
            &blob,
        )
        .expect("our verifier accepts the ImageSignature");
        let dir = self
            .w
            .trust
            .lookaside
            .join(format!("team/app@{}", digest.replace(':', "=")));
        std::fs::create_dir_all(&dir).expect("lookaside dir");
        std::fs::write(dir.join("signature-1"), &blob).expect("copy the signature");
        let out = self
            .w
            .skopeo_accepts(pull, &format!("pulled-{}", &digest[7..19]));
        assert!(
            out.status.success(),
            "skopeo refused {pull}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl World {
    /// The Image `digest` (cluster-scoped), pulled from `reference`.
    fn create_image(&self, reference: &str, digest: &str) {
        let mut image = recorded("image.json");
        image["metadata"] = json!({"name": digest});
        image["dockerImageReference"] = json!(reference);
        image.as_object_mut().expect("object").remove("signatures");
        let (code, obj) = self.api.call("POST", IMAGES, "application/json", &image);
        assert_eq!(code, 201, "{obj}");
    }
}

/// (a) The predecessor's request (`imageStreamTag: app:v1`) completes with
/// an ImageSignature on the Image, signed for `REGISTRY/team/app:v1`.
#[test]
fn an_image_stream_tag_request_is_signed_into_an_image_signature() {
    if !tools() {
        return;
    }
    let o = OpenShiftWorld::new();
    o.create_stream(json!({}), &[&o.digests[0]]);
    let mut ctl = o.controller();
    o.w.api.create_signing(
        "sign-app",
        json!({"imageStreamTag": "app:v1", "signingKeySecretName": "release",
               "signingKeySignBy": "release@example.com"}),
    );
    let obj = o.w.api.wait_for("sign-app", &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    let identity = format!("{}:v1", o.repo);
    let status = &obj["status"];
    assert_eq!(status["imageDigest"], o.digests[0].as_str());
    assert_eq!(
        status["unsignedImage"],
        format!("{}@{}", o.repo, o.digests[0])
    );
    assert_eq!(status["signature"]["identity"], identity.as_str());
    assert_eq!(
        status["signature"]["store"],
        "OpenShift image signatures of team/app"
    );
    assert_eq!(status["signature"]["created"], true);
    // Nothing went to a lookaside: the signature is on the Image.
    assert!(o.w.signatures().is_empty(), "{:?}", o.w.signatures());
    // Accepted by skopeo pulling by tag (matchRepoDigestOrExact: exact).
    o.assert_signed(&o.digests[0], &o.manifests[0], &identity, &identity);
    ctl.kill();
}

/// (b) An opted-in stream: its tag gets a signing request, and when the tag
/// is moved (a push) a new one pinned to the new digest; both complete,
/// one ImageSignature on each image.
#[test]
fn an_opted_in_stream_is_signed_on_push() {
    if !tools() {
        return;
    }
    let o = OpenShiftWorld::new();
    let mut ctl = o.controller();
    o.create_stream(
        json!({"labels": {"imprimatur.io/auto-sign": "true"},
               "annotations": {"imprimatur.io/signing-key-secret": "release",
                               "imprimatur.io/sign-by": "release@example.com"}}),
        &[&o.digests[0]],
    );
    let auto = |digest: &str| {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (_, list) = o.w.api.get(&format!(
                "{SIGNING}?labelSelector=imprimatur.io%2Fimage-stream%3Dapp"
            ));
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if let Some(r) = items
                .iter()
                .find(|r| r["metadata"]["annotations"]["imprimatur.io/image-digest"] == digest)
            {
                let name = r["metadata"]["name"].as_str().expect("name").to_owned();
                return (name, items.len());
            }
            assert!(
                Instant::now() < deadline,
                "no request for {digest}: {list:#}\n{}",
                ctl.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let identity = format!("{}:v1", o.repo);
    let (first, n) = auto(&o.digests[0]);
    assert_eq!(n, 1);
    let obj = o.w.api.wait_for(&first, &ctl, finished);
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(obj["spec"]["imageStreamTag"], "app:v1");
    assert_eq!(obj["status"]["imageDigest"], o.digests[0].as_str());

    // A push: v1 now points at v2's image.
    o.move_tag(&[&o.digests[1], &o.digests[0]]);
    let (second, n) = auto(&o.digests[1]);
    assert_eq!(n, 2, "one new request, the first kept");
    let obj = o.w.api.wait_for(&second, &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(obj["status"]["imageDigest"], o.digests[1].as_str());
    assert_eq!(obj["status"]["signature"]["identity"], identity.as_str());
    // The registry's own tag never moved: each image is pulled by digest
    // (matchRepoDigestOrExact: the same repository).
    for (digest, manifest) in [
        (&o.digests[0], &o.manifests[0]),
        (&o.digests[1], &o.manifests[1]),
    ] {
        let pull = format!("{}@{digest}", o.repo);
        o.assert_signed(digest, manifest, &identity, &pull);
    }
    ctl.kill();
}

/// (b2) A stream that opts in with `imprimatur.io/require-scan: "true"`:
/// its push makes a signing request that requires a scan, which makes a
/// scanning request pinned to the pushed digest; nothing is signed until
/// that scan's Job reports a passed result, then exactly the pushed digest
/// is signed into an ImageSignature skopeo accepts.
#[test]
fn an_opted_in_stream_that_requires_a_scan_is_signed_after_the_scan() {
    if !tools() {
        return;
    }
    let o = OpenShiftWorld::new();
    let mut ctl = o.controller();
    o.create_stream(
        json!({"labels": {"imprimatur.io/auto-sign": "true"},
               "annotations": {"imprimatur.io/signing-key-secret": "release",
                               "imprimatur.io/sign-by": "release@example.com",
                               "imprimatur.io/require-scan": "true"}}),
        &[&o.digests[0]],
    );
    let job = o.w.api.wait_for_new_job(&[], &ctl);
    assert_eq!(
        job["metadata"]["annotations"]["imprimatur.cop.redhat.com/image-digest"],
        o.digests[0].as_str(),
        "the scan is of the pushed digest"
    );
    let (_, list) = o.w.api.get(&format!(
        "{SIGNING}?labelSelector=imprimatur.io%2Fimage-stream%3Dapp"
    ));
    let requests = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(requests.len(), 1, "{list:#}");
    assert_eq!(requests[0]["spec"]["requireScan"], true, "{list:#}");
    let name = requests[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let (_, scans) = o.w.api.get(SCANNING);
    let scans = scans["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(scans.len(), 1, "{scans:#?}");
    assert_eq!(
        scans[0]["spec"]["image"],
        format!("docker://{}@{}", o.repo, o.digests[0]),
        "the scanning request is pinned to the pushed digest"
    );
    assert_eq!(
        scans[0]["metadata"]["ownerReferences"][0]["name"],
        name.as_str()
    );
    assert!(
        o.image_signatures(&o.digests[0]).is_empty(),
        "nothing signed before the scan"
    );

    o.w.api
        .complete_scan_job(&job, &passed_scan(&o.digests[0], &[]));
    let obj = o.w.api.wait_for(&name, &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(obj["status"]["imageDigest"], o.digests[0].as_str());
    assert_eq!(
        condition(&obj["status"], "Scanned")["status"],
        "True",
        "{obj:#}"
    );
    let identity = format!("{}:v1", o.repo);
    let pull = format!("{}@{}", o.repo, o.digests[0]);
    o.assert_signed(&o.digests[0], &o.manifests[0], &identity, &pull);
    ctl.kill();
}

/// (c) A namespace labelled later opts its (unlabelled) stream in: the
/// namespace watch wakes the stream, the key comes from the namespace's
/// annotation, and the request completes.
#[test]
fn a_namespace_labelled_later_opts_its_streams_in() {
    if !tools() {
        return;
    }
    let o = OpenShiftWorld::new();
    let (code, ns) = o.w.api.call(
        "POST",
        "/api/v1/namespaces",
        "application/json",
        &json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": NS, "annotations": {
                    "imprimatur.io/signing-key-secret": "release",
                    "imprimatur.io/sign-by": "release@example.com"}}}),
    );
    assert_eq!(code, 201, "{ns}");
    o.create_stream(json!({}), &[&o.digests[0]]);
    let mut ctl = o.controller();
    let requests = || {
        let (_, list) = o.w.api.get(&format!(
            "{SIGNING}?labelSelector=imprimatur.io%2Fimage-stream%3Dapp"
        ));
        list["items"].as_array().cloned().unwrap_or_default()
    };
    // Not opted in yet: nothing, for as long as the controller takes to
    // look at the stream once (its namespace is read when it does).
    let deadline = Instant::now() + DEADLINE;
    while !o
        .w
        .api
        .log()
        .iter()
        .any(|e| e["path"] == "/api/v1/namespaces/team")
    {
        assert!(Instant::now() < deadline, "{}", ctl.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(requests().is_empty());
    let (code, ns) = o.w.api.call(
        "PATCH",
        "/api/v1/namespaces/team",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"imprimatur.io/auto-sign": "true"}}}),
    );
    assert_eq!(code, 200, "{ns}");
    let name = loop {
        if let Some(r) = requests().first() {
            break r["metadata"]["name"].as_str().expect("name").to_owned();
        }
        assert!(Instant::now() < deadline, "no request:\n{}", ctl.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    let obj = o.w.api.wait_for(&name, &ctl, finished);
    ctl.assert_running();
    assert_eq!(phase(&obj), "Completed", "{obj:#}\n{}", ctl.log());
    assert_eq!(obj["spec"]["signingKeySecretName"], "release");
    assert_eq!(obj["status"]["imageDigest"], o.digests[0].as_str());
    assert_eq!(o.image_signatures(&o.digests[0]).len(), 1);
    ctl.kill();
}
