use super::*;
use crate::request::{ImageScanningRequestSpec, ScanSettings};
use serde_json::{Value, json};

const UID: &str = "6f1c1f5e-2b7a-4c55-9d0e-1a2b3c4d5e6f";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image() -> String {
    format!("docker://registry.example/team/app@{DIGEST}")
}

fn request(spec: ImageScanningRequestSpec) -> ImageScanningRequest {
    let mut r = ImageScanningRequest::new("scan-myapp", spec);
    r.metadata.namespace = Some("team".into());
    r.metadata.generation = Some(7);
    r.metadata.uid = Some(UID.into());
    r
}

fn job_json(config: &ScanJobConfig, spec: ImageScanningRequestSpec) -> Value {
    let job = scan_job(config, &request(spec), &image(), DIGEST).unwrap();
    serde_json::to_value(job).unwrap()
}

#[test]
fn job_names_are_dns_labels_unique_per_request_and_digest() {
    let name = job_name(UID, DIGEST);
    assert_eq!(name, job_name(UID, DIGEST), "deterministic");
    assert!(name.len() <= 63 && name.starts_with("scan-"), "{name}");
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    let other_request = job_name("0d4c-another-uid", DIGEST);
    let other_digest = job_name(UID, &DIGEST.replace('0', "f"));
    assert_ne!(name, other_request);
    assert_ne!(name, other_digest);
    // A UID and digest concatenated the other way cannot collide.
    assert_ne!(job_name("a", "bc"), job_name("ab", "c"));
}

#[test]
fn each_run_has_its_own_job_the_first_keeping_the_plain_name() {
    assert_eq!(run_job_name(UID, DIGEST, 1), job_name(UID, DIGEST));
    assert_eq!(run_job_name(UID, DIGEST, 0), job_name(UID, DIGEST));
    let second = run_job_name(UID, DIGEST, 2);
    assert_ne!(second, job_name(UID, DIGEST));
    assert_eq!(second, run_job_name(UID, DIGEST, 2), "deterministic");
    assert_ne!(second, run_job_name(UID, DIGEST, 3));
    assert_eq!(second.len(), job_name(UID, DIGEST).len());
    let job = scan_job_for_run(
        &ScanJobConfig::new("s:1"),
        &request(ImageScanningRequestSpec::default()),
        &image(),
        DIGEST,
        2,
    )
    .unwrap();
    let json = serde_json::to_value(job).unwrap();
    assert_eq!(json["metadata"]["name"], second);
    assert_eq!(json["metadata"]["annotations"][RUN_ANNOTATION], "2");
    let first = job_json(
        &ScanJobConfig::new("s:1"),
        ImageScanningRequestSpec::default(),
    );
    assert!(
        first["metadata"]["annotations"]
            .get(RUN_ANNOTATION)
            .is_none()
    );
}

#[test]
fn the_job_is_owned_bounded_and_never_retried() {
    let config = ScanJobConfig::new("quay.io/imprimatur/imprimatur:1");
    let spec = ImageScanningRequestSpec {
        scan: Some(ScanSettings {
            timeout_seconds: Some(900),
            ..ScanSettings::default()
        }),
        ..ImageScanningRequestSpec::default()
    };
    let job = job_json(&config, spec);
    let meta = &job["metadata"];
    assert_eq!(meta["name"], job_name(UID, DIGEST));
    assert_eq!(meta["namespace"], "team");
    assert_eq!(meta["labels"][MANAGED_BY_LABEL], MANAGED_BY);
    assert_eq!(meta["labels"][REQUEST_UID_LABEL], UID);
    assert_eq!(meta["annotations"][DIGEST_ANNOTATION], DIGEST);
    assert_eq!(meta["annotations"][GENERATION_ANNOTATION], "7");
    let parsed: Job = serde_json::from_value(job.clone()).unwrap();
    assert_eq!(job_generation(&parsed), Some(7));
    assert_eq!(job_generation(&Job::default()), None);
    assert_eq!(
        meta["ownerReferences"],
        json!([{
            "apiVersion": "cop.redhat.com/v1alpha2",
            "kind": "ImageScanningRequest",
            "name": "scan-myapp",
            "uid": UID,
            "controller": true,
            "blockOwnerDeletion": true,
        }])
    );
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 900 + 600);
    assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
    assert_eq!(
        spec["template"]["metadata"]["labels"][SCAN_JOB_LABEL],
        job_name(UID, DIGEST),
        "the pod is found by its Job's name"
    );
}

#[test]
fn the_pod_is_restricted_and_tokenless() {
    let job = job_json(
        &ScanJobConfig::new("scanner:1"),
        ImageScanningRequestSpec::default(),
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(
        pod.get("imagePullSecrets").is_none(),
        "none named: none set"
    );
    assert!(pod.get("serviceAccountName").is_none());
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["name"], CONTAINER);
    assert_eq!(c["image"], "scanner:1");
    assert_eq!(
        c["securityContext"],
        json!({
            "runAsNonRoot": true,
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["resources"]["requests"]["memory"], "512Mi");
    assert_eq!(c["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(c["resources"]["limits"]["cpu"], "2");
    // The read-only root has two writable places: the scratch emptyDir
    // (TMPDIR) and a small one at /tmp, where oscap makes its temporary
    // directory whatever TMPDIR says.
    assert_eq!(
        c["volumeMounts"],
        json!([
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": "/tmp"}
        ])
    );
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "scratch", "emptyDir": {"sizeLimit": "10Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}
        ])
    );
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "TMPDIR", "value": "/scratch"}))
    );
    assert_eq!(c["command"], json!(["imprimatur"]));
    assert_eq!(
        c["args"],
        json!([
            "scan",
            image(),
            "--result-frame",
            "--termination-log",
            "/dev/termination-log",
            "--scratch-dir",
            "/scratch",
            "--timeout",
            "1800"
        ])
    );
}

#[test]
fn request_options_and_named_secrets_reach_the_pod() {
    let mut config = ScanJobConfig::new("scanner:1");
    config.image_pull_secret = Some("scanner-pull".into());
    config.registry_auth_secret = Some("team-registry".into());
    config.registry_ca_config_map = Some("registry-ca".into());
    config.tls_verify = false;
    let gate = imprimatur_arf::Gate::from_yaml("maxFailed: {high: 0}\n").unwrap();
    let spec = ImageScanningRequestSpec {
        scan: Some(ScanSettings {
            datastream: Some("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml".into()),
            profile: Some("standard".into()),
            tailoring: Some("/t.xml".into()),
            oval: Some("/o.xml".into()),
            timeout_seconds: Some(60),
        }),
        gate: Some(gate.clone()),
        ..ImageScanningRequestSpec::default()
    };
    let job = job_json(&config, spec);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "scanner-pull"}]));
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let gate_json = serde_json::to_string(&gate).unwrap();
    let want = [
        "scan",
        &image(),
        "--result-frame",
        "--termination-log",
        "/dev/termination-log",
        "--scratch-dir",
        "/scratch",
        "--timeout",
        "60",
        "--datastream",
        "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml",
        "--profile",
        "standard",
        "--tailoring",
        "/t.xml",
        "--oval",
        "/o.xml",
        "--gate-json",
        &gate_json,
        "--authfile",
        "/run/imprimatur/auth/.dockerconfigjson",
        "--cert-dir",
        "/run/imprimatur/ca",
        "--tls-verify=false",
    ];
    assert_eq!(args, want);
    assert_eq!(
        imprimatur_arf::Gate::from_json(&gate_json).unwrap(),
        gate,
        "the gate survives the trip"
    );
    assert_eq!(
        pod["volumes"][2],
        json!({"name": "registry-ca", "configMap": {"name": "registry-ca"}})
    );
    assert_eq!(
        c["volumeMounts"][2],
        json!({"name": "registry-ca", "mountPath": "/run/imprimatur/ca", "readOnly": true})
    );
    assert_eq!(
        pod["volumes"][3],
        json!({"name": "registry-auth", "secret": {"secretName": "team-registry"}})
    );
    assert_eq!(
        c["volumeMounts"][3],
        json!({"name": "registry-auth", "mountPath": "/run/imprimatur/auth", "readOnly": true})
    );
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 660);
}

#[test]
fn what_cannot_become_a_job_is_refused() {
    let config = ScanJobConfig::new("scanner:1");
    for bad in ["oci:/srv/layout:1", "docker://registry.example/app:1"] {
        assert_eq!(
            scan_job(
                &config,
                &request(ImageScanningRequestSpec::default()),
                bad,
                DIGEST
            ),
            Err(ScanJobError::NotPullable(bad.into()))
        );
    }
    let mut r = request(ImageScanningRequestSpec::default());
    r.metadata.uid = None;
    assert_eq!(
        scan_job(&config, &r, &image(), DIGEST),
        Err(ScanJobError::Incomplete("metadata.uid"))
    );
}

#[test]
fn job_outcomes_come_from_terminal_conditions() {
    let job = |conditions: Value| -> Job {
        serde_json::from_value(
            json!({"metadata": {"name": "j"}, "status": {"active": 1, "conditions": conditions}}),
        )
        .unwrap()
    };
    assert_eq!(job_outcome(&Job::default()), JobOutcome::Running);
    assert_eq!(job_outcome(&job(json!([]))), JobOutcome::Running);
    assert_eq!(
        job_outcome(&job(
            json!([{"type": "SuccessCriteriaMet", "status": "True"}])
        )),
        JobOutcome::Running,
        "not terminal yet"
    );
    assert_eq!(
        job_outcome(&job(json!([{"type": "Complete", "status": "True"}]))),
        JobOutcome::Succeeded
    );
    assert_eq!(
        job_outcome(&job(
            json!([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}])
        )),
        JobOutcome::Failed {
            reason: "DeadlineExceeded".into(),
            message: "Job was active longer than specified deadline".into()
        }
    );
    assert_eq!(
        job_outcome(&job(json!([{"type": "Failed", "status": "False"}]))),
        JobOutcome::Running
    );
}

#[test]
fn the_termination_message_is_the_scan_containers() {
    use k8s_openapi::api::core::v1::Pod;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [
            {"name": "sidecar", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "message": "not this"}}},
            {"name": "scan", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 1, "message": "{\"version\":1}"}}}
        ]}
    }))
    .unwrap();
    assert_eq!(termination_message(&pod), Some("{\"version\":1}"));
    assert_eq!(termination_message(&Pod::default()), None);
}
