//! `imprimatur-controller`: the Kubernetes controller for
//! `ImageScanningRequest` and `ImageSigningRequest` (`cop.redhat.com/v1alpha2`),
//! a start. It watches both kinds in every namespace it may list. A scanning
//! request is scanned by a Job (`scanning.rs`) whose verified result becomes
//! its status; a signing request runs the service pipeline in process. Every
//! status is written by server-side apply (field manager `imprimatur`).
//! `/healthz` and `/readyz` answer on port 8080.
//!
//! A signing request signs with the keys of the Secret its
//! `signingKeySecretName` names, in its own namespace (`keys.rs`).
//!
//! Not yet: scans of signing requests as Jobs (`requireScan` scans in this
//! process), events, leader election, metrics, signing on push. See the
//! controller issue.
//!
//! Environment: `IMPRIMATUR_SCANNER_IMAGE` (the image scan Jobs run, with
//! `imprimatur` and OpenSCAP; required), `IMPRIMATUR_SCANNER_PULL_SECRET`
//! (a Secret the kubelet pulls it with), `IMPRIMATUR_REGISTRY_AUTH_SECRET` (a
//! `dockerconfigjson` Secret, in each request's namespace, mounted for the
//! scan's own pull), `IMPRIMATUR_REGISTRIES_D` (default
//! `/etc/containers/registries.d`), `IMPRIMATUR_LISTEN` (default
//! `0.0.0.0:8080`).

mod events;
mod keys;
mod reconcile;
mod scanning;
#[cfg(test)]
mod testing;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use futures_util::StreamExt as _;
use imprimatur::registry::RegistryClient;
use imprimatur::service::Pipeline;
use imprimatur::service::crd::{ImageScanningRequest, ImageSigningRequest};
use imprimatur::service::scan_job::{MANAGED_BY, MANAGED_BY_LABEL, ScanJobConfig};
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use reconcile::{Context, error_policy, reconcile};

/// Answers `GET /healthz` and `GET /readyz` with 200, anything else 404.
async fn serve_health(listen: String) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let ok = head.starts_with("GET /healthz ") || head.starts_with("GET /readyz ");
            let response: &[u8] = if ok {
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"
            } else {
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let _ = stream.write_all(response).await;
        });
    }
}

/// The scan Jobs' settings from the environment.
fn scan_job_config() -> anyhow::Result<ScanJobConfig> {
    let image = std::env::var("IMPRIMATUR_SCANNER_IMAGE").map_err(|_| {
        anyhow::anyhow!("IMPRIMATUR_SCANNER_IMAGE is not set: the image scan Jobs run")
    })?;
    let mut config = ScanJobConfig::new(image);
    config.image_pull_secret = std::env::var("IMPRIMATUR_SCANNER_PULL_SECRET").ok();
    config.registry_auth_secret = std::env::var("IMPRIMATUR_REGISTRY_AUTH_SECRET").ok();
    Ok(config)
}

async fn run() -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let registries_d = std::env::var_os("IMPRIMATUR_REGISTRIES_D")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.d"));
    let registries = if registries_d.is_dir() {
        imprimatur::registry::files::load_registries_dir(&registries_d)?
    } else {
        imprimatur::policy::RegistriesConfig::default()
    };
    let pipeline = Pipeline::new(RegistryClient::builder().build()?).registries(
        registries,
        imprimatur::policy::default_lookaside(false, "/tmp"),
    );
    let ctx = Arc::new(Context::new(
        client.clone(),
        pipeline.clone(),
        scan_job_config()?,
        scanning::pipeline_resolver(pipeline),
        std::env::var("POD_NAME").ok(),
    ));
    let listen = std::env::var("IMPRIMATUR_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".into());
    tokio::spawn(async move {
        if let Err(e) = serve_health(listen).await {
            eprintln!("imprimatur-controller: health server: {e}");
        }
    });

    let scans = Controller::new(
        Api::<ImageScanningRequest>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<Job>::all(client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")),
    )
    .shutdown_on_signal()
    .run(scanning::reconcile_scanning, error_policy, ctx.clone())
    .for_each(|r| async move {
        if let Err(e) = r {
            eprintln!("imprimatur-controller: ImageScanningRequest: {e}");
        }
    });
    let signs = Controller::new(
        Api::<ImageSigningRequest>::all(client),
        watcher::Config::default(),
    )
    .shutdown_on_signal()
    .run(reconcile, error_policy, ctx)
    .for_each(|r| async move {
        if let Err(e) = r {
            eprintln!("imprimatur-controller: ImageSigningRequest: {e}");
        }
    });
    tokio::join!(scans, signs);
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
            eprintln!("imprimatur-controller: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imprimatur-controller: {e:#}");
            ExitCode::from(2)
        }
    }
}
