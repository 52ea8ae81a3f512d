//! `imprimatur`: the command-line face of the Imprimatur crates.
//!
//! Each subcommand lives in its own module and is a thin layer over a library
//! crate: argument parsing, file I/O and exit codes here, logic there.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod arf;
mod image;
mod machineconfig;
mod policy;
mod registry_args;
mod service;
mod signatures;
mod signing;
mod sigstore;
mod trust;

/// Container image trust: sign and verify atomic signatures, read OpenSCAP
/// results, and manage `policy.json` / `registries.d`.
#[derive(Debug, Parser)]
#[command(name = "imprimatur", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // The commands' help comes from the doc comments of their Args structs.
    Keygen(signing::KeygenArgs),
    Sign(signing::SignArgs),
    Verify(signing::VerifyArgs),
    Inspect(image::InspectArgs),
    Unpack(image::UnpackArgs),
    Scan(service::ScanArgs),
    Request(service::RequestArgs),
    Arf(arf::ArfArgs),
    Trust(trust::TrustArgs),
    Policy(policy::PolicyArgs),
    Signatures(signatures::SignaturesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    registry_args::install_crypto_provider();
    match cli.command {
        Command::Keygen(a) => signing::keygen(a),
        Command::Sign(a) => signing::sign(a),
        Command::Verify(a) => signing::verify(a),
        Command::Inspect(a) => image::inspect_cmd(a),
        Command::Unpack(a) => image::unpack_cmd(a),
        Command::Scan(a) => service::scan_cmd(a),
        Command::Request(a) => service::request_cmd(a),
        Command::Arf(a) => arf::run(a),
        Command::Trust(a) => trust::run(a),
        Command::Policy(a) => policy::run(a),
        Command::Signatures(a) => signatures::run(a),
    }
}

/// Exit status of a command without a "denied" outcome: 0, or 1 with the
/// error chain on stderr.
fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
