//! Windows: batch files run by cmd, detached process groups, taskkill for whole process trees.
//! Linux builds never compile this file, so it stays small; the argument lists it uses live in
//! `mod.rs`, where Linux tests cover them.

use std::io;
use std::os::windows::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

use super::{Signal, WINDOWS_DETACH_FLAGS, cmd_args, taskkill_args, taskkill_succeeded};
use crate::container::process::{self, ProcessError};

pub const SCRIPT_EXT: &str = "bat";
pub const ENV_FILE: &str = "env.bat";

/// `cmd /C <script>`.
pub fn script_command(script: &Path) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.args(cmd_args(script));
    cmd
}

/// A pod's `command`, run as the app process itself (the environment comes from jube's variables).
pub fn app_command(argv: &[String]) -> Command {
    let mut cmd = Command::new(argv.first().map(String::as_str).unwrap_or("cmd"));
    cmd.args(argv.iter().skip(1));
    cmd
}

/// A new process group without a console: the app outlives jube and misses jube's Ctrl-C.
pub fn detach(cmd: &mut Command) {
    cmd.creation_flags(WINDOWS_DETACH_FLAGS);
}

/// Windows has no execute bit.
pub fn make_executable(_path: &Path) -> io::Result<()> {
    Ok(())
}

pub fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}

/// The process tree under a pid, as `taskkill /T` sees it.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pid: u32,
}

impl Group {
    pub fn of(pid: u32) -> Option<Self> {
        is_alive(pid).then_some(Self { pid })
    }

    pub fn signal(&self, sig: Signal) -> Result<(), ProcessError> {
        let failed = |source| ProcessError::Signal {
            pid: self.pid,
            signal: sig,
            source,
        };
        let output = Command::new("taskkill")
            .args(taskkill_args(self.pid, sig))
            .output()
            .map_err(failed)?;
        if taskkill_succeeded(output.status.code()) {
            return Ok(());
        }
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(failed(io::Error::other(message)))
    }

    pub fn has_living_members(&self) -> bool {
        is_alive(self.pid)
    }
}

/// Ends `pid` (and, as taskkill works, what it started).
pub fn signal_process(pid: u32, sig: Signal) -> Result<(), ProcessError> {
    match Group::of(pid) {
        Some(group) => group.signal(sig),
        None => Ok(()),
    }
}

fn is_alive(pid: u32) -> bool {
    process::stat(pid).is_some_and(|s| !s.exited)
}

/// Ctrl-C reaches the whole console group on Windows; jube simply waits for the child.
pub struct ForegroundSignals;

impl ForegroundSignals {
    pub fn install() -> Result<Self, ProcessError> {
        Ok(Self)
    }

    pub fn watch(&self, _pid: u32) {}
}

/// Windows has no subreapers; exit codes of apps started by scripts stay unknown.
pub fn become_subreaper() -> bool {
    false
}

pub fn reap_orphans() -> Vec<(u32, i32)> {
    Vec::new()
}
