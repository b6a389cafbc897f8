//! The container verbs. Every verb takes the container's lock, reads `state.json`, refreshes it
//! from the OS, checks the transition, acts, and saves. This file finds containers and keeps their
//! records; `create.rs` installs new ones, `launch.rs` starts them (`start`, `run`), and `stop.rs`
//! stops, kills and removes them.

mod create;
mod launch;
mod stop;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::container::envfile::EnvError;
use crate::container::install::{InstallError, UnpackLimits};
use crate::container::ports::PortError;
use crate::container::process::ProcessError;
use crate::container::scripts::{self, ScriptRun};
use crate::container::state::{State, StateError, Status};
use crate::env_vars::{self, EnvVars};
use crate::fsutil::{LockError, LockedFile};
use crate::layout::Layout;
use crate::maven::coordinates::Coordinates;

/// The variable every process of a container inherits, so a stop finds all of them.
pub const CONTAINER_ID_VAR: &str = "JUBE_CONTAINER_ID";
/// The file jube appends script and app output to, under `logs/`.
pub const CONSOLE_LOG: &str = "console.log";
/// Fewer containers than this per thread are listed on one thread.
const LIST_PER_THREAD: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("no such container: {0}; `jube ps -a` lists the containers")]
    NotFound(String),
    #[error("`{query}` matches several containers: {}; give more of the ID, or the name", matches.join(", "))]
    Ambiguous { query: String, matches: Vec<String> },
    #[error(
        "the container name `{name}` is already used by container {id}; choose another name or remove that container"
    )]
    NameTaken { name: String, id: String },
    #[error("{0}")]
    BadName(String),
    #[error("-p {name}=...: the image declares no port named `{name}` (its ports.properties names: {known})")]
    UnknownPort { name: String, known: String },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{script} of container {name} {how}{tail}\nthe container is kept for inspection: `jube logs {name}`, then `jube rm {name}`", tail = tail_text(tail))]
    StartFailed {
        name: String,
        script: String,
        how: String,
        tail: Vec<String>,
    },
    #[error("container {name} is running; stop it first, or remove it with `jube rm -f {name}`")]
    Running { name: String },
    #[error("container {name} is not running; start it with `jube start {name}`")]
    NotRunning { name: String },
    #[error("container {name} belongs to pod {pod}, which the jube daemon manages; remove the pod with `jube delete pod {pod_name}`", pod_name = pod.rsplit('/').next().unwrap_or(pod))]
    OwnedByDaemon { name: String, pod: String },
    #[error("container {name} has no {script}: it can only be started in the background with `jube start`")]
    NoRunScript { name: String, script: String },
    #[error(transparent)]
    Isolate(#[from] crate::oci::isolate::IsolateError),
    #[error(
        "an isolated run needs the image's run.sh (the runtime runs the app in the foreground), and \
         this image has only start.sh"
    )]
    IsolatedNeedsRunScript,
    #[error("container {name} is isolated and runs in the background only: `jube start {name}`")]
    IsolatedForeground { name: String },
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut text = String::from("; its last output:");
    for line in tail {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ContainerError + '_ {
    move |source| ContainerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `create` is given besides the image.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    /// `-e KEY=VALUE` and `--env-file`, in order.
    pub env: Vec<(String, String)>,
    /// `-p NAME=HOSTPORT`.
    pub ports: Vec<(String, u16)>,
    pub labels: BTreeMap<String, String>,
    pub limits: UnpackLimits,
    /// Ports a pod's manifest declares: matched to ports.properties by name or container port
    /// (giving a host port when set); one that matches none is leased as well.
    pub pod_ports: Vec<PodPort>,
    /// A pod's `command`: run instead of the image's start script, each element one argument.
    pub command: Option<Vec<String>>,
    /// A pod's `args`: with a `command`, appended to it; alone, the arguments of `run.sh`.
    pub args: Option<Vec<String>>,
    /// Names in `env` whose values are secret: never shown by `inspect`.
    pub secret_env: BTreeSet<String>,
    /// Folders inside the app's base that the app is told about: each `(VARIABLE, relative
    /// path)` is exported as the folder's absolute path.
    pub mounts: Vec<(String, String)>,
    /// Run the app under a container runtime, in its own namespaces, the host read-only.
    pub isolated: bool,
}

/// A port from a Kubernetes container spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodPort {
    pub name: Option<String>,
    pub container_port: u16,
    pub host_port: Option<u16>,
}

/// The image a container is made from, once it is in the local repository.
#[derive(Debug, Clone)]
pub struct ImageSource {
    /// As the user named it.
    pub name: String,
    pub coordinates: Coordinates,
    pub zip: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// start.sh started the app, which had already ended by the time jube looked (a one-shot job,
    /// or an app that failed at once: its logs say which).
    EndedAtOnce,
    AlreadyRunning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The app was running and is stopped; `killed` when it had to be killed (kill.sh or
    /// SIGKILL), `leftovers` the processes that outlived it and were killed afterwards.
    Stopped { killed: bool, leftovers: usize },
    /// It was not running; `leftovers` processes of an earlier run were still found and killed.
    NotRunning { leftovers: usize },
}

/// What `status` found.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub state: State,
    /// The exit code of `status.sh`, when the image has one.
    pub script_code: Option<i32>,
}

/// Timeouts for scripts, from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub script: Duration,
    pub pid_file: Duration,
}

impl Timeouts {
    pub fn from_env() -> Self {
        let secs = |name, default: f64| {
            Duration::from_secs_f64(
                env_vars::var(name)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .unwrap_or(default)
                    .clamp(0.0, 1e9),
            )
        };
        Self {
            script: secs(EnvVars::JUBE_SCRIPT_TIMEOUT, 60.0),
            pid_file: secs(EnvVars::JUBE_PID_TIMEOUT, 10.0),
        }
    }
}

/// The containers under one `JUBE_HOME`.
#[derive(Debug, Clone)]
pub struct Containers {
    layout: Layout,
    timeouts: Timeouts,
}

impl Containers {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            timeouts: Timeouts::from_env(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The IDs of every complete container (a folder with a `state.json`).
    pub fn ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.layout.containers_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| self.layout.container_state(id).is_file())
            .collect()
    }

    /// Every container's state, as the OS sees it now. Unreadable records are returned as errors
    /// so a listing can mention them.
    pub fn list(&self) -> Vec<Result<State, StateError>> {
        let Ok(entries) = std::fs::read_dir(self.layout.containers_dir()) else {
            return Vec::new();
        };
        let ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        // Each record is a file to read and a process to look up, mostly system calls: with
        // hundreds of containers, the other cores halve what `jube ps` costs.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(ids.len() / LIST_PER_THREAD)
            .max(1);
        if threads == 1 {
            return ids.iter().filter_map(|id| self.observe_listed(id)).collect();
        }
        let chunk = ids.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = ids
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|id| self.observe_listed(id))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        })
    }

    /// [`Containers::observe`] for a listing: a folder without a record is not a container (yet,
    /// or any more).
    fn observe_listed(&self, id: &str) -> Option<Result<State, StateError>> {
        match self.observe(id) {
            Err(StateError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
            other => Some(other),
        }
    }

    /// One container's state, refreshed from the OS. An exit seen for the first time is saved
    /// (unless another jube holds the container right now), so that `ps` keeps showing when it was
    /// first seen instead of "now" on every call.
    fn observe(&self, id: &str) -> Result<State, StateError> {
        let mut state = self.load(id)?;
        if !state.refresh() {
            return Ok(state);
        }
        if let Ok(Some(_lock)) = LockedFile::try_acquire_in_place(&self.layout.container_lock(id))
            && let Ok(mut fresh) = self.load(id)
        {
            if fresh.refresh() {
                let _ = self.save(&fresh);
            }
            state = fresh;
        }
        Ok(state)
    }

    /// The id of the container called exactly `name`, from the records alone: unlike
    /// [`Containers::find`], no container's processes are looked at, so it stays cheap when many
    /// are being made at once.
    pub fn id_of_name(&self, name: &str) -> Option<String> {
        self.ids()
            .into_iter()
            .find(|id| self.load(id).is_ok_and(|s| s.name == name))
    }

    /// Finds a container by full ID, name, or unique ID prefix (docker's order).
    pub fn find(&self, query: &str) -> Result<State, ContainerError> {
        if query.is_empty() {
            return Err(ContainerError::NotFound("(empty name)".into()));
        }
        if query.len() == 64 && self.layout.container_state(query).is_file() {
            return Ok(self.load(query)?);
        }
        let states: Vec<State> = self.list().into_iter().filter_map(Result::ok).collect();
        if let Some(s) = states.iter().find(|s| s.name == query) {
            return Ok(s.clone());
        }
        let matches: Vec<&State> = states.iter().filter(|s| s.id.starts_with(query)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ContainerError::NotFound(query.to_owned())),
            many => Err(ContainerError::Ambiguous {
                query: query.to_owned(),
                matches: many
                    .iter()
                    .map(|s| format!("{} ({})", s.short_id(), s.name))
                    .collect(),
            }),
        }
    }

    fn load(&self, id: &str) -> Result<State, StateError> {
        State::load(&self.layout.container_state(id))
    }

    /// Takes the container's lock and reads its state afresh (another process may have changed it
    /// between lookup and lock), refreshed from the OS. A container removed meanwhile is not found.
    fn lock(&self, query: &str) -> Result<(State, LockedFile), ContainerError> {
        let found = self.find(query)?;
        let gone = || ContainerError::NotFound(query.to_owned());
        let lock = match LockedFile::acquire_in_place(
            &self.layout.container_lock(&found.id),
            &format!("container {}", found.name),
        ) {
            Ok(lock) => lock,
            Err(LockError::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(gone());
            }
            Err(e) => return Err(e.into()),
        };
        let mut state = self.load(&found.id).map_err(|e| match e {
            StateError::Read { .. } => gone(),
            other => other.into(),
        })?;
        if state.refresh() {
            self.save(&state)?;
        }
        Ok((state, lock))
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        state.save(&self.layout.container_state(&state.id))
    }

    pub fn app_base(&self, state: &State) -> PathBuf {
        self.layout.container_dir(&state.id).join(&state.app_base)
    }

    pub fn console_log(&self, state: &State) -> PathBuf {
        self.layout.container_logs(&state.id).join(CONSOLE_LOG)
    }

    /// `JUBE_CONTAINER_ID=<id>`: what every process of the container carries in its environment.
    fn marker(state: &State) -> String {
        format!("{CONTAINER_ID_VAR}={}", state.id)
    }

    fn script_run(&self, state: &State, timeout: Duration) -> ScriptRun {
        let mut env = state.env.clone();
        env.push((CONTAINER_ID_VAR.to_owned(), state.id.clone()));
        ScriptRun {
            app_base: self.app_base(state),
            env,
            log: self.console_log(state),
            timeout,
        }
    }

    /// The container's state as the OS sees it, and what its `status.sh` says.
    pub fn status(&self, query: &str) -> Result<StatusReport, ContainerError> {
        let (state, _lock) = self.lock(query)?;
        let outcome = scripts::run_script("status", &self.script_run(&state, self.timeouts.script))?;
        Ok(StatusReport {
            script_code: outcome.and_then(|o| o.code),
            state,
        })
    }

    /// Whether any container was installed from `zip` (what `rmi` refuses to remove).
    pub fn users_of(&self, zip: &Path) -> Vec<State> {
        self.list()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|s| s.image_path == zip)
            .collect()
    }

    /// Saves a container's state while holding its lock (for the daemon's bookkeeping).
    pub fn update(&self, query: &str, change: impl FnOnce(&mut State)) -> Result<State, ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        change(&mut state);
        self.save(&state)?;
        Ok(state)
    }

    /// Records, once, that a container's app has ended (refreshing its state on disk) and, when the
    /// supervisor learned it, the app's exit code, which `exit_code` gives only once the
    /// container is held. Never waits: while another jube holds the container (a stop or a start
    /// in progress), nothing is recorded and `None` is returned, since the holder is ending or
    /// replacing that app and a later look records what is left to record.
    pub fn try_observe_exit(&self, id: &str, exit_code: impl FnOnce() -> Option<i32>) -> Option<State> {
        let _lock = LockedFile::try_acquire_in_place(&self.layout.container_lock(id)).ok()??;
        let mut state = self.load(id).ok()?;
        let mut changed = state.refresh();
        if let (Status::Exited, None) = (state.status, state.exit_code)
            && let Some(code) = exit_code()
        {
            state.exit_code = Some(code);
            changed = true;
        }
        if changed {
            self.save(&state).ok()?;
        }
        Some(state)
    }
}
