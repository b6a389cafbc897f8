//! The integration-test harness: a sealed-off environment per test ([`TestEnv`]), a builder that
//! runs the real `jube` binary in it ([`Cmd`]), and the captured result ([`Out`]).
//!
//! ```ignore
//! let env = TestEnv::new();
//! let id = env.create_container("fabric8/java:1.0");
//! env.jube().args(["status", &id]).code(3);
//! ```
#![allow(dead_code)] // a library for every test module; each uses a different part

pub mod fixtures;
pub mod repo_server;

#[allow(unused_imports)] // for the test modules
pub use fixtures::{Kind, ZipEntry};
#[allow(unused_imports)]
pub use repo_server::{Fault, RepoServer};

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jube::env_vars::EnvVars;

/// Not in `EnvVars` yet; `off` keeps jube from ever reaching the internet.
const JUBE_MAVEN_CENTRAL: &str = "JUBE_MAVEN_CENTRAL";
const PROXY_VARS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"];
/// Set to keep every test's temp folder (its path is printed) for a look after the run.
const KEEP_TEMP_VAR: &str = "JUBE_IT_KEEP_TEMP";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a finished process's stdout/stderr may stay open: longer means a background child
/// inherited them, which would make every caller of the command hang.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// Ports per [`TestEnv`], and the window they come from: below Linux's ephemeral range (32768+),
/// so outgoing connections and `free_port()` never take them.
const PORTS_PER_ENV: u16 = 40;
const PORT_WINDOW_START: u16 = 10_000;
const PORT_BLOCKS: u32 = 550;

/// A fresh world for one test: temp folders for jube's home, the Maven local repository, the user's
/// home and settings, a private port range, and extra variables for every command it runs.
pub struct TestEnv {
    root: tempfile::TempDir,
    home: PathBuf,
    local_repo: PathBuf,
    user_home: PathBuf,
    settings: PathBuf,
    ports: (u16, u16),
    extra_env: Vec<(OsString, OsString)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let keep = std::env::var_os(KEEP_TEMP_VAR).is_some();
        let mut root = tempfile::Builder::new()
            .prefix("jube-it-")
            .tempdir()
            .expect("create the test's temp folder");
        if keep {
            root.disable_cleanup(true);
            eprintln!("{KEEP_TEMP_VAR}: keeping {}", root.path().display());
        }
        let base = root.path().to_path_buf();
        let user_home = base.join("home");
        std::fs::create_dir_all(&user_home).expect("create the fake user home");
        Self {
            home: base.join("jube-home"),
            local_repo: base.join("m2").join("repository"),
            settings: base.join("settings.xml"),
            user_home,
            root,
            ports: next_port_range(),
            // Service names go to a hosts file of the test's own unless a test asks for the
            // system's: a test that dies never leaves lines in /etc/hosts.
            extra_env: vec![("JUBE_HOSTS_FILE".into(), base.join("hosts").into_os_string())],
        }
    }

    /// The temp folder everything else lives in; also the default working directory of commands.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `JUBE_HOME` (not created: jube creates it).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `JUBE_LOCAL_REPO` (not created).
    pub fn local_repo(&self) -> &Path {
        &self.local_repo
    }

    /// `HOME` and `USERPROFILE` (created, empty).
    pub fn user_home(&self) -> &Path {
        &self.user_home
    }

    /// `JUBE_PORT_START..=JUBE_PORT_END`, 40 ports no other `TestEnv` of this process has.
    pub fn port_range(&self) -> (u16, u16) {
        self.ports
    }

    /// Adds (or replaces) a variable for every command of this env.
    pub fn set_env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) {
        let key = key.as_ref().to_os_string();
        self.extra_env.retain(|(k, _)| *k != key);
        self.extra_env.push((key, value.as_ref().to_os_string()));
    }

    /// Writes `settings.xml`, which `JUBE_MAVEN_SETTINGS` always points at, and returns its path.
    pub fn write_settings(&self, xml: &str) -> PathBuf {
        std::fs::write(&self.settings, xml).expect("write settings.xml");
        self.settings.clone()
    }

    /// The real `jube` binary, in this env.
    pub fn jube(&self) -> Cmd {
        self.command(env!("CARGO_BIN_EXE_jube"))
    }

    /// `jube create IMAGE`, which must succeed; returns the container ID it printed.
    #[track_caller]
    pub fn create_container(&self, image: &str) -> String {
        self.jube()
            .args(["create", image])
            .success()
            .last_line()
            .to_owned()
    }

    /// What `jube logs CONTAINER` prints; the command must succeed.
    #[track_caller]
    pub fn logs(&self, container: &str) -> String {
        self.jube().args(["logs", container]).success().stdout
    }

    /// Any program (sh, curl, mvn) with this env's variables and working directory.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Cmd {
        let mut command = Command::new(program);
        self.apply_env(&mut command);
        command.current_dir(self.root());
        let shown_env = self.extra_env.clone();
        Cmd {
            command,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            shown_env,
        }
    }

    /// Seals `command` off from the caller's environment: drops every jube and proxy variable, then
    /// points jube at this env's folders and ports, and adds the env's extra variables.
    pub fn apply_env(&self, command: &mut Command) {
        for name in EnvVars::ALL_JUBE.iter().copied().chain([JUBE_MAVEN_CENTRAL]) {
            command.env_remove(name);
        }
        // Also whatever JUBE_* variable EnvVars does not know yet, inherited or set on `command`.
        let inherited = std::env::vars_os().map(|(name, _)| name);
        let preset: Vec<OsString> = command.get_envs().map(|(name, _)| name.to_os_string()).collect();
        for name in inherited.chain(preset) {
            if name.to_string_lossy().starts_with("JUBE_") {
                command.env_remove(&name);
            }
        }
        for name in PROXY_VARS {
            command.env_remove(name);
            command.env_remove(name.to_lowercase());
        }
        let (port_start, port_end) = self.ports;
        command
            .env(EnvVars::JUBE_HOME, &self.home)
            .env(EnvVars::JUBE_LOCAL_REPO, &self.local_repo)
            .env(EnvVars::JUBE_PORT_START, port_start.to_string())
            .env(EnvVars::JUBE_PORT_END, port_end.to_string())
            .env(EnvVars::JUBE_MAVEN_SETTINGS, &self.settings)
            .env(JUBE_MAVEN_CENTRAL, "off")
            .env(EnvVars::JUBE_TEST_NO_RETRY_DELAY, "1")
            .env(EnvVars::NO_COLOR, "1")
            .env("HOME", &self.user_home)
            .env("USERPROFILE", &self.user_home);
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
    }
}

impl Drop for TestEnv {
    /// A failed test may leave the apps it started running; end every process working inside
    /// this env's folders, so that nothing outlives the test.
    fn drop(&mut self) {
        kill_processes_under(self.root());
    }
}

/// A command about to run, built step by step; the assertions print everything needed to see
/// what went wrong.
pub struct Cmd {
    command: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    /// Variables worth showing in a failure message (not the ones every command gets).
    shown_env: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(&key, &value);
        self.shown_env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(&key);
        self.shown_env.retain(|(k, _)| k.as_os_str() != key.as_ref());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Bytes fed to the command's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// How long the command may run before it is killed and the test fails. Default 60 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs to completion and returns what happened, asserting nothing.
    #[track_caller]
    pub fn output(self) -> Out {
        let timeout = self.timeout;
        let mut running = self.start();
        running.wait(timeout)
    }

    /// Runs and asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Out {
        self.output().assert_success()
    }

    /// Runs and asserts a non-zero exit code.
    #[track_caller]
    pub fn failure(self) -> Out {
        self.output().assert_failure()
    }

    /// Runs and asserts exactly this exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Out {
        self.output().assert_code(code)
    }

    /// Starts a long-running command (a daemon, `jube run`); it is killed when the `Child` drops.
    #[track_caller]
    pub fn spawn(self) -> Child {
        let timeout = self.timeout;
        Child {
            running: Some(self.start()),
            timeout,
        }
    }

    #[track_caller]
    fn start(mut self) -> Running {
        let description = self.describe();
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            // Its own process group, so a timeout can kill whatever it started along with it.
            std::os::unix::process::CommandExt::process_group(&mut self.command, 0);
            restore_interrupt_signals(&mut self.command);
        }
        let mut child = match self.command.spawn() {
            Ok(child) => child,
            Err(e) => panic!("cannot start {description}: {e}"),
        };
        if let (Some(bytes), Some(mut pipe)) = (self.stdin.take(), child.stdin.take()) {
            // A command that exits without reading its stdin is not an error of the harness.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = mpsc::channel();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|p| read_pipe(p, stdout.clone(), done_tx.clone())),
            child.stderr.take().map(|p| read_pipe(p, stderr.clone(), done_tx)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let open_pipes = readers.len();
        Running {
            child,
            description,
            stdout,
            stderr,
            readers,
            readers_done: done_rx,
            open_pipes,
            status: None,
        }
    }

    fn describe(&self) -> String {
        let mut text = String::new();
        for (key, value) in &self.shown_env {
            text += &format!("{}={} ", key.to_string_lossy(), shell_quote(value));
        }
        text += &shell_quote(self.command.get_program());
        for arg in self.command.get_args() {
            text.push(' ');
            text += &shell_quote(arg);
        }
        if let Some(dir) = self.command.get_current_dir() {
            text += &format!("\n  (in {})", dir.display());
        }
        text
    }
}

/// A command that is running: its process and the threads collecting its output.
struct Running {
    child: std::process::Child,
    description: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    /// One message per reader that reached the end of its pipe.
    readers_done: mpsc::Receiver<()>,
    open_pipes: usize,
    status: Option<ExitStatus>,
}

impl Running {
    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("poll the child process");
        }
        self.status
    }

    /// Waits for the exit and the end of both output streams, failing the test on timeout.
    #[track_caller]
    fn wait(&mut self, timeout: Duration) -> Out {
        let deadline = Instant::now() + timeout;
        loop {
            if self.try_status().is_some() {
                break;
            }
            if Instant::now() >= deadline {
                self.kill_group();
                let out = self.collect(PIPE_GRACE);
                panic!("timed out after {timeout:?}, killed it\n{out}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = self.collect(PIPE_GRACE);
        if out.pipes_open {
            panic!(
                "the command exited but its stdout/stderr stayed open for {PIPE_GRACE:?}: a \
                 process it started in the background inherited them\n{out}"
            );
        }
        out
    }

    /// What the command wrote, waiting up to `grace` for its pipes to close.
    fn collect(&mut self, grace: Duration) -> Out {
        let deadline = Instant::now() + grace;
        while self.open_pipes > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.readers_done.recv_timeout(left).is_err() {
                break;
            }
            self.open_pipes -= 1;
        }
        if self.open_pipes == 0 {
            for reader in self.readers.drain(..) {
                let _ = reader.join();
            }
        }
        let pipes_open = self.open_pipes > 0;
        let status = self.status;
        Out {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(signal_of),
            stdout: text_of(&self.stdout),
            stderr: text_of(&self.stderr),
            command: self.description.clone(),
            pipes_open,
        }
    }

    fn kill_group(&mut self) {
        #[cfg(unix)]
        {
            let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
    }
}

fn read_pipe(
    mut pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Sender<()>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => lock(&sink).extend_from_slice(&buf[..n]),
            }
        }
        let _ = done.send(());
    })
}

/// A long-running command started by [`Cmd::spawn`]. Dropping it kills its process group.
pub struct Child {
    running: Option<Running>,
    timeout: Duration,
}

impl Child {
    fn running(&self) -> &Running {
        self.running
            .as_ref()
            .expect("the child is only taken by wait/kill, which consume it")
    }

    fn running_mut(&mut self) -> &mut Running {
        self.running
            .as_mut()
            .expect("the child is only taken by wait/kill, which consume it")
    }

    pub fn id(&self) -> u32 {
        self.running().child.id()
    }

    /// Everything written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        text_of(&self.running().stdout)
    }

    /// Everything written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        text_of(&self.running().stderr)
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.running_mut().try_status().is_none()
    }

    /// Waits until stdout contains `needle` (e.g. "listening on"); fails if the process exits first.
    #[track_caller]
    pub fn wait_for_stdout(&mut self, needle: &str, timeout: Duration) -> &mut Self {
        self.wait_for_output(needle, timeout, |c| c.stdout_so_far())
    }

    /// Waits until stderr contains `needle`; fails if the process exits first.
    #[track_caller]
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) -> &mut Self {
        self.wait_for_output(needle, timeout, |c| c.stderr_so_far())
    }

    #[track_caller]
    fn wait_for_output(&mut self, needle: &str, timeout: Duration, read: fn(&Child) -> String) -> &mut Self {
        let deadline = Instant::now() + timeout;
        loop {
            if read(self).contains(needle) {
                return self;
            }
            let exited = !self.is_running();
            if exited || Instant::now() >= deadline {
                let why = if exited { "the process exited" } else { "timed out" };
                let out = self.running_mut().collect(Duration::from_millis(200));
                panic!("waiting for {needle:?} in its output: {why}\n{out}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal to the process (not its group).
    #[cfg(unix)]
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal the child");
    }

    /// Sends a signal to the process group, as a terminal does for Ctrl-C.
    #[cfg(unix)]
    pub fn signal_group(&self, signal: nix::sys::signal::Signal) {
        let pgid = nix::unistd::Pid::from_raw(self.id() as i32);
        nix::sys::signal::killpg(pgid, signal).expect("signal the child's process group");
    }

    /// Waits for the exit (within the command's timeout) and returns its output.
    #[track_caller]
    pub fn wait(mut self) -> Out {
        let timeout = self.timeout;
        let mut running = self.running.take().expect("a child is waited for once");
        running.wait(timeout)
    }

    /// Kills the process group and returns what it wrote.
    pub fn kill(mut self) -> Out {
        let mut running = self.running.take().expect("a child is killed once");
        running.kill_group();
        running.collect(PIPE_GRACE)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(running) = self.running.as_mut()
            && running.try_status().is_none()
        {
            running.kill_group();
        }
    }
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Out {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    pub command: String,
    /// Whether stdout/stderr were still open when output was collected.
    pub pipes_open: bool,
}

impl Out {
    #[track_caller]
    pub fn assert_success(self) -> Self {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn assert_failure(self) -> Self {
        match self.code {
            Some(code) if code != 0 => self,
            _ => panic!("expected a non-zero exit code\n{self}"),
        }
    }

    #[track_caller]
    pub fn assert_code(self, code: i32) -> Self {
        if self.code != Some(code) {
            panic!("expected exit code {code}\n{self}");
        }
        self
    }

    /// The last non-empty line of stdout, trimmed: what a command that creates something prints.
    #[track_caller]
    pub fn last_line(&self) -> &str {
        match self.stdout.lines().map(str::trim).rfind(|l| !l.is_empty()) {
            Some(line) => line,
            None => panic!("expected a line on stdout\n{self}"),
        }
    }

    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            panic!("expected stdout to contain {needle:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            panic!("expected stderr to contain {needle:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Self {
        if self.stdout.contains(needle) {
            panic!("expected stdout not to contain {needle:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Self {
        if self.stderr.contains(needle) {
            panic!("expected stderr not to contain {needle:?}\n{self}");
        }
        self
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        match (self.code, self.signal) {
            (Some(code), _) => writeln!(f, "exit code: {code}")?,
            (None, Some(signal)) => writeln!(f, "killed by signal {signal}")?,
            (None, None) => writeln!(f, "exit: unknown")?,
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}\n---", self.stderr.trim_end())
    }
}

/// Whether a test must be skipped because something it drives is missing. Outside CI it says so
/// and skips; under `CI=true` a missing tool fails the test, so CI never passes a test it did not
/// run (`scripts/setup` installs everything the suite drives).
#[track_caller]
pub fn missing(available: bool, what: &str) -> bool {
    if available {
        return false;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing, and CI=true: run scripts/setup, which installs it");
    }
    eprintln!("skipped: {what} is missing (scripts/setup installs it)");
    true
}

/// Whether `tool` runs here (`tool --version` or the given arguments exit 0).
pub fn runs(tool: &str, args: &[&str]) -> bool {
    std::process::Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Polls `f` every 20 ms until it returns true; panics naming `what` after `timeout`. For waiting
/// on real processes and files, never for claims about timing.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port free on 127.0.0.1 right now (the OS picks it; another process may take it later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The next block of ports: consecutive within this process, starting at an offset derived from
/// the pid and clock so that test processes running side by side pick different blocks.
fn next_port_range() -> (u16, u16) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static OFFSET: OnceLock<u32> = OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        std::process::id().wrapping_mul(2_654_435_761) ^ nanos
    });
    let block = offset.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % PORT_BLOCKS;
    let start = PORT_WINDOW_START + block as u16 * PORTS_PER_ENV;
    (start, start + PORTS_PER_ENV - 1)
}

/// Kills (SIGKILL) every process whose working directory is inside `root`. Linux only (it reads
/// /proc); elsewhere a no-op.
fn kill_processes_under(root: &Path) {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let me = std::process::id();
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let inside = std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(root));
            if pid != me && inside {
                let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                eprintln!("TestEnv: killing leftover process {pid} ({})", name.trim());
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = root;
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the output of the others.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn text_of(bytes: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&lock(bytes)).into_owned()
}

/// A test run in the background of a non-interactive shell inherits SIGINT and SIGQUIT ignored, and
/// would pass that on; commands get them back at their defaults, as from a terminal, so that
/// Ctrl-C tests mean the same everywhere.
#[cfg(unix)]
fn restore_interrupt_signals(command: &mut Command) {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls are
    // allowed; it makes only sigaction calls and allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || {
            for sig in [Signal::SIGINT, Signal::SIGQUIT] {
                signal(sig, SigHandler::SigDfl).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal_of(_status: ExitStatus) -> Option<i32> {
    None
}

fn shell_quote(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
