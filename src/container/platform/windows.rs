//! Windows: batch files run by cmd, detached processes, and Job Objects for whole process trees.
//!
//! Who holds the Job Object: a Job Object lives while a handle to it is open, and `jube start`
//! exits at once, so every app jube starts in the background runs under a small per-container
//! supervisor: jube.exe itself, started as `jube.exe __jube-supervise PROGRAM ARGS...`. The
//! supervisor creates a Job Object named after its own pid, puts itself in it (so everything it
//! starts is in it from its first instruction, with no window to escape through), starts the app,
//! waits for it and exits with its code. The job has `KILL_ON_JOB_CLOSE`: when the supervisor goes,
//! for whatever reason, so does whatever the app left behind. jube records the supervisor's pid
//! as the app's; a stop opens the job by name and calls `TerminateJobObject`, as Nomad's raw_exec
//! does. `taskkill /T /F` is the fallback for processes jube did not start under a supervisor
//! (pid files written by an image's own `start.bat`).
//!
//! Handles: jube clears the inherit flag of its own standard handles at start, so an app it starts
//! in the background never holds the pipe a caller reads jube's output through; the child's own
//! standard handles are duplicates made for it by the standard library.

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation};
use windows_sys::Win32::System::Console::{
    GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, SetConsoleCtrlHandler,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, JOBOBJECT_BASIC_PROCESS_ID_LIST,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectBasicAccountingInformation, JobObjectBasicProcessIdList,
    JobObjectExtendedLimitInformation, OpenJobObjectW, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{CREATE_NO_WINDOW, GetCurrentProcess};

use super::{SUPERVISE_ARG, Signal, WINDOWS_DETACH_FLAGS, cmd_args, taskkill_args, taskkill_succeeded};
use crate::container::process::{self, ProcessError};

pub const SCRIPT_EXT: &str = "bat";
pub const ENV_FILE: &str = "env.bat";

/// A batch file cannot learn the pid of what it starts in the background without PowerShell or
/// WMI (neither of which every machine, nor wine, has), and jube needs that pid and a Job Object
/// around the tree: so where an image has `run.bat`, jube starts it itself rather than `start.bat`.
pub const PREFER_RUN_SCRIPT: bool = true;

/// Job Object access rights (winnt.h); windows-sys has them only in its large SystemServices
/// module.
const JOB_OBJECT_QUERY: u32 = 0x0004;
const JOB_OBJECT_TERMINATE: u32 = 0x0008;

/// The exit code a Job Object's processes get when jube kills them: what a shell reports for
/// SIGKILL, so `ps` reads the same on every platform.
const KILLED_EXIT_CODE: u32 = 137;

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

/// `cmd` run by a supervisor that holds the Job Object of everything it starts (see the module
/// comment). Call before setting the environment, folder and standard handles, which the
/// supervisor passes on.
pub fn supervised(cmd: Command) -> Command {
    let Ok(exe) = std::env::current_exe() else {
        return cmd;
    };
    let mut wrapped = Command::new(exe);
    wrapped
        .arg(SUPERVISE_ARG)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    wrapped
}

/// A process without a console, in a new process group: the app outlives jube and misses jube's
/// Ctrl-C.
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

/// Once, before anything is spawned: jube's standard handles came from its caller as inheritable,
/// and every child would otherwise inherit them, keeping the caller's pipe open after jube exits.
pub fn init_process() {
    for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
        // SAFETY: GetStdHandle returns a handle owned by the process (or null/invalid, which
        // SetHandleInformation refuses harmlessly); only its inherit flag changes.
        unsafe {
            let handle = GetStdHandle(which);
            if !handle.is_null() {
                SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0);
            }
        }
    }
}

/// The Job Object of the supervisor with pid `pid`. Named after the pid: while the supervisor
/// lives its pid cannot be reused, and once it is gone its job (the only handle was its own) is too.
fn job_name(pid: u32) -> Vec<u16> {
    wide(&format!("Local\\jube-job-{pid}"))
}

fn wide(text: &str) -> Vec<u16> {
    std::ffi::OsStr::new(text).encode_wide().chain([0]).collect()
}

/// An open Job Object handle, closed on drop.
struct Job(HANDLE);

impl Job {
    fn open(pid: u32, access: u32) -> Option<Self> {
        let name = job_name(pid);
        // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
        let handle = unsafe { OpenJobObjectW(access, 0, name.as_ptr()) };
        (!handle.is_null()).then_some(Self(handle))
    }

    fn active_processes(&self) -> Option<u32> {
        let mut info = JOBOBJECT_BASIC_ACCOUNTING_INFORMATION::default();
        // SAFETY: `info` is the structure this information class fills, with its exact size.
        let ok = unsafe {
            QueryInformationJobObject(
                self.0,
                JobObjectBasicAccountingInformation,
                (&raw mut info).cast(),
                size_of_u32::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>(),
                std::ptr::null_mut(),
            )
        };
        (ok != 0).then_some(info.ActiveProcesses)
    }
}

impl Job {
    /// The pids of the processes in the job now (at most a few thousand).
    fn process_ids(&self) -> Option<Vec<u32>> {
        const MAX: usize = 4096;
        // The list is a header of two counts, then the ids, each a pointer-sized integer.
        let header = std::mem::offset_of!(JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList)
            / std::mem::size_of::<usize>();
        let mut buf = vec![0usize; header + MAX];
        let bytes = u32::try_from(buf.len() * std::mem::size_of::<usize>()).ok()?;
        // SAFETY: `buf` is writable for `bytes` bytes and aligned for the structure, whose
        // variable-length id list it has room for.
        let ok = unsafe {
            QueryInformationJobObject(
                self.0,
                JobObjectBasicProcessIdList,
                buf.as_mut_ptr().cast(),
                bytes,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return None;
        }
        // SAFETY: the call filled the structure's header at the start of `buf`.
        let listed =
            unsafe { (*buf.as_ptr().cast::<JOBOBJECT_BASIC_PROCESS_ID_LIST>()).NumberOfProcessIdsInList };
        let n = usize::try_from(listed).unwrap_or(MAX).min(MAX);
        Some(
            buf[header..header + n]
                .iter()
                .filter_map(|id| u32::try_from(*id).ok())
                .collect(),
        )
    }
}

/// The processes of the container whose supervisor is `pid`: the members of its Job Object,
/// whoever their parents are now. `None` when it has no job (an app jube did not start).
pub fn job_members(pid: u32) -> Option<Vec<u32>> {
    Job::open(pid, JOB_OBJECT_QUERY)?.process_ids()
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by this value and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

fn size_of_u32<T>() -> u32 {
    u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

/// `jube.exe __jube-supervise PROGRAM ARGS...`: creates the Job Object, joins it, runs the app
/// with this process's standard handles, folder and environment, and exits with its code.
pub fn supervise(args: &[OsString]) -> i32 {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("jube: {SUPERVISE_ARG} needs a program to run");
        return 2;
    };
    let name = job_name(std::process::id());
    // SAFETY: default security, a NUL-terminated name that outlives the call.
    let job = unsafe { CreateJobObjectW(std::ptr::null(), name.as_ptr()) };
    if job.is_null() {
        // Without a job the app still runs; stops then fall back to `taskkill /T`.
        eprintln!(
            "jube: could not create a Job Object: {}",
            io::Error::last_os_error()
        );
    } else {
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `limits` is the structure this class takes, with its exact size; the pseudo
        // handle of the current process needs no closing. The job handle stays open until this
        // process exits, which is what keeps the job alive.
        unsafe {
            SetInformationJobObject(
                job,
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                size_of_u32::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>(),
            );
            if AssignProcessToJobObject(job, GetCurrentProcess()) == 0 {
                eprintln!(
                    "jube: could not join the Job Object: {}",
                    io::Error::last_os_error()
                );
            }
        }
    }
    // A hidden console of its own: console programs (cmd among them) need one, and a visible one
    // would pop up a window for every container.
    let status = Command::new(program)
        .args(rest)
        .creation_flags(CREATE_NO_WINDOW)
        .status();
    match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            eprintln!("jube: could not start {}: {e}", program.to_string_lossy());
            127
        }
    }
}

/// The process tree under a pid: the supervisor's Job Object when it has one, else what
/// `taskkill /T` finds by parent pids.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pid: u32,
}

impl Group {
    pub fn of(pid: u32) -> Option<Self> {
        (is_alive(pid) || Job::open(pid, JOB_OBJECT_QUERY).is_some()).then_some(Self { pid })
    }

    pub fn signal(&self, sig: Signal) -> Result<(), ProcessError> {
        let failed = |source| ProcessError::Signal {
            pid: self.pid,
            signal: sig,
            source,
        };
        if sig == Signal::Kill
            && let Some(job) = Job::open(self.pid, JOB_OBJECT_TERMINATE)
        {
            // SAFETY: a job handle opened with JOB_OBJECT_TERMINATE.
            if unsafe { TerminateJobObject(job.0, KILLED_EXIT_CODE) } != 0 {
                return Ok(());
            }
        }
        let output = Command::new("taskkill")
            .args(taskkill_args(self.pid, sig))
            .creation_flags(CREATE_NO_WINDOW)
            .output()
            .map_err(failed)?;
        // Term: console apps have no window to be asked to close, so taskkill without /F reaches
        // only GUI apps and refuses the rest; the stop then waits out its grace and kills, as it
        // would for an app that ignored SIGTERM.
        if taskkill_succeeded(output.status.code()) || sig == Signal::Term {
            return Ok(());
        }
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(failed(io::Error::other(message)))
    }

    pub fn has_living_members(&self) -> bool {
        is_alive(self.pid)
            || Job::open(self.pid, JOB_OBJECT_QUERY)
                .and_then(|job| job.active_processes())
                .is_some_and(|n| n > 0)
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

/// Ctrl-C and Ctrl-Break reach every process on the console, the app of `jube run` included; jube
/// itself only waits for the app to end, so while this lives its handler says "handled". A handler
/// routine, unlike `SetConsoleCtrlHandler(NULL, TRUE)`, is not inherited by the app.
pub struct ForegroundSignals;

unsafe extern "system" fn swallow_ctrl(_ctrl_type: u32) -> windows_sys::core::BOOL {
    1
}

impl ForegroundSignals {
    pub fn install() -> Result<Self, ProcessError> {
        // SAFETY: the routine is a plain function that lives as long as the program.
        if unsafe { SetConsoleCtrlHandler(Some(swallow_ctrl), 1) } == 0 {
            return Err(ProcessError::SignalHandler {
                source: io::Error::last_os_error(),
            });
        }
        Ok(Self)
    }

    pub fn watch(&self, _pid: u32) {}
}

impl Drop for ForegroundSignals {
    fn drop(&mut self) {
        // SAFETY: removes the routine `install` added.
        unsafe { SetConsoleCtrlHandler(Some(swallow_ctrl), 0) };
    }
}

/// Windows has no subreapers: the supervisor is the app's parent and passes its exit code on.
pub fn become_subreaper() -> bool {
    false
}

pub fn reap_orphans() -> Vec<(u32, i32)> {
    Vec::new()
}
