//! `imprimatur`: the command-line face of the Imprimatur crates.
//!
//! Each subcommand lives in its own module and is a thin layer over a library
//! crate: argument parsing, file I/O and exit codes here, logic there.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Container image trust: sign and verify atomic signatures, read OpenSCAP
/// results, and manage `policy.json` / `registries.d`.
#[derive(Debug, Parser)]
#[command(name = "imprimatur", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
