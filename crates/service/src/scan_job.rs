//! The Kubernetes Job that scans one `ImageScanningRequest` at one digest
//! (feature `kube`).
//!
//! Why a Job: the scheduler spreads scans over the cluster, the kubelet
//! enforces their resources and deadline, and the scan of untrusted image
//! content runs in a pod with no API credentials and no privilege. The pod
//! runs `imprimatur scan IMAGE@DIGEST --result-frame --termination-log
//! /dev/termination-log` and hands its result back through its log and
//! termination message ([`crate::scan_result`]).
//!
//! What the Job is, and why:
//! - Its name comes from the request's UID and the digest
//!   ([`job_name`]): a second request for the same image, or a new digest for
//!   the same request, never collides, and a restarted controller finds the
//!   Job it made.
//! - It is owned by the request (`controller: true`), so deleting the
//!   request deletes it and the controller's `owns()` watch wakes the request.
//! - `backoffLimit: 0` (a failed scan is a result, not something to retry
//!   blindly), `activeDeadlineSeconds` (the scan's timeout plus a margin for
//!   the pull), `ttlSecondsAfterFinished` (the pod is kept until read, not
//!   forever).
//! - The pod: no service-account token, non-root, no privilege escalation,
//!   all capabilities dropped, seccomp `RuntimeDefault`, read-only root
//!   filesystem with an `emptyDir` for the unpacked image and a small one at
//!   `/tmp` (for oscap), resources bounded,
//!   pull secrets only when named, the termination message read from
//!   `/dev/termination-log` (`File` policy: the log tail would not be the
//!   summary).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    LocalObjectReference, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource as _;
use sha2::{Digest as _, Sha256};

use crate::request::ImageScanningRequest;

/// The label every scan Job and pod carries (value [`MANAGED_BY`]): the
/// controller's `owns()` watch selects on it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "imprimatur-controller";
/// The label with the request's UID (Job and pod).
pub const REQUEST_UID_LABEL: &str = "imprimatur.cop.redhat.com/request-uid";
/// The label with the Job's name on its pod: the pod is found by it on any
/// Kubernetes version (`batch.kubernetes.io/job-name` is 1.27+).
pub const SCAN_JOB_LABEL: &str = "imprimatur.cop.redhat.com/scan-job";
/// The annotation with the digest scanned (too long for a label value).
pub const DIGEST_ANNOTATION: &str = "imprimatur.cop.redhat.com/image-digest";
/// The annotation with the request generation the Job scans for: a Job of
/// an older generation (another gate, other content) is not its result.
pub const GENERATION_ANNOTATION: &str = "imprimatur.cop.redhat.com/request-generation";
/// The annotation with the run number, on the Jobs of runs after the first.
pub const RUN_ANNOTATION: &str = "imprimatur.cop.redhat.com/scan-run";
/// The scanning container's name.
pub const CONTAINER: &str = "scan";
/// Where the kubelet reads the termination message.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// The scratch `emptyDir` (the unpacked image and oscap's results).
pub const SCRATCH_DIR: &str = "/scratch";
/// A second, small `emptyDir` at `/tmp`: oscap (1.3.7, Debian 12's) makes
/// its temporary directory (the datastream's components) in `/tmp` whatever
/// `TMPDIR` says, and fails on a read-only root filesystem without it. (A
/// `subPath` of the scratch volume would be created by the kubelet as root,
/// not writable by the pod's user.)
pub const TMP_DIR: &str = "/tmp";
/// The size limit of the `/tmp` `emptyDir`: SSG's largest datastreams are
/// tens of MB.
const TMP_SIZE: &str = "1Gi";
/// Where the registry credentials Secret is mounted, when named.
const AUTH_DIR: &str = "/run/imprimatur/auth";
/// Where the registry CA ConfigMap is mounted, when named (`--cert-dir`).
const CA_DIR: &str = "/run/imprimatur/ca";
/// The default scan timeout (the CLI's).
const DEFAULT_TIMEOUT_SECONDS: u64 = 1800;

/// The controller-wide settings of scan Jobs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScanJobConfig {
    /// The image with `imprimatur` and OpenSCAP (the controller's own).
    pub scanner_image: String,
    /// A Secret (`kubernetes.io/dockerconfigjson`) the kubelet uses to pull
    /// the scanner image; none when not named.
    pub image_pull_secret: Option<String>,
    /// A Secret (`kubernetes.io/dockerconfigjson`) mounted for the scan's own
    /// pull of the scanned image (`--authfile`); none when not named.
    pub registry_auth_secret: Option<String>,
    /// A ConfigMap, in each request's namespace, whose `*.crt` keys are CA
    /// certificates the scan's pull trusts besides the system's (mounted,
    /// `--cert-dir`); none when not named. On OpenShift, a ConfigMap
    /// annotated `service.beta.openshift.io/inject-cabundle: "true"` gets
    /// the service CA as `service-ca.crt`, which the integrated registry's
    /// certificate is signed by.
    pub registry_ca_config_map: Option<String>,
    /// Requests and limits of the scanning container.
    pub resources: ResourceRequirements,
    /// The scratch `emptyDir`'s size limit (the unpacked image).
    pub scratch_size: Quantity,
    /// Added to the scan's timeout for `activeDeadlineSeconds` (the pull and
    /// unpack happen before oscap's own timeout starts).
    pub deadline_margin_seconds: i64,
    /// `ttlSecondsAfterFinished`: long enough for the controller to read the
    /// result (it deletes the Job once it has).
    pub ttl_seconds_after_finished: i32,
    /// Verify registry TLS (`false` only for test registries).
    pub tls_verify: bool,
}

impl ScanJobConfig {
    /// The defaults for a scanner image: 500m CPU / 512 Mi requested, 2 CPU /
    /// 2 Gi and 10 Gi scratch at most, 10 minutes of deadline margin, one
    /// hour of TTL, TLS verified, no secrets.
    pub fn new(scanner_image: impl Into<String>) -> Self {
        let q = |s: &str| Quantity(s.to_owned());
        ScanJobConfig {
            scanner_image: scanner_image.into(),
            image_pull_secret: None,
            registry_auth_secret: None,
            registry_ca_config_map: None,
            resources: ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".into(), q("500m")),
                    ("memory".into(), q("512Mi")),
                    ("ephemeral-storage".into(), q("1Gi")),
                ])),
                limits: Some(BTreeMap::from([
                    ("cpu".into(), q("2")),
                    ("memory".into(), q("2Gi")),
                    ("ephemeral-storage".into(), q("10Gi")),
                ])),
                ..ResourceRequirements::default()
            },
            scratch_size: q("10Gi"),
            deadline_margin_seconds: 600,
            ttl_seconds_after_finished: 3600,
            tls_verify: true,
        }
    }
}

/// Why a Job could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanJobError {
    /// The request lacks a field the Job needs.
    #[error("the request has no {0}")]
    Incomplete(&'static str),
    /// The image is not something a pod can pull.
    #[error("{0} cannot be scanned in a Job: only docker:// images at a digest can")]
    NotPullable(String),
    /// The gate could not be passed on.
    #[error("the request's gate: {0}")]
    Gate(String),
}

/// The Job's name: `scan-` and 32 hex digits of SHA-256(UID, digest), a
/// valid DNS label of 37 characters.
pub fn job_name(request_uid: &str, digest: &str) -> String {
    let mut h = Sha256::new();
    h.update(request_uid.as_bytes());
    h.update(b"\n");
    h.update(digest.as_bytes());
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("scan-{hex}")
}

/// The name of run `run` of a request that rescans
/// (`rescanIntervalSeconds`): run 1 is [`job_name`]; each later run hashes
/// its number in too, so every run gets its own Job (a finished one may
/// still be there until its TTL) and a restarted controller finds the one
/// it made for the run its status records.
pub fn run_job_name(request_uid: &str, digest: &str, run: u64) -> String {
    if run <= 1 {
        return job_name(request_uid, digest);
    }
    job_name(request_uid, &format!("{digest}\nrun {run}"))
}

/// The Job scanning `request` at `image` (`docker://REPO@DIGEST`), whose
/// digest is `digest`: its first run.
pub fn scan_job(
    config: &ScanJobConfig,
    request: &ImageScanningRequest,
    image: &str,
    digest: &str,
) -> Result<Job, ScanJobError> {
    scan_job_for_run(config, request, image, digest, 1)
}

/// The Job of run `run` ([`run_job_name`]) scanning `request` at `image`.
pub fn scan_job_for_run(
    config: &ScanJobConfig,
    request: &ImageScanningRequest,
    image: &str,
    digest: &str,
    run: u64,
) -> Result<Job, ScanJobError> {
    if !image.starts_with("docker://") || !image.ends_with(&format!("@{digest}")) {
        return Err(ScanJobError::NotPullable(image.to_owned()));
    }
    let meta = &request.metadata;
    let uid = meta
        .uid
        .as_deref()
        .ok_or(ScanJobError::Incomplete("metadata.uid"))?;
    let namespace = meta
        .namespace
        .as_deref()
        .ok_or(ScanJobError::Incomplete("metadata.namespace"))?;
    let name = run_job_name(uid, digest, run);
    let timeout = scan_timeout(request);
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (
            "app.kubernetes.io/name".to_owned(),
            "imprimatur-scanner".to_owned(),
        ),
        (REQUEST_UID_LABEL.to_owned(), uid.to_owned()),
    ]);
    let mut pod_labels = labels.clone();
    pod_labels.insert(SCAN_JOB_LABEL.to_owned(), name.clone());
    let mut annotations = BTreeMap::from([
        (DIGEST_ANNOTATION.to_owned(), digest.to_owned()),
        (
            "imprimatur.cop.redhat.com/request".to_owned(),
            meta.name.clone().unwrap_or_default(),
        ),
    ]);
    if let Some(g) = meta.generation {
        annotations.insert(GENERATION_ANNOTATION.to_owned(), g.to_string());
    }
    if run > 1 {
        annotations.insert(RUN_ANNOTATION.to_owned(), run.to_string());
    }
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![owner_reference(request, uid)?]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(
                i64::try_from(timeout)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_add(config.deadline_margin_seconds),
            ),
            ttl_seconds_after_finished: Some(config.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(
                    config,
                    scan_args(config, request, image, timeout)?,
                )),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

fn scan_timeout(request: &ImageScanningRequest) -> u64 {
    request
        .spec
        .scan
        .as_ref()
        .and_then(|s| s.timeout_seconds)
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
}

fn owner_reference(
    request: &ImageScanningRequest,
    uid: &str,
) -> Result<OwnerReference, ScanJobError> {
    Ok(OwnerReference {
        api_version: ImageScanningRequest::api_version(&()).into_owned(),
        kind: ImageScanningRequest::kind(&()).into_owned(),
        name: request
            .metadata
            .name
            .clone()
            .ok_or(ScanJobError::Incomplete("metadata.name"))?,
        uid: uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// `scan IMAGE --result-frame --termination-log … --scratch-dir /scratch
/// --timeout N` and the
/// request's content and gate options.
fn scan_args(
    config: &ScanJobConfig,
    request: &ImageScanningRequest,
    image: &str,
    timeout: u64,
) -> Result<Vec<String>, ScanJobError> {
    let mut args: Vec<String> = [
        "scan",
        image,
        "--result-frame",
        "--termination-log",
        TERMINATION_LOG,
        // The scratch emptyDir, never memory: a tmpfs /dev/shm would count
        // against the pod's memory limit.
        "--scratch-dir",
        SCRATCH_DIR,
        "--timeout",
    ]
    .map(str::to_owned)
    .into();
    args.push(timeout.to_string());
    if let Some(scan) = &request.spec.scan {
        for (flag, value) in [
            ("--datastream", &scan.datastream),
            ("--profile", &scan.profile),
            ("--tailoring", &scan.tailoring),
            ("--oval", &scan.oval),
        ] {
            if let Some(v) = value {
                args.extend([flag.to_owned(), v.clone()]);
            }
        }
    }
    if let Some(gate) = &request.spec.gate {
        let json = serde_json::to_string(gate).map_err(|e| ScanJobError::Gate(e.to_string()))?;
        args.extend(["--gate-json".to_owned(), json]);
    }
    if config.registry_auth_secret.is_some() {
        args.extend([
            "--authfile".to_owned(),
            format!("{AUTH_DIR}/.dockerconfigjson"),
        ]);
    }
    if config.registry_ca_config_map.is_some() {
        args.extend(["--cert-dir".to_owned(), CA_DIR.to_owned()]);
    }
    if !config.tls_verify {
        args.push("--tls-verify=false".to_owned());
    }
    Ok(args)
}

fn pod_spec(config: &ScanJobConfig, args: Vec<String>) -> PodSpec {
    let mut mounts = vec![
        VolumeMount {
            name: "scratch".into(),
            mount_path: SCRATCH_DIR.into(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: TMP_DIR.into(),
            ..VolumeMount::default()
        },
    ];
    let mut volumes = vec![
        Volume {
            name: "scratch".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(config.scratch_size.clone()),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity(TMP_SIZE.into())),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    if let Some(config_map) = &config.registry_ca_config_map {
        mounts.push(VolumeMount {
            name: "registry-ca".into(),
            mount_path: CA_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: "registry-ca".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    if let Some(secret) = &config.registry_auth_secret {
        mounts.push(VolumeMount {
            name: "registry-auth".into(),
            mount_path: AUTH_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: "registry-auth".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    PodSpec {
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        image_pull_secrets: config
            .image_pull_secret
            .as_ref()
            .map(|name| vec![LocalObjectReference { name: name.clone() }]),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        containers: vec![Container {
            name: CONTAINER.into(),
            image: Some(config.scanner_image.clone()),
            command: Some(vec!["imprimatur".into()]),
            args: Some(args),
            env: Some(vec![env("TMPDIR", SCRATCH_DIR), env("HOME", SCRATCH_DIR)]),
            resources: Some(config.resources.clone()),
            security_context: Some(restricted()),
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("File".into()),
            volume_mounts: Some(mounts),
            ..Container::default()
        }],
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    }
}

/// The `restricted` Pod Security Standard for the container.
fn restricted() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(runtime_default()),
        ..SecurityContext::default()
    }
}

/// Where a scan Job is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Not finished: pending or running.
    Running,
    /// Its pod exited 0: a result to read, whatever the gate's verdict
    /// (`imprimatur scan --result-frame` exits 0 once it wrote one; older
    /// scanner images exited 1 on a failed gate, which fails the Job, and
    /// their result is read all the same).
    Succeeded,
    /// It failed (the scan errored, the deadline passed, the pod was
    /// evicted): the reason and message of its `Failed` condition.
    Failed {
        /// The condition's reason (`BackoffLimitExceeded`, `DeadlineExceeded`, ...).
        reason: String,
        /// Its message.
        message: String,
    },
}

/// The outcome of a Job from its status: the terminal `Complete` and
/// `Failed` conditions decide (the counts alone are not final before
/// Kubernetes 1.31's pod-termination tracking settles them).
pub fn job_outcome(job: &Job) -> JobOutcome {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if holds("Complete").is_some() {
        return JobOutcome::Succeeded;
    }
    match holds("Failed") {
        Some(c) => JobOutcome::Failed {
            reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
            message: c.message.clone().unwrap_or_default(),
        },
        None => JobOutcome::Running,
    }
}

/// The request generation a Job was made for ([`GENERATION_ANNOTATION`]).
pub fn job_generation(job: &Job) -> Option<i64> {
    job.metadata
        .annotations
        .as_ref()?
        .get(GENERATION_ANNOTATION)?
        .parse()
        .ok()
}

/// The termination message of a scan pod's [`CONTAINER`], when it ended.
pub fn termination_message(pod: &k8s_openapi::api::core::v1::Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()?
        .message
        .as_deref()
}

#[cfg(test)]
mod tests;
