//! The container verbs: create (install an image, lease its ports, write its env file), start,
//! stop, kill, restart, status and remove. Every verb takes the container's lock, reads
//! `state.json`, refreshes it from the OS, checks the transition, acts, and saves.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::container::envfile::{self, EnvError};
use crate::container::install::{self, InstallError, UnpackLimits};
use crate::container::names;
use crate::container::platform;
use crate::container::ports::{self, Lease, PortError, PortRange, PortRequest};
use crate::container::process::{self, ProcessError, ProcessId};
use crate::container::scripts::{self, ScriptOutcome, ScriptRun};
use crate::container::state::{Launch, State, StateError, Status};
use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockError, LockedFile};
use crate::layout::{FORMAT_VERSION, Layout};
use crate::maven::coordinates::Coordinates;
use crate::reporter::Reporter;

/// The variable every process of a container inherits, so a stop finds all of them.
pub const CONTAINER_ID_VAR: &str = "JUBE_CONTAINER_ID";
/// How long kill.sh may take; it is the last polite step before signals.
const KILL_SCRIPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The file jube appends script and app output to, under `logs/`.
pub const CONSOLE_LOG: &str = "console.log";

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
    #[error("container {name} belongs to pod {pod}, which the jube daemon manages; remove the pod with `jube delete pod {pod_name}`", pod_name = pod.rsplit('/').next().unwrap_or(pod))]
    OwnedByDaemon { name: String, pod: String },
    #[error("container {name} has no {script}: it can only be started in the background with `jube start`")]
    NoRunScript { name: String, script: String },
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
    AlreadyRunning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped { killed: bool },
    NotRunning,
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
                    .unwrap_or(default)
                    .max(0.0),
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

    /// Every container's state, refreshed from the OS (in memory only: listing never writes).
    /// Unreadable records are returned as errors so a listing can mention them.
    pub fn list(&self) -> Vec<Result<State, StateError>> {
        self.ids()
            .into_iter()
            .map(|id| {
                let mut s = State::load(&self.layout.container_state(&id))?;
                s.refresh();
                Ok(s)
            })
            .collect()
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
    /// between lookup and lock), refreshed from the OS.
    fn lock(&self, query: &str) -> Result<(State, LockedFile), ContainerError> {
        let found = self.find(query)?;
        let lock = LockedFile::acquire(
            &self.layout.container_lock(&found.id),
            &format!("container {}", found.name),
        )?;
        let mut state = self.load(&found.id).map_err(|e| match e {
            StateError::Read { .. } => ContainerError::NotFound(query.to_owned()),
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

    /// Installs an image as a new container: unpack, lease ports, write env files and state. It is
    /// built in a staging folder and renamed into place, so a failure (or a kill) leaves no
    /// container behind, and its leases go with it.
    pub fn create(
        &self,
        image: &ImageSource,
        options: &CreateOptions,
        reporter: &dyn Reporter,
    ) -> Result<State, ContainerError> {
        if let Some(name) = &options.name {
            names::check_name(name).map_err(ContainerError::BadName)?;
        }
        for (key, _) in &options.env {
            envfile::check_name(key)?;
        }
        let staging = self.layout.staging_dir();
        fs_err::create_dir_all(&staging).map_err(|e| ContainerError::Io {
            path: staging.clone(),
            source: e,
        })?;
        fs_err::create_dir_all(self.layout.containers_dir()).map_err(|e| ContainerError::Io {
            path: self.layout.containers_dir(),
            source: e,
        })?;
        self.remove_abandoned_stages();

        let id = names::new_id();
        let stage = Stage::begin(&self.layout, &id)?;
        let name = self.reserve_name(&stage, options.name.as_deref())?;

        let root = stage.dir.join("root");
        let unpacked = install::unpack(&image.zip, &root, &options.limits, reporter)?;
        install::check_image(&unpacked.app_base)?;
        let rel_app_base = unpacked
            .app_base
            .strip_prefix(&stage.dir)
            .unwrap_or(Path::new("root"))
            .to_owned();
        let final_app_base = self.layout.container_dir(&id).join(&rel_app_base);

        let declared = ports::read_ports(&unpacked.app_base.join("ports.properties"))?;
        let requests = port_requests(&declared, &options.ports)?;
        let layout = self.layout.clone();
        let is_live = move |owner: &str| {
            layout.container_dir(owner).exists() || layout.staging_dir().join(owner).exists()
        };
        let leases = ports::lease(&self.layout, &id, &requests, PortRange::from_env()?, &is_live)?;

        let env = container_env(&final_app_base, &leases, &options.env);
        write_env_files(&unpacked.app_base, &env)?;
        let launch = if scripts::script_path(&unpacked.app_base, "start").is_file() {
            Launch::StartScript
        } else {
            Launch::RunScript
        };
        let logs = stage.dir.join("logs");
        fs_err::create_dir_all(&logs).map_err(|e| ContainerError::Io {
            path: logs.clone(),
            source: e,
        })?;
        let state = State {
            version: FORMAT_VERSION,
            id: id.clone(),
            name,
            image: image.name.clone(),
            coordinates: image.coordinates.clone(),
            image_path: image.zip.clone(),
            app_base: rel_app_base,
            launch,
            created: jiff::Timestamp::now(),
            status: Status::Created,
            process: None,
            session: None,
            launched_ticks: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            error: None,
            ports: leases,
            env,
            labels: options.labels.clone(),
            restart_count: 0,
        };
        state.save(&stage.dir.join("state.json"))?;
        stage.commit(&self.layout.container_dir(&id))?;
        Ok(state)
    }

    /// Picks the container's name under the names lock and records it in the stage, so two
    /// concurrent creates never take the same one.
    fn reserve_name(&self, stage: &Stage, wanted: Option<&str>) -> Result<String, ContainerError> {
        let _lock = LockedFile::acquire(&self.layout.names_lock(), "container names")?;
        let mut taken: BTreeMap<String, String> = self
            .list()
            .into_iter()
            .filter_map(Result::ok)
            .map(|s| (s.name, s.id))
            .collect();
        for (id, name) in self.staged_names() {
            taken.insert(name, id);
        }
        let name = match wanted {
            Some(n) => {
                if let Some(id) = taken.get(n) {
                    return Err(ContainerError::NameTaken {
                        name: n.to_owned(),
                        id: id[..12.min(id.len())].to_owned(),
                    });
                }
                n.to_owned()
            }
            None => names::generate(&|n| taken.contains_key(n)),
        };
        let path = stage.dir.join("name");
        fsutil::write_atomic(&path, name.as_bytes()).map_err(io_err(&path))?;
        Ok(name)
    }

    fn staged_names(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.layout.staging_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = std::fs::read_to_string(e.path().join("name")).ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), name))
            })
            .collect()
    }

    /// Removes stages whose creator is gone (killed mid-create): their lock is free.
    fn remove_abandoned_stages(&self) {
        let Ok(entries) = std::fs::read_dir(self.layout.staging_dir()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let lock_path = path.with_extension("lock");
            if let Ok(Some(_lock)) = LockedFile::try_acquire(&lock_path) {
                let id = entry.file_name().to_string_lossy().into_owned();
                let _ = std::fs::remove_dir_all(&path);
                let _ = ports::release(&self.layout, &id);
                let _ = std::fs::remove_file(&lock_path);
            }
        }
    }

    /// Starts a container through `start.sh` (or `run.sh` detached). Starting a running container
    /// does nothing and says so.
    pub fn start(&self, query: &str) -> Result<(State, StartOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        if !state.status.can_start() {
            return Ok((state, StartOutcome::AlreadyRunning));
        }
        let app_base = self.app_base(&state);
        process::remove_pid_files(&app_base).map_err(io_err(&app_base))?;
        let log = self.console_log(&state);
        let since = process::now_ticks();
        let run = self.script_run(&state, self.timeouts.script);
        let id = match state.launch {
            Launch::StartScript => {
                let outcome =
                    scripts::run_script("start", &run)?.ok_or_else(|| ProcessError::MissingScript {
                        path: scripts::script_path(&app_base, "start"),
                    })?;
                if !outcome.success() {
                    return Err(self.fail(
                        &mut state,
                        "start.sh",
                        describe(&outcome, self.timeouts.script),
                        outcome.tail,
                    ));
                }
                let Some(pid) = process::wait_for_pid_file(&app_base, self.timeouts.pid_file) else {
                    let how = format!(
                        "exited 0 but no pid file appeared within {}s (jube looks for process.pid, var/process.pid and var/run/*.pid)",
                        self.timeouts.pid_file.as_secs_f64()
                    );
                    let tail = read_tail(&log);
                    return Err(self.fail(&mut state, "start.sh", how, tail));
                };
                match ProcessId::capture(pid) {
                    Some(id) => id,
                    None => {
                        let tail = read_tail(&log);
                        let how = format!("wrote pid {pid}, but that process had already exited");
                        return Err(self.fail(&mut state, "start.sh", how, tail));
                    }
                }
            }
            Launch::RunScript => scripts::spawn_detached(&app_base, "run", &run.env, &log)?,
        };
        state.status = Status::Running;
        state.session = process::session_of(id.pid);
        state.process = Some(id);
        state.launched_ticks = since;
        state.started_at = Some(jiff::Timestamp::now());
        state.finished_at = None;
        state.exit_code = None;
        state.error = None;
        self.save(&state)?;
        Ok((state, StartOutcome::Started))
    }

    fn fail(&self, state: &mut State, script: &str, how: String, tail: Vec<String>) -> ContainerError {
        state.status = Status::Failed;
        state.error = Some(format!("{script} {how}"));
        state.finished_at = Some(jiff::Timestamp::now());
        if let Err(e) = self.save(state) {
            return e.into();
        }
        ContainerError::StartFailed {
            name: state.name.clone(),
            script: script.to_owned(),
            how,
            tail,
        }
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

    /// Stops a container: `stop.sh`, up to `grace` for the app to exit, then `kill.sh`, then
    /// SIGTERM and SIGKILL to its process group and session. Nothing it started survives.
    pub fn stop(&self, query: &str, grace: Duration) -> Result<(State, StopOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        let outcome = self.stop_locked(&mut state, grace, false)?;
        Ok((state, outcome))
    }

    /// Kills a container at once: `kill.sh`, then SIGKILL to everything it runs.
    pub fn kill(&self, query: &str) -> Result<(State, StopOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        let outcome = self.stop_locked(&mut state, Duration::ZERO, true)?;
        Ok((state, outcome))
    }

    fn stop_locked(
        &self,
        state: &mut State,
        grace: Duration,
        kill: bool,
    ) -> Result<StopOutcome, ContainerError> {
        let was_running = state.status == Status::Running;
        let mut killed = false;
        if let Some(main) = state.process.filter(|_| was_running) {
            let started = Instant::now();
            if !kill {
                let _ =
                    scripts::run_script("stop", &self.script_run(state, grace.max(Duration::from_secs(1))))?;
                let left = grace.saturating_sub(started.elapsed());
                process::wait_for_exit(&main, left);
            }
            if main.is_running()
                && scripts::run_script("kill", &self.script_run(state, KILL_SCRIPT_TIMEOUT))?.is_some()
            {
                process::wait_for_exit(&main, Duration::from_secs(if kill { 1 } else { 2 }));
            }
            if main.is_running() {
                let grace = if kill {
                    Duration::ZERO
                } else {
                    Duration::from_secs(1)
                };
                killed = process::terminate_group(&main, grace)?.needed_kill() || kill;
            }
        }
        killed |= self.sweep(state);
        if !was_running {
            return Ok(StopOutcome::NotRunning);
        }
        state.status = Status::Exited;
        state.finished_at = Some(jiff::Timestamp::now());
        if killed {
            state.exit_code = Some(137);
        }
        self.save(state)?;
        Ok(StopOutcome::Stopped { killed })
    }

    /// SIGKILLs whatever is left of the container in its session (children that ignored SIGTERM,
    /// or outlived the main process). Returns whether anything was left.
    fn sweep(&self, state: &State) -> bool {
        let Some(sid) = state.session else { return false };
        let marker = format!("{CONTAINER_ID_VAR}={}", state.id);
        let leftovers = process::container_leftovers(sid, &marker, state.launched_ticks);
        for p in &leftovers {
            if p.is_running() {
                let _ = platform::signal_group(p.pid, platform::Signal::Kill);
            }
        }
        for p in &leftovers {
            process::wait_for_exit(p, Duration::from_secs(2));
        }
        !leftovers.is_empty()
    }

    /// Stop, then start, keeping the container's ports.
    pub fn restart(&self, query: &str, grace: Duration) -> Result<State, ContainerError> {
        let id = {
            let (mut state, _lock) = self.lock(query)?;
            self.stop_locked(&mut state, grace, false)?;
            state.id
        };
        let (state, _) = self.start(&id)?;
        Ok(state)
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

    /// Removes a container: its folder and its port leases. A running one is refused unless
    /// `force`, which kills it first; a pod's container is the daemon's to remove.
    pub fn remove(&self, query: &str, force: bool, allow_owned: bool) -> Result<State, ContainerError> {
        let (mut state, lock) = self.lock(query)?;
        if let (Some(pod), false) = (state.owner_pod(), allow_owned) {
            return Err(ContainerError::OwnedByDaemon {
                name: state.name.clone(),
                pod: pod.to_owned(),
            });
        }
        if state.status == Status::Running {
            if !force {
                return Err(ContainerError::Running {
                    name: state.name.clone(),
                });
            }
            self.stop_locked(&mut state, Duration::ZERO, true)?;
        } else {
            self.sweep(&state);
        }
        // Move the folder out of `containers/` first: a half-deleted container is never listed.
        let dir = self.layout.container_dir(&state.id);
        let doomed = self.layout.staging_dir().join(format!("{}.removing", state.id));
        fs_err::create_dir_all(self.layout.staging_dir()).map_err(io_err(&doomed))?;
        fs_err::rename(&dir, &doomed).map_err(io_err(&dir))?;
        drop(lock);
        ports::release(&self.layout, &state.id)?;
        match std::fs::remove_dir_all(&doomed) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&doomed)(e)),
            _ => {}
        }
        Ok(state)
    }

    /// `jube run`: the app in the foreground through `run.sh`; returns its exit code.
    pub fn run_foreground(&self, query: &str) -> Result<i32, ContainerError> {
        let (mut state, lock) = self.lock(query)?;
        let app_base = self.app_base(&state);
        if !scripts::script_path(&app_base, "run").is_file() {
            return Err(ContainerError::NoRunScript {
                name: state.name.clone(),
                script: platform::script_name("run"),
            });
        }
        state.status = Status::Running;
        state.started_at = Some(jiff::Timestamp::now());
        state.process = None;
        self.save(&state)?;
        drop(lock);
        let env = self.script_run(&state, Duration::ZERO).env;
        let code = scripts::run_foreground(&app_base, "run", &env);
        let (mut state, _lock) = self.lock(&state.id)?;
        state.status = Status::Exited;
        state.finished_at = Some(jiff::Timestamp::now());
        state.exit_code = code.as_ref().ok().copied();
        self.save(&state)?;
        Ok(code?)
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
}

/// Describes a failed script run for the error message.
fn describe(outcome: &ScriptOutcome, timeout: Duration) -> String {
    match (outcome.timed_out, outcome.code) {
        (true, _) => format!(
            "did not finish within {}s and was killed (raise {} for slow scripts)",
            timeout.as_secs_f64(),
            EnvVars::JUBE_SCRIPT_TIMEOUT
        ),
        (false, Some(code)) => format!("failed with exit code {code}"),
        (false, None) => "failed".to_owned(),
    }
}

fn read_tail(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(scripts::TAIL_LINES)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// Matches `-p NAME=HOSTPORT` to the image's declared ports (case-insensitively, as the env
/// variable names are upper case anyway).
fn port_requests(
    declared: &[(String, u16)],
    wanted: &[(String, u16)],
) -> Result<Vec<PortRequest>, ContainerError> {
    for (name, _) in wanted {
        if !declared.iter().any(|(d, _)| d.eq_ignore_ascii_case(name)) {
            let known = declared
                .iter()
                .map(|(d, _)| d.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ContainerError::UnknownPort {
                name: name.clone(),
                known: if known.is_empty() { "none".into() } else { known },
            });
        }
    }
    Ok(declared
        .iter()
        .map(|(name, container_port)| PortRequest {
            name: name.clone(),
            container_port: *container_port,
            host_port: wanted
                .iter()
                .rev()
                .find(|(w, _)| w.eq_ignore_ascii_case(name))
                .map(|(_, p)| *p),
        })
        .collect())
}

/// The variables jube gives a container: APP_BASE, one `<NAME>_PORT` per lease, then the user's.
fn container_env(app_base: &Path, leases: &[Lease], user: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = vec![("APP_BASE".to_owned(), app_base.to_string_lossy().into_owned())];
    for lease in leases {
        env.push((envfile::port_variable(&lease.name), lease.host_port.to_string()));
    }
    let mut seen: HashSet<String> = HashSet::new();
    // A later -e wins over an earlier one and over jube's own, as in docker.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in env.into_iter().chain(user.iter().cloned()).rev() {
        if seen.insert(k.clone()) {
            merged.push((k, v));
        }
    }
    merged.reverse();
    merged
}

/// Writes jube's lines into env.sh (created when the image has none) and into env.bat when the
/// image ships one.
fn write_env_files(app_base: &Path, env: &[(String, String)]) -> Result<(), ContainerError> {
    let sh = app_base.join("env.sh");
    let original = match std::fs::read_to_string(&sh) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from("#!/bin/sh\n"),
        Err(e) => return Err(ContainerError::Io { path: sh, source: e }),
    };
    let mode = fsutil::mode_of(&sh).or(Some(0o755));
    fsutil::write_atomic_mode(&sh, envfile::insert_sh(&original, env)?.as_bytes(), mode)
        .map_err(io_err(&sh))?;
    let bat = app_base.join("env.bat");
    if let Ok(original) = std::fs::read_to_string(&bat) {
        fsutil::write_atomic(&bat, envfile::insert_bat(&original, env)?.as_bytes()).map_err(io_err(&bat))?;
    }
    Ok(())
}

/// A container under construction in `JUBE_HOME/tmp/<id>`, with a lock that marks its creator as
/// alive. Dropped without `commit`, it removes itself and gives back its ports.
struct Stage {
    dir: PathBuf,
    id: String,
    layout: Layout,
    lock: Option<LockedFile>,
    committed: bool,
}

impl Stage {
    fn begin(layout: &Layout, id: &str) -> Result<Self, ContainerError> {
        let dir = layout.staging_dir().join(id);
        let lock = LockedFile::acquire(&dir.with_extension("lock"), "a container being created")?;
        fs_err::create_dir(&dir).map_err(|e| ContainerError::Io {
            path: dir.clone(),
            source: e,
        })?;
        Ok(Self {
            dir,
            id: id.to_owned(),
            layout: layout.clone(),
            lock: Some(lock),
            committed: false,
        })
    }

    fn commit(mut self, target: &Path) -> Result<(), ContainerError> {
        let _ = std::fs::remove_file(self.dir.join("name"));
        fs_err::rename(&self.dir, target).map_err(io_err(target))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            let _ = ports::release(&self.layout, &self.id);
        }
        if let Some(lock) = self.lock.take() {
            let path = lock.path().to_owned();
            drop(lock);
            let _ = std::fs::remove_file(path);
        }
    }
}
