//! Running an image's scripts: `start`/`stop`/`kill`/`status` to completion with a timeout,
//! `run` detached (images without `start`) or in the foreground (`jube run`).
//!
//! Script output goes to the console log through its relay (see `logpipe`), never to a pipe jube
//! reads: an app the script leaves running in the background keeps that pipe open, and jube would
//! wait for it forever.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::container::logpipe;
use crate::container::platform::{self, Signal};
use crate::container::process::{self, PID_FILE, ProcessError, ProcessId};
use crate::fsutil;

/// How many of a script's last lines an outcome keeps for error messages.
pub const TAIL_LINES: usize = 20;
/// At most this much of the log is read for the tail, however much the script wrote.
const TAIL_BYTES: u64 = 64 * 1024;

/// One script run to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    /// The unpacked image: the script's folder and working directory.
    pub app_base: PathBuf,
    /// Variables added to jube's environment.
    pub env: Vec<(String, String)>,
    /// Receives stdout and stderr, appended.
    pub log: PathBuf,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct ScriptOutcome {
    /// The script's pid, which is also its session's id.
    pub pid: u32,
    /// The exit code (128+N for signal N); `None` when the script timed out and was killed.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Where this run's output starts in the log, to read what was added after the script ended.
    pub log_start: u64,
    log: PathBuf,
    relay: logpipe::Relay,
}

impl ScriptOutcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last lines this run added to the log. A script that left nothing holding its output
    /// has all of it in the log once its relay ends; output of what it left running is taken as
    /// far as it has come when the log stops growing.
    pub fn tail(&self) -> Vec<String> {
        if !self.relay.ended_within(Duration::from_secs(1)) {
            logpipe::settle(&self.log);
        }
        read_tail(&self.log, self.log_start, TAIL_LINES)
    }
}

/// Where script `name` (`start`) of an image lives: `app_base/start.sh` or `start.bat`.
pub fn script_path(app_base: &Path, name: &str) -> PathBuf {
    app_base.join(platform::script_name(name))
}

/// Runs script `name` and waits for it, not for what it leaves running in the background. A script
/// still running at the timeout is killed with everything it started. `None` when the image has no
/// such script.
pub fn run_script(name: &str, run: &ScriptRun) -> Result<Option<ScriptOutcome>, ProcessError> {
    let script = script_path(&run.app_base, name);
    if !script.is_file() {
        return Ok(None);
    }
    let log_start = std::fs::metadata(&run.log).map(|m| m.len()).unwrap_or(0);
    let (stdout, stderr, relay) = logpipe::open_relay(&run.log)?;
    let mut cmd = detached(
        platform::script_command(&script),
        &run.app_base,
        &run.env,
        (stdout, stderr),
    );
    let mut child = spawn(&mut cmd, &script)?;
    // The command holds the pipe's write end: the relay ends once the script's processes close theirs.
    drop(cmd);
    let pid = child.id();
    let wait_failed = |source| ProcessError::Wait {
        script: script.clone(),
        source,
    };
    let (code, timed_out) = match wait_timeout(&mut child, run.timeout).map_err(wait_failed)? {
        Some(status) => (Some(platform::exit_code(status)), false),
        None => {
            kill_timed_out(&mut child)?;
            (None, true)
        }
    };
    Ok(Some(ScriptOutcome {
        pid,
        code,
        timed_out,
        log_start,
        log: run.log.clone(),
        relay,
    }))
}

/// Starts script `name` (images with only `run.sh`) detached in a session of its own, records its
/// pid in `app_base/process.pid` and returns its identity.
pub fn spawn_detached(
    app_base: &Path,
    name: &str,
    args: &[String],
    env: &[(String, String)],
    log_path: &Path,
) -> Result<ProcessId, ProcessError> {
    let script = existing_script(app_base, name)?;
    let log = logpipe::open(log_path)?;
    let mut script_cmd = platform::script_command(&script);
    script_cmd.args(args);
    let cmd = detached(platform::supervised(script_cmd), app_base, env, log);
    spawn_tracked(cmd, &script, app_base, log_path)
}

/// Starts `argv` (a pod's `command`) detached as the app process itself, as [`spawn_detached`]
/// starts `run.sh`.
pub fn spawn_detached_argv(
    app_base: &Path,
    argv: &[String],
    env: &[(String, String)],
    log_path: &Path,
) -> Result<ProcessId, ProcessError> {
    let log = logpipe::open(log_path)?;
    let cmd = detached(
        platform::supervised(platform::app_command(argv)),
        app_base,
        env,
        log,
    );
    let program = PathBuf::from(argv.first().map(String::as_str).unwrap_or_default());
    spawn_tracked(cmd, &program, app_base, log_path)
}

/// Spawns `cmd`, records its pid in `app_base/process.pid` and reaps it when it ends.
fn spawn_tracked(
    mut cmd: Command,
    script: &Path,
    app_base: &Path,
    log_path: &Path,
) -> Result<ProcessId, ProcessError> {
    let script = script.to_owned();
    let mut child = spawn(&mut cmd, &script)?;
    let pid = child.id();
    // The child is ours and not yet reaped, so its pid cannot have been reused here.
    let Some(id) = ProcessId::capture(pid) else {
        let _ = child.wait();
        return Err(ProcessError::Vanished {
            script,
            log: log_path.to_owned(),
        });
    };
    let pid_file = app_base.join(PID_FILE);
    if let Err(source) = fsutil::write_atomic(&pid_file, format!("{pid}\n").as_bytes()) {
        let _ = platform::signal_group(pid, Signal::Kill);
        let _ = child.wait();
        return Err(ProcessError::PidFile {
            path: pid_file,
            source,
        });
    }
    reap_when_done(child);
    Ok(id)
}

/// Runs script `name` in the foreground with jube's terminal (`jube run`) and returns its exit
/// code, 128+N when signal N ended it. Ctrl-C reaches the script, not jube; SIGTERM and SIGHUP sent
/// to jube are passed on to it. `started` is told the script's pid as soon as it runs.
pub fn run_foreground(
    app_base: &Path,
    name: &str,
    env: &[(String, String)],
    started: impl FnOnce(u32),
) -> Result<i32, ProcessError> {
    let script = existing_script(app_base, name)?;
    let mut cmd = platform::script_command(&script);
    cmd.current_dir(app_base).envs(env.iter().map(|(k, v)| (k, v)));
    foreground(&mut cmd, &script, started, |cmd| spawn(cmd, &script))
}

/// Runs `program` with `args` in the foreground (`jube exec`), in `app_base` with `env` added to
/// jube's own, and returns its exit code as [`run_foreground`] does. A relative path with a `/`
/// (`./status.sh`, `bin/cli`) is taken from `app_base`; a bare name is looked up on PATH.
pub fn exec_foreground(
    app_base: &Path,
    program: &str,
    args: &[String],
    env: &[(String, String)],
) -> Result<i32, ProcessError> {
    let (mut cmd, resolved) = exec_command(app_base, program, args, env);
    foreground(
        &mut cmd,
        &resolved,
        |_| {},
        |cmd| {
            cmd.spawn().map_err(|source| ProcessError::Exec {
                program: program.to_owned(),
                app_base: app_base.to_owned(),
                source,
            })
        },
    )
}

/// `program` with `args` to run in `app_base` with `env` added to jube's own, and the program's
/// path: a relative path with a `/` (`./status.sh`, `bin/cli`) is taken from `app_base`, a bare
/// name is looked up on PATH.
pub fn exec_command(
    app_base: &Path,
    program: &str,
    args: &[String],
    env: &[(String, String)],
) -> (Command, PathBuf) {
    let path = Path::new(program);
    let resolved = if path.is_relative() && program.contains('/') {
        app_base.join(path)
    } else {
        path.to_owned()
    };
    let mut cmd = Command::new(&resolved);
    cmd.args(args)
        .current_dir(app_base)
        .envs(env.iter().map(|(k, v)| (k, v)));
    (cmd, resolved)
}

/// Spawns `cmd` (which runs `what`) with `spawn`, sharing jube's terminal, with jube's signal
/// forwarding in place until it ends.
fn foreground(
    cmd: &mut Command,
    what: &Path,
    started: impl FnOnce(u32),
    spawn: impl FnOnce(&mut Command) -> Result<Child, ProcessError>,
) -> Result<i32, ProcessError> {
    let signals = platform::ForegroundSignals::install()?;
    let mut child = spawn(cmd)?;
    signals.watch(child.id());
    started(child.id());
    let status = child.wait().map_err(|source| ProcessError::Wait {
        script: what.to_owned(),
        source,
    })?;
    drop(signals);
    Ok(platform::exit_code(status))
}

fn existing_script(app_base: &Path, name: &str) -> Result<PathBuf, ProcessError> {
    let script = script_path(app_base, name);
    if script.is_file() {
        Ok(script)
    } else {
        Err(ProcessError::MissingScript { path: script })
    }
}

/// `cmd` in its own session, stdin empty, stdout and stderr to the console log's pipe.
fn detached(
    mut cmd: Command,
    app_base: &Path,
    env: &[(String, String)],
    (stdout, stderr): (Stdio, Stdio),
) -> Command {
    cmd.current_dir(app_base)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    platform::detach(&mut cmd);
    cmd
}

fn spawn(cmd: &mut Command, script: &Path) -> Result<Child, ProcessError> {
    cmd.spawn().map_err(|source| ProcessError::Spawn {
        script: script.to_owned(),
        shell: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// The child's status, or `None` if it still runs at the timeout. Polling keeps the child unreaped
/// until jube has decided, so a kill after the timeout cannot hit a reused pid.
fn wait_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    process::poll_until(timeout, Duration::from_millis(25), || {
        child.try_wait().transpose()
    })
    .transpose()
}

fn kill_timed_out(child: &mut Child) -> Result<(), ProcessError> {
    let killed = platform::signal_group(child.id(), Signal::Kill);
    if killed.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    killed
}

/// Collects the child's exit status when it ends, so a long-lived jube (the daemon) collects no
/// zombies; the app keeps running if jube exits first.
fn reap_when_done(mut child: Child) {
    let pid = child.id();
    let name = format!("reap-{pid}");
    let _ = std::thread::Builder::new().name(name).spawn(move || {
        if let Ok(status) = child.wait()
            && let Ok(mut reaped) = REAPED.lock()
        {
            reaped.insert(pid, platform::exit_code(status));
        }
    });
}

/// Exit codes of detached apps this process reaped, by pid, until the daemon takes them.
static REAPED: std::sync::Mutex<std::collections::BTreeMap<u32, i32>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The exit code of a detached app this process started and saw end (the daemon's restart policy
/// needs it); each code is handed out once.
pub fn take_reaped_exit(pid: u32) -> Option<i32> {
    REAPED.lock().ok()?.remove(&pid)
}

/// The last `lines` lines written to the log after byte `from`, reading at most [`TAIL_BYTES`].
pub fn read_tail(path: &Path, from: u64, lines: usize) -> Vec<String> {
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let end = file.metadata().map(|m| m.len()).unwrap_or(0);
    if end <= from {
        return Vec::new();
    }
    let start = from.max(end - TAIL_BYTES.min(end));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(end - start).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > from && !all.is_empty() {
        // Cut in the middle of a line.
        all.remove(0);
    }
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_path_joins_the_platform_name() {
        let path = script_path(Path::new("/apps/c1/root"), "start");
        assert_eq!(
            path,
            Path::new("/apps/c1/root").join(platform::script_name("start"))
        );
    }

    #[test]
    fn read_tail_keeps_only_what_came_after_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "old 1\nold 2\nnew 1\nnew 2\n").unwrap();
        assert_eq!(read_tail(&log, 12, 20), ["new 1", "new 2"]);
        assert_eq!(read_tail(&log, 12, 1), ["new 2"]);
        assert!(read_tail(&log, 24, 20).is_empty());
        assert!(
            read_tail(&log, 1000, 20).is_empty(),
            "a log shorter than the mark (truncated)"
        );
        assert!(read_tail(&dir.path().join("missing"), 0, 20).is_empty());
    }

    #[test]
    fn read_tail_reads_a_bounded_end_of_a_huge_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line number {i}\n"));
        }
        std::fs::write(&log, &text).unwrap();
        let tail = read_tail(&log, 0, 20);
        assert_eq!(tail.len(), 20);
        assert_eq!(tail[0], "line number 19980");
        assert_eq!(tail[19], "line number 19999");
        let most = read_tail(&log, 0, usize::MAX);
        assert!(most.len() < 20_000 && most.iter().all(|l| l.starts_with("line number ")));
    }

    #[test]
    fn read_tail_survives_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, b"ok\n\xff\xfe broken\n").unwrap();
        assert_eq!(read_tail(&log, 0, 20), ["ok", "\u{fffd}\u{fffd} broken"]);
    }

    #[test]
    fn outcome_success_means_exit_zero() {
        let outcome = |code| ScriptOutcome {
            pid: 1,
            code,
            timed_out: false,
            log_start: 0,
            log: PathBuf::new(),
            relay: logpipe::Relay::ended(),
        };
        assert!(outcome(Some(0)).success());
        assert!(!outcome(Some(1)).success());
        assert!(!outcome(None).success());
    }
}

/// Real scripts; Unix only because they are shell scripts.
#[cfg(all(test, unix))]
mod script_tests {
    use std::time::Instant;

    use nix::sys::signal::{self as nix_signal, Signal as NixSignal};
    use nix::unistd::{self, Pid};

    use super::*;
    use crate::container::process::testutil::Cleanup;
    use crate::container::process::{
        StopResult, read_pid_file, terminate_group, wait_for_exit, wait_for_pid_file,
    };

    struct App {
        dir: tempfile::TempDir,
    }

    impl App {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("root/var/run")).unwrap();
            Self { dir }
        }

        fn base(&self) -> PathBuf {
            self.dir.path().join("root")
        }

        fn log(&self) -> PathBuf {
            self.dir.path().join("logs/out.log")
        }

        fn script(&self, name: &str, body: &str) -> &Self {
            std::fs::write(script_path(&self.base(), name), body).unwrap();
            self
        }

        fn run(&self, name: &str, timeout: Duration) -> Option<ScriptOutcome> {
            let run = ScriptRun {
                app_base: self.base(),
                env: vec![("GREETING".to_owned(), "hello there".to_owned())],
                log: self.log(),
                timeout,
            };
            run_script(name, &run).unwrap()
        }

        fn log_text(&self) -> String {
            std::fs::read_to_string(self.log()).unwrap_or_default()
        }
    }

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn a_missing_script_is_none() {
        let app = App::new();
        assert!(app.run("status", LONG).is_none());
    }

    #[test]
    fn exit_codes_are_reported() {
        let app = App::new();
        app.script("status", "exit 3\n").script("start", "true\n");
        let status = app.run("status", LONG).unwrap();
        assert_eq!((status.code, status.timed_out), (Some(3), false));
        assert!(app.run("start", LONG).unwrap().success());
        app.script("stop", "kill -KILL $$\n");
        assert_eq!(app.run("stop", LONG).unwrap().code, Some(137));
    }

    #[test]
    fn output_is_appended_to_the_log_and_tailed() {
        let app = App::new();
        std::fs::create_dir_all(app.log().parent().unwrap()).unwrap();
        std::fs::write(app.log(), "from an earlier run\n").unwrap();
        app.script("start", "echo to stdout\necho to stderr >&2\nexit 1\n");
        let outcome = app.run("start", LONG).unwrap();
        assert_eq!(outcome.code, Some(1));
        assert_eq!(outcome.tail(), ["to stdout", "to stderr"]);
        assert_eq!(app.log_text(), "from an earlier run\nto stdout\nto stderr\n");
    }

    #[test]
    fn the_tail_is_the_last_twenty_lines() {
        let app = App::new();
        app.script("start", "for i in $(seq 1 30); do echo line $i; done\n");
        let tail = app.run("start", LONG).unwrap().tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!((tail[0].as_str(), tail[19].as_str()), ("line 11", "line 30"));
    }

    #[test]
    fn env_and_working_directory_are_set() {
        let app = App::new();
        app.script("start", "echo \"$GREETING\"\npwd -P\n");
        let tail = app.run("start", LONG).unwrap().tail();
        let base = app.base().canonicalize().unwrap();
        assert_eq!(tail, ["hello there".to_owned(), base.display().to_string()]);
    }

    #[test]
    fn stdin_is_empty() {
        let app = App::new();
        app.script(
            "start",
            "if read -r line; then echo got input; else echo no input; fi\n",
        );
        assert_eq!(app.run("start", LONG).unwrap().tail(), ["no input"]);
    }

    #[test]
    fn a_timed_out_script_is_killed_with_its_child() {
        let app = App::new();
        let mut cleanup = Cleanup::default();
        app.script(
            "stop",
            "sleep 300 & echo $! > var/run/child.pid\necho waiting\nwait\n",
        );
        let base = app.base();
        let (child_id, outcome) = std::thread::scope(|scope| {
            let run = scope.spawn(|| app.run("stop", Duration::from_millis(500)));
            let child = wait_for_pid_file(&base, Duration::from_secs(5)).unwrap();
            let child_id = ProcessId::capture(child).unwrap();
            cleanup.track_group(child);
            (child_id, run.join().unwrap().unwrap())
        });
        assert!(outcome.timed_out);
        assert_eq!(outcome.code, None);
        assert_eq!(outcome.tail(), ["waiting"]);
        assert!(
            wait_for_exit(&child_id, Duration::from_secs(5)),
            "the script's child is killed too"
        );
    }

    #[test]
    fn a_background_child_outlives_a_script_that_returns() {
        let app = App::new();
        let mut cleanup = Cleanup::default();
        app.script(
            "start",
            "nohup sleep 300 & echo $! > var/run/app.pid\necho started\n",
        );
        let started = Instant::now();
        let outcome = app.run("start", LONG).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(!outcome.timed_out);
        assert_eq!(outcome.code, Some(0));
        let app_pid = read_pid_file(&app.base()).unwrap();
        cleanup.track_group(app_pid);
        let app_id = ProcessId::capture(app_pid).unwrap();
        assert!(app_id.is_running());
        assert!(
            !wait_for_exit(&app_id, Duration::from_millis(100)),
            "it keeps running"
        );
    }

    #[test]
    fn spawn_detached_records_a_process_in_its_own_session() {
        let app = App::new();
        let mut cleanup = Cleanup::default();
        app.script("run", "echo hello from run\nexec sleep 300\n");
        let env = [("GREETING".to_owned(), "hi".to_owned())];

        let id = spawn_detached(&app.base(), "run", &[], &env, &app.log()).unwrap();
        cleanup.track_group(id.pid);

        assert_eq!(read_pid_file(&app.base()), Some(id.pid));
        assert_eq!(
            std::fs::read_to_string(app.base().join(PID_FILE)).unwrap(),
            format!("{}\n", id.pid)
        );
        assert!(id.is_running());
        let pid = Pid::from_raw(id.pid as i32);
        assert_eq!(unistd::getsid(Some(pid)).unwrap(), pid);
        assert_ne!(unistd::getsid(None).unwrap(), pid);
        let logged = process::poll_until(LONG, Duration::from_millis(25), || {
            app.log_text().contains("hello from run").then_some(())
        });
        assert!(logged.is_some(), "log: {}", app.log_text());
        assert_eq!(terminate_group(&id, LONG).unwrap(), StopResult::Terminated);
        assert!(wait_for_exit(&id, Duration::from_secs(5)));
    }

    #[test]
    fn spawn_detached_without_the_script_is_an_error() {
        let app = App::new();
        let err = spawn_detached(&app.base(), "run", &[], &[], &app.log()).unwrap_err();
        assert!(matches!(err, ProcessError::MissingScript { .. }), "{err}");
        assert!(err.to_string().contains("run.sh"), "{err}");
        assert!(!app.base().join(PID_FILE).exists());
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_an_error_naming_it() {
        let app = App::new();
        app.script("start", "true\n");
        let run = ScriptRun {
            app_base: app.base(),
            env: Vec::new(),
            log: app.base(),
            timeout: LONG,
        };
        let err = run_script("start", &run).unwrap_err();
        assert!(matches!(err, ProcessError::Log { .. }), "{err}");
        assert!(
            err.to_string().contains(&app.base().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn run_foreground_returns_the_exit_code() {
        let app = App::new();
        app.script(
            "run",
            "[ \"$GREETING\" = hi ] && [ -d var/run ] && exit 7\nexit 1\n",
        );
        let env = [("GREETING".to_owned(), "hi".to_owned())];
        assert_eq!(run_foreground(&app.base(), "run", &env, |_| {}).unwrap(), 7);
        app.script("run", "kill -TERM $$\n");
        assert_eq!(run_foreground(&app.base(), "run", &[], |_| {}).unwrap(), 143);
        let err = run_foreground(&app.base(), "missing", &[], |_| {}).unwrap_err();
        assert!(matches!(err, ProcessError::MissingScript { .. }), "{err}");
    }

    #[test]
    fn run_foreground_child_keeps_default_sigint() {
        // Had jube ignored SIGINT with SIG_IGN, the child would inherit that and survive.
        let app = App::new();
        app.script("run", "kill -INT $$\nexit 0\n");
        assert_eq!(run_foreground(&app.base(), "run", &[], |_| {}).unwrap(), 130);
    }

    /// Sends `sig` to this test process once the script has written `ready`.
    fn signal_self_when_ready(base: PathBuf, sig: NixSignal, then: impl FnOnce() + Send + 'static) {
        std::thread::spawn(move || {
            let ready = process::poll_until(LONG, Duration::from_millis(10), || {
                base.join("ready").exists().then_some(())
            });
            if ready.is_some() {
                nix_signal::kill(unistd::getpid(), sig).unwrap();
            }
            then();
        });
    }

    #[test]
    fn run_foreground_forwards_sigterm_to_the_child() {
        let app = App::new();
        // Bounded, so a missing forward fails the test instead of hanging it. `ready` is written
        // from inside a loop that forks nothing but `sleep`: with `for i in $(seq 500)` after it,
        // bash now and then ran the whole loop although jube's kill(2) of it had succeeded.
        app.script(
            "run",
            "trap 'exit 42' TERM\ni=0\nwhile [ $i -lt 500 ]; do\n  [ -e ready ] || : > ready\n  sleep 0.02\n  i=$((i + 1))\ndone\nexit 1\n",
        );
        signal_self_when_ready(app.base(), NixSignal::SIGTERM, || {});
        assert_eq!(run_foreground(&app.base(), "run", &[], |_| {}).unwrap(), 42);
    }

    #[test]
    fn run_foreground_ignores_sigint_meant_for_the_child() {
        let app = App::new();
        app.script(
            "run",
            "touch ready\nfor i in $(seq 500); do [ -e go ] && exit 5; sleep 0.02; done\nexit 1\n",
        );
        let go = app.base().join("go");
        signal_self_when_ready(app.base(), NixSignal::SIGINT, move || {
            std::fs::write(go, "").unwrap();
        });
        assert_eq!(run_foreground(&app.base(), "run", &[], |_| {}).unwrap(), 5);
    }
}
