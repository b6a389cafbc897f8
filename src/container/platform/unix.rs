//! Unix: scripts run by bash, apps detached into sessions of their own, POSIX signals sent to
//! process groups and sessions.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use nix::libc::c_int;
use nix::sys::signal::{self as nix_signal, SaFlags, SigAction, SigHandler, SigSet, Signal as NixSignal};
use nix::unistd::{self, Pid};

use super::Signal;
use crate::container::process::{self, ProcStat, ProcessError};
use crate::fsutil;

pub const SCRIPT_EXT: &str = "sh";
pub const ENV_FILE: &str = "env.sh";

/// Unix scripts write the app's pid themselves (`$!`), so `start.sh` is used whenever there is one.
pub const PREFER_RUN_SCRIPT: bool = false;

/// Nothing to do on Unix: children get only the descriptors jube leaves open (std opens
/// everything close-on-exec).
pub fn init_process() {}

/// On Unix the app's session and the marker in its environment are the container's boundary, so
/// no supervisor process is needed.
pub fn supervised(cmd: Command) -> Command {
    cmd
}

/// `bash <script>`, or `sh <script>` where bash is not installed (minimal images, BSDs).
pub fn script_command(script: &Path) -> Command {
    let mut cmd = Command::new(shell());
    cmd.arg(script);
    cmd
}

/// A pod's `command`, run as the app process itself: the shell reads the image's `env.sh` (as its
/// scripts do) and then `exec`s the argv, so each element stays one argument and the app's pid and
/// exit code are the shell's.
pub fn app_command(argv: &[String]) -> Command {
    let mut cmd = Command::new(shell());
    cmd.args([
        "-c",
        "[ ! -f ./env.sh ] || . ./env.sh >/dev/null; exec \"$@\"",
        "jube",
    ])
    .args(argv);
    cmd
}

fn shell() -> &'static Path {
    static SHELL: OnceLock<PathBuf> = OnceLock::new();
    SHELL.get_or_init(|| {
        super::find_in_path("bash", std::env::var_os("PATH")).unwrap_or_else(|| PathBuf::from("sh"))
    })
}

/// Starts the process in a new session: it outlives jube, gets no SIGHUP from jube's terminal,
/// and it and everything it starts can be signalled together.
pub fn detach(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls setsid(2), which is
    // async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(|| unistd::setsid().map(drop).map_err(io::Error::from));
    }
}

/// `chmod +x`: adds execute wherever read is allowed, and always for the owner.
pub fn make_executable(path: &Path) -> io::Result<()> {
    let mode = std::fs::metadata(path)
        .map_err(|e| fsutil::with_path(e, path))?
        .permissions()
        .mode()
        & 0o7777;
    let wanted = mode | 0o100 | ((mode & 0o444) >> 2);
    if wanted == mode {
        return Ok(());
    }
    fsutil::set_mode(path, wanted)
}

/// The exit code a shell would report: the process's own, or 128+N when signal N ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|sig| 128 + sig))
        .unwrap_or(1)
}

/// Everything one stop request reaches: the process group of a pid, and every process in its
/// session (children that moved to a group of their own stay in the session). jube's own group
/// and session are left out, so a process that shares them is signalled alone.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pid: Pid,
    pgid: Option<Pid>,
    sid: Option<Pid>,
}

impl Group {
    /// The group of a running `pid`; `None` when no such process exists.
    pub fn of(pid: u32) -> Option<Self> {
        let pid = Pid::from_raw(i32::try_from(pid).ok().filter(|raw| *raw > 0)?);
        let pgid = unistd::getpgid(Some(pid)).ok()?;
        let sid = unistd::getsid(Some(pid)).ok()?;
        let own_sid = unistd::getsid(None).ok();
        Some(Self {
            pid,
            pgid: (pgid != unistd::getpgrp()).then_some(pgid),
            sid: (Some(sid) != own_sid).then_some(sid),
        })
    }

    /// Sends `sig` to the group and every session member. Processes that are already gone
    /// (ESRCH) are fine; the first other failure is returned after trying them all.
    pub fn signal(&self, sig: Signal) -> Result<(), ProcessError> {
        let nix_sig = to_nix(sig);
        let mut result = match self.pgid {
            Some(pgid) => nix_signal::killpg(pgid, nix_sig),
            None => nix_signal::kill(self.pid, nix_sig),
        }
        .or_else(gone_is_done);
        if let Some(sid) = self.sid.and_then(|sid| u32::try_from(sid.as_raw()).ok()) {
            for member in process::session_members(sid) {
                let Ok(raw) = i32::try_from(member) else { continue };
                result = result.and(nix_signal::kill(Pid::from_raw(raw), nix_sig).or_else(gone_is_done));
            }
        }
        result.map_err(|errno| ProcessError::Signal {
            pid: self.pid.as_raw().unsigned_abs(),
            signal: sig,
            source: errno.into(),
        })
    }

    /// Whether any process of the group or session is still running (zombies are not).
    pub fn has_living_members(&self) -> bool {
        process::processes()
            .iter()
            .any(|stat| !stat.exited && self.contains(stat))
    }

    fn contains(&self, stat: &ProcStat) -> bool {
        let as_pid = |raw: u32| i32::try_from(raw).ok().map(Pid::from_raw);
        let Some(pid) = as_pid(stat.pid) else { return false };
        if pid == self.pid {
            return true;
        }
        let in_group = self.pgid.is_some_and(|pgid| {
            let member_pgid = stat
                .pgrp
                .and_then(as_pid)
                .or_else(|| unistd::getpgid(Some(pid)).ok());
            member_pgid == Some(pgid)
        });
        let in_session = self
            .sid
            .is_some_and(|sid| stat.session.and_then(as_pid) == Some(sid));
        in_group || in_session
    }
}

/// Sends `sig` to `pid` alone. A process that is already gone is not an error.
pub fn signal_process(pid: u32, sig: Signal) -> Result<(), ProcessError> {
    let Some(raw) = i32::try_from(pid).ok().filter(|raw| *raw > 0) else {
        return Ok(());
    };
    nix_signal::kill(Pid::from_raw(raw), to_nix(sig))
        .or_else(gone_is_done)
        .map_err(|errno| ProcessError::Signal {
            pid,
            signal: sig,
            source: errno.into(),
        })
}

fn to_nix(sig: Signal) -> NixSignal {
    match sig {
        Signal::Term => NixSignal::SIGTERM,
        Signal::Kill => NixSignal::SIGKILL,
    }
}

fn gone_is_done(errno: nix::errno::Errno) -> nix::Result<()> {
    match errno {
        nix::errno::Errno::ESRCH => Ok(()),
        other => Err(other),
    }
}

/// The child jube waits for in the foreground, for the signal handlers; 0 while there is none.
static FOREGROUND_CHILD: AtomicI32 = AtomicI32::new(0);
/// A SIGTERM/SIGHUP that came before the child existed, delivered once it does.
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The handlers are process-wide, so only one foreground child at a time.
static FOREGROUND: Mutex<()> = Mutex::new(());

/// While alive, jube ignores SIGINT and SIGQUIT (the terminal sends them to the whole foreground
/// group, so the child gets them itself) and forwards SIGTERM and SIGHUP to the watched child.
/// Handlers, unlike ignored dispositions, are reset by exec, so the child starts with defaults.
pub struct ForegroundSignals {
    previous: Vec<(NixSignal, SigAction)>,
    _exclusive: MutexGuard<'static, ()>,
}

impl ForegroundSignals {
    pub fn install() -> Result<Self, ProcessError> {
        let exclusive = FOREGROUND.lock().unwrap_or_else(PoisonError::into_inner);
        FOREGROUND_CHILD.store(0, Ordering::SeqCst);
        PENDING_SIGNAL.store(0, Ordering::SeqCst);
        let mut guard = Self {
            previous: Vec::new(),
            _exclusive: exclusive,
        };
        let handlers: [(NixSignal, extern "C" fn(c_int)); 4] = [
            (NixSignal::SIGINT, swallow),
            (NixSignal::SIGQUIT, swallow),
            (NixSignal::SIGTERM, forward),
            (NixSignal::SIGHUP, forward),
        ];
        for (sig, handler) in handlers {
            let action = SigAction::new(SigHandler::Handler(handler), SaFlags::SA_RESTART, SigSet::empty());
            // SAFETY: both handlers only touch atomics and call kill(2), all async-signal-safe.
            let old = unsafe { nix_signal::sigaction(sig, &action) }
                .map_err(|errno| ProcessError::SignalHandler { source: errno.into() })?;
            guard.previous.push((sig, old));
        }
        Ok(guard)
    }

    /// From now on SIGTERM and SIGHUP go to `pid`, including one that arrived before.
    pub fn watch(&self, pid: u32) {
        let Ok(raw) = i32::try_from(pid) else { return };
        FOREGROUND_CHILD.store(raw, Ordering::SeqCst);
        let pending = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
        if let Ok(sig) = NixSignal::try_from(pending) {
            let _ = nix_signal::kill(Pid::from_raw(raw), sig);
        }
    }
}

impl Drop for ForegroundSignals {
    fn drop(&mut self) {
        FOREGROUND_CHILD.store(0, Ordering::SeqCst);
        for (sig, old) in self.previous.drain(..).rev() {
            // SAFETY: puts back the disposition that was in place before `install`.
            let _ = unsafe { nix_signal::sigaction(sig, &old) };
        }
    }
}

extern "C" fn swallow(_sig: c_int) {}

extern "C" fn forward(sig: c_int) {
    let child = FOREGROUND_CHILD.load(Ordering::SeqCst);
    if child <= 0 {
        PENDING_SIGNAL.store(sig, Ordering::SeqCst);
        return;
    }
    if let Ok(sig) = NixSignal::try_from(sig) {
        let _ = nix_signal::kill(Pid::from_raw(child), sig);
    }
}

/// Makes this process the reaper of its orphaned descendants (Linux only), so a supervisor learns
/// how the apps its scripts started in the background ended. `false` where that is not possible.
pub fn become_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        nix::sys::prctl::set_child_subreaper(true).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Collects the exit status of adopted orphans that have ended: `(pid, code)`, the code being
/// 128+N for signal N. Session leaders are left alone: those are the scripts jube spawned itself and
/// waits for through their `Child` handle.
pub fn reap_orphans() -> Vec<(u32, i32)> {
    let me = std::process::id();
    let mut reaped = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return reaped;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields after the command: state (3), ppid (4), pgrp (5), session (6).
        let (Some(state), Some(ppid), Some(session)) = (fields.first(), fields.get(1), fields.get(3)) else {
            continue;
        };
        if *state != "Z" || ppid.parse::<u32>().ok() != Some(me) || session.parse::<u32>().ok() == Some(pid) {
            continue;
        }
        let Ok(raw) = i32::try_from(pid) else { continue };
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        match waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => reaped.push((pid, code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => reaped.push((pid, 128 + sig as i32)),
            _ => {}
        }
    }
    reaped
}

/// The members of a container's Job Object: Unix has none (the marker and the parent links find
/// the tree).
pub fn job_members(_pid: u32) -> Option<Vec<u32>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::process::testutil::Cleanup;
    use crate::container::process::{ProcessId, wait_for_exit, wait_for_pid_file};
    use std::time::Duration;

    #[test]
    fn make_executable_mirrors_read_bits() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("start.sh");
        let private = dir.path().join("stop.sh");
        std::fs::write(&shared, "").unwrap();
        std::fs::write(&private, "").unwrap();
        fsutil::set_mode(&shared, 0o644).unwrap();
        fsutil::set_mode(&private, 0o600).unwrap();
        make_executable(&shared).unwrap();
        make_executable(&private).unwrap();
        make_executable(&private).unwrap();
        assert_eq!(fsutil::mode_of(&shared), Some(0o755));
        assert_eq!(fsutil::mode_of(&private), Some(0o700));
    }

    #[test]
    fn make_executable_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.sh");
        let err = make_executable(&missing).unwrap_err();
        assert!(err.to_string().contains("nope.sh"), "{err}");
    }

    #[test]
    fn scripts_run_through_bash_or_sh() {
        let cmd = script_command(Path::new("/app/start.sh"));
        let program = Path::new(cmd.get_program());
        assert!(
            program.ends_with("bash") || program.ends_with("sh"),
            "{program:?}"
        );
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["/app/start.sh"]);
    }

    #[test]
    fn exit_code_is_the_code_or_128_plus_signal() {
        let code = |script: &str| exit_code(Command::new("sh").args(["-c", script]).status().unwrap());
        assert_eq!(code("exit 0"), 0);
        assert_eq!(code("exit 3"), 3);
        assert_eq!(code("kill -9 $$"), 137);
        assert_eq!(code("kill -TERM $$"), 143);
    }

    #[test]
    fn detach_starts_a_new_session() {
        let mut cleanup = Cleanup::default();
        let mut cmd = Command::new("sleep");
        cmd.arg("300");
        detach(&mut cmd);
        let pid = cleanup.own(cmd.spawn().unwrap());
        cleanup.track_group(pid);
        let raw = Pid::from_raw(pid as i32);
        assert_eq!(unistd::getsid(Some(raw)).unwrap(), raw);
        assert_eq!(unistd::getpgid(Some(raw)).unwrap(), raw);
        let group = Group::of(pid).unwrap();
        assert_eq!((group.pgid, group.sid), (Some(raw), Some(raw)));
    }

    #[test]
    fn group_of_a_missing_or_impossible_pid_is_none() {
        assert!(Group::of(0).is_none());
        assert!(Group::of(u32::MAX).is_none());
        super::super::signal_group(u32::MAX, Signal::Kill).unwrap();
    }

    #[test]
    fn jubes_own_group_and_session_are_never_targets() {
        let own = Group::of(std::process::id()).unwrap();
        assert_eq!((own.pgid, own.sid), (None, None));

        let mut cleanup = Cleanup::default();
        let pid = cleanup.own(Command::new("sleep").arg("300").spawn().unwrap());
        let id = ProcessId::capture(pid).unwrap();
        let group = Group::of(pid).unwrap();
        assert_eq!(
            (group.pgid, group.sid),
            (None, None),
            "an undetached child shares jube's"
        );
        group.signal(Signal::Term).unwrap();
        assert!(wait_for_exit(&id, Duration::from_secs(5)));
    }

    #[test]
    fn signal_reaches_children_that_left_the_group_but_not_the_session() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run")).unwrap();
        let mut cleanup = Cleanup::default();
        // `set -m` puts each background job in a process group of its own.
        let mut cmd = Command::new("bash");
        cmd.args(["-c", "set -m; sleep 300 & echo $! > var/run/child.pid; wait"])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null());
        detach(&mut cmd);
        let leader = cleanup.own(cmd.spawn().unwrap());
        cleanup.track_group(leader);
        let child = wait_for_pid_file(dir.path(), Duration::from_secs(5)).unwrap();
        cleanup.track_group(child);
        let child_id = ProcessId::capture(child).unwrap();
        let child_pgid = unistd::getpgid(Some(Pid::from_raw(child as i32))).unwrap();
        assert_ne!(
            child_pgid.as_raw() as u32,
            leader,
            "the child must have left the leader's group"
        );

        let group = Group::of(leader).unwrap();
        assert!(group.has_living_members());
        group.signal(Signal::Kill).unwrap();
        assert!(
            wait_for_exit(&child_id, Duration::from_secs(5)),
            "the session sweep kills the child"
        );
        // The leader dies of the same SIGKILL, but under load not always before the child is gone.
        let emptied = process::poll_until(Duration::from_secs(5), Duration::from_millis(10), || {
            (!group.has_living_members()).then_some(())
        });
        assert!(emptied.is_some(), "the group still has living members");
    }

    #[test]
    fn signal_process_reaches_only_that_process() {
        let mut cleanup = Cleanup::default();
        let mut cmd = Command::new("bash");
        cmd.args(["-c", "sleep 300 & wait"]);
        detach(&mut cmd);
        let leader = cleanup.own(cmd.spawn().unwrap());
        cleanup.track_group(leader);
        let leader_id = ProcessId::capture(leader).unwrap();
        let child = process::poll_until(Duration::from_secs(5), Duration::from_millis(10), || {
            process::session_members(leader)
                .into_iter()
                .find(|p| *p != leader)
        })
        .unwrap();
        let child_id = ProcessId::capture(child).unwrap();
        signal_process(child, Signal::Kill).unwrap();
        assert!(wait_for_exit(&child_id, Duration::from_secs(5)));
        assert!(leader_id.is_running() || leader_id.liveness() == process::Liveness::Zombie);
        signal_process(u32::MAX, Signal::Kill).unwrap();
    }

    #[test]
    fn signalling_a_finished_group_is_not_an_error() {
        let mut cleanup = Cleanup::default();
        let mut cmd = Command::new("sleep");
        cmd.arg("300");
        detach(&mut cmd);
        let pid = cleanup.own(cmd.spawn().unwrap());
        let group = Group::of(pid).unwrap();
        group.signal(Signal::Kill).unwrap();
        cleanup.reap_all();
        assert!(!group.has_living_members());
        group.signal(Signal::Kill).unwrap();
        group.signal(Signal::Term).unwrap();
    }
}
