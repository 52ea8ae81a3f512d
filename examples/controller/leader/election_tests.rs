//! The election through `kube-lease-manager`, against a one-Lease fake API
//! server (tower-test's mock service answering GET, POST and PATCH of the
//! Lease; a patch is merged into the Lease's spec, `null` removing a
//! field). Real time: the lease manager reads the system clock.

use super::*;
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const LEASE_URI: &str =
    "/apis/coordination.k8s.io/v1/namespaces/imprimatur/leases/imprimatur-controller";

/// The Lease (`None`: absent) and the verbs used on it.
#[derive(Default)]
struct Fake {
    lease: Option<Value>,
    verbs: Vec<&'static str>,
}

type Shared = Arc<Mutex<Fake>>;

fn settings() -> LeaseSettings {
    LeaseSettings {
        name: "imprimatur-controller".into(),
        namespace: "imprimatur".into(),
        identity: "pod-a".into(),
        duration: 15,
        grace: 5,
    }
}

/// A client whose API server is the fake over `state`.
fn fake_client(state: Shared) -> Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (code, body) = answer(&state, request).await;
            send.send_response(
                Response::builder()
                    .status(code)
                    .body(Body::from(serde_json::to_vec(&body).expect("json")))
                    .expect("response"),
            );
        }
    });
    Client::new(service, "default")
}

async fn answer(state: &Shared, request: Request<Body>) -> (StatusCode, Value) {
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let body = request.into_body().collect_bytes().await.expect("body");
    let mut fake = state.lock().expect("fake");
    let verb = match method {
        Method::GET => "get",
        Method::POST => "create",
        Method::PATCH => "patch",
        _ => "other",
    };
    fake.verbs.push(verb);
    match verb {
        "create" => {
            assert!(uri.starts_with("/apis/coordination.k8s.io/v1/namespaces/imprimatur/leases?"));
            let mut lease: Value = serde_json::from_slice(&body).expect("lease");
            lease["metadata"]["resourceVersion"] = json!("1");
            fake.lease = Some(lease.clone());
            (StatusCode::CREATED, lease)
        }
        _ => {
            assert!(uri.starts_with(LEASE_URI), "{uri}");
            let Some(lease) = fake.lease.as_mut() else {
                return not_found();
            };
            if verb == "patch" {
                let patch: Value = serde_json::from_slice(&body).expect("patch");
                merge_spec(lease, &patch["spec"]);
            }
            (StatusCode::OK, lease.clone())
        }
    }
}

fn merge_spec(lease: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        return;
    };
    if !lease["spec"].is_object() {
        lease["spec"] = json!({});
    }
    for (key, value) in fields {
        if let Some(spec) = lease["spec"].as_object_mut() {
            if value.is_null() {
                spec.remove(key);
            } else {
                spec.insert(key.clone(), value.clone());
            }
        }
    }
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "leases \"imprimatur-controller\" not found", "reason": "NotFound", "code": 404}),
    )
}

/// A Lease held by `holder`, renewed `age` seconds ago, for 15 s.
fn held_by(holder: &str, age: u64) -> Value {
    let renewed = SystemTime::now() - Duration::from_secs(age);
    let renewed = k8s_openapi::jiff::Timestamp::try_from(renewed).expect("timestamp");
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "imprimatur-controller", "namespace": "imprimatur", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder,
            "acquireTime": MicroTime(renewed),
            "renewTime": MicroTime(renewed),
            "leaseDurationSeconds": 15,
        }
    })
}

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

fn holder(state: &Shared) -> Option<String> {
    let fake = state.lock().expect("fake");
    fake.lease.as_ref()?["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_owned)
}

/// No Lease: it is created and acquired; leaving releases it. Only the
/// verbs the Role grants are used.
#[tokio::test]
async fn a_free_lease_is_created_acquired_and_released_on_leaving() {
    let state = Shared::default();
    let mut leadership = join(fake_client(state.clone()), settings())
        .await
        .expect("join");
    tokio::time::timeout(Duration::from_secs(5), leadership.acquired())
        .await
        .expect("acquired in time")
        .expect("acquired");
    assert_eq!(holder(&state).as_deref(), Some("pod-a"));
    leadership.release(Duration::from_secs(5)).await;
    assert_eq!(holder(&state), None, "released");
    let verbs = state.lock().expect("fake").verbs.clone();
    assert!(verbs.contains(&"create"), "{verbs:?}");
    assert!(
        verbs.iter().all(|v| ["get", "create", "patch"].contains(v)),
        "deploy/rbac/leader-election.yaml grants create, get, patch: {verbs:?}"
    );
}

/// Held by another replica, within its term: not acquired.
#[tokio::test]
async fn a_lease_held_and_unexpired_is_not_taken() {
    let state = Shared::default();
    state.lock().expect("fake").lease = Some(held_by("pod-b", 0));
    let mut leadership = join(fake_client(state.clone()), settings())
        .await
        .expect("join");
    let waited = tokio::time::timeout(Duration::from_secs(2), leadership.acquired()).await;
    assert!(waited.is_err(), "not acquired while pod-b's term runs");
    assert_eq!(holder(&state).as_deref(), Some("pod-b"));
}

/// Held by another replica whose term ended (it died without releasing):
/// taken over.
#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let state = Shared::default();
    state.lock().expect("fake").lease = Some(held_by("pod-b", 60));
    let mut leadership = join(fake_client(state.clone()), settings())
        .await
        .expect("join");
    tokio::time::timeout(Duration::from_secs(10), leadership.acquired())
        .await
        .expect("acquired in time")
        .expect("acquired");
    assert_eq!(holder(&state).as_deref(), Some("pod-a"));
}

/// The leader whose Lease another replica took (as after a partition):
/// leadership is lost within a watchdog period.
#[tokio::test]
async fn a_leader_whose_lease_was_taken_loses_leadership() {
    let state = Shared::default();
    let mut leadership = join(fake_client(state.clone()), settings())
        .await
        .expect("join");
    tokio::time::timeout(Duration::from_secs(5), leadership.acquired())
        .await
        .expect("acquired in time")
        .expect("acquired");
    state.lock().expect("fake").lease = Some(held_by("pod-b", 0));
    let lost = tokio::time::timeout(Duration::from_secs(8), leadership.lost())
        .await
        .expect("lost in time");
    assert!(
        matches!(lost, LeaderError::Lost(ref lease, _) if lease == "imprimatur/imprimatur-controller"),
        "{lost}"
    );
}

/// A follower is ready (it can take over) and, asked to stop (SIGTERM),
/// leaves the election without ever running the controllers.
#[tokio::test]
async fn a_follower_is_ready_and_stops_on_request() {
    use crate::health::Health;
    use crate::reconcile::Context;
    let state = Shared::default();
    state.lock().expect("fake").lease = Some(held_by("pod-b", 0));
    let client = fake_client(state.clone());
    let leadership = join(client.clone(), settings()).await.expect("join");
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let pipeline = imprimatur::service::Pipeline::new(registry);
    let resolver: crate::scanning::Resolver =
        Arc::new(|_| Box::pin(async { Err("no registry in tests".to_owned().into()) }));
    let scan_jobs = imprimatur::service::scan_job::ScanJobConfig::new("scanner:1");
    let ctx = Arc::new(Context::new(client, pipeline, scan_jobs, resolver, None));
    let health = Arc::new(Health::new(ctx.metrics.clone()));
    let (stop_tx, stop) = watch::channel(false);
    let lead = tokio::spawn(crate::controllers::lead(
        ctx,
        health.clone(),
        leadership,
        stop,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(health.is_ready(), "a follower is ready");
    stop_tx.send(true).expect("stop");
    let outcome = tokio::time::timeout(Duration::from_secs(3), lead)
        .await
        .expect("stopped in time")
        .expect("task");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(!health.is_ready(), "not ready once stopping");
    assert_eq!(
        holder(&state).as_deref(),
        Some("pod-b"),
        "pod-b's Lease untouched"
    );
    let verbs = state.lock().expect("fake").verbs.clone();
    assert!(
        !verbs.contains(&"patch"),
        "a follower writes nothing: {verbs:?}"
    );
}
