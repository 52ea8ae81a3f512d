//! Real peers for the integration tests, started per test and stopped on drop:
//! a throwaway GnuPG home with generated keys, a `docker-registry` on a free
//! loopback port, and tiny OCI images built with `umoci` and pushed with
//! `skopeo`.
//!
//! Everything here shells out to the real tools; callers check them first
//! with [`crate::util::require_tool`] (see [`require_tools`]).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::util;

/// Checks every tool with [`util::require_tool`]; false (skip) if one is
/// missing outside CI.
pub(crate) fn require_tools(tools: &[&str]) -> bool {
    // Evaluate all of them so that a CI failure names the first missing one
    // and a local run prints every missing tool.
    let missing = tools.iter().filter(|t| !util::require_tool(t)).count();
    missing == 0
}

/// Runs `cmd`, panicking with its stdout and stderr if it fails.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` and returns its output whatever the exit status.
pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The key algorithms the tests generate with gpg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpgAlgo {
    /// `rsa3072`
    Rsa3072,
    /// `ed25519`
    Ed25519,
}

impl GpgAlgo {
    fn as_gpg(self) -> &'static str {
        match self {
            GpgAlgo::Rsa3072 => "rsa3072",
            GpgAlgo::Ed25519 => "ed25519",
        }
    }
}

/// A throwaway `GNUPGHOME`. Its gpg-agent (started by gpg or by skopeo's
/// gpgme) is killed on drop with `gpgconf --kill all`, which only affects the
/// agent of this home.
#[derive(Debug)]
pub(crate) struct GpgHome {
    dir: TempDir,
}

impl GpgHome {
    /// Creates an empty home (mode 0700). The directory name is short: the
    /// agent's socket path must fit in `sun_path`.
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("imp-gpg.")
            .tempdir_in(short_tmp())
            .expect("create GNUPGHOME");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod 700 GNUPGHOME");
        }
        GpgHome { dir }
    }

    /// The home directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gpg --batch` with `GNUPGHOME` set to this home.
    pub(crate) fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.path()).arg("--batch");
        c
    }

    /// Any command with `GNUPGHOME` set to this home (e.g. `skopeo`).
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("GNUPGHOME", self.path());
        c
    }

    /// Generates a signing-only primary key (no subkeys) and returns its
    /// fingerprint (40 uppercase hex). With a passphrase the secret key is
    /// protected by it.
    pub(crate) fn gen_key(&self, userid: &str, algo: GpgAlgo, passphrase: Option<&str>) -> String {
        run_ok(
            self.gpg()
                .args(["--pinentry-mode", "loopback", "--passphrase"])
                .arg(passphrase.unwrap_or(""))
                .args(["--quick-gen-key", userid, algo.as_gpg(), "sign", "never"]),
        );
        let email = userid
            .split_once('<')
            .and_then(|(_, r)| r.strip_suffix('>'))
            .unwrap_or(userid);
        self.fingerprint_of(email)
    }

    /// The primary fingerprint of the (only) key matching `query`.
    pub(crate) fn fingerprint_of(&self, query: &str) -> String {
        let out = run_ok(self.gpg().args(["--with-colons", "--list-keys", query]));
        let text = String::from_utf8_lossy(&out.stdout);
        let fpr = text
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .unwrap_or_else(|| panic!("no fingerprint for {query} in:\n{text}"))
            .to_owned();
        assert!(fpr.bytes().all(|b| b.is_ascii_hexdigit()), "{fpr}");
        fpr
    }

    /// `gpg --export` (binary transferable public key).
    pub(crate) fn export_public(&self, fpr: &str) -> Vec<u8> {
        let out = run_ok(self.gpg().args(["--export", fpr]));
        assert!(!out.stdout.is_empty(), "empty export of {fpr}");
        out.stdout
    }

    /// `gpg --export --armor`.
    pub(crate) fn export_public_armored(&self, fpr: &str) -> Vec<u8> {
        let out = run_ok(self.gpg().args(["--export", "--armor", fpr]));
        assert!(!out.stdout.is_empty(), "empty export of {fpr}");
        out.stdout
    }

    /// `gpg --export-secret-keys --armor`; the key keeps its protection.
    pub(crate) fn export_secret_armored(&self, fpr: &str, passphrase: Option<&str>) -> Vec<u8> {
        let out = run_ok(
            self.gpg()
                .args(["--pinentry-mode", "loopback", "--passphrase"])
                .arg(passphrase.unwrap_or(""))
                .args(["--export-secret-keys", "--armor", fpr]),
        );
        assert!(!out.stdout.is_empty(), "empty secret export of {fpr}");
        out.stdout
    }

    /// Imports a key file (public or secret) into this home.
    pub(crate) fn import(&self, file: &Path) {
        run_ok(self.gpg().arg("--import").arg(file));
    }
}

impl Default for GpgHome {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.path())
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `/tmp` unless `TMPDIR` is set and short (socket paths are limited).
fn short_tmp() -> PathBuf {
    let t = std::env::temp_dir();
    if t.as_os_str().len() <= 40 {
        t
    } else {
        PathBuf::from("/tmp")
    }
}

/// A `docker-registry` (distribution 2.8) serving plain HTTP on
/// `127.0.0.1:<free port>`, with its storage in a temporary directory. Killed
/// on drop.
#[derive(Debug)]
pub(crate) struct Registry {
    dir: TempDir,
    child: Child,
    port: u16,
}

/// How a test registry is set up: plain HTTP (the default), basic auth from
/// an htpasswd file, TLS with a certificate and key.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistrySetup {
    /// A bcrypt htpasswd file: the registry then requires basic auth.
    pub(crate) htpasswd: Option<PathBuf>,
    /// Certificate and key (PEM): the registry then serves HTTPS.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
}

impl Registry {
    /// Starts a plain-HTTP registry and waits (up to 10 s) until `/v2/` answers 200.
    pub(crate) fn start() -> Self {
        Registry::start_with(&RegistrySetup::default())
    }

    /// Starts a registry set up as `setup` says and waits (up to 10 s) until
    /// `/v2/` answers (200, or 401 with auth).
    pub(crate) fn start_with(setup: &RegistrySetup) -> Self {
        Registry::start_inner(setup, None, None)
    }

    /// Starts a registry on `port` (a port the test reserved earlier, e.g.
    /// to name it in a request before the registry is up).
    pub(crate) fn start_on(port: u16, setup: &RegistrySetup) -> Self {
        Registry::start_inner(setup, Some(port), None)
    }

    /// Stops this registry and serves the same storage (what was pushed)
    /// on `port`: an image that is there the moment its registry comes up.
    pub(crate) fn move_to(mut self, port: u16, setup: &RegistrySetup) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(
            &mut self.dir,
            tempfile::Builder::new()
                .prefix("imp-registry-moved.")
                .tempdir()
                .expect("placeholder dir"),
        );
        Registry::start_inner(setup, Some(port), Some(dir))
    }

    fn start_inner(setup: &RegistrySetup, fixed_port: Option<u16>, dir: Option<TempDir>) -> Self {
        let dir = dir.unwrap_or_else(|| {
            tempfile::Builder::new()
                .prefix("imp-registry.")
                .tempdir()
                .expect("registry dir")
        });
        let mut last_log = String::new();
        // The free port can be taken between probing and binding: retry.
        for _ in 0..5 {
            let port = fixed_port.unwrap_or_else(util::free_port);
            let storage = dir.path().join("storage");
            std::fs::create_dir_all(&storage).expect("storage dir");
            let config = dir.path().join("config.yml");
            let mut yaml = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 \x20 cache:\n    blobdescriptor: inmemory\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: local-test-secret\n",
                storage.display()
            );
            if let Some((cert, key)) = &setup.tls {
                yaml.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ));
            }
            if let Some(htpasswd) = &setup.htpasswd {
                yaml.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            std::fs::write(&config, yaml).expect("write registry config");
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).expect("registry log");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut ready = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                let status = if setup.tls.is_some() {
                    https_status(port, "/v2/")
                } else {
                    http_status(port, "/v2/")
                };
                if status == Some(200) || (setup.htpasswd.is_some() && status == Some(401)) {
                    ready = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if ready {
                return Registry { dir, child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("docker-registry did not start:\n{last_log}");
    }

    /// The registry's port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the host part of image references.
    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of an HTTPS GET on loopback (certificate not checked: this
/// only asks whether the server is up).
fn https_status(port: u16, path: &str) -> Option<u16> {
    let out = Command::new("curl")
        .args(["-k", "-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A minimal HTTP/1.0 GET on loopback; the status code, if any.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let accept = "application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.v2+json";
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

/// An OCI image layout built with `umoci`, with tags holding tiny distinct
/// images (one file each, so each tag has its own manifest digest).
#[derive(Debug)]
pub(crate) struct OciLayout {
    dir: TempDir,
}

impl OciLayout {
    /// Builds a layout with one image per tag in `tags`.
    pub(crate) fn build(tags: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("imp-oci.")
            .tempdir()
            .expect("oci dir");
        let umoci = |args: &[&str]| {
            run_ok(Command::new("umoci").current_dir(dir.path()).args(args));
        };
        umoci(&["init", "--layout", "oci"]);
        umoci(&["new", "--image", "oci:base"]);
        umoci(&["unpack", "--rootless", "--image", "oci:base", "bundle"]);
        let etc = dir.path().join("bundle/rootfs/etc");
        std::fs::create_dir_all(&etc).expect("rootfs/etc");
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for tag in tags {
            std::fs::write(etc.join("motd"), format!("imprimatur test {tag} {nonce}\n"))
                .expect("write motd");
            umoci(&["repack", "--image", &format!("oci:{tag}"), "bundle"]);
        }
        OciLayout { dir }
    }

    /// The layout directory.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("oci")
    }

    /// `oci:<layout>:<tag>`.
    pub(crate) fn image(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.path().display())
    }

    /// Pushes `tag` to `docker://<dest>` (e.g. `127.0.0.1:5000/ns/img:v1`)
    /// with skopeo (plain HTTP, insecure policy, no signatures) and returns
    /// the pushed manifest's bytes and digest as the registry serves them.
    pub(crate) fn push(&self, tag: &str, dest: &str) -> PushedImage {
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--insecure-policy",
            "--dest-tls-verify=false",
            &self.image(tag),
            &format!("docker://{dest}"),
        ]));
        let manifest = run_ok(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{dest}"),
        ]))
        .stdout;
        let path = self.dir.path().join(format!("{tag}.manifest.json"));
        std::fs::write(&path, &manifest).expect("write manifest");
        let digest = manifest_digest(&path);
        PushedImage {
            reference: dest.to_owned(),
            manifest,
            manifest_path: path,
            digest,
        }
    }
}

/// An image pushed to the test registry.
#[derive(Debug, Clone)]
pub(crate) struct PushedImage {
    /// The reference it was pushed to (`host:port/repo:tag`).
    pub(crate) reference: String,
    /// The manifest bytes as the registry serves them.
    pub(crate) manifest: Vec<u8>,
    /// A file holding [`Self::manifest`].
    pub(crate) manifest_path: PathBuf,
    /// `sha256:<hex>` of the manifest, as computed by `skopeo manifest-digest`.
    pub(crate) digest: String,
}

/// `skopeo manifest-digest FILE`.
pub(crate) fn manifest_digest(path: &Path) -> String {
    let out = run_ok(Command::new("skopeo").arg("manifest-digest").arg(path));
    let d = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(d.starts_with("sha256:") && d.len() == 71, "digest {d:?}");
    d
}

/// A non-root uid the tests run commands as (`nobody`).
pub(crate) const NON_ROOT_UID: u32 = 65534;

/// A copy of the `imprimatur` binary in `scratch/bin`, on a path every uid
/// may traverse (the scratch directory is made `0755`): for running it as
/// [`NON_ROOT_UID`], which cannot reach the target directory under a
/// private home.
pub(crate) fn imprimatur_for_any_user(scratch: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = scratch.path("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let exe = bin.join("imprimatur");
    std::fs::copy(crate::util::imprimatur_bin(), &exe).expect("copy imprimatur");
    for dir in [scratch.path(""), bin] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    exe
}

/// A directory `scratch/name` owned by [`NON_ROOT_UID`].
pub(crate) fn non_root_dir(scratch: &Scratch, name: &str) -> PathBuf {
    let dir = scratch.path(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::os::unix::fs::chown(&dir, Some(NON_ROOT_UID), Some(NON_ROOT_UID)).expect("chown");
    dir
}

/// `setpriv` arguments that run the rest of the command line as
/// [`NON_ROOT_UID`] with no capabilities and no new privileges.
pub(crate) fn as_non_root() -> Vec<String> {
    let uid = NON_ROOT_UID;
    [
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        "--inh-caps=-all".into(),
        "--bounding-set=-all".into(),
        "--no-new-privs".into(),
    ]
    .into()
}

/// A pod's filesystem and privileges, for running a command the way a
/// restricted Kubernetes pod runs its container (the scan Job's pod:
/// `imprimatur_service::scan_job`), without a container engine:
///
/// - a new root (a private mount namespace and `chroot`): the host's `/usr`,
///   `/etc`, `/var` and `/opt` read-only, a fresh `/dev` with the usual
///   devices and a 64 MiB `/dev/shm`, the host's `/proc`, the top level
///   read-only (`readOnlyRootFilesystem: true`);
/// - each `emptyDir` a tmpfs owned by the pod's uid at its mount path;
/// - `/dev/termination-log` a host file (the kubelet's), read back after;
/// - `files`: host files or directories at pod paths, read-only (what the
///   image carries, or a ConfigMap volume);
/// - the `imprimatur` binary at `/pod-bin/imprimatur`, first in `PATH`;
/// - the command as [`NON_ROOT_UID`] with no capabilities and no new
///   privileges (`runAsNonRoot`, `capabilities: drop: [ALL]`,
///   `allowPrivilegeEscalation: false`), with only the given environment.
///
/// The network is the host's (the registry on loopback).
#[derive(Debug, Default)]
pub(crate) struct PodSandbox {
    /// Mount paths of `emptyDir` volumes.
    pub(crate) empty_dirs: Vec<String>,
    /// The container's environment (besides `PATH`).
    pub(crate) env: Vec<(String, String)>,
    /// Host files or directories bound read-only at pod paths (no spaces
    /// in either).
    pub(crate) files: Vec<(PathBuf, String)>,
}

/// What a [`PodSandbox`] run left: the process output and the termination
/// message.
pub(crate) struct PodRun {
    pub(crate) output: Output,
    pub(crate) termination_message: String,
}

impl PodSandbox {
    /// Runs `argv` in the sandbox; `scratch` holds the kubelet's files.
    pub(crate) fn run(&self, scratch: &Scratch, argv: &[String]) -> PodRun {
        let root = scratch.path("pod-root");
        std::fs::create_dir_all(&root).expect("mkdir");
        let termination = scratch.write("pod-termination-log", "");
        std::os::unix::fs::chown(&termination, Some(NON_ROOT_UID), Some(NON_ROOT_UID))
            .expect("chown");
        let script = r#"set -eu
R="$POD_ROOT"
mount -t tmpfs -o mode=0755 pod-root "$R"
for d in bin sbin lib lib32 lib64 libx32 usr etc var opt; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --rbind "/$d" "$R/$d"; mount -o remount,bind,ro "$R/$d"
  fi
done
mkdir "$R/proc" "$R/dev" "$R/pod-bin"
mount --rbind /proc "$R/proc"
mount -t tmpfs -o mode=0755 pod-dev "$R/dev"
for n in null zero full random urandom; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir "$R/dev/shm"; mount -t tmpfs -o mode=1777,size=64m pod-shm "$R/dev/shm"
touch "$R/dev/termination-log"; mount --bind "$POD_TERMINATION_LOG" "$R/dev/termination-log"
touch "$R/pod-bin/imprimatur"; mount --bind "$POD_BIN" "$R/pod-bin/imprimatur"
for f in $POD_FILES; do
  host="${f%%=*}"; at="$R${f#*=}"
  if [ -d "$host" ]; then mkdir -p "$at"; else mkdir -p "$(dirname "$at")"; touch "$at"; fi
  mount --bind "$host" "$at"; mount -o remount,bind,ro "$at"
done
for d in $POD_EMPTY_DIRS; do
  mkdir -p "$R$d"; mount -t tmpfs -o "uid=$POD_UID,gid=$POD_UID,mode=0700,size=4g" empty-dir "$R$d"
done
mount -o remount,ro "$R"
exec chroot "$R" setpriv "$@"
"#;
        let mut inner: Vec<String> = as_non_root();
        inner.extend(["env".into(), "-i".into()]);
        inner.push("PATH=/pod-bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        inner.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        inner.extend(argv.iter().cloned());
        let output = run(Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .args(&inner)
            .env("POD_ROOT", &root)
            .env("POD_UID", NON_ROOT_UID.to_string())
            .env("POD_BIN", crate::util::imprimatur_bin())
            .env("POD_TERMINATION_LOG", &termination)
            .env("POD_EMPTY_DIRS", self.empty_dirs.join(" "))
            .env(
                "POD_FILES",
                self.files
                    .iter()
                    .map(|(host, at)| format!("{}={at}", host.display()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        let termination_message = std::fs::read_to_string(&termination).expect("termination log");
        PodRun {
            output,
            termination_message,
        }
    }
}

/// A temporary directory helper with short names for test files.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: TempDir,
}

impl Scratch {
    /// A fresh temporary directory.
    pub(crate) fn new() -> Self {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("imp-test.")
                .tempdir()
                .expect("scratch dir"),
        }
    }

    /// `dir/name`.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `dir/name` and returns the path.
    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, bytes).expect("write scratch file");
        p
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A test CA and a server certificate for 127.0.0.1 and localhost signed by it.
pub(crate) fn make_ca(scratch: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch.path("pki");
    std::fs::create_dir_all(&dir).expect("pki dir");
    let sh = |script: &str| run_ok(Command::new("sh").arg("-c").arg(script).current_dir(&dir));
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=Imprimatur Test CA' 2>/dev/null",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1' 2>/dev/null",
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
    sh(
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf 2>/dev/null",
    );
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// Self-tests of the peers: they prove the fixtures work, so that a failing
/// interop test is about the code under test.
#[test]
fn gpg_home_generates_and_exports_keys() {
    if !require_tools(&["gpg", "gpgconf"]) {
        return;
    }
    let home = GpgHome::new();
    let rsa = home.gen_key("Peer Rsa <rsa@example.test>", GpgAlgo::Rsa3072, None);
    let ed = home.gen_key(
        "Peer Ed <ed@example.test>",
        GpgAlgo::Ed25519,
        Some("s3cret"),
    );
    assert_ne!(rsa, ed);
    assert_eq!(rsa.len(), 40);
    let public = home.export_public_armored(&rsa);
    assert!(public.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let secret = home.export_secret_armored(&ed, Some("s3cret"));
    assert!(secret.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    // The public key imports into another home with the same fingerprint.
    let other = GpgHome::new();
    let s = Scratch::new();
    other.import(&s.write("rsa.gpg", home.export_public(&rsa)));
    assert_eq!(other.fingerprint_of("rsa@example.test"), rsa);
}

#[test]
fn registry_serves_pushed_image() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let reg = Registry::start();
    let layout = OciLayout::build(&["v1", "v2"]);
    let a = layout.push("v1", &format!("{}/peers/img:v1", reg.host()));
    let b = layout.push("v2", &format!("{}/peers/img:v2", reg.host()));
    assert_ne!(a.digest, b.digest, "distinct tags have distinct manifests");
    assert_eq!(
        http_status(reg.port(), &format!("/v2/peers/img/manifests/{}", a.digest)),
        Some(200)
    );
    let port = reg.port();
    drop(reg);
    assert_eq!(http_status(port, "/v2/"), None, "registry stopped on drop");
}

/// A real Debian 11 (bullseye, minbase) image as an OCI layout (tag
/// `latest`), built once with `scripts/debian-image.sh` (debootstrap + umoci;
/// needs root and the Debian mirror apt uses) and cached in
/// `/var/cache/imprimatur-test` (or `$IMPRIMATUR_TEST_CACHE`): it does not
/// change, and building it takes a few minutes.
pub(crate) fn debian_layout() -> PathBuf {
    static LAYOUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let cache = std::env::var_os("IMPRIMATUR_TEST_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/cache/imprimatur-test"));
            let layout = cache.join("bullseye-layout");
            if layout.join("index.json").is_file() {
                return layout;
            }
            std::fs::create_dir_all(&cache).expect("create the test cache");
            let building = cache.join(format!("bullseye-layout.building-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&building);
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/debian-image.sh");
            run_ok(
                Command::new("bash")
                    .arg(&script)
                    .args(["bullseye"])
                    .arg(&building)
                    .arg("latest"),
            );
            // Publish whole or not at all.
            if std::fs::rename(&building, &layout).is_err() {
                let _ = std::fs::remove_dir_all(&building);
            }
            layout
        })
        .clone()
}
