//! `deploy/`: every YAML file parses, RBAC is least privilege (no wildcard
//! verbs, resources or groups; no cluster-admin; no Secrets readable
//! cluster-wide; no SCC use), the controller Deployment runs under the
//! restricted profile with health probes, the kustomizations list files that
//! exist, and the example requests are the repository's.
//!
//! The checks are pure functions over parsed documents, so a test also feeds
//! them bad manifests and requires each violation to be reported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read deploy/").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

/// Every document of every YAML file under `deploy/`, with its file.
fn deploy_documents() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    assert!(files.len() >= 10, "only {} YAML files", files.len());
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read a deploy file");
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!parsed.is_empty(), "{}: no document", path.display());
        for doc in parsed {
            assert!(
                doc.get("apiVersion").is_some() && doc.get("kind").is_some(),
                "{}: a document without apiVersion/kind",
                path.display()
            );
            docs.push((path.clone(), doc));
        }
    }
    docs
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or("?")
}

/// Roles and bindings that break least privilege.
fn rbac_violations(docs: &[Value]) -> Vec<String> {
    const BROAD_ROLES: [&str; 4] = ["cluster-admin", "admin", "edit", "system:masters"];
    const DANGEROUS_VERBS: [&str; 3] = ["escalate", "bind", "impersonate"];
    let mut errors = Vec::new();
    // ClusterRoles bound cluster-wide (by a ClusterRoleBinding).
    let bound_cluster_wide: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRoleBinding")
        .filter_map(|d| d["roleRef"]["name"].as_str())
        .collect();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        match kind {
            "Role" | "ClusterRole" => {
                if doc.get("aggregationRule").is_some() {
                    errors.push(format!("{kind} {}: aggregationRule", name(doc)));
                }
                let rules = doc["rules"].as_array().cloned().unwrap_or_default();
                for (i, rule) in rules.iter().enumerate() {
                    let at = format!("{kind} {} rule {i}", name(doc));
                    for field in ["verbs", "resources", "apiGroups", "resourceNames"] {
                        if strings(&rule[field]).iter().any(|s| s.contains('*')) {
                            errors.push(format!("{at}: wildcard in {field}"));
                        }
                    }
                    if rule.get("nonResourceURLs").is_some() {
                        errors.push(format!("{at}: nonResourceURLs"));
                    }
                    if strings(&rule["verbs"]).is_empty() || strings(&rule["resources"]).is_empty()
                    {
                        errors.push(format!("{at}: no verbs or resources"));
                    }
                    for verb in strings(&rule["verbs"]) {
                        if DANGEROUS_VERBS.contains(&verb) {
                            errors.push(format!("{at}: verb {verb}"));
                        }
                    }
                    let resources = strings(&rule["resources"]);
                    if resources.contains(&"securitycontextconstraints") {
                        errors.push(format!("{at}: securitycontextconstraints (SCC use)"));
                    }
                    if kind == "ClusterRole"
                        && bound_cluster_wide.contains(name(doc))
                        && resources.contains(&"secrets")
                    {
                        errors.push(format!(
                            "{at}: Secrets readable in every namespace (bind per namespace)"
                        ));
                    }
                }
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let role = doc["roleRef"]["name"].as_str().unwrap_or_default();
                if BROAD_ROLES.contains(&role) || role.starts_with("system:openshift:scc:") {
                    errors.push(format!("{kind} {}: binds {role}", name(doc)));
                }
                for subject in doc["subjects"].as_array().into_iter().flatten() {
                    if subject["kind"] == "Group" {
                        errors.push(format!(
                            "{kind} {}: binds group {}",
                            name(doc),
                            subject["name"]
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    errors
}

/// A pod spec that is not under the restricted profile, or a controller
/// without its probes and resources.
fn pod_violations(what: &str, pod: &Value, controller: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let pod_sc = &pod["securityContext"];
    for flag in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[flag] == json!(true) {
            errors.push(format!("{what}: {flag}"));
        }
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            errors.push(format!("{what}: hostPath volume {}", volume["name"]));
        }
    }
    let mut containers: Vec<&Value> = Vec::new();
    for list in ["initContainers", "containers"] {
        containers.extend(pod[list].as_array().into_iter().flatten());
    }
    if containers.is_empty() {
        errors.push(format!("{what}: no containers"));
    }
    for c in containers {
        let at = format!("{what} container {}", c["name"]);
        let sc = &c["securityContext"];
        let either = |key: &str| {
            if sc.get(key).is_some() {
                &sc[key]
            } else {
                &pod_sc[key]
            }
        };
        if either("runAsNonRoot") != &json!(true) {
            errors.push(format!("{at}: runAsNonRoot is not true"));
        }
        if either("runAsUser") == &json!(0) {
            errors.push(format!("{at}: runAsUser 0"));
        }
        if either("seccompProfile")["type"] != "RuntimeDefault" {
            errors.push(format!("{at}: seccompProfile is not RuntimeDefault"));
        }
        if sc["allowPrivilegeEscalation"] != json!(false) {
            errors.push(format!("{at}: allowPrivilegeEscalation is not false"));
        }
        if sc["privileged"] == json!(true) {
            errors.push(format!("{at}: privileged"));
        }
        if sc["readOnlyRootFilesystem"] != json!(true) {
            errors.push(format!("{at}: readOnlyRootFilesystem is not true"));
        }
        if strings(&sc["capabilities"]["drop"]) != ["ALL"] {
            errors.push(format!("{at}: capabilities.drop is not [ALL]"));
        }
        if !strings(&sc["capabilities"]["add"]).is_empty() {
            errors.push(format!("{at}: capabilities added"));
        }
        if controller {
            for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
                if c[probe]["httpGet"]["path"] != path {
                    errors.push(format!("{at}: {probe} is not GET {path}"));
                }
            }
            for (key, resource) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "memory"),
            ] {
                if c["resources"][key][resource].is_null() {
                    errors.push(format!("{at}: no resources.{key}.{resource}"));
                }
            }
        }
    }
    errors
}

fn workload_violations(docs: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let pod = match kind {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => &doc["spec"]["template"]["spec"],
            "Pod" => &doc["spec"],
            _ => continue,
        };
        errors.extend(pod_violations(
            &format!("{kind} {}", name(doc)),
            pod,
            kind == "Deployment",
        ));
    }
    errors
}

#[test]
fn deploy_rbac_is_least_privilege_and_the_controller_restricted() {
    let docs = deploy_documents();
    let values: Vec<Value> = docs.iter().map(|(_, d)| d.clone()).collect();
    let errors = rbac_violations(&values);
    assert!(errors.is_empty(), "RBAC: {errors:#?}");
    let errors = workload_violations(&values);
    assert!(errors.is_empty(), "workloads: {errors:#?}");

    // What must be there.
    let kinds: BTreeSet<&str> = values.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "Deployment",
        "Kustomization",
    ] {
        assert!(kinds.contains(kind), "no {kind} under deploy/");
    }
    let deployments: Vec<&Value> = values
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 1);
    // Leases only in the controller's namespace, by a Role.
    for doc in &values {
        if doc["kind"] == "ClusterRole" {
            let rules = doc["rules"].to_string();
            assert!(
                !rules.contains("leases"),
                "{}: leases cluster-wide",
                name(doc)
            );
        }
    }
    // Reading pod logs (scan results) is granted somewhere.
    assert!(
        values
            .iter()
            .any(|d| d["rules"].to_string().contains("pods/log")),
        "no pods/log rule"
    );
}

#[test]
fn the_checks_reject_what_they_must() {
    let bad_rbac: Vec<Value> = serde_saphyr::from_multiple(
        "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: too-much}
rules:
  - {apiGroups: ['*'], resources: [pods], verbs: [get]}
  - {apiGroups: [''], resources: ['*'], verbs: [get]}
  - {apiGroups: [''], resources: [pods], verbs: ['*']}
  - {apiGroups: [''], resources: [secrets], verbs: [get]}
  - {apiGroups: [security.openshift.io], resources: [securitycontextconstraints], verbs: [use]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: too-much}
subjects: [{kind: ServiceAccount, name: x, namespace: y}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: x, namespace: y}]
",
    )
    .unwrap();
    let errors = rbac_violations(&bad_rbac);
    for want in [
        "wildcard in apiGroups",
        "wildcard in resources",
        "wildcard in verbs",
        "Secrets readable in every namespace",
        "securitycontextconstraints",
        "binds cluster-admin",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want} not reported: {errors:#?}"
        );
    }

    let bad_pod: Vec<Value> = serde_saphyr::from_multiple(
        "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]
      containers:
        - name: c
          securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}
",
    )
    .unwrap();
    let errors = workload_violations(&bad_pod);
    for want in [
        "hostPath",
        "runAsNonRoot",
        "seccompProfile",
        "allowPrivilegeEscalation",
        "privileged",
        "readOnlyRootFilesystem",
        "capabilities.drop",
        "capabilities added",
        "livenessProbe",
        "readinessProbe",
        "resources.limits.memory",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want} not reported: {errors:#?}"
        );
    }
}

/// Every file a kustomization lists exists, and every manifest in `deploy/`
/// outside the templates, examples and CI files is listed by one.
#[test]
fn kustomizations_list_existing_files_and_nothing_is_forgotten() {
    let mut listed = BTreeSet::new();
    for (path, doc) in deploy_documents() {
        if doc["kind"] != "Kustomization" {
            continue;
        }
        let dir = path.parent().unwrap();
        for resource in strings(&doc["resources"]) {
            let target = dir.join(resource);
            assert!(
                target.exists(),
                "{}: {resource} does not exist",
                path.display()
            );
            if target.is_file() {
                listed.insert(target.canonicalize().unwrap());
            }
        }
    }
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    for file in files {
        let rel = file
            .strip_prefix(deploy_dir())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let unlisted_ok = rel.ends_with("kustomization.yaml")
            || rel.starts_with("examples/")
            || rel.starts_with("ci/")
            || rel == "rbac/serve-namespace.yaml";
        if !unlisted_ok {
            assert!(
                listed.contains(&file.canonicalize().unwrap()),
                "deploy/{rel} is in no kustomization"
            );
        }
    }
}

/// `deploy/examples/requests` is a copy of `examples/requests` (both
/// predecessor requests included).
#[test]
fn deploy_example_requests_are_the_repository_examples() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/requests");
    let dst = deploy_dir().join("examples/requests");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        let copy = dst.join(&name);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&copy).unwrap_or_default(),
            "{} differs from {}: cp examples/requests/*.yaml deploy/examples/requests/",
            copy.display(),
            path.display()
        );
        names.insert(name);
    }
    assert!(
        names
            .iter()
            .filter(|n| n.to_string_lossy().contains("predecessor"))
            .count()
            == 2
    );
    assert_eq!(std::fs::read_dir(&dst).unwrap().count(), names.len());
}

/// The Tekton Tasks under `deploy/ci/` use only the params, results and
/// workspaces they declare (Tekton would reject the TaskRun otherwise), and
/// the Jenkinsfile and the request Task wait for the request's phase.
#[test]
fn ci_examples_are_consistent() {
    let text = std::fs::read_to_string(deploy_dir().join("ci/tekton-tasks.yaml")).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let tasks: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Task").collect();
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        assert_eq!(task["apiVersion"], "tekton.dev/v1");
        let declared = |key: &str| -> BTreeSet<String> {
            task["spec"][key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        };
        let body = task["spec"]["steps"].to_string();
        for (prefix, key) in [
            ("$(params.", "params"),
            ("$(results.", "results"),
            ("$(workspaces.", "workspaces"),
        ] {
            let have = declared(key);
            for (i, _) in body.match_indices(prefix) {
                let rest = &body[i + prefix.len()..];
                let param: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                assert!(
                    have.contains(&param),
                    "Task {}: {prefix}{param} is not declared in spec.{key}",
                    name(task)
                );
            }
        }
    }
    assert!(
        text.contains("{.status.phase}"),
        "the request Task waits for the phase"
    );
    let jenkins = std::fs::read_to_string(deploy_dir().join("ci/Jenkinsfile")).unwrap();
    assert!(jenkins.contains("--for=jsonpath='{.status.phase}'=Completed"));
    assert!(jenkins.contains("imprimatur scan") && jenkins.contains("imprimatur request run"));
}

/// The Containerfile (no engine runs here): a multi-stage build of examples
/// that exist, a bookworm-slim runtime with OpenSCAP and the SCAP Security
/// Guide, a numeric non-root user, and the binary the Deployment runs.
#[test]
fn containerfile_builds_what_exists_and_runs_non_root() {
    let text = std::fs::read_to_string(deploy_dir().join("Containerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS build"), "{froms:?}");
    assert!(froms[1].contains("debian:bookworm-slim"), "{froms:?}");
    for package in ["openscap-scanner", "ssg-debian", "ssg-base"] {
        assert!(text.contains(package), "{package} not installed");
    }
    let cargo_toml =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for (i, _) in text.match_indices("--example ") {
        let example: String = text[i + "--example ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            cargo_toml.contains(&format!("name = \"{example}\"")),
            "the Containerfile builds example {example:?}, which Cargo.toml does not declare"
        );
    }
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    let uid = user["USER ".len()..].split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER must be a numeric non-root UID (runAsNonRoot checks it): {user}"
    );
    // The Deployment runs a binary the image installs.
    let docs = deploy_documents();
    let deployment = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Deployment")
        .map(|(_, d)| d)
        .unwrap();
    let command = deployment["spec"]["template"]["spec"]["containers"][0]["command"][0]
        .as_str()
        .unwrap();
    let binary = command.rsplit('/').next().unwrap();
    assert!(
        text.contains(&format!("/out/{binary}")),
        "{command} is not installed"
    );
}
