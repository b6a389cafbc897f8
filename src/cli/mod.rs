//! The command line: clap definitions and the wiring from arguments to the library. Nothing here
//! does work the library could do; it parses, calls, and prints.

mod build;
mod containers;
mod daemon;
mod images;
mod kube;
mod kubeconfig;
mod oci;
pub mod output;
pub mod progress;
mod top;

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
    propagate_version = true,
    after_help = "Exit codes: 0 success; 1 failure; 2 usage error (bad flags or arguments, a malformed image \
                  name); 3 `jube status`: the container is not running."
)]
pub struct Cli {
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
        /// Image name (`fabric8/java`, `fabric8/java:2.0.3`) or Maven coordinates
        /// `mvn:GROUP/ARTIFACT[/VERSION[/TYPE[/CLASSIFIER]]]`.
        ///
        /// Without a version, the newest release (`LATEST`: snapshots too). TYPE is the file's
        /// extension, `zip` by default; CLASSIFIER is `image` when no TYPE is given, else none
        /// (`mvn:com.example/app/1.2/tar.gz` is `app-1.2.tar.gz`, `mvn:com.example/app/1.2/zip/dist`
        /// is `app-1.2-dist.zip`). jube prints coordinates as Maven takes them:
        /// `GROUP:ARTIFACT:VERSION:TYPE[:CLASSIFIER]`.
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
    /// Create a container from an image, without starting it; prints its ID.
    Create {
        image: String,
        #[command(flatten)]
        flags: containers::CreateFlags,
    },
    /// Start containers, or create a container from an image and start it.
    Start {
        /// Containers (ID, ID prefix or name), or one image.
        #[arg(required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        flags: containers::CreateFlags,
    },
    /// Run an image in the foreground through its run.sh; Ctrl-C stops it.
    Run {
        image: String,
        /// Start in the background instead (as `jube start IMAGE`).
        #[arg(short, long)]
        detach: bool,
        /// Remove the container when the app exits.
        #[arg(long)]
        rm: bool,
        #[command(flatten)]
        flags: containers::CreateFlags,
    },
    /// Run a command in a running container's folder, with its environment, in the foreground.
    Exec {
        container: String,
        /// Set a variable for the command: `-e KEY=VALUE`, or `-e KEY` to pass on jube's own value.
        #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The command and its arguments (`./status.sh`, `bin/cli`, or a program on PATH).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Stop running containers: stop.sh, then kill.sh, then signals.
    Stop {
        #[arg(required = true)]
        containers: Vec<String>,
        /// Seconds to wait for the app to exit before killing it.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
    },
    /// Kill running containers at once.
    Kill {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop and start containers again, keeping their ports.
    Restart {
        #[arg(required = true)]
        containers: Vec<String>,
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
    },
    /// Show whether a container runs: exit 0 when it does, 3 when not.
    Status { container: String },
    /// Remove containers and give back their ports.
    Rm {
        #[arg(required = true)]
        containers: Vec<String>,
        /// Kill running containers first.
        #[arg(short, long)]
        force: bool,
    },
    /// Watch every container and pod live: CPU, memory, ports, logs; start, stop, restart.
    Top(top::TopArgs),
    /// List containers.
    Ps {
        /// Show all containers, not only running ones.
        #[arg(short, long)]
        all: bool,
        /// Only print IDs.
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t)]
        format: output::Format,
    },
    /// Show a container's logs: console.log and the app's logs/*.log; or a pod's, through the daemon.
    Logs {
        /// A container (ID, ID prefix or name); else a pod of that name, `pod/NAME`, or `rc/NAME`
        /// (one of its pods).
        container: String,
        /// Keep printing what is appended.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines of each file.
        #[arg(short = 'n', long)]
        tail: Option<usize>,
        /// Only this log file (`console.log`, `app.log`, ...).
        #[arg(long)]
        file: Option<String>,
        /// For a pod: which of its containers.
        #[arg(short = 'c', long = "container", value_name = "NAME")]
        pod_container: Option<String>,
        /// For a pod: its namespace (default: `default`).
        #[arg(long)]
        namespace: Option<String>,
        /// The console.log of the run before the last restart.
        #[arg(short, long)]
        previous: bool,
        /// Each console.log line after the time it came in (RFC 3339 with nanoseconds) and a space.
        #[arg(long)]
        timestamps: bool,
        /// Only console.log lines that came within this long (`30s`, `5m`, `1h30m`).
        #[arg(long, value_name = "DURATION", value_parser = kube::parse_since)]
        since: Option<std::time::Duration>,
    },
    /// Show containers' records as JSON.
    Inspect {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List a container's port mappings: `NAME CONTAINER_PORT -> HOST_PORT`.
    Port { container: String, name: Option<String> },
    /// Package a folder as an image zip and install it in the local repository.
    Build {
        /// The image folder (start.sh or run.sh at its root).
        dir: std::path::PathBuf,
        /// The image name and version: `-t myteam/app:1.0`.
        #[arg(short = 't', long = "tag", value_name = "IMAGE:VERSION")]
        tag: String,
    },
    /// Deploy an image from the local repository to a remote repository.
    Push {
        /// `IMAGE:VERSION`, as built or pulled.
        image: String,
        /// The repository: a URL, or the id of one in JUBE_REMOTE_MAVEN_REPOS or settings.xml.
        #[arg(long)]
        repo: Option<String>,
        /// Overwrite a release version the repository already has.
        #[arg(long)]
        force: bool,
    },
    /// Package a container's current folder as a new image in the local repository.
    Commit {
        container: String,
        /// `IMAGE:VERSION` of the new image.
        image: String,
    },
    /// Run the supervisor for Kubernetes manifests (restarts, replicas, service proxies, the API).
    Daemon {
        #[command(subcommand)]
        action: Option<daemon::DaemonAction>,
        #[command(flatten)]
        flags: daemon::DaemonFlags,
    },
    /// Print a kubeconfig for this JUBE_HOME's running daemon, or merge it into your own.
    Kubeconfig {
        /// Add (or replace) the `jube` cluster, user and context in the first file of $KUBECONFIG,
        /// else ~/.kube/config, keeping the rest; sets current-context only when none is set.
        #[arg(long)]
        merge: bool,
    },
    /// Create or update objects from Kubernetes manifests; starts the daemon when none runs.
    Apply(kube::ApplyArgs),
    /// List objects: pods (po), replicationcontrollers (rc), services (svc), namespaces (ns), all.
    Get(kube::GetArgs),
    /// Delete objects: by manifest (-f), by name, or all of a kind (--all, -l).
    Delete(kube::DeleteArgs),
    /// Set the replicas of replication controllers, replica sets and deployments.
    Scale(kube::ScaleArgs),
    /// Show one object as kubectl describe does (labels, selector, replicas, containers, conditions).
    Describe(kube::DescribeArgs),
    /// Deployment rollouts: status, history, undo [--to-revision N], restart, pause, resume.
    Rollout(kube::RolloutArgs),
    /// Export an image as an OCI runtime bundle (--bundle DIR) or an OCI or docker image archive.
    Export(oci::ExportArgs),
    /// Install a container image (oci-archive:FILE, docker-archive:FILE, oci:DIR) as an image zip.
    Import(oci::ImportArgs),
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
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(code) = crate::container::platform::supervisor_entry(&args) {
        return code;
    }
    if let Some(code) = crate::container::logpipe::relay_entry(&args) {
        return code;
    }
    crate::container::logpipe::relay_with_this_program();
    crate::container::platform::init_process();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // Every command reads or writes jube's home; it is made private before anything lands there.
    if let Err(e) = crate::layout::Layout::from_env().secure_home() {
        eprintln!("error: {e}");
        return EXIT_FAILURE;
    }
    let reporter = progress::TerminalReporter::new(false);
    let result = match cli.command {
        Command::Pull { image, flags } => images::pull(&image, &flags, &reporter),
        Command::Images { format, all } => images::list(format, all),
        Command::Rmi { images, force } => images::remove(&images, force),
        Command::Build { dir, tag } => build::build(&dir, &tag),
        Command::Push { image, repo, force } => build::push(&image, repo.as_deref(), force, &reporter),
        Command::Commit { container, image } => build::commit(&container, &image),
        Command::Daemon { action, flags } => daemon::daemon(action, flags),
        Command::Kubeconfig { merge } => kubeconfig::kubeconfig(merge),
        Command::Create { image, flags } => containers::create(&image, &flags, &reporter),
        Command::Start { targets, flags } => containers::start(&targets, &flags, &reporter),
        Command::Run {
            image,
            detach,
            rm,
            flags,
        } => containers::run(&image, detach, rm, &flags, &reporter),
        Command::Exec {
            container,
            env,
            command,
        } => containers::exec(&container, &env, &command),
        Command::Stop { containers, time } => containers::stop(&containers, time),
        Command::Kill { containers } => containers::kill(&containers),
        Command::Restart { containers, time } => containers::restart(&containers, time),
        Command::Status { container } => containers::status(&container),
        Command::Rm { containers, force } => containers::rm(&containers, force),
        Command::Ps { all, quiet, format } => containers::ps(all, quiet, format),
        Command::Top(args) => top::top(&args),
        Command::Logs {
            container,
            follow,
            tail,
            file,
            pod_container,
            namespace,
            previous,
            timestamps,
            since,
        } => kube::logs(&kube::LogsRequest {
            target: &container,
            follow,
            tail,
            file: file.as_deref(),
            container: pod_container.as_deref(),
            namespace: namespace.as_deref(),
            previous,
            timestamps,
            since,
        }),
        Command::Apply(args) => kube::apply(&args),
        Command::Get(args) => kube::get(&args),
        Command::Delete(args) => kube::delete(&args),
        Command::Scale(args) => kube::scale(&args),
        Command::Rollout(args) => kube::rollout(&args),
        Command::Describe(args) => kube::describe(&args),
        Command::Inspect { containers } => containers::inspect(&containers),
        Command::Port { container, name } => containers::port(&container, name.as_deref()),
        Command::Export(args) => oci::export(&args, &reporter),
        Command::Import(args) => oci::import(&args, &reporter),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let message = error_message(&e);
            eprintln!("error: {message}");
            if !message.contains("disk is full")
                && let Some(hint) = e
                    .chain()
                    .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
                    .map(crate::fsutil::disk_full_hint)
                    .find(|hint| !hint.is_empty())
            {
                eprintln!(
                    "hint: {}",
                    hint.trim().trim_start_matches('(').trim_end_matches(')')
                );
            }
            if images::is_usage_error(&e) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            }
        }
    }
}

/// The error and its causes, joined with `: `. Many of jube's errors already name their cause in
/// their own message; a cause whose text is already there is not repeated.
fn error_message(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[derive(Debug, thiserror::Error)]
    #[error("GET x failed: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_names_is_not_repeated() {
        let named = anyhow::Error::new(Outer {
            source: std::io::Error::other("reset"),
        });
        assert_eq!(error_message(&named), "GET x failed: reset");
        let context = anyhow::Error::new(std::io::Error::other("reset")).context("pull failed");
        assert_eq!(error_message(&context), "pull failed: reset");
    }
}
