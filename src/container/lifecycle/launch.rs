//! Starting a container: in the background through `start.sh` (or `run.sh` detached), or in the
//! foreground of `jube run`. Either way jube records the app's pid with its start time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ContainerError, Containers, StartOutcome, io_err};
use crate::container::logpipe;
use crate::container::logset::LogSet;
use crate::container::logsize::LogLimits;
use crate::container::platform;
use crate::container::process::{self, ProcessError, ProcessId};
use crate::container::scripts::{self, ScriptOutcome};
use crate::container::state::{LastRun, Launch, State, Status};
use crate::env_vars::EnvVars;

impl Containers {
    /// Starts a container through `start.sh` (or `run.sh` detached). Starting a running container
    /// does nothing and says so. A failed start leaves the container `failed`, with nothing of it
    /// running.
    pub fn start(&self, query: &str) -> Result<(State, StartOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        if !state.status.can_start() {
            return Ok((state, StartOutcome::AlreadyRunning));
        }
        // Refused before anything changes: the log's bounds come from the environment.
        LogLimits::from_env().map_err(ProcessError::from)?;
        // What an earlier run left behind would hold the ports the app is about to bind. A
        // container never launched has nothing behind it, and the look costs a read of every
        // process's environment; so a launch is recorded before it begins, and one that was cut
        // short (jube killed mid-start) is swept up by the next.
        if state.launched_ticks.is_some() || state.started_at.is_some() {
            self.sweep(&state);
        }
        let app_base = self.app_base(&state);
        process::remove_pid_files(&app_base).map_err(io_err(&app_base))?;
        // Each run has a log of its own; the one before is kept for `logs --previous`.
        if state.started_at.is_some() {
            let console = self.console_log(&state);
            LogSet::new(&console).archive().map_err(io_err(&console))?;
        }
        let since = process::now_ticks();
        if state.launched_ticks.is_none() {
            state.launched_ticks = since.or(Some(0));
            self.save(&state)?;
        }
        let (id, session) = match state.launch {
            _ if state.isolated => match self.launch_isolated(&state, &app_base)? {
                Some(id) => (id, Some(id.pid)),
                None => {
                    let pid = process::read_pid_file(&app_base).unwrap_or_default();
                    return self.ended_at_once(state, pid, since);
                }
            },
            Launch::StartScript => match self.run_start_script(&state, &app_base, since)? {
                Started::App { id, session } => (id, session),
                Started::Ended { pid } => return self.ended_at_once(state, pid, since),
                Started::Failed { how, tail } => {
                    let script = platform::script_name("start");
                    return Err(self.fail(&mut state, &script, how, tail));
                }
            },
            Launch::RunScript => {
                let run = self.script_run(&state, self.timeouts.script);
                let id = scripts::spawn_detached(&app_base, "run", &state.argv, &run.env, &run.log)?;
                (id, Some(id.pid))
            }
            Launch::Command => {
                let run = self.script_run(&state, self.timeouts.script);
                let id = scripts::spawn_detached_argv(&app_base, &state.argv, &run.env, &run.log)?;
                (id, Some(id.pid))
            }
        };
        remember_last_run(&mut state);
        state.mark_running(id, session, false, since);
        self.save(&state)?;
        Ok((state, StartOutcome::Started))
    }

    /// Starts the app under the container runtime; `None` when it ended before jube saw it.
    fn launch_isolated(&self, state: &State, app_base: &Path) -> Result<Option<ProcessId>, ContainerError> {
        let run = self.script_run(state, self.timeouts.script);
        let argv: Vec<String> = match state.launch {
            Launch::Command => {
                let cmd = platform::app_command(&state.argv);
                std::iter::once(cmd.get_program())
                    .chain(cmd.get_args())
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            }
            _ => std::iter::once(
                scripts::script_path(app_base, "run")
                    .to_string_lossy()
                    .into_owned(),
            )
            .chain(state.argv.iter().cloned())
            .collect(),
        };
        // The app gets jube's environment with the container's variables on top, as a script does.
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| !run.env.iter().any(|(r, _)| r == k))
            .collect();
        env.extend(run.env.iter().cloned());
        let work = self.layout.container_dir(&state.id).join("isolated");
        let pid = crate::oci::isolate::launch(crate::oci::isolate::Launch {
            id: &state.id,
            work: &work,
            app_base,
            argv,
            env,
            output: logpipe::open(&run.log)?,
        })?;
        let pid_file = app_base.join(process::PID_FILE);
        crate::fsutil::write_atomic(&pid_file, format!("{pid}\n").as_bytes()).map_err(io_err(&pid_file))?;
        Ok(ProcessId::capture(pid).filter(ProcessId::is_running))
    }

    /// Runs `start.sh` and finds the app it started: its pid file, naming a running process of
    /// this container. An error is jube's own; the image's failures are [`Started::Failed`].
    fn run_start_script(
        &self,
        state: &State,
        app_base: &Path,
        since: Option<u64>,
    ) -> Result<Started, ContainerError> {
        let run = self.script_run(state, self.timeouts.script);
        let outcome = scripts::run_script("start", &run)?.ok_or_else(|| ProcessError::MissingScript {
            path: scripts::script_path(app_base, "start"),
        })?;
        if !outcome.success() {
            return Ok(Started::Failed {
                how: describe(&outcome, self.timeouts.script),
                tail: outcome.tail(),
            });
        }
        // Read again: the app may have said why it died after start.sh ended.
        let tail = || scripts::read_tail(&run.log, outcome.log_start, scripts::TAIL_LINES);
        let Some(pid) = process::wait_for_pid_file(app_base, self.timeouts.pid_file) else {
            let how = format!(
                "exited 0 but no pid file appeared within {}s (jube looks for process.pid, \
                 var/process.pid and var/run/*.pid; raise {} for slow apps)",
                self.timeouts.pid_file.as_secs_f64(),
                EnvVars::JUBE_PID_TIMEOUT
            );
            return Ok(Started::Failed { how, tail: tail() });
        };
        let Some(id) = ProcessId::capture(pid).filter(ProcessId::is_running) else {
            return Ok(Started::Ended { pid });
        };
        if !process::is_container_process(pid, &Self::marker(state), since) {
            let how = format!(
                "wrote pid {pid}, which is not a process this container started (a stale pid file, \
                 or a pid in use by another program)"
            );
            return Ok(Started::Failed { how, tail: tail() });
        }
        // The session start.sh ran in is the container's alone; one the app made for itself
        // (or found) is left to the marker.
        let session = process::session_of(pid).filter(|sid| *sid == outcome.pid);
        Ok(Started::App { id, session })
    }

    /// Records a run that ended before jube saw it running: the container has exited (with the
    /// code when a supervisor reaps the app), and whatever the app left behind is swept up.
    fn ended_at_once(
        &self,
        mut state: State,
        pid: u32,
        since: Option<u64>,
    ) -> Result<(State, StartOutcome), ContainerError> {
        remember_last_run(&mut state);
        let now = jiff::Timestamp::now();
        state.status = Status::Exited;
        state.process = Some(ProcessId::capture(pid).unwrap_or(ProcessId { pid, start_time: 0 }));
        state.session = None;
        state.attached = false;
        state.launched_ticks = since;
        state.started_at = Some(now);
        state.finished_at = Some(now);
        state.exit_code = None;
        state.error = None;
        self.sweep(&state);
        self.save(&state)?;
        Ok((state, StartOutcome::EndedAtOnce))
    }

    /// Marks a failed start: whatever the script left running is killed, so that nothing of a
    /// `failed` container runs untracked.
    fn fail(&self, state: &mut State, script: &str, how: String, tail: Vec<String>) -> ContainerError {
        self.sweep(state);
        state.status = Status::Failed;
        state.error = Some(format!("{script} {how}"));
        state.process = None;
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

    /// `jube run`: the app in the foreground through `run.sh`; returns its exit code. The app
    /// shares jube's terminal, so Ctrl-C reaches it; whatever it leaves behind is killed when it
    /// ends.
    pub fn run_foreground(&self, query: &str) -> Result<i32, ContainerError> {
        let (state, lock) = self.lock(query)?;
        if !state.status.can_start() {
            return Err(ContainerError::Running {
                name: state.name.clone(),
            });
        }
        if state.isolated {
            return Err(ContainerError::IsolatedForeground {
                name: state.name.clone(),
            });
        }
        let app_base = self.app_base(&state);
        if !scripts::script_path(&app_base, "run").is_file() {
            return Err(ContainerError::NoRunScript {
                name: state.name.clone(),
                script: platform::script_name("run"),
            });
        }
        drop(lock);
        let env = self.script_run(&state, Duration::ZERO).env;
        let since = process::now_ticks();
        let mut recorded = None;
        let code = scripts::run_foreground(&app_base, "run", &env, |pid| {
            recorded = self.record_attached(&state.id, pid, since).ok();
        });
        let (mut state, _lock) = self.lock(&state.id)?;
        // A `jube stop` from elsewhere may have ended it meanwhile (the code seen here is still the
        // truth), but a `jube start` after that made a new run that is not this command's to end.
        let restarted = state.status == Status::Running && state.process != recorded;
        if !restarted {
            self.sweep(&state);
            state.status = Status::Exited;
            state.finished_at = Some(jiff::Timestamp::now());
            state.exit_code = code.as_ref().ok().copied();
            state.process = None;
            self.save(&state)?;
        }
        Ok(code?)
    }

    /// `jube exec`: `program` with `args` in the running container's folder, with the container's
    /// environment and `env` on top, in the foreground; returns its exit code. What it starts
    /// carries the container's marker, so stopping the container ends that too.
    pub fn exec(
        &self,
        query: &str,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<i32, ContainerError> {
        let found = self.find(query)?;
        let state = self.observe(&found.id)?;
        if state.status != Status::Running {
            return Err(ContainerError::NotRunning { name: state.name });
        }
        let (app_base, mut all) = self.exec_context(&state);
        all.extend(env.iter().cloned());
        Ok(scripts::exec_foreground(&app_base, program, args, &all)?)
    }

    /// Where a command run in the container runs (its folder) and the variables it gets on top
    /// of the caller's: the app's own.
    pub fn exec_context(&self, state: &State) -> (PathBuf, Vec<(String, String)>) {
        let run = self.script_run(state, Duration::ZERO);
        (run.app_base, run.env)
    }

    /// Records the app `jube run` just started, so `ps`, `stop` and `status` see it.
    fn record_attached(&self, id: &str, pid: u32, since: Option<u64>) -> Result<ProcessId, ContainerError> {
        let (mut state, _lock) = self.lock(id)?;
        let process = ProcessId::capture(pid).ok_or_else(|| ContainerError::NotFound(id.to_owned()))?;
        state.mark_running(process, None, true, since);
        self.save(&state)?;
        Ok(process)
    }
}

/// What `start.sh` led to.
enum Started {
    /// The app runs; `session` when it is still in the session jube made for start.sh.
    App { id: ProcessId, session: Option<u32> },
    /// The pid file start.sh wrote (jube removed any older one first) names an app that has
    /// already ended.
    Ended { pid: u32 },
    /// The image failed to start: how, and the last lines of output.
    Failed { how: String, tail: Vec<String> },
}

/// Keeps how the previous run ended, before a new one starts (what Kubernetes shows as `lastState`).
fn remember_last_run(state: &mut State) {
    if state.started_at.is_some() {
        state.last_run = Some(LastRun {
            exit_code: state.exit_code,
            started_at: state.started_at,
            finished_at: state.finished_at,
        });
    }
}

/// Describes a failed script run for the error message.
fn describe(outcome: &ScriptOutcome, timeout: Duration) -> String {
    match (outcome.timed_out, outcome.code) {
        (true, _) => format!(
            "did not finish within {}s and was killed with what it started (raise {} for slow scripts)",
            timeout.as_secs_f64(),
            EnvVars::JUBE_SCRIPT_TIMEOUT
        ),
        (false, Some(code)) => format!("failed with exit code {code}"),
        (false, None) => "failed".to_owned(),
    }
}
