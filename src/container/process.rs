//! Process identity that survives pid reuse, pid files, and the stop sequence.
//!
//! A pid alone names whatever process holds that number now, so jube keeps the pid together with
//! the process's start time and treats a different start time as "gone". Zombies count as exited.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

use crate::container::platform::{Group, Signal};
use crate::fsutil;

/// The pid file jube writes for apps it starts through `run.sh`.
pub const PID_FILE: &str = "process.pid";

/// Why starting, watching or stopping a process failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {} with {shell}: {source}; check that {shell} is installed and on PATH", script.display())]
    Spawn {
        script: PathBuf,
        shell: String,
        source: io::Error,
    },
    #[error("{} does not exist; the image has no such script", path.display())]
    MissingScript { path: PathBuf },
    #[error("cannot run `{program}` in {}: {source}", app_base.display())]
    Exec {
        program: String,
        app_base: PathBuf,
        source: io::Error,
    },
    #[error("could not open log file {}: {source}", path.display())]
    Log { path: PathBuf, source: io::Error },
    #[error(transparent)]
    LogLimits(#[from] crate::container::logsize::LogLimitError),
    #[error(
        "could not write pid file {}: {source}; the process was stopped so it does not run untracked",
        path.display()
    )]
    PidFile { path: PathBuf, source: io::Error },
    #[error("waiting for {} failed: {source}", script.display())]
    Wait { script: PathBuf, source: io::Error },
    #[error(
        "could not send {signal} to the processes of pid {pid}: {source}; check that jube runs as the user \
         that started them"
    )]
    Signal {
        pid: u32,
        signal: Signal,
        source: io::Error,
    },
    #[error("could not install jube's signal handlers: {source}")]
    SignalHandler { source: io::Error },
    #[error("{} exited before jube could record its process; see its log {}", script.display(), log.display())]
    Vanished { script: PathBuf, log: PathBuf },
}

/// A process as the OS identifies it: the pid plus the start time the OS reports for it (on Linux,
/// clock ticks after boot from `/proc/<pid>/stat`), which differs once the pid is reused.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// Exited, but its parent has not collected its status yet.
    Zombie,
    /// No process with this pid and start time exists.
    Gone,
}

impl ProcessId {
    /// The identity of the process holding `pid` now; `None` when there is none.
    pub fn capture(pid: u32) -> Option<Self> {
        stat(pid).map(|s| Self {
            pid,
            start_time: s.start_time,
        })
    }

    /// One read of the process's status; cheap enough to call for every container of `jube ps`.
    pub fn liveness(&self) -> Liveness {
        match stat(self.pid) {
            Some(s) if s.start_time == self.start_time && s.exited => Liveness::Zombie,
            Some(s) if s.start_time == self.start_time => Liveness::Running,
            _ => Liveness::Gone,
        }
    }

    pub fn is_running(&self) -> bool {
        self.liveness() == Liveness::Running
    }
}

/// What the OS reports about one process, as much as jube needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pid: u32,
    /// Zombie or dead: it has exited, whatever its parent does.
    pub exited: bool,
    /// Process group; unknown where only sysinfo is available.
    pub pgrp: Option<u32>,
    pub session: Option<u32>,
    pub start_time: u64,
}

/// Linux and most containers have procfs; reading one small file beats asking sysinfo. Only
/// Linux's procfs has this format, and under wine `/proc/self/stat` is a file too (drive Z: is
/// the Linux root), of the wine process's Linux pid: so only a Linux build looks.
fn has_procfs() -> bool {
    static PROCFS: OnceLock<bool> = OnceLock::new();
    *PROCFS.get_or_init(|| cfg!(target_os = "linux") && Path::new("/proc/self/stat").is_file())
}

pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    if pid == 0 {
        return None;
    }
    if has_procfs() {
        return procfs_stat(pid);
    }
    sysinfo_stats(ProcessesToUpdate::Some(&[sysinfo::Pid::from_u32(pid)]))
        .into_iter()
        .find(|s| s.pid == pid)
}

/// Every process on the machine.
pub(crate) fn processes() -> Vec<ProcStat> {
    if !has_procfs() {
        return sysinfo_stats(ProcessesToUpdate::All);
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(procfs_stat)
        .collect()
}

/// The running (not zombie) processes of session `sid`.
pub fn session_members(sid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|s| !s.exited && s.session == Some(sid))
        .map(|s| s.pid)
        .collect()
}

fn procfs_stat(pid: u32) -> Option<ProcStat> {
    use std::io::Read;
    // One read into a buffer the line fits in: no size lookup and no second read for the end,
    // which `jube ps` with hundreds of containers notices.
    let path = format!("/proc/{pid}/stat");
    let mut buf = [0u8; 2048];
    let n = std::fs::File::open(&path).ok()?.read(&mut buf).ok()?;
    if n == buf.len() {
        return parse_stat(pid, &std::fs::read_to_string(&path).ok()?);
    }
    // The command name may hold any bytes.
    parse_stat(pid, &String::from_utf8_lossy(&buf[..n]))
}

/// The session a running process belongs to.
pub fn session_of(pid: u32) -> Option<u32> {
    stat(pid).and_then(|s| s.session)
}

/// The clock as process start times read it (ticks since boot on Linux), so a container can
/// remember when it launched and later tell its own processes from newer ones.
pub fn now_ticks() -> Option<u64> {
    if !has_procfs() {
        return None;
    }
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let hz = clock_ticks_per_second()?;
    Some((secs * hz as f64) as u64)
}

#[cfg(unix)]
fn clock_ticks_per_second() -> Option<u64> {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
}

#[cfg(not(unix))]
fn clock_ticks_per_second() -> Option<u64> {
    None
}

/// What is still running of a container: every process whose environment carries `marker`
/// (`JUBE_CONTAINER_ID=<id>`, inherited by everything the scripts start, in whatever session or
/// group it ended up), and the members of session `sid` that started at or after `since` whose
/// environment carries no container's marker or cannot be read. The session counts only while one
/// of its members carries the marker: a session id is a pid, which cannot be reused while the
/// session has members, but can once it is empty, for anyone's new session. jube's own process is
/// never included.
pub fn container_leftovers(sid: Option<u32>, marker: &str, since: Option<u64>) -> Vec<ProcessId> {
    let me = std::process::id();
    // Without procfs (macOS, Windows) one sysinfo pass reads every environment at once.
    let sysinfo_marks = (!has_procfs()).then(|| sysinfo_marks(ProcessesToUpdate::All, marker));
    let marked: Vec<(ProcStat, Mark)> = processes()
        .into_iter()
        .filter(|s| !s.exited && s.pid != me)
        .map(|s| {
            let mark = match &sysinfo_marks {
                Some(marks) => marks.get(&s.pid).copied().unwrap_or(Mark::Unknown),
                None => mark_of(s.pid, marker),
            };
            (s, mark)
        })
        .collect();
    let session = sid.filter(|sid| {
        marked
            .iter()
            .any(|(s, mark)| s.session == Some(*sid) && *mark == Mark::Ours)
    });
    marked
        .into_iter()
        .filter(|(s, mark)| match mark {
            Mark::Ours => true,
            Mark::Other => false,
            Mark::Unmarked | Mark::Unknown => {
                session.is_some() && s.session == session && since.is_none_or(|t| s.start_time >= t)
            }
        })
        .map(|(s, _)| ProcessId {
            pid: s.pid,
            start_time: s.start_time,
        })
        .collect()
}

/// Whether the running process `pid` can be the container's: its environment carries `marker`,
/// or carries no container's marker (or cannot be read) and it started at or after `since`. A pid
/// file naming a process of another container, or one older than the launch (a stale or reused
/// pid), is refused.
///
/// A process in the middle of an exec can read torn (the environment's first pages from the old
/// program, the rest from the new one), so a refusal is asked again a few times while the process
/// stays alive: a start script that records `$!` is usually looked at just then.
pub fn is_container_process(pid: u32, marker: &str, since: Option<u64>) -> bool {
    const TRIES: u32 = 10;
    for attempt in 1..=TRIES {
        if looks_like_container_process(pid, marker, since) {
            return true;
        }
        let alive = stat(pid).is_some_and(|s| !s.exited);
        if !alive || attempt == TRIES {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn looks_like_container_process(pid: u32, marker: &str, since: Option<u64>) -> bool {
    match mark_of(pid, marker) {
        Mark::Ours => true,
        Mark::Other => false,
        Mark::Unmarked | Mark::Unknown => {
            stat(pid).is_some_and(|s| !s.exited && since.is_none_or(|t| s.start_time >= t))
        }
    }
}

/// What a process's environment says about which container it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// It carries `marker`.
    Ours,
    /// It carries the marker's variable with another value: another container's.
    Other,
    /// No container's marker.
    Unmarked,
    /// Unreadable (another user's), or empty, as it reads while the process is in the middle of
    /// an exec.
    Unknown,
}

/// Reads the environment once: two reads could straddle an exec and contradict each other.
fn mark_of(pid: u32, marker: &str) -> Mark {
    if !has_procfs() {
        let only = [sysinfo::Pid::from_u32(pid)];
        return sysinfo_marks(ProcessesToUpdate::Some(&only), marker)
            .get(&pid)
            .copied()
            .unwrap_or(Mark::Unknown);
    }
    let Ok(bytes) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return Mark::Unknown;
    };
    mark_in(&bytes, marker)
}

/// The marks of processes as sysinfo reads their environments: `KERN_PROCARGS2` on macOS, the
/// process's own memory on Windows. This is how a container's orphans are found where there is
/// neither procfs nor a subreaper: whatever carries the marker is the container's, whoever its
/// parent is now.
fn sysinfo_marks(which: ProcessesToUpdate<'_>, marker: &str) -> std::collections::HashMap<u32, Mark> {
    let Ok(mut system) = System::new() else {
        return std::collections::HashMap::new();
    };
    let kind = ProcessRefreshKind::nothing().with_environ(sysinfo::UpdateKind::Always);
    system.refresh_processes_specifics(which, true, kind);
    system
        .processes()
        .iter()
        .map(|(pid, process)| {
            let mut environ = Vec::new();
            for entry in process.environ() {
                environ.extend_from_slice(entry.as_encoded_bytes());
                environ.push(0);
            }
            (pid.as_u32(), mark_in(&environ, marker))
        })
        .collect()
}

fn mark_in(environ: &[u8], marker: &str) -> Mark {
    if environ.is_empty() {
        return Mark::Unknown;
    }
    let name = marker.split_once('=').map_or(marker, |(n, _)| n).as_bytes();
    let mut other = false;
    for entry in environ.split(|b| *b == 0) {
        if entry == marker.as_bytes() {
            return Mark::Ours;
        }
        other |= entry.starts_with(name) && entry.get(name.len()) == Some(&b'=');
    }
    if other { Mark::Other } else { Mark::Unmarked }
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
fn parse_stat(pid: u32, line: &str) -> Option<ProcStat> {
    let (_, after_comm) = line.rsplit_once(')')?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // proc(5) numbers fields from 1, and the first one after the command is field 3.
    let field = |n: usize| fields.get(n - 3).copied();
    let number = |n: usize| field(n)?.parse::<u64>().ok();
    let id = |n: usize| u32::try_from(number(n)?).ok();
    let state = field(3)?;
    Some(ProcStat {
        pid,
        exited: matches!(state, "Z" | "X" | "x"),
        pgrp: id(5),
        session: id(6),
        start_time: number(22)?,
    })
}

fn sysinfo_stats(which: ProcessesToUpdate<'_>) -> Vec<ProcStat> {
    let Ok(mut system) = System::new() else {
        return Vec::new();
    };
    system.refresh_processes_specifics(which, true, ProcessRefreshKind::nothing());
    system
        .processes()
        .iter()
        .map(|(pid, process)| ProcStat {
            pid: pid.as_u32(),
            exited: matches!(process.status(), ProcessStatus::Zombie | ProcessStatus::Dead),
            pgrp: None,
            session: process.session_id().map(|sid| sid.as_u32()),
            start_time: process.start_time(),
        })
        .collect()
}

/// The pid recorded by the app: the first of `process.pid`, `var/process.pid` and
/// `var/run/*.pid` (by name) that holds a pid.
pub fn read_pid_file(app_base: &Path) -> Option<u32> {
    pid_files(app_base)
        .iter()
        .find_map(|path| parse_pid(&std::fs::read_to_string(path).ok()?))
}

/// Removes every pid file [`read_pid_file`] would read, so a restart never finds the last run's.
pub fn remove_pid_files(app_base: &Path) -> io::Result<()> {
    for path in pid_files(app_base) {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(fsutil::with_path(e, &path)),
            _ => {}
        }
    }
    Ok(())
}

/// Waits for the app to write a pid file, checking often at first and every 25 ms later.
pub fn wait_for_pid_file(app_base: &Path, timeout: Duration) -> Option<u32> {
    poll_until(timeout, Duration::from_millis(25), || read_pid_file(app_base))
}

/// Waits until the process has exited (a zombie has); `false` when it still runs at the timeout.
pub fn wait_for_exit(id: &ProcessId, timeout: Duration) -> bool {
    poll_until(timeout, Duration::from_millis(10), || {
        (!id.is_running()).then_some(())
    })
    .is_some()
}

fn pid_files(app_base: &Path) -> Vec<PathBuf> {
    let mut files = vec![app_base.join(PID_FILE), app_base.join("var").join(PID_FILE)];
    if let Ok(entries) = std::fs::read_dir(app_base.join("var").join("run")) {
        let mut run_files: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "pid"))
            .collect();
        run_files.sort();
        files.extend(run_files);
    }
    files
}

/// A pid as a pid file holds it; 0 and numbers beyond `i32` would address groups or nothing.
fn parse_pid(text: &str) -> Option<u32> {
    let pid = text.trim().parse::<u32>().ok()?;
    (pid > 0 && i32::try_from(pid).is_ok()).then_some(pid)
}

/// Calls `check` until it gives a value or `timeout` passes, pausing 1 ms at first and doubling up
/// to `max_pause`, so quick events are seen quickly and slow ones cost little.
pub(crate) fn poll_until<T>(
    timeout: Duration,
    max_pause: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(max_pause);
    }
}

/// How long to wait for processes to go after SIGKILL, which they cannot refuse.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How a stop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopResult {
    /// The process was no longer running (or its pid belongs to another process now).
    AlreadyExited,
    /// Everything exited within the grace period after SIGTERM.
    Terminated,
    /// Something outlived the grace period and was killed.
    Killed,
}

impl StopResult {
    pub fn needed_kill(self) -> bool {
        self == StopResult::Killed
    }
}

/// How to stop a container's processes: SIGTERM, then SIGKILL after `grace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopPlan {
    pub grace: Duration,
}

impl StopPlan {
    /// docker's default for `stop -t`.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

    pub fn run(&self, id: &ProcessId) -> Result<StopResult, ProcessError> {
        terminate_group(id, self.grace)
    }
}

impl Default for StopPlan {
    fn default() -> Self {
        Self {
            grace: Self::DEFAULT_GRACE,
        }
    }
}

/// The group and session of `id`, or `None` when it no longer runs. The pid might be freed and
/// reused between reading it and reading its group; only a second identity check after reading the
/// group proves the group is this process's.
fn verified_group(id: &ProcessId) -> Option<Group> {
    if !id.is_running() {
        return None;
    }
    let group = Group::of(id.pid)?;
    id.is_running().then_some(group)
}

/// Stops the process and everything in its group and session: SIGTERM, up to `grace` to exit,
/// then SIGKILL for whatever is left. A process whose start time no longer matches is not touched.
pub fn terminate_group(id: &ProcessId, grace: Duration) -> Result<StopResult, ProcessError> {
    let Some(group) = verified_group(id) else {
        return Ok(StopResult::AlreadyExited);
    };
    // A refused SIGTERM (Windows console apps cannot be asked to close) goes straight to the kill.
    let asked = group.signal(Signal::Term).is_ok();
    if asked && wait_for_group(&group, grace) {
        return Ok(StopResult::Terminated);
    }
    if !group.has_living_members() {
        return Ok(StopResult::Terminated);
    }
    group.signal(Signal::Kill)?;
    wait_for_group(&group, KILL_WAIT);
    Ok(StopResult::Killed)
}

/// SIGKILL to the process and everything in its group and session at once, as `docker kill` does.
pub fn kill_group(id: &ProcessId) -> Result<StopResult, ProcessError> {
    let Some(group) = verified_group(id) else {
        return Ok(StopResult::AlreadyExited);
    };
    group.signal(Signal::Kill)?;
    wait_for_group(&group, KILL_WAIT);
    Ok(StopResult::Killed)
}

/// Sends `sig` to each of `processes` that still is the process it was (same start time).
/// Processes that are gone, or not jube's to signal, are skipped.
pub fn signal_each(processes: &[ProcessId], sig: Signal) {
    for p in processes {
        if p.is_running() {
            let _ = crate::container::platform::signal_process(p.pid, sig);
        }
    }
}

/// Waits until none of `processes` runs; `false` when some still do at the timeout.
pub fn wait_for_all(processes: &[ProcessId], timeout: Duration) -> bool {
    poll_until(timeout, Duration::from_millis(25), || {
        processes.iter().all(|p| !p.is_running()).then_some(())
    })
    .is_some()
}

fn wait_for_group(group: &Group, timeout: Duration) -> bool {
    poll_until(timeout, Duration::from_millis(25), || {
        (!group.has_living_members()).then_some(())
    })
    .is_some()
}

/// Kills, when a test ends however it ends, what the test started.
#[cfg(all(test, unix))]
pub(crate) mod testutil {
    use std::process::Child;

    use crate::container::platform::{Group, Signal};

    #[derive(Default)]
    pub struct Cleanup {
        groups: Vec<Group>,
        children: Vec<Child>,
    }

    impl Cleanup {
        /// Keeps the child to kill and reap it at the end; returns its pid.
        pub fn own(&mut self, child: Child) -> u32 {
            let pid = child.id();
            self.children.push(child);
            pid
        }

        /// Kills the group and session of `pid` (which must run now) at the end.
        pub fn track_group(&mut self, pid: u32) {
            if let Some(group) = Group::of(pid) {
                self.groups.push(group);
            }
        }

        /// Collects the owned children that have exited, as their parent would.
        pub fn reap_all(&mut self) {
            for child in &mut self.children {
                let _ = child.wait();
            }
        }

        pub fn child(&mut self, pid: u32) -> &mut Child {
            self.children
                .iter_mut()
                .find(|c| c.id() == pid)
                .expect("the test owns this child")
        }
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            // Groups first: their leaders, if owned, are not reaped yet, so no group id is reused.
            for group in &self.groups {
                let _ = group.signal(Signal::Kill);
            }
            for child in &mut self.children {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(comm: &str, state: &str, starttime: &str) -> String {
        // Fields 1..=22 of proc(5), then a few more as the kernel writes them.
        format!(
            "4242 ({comm}) {state} 1 4200 4100 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {starttime} 1000 50 0"
        )
    }

    #[test]
    fn parse_stat_reads_state_group_session_and_start_time() {
        let parsed = parse_stat(4242, &stat_line("java", "S", "987654")).unwrap();
        assert_eq!(
            parsed,
            ProcStat {
                pid: 4242,
                exited: false,
                pgrp: Some(4200),
                session: Some(4100),
                start_time: 987654,
            }
        );
    }

    #[test]
    fn parse_stat_counts_fields_after_the_last_parenthesis() {
        let parsed = parse_stat(4242, &stat_line("evil) Z 9 9 9 (name", "R", "555")).unwrap();
        assert!(!parsed.exited);
        assert_eq!(parsed.start_time, 555);
        assert_eq!(parsed.pgrp, Some(4200));
    }

    #[test]
    fn parse_stat_marks_zombies_and_dead_processes_as_exited() {
        assert!(parse_stat(1, &stat_line("a", "Z", "1")).unwrap().exited);
        assert!(parse_stat(1, &stat_line("a", "X", "1")).unwrap().exited);
        assert!(!parse_stat(1, &stat_line("a", "D", "1")).unwrap().exited);
    }

    #[test]
    fn parse_stat_rejects_garbage() {
        assert_eq!(parse_stat(1, ""), None);
        assert_eq!(parse_stat(1, "4242 no parenthesis S 1 2 3"), None);
        assert_eq!(parse_stat(1, "4242 (short) S 1 2 3"), None);
        assert_eq!(parse_stat(1, &stat_line("a", "S", "soon")), None);
    }

    #[test]
    fn own_process_reads_as_running_and_stays_stable() {
        let first = ProcessId::capture(std::process::id()).unwrap();
        let again = ProcessId::capture(std::process::id()).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.liveness(), Liveness::Running);
        assert!(first.is_running());
    }

    #[test]
    fn impossible_pids_have_no_identity() {
        assert_eq!(ProcessId::capture(0), None);
        assert_eq!(ProcessId::capture(u32::MAX), None);
        let nobody = ProcessId {
            pid: u32::MAX,
            start_time: 1,
        };
        assert_eq!(nobody.liveness(), Liveness::Gone);
    }

    #[test]
    fn regression_an_environ_read_mid_exec_counted_as_another_containers() {
        let marker = "JUBE_CONTAINER_ID=abc";
        assert_eq!(mark_in(b"", marker), Mark::Unknown, "empty: mid-exec");
        assert_eq!(mark_in(b"A=1\0JUBE_CONTAINER_ID=abc\0", marker), Mark::Ours);
        assert_eq!(mark_in(b"JUBE_CONTAINER_ID=abcd\0", marker), Mark::Other);
        assert_eq!(
            mark_in(b"JUBE_CONTAINER_ID_X=abc\0PATH=/bin", marker),
            Mark::Unmarked
        );
    }

    #[test]
    fn process_id_round_trips_through_json() {
        let id = ProcessId {
            pid: 42,
            start_time: 123456789,
        };
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#"{"pid":42,"start_time":123456789}"#);
        assert_eq!(serde_json::from_str::<ProcessId>(&json).unwrap(), id);
    }

    #[test]
    fn pid_files_are_found_in_all_three_places_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("var/run")).unwrap();
        assert_eq!(read_pid_file(base), None);

        std::fs::write(base.join("var/run/b.pid"), "303").unwrap();
        std::fs::write(base.join("var/run/a.pid"), "  302\n").unwrap();
        std::fs::write(base.join("var/run/notes.txt"), "999").unwrap();
        assert_eq!(read_pid_file(base), Some(302), "var/run/*.pid, by name");

        std::fs::write(base.join("var/process.pid"), "201\n").unwrap();
        assert_eq!(read_pid_file(base), Some(201));

        std::fs::write(base.join(PID_FILE), "\t101 \n").unwrap();
        assert_eq!(read_pid_file(base), Some(101));
    }

    #[test]
    fn garbage_pid_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("var/run")).unwrap();
        std::fs::write(base.join(PID_FILE), "not a pid").unwrap();
        std::fs::write(base.join("var/process.pid"), "").unwrap();
        std::fs::write(base.join("var/run/a.pid"), "0").unwrap();
        std::fs::write(base.join("var/run/b.pid"), "-5").unwrap();
        std::fs::write(base.join("var/run/c.pid"), "4294967295").unwrap();
        std::fs::write(base.join("var/run/d.pid"), "12 34").unwrap();
        assert_eq!(read_pid_file(base), None);
        std::fs::write(base.join("var/run/e.pid"), "77").unwrap();
        assert_eq!(read_pid_file(base), Some(77));
    }

    #[test]
    fn remove_pid_files_clears_every_place_and_tolerates_absence() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        remove_pid_files(base).unwrap();
        std::fs::create_dir_all(base.join("var/run")).unwrap();
        std::fs::write(base.join(PID_FILE), "1").unwrap();
        std::fs::write(base.join("var/process.pid"), "2").unwrap();
        std::fs::write(base.join("var/run/app.pid"), "3").unwrap();
        std::fs::write(base.join("var/run/keep.txt"), "x").unwrap();
        remove_pid_files(base).unwrap();
        assert_eq!(read_pid_file(base), None);
        assert!(base.join("var/run/keep.txt").exists());
    }

    #[test]
    fn wait_for_pid_file_times_out_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        assert_eq!(wait_for_pid_file(dir.path(), Duration::from_millis(60)), None);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(60) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[test]
    fn poll_until_returns_as_soon_as_the_value_is_there() {
        let mut calls = 0;
        let found = poll_until(Duration::from_secs(5), Duration::from_millis(25), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(found, Some(3));
    }

    #[test]
    fn stop_plan_defaults_to_ten_seconds() {
        assert_eq!(StopPlan::default().grace, Duration::from_secs(10));
        assert!(StopResult::Killed.needed_kill());
        assert!(!StopResult::Terminated.needed_kill());
    }
}

/// Real processes; Unix only because they are shell scripts.
#[cfg(all(test, unix))]
mod process_tests {
    use std::process::Command;

    use super::testutil::Cleanup;
    use super::*;
    use crate::container::platform;

    fn detached(script: &str, dir: &Path) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script]).current_dir(dir);
        platform::detach(&mut cmd);
        cmd
    }

    #[test]
    fn regression_a_reused_session_id_let_the_sweep_take_a_strangers_processes() {
        let dir = tempfile::tempdir().unwrap();
        let mut cleanup = Cleanup::default();
        let id = format!("leftover-test-{}", std::process::id());
        let marker = format!("JUBE_CONTAINER_ID={id}");
        let since = now_ticks();
        let member_count = |sid: u32, n: usize| {
            poll_until(Duration::from_secs(5), Duration::from_millis(10), || {
                (session_members(sid).len() == n).then_some(())
            })
            .is_some()
        };
        // The container's session: a marked leader, and a child that cleared its environment.
        let mut ours = detached("env -i sleep 300 & exec sleep 300", dir.path());
        ours.env("JUBE_CONTAINER_ID", &id);
        let leader = cleanup.own(ours.spawn().unwrap());
        cleanup.track_group(leader);
        assert!(member_count(leader, 2));
        let found = poll_until(Duration::from_secs(5), Duration::from_millis(10), || {
            let found = container_leftovers(Some(leader), &marker, since);
            (found.len() == 2).then_some(found)
        });
        assert!(found.is_some(), "the marked leader and its unmarked child");

        // A session nobody marked, as when the id was reused by someone else's session.
        let stranger = cleanup.own(
            detached("sleep 300 & exec sleep 300", dir.path())
                .spawn()
                .unwrap(),
        );
        cleanup.track_group(stranger);
        assert!(member_count(stranger, 2));
        let theirs = session_members(stranger);
        let taken = container_leftovers(Some(stranger), &marker, since);
        assert!(
            taken.iter().all(|p| !theirs.contains(&p.pid)),
            "{taken:?} takes from {theirs:?}"
        );
    }

    #[test]
    fn a_running_sleep_is_running() {
        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("sleep").arg("300").spawn().unwrap());
        let id = ProcessId::capture(pid).unwrap();
        assert_eq!(id.pid, pid);
        assert_eq!(
            ProcessId::capture(pid),
            Some(id),
            "the start time is stable across reads"
        );
        assert_eq!(id.liveness(), Liveness::Running);
        assert!(!wait_for_exit(&id, Duration::from_millis(20)));
    }

    #[test]
    fn an_unwaited_child_is_a_zombie_and_a_reaped_one_is_gone() {
        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("true").spawn().unwrap());
        let id = ProcessId::capture(pid).unwrap();
        assert!(wait_for_exit(&id, Duration::from_secs(5)));
        assert_eq!(id.liveness(), Liveness::Zombie);
        assert!(!id.is_running());
        cleanup.child(pid).wait().unwrap();
        assert_eq!(id.liveness(), Liveness::Gone);
    }

    #[test]
    fn a_reused_pid_reads_as_gone() {
        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("sleep").arg("300").spawn().unwrap());
        let real = ProcessId::capture(pid).unwrap();
        let earlier_owner = ProcessId {
            start_time: real.start_time.wrapping_sub(1),
            ..real
        };
        assert_eq!(earlier_owner.liveness(), Liveness::Gone);
        assert!(!earlier_owner.is_running());
        assert!(real.is_running());
    }

    #[test]
    fn session_members_lists_a_detached_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut cleanup = Cleanup::default();
        let leader = cleanup.own(detached("sleep 300 & wait", dir.path()).spawn().unwrap());
        cleanup.track_group(leader);
        let members = poll_until(Duration::from_secs(5), Duration::from_millis(25), || {
            let members = session_members(leader);
            (members.len() == 2).then_some(members)
        })
        .unwrap();
        assert!(members.contains(&leader));
        assert!(!members.contains(&std::process::id()));
    }

    #[test]
    fn terminate_kills_a_child_that_ignores_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run")).unwrap();
        let mut cleanup = Cleanup::default();
        let script = r#"bash -c 'trap "" TERM; echo $$ > var/run/child.pid; exec sleep 300' & wait"#;
        let leader = cleanup.own(detached(script, dir.path()).spawn().unwrap());
        cleanup.track_group(leader);
        let leader_id = ProcessId::capture(leader).unwrap();
        let child = wait_for_pid_file(dir.path(), Duration::from_secs(5)).unwrap();
        cleanup.track_group(child);
        let child_id = ProcessId::capture(child).unwrap();

        let result = terminate_group(&leader_id, Duration::from_millis(300)).unwrap();

        assert_eq!(result, StopResult::Killed);
        assert!(!leader_id.is_running());
        assert!(wait_for_exit(&child_id, Duration::from_secs(5)));
    }

    #[test]
    fn terminate_returns_without_the_grace_when_sigterm_works() {
        let dir = tempfile::tempdir().unwrap();
        let mut cleanup = Cleanup::default();
        let leader = cleanup.own(detached("sleep 300 & wait", dir.path()).spawn().unwrap());
        cleanup.track_group(leader);
        let id = ProcessId::capture(leader).unwrap();
        let started = Instant::now();

        let result = StopPlan::default().run(&id).unwrap();

        assert_eq!(result, StopResult::Terminated);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(!id.is_running());
        assert!(session_members(leader).is_empty());
    }

    #[test]
    fn terminate_never_signals_a_pid_with_another_start_time() {
        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("sleep").arg("300").spawn().unwrap());
        let real = ProcessId::capture(pid).unwrap();
        let stale = ProcessId {
            start_time: real.start_time + 1,
            ..real
        };

        assert_eq!(
            terminate_group(&stale, Duration::from_millis(50)).unwrap(),
            StopResult::AlreadyExited
        );
        assert!(real.is_running(), "the process now holding the pid is left alone");
    }

    #[test]
    fn terminate_of_an_exited_process_is_already_exited() {
        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("true").spawn().unwrap());
        let id = ProcessId::capture(pid).unwrap();
        cleanup.child(pid).wait().unwrap();
        assert_eq!(
            terminate_group(&id, Duration::from_millis(50)).unwrap(),
            StopResult::AlreadyExited
        );
    }
}
