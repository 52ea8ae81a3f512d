//! Leader election on a `coordination.k8s.io/v1` Lease, so that of the
//! Deployment's replicas exactly one runs the controllers (two would
//! create Jobs and sign twice for one request).
//!
//! `kube-lease-manager` (the maintained crate for kube 5) acquires the
//! Lease when it is free or its holder's term has expired, and renews it
//! before its own expires. Its channel says `false` when another replica
//! holds the Lease. It does not say so when it *cannot renew* (the API is
//! unreachable): it retries and keeps reporting `true` after the term has
//! run out, while another replica may have taken over. So [`Leadership::lost`]
//! also runs a watchdog that reads the Lease every `grace` seconds and
//! declares the leadership lost once the Lease names another holder, or
//! when the last term it saw confirmed has ended without a new one. The
//! caller then stops at once (fail-stop: the process exits and restarts as
//! a follower).

use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the Lease is and who this replica is.
#[derive(Debug, Clone)]
pub(crate) struct LeaseSettings {
    /// The Lease's name.
    pub(crate) name: String,
    /// Its namespace (the controller's own).
    pub(crate) namespace: String,
    /// This replica's identity (its pod name).
    pub(crate) identity: String,
    /// How long a term lasts without renewal, in seconds.
    pub(crate) duration: u64,
    /// How long before the end of its term the holder renews, in seconds.
    pub(crate) grace: u64,
}

/// What went wrong with leadership.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeaderError {
    /// The Lease could not be created, read or written.
    #[error("leader election on Lease {lease}: {source}")]
    Lease {
        /// `NAMESPACE/NAME`.
        lease: String,
        /// The lease manager's error.
        #[source]
        source: LeaseManagerError,
    },
    /// The lease manager stopped (its task ended) before we led.
    #[error("leader election on Lease {0}: the lease manager stopped")]
    Stopped(String),
    /// Another replica holds the Lease now, or our term ran out unrenewed.
    #[error("lost the Lease {0}: {1}")]
    Lost(String, &'static str),
}

impl LeaseSettings {
    fn lease(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// This replica's standing in the election.
pub(crate) struct Leadership {
    settings: LeaseSettings,
    client: Client,
    leading: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

/// Joins the election: creates the Lease if it does not exist, and keeps
/// trying to acquire it in the background.
pub(crate) async fn join(
    client: Client,
    settings: LeaseSettings,
) -> Result<Leadership, LeaderError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(settings.duration)
        .with_grace(settings.grace)
        .build()
        .await
        .map_err(|source| LeaderError::Lease {
            lease: settings.lease(),
            source,
        })?;
    let (leading, task) = manager.watch().await;
    Ok(Leadership {
        settings,
        client,
        leading,
        task,
    })
}

impl Leadership {
    /// Waits until this replica holds the Lease.
    pub(crate) async fn acquired(&mut self) -> Result<(), LeaderError> {
        self.leading
            .wait_for(|leading| *leading)
            .await
            .map(|_| ())
            .map_err(|_| LeaderError::Stopped(self.settings.lease()))
    }

    /// Resolves when the leadership is lost (see the module comment).
    pub(crate) async fn lost(&mut self) -> LeaderError {
        let lease = self.settings.lease();
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        tokio::select! {
            changed = self.leading.wait_for(|leading| !*leading) => match changed {
                Ok(_) => LeaderError::Lost(lease, "another replica holds it"),
                Err(_) => LeaderError::Stopped(lease),
            },
            why = watchdog(&api, &self.settings) => LeaderError::Lost(lease, why),
        }
    }

    /// Leaves the election, releasing the Lease if held (so a follower
    /// takes over at once, not after the term), within `timeout`.
    pub(crate) async fn release(self, timeout: Duration) {
        let lease = self.settings.lease();
        drop(self.leading);
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => release_failed(&lease, &e),
            Ok(Err(e)) => release_failed(&lease, &e),
            Err(_) => release_failed(&lease, &"timed out"),
        }
    }
}

/// Logs that releasing `lease` failed (a follower then waits out the term).
fn release_failed(lease: &str, why: &dyn std::fmt::Display) {
    crate::log::warn(
        "releasing the Lease failed",
        serde_json::json!({"lease": lease, "error": why.to_string()}),
    );
}

/// Until when `lease` makes `identity` the leader: `Some(end of term)` when
/// it names `identity` as holder and its term has not ended at `now`.
pub(crate) fn term_of(lease: &Lease, identity: &str, now: SystemTime) -> Option<SystemTime> {
    let spec = lease.spec.as_ref()?;
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    let renewed: SystemTime = spec.renew_time.as_ref()?.0.into();
    let seconds = u64::try_from(spec.lease_duration_seconds?).ok()?;
    let end = renewed.checked_add(Duration::from_secs(seconds))?;
    (end > now).then_some(end)
}

/// Reads the Lease every `grace` seconds; returns why leadership is over:
/// another holder (or an expired term), or no confirmed term left while the
/// Lease could not be read. The end of the confirmed term is kept as a
/// monotonic deadline (the Lease's times are wall-clock).
async fn watchdog(api: &Api<Lease>, settings: &LeaseSettings) -> &'static str {
    let period = Duration::from_secs(settings.grace.max(1));
    // Just acquired: a full term is ours.
    let mut deadline = Instant::now() + Duration::from_secs(settings.duration);
    loop {
        tokio::time::sleep(period).await;
        let now = SystemTime::now();
        match api.get(&settings.name).await {
            Ok(lease) => match term_of(&lease, &settings.identity, now) {
                Some(end) => {
                    deadline = Instant::now() + end.duration_since(now).unwrap_or_default();
                }
                None => return "it names another holder, or its term has ended",
            },
            Err(e) if Instant::now() >= deadline => {
                crate::log::warn(
                    "reading the Lease failed",
                    serde_json::json!({"lease": settings.lease(), "error": e.to_string()}),
                );
                return "it could not be read or renewed before the term ended";
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod election_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    const T0: u64 = 1_800_000_000;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn lease(holder: Option<&str>, renewed: u64, duration: i32) -> Lease {
        let renew = k8s_openapi::jiff::Timestamp::try_from(at(renewed)).expect("timestamp");
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: Some(MicroTime(renew)),
                lease_duration_seconds: Some(duration),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn our_unexpired_lease_is_a_term_until_renewal_plus_duration() {
        let ours = lease(Some("pod-a"), T0, 15);
        assert_eq!(term_of(&ours, "pod-a", at(T0 + 5)), Some(at(T0 + 15)));
    }

    #[test]
    fn another_holder_or_an_expired_term_is_no_term() {
        let theirs = lease(Some("pod-b"), T0, 15);
        assert_eq!(term_of(&theirs, "pod-a", at(T0 + 1)), None);
        let ours = lease(Some("pod-a"), T0, 15);
        assert_eq!(term_of(&ours, "pod-a", at(T0 + 15)), None, "ended");
        let free = lease(None, T0, 15);
        assert_eq!(term_of(&free, "pod-a", at(T0)), None);
        assert_eq!(term_of(&Lease::default(), "pod-a", at(T0)), None);
    }

    /// The watchdog over kube's client and tower-test's mock: the Lease
    /// names another holder on the second read, and leadership is lost.
    #[tokio::test(start_paused = true)]
    async fn the_watchdog_stops_when_another_replica_holds_the_lease() {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api: Api<Lease> = Api::namespaced(Client::new(service, "default"), "imprimatur");
        let settings = LeaseSettings {
            name: "imprimatur-controller".into(),
            namespace: "imprimatur".into(),
            identity: "pod-a".into(),
            duration: 15,
            grace: 5,
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let server = tokio::spawn(async move {
            for holder in ["pod-a", "pod-b"] {
                let (request, send) = handle.next_request().await.expect("a request");
                assert_eq!(request.method(), http::Method::GET);
                assert_eq!(
                    request.uri().to_string(),
                    "/apis/coordination.k8s.io/v1/namespaces/imprimatur/leases/imprimatur-controller"
                );
                let body = serde_json::to_vec(&lease(Some(holder), now, 15)).expect("json");
                send.send_response(Response::new(Body::from(body)));
            }
        });
        let why = watchdog(&api, &settings).await;
        assert!(why.contains("another holder"), "{why}");
        server.await.expect("two reads");
    }

    /// The API unreachable past the end of the term: lost, even though
    /// nobody said so.
    #[tokio::test(start_paused = true)]
    async fn the_watchdog_stops_when_the_term_ends_unconfirmed() {
        use http::{Request, Response, StatusCode};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api: Api<Lease> = Api::namespaced(Client::new(service, "default"), "imprimatur");
        let settings = LeaseSettings {
            name: "imprimatur-controller".into(),
            namespace: "imprimatur".into(),
            identity: "pod-a".into(),
            duration: 15,
            grace: 5,
        };
        let server = tokio::spawn(async move {
            let mut reads = 0;
            while let Some((_, send)) = handle.next_request().await {
                reads += 1;
                let status = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "unavailable", "reason": "ServiceUnavailable", "code": 503
                });
                send.send_response(
                    Response::builder()
                        .status(StatusCode::SERVICE_UNAVAILABLE)
                        .body(Body::from(serde_json::to_vec(&status).expect("json")))
                        .expect("response"),
                );
            }
            reads
        });
        let started = tokio::time::Instant::now();
        let why = watchdog(&api, &settings).await;
        assert!(why.contains("before the term ended"), "{why}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(15) && waited <= Duration::from_secs(20),
            "{waited:?}"
        );
        drop(api);
        assert!(server.await.expect("reads") >= 3);
    }
}
