//! `imprimatur`: the command-line face of the Imprimatur crates.
//!
//! Each subcommand lives in its own module and is a thin layer over a library
//! crate: argument parsing, file I/O and exit codes here, logic there.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod arf;
mod lookaside;
mod policy;
mod signing;
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
    Arf(arf::ArfArgs),
    Trust(trust::TrustArgs),
    Policy(policy::PolicyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Keygen(a) => signing::keygen(a),
        Command::Sign(a) => signing::sign(a),
        Command::Verify(a) => signing::verify(a),
        Command::Arf(a) => arf::run(a),
        Command::Trust(a) => trust::run(a),
        Command::Policy(a) => policy::run(a),
    }
}
