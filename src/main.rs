//! `kconform`: run the kernel behaviour conformance suite.
//!
//! Each subcommand lives in [`cmd`]; what it concludes becomes the exit
//! status in one place ([`error::exit_code`]): 0 every instance conforms,
//! 1 any fails (or broke), 125 the run itself could not happen (bad
//! input, nothing could be judged), 130 interrupted: the codes
//! `git bisect run` and CI gates understand.

mod cli;
mod cmd;
mod error;
mod session;
mod ui;

use std::process::ExitCode;

use clap::Parser;
use nix::sys::signal::{signal, SigHandler, Signal};

use cli::{Cli, Command};

fn main() -> ExitCode {
    kconform_suites::probe::dispatch_if_probe();
    let cli = Cli::parse();
    if cli.command.only_prints() {
        // `kconform list | head` ends quietly when head has read enough,
        // as `ls` does. Every other command keeps Rust's ignored SIGPIPE:
        // a reader that goes away must not cost a report or a bisect reset.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
    // From here on Ctrl-C and SIGTERM stop the command in good order:
    // QEMU killed, scratch removed, finished results written.
    kconform_core::interrupt::install();
    let ended = match cli.command {
        Command::List { filter } => cmd::list::list(&filter),
        Command::Run(args) => cmd::run::run(args),
        Command::Boot(args) => cmd::boot::boot(args),
        Command::Diff { old, new } => cmd::diff::diff(&old, &new),
        Command::BisectStep(args) => cmd::bisect_step::step(args),
        Command::Bisect(args) => cmd::bisect::bisect(args),
        Command::Bugs(args) => cmd::bugs::bugs(args),
        Command::Repro(args) => cmd::repro::repro(args),
        Command::Merge { report, shards } => cmd::merge::merge(&report, &shards),
        Command::Cache { action } => cmd::cache::cache(action),
    };
    error::exit_code(ended)
}
