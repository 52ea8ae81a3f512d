//! Images where they live: `imprimatur inspect` and `imprimatur unpack`
//! against a real `docker-registry` on loopback (plain HTTP, basic auth, TLS
//! with a test CA), compared with what skopeo reports and what `umoci unpack`
//! makes of the same image, and through a fault-injecting proxy.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::peers::{
    OciLayout, Registry, RegistrySetup, Scratch, as_non_root, imprimatur_for_any_user,
    non_root_dir, require_tools, run, run_ok,
};
use crate::util::{free_port, imprimatur};

fn tools() -> bool {
    require_tools(&[
        "skopeo",
        "umoci",
        "docker-registry",
        "openssl",
        "htpasswd",
        "curl",
        "python3",
    ])
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn skopeo_inspect(args: &[&str], image: &str) -> Value {
    let out = run_ok(Command::new("skopeo").arg("inspect").args(args).arg(image));
    json_of(&out)
}

// ---------------------------------------------------------------------------
// Plain HTTP: digests, layers and platforms as skopeo sees them.

#[test]
fn inspect_matches_skopeo_for_oci_and_schema2_manifests() {
    if !tools() {
        return;
    }
    let registry = Registry::start();
    let layout = OciLayout::build(&["v1"]);
    let host = registry.host();
    layout.push("v1", &format!("{host}/app/oci:v1"));
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--insecure-policy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &layout.image("v1"),
        &format!("docker://{host}/app/v2s2:v1"),
    ]));
    for (repo, media_type) in [
        ("app/oci", "application/vnd.oci.image.manifest.v1+json"),
        (
            "app/v2s2",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
    ] {
        let image = format!("docker://{host}/{repo}:v1");
        let theirs = skopeo_inspect(&["--tls-verify=false"], &image);
        let ours = json_of(&run_ok(imprimatur().args([
            "inspect",
            "--json",
            "--tls-verify=false",
            &image,
        ])));
        for field in ["Name", "Digest", "Layers", "Architecture", "Os", "Created"] {
            assert_eq!(ours[field], theirs[field], "{repo}: field {field}");
        }
        assert_eq!(ours["MediaType"], media_type, "{repo}");
        assert_eq!(ours["ImageDigest"], ours["Digest"], "{repo}");
    }
    // The layout itself, read directly: the same digest as the pushed OCI image.
    let local = json_of(&run_ok(imprimatur().args([
        "inspect",
        "--json",
        &layout.image("v1"),
    ])));
    let pushed = skopeo_inspect(
        &["--tls-verify=false"],
        &format!("docker://{host}/app/oci:v1"),
    );
    assert_eq!(local["Digest"], pushed["Digest"]);
    assert_eq!(local["Name"], "");
}

#[test]
fn plain_http_needs_tls_verify_false() {
    if !tools() {
        return;
    }
    let registry = Registry::start();
    let layout = OciLayout::build(&["v1"]);
    layout.push("v1", &format!("{}/app/x:v1", registry.host()));
    let out =
        run(imprimatur().args(["inspect", &format!("docker://{}/app/x:v1", registry.host())]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&registry.host()) && err.contains("TLS"),
        "{err}"
    );
}

#[test]
fn missing_tag_and_repository_are_named() {
    if !tools() {
        return;
    }
    let registry = Registry::start();
    let layout = OciLayout::build(&["v1"]);
    layout.push("v1", &format!("{}/app/x:v1", registry.host()));
    let out = run(imprimatur().args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/app/x:nope", registry.host()),
    ]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("manifest unknown") && err.contains("app/x") && err.contains("nope"),
        "{err}"
    );
}

/// Writes an image index into `layout` pointing at the manifests of `tags`
/// with the given platforms, tagged `name`; returns the index digest.
fn add_index(layout: &Path, entries: &[(&str, &str)], name: &str) -> String {
    let index_path = layout.join("index.json");
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("index.json")).expect("json");
    let by_tag = |tag: &str| -> Value {
        index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .cloned()
            .unwrap_or_else(|| panic!("tag {tag}"))
    };
    let manifests: Vec<Value> = entries
        .iter()
        .map(|(tag, platform)| {
            let d = by_tag(tag);
            let (os, arch) = platform.split_once('/').expect("os/arch");
            serde_json::json!({
                "mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"],
                "platform": {"os": os, "architecture": arch}
            })
        })
        .collect();
    let doc = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .expect("serialize");
    let digest = imprimatur::reference::Digest::sha256_of(&doc);
    std::fs::write(layout.join("blobs/sha256").join(digest.hex()), &doc).expect("write index blob");
    index["manifests"]
        .as_array_mut()
        .expect("manifests")
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest.to_string(), "size": doc.len(),
            "annotations": {"org.opencontainers.image.ref.name": name}
        }));
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("json"))
        .expect("write index.json");
    digest.to_string()
}

#[test]
fn image_index_resolves_to_the_index_digest_and_selects_a_platform() {
    if !tools() {
        return;
    }
    let registry = Registry::start();
    let layout = OciLayout::build(&["amd", "arm"]);
    let index_digest = add_index(
        &layout.path(),
        &[("amd", "linux/amd64"), ("arm", "linux/arm64")],
        "multi",
    );
    let dest = format!("docker://{}/app/multi:1", registry.host());
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        "--insecure-policy",
        "--dest-tls-verify=false",
        &layout.image("multi"),
        &dest,
    ]));
    let raw =
        run_ok(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &dest]))
            .stdout;
    let scratch = Scratch::new();
    let raw_path = scratch.write("index.json", &raw);
    assert_eq!(crate::peers::manifest_digest(&raw_path), index_digest);

    let ours = json_of(&run_ok(imprimatur().args([
        "inspect",
        "--json",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &dest,
    ])));
    assert_eq!(
        ours["Digest"],
        index_digest.as_str(),
        "what is signed is the index digest"
    );
    assert_eq!(
        ours["Platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    let arm = skopeo_inspect(&["--tls-verify=false", "--override-arch", "arm64"], &dest);
    let amd = skopeo_inspect(&["--tls-verify=false", "--override-arch", "amd64"], &dest);
    assert_eq!(ours["Layers"], arm["Layers"]);
    assert_ne!(arm["Layers"], amd["Layers"]);

    // Unpacking picks the platform's image: its /etc/motd names the tag.
    let root = scratch.path("arm-root");
    run_ok(
        imprimatur()
            .args([
                "unpack",
                "--tls-verify=false",
                "--platform",
                "linux/arm64",
                &dest,
            ])
            .arg(&root),
    );
    let motd = std::fs::read_to_string(root.join("etc/motd")).expect("motd");
    assert!(motd.contains("test arm "), "{motd}");
    let out = run(imprimatur().args([
        "inspect",
        "--tls-verify=false",
        "--platform",
        "linux/s390x",
        &dest,
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no image for platform linux/s390x"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// Basic auth and TLS.

#[test]
fn basic_auth_with_creds_and_authfile() {
    if !tools() {
        return;
    }
    let scratch = Scratch::new();
    let htpasswd = run_ok(Command::new("htpasswd").args(["-Bbn", "alice", "s3cret"])).stdout;
    let htpasswd = scratch.write("htpasswd", htpasswd);
    let registry = Registry::start_with(&RegistrySetup {
        htpasswd: Some(htpasswd),
        tls: None,
    });
    let layout = OciLayout::build(&["v1"]);
    let dest = format!("docker://{}/team/app:v1", registry.host());
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--insecure-policy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:s3cret",
        &layout.image("v1"),
        &dest,
    ]));
    let digest =
        skopeo_inspect(&["--tls-verify=false", "--creds", "alice:s3cret"], &dest)["Digest"].clone();

    // No credentials: refused, with the realm named. The empty auth file
    // keeps the developer's own credentials out of the test.
    let empty = scratch.write("empty.json", "{}");
    let out = run(imprimatur()
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(&empty)
        .arg(&dest));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unauthorized") && err.contains("basic-realm") && err.contains("team/app"),
        "{err}"
    );

    let out = run(imprimatur().args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        "alice:wrong",
        &dest,
    ]));
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));

    let ours = json_of(&run_ok(imprimatur().args([
        "inspect",
        "--json",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &dest,
    ])));
    assert_eq!(ours["Digest"], digest);

    // auth.json, the key scoped to the repository's namespace.
    let auth = scratch.write(
        "auth.json",
        format!(
            r#"{{"auths":{{"{}/team":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#,
            registry.host()
        ),
    );
    let ours = json_of(&run_ok(
        imprimatur()
            .args(["inspect", "--json", "--tls-verify=false", "--authfile"])
            .arg(&auth)
            .arg(&dest),
    ));
    assert_eq!(ours["Digest"], digest);
    // ... and found through $REGISTRY_AUTH_FILE.
    let out = run_ok(imprimatur().env("REGISTRY_AUTH_FILE", &auth).args([
        "inspect",
        "--json",
        "--tls-verify=false",
        &dest,
    ]));
    assert_eq!(json_of(&out)["Digest"], digest);
}

#[test]
fn tls_with_a_test_ca_needs_cert_dir() {
    if !tools() {
        return;
    }
    let scratch = Scratch::new();
    let (ca, cert, key) = crate::peers::make_ca(&scratch);
    let certs = scratch.path("certs");
    std::fs::create_dir_all(&certs).expect("certs");
    std::fs::copy(&ca, certs.join("ca.crt")).expect("copy ca");
    let registry = Registry::start_with(&RegistrySetup {
        htpasswd: None,
        tls: Some((cert, key)),
    });
    let layout = OciLayout::build(&["v1"]);
    let dest = format!("docker://{}/secure/app:v1", registry.host());
    run_ok(
        Command::new("skopeo")
            .arg("copy")
            .args(["-q", "--insecure-policy", "--dest-cert-dir"])
            .arg(&certs)
            .arg(layout.image("v1"))
            .arg(&dest),
    );
    let theirs = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--cert-dir"])
            .arg(&certs)
            .arg(&dest),
    );
    let digest = json_of(&theirs)["Digest"].clone();

    let ours = json_of(&run_ok(
        imprimatur()
            .args(["inspect", "--json", "--cert-dir"])
            .arg(&certs)
            .arg(&dest),
    ));
    assert_eq!(ours["Digest"], digest);

    // Without the CA the certificate is unknown: a TLS error naming the registry.
    let out = run(imprimatur().args(["inspect", &dest]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("TLS") && err.contains(&registry.host()),
        "{err}"
    );
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // --tls-verify=false accepts it (and still speaks TLS).
    let ours = json_of(&run_ok(imprimatur().args([
        "inspect",
        "--json",
        "--tls-verify=false",
        &dest,
    ])));
    assert_eq!(ours["Digest"], digest);

    let unpacked = scratch.path("root");
    run_ok(
        imprimatur()
            .args(["unpack", "--cert-dir"])
            .arg(&certs)
            .arg(&dest)
            .arg(&unpacked),
    );
    assert!(unpacked.join("etc/motd").is_file());
}

// ---------------------------------------------------------------------------
// Unpacking: the same tree umoci makes.

/// One entry of a tree, as compared with umoci's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    content: String,
    link: String,
    /// For regular files: the sorted relative paths sharing this inode.
    hardlinks: Vec<String>,
}

/// Walks `root` without following symlinks: relative path -> entry.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir") {
            let path = e.expect("entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("prefix")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let ft = meta.file_type();
            let (kind, content, link) = if ft.is_symlink() {
                (
                    "symlink",
                    String::new(),
                    std::fs::read_link(&path)
                        .expect("readlink")
                        .display()
                        .to_string(),
                )
            } else if ft.is_dir() {
                stack.push(path.clone());
                ("dir", String::new(), String::new())
            } else if ft.is_file() {
                let data = std::fs::read(&path).expect("read");
                inodes.entry(meta.ino()).or_default().push(rel.clone());
                (
                    "file",
                    imprimatur::reference::Digest::sha256_of(&data).to_string(),
                    String::new(),
                )
            } else {
                ("other", String::new(), String::new())
            };
            let size = if ft.is_file() { meta.len() } else { 0 };
            out.insert(
                rel,
                Entry {
                    kind,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    size,
                    content,
                    link,
                    hardlinks: Vec::new(),
                },
            );
        }
    }
    for names in inodes.values().filter(|n| n.len() > 1) {
        let mut sorted = names.clone();
        sorted.sort();
        for n in names {
            if let Some(e) = out.get_mut(n) {
                e.hardlinks = sorted.clone();
            }
        }
    }
    out
}

fn assert_same_tree(ours: &Path, theirs: &Path) {
    let a = tree(ours);
    let b = tree(theirs);
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "only ours: {only_a:?}\nonly umoci's: {only_b:?}"
    );
    for (path, entry) in &a {
        assert_eq!(Some(entry), b.get(path), "entry {path}");
    }
    assert!(a.len() > 5, "trees too small to mean anything: {a:?}");
}

/// A three-layer image built with umoci: files of several modes and owners,
/// symlinks, hardlinks, then deletions (whiteouts), a directory replaced by
/// a file, and a directory emptied and refilled.
fn multi_layer_layout(scratch: &Scratch) -> PathBuf {
    let work = scratch.path("build");
    std::fs::create_dir_all(&work).expect("build dir");
    let umoci = |args: &[&str]| run_ok(Command::new("umoci").current_dir(&work).args(args));
    // Each step unpacks the previous tag into a fresh bundle, changes it and
    // repacks: one new layer per step.
    let step = |from: &str, to: &str, script: &str| {
        let bundle = format!("bundle-{to}");
        umoci(&["unpack", "--image", &format!("oci:{from}"), &bundle]);
        run_ok(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(work.join(&bundle).join("rootfs")),
        );
        umoci(&["repack", "--image", &format!("oci:{to}"), &bundle]);
    };
    umoci(&["init", "--layout", "oci"]);
    umoci(&["new", "--image", "oci:base"]);
    step(
        "base",
        "l1",
        "mkdir -p etc usr/bin var/lib/app opt/data/sub home/user && \
         echo hello > etc/motd && printf 'secret' > etc/shadow && chmod 0600 etc/shadow && \
         printf '#!/bin/sh\\necho hi\\n' > usr/bin/tool && chmod 4755 usr/bin/tool && \
         ln usr/bin/tool usr/bin/tool-hard && ln -s ../etc/motd usr/motd-link && ln -s /etc/shadow abs-link && \
         echo data > opt/data/sub/file && echo gone > var/lib/app/old && \
         head -c 300000 /dev/urandom > var/lib/app/blob && chown 1000:1000 home/user && \
         echo mine > home/user/notes && chown 1000:100 home/user/notes && chmod 1777 var/lib/app",
    );
    step(
        "l1",
        "l2",
        "rm var/lib/app/old etc/motd && rm -rf opt/data && echo newdata > opt/data-file && \
         echo changed > usr/bin/tool-hard && mkdir -p etc/motd.d && echo x > etc/motd.d/10",
    );
    step(
        "l2",
        "t",
        "rm -rf var/lib/app && mkdir -p var/lib/app && echo fresh > var/lib/app/new && \
         rm abs-link && ln -s motd.d etc/motd",
    );
    work.join("oci")
}

#[test]
fn unpack_from_registry_matches_umoci_unpack() {
    if !tools() {
        return;
    }
    // Owners are kept only as root; both sides run as the same user.
    let scratch = Scratch::new();
    let layout = multi_layer_layout(&scratch);
    let registry = Registry::start();
    let dest = format!("docker://{}/multi/layer:t", registry.host());
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--insecure-policy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:t", layout.display()))
            .arg(&dest),
    );

    let ours = scratch.path("ours");
    let out = run_ok(
        imprimatur()
            .args(["unpack", "--json", "--tls-verify=false", &dest])
            .arg(&ours),
    );
    let report = json_of(&out);
    assert_eq!(
        report["layers"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );

    // The reference: skopeo pulls into a layout, umoci unpacks it.
    let pulled = scratch.path("pulled");
    run_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--src-tls-verify=false",
                &dest,
            ])
            .arg(format!("oci:{}:t", pulled.display())),
    );
    let bundle = scratch.path("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:t", pulled.display()))
            .arg(&bundle),
    );
    assert_same_tree(&ours, &bundle.join("rootfs"));

    // The same image as a Docker schema 2 manifest (gzip layers): the same tree.
    let v2s2 = format!("docker://{}/multi/layer-v2s2:t", registry.host());
    run_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--dest-tls-verify=false",
                "--format",
                "v2s2",
            ])
            .arg(format!("oci:{}:t", layout.display()))
            .arg(&v2s2),
    );
    let docker = scratch.path("docker");
    run_ok(
        imprimatur()
            .args(["unpack", "--tls-verify=false", &v2s2])
            .arg(&docker),
    );
    assert_same_tree(&docker, &bundle.join("rootfs"));

    // The layout directly, and the same tree again.
    let direct = scratch.path("direct");
    run_ok(
        imprimatur()
            .arg("unpack")
            .arg(format!("oci:{}:t", layout.display()))
            .arg(&direct),
    );
    assert_same_tree(&direct, &bundle.join("rootfs"));
}

/// What `find` prints of every entry below `dir` but device nodes: path,
/// owner, group, mode (setuid, setgid, sticky included) and type, sorted;
/// run under `fakeroot -i DB` when `fakeroot_db` is given.
fn owners_listing(dir: &Path, fakeroot_db: Option<&Path>) -> Vec<String> {
    let mut cmd = match fakeroot_db {
        Some(db) => {
            let mut c = Command::new("fakeroot");
            c.arg("-i").arg(db).arg("--").arg("find");
            c
        }
        None => Command::new("find"),
    };
    let out = run_ok(
        cmd.args([
            ".",
            "-mindepth",
            "1",
            "-not",
            "-type",
            "b",
            "-not",
            "-type",
            "c",
        ])
        .args(["-printf", "%P %U:%G %#m %y\\n"])
        .current_dir(dir),
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// As a user who cannot `chown` (uid 65534, no capabilities), `unpack
/// --owners-db` records the owners of a real Debian image, and `fakeroot -i`
/// shows the tree exactly as `umoci unpack` as root made it (device nodes
/// aside: they are never made as non-root).
#[test]
fn unpack_as_non_root_records_owners_that_fakeroot_shows_as_umoci_made_them() {
    if !tools() || !require_tools(&["fakeroot", "setpriv", "debootstrap"]) {
        return;
    }
    let scratch = Scratch::new();
    // A copy of the layout the non-root user may read (the cached one is
    // root's, 0600).
    let layout = scratch.path("layout");
    run_ok(
        Command::new("cp")
            .arg("-r")
            .arg(crate::peers::debian_layout())
            .arg(&layout),
    );
    run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&layout));
    let exe = imprimatur_for_any_user(&scratch);
    let home = non_root_dir(&scratch, "nobody");
    let ours = home.join("rootfs");
    let db = home.join("owners.db");
    run_ok(
        Command::new("setpriv")
            .args(as_non_root())
            .env("HOME", &home)
            .arg(&exe)
            .arg("unpack")
            .arg("--owners-db")
            .arg(&db)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(&ours),
    );
    let bundle = scratch.path("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle),
    );
    let reference = owners_listing(&bundle.join("rootfs"), None);
    assert!(
        reference.iter().any(|l| l.starts_with("etc/shadow 0:42 ")),
        "shadow belongs to group shadow in the image: {reference:?}"
    );
    // As unpacked, every file is the non-root user's...
    let unpacked = owners_listing(&ours, None);
    assert!(
        unpacked.iter().all(|l| l.contains(" 65534:65534 ")),
        "{unpacked:?}"
    );
    // ...and through the recorded owners, the image's.
    assert_eq!(owners_listing(&ours, Some(&db)), reference);
}

#[test]
fn unpack_refuses_an_existing_dir_and_a_missing_parent() {
    if !tools() {
        return;
    }
    let layout = OciLayout::build(&["v1"]);
    let scratch = Scratch::new();
    let existing = scratch.path("exists");
    std::fs::create_dir(&existing).expect("mkdir");
    let out = run(imprimatur()
        .arg("unpack")
        .arg(layout.image("v1"))
        .arg(&existing));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
    let out = run(imprimatur()
        .arg("unpack")
        .arg(layout.image("v1"))
        .arg(scratch.path("no/such/parent")));
    assert_eq!(out.status.code(), Some(1));
    assert!(!scratch.path("no").exists());
}

// ---------------------------------------------------------------------------
// Faults: a proxy between us and the registry.

struct FaultProxy {
    child: Child,
    port: u16,
}

impl FaultProxy {
    fn start(upstream: u16, mode: &str, matching: &str, times: i32) -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/doubles/fault_proxy.py");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("python3")
                .arg(&script)
                .args([
                    "--listen",
                    &port.to_string(),
                    "--upstream",
                    &upstream.to_string(),
                ])
                .args([
                    "--mode",
                    mode,
                    "--match",
                    matching,
                    "--times",
                    &times.to_string(),
                    "--stall",
                    "3",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start fault proxy");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            if line.trim() == "ready" {
                return FaultProxy { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("fault proxy did not start");
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registry holding a two-layer image with a 2 MB layer, its manifest
/// digest and its reference through a proxy in `mode`.
fn faulty(mode: &str, matching: &str, times: i32) -> (Registry, FaultProxy, OciLayout, String) {
    let registry = Registry::start();
    let layout = OciLayout::build(&["v1"]);
    layout.push("v1", &format!("{}/fault/app:v1", registry.host()));
    let proxy = FaultProxy::start(registry.port(), mode, matching, times);
    let image = format!("docker://127.0.0.1:{}/fault/app:v1", proxy.port);
    (registry, proxy, layout, image)
}

fn unpack_through(image: &str, extra: &[&str]) -> (std::process::Output, Scratch, PathBuf) {
    let scratch = Scratch::new();
    let root = scratch.path("root");
    let out = run(imprimatur()
        .args(["unpack", "--tls-verify=false"])
        .args(extra)
        .arg(image)
        .arg(&root));
    (out, scratch, root)
}

fn assert_nothing_left(scratch: &Scratch) {
    let left: Vec<_> = std::fs::read_dir(scratch.path(""))
        .expect("scratch")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn transient_5xx_on_manifests_and_blobs_are_retried() {
    if !tools() {
        return;
    }
    for matching in ["/manifests/", "/blobs/"] {
        let (_r, _p, _l, image) = faulty("503", matching, 2);
        let (out, _s, root) = unpack_through(&image, &[]);
        assert!(out.status.success(), "{matching}: {}", stderr(&out));
        assert!(root.join("etc/motd").is_file());
    }
}

#[test]
fn persistent_5xx_fails_clearly_and_leaves_nothing() {
    if !tools() {
        return;
    }
    let (_r, _p, _l, image) = faulty("503", "/blobs/", -1);
    let (out, scratch, _) = unpack_through(&image, &["--retry-times", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 503") && err.contains("fault/app") && err.contains("GET blob"),
        "{err}"
    );
    assert_nothing_left(&scratch);
}

#[test]
fn reset_truncated_and_stalled_bodies_are_resumed() {
    if !tools() {
        return;
    }
    for mode in ["reset", "truncate", "slow"] {
        let (_r, _p, layout, image) = faulty(mode, "/blobs/", 1);
        let (out, _s, root) = unpack_through(&image, &["--read-timeout", "1"]);
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        // The same tree as unpacking the layout directly.
        let direct = Scratch::new();
        run_ok(
            imprimatur()
                .arg("unpack")
                .arg(layout.image("v1"))
                .arg(direct.path("root")),
        );
        assert_eq!(tree(&root), tree(&direct.path("root")), "{mode}");
    }
}

#[test]
fn corrupted_blobs_fail_the_digest_check_and_leave_nothing() {
    if !tools() {
        return;
    }
    let (_r, _p, _l, image) = faulty("corrupt", "/blobs/", -1);
    let (out, scratch, _) = unpack_through(&image, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("digest mismatch"), "{}", stderr(&out));
    assert_nothing_left(&scratch);
}
