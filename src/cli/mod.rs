//! The command line: clap definitions and the wiring from arguments to the library. Nothing here
//! does work the library could do; it parses, calls, and prints.

mod images;
pub mod output;
pub mod progress;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

/// Exit codes: 0 success, 1 failure, 2 usage, 3 "not running" (LSB status).
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_NOT_RUNNING: i32 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "jube",
    version,
    about = "Run image zips from Maven repositories, and apps described as Kubernetes manifests, as local processes",
    propagate_version = true
)]
pub struct Cli {
    /// Print less: no progress bars, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every command that may download an image.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct PullFlags {
    /// Never use the network; only the local repository (and built-in images).
    #[arg(long)]
    pub offline: bool,
    /// Refresh cached repository metadata even if it is less than a day old.
    #[arg(short = 'U', long)]
    pub refresh: bool,
    /// Fail when a repository publishes no checksum for a file.
    #[arg(long)]
    pub strict_checksums: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download an image zip into the local Maven repository.
    Pull {
        /// Image name (`fabric8/java`, `fabric8/java:2.0.3`) or `mvn:GROUP/ARTIFACT[/VERSION]`.
        image: String,
        #[command(flatten)]
        flags: PullFlags,
    },
    /// List the image zips in the local repository.
    Images {
        #[arg(long, value_enum, default_value_t)]
        format: output::Format,
        /// Also list the images built into jube.
        #[arg(short, long)]
        all: bool,
    },
    /// Remove image zips from the local repository.
    Rmi {
        /// `IMAGE[:VERSION]`; without a version every cached version is removed.
        #[arg(required = true)]
        images: Vec<String>,
        /// Remove even if a container uses it.
        #[arg(short, long)]
        force: bool,
    },
}

/// Runs jube with the given arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let reporter = progress::TerminalReporter::new(cli.quiet);
    let result = match cli.command {
        Command::Pull { image, flags } => images::pull(&image, &flags, &reporter),
        Command::Images { format, all } => images::list(format, all),
        Command::Rmi { images, force } => images::remove(&images, force),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILURE
        }
    }
}
