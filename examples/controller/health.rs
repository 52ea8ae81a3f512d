//! The controller's HTTP endpoints (port 8080 by default):
//!
//! - `GET /healthz`: liveness, 200 while the process serves requests (a
//!   wedged runtime stops answering and the kubelet restarts the pod);
//! - `GET /readyz`: readiness, 200 when this replica is of use: a follower
//!   waiting for the Lease (ready to take over, so rolling updates proceed),
//!   or the leader once its controllers' caches have synced; 503 before
//!   that and while shutting down;
//! - `GET /metrics`: the Prometheus metrics (`metrics.rs`), OpenMetrics text.
//!
//! A minimal HTTP/1.1 responder over Tokio, not a web framework: three
//! fixed GET routes, one response per connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

/// The most of a request read (the request line is all that matters).
const MAX_REQUEST: usize = 4096;

/// What the endpoints report.
pub(crate) struct Health {
    ready: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Health {
    /// Not ready yet, serving `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Health {
            ready: AtomicBool::new(false),
            metrics,
        }
    }

    /// Sets what `/readyz` answers.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Answers connections on `listener` until it fails.
pub(crate) async fn serve(listener: TcpListener, health: Arc<Health>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let health = health.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &health).await {
                crate::log::warn(
                    "health endpoint",
                    serde_json::json!({"error": e.to_string()}),
                );
            }
        });
    }
}

async fn answer(mut stream: TcpStream, health: &Health) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let path = head
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next());
    let response = match path {
        Some("/healthz") => respond("200 OK", "text/plain", "ok\n"),
        Some("/readyz") if health.is_ready() => respond("200 OK", "text/plain", "ok\n"),
        Some("/readyz") => respond("503 Service Unavailable", "text/plain", "not ready\n"),
        Some("/metrics") => match health.metrics.encode() {
            Ok(text) => respond(
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                &text,
            ),
            Err(_) => respond(
                "500 Internal Server Error",
                "text/plain",
                "encoding failed\n",
            ),
        },
        _ => respond("404 Not Found", "text/plain", ""),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The request up to its first line break (or [`MAX_REQUEST`] bytes).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'\n') && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn respond(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }

    async fn server() -> (std::net::SocketAddr, Arc<Health>, Arc<Metrics>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(Health::new(metrics.clone()));
        tokio::spawn(serve(listener, health.clone()));
        (addr, health, metrics)
    }

    #[tokio::test]
    async fn readyz_follows_readiness_and_healthz_always_answers() {
        let (addr, health, _) = server().await;
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200 "));
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503 "));
        health.set_ready(true);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200 "));
        health.set_ready(false);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503 "));
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404 "));
    }

    /// Scraping `/metrics` shows the counters move.
    #[tokio::test]
    async fn metrics_are_scraped_and_move() {
        let (addr, _, metrics) = server().await;
        let counter = "imprimatur_reconciles_total{kind=\"ImageScanningRequest\",result=\"error\"}";
        let before = get(addr, "/metrics").await;
        assert!(before.starts_with("HTTP/1.1 200 "), "{before}");
        assert!(before.contains("application/openmetrics-text"), "{before}");
        assert!(!before.contains(counter), "{before}");
        for _ in 0..2 {
            let _: Result<(), ()> = metrics
                .measure("ImageScanningRequest", async { Err(()) })
                .await;
        }
        metrics.signature(true);
        let after = get(addr, "/metrics").await;
        assert!(after.contains(&format!("{counter} 2\n")), "{after}");
        assert!(
            after.contains("imprimatur_signatures_total{result=\"created\"} 1\n"),
            "{after}"
        );
        assert!(after.trim_end().ends_with("# EOF"), "{after}");
    }
}
