//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Whether the tests run under CI (`CI` set to anything but empty or `false`).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// Returns true if `tool` is on `PATH`. When it is not: panics under CI (a
/// missing peer must fail the build), otherwise prints why the test is skipped
/// and returns false.
pub(crate) fn require_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "required tool `{tool}` is not installed (CI is set)"
        );
        eprintln!("skipping: `{tool}` is not installed");
    }
    found
}

/// The `imprimatur` example binary (`target/<profile>/examples/imprimatur`),
/// built once per test process with `cargo build --example imprimatur`.
///
/// `cargo test` alone does not leave that binary behind (the example has
/// `test = true`, so it is built as a test harness instead), and a binary
/// left by an earlier build may be stale; building it here (a no-op when it
/// is fresh) makes `cargo test --test integration` always run the current
/// code.
pub(crate) fn imprimatur_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build_example("imprimatur", &[]))
        .clone()
}

/// The Kubernetes controller example (`target/<profile>/examples/controller`,
/// feature `kube`), built once per test process with `cargo build --example
/// controller --features kube` for the same reasons as [`imprimatur_bin`]
/// (`scripts/test.sh` builds it before the tests, so this is a no-op there).
pub(crate) fn controller_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build_example("controller", &["--features", "kube"]))
        .clone()
}

fn build_example(name: &str, extra: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    // Not the variables cargo sets for this test binary: build scripts (ring's)
    // track CARGO_MANIFEST_DIR, and seeing it here but not in the outer
    // `cargo test` would rebuild ring and everything above it every run.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            build.env_remove(&*key);
        }
    }
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", name])
        .args(extra);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo build --example {name}: {e}"));
    assert!(
        status.success(),
        "cargo build --example {name} {} failed",
        extra.join(" ")
    );
    let bin = profile_dir.join("examples").join(name);
    assert!(bin.exists(), "{} is missing after the build", bin.display());
    bin
}

/// A `Command` for the `imprimatur` binary.
pub(crate) fn imprimatur() -> Command {
    Command::new(imprimatur_bin())
}

/// The repository's `tests/data` directory.
pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// A free TCP port on 127.0.0.1 (bind to port 0, read it, release it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
