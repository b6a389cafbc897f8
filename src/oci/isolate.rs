//! Isolated runs (`jube start --isolated`, the pod annotation `jube.io/isolated: "true"`): the app
//! runs under runc (or crun) in its own mount, pid, ipc and uts namespaces, on the host's network,
//! with the host's file system read-only but for its own folder (and a private `/tmp`).
//!
//! The bundle's root is an empty folder; each top-level folder of the host is bound into it
//! recursively read-only, each top-level link is copied, and the app's folder is bound read-write
//! at its own path, so every path the app knows stays valid. The runtime starts the app detached;
//! jube then tracks the app's own pid (its host-side pid, a session leader), as for any app.
//!
//! This module depends on nothing of jube's but the OCI runtime spec and the platform's PATH
//! lookup, so the container layer can call it.

use std::path::{Path, PathBuf};

/// The annotation that asks for an isolated run of a pod's containers.
pub const ANNOTATION: &str = "jube.io/isolated";
/// The runtimes tried, in order. crun refuses cgroups in hybrid mode, runc does not.
const RUNTIMES: [&str; 2] = ["runc", "crun"];

#[derive(Debug, thiserror::Error)]
pub enum IsolateError {
    #[error(
        "isolated runs need a container runtime, and neither runc nor crun is on the PATH; install one \
         (Debian: apt-get install runc), or start the container without isolation"
    )]
    NoRuntime,
    #[error("isolated runs need Linux (namespaces and runc or crun); start the container without isolation")]
    Unsupported,
    #[error("isolated runs need root (the runtime runs the app as root without a user namespace)")]
    NotRoot,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{runtime} could not start the app: {detail}")]
    Start { runtime: String, detail: String },
    #[error(transparent)]
    Spec(#[from] oci_spec::OciSpecError),
}

/// One isolated launch.
#[derive(Debug)]
pub struct Launch<'a> {
    /// The runtime's name for the container (jube's container id).
    pub id: &'a str,
    /// Where the bundle and the runtime's state go (inside jube's container folder).
    pub work: &'a Path,
    /// The app's folder: writable, and the working directory.
    pub app_base: &'a Path,
    /// The program (an absolute path) and its arguments.
    pub argv: Vec<String>,
    /// The whole environment of the app.
    pub env: Vec<(String, String)>,
    /// The app's stdout and stderr (the console log's relay).
    pub output: (std::process::Stdio, std::process::Stdio),
}

/// The runtime on the PATH, or why isolation cannot work here.
pub fn runtime() -> Result<PathBuf, IsolateError> {
    if !cfg!(target_os = "linux") {
        return Err(IsolateError::Unsupported);
    }
    RUNTIMES
        .iter()
        .find_map(|name| crate::container::platform::find_in_path(name, std::env::var_os("PATH")))
        .ok_or(IsolateError::NoRuntime)
}

/// Checks that an isolated run can start here: Linux, root, a runtime.
pub fn check() -> Result<PathBuf, IsolateError> {
    let runtime = runtime()?;
    #[cfg(unix)]
    if !nix::unistd::geteuid().is_root() {
        return Err(IsolateError::NotRoot);
    }
    Ok(runtime)
}

#[cfg(target_os = "linux")]
pub use linux::{launch, remove};

#[cfg(not(target_os = "linux"))]
pub fn launch(_launch: Launch<'_>) -> Result<u32, IsolateError> {
    Err(IsolateError::Unsupported)
}

#[cfg(not(target_os = "linux"))]
pub fn remove(_id: &str, _work: &Path) {}

#[cfg(target_os = "linux")]
mod linux {
    use std::path::Path;
    use std::process::{Command, Stdio};

    use oci_spec::runtime::{Mount, Process, get_default_mounts};

    use super::{IsolateError, Launch, check};
    use crate::oci::runtime_spec;

    /// Top-level host folders that get their own mounts instead of a bind of the host's.
    const OWN_MOUNTS: [&str; 5] = ["proc", "sys", "dev", "tmp", "run"];

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IsolateError + '_ {
        move |source| IsolateError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn runtime_command(runtime: &Path, work: &Path) -> Command {
        let mut cmd = Command::new(runtime);
        cmd.arg("--root").arg(work.join("state"));
        cmd
    }

    /// Forgets an earlier run of `id` (the runtime keeps a stopped container until deleted).
    pub fn remove(id: &str, work: &Path) {
        if let Ok(runtime) = super::runtime() {
            let _ = runtime_command(&runtime, work)
                .args(["delete", "-f", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Writes the bundle, has the runtime start the app detached, and returns the app's pid on
    /// the host.
    pub fn launch(launch: Launch<'_>) -> Result<u32, IsolateError> {
        let runtime = check()?;
        remove(launch.id, launch.work);
        let bundle = launch.work.join("bundle");
        if bundle.exists() {
            std::fs::remove_dir_all(&bundle).map_err(io(&bundle))?;
        }
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(io(&rootfs))?;
        let mut mounts: Vec<Mount> = get_default_mounts()
            .into_iter()
            .filter(|m| m.destination() != Path::new("/sys/fs/cgroup"))
            .collect();
        for entry in std::fs::read_dir("/").map_err(io(Path::new("/")))?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if OWN_MOUNTS.contains(&name.as_ref()) {
                continue;
            }
            let host = Path::new("/").join(name.as_ref());
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&host).map_err(io(&host))?;
                std::os::unix::fs::symlink(&target, rootfs.join(name.as_ref())).map_err(io(&host))?;
            } else if meta.is_dir() || meta.is_file() {
                mounts.push(runtime_spec::bind(&host, &host, &["rbind", "rro", "nosuid"])?);
            }
        }
        mounts.push(runtime_spec::tmpfs("/tmp")?);
        mounts.push(runtime_spec::tmpfs("/run")?);
        mounts.push(runtime_spec::bind(
            launch.app_base,
            launch.app_base,
            &["rbind", "rw"],
        )?);

        let mut process = Process::default();
        process.set_terminal(Some(false));
        process.set_args(Some(launch.argv.clone()));
        process.set_cwd(launch.app_base.to_owned());
        process.set_env(Some(launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect()));
        // The host's limits, as for an app jube starts itself.
        process.set_rlimits(None);
        let spec = runtime_spec::config(process, mounts, launch.id.chars().take(12).collect())?;
        let config = bundle.join("config.json");
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| IsolateError::Start {
            runtime: runtime.display().to_string(),
            detail: e.to_string(),
        })?;
        std::fs::write(&config, json).map_err(io(&config))?;

        // The runtime's own errors go to a log of its own; the app's output to the console log.
        let runtime_log = launch.work.join("runtime.log");
        let _ = std::fs::remove_file(&runtime_log);
        let pid_file = bundle.join("app.pid");
        let (stdout, stderr) = launch.output;
        let status = runtime_command(&runtime, launch.work)
            .arg("--log")
            .arg(&runtime_log)
            .args(["run", "-d", "--pid-file"])
            .arg(&pid_file)
            .arg("-b")
            .arg(&bundle)
            .arg(launch.id)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(io(&runtime))?;
        let failed = |detail: String| IsolateError::Start {
            runtime: runtime.display().to_string(),
            detail,
        };
        if !status.success() {
            let said = std::fs::read_to_string(&runtime_log).unwrap_or_default();
            let last = said
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            return Err(failed(format!("it exited with {status}: {}", last.trim())));
        }
        let text = std::fs::read_to_string(&pid_file).map_err(io(&pid_file))?;
        text.trim().parse().map_err(|_| {
            failed(format!(
                "its pid file {} holds `{}`",
                pid_file.display(),
                text.trim()
            ))
        })
    }
}
