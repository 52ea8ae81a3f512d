//! Sigstore attachments against a real `docker-registry` on loopback:
//! create, append, skip identical, read back byte-exact, refuse what
//! containers/image refuses. Skipped without `docker-registry` unless `CI`
//! is set (then it fails).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imprimatur_reference::{Digest, Reference};
use imprimatur_registry::docker::{CredentialSource, RegistryClient};
use imprimatur_registry::sigstore::Attachments;
use imprimatur_sigstore::attachment::{self, OCI_MANIFEST_MEDIA_TYPE};
use imprimatur_sigstore::{PrivateKey, SigstorePayload, sign};

struct Registry {
    _dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_registry() -> Option<Registry> {
    let found = Command::new("sh")
        .args(["-c", "command -v docker-registry"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry is required in CI (scripts/deps.sh installs it)"
        );
        eprintln!("skipping: docker-registry not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    for _ in 0..5 {
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .expect("config");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Registry {
                    _dir: dir,
                    child,
                    port,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("docker-registry did not start");
}

fn client() -> RegistryClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    RegistryClient::builder()
        .credentials(CredentialSource::Anonymous)
        .dangerous_accept_any_certificate_and_plain_http()
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstore_attachments_append_skip_and_read_back() {
    let Some(registry) = start_registry() else {
        return;
    };
    let reference =
        Reference::parse_normalized(&format!("127.0.0.1:{}/ns/app:1", registry.port)).expect("ref");
    let client = client();
    let attachments = Attachments::new(&client, &reference);
    let image = Digest::sha256_of(b"an image manifest");
    assert!(attachments.list(&image).await.expect("list").is_empty());
    assert!(
        attachments
            .manifest(&image)
            .await
            .expect("manifest")
            .is_none()
    );

    let key = PrivateKey::generate().expect("key");
    let first = sign(&key, &SigstorePayload::for_image(&reference, &image, 1));
    let second = sign(&key, &SigstorePayload::for_image(&reference, &image, 2));

    let out = attachments
        .add(&image, std::slice::from_ref(&first))
        .await
        .expect("add");
    assert_eq!((out.added, out.already_present), (1, 0));
    assert_eq!(out.tag, format!("sha256-{}.sig", image.hex()));
    let out = attachments
        .add(&image, std::slice::from_ref(&first))
        .await
        .expect("add again");
    assert_eq!((out.added, out.already_present), (0, 1));
    let out = attachments
        .add(&image, &[first.clone(), second.clone()])
        .await
        .expect("append");
    assert_eq!((out.added, out.already_present), (1, 1));

    let listed = attachments.list(&image).await.expect("list");
    assert_eq!(listed, vec![first.clone(), second.clone()]);

    // Served as an OCI manifest, config diff_ids in layer order.
    let (bytes, media_type, _) = client
        .manifest(reference.domain(), reference.path(), &out.tag)
        .await
        .expect("raw manifest");
    assert_eq!(media_type, OCI_MANIFEST_MEDIA_TYPE);
    let parsed = attachment::AttachmentManifest::parse(&bytes).expect("parse");
    assert_eq!(
        parsed.to_json(),
        bytes.to_vec(),
        "we write what we would re-serialize"
    );
    assert_eq!(
        Some(parsed.to_json()),
        attachment::plan_append(None, &[first, second])
            .expect("plan")
            .manifest
    );

    // A non-OCI manifest under the tag is refused, as containers/image does.
    let docker_v2 = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},"layers":[]}}"#,
        parsed.config.size, parsed.config.digest
    );
    client
        .push_manifest(
            reference.domain(),
            reference.path(),
            &out.tag,
            "application/vnd.docker.distribution.manifest.v2+json",
            docker_v2.into_bytes().into(),
        )
        .await
        .expect("push docker manifest");
    let err = attachments.list(&image).await.expect_err("refused");
    assert!(
        err.to_string().contains("unsupported manifest media type"),
        "{err}"
    );
}
