//! Stopping a container (`stop.sh`, the grace period, `kill.sh`, then signals), killing it,
//! restarting it, and removing it. Nothing a container started survives a stop: the processes
//! that carry its marker are swept at the end, wherever they went.

use std::time::{Duration, Instant};

use super::{ContainerError, Containers, StopOutcome, io_err};
use crate::container::platform::{Group, Signal};
use crate::container::ports;
use crate::container::process::{self, ProcessId};
use crate::container::scripts;
use crate::container::state::{State, Status};

/// How long kill.sh may take; it is the last polite step before signals.
const KILL_SCRIPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the app gets to go after kill.sh.
const AFTER_KILL_SCRIPT: Duration = Duration::from_secs(2);
/// stop.sh always gets at least this long, even with `stop -t 0`.
const MIN_STOP_SCRIPT: Duration = Duration::from_secs(1);
/// Between the last SIGTERM and SIGKILL, once the grace period is over.
const LAST_TERM_GRACE: Duration = Duration::from_secs(1);
/// SIGKILL cannot be refused; this is how long the kernel gets to carry it out.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How often the sweep looks for what is left of a container.
const SWEEP_ROUNDS: usize = 5;

/// How to end the app.
#[derive(Clone, Copy, Debug)]
enum Halt {
    /// `stop.sh` (or SIGTERM), up to the grace period, then `kill.sh`, then signals.
    Stop(Duration),
    /// `kill.sh`, then SIGKILL.
    Kill,
}

impl Containers {
    /// Stops a container: `stop.sh` (SIGTERM when the image has none), up to `grace` for the app to
    /// exit, then `kill.sh`, then SIGTERM and SIGKILL to its process group and session. Nothing it
    /// started survives.
    pub fn stop(&self, query: &str, grace: Duration) -> Result<(State, StopOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        let outcome = self.stop_locked(&mut state, Halt::Stop(grace))?;
        Ok((state, outcome))
    }

    /// Kills a container at once: `kill.sh`, then SIGKILL to everything it runs.
    pub fn kill(&self, query: &str) -> Result<(State, StopOutcome), ContainerError> {
        let (mut state, _lock) = self.lock(query)?;
        let outcome = self.stop_locked(&mut state, Halt::Kill)?;
        Ok((state, outcome))
    }

    /// Stop, then start, keeping the container's ports.
    pub fn restart(&self, query: &str, grace: Duration) -> Result<State, ContainerError> {
        let id = {
            let (mut state, _lock) = self.lock(query)?;
            self.stop_locked(&mut state, Halt::Stop(grace))?;
            state.id
        };
        let (state, _) = self.start(&id)?;
        Ok(state)
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
        if state.status == Status::Running && !force {
            return Err(ContainerError::Running {
                name: state.name.clone(),
            });
        }
        self.stop_locked(&mut state, Halt::Kill)?;
        if state.isolated {
            let work = self.layout.container_dir(&state.id).join("isolated");
            crate::oci::isolate::remove(&state.id, &work);
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

    fn stop_locked(&self, state: &mut State, halt: Halt) -> Result<StopOutcome, ContainerError> {
        let running = state.process.filter(|_| state.status == Status::Running);
        let killed = match (running, halt) {
            (None, _) => false,
            (Some(main), Halt::Stop(grace)) => self.stop_app(state, &main, grace)?,
            (Some(main), Halt::Kill) => self.kill_app(state, &main)?,
        };
        let leftovers = self.sweep(state);
        if running.is_none() {
            return Ok(StopOutcome::NotRunning { leftovers });
        }
        state.status = Status::Exited;
        state.finished_at = Some(jiff::Timestamp::now());
        state.exit_code = killed.then_some(137);
        state.process = None;
        self.save(state)?;
        Ok(StopOutcome::Stopped { killed, leftovers })
    }

    /// The polite way, then the forceful one; returns whether force was needed.
    fn stop_app(&self, state: &State, main: &ProcessId, grace: Duration) -> Result<bool, ContainerError> {
        let deadline = Instant::now() + grace;
        let stop_script = self.script_run(state, grace.max(MIN_STOP_SCRIPT));
        if scripts::run_script("stop", &stop_script)?.is_none() {
            self.signal_app(state, main, Signal::Term)?;
        }
        process::wait_for_exit(main, deadline.saturating_duration_since(Instant::now()));
        if !main.is_running() {
            return Ok(false);
        }
        if scripts::run_script("kill", &self.script_run(state, KILL_SCRIPT_TIMEOUT))?.is_some() {
            process::wait_for_exit(main, AFTER_KILL_SCRIPT);
        }
        if main.is_running() {
            self.force(state, main, LAST_TERM_GRACE)?;
        }
        Ok(true)
    }

    fn kill_app(&self, state: &State, main: &ProcessId) -> Result<bool, ContainerError> {
        if scripts::run_script("kill", &self.script_run(state, KILL_SCRIPT_TIMEOUT))?.is_some() {
            process::wait_for_exit(main, AFTER_KILL_SCRIPT);
        }
        self.force(state, main, Duration::ZERO)?;
        Ok(true)
    }

    /// Sends `sig` to the app: to its process group and session, or, for an app attached to a
    /// `jube run` (whose group and session are the user's terminal's), to each of its processes.
    fn signal_app(&self, state: &State, main: &ProcessId, sig: Signal) -> Result<(), ContainerError> {
        if state.attached {
            process::signal_each(&self.leftovers(state), sig);
            return Ok(());
        }
        // The identity check after reading the group proves the group is still this app's.
        if let Some(group) = Group::of(main.pid)
            && main.is_running()
        {
            group.signal(sig)?;
        }
        Ok(())
    }

    /// SIGTERM, `grace`, SIGKILL (SIGKILL alone when `grace` is zero) to what is left of the app.
    fn force(&self, state: &State, main: &ProcessId, grace: Duration) -> Result<(), ContainerError> {
        if !state.attached {
            if grace.is_zero() {
                process::kill_group(main)?;
            } else {
                process::terminate_group(main, grace)?;
            }
            return Ok(());
        }
        let marked = self.leftovers(state);
        if !grace.is_zero() {
            process::signal_each(&marked, Signal::Term);
            if process::wait_for_all(&marked, grace) {
                return Ok(());
            }
        }
        process::signal_each(&marked, Signal::Kill);
        process::wait_for_all(&marked, KILL_WAIT);
        Ok(())
    }

    /// SIGKILLs whatever is left of the container (children that ignored SIGTERM, outlived the
    /// main process, or ran away into sessions of their own). Returns how many there were.
    pub(super) fn sweep(&self, state: &State) -> usize {
        let mut killed = std::collections::BTreeSet::new();
        // Looked for again until none is found: a parent may fork while its children are killed,
        // and a process caught in the middle of an exec cannot be told apart yet.
        for _ in 0..SWEEP_ROUNDS {
            let leftovers = self.leftovers(state);
            if leftovers.is_empty() {
                break;
            }
            process::signal_each(&leftovers, Signal::Kill);
            process::wait_for_all(&leftovers, KILL_WAIT);
            killed.extend(leftovers.iter().map(|p| (p.pid, p.start_time)));
        }
        killed.len()
    }

    fn leftovers(&self, state: &State) -> Vec<ProcessId> {
        let session = state.session.filter(|_| !state.attached);
        process::container_leftovers(session, &Self::marker(state), state.launched_ticks)
    }
}
