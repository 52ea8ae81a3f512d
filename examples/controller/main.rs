//! `imprimatur-controller`: the Kubernetes controller for
//! `ImageScanningRequest` and `ImageSigningRequest` (`cop.redhat.com/v1alpha2`).
//! It watches both kinds in every namespace it may list. A scanning request
//! is scanned by a Job (`scanning.rs`) whose verified result becomes its
//! status, and scanned again on schedule when it has a rescan interval; a
//! signing request signs in process, with the keys of the Secret its
//! `signingKeySecretName` names in its own namespace (`keys.rs`), and when
//! it `requireScan`s, only after an `ImageScanningRequest` of the same
//! digest passed: a fresh one reused (`maxScanAge`) or one it creates
//! (`signing_scan.rs`). Every status is written by server-side apply (field manager
//! `imprimatur`), every step is an event (`events.rs`).
//!
//! Of the replicas, the one holding the Lease runs the controllers
//! (`leader.rs`, `controllers.rs`); SIGTERM stops them gracefully and
//! releases the Lease; a lost Lease stops the process. `/healthz`,
//! `/readyz` and `/metrics` answer on port 8080 (`health.rs`,
//! `metrics.rs`).
//!
//! On OpenShift (`IMPRIMATUR_OPENSHIFT`, `openshift.rs`), `imageStreamTag`
//! requests resolve through the image API and publish `ImageSignature`s,
//! and a third controller signs opted-in image streams on push
//! (`autosign.rs`; opt-in per image stream or namespace).
//!
//! Not yet: credentials for the controller's own pulls from OpenShift's
//! integrated registry are not set up for it (an auth file and the service
//! CA must be given by hand, see deploy/README.md#openshift).
//!
//! Environment: `IMPRIMATUR_SCANNER_IMAGE` (the image scan Jobs run, with
//! `imprimatur` and OpenSCAP; required), `IMPRIMATUR_SCANNER_PULL_SECRET`
//! (a Secret the kubelet pulls it with), `IMPRIMATUR_REGISTRY_AUTH_SECRET` (a
//! `dockerconfigjson` Secret, in each request's namespace, mounted for the
//! scan's own pull), `IMPRIMATUR_REGISTRY_CA_CONFIGMAP` (a ConfigMap, in
//! each request's namespace, whose `*.crt` keys are CAs the scan's pull
//! trusts; on OpenShift one with the injected service CA reaches the
//! integrated registry), `IMPRIMATUR_REGISTRIES_D` (default
//! `/etc/containers/registries.d`), `IMPRIMATUR_LISTEN` (default
//! `0.0.0.0:8080`), `IMPRIMATUR_OPENSHIFT` (`auto`, the default: use
//! OpenShift's image API when discovery finds `image.openshift.io/v1`;
//! `on`: require it; `off`), `IMPRIMATUR_ALLOWED_LOOKASIDES` (URL
//! prefixes a request's `spec.store.lookaside` may name, comma-separated;
//! by default none may), `IMPRIMATUR_CONCURRENCY` (requests of each
//! kind reconciled at once, default 64), `POD_NAMESPACE` and `POD_NAME`
//! (the Lease's namespace and this replica's identity; required unless
//! `IMPRIMATUR_LEADER_ELECTION=off`).
//!
//! Logs are structured: one JSON object per line on stderr (`log.rs`).

mod autosign;
mod controllers;
mod events;
mod health;
mod keys;
mod leader;
mod log;
mod metrics;
mod openshift;
mod reconcile;
mod scanning;
mod signing_scan;
#[cfg(test)]
mod testing;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use imprimatur::registry::RegistryClient;
use imprimatur::service::Pipeline;
use imprimatur::service::scan_job::ScanJobConfig;
use kube::Client;
use tokio::sync::watch;

use health::Health;
use leader::LeaseSettings;
use reconcile::Context;

/// The Lease the replicas elect their leader on (the Role in
/// deploy/rbac/leader-election.yaml names it).
const LEASE_NAME: &str = "imprimatur-controller";
/// A leader's term without renewal, in seconds: how long the controllers
/// stand still when a leader dies without releasing.
const LEASE_DURATION: u64 = 15;
/// How long before its term ends a leader renews, in seconds.
const LEASE_GRACE: u64 = 5;

/// The scan Jobs' settings from the environment.
fn scan_job_config() -> anyhow::Result<ScanJobConfig> {
    let image = std::env::var("IMPRIMATUR_SCANNER_IMAGE").map_err(|_| {
        anyhow::anyhow!("IMPRIMATUR_SCANNER_IMAGE is not set: the image scan Jobs run")
    })?;
    let mut config = ScanJobConfig::new(image);
    config.image_pull_secret = std::env::var("IMPRIMATUR_SCANNER_PULL_SECRET").ok();
    config.registry_auth_secret = std::env::var("IMPRIMATUR_REGISTRY_AUTH_SECRET").ok();
    config.registry_ca_config_map = std::env::var("IMPRIMATUR_REGISTRY_CA_CONFIGMAP").ok();
    Ok(config)
}

/// The context of the controllers, from the environment; `openshift`: use
/// the image API (`openshift.rs`).
fn context(client: Client, openshift: bool) -> anyhow::Result<Context> {
    let registries_d = std::env::var_os("IMPRIMATUR_REGISTRIES_D")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.d"));
    let registries = if registries_d.is_dir() {
        imprimatur::registry::files::load_registries_dir(&registries_d)?
    } else {
        imprimatur::policy::RegistriesConfig::default()
    };
    // The built-in default lookaside is refused (require_configured_store):
    // it would be a directory in this container, which no node reads.
    let mut pipeline = Pipeline::new(RegistryClient::builder().build()?)
        .registries(
            registries,
            imprimatur::policy::default_lookaside(false, "/tmp"),
        )
        .require_configured_store(true)
        .allowed_store_overrides(allowed_lookasides()?);
    if openshift {
        let streams = openshift::ClusterImageStreams::new(client.clone());
        pipeline = pipeline.image_streams(Arc::new(streams));
    }
    let mut ctx = Context::new(
        client,
        pipeline.clone(),
        scan_job_config()?,
        scanning::pipeline_resolver(pipeline),
        std::env::var("POD_NAME").ok(),
    );
    ctx.openshift = openshift;
    ctx.concurrency = concurrency()?;
    Ok(ctx)
}

/// `IMPRIMATUR_ALLOWED_LOOKASIDES`: the URL prefixes a request's
/// `spec.store.lookaside` may name, comma-separated; unset or empty, no
/// request may choose its store (requesters are not trusted to choose
/// where this process writes).
fn allowed_lookasides() -> anyhow::Result<Vec<url::Url>> {
    let value = std::env::var("IMPRIMATUR_ALLOWED_LOOKASIDES").unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            url::Url::parse(p)
                .map_err(|e| anyhow::anyhow!("IMPRIMATUR_ALLOWED_LOOKASIDES: {p:?}: {e}"))
        })
        .collect()
}

/// `IMPRIMATUR_CONCURRENCY`: how many requests of each kind are reconciled
/// at once (1 to 1000; default 64).
fn concurrency() -> anyhow::Result<u16> {
    let Ok(value) = std::env::var("IMPRIMATUR_CONCURRENCY") else {
        return Ok(reconcile::DEFAULT_CONCURRENCY);
    };
    match value.parse::<u16>() {
        Ok(n @ 1..=1000) => Ok(n),
        _ => anyhow::bail!(
            "IMPRIMATUR_CONCURRENCY={value:?}: expected a whole number from 1 to 1000 \
             (how many requests of each kind are reconciled at once)"
        ),
    }
}

/// The Lease this replica runs for: `imprimatur-controller` in
/// `POD_NAMESPACE`, identity `POD_NAME` (both from the downward API in
/// deploy/controller/deployment.yaml); `None` when
/// `IMPRIMATUR_LEADER_ELECTION=off` (one replica run by hand).
fn lease_settings() -> anyhow::Result<Option<LeaseSettings>> {
    if std::env::var("IMPRIMATUR_LEADER_ELECTION").is_ok_and(|v| v == "off") {
        return Ok(None);
    }
    let var = |name: &str| {
        std::env::var(name).map_err(|_| {
            anyhow::anyhow!(
                "{name} is not set: leader election needs POD_NAMESPACE and POD_NAME \
                 (or IMPRIMATUR_LEADER_ELECTION=off for a single replica)"
            )
        })
    };
    Ok(Some(LeaseSettings {
        name: LEASE_NAME.into(),
        namespace: var("POD_NAMESPACE")?,
        identity: var("POD_NAME")?,
        duration: LEASE_DURATION,
        grace: LEASE_GRACE,
    }))
}

/// Sets `stop` on SIGTERM (the kubelet stopping the pod) or SIGINT.
async fn forward_signals(stop: watch::Sender<bool>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    log::info("shutting down", serde_json::json!({}));
    let _ = stop.send(true);
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let mode = openshift::Mode::parse(std::env::var("IMPRIMATUR_OPENSHIFT").ok().as_deref())?;
    let openshift = openshift::enabled(&client, mode).await?;
    let ctx = Arc::new(context(client.clone(), openshift)?);
    let lease = lease_settings()?;
    let health = Arc::new(Health::new(ctx.metrics.clone()));
    let listen = std::env::var("IMPRIMATUR_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    tokio::spawn(health::serve(listener, health.clone()));
    let (stop_tx, stop) = watch::channel(false);
    let signals = forward_signals(stop_tx);
    tokio::spawn(async move {
        if let Err(e) = signals.await {
            log::error(
                "signal handling",
                serde_json::json!({"error": e.to_string()}),
            );
        }
    });
    match lease {
        Some(settings) => {
            let leadership = leader::join(client, settings).await?;
            controllers::lead(ctx, health, leadership, stop).await?;
        }
        None => controllers::run(ctx, health, stop).await,
    }
    Ok(())
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log::error(
                "starting the runtime",
                serde_json::json!({"error": e.to_string()}),
            );
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format!("{e:#}"), serde_json::json!({}));
            ExitCode::from(2)
        }
    }
}
