//! `imprimatur trust machineconfig`: node trust delivery as an OpenShift
//! MachineConfig (and a plain bundle), checked byte for byte against what
//! `imprimatur trust set` wrote.

use serde_json::Value;

/// `imprimatur trust machineconfig` over what `imprimatur trust set` wrote:
/// the MachineConfig's files decode to exactly those bytes (policy.json,
/// every registries.d file, every key at the path the policy names), and
/// `--bundle` writes the same tree.
#[test]
fn trust_machineconfig_carries_exactly_the_trust_set_files() {
    use crate::peers::{Scratch, run, run_ok};
    use std::collections::BTreeMap;

    let work = Scratch::new();
    let policy = work.path("etc/policy.json");
    let regd = work.path("etc/registries.d");
    let keys = crate::util::data_dir().join("containers-image");
    // Copies, so the test knows exactly which bytes must arrive.
    let k1 = work.write(
        "pki/vendor.gpg",
        std::fs::read(keys.join("public-key-1.gpg")).unwrap(),
    );
    let k2 = work.write(
        "pki/site.gpg",
        std::fs::read(keys.join("public-key-2.gpg")).unwrap(),
    );
    work.write("etc/registries.d/README", "not read by containers/image\n");
    let trust_set = |args: &[&str]| {
        run_ok(
            crate::util::imprimatur()
                .args(["trust", "set", "--policy-path"])
                .arg(&policy)
                .arg("--registries-d")
                .arg(&regd)
                .args(args),
        );
    };
    let (k1s, k2s) = (k1.to_string_lossy(), k2.to_string_lossy());
    trust_set(&["--type", "reject", "default"]);
    trust_set(&[
        "--type",
        "signedBy",
        "--pubkeys",
        &k1s,
        "--lookaside",
        "https://sigs.vendor.example/sigstore",
        "registry.vendor.example",
    ]);
    trust_set(&[
        "--type",
        "signedBy",
        "--pubkeys",
        &k2s,
        "--pubkeys",
        &k1s,
        "--lookaside",
        "file:///var/lib/containers/sigstore",
        "registry.internal:5000/team",
    ]);

    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    want.insert(
        "/etc/containers/policy.json".into(),
        std::fs::read(&policy).unwrap(),
    );
    let mut regd_files = 0;
    for entry in std::fs::read_dir(&regd).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".yaml") {
            want.insert(
                format!("/etc/containers/registries.d/{name}"),
                std::fs::read(&path).unwrap(),
            );
            regd_files += 1;
        }
    }
    assert!(regd_files >= 1, "trust set wrote no registries.d file");
    for k in [&k1, &k2] {
        want.insert(k.to_string_lossy().into_owned(), std::fs::read(k).unwrap());
    }

    let out = run_ok(
        crate::util::imprimatur()
            .args(["trust", "machineconfig", "--policy-path"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd)
            .args(["--role", "worker"]),
    );
    let mc: Value = serde_saphyr::from_str(std::str::from_utf8(&out.stdout).unwrap())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(mc["apiVersion"], "machineconfiguration.openshift.io/v1");
    assert_eq!(mc["kind"], "MachineConfig");
    assert_eq!(mc["metadata"]["name"], "99-worker-imprimatur-trust");
    assert_eq!(
        mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"],
        "worker"
    );
    assert_eq!(mc["spec"]["config"]["ignition"]["version"], "3.2.0");
    let mut got: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for f in mc["spec"]["config"]["storage"]["files"].as_array().unwrap() {
        assert_eq!(f["mode"], 420, "{f}");
        let source = f["contents"]["source"].as_str().unwrap();
        assert!(source.starts_with("data:;base64,"), "{source}");
        let bytes = imprimatur::policy::decode_data_url(source).unwrap();
        got.insert(f["path"].as_str().unwrap().to_owned(), bytes);
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "a file's bytes differ");

    // --name, and the bundle: the same files as a tree.
    let bundle = work.path("bundle");
    run_ok(
        crate::util::imprimatur()
            .args(["trust", "machineconfig", "--policy-path"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd)
            .arg("--bundle")
            .arg(&bundle),
    );
    for (path, bytes) in &want {
        let on_disk = std::fs::read(bundle.join(path.trim_start_matches('/'))).unwrap();
        assert!(&on_disk == bytes, "bundle {path} differs");
    }
    let out = run_ok(
        crate::util::imprimatur()
            .args(["trust", "machineconfig", "--policy-path"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd)
            .args(["--role", "infra", "--name", "50-infra-trust"]),
    );
    let mc: Value = serde_saphyr::from_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(mc["metadata"]["name"], "50-infra-trust");

    // A relative key path cannot be a node path: refused, saying why.
    let rel = work.write(
        "rel/policy.json",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"keys/k.gpg"}]}"#,
    );
    let out = run(crate::util::imprimatur()
        .args([
            "trust",
            "machineconfig",
            "--role",
            "worker",
            "--policy-path",
        ])
        .arg(&rel)
        .arg("--registries-d")
        .arg(work.path("rel/none")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("relative"), "{err}");
}
