//! Who writes a container's console log: the app's stdout and stderr are one pipe, and a small
//! relay, jube itself started as `jube __jube-log MAX_SIZE MAX_FILES CONSOLE_LOG`, copies it into
//! the log set (rotated, with time marks) until every process holding the pipe has closed it.
//!
//! The relay, not the app, owns the file, so it can rotate; it runs detached in a session of its
//! own, outlives the `jube start` that made it, and is no part of the container (stopping the app
//! leaves it to write the last lines and end at the pipe's end). The image's scripts are unchanged:
//! `./start.sh` by hand still writes wherever its caller's stdout goes.
//!
//! A program that did not register itself as the relay (the library's own tests) relays on a
//! thread instead.

use std::ffi::OsString;
use std::io::{PipeReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use crate::container::logset::{LogSet, LogWriter};
use crate::container::logsize::LogLimits;
use crate::container::platform;
use crate::container::process::ProcessError;

/// The hidden first argument that makes jube a console log's relay.
pub const RELAY_ARG: &str = "__jube-log";

static RELAY_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes this program (the `jube` binary) the relay of the logs it starts.
pub fn relay_with_this_program() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = RELAY_PROGRAM.set(exe);
    }
}

/// When jube was started as a relay, relays and returns the exit code; `None` for every other
/// command line.
pub fn relay_entry(args: &[OsString]) -> Option<i32> {
    if args.get(1).is_none_or(|a| a != RELAY_ARG) {
        return None;
    }
    let text: Vec<String> = args[2..]
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let [size, files, path] = text.as_slice() else {
        eprintln!("jube: {RELAY_ARG} takes MAX_SIZE MAX_FILES CONSOLE_LOG");
        return Some(2);
    };
    let limits = match LogLimits::from_values(Some(size), Some(files)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("jube: {e}");
            return Some(2);
        }
    };
    relay(std::io::stdin().lock(), &LogSet::new(path), limits);
    Some(0)
}

/// Copies `input` into the set until its end. A write that fails (a full disk) drops that chunk
/// and goes on reading: a relay that stopped reading would block the app on a full pipe.
fn relay(mut input: impl Read, set: &LogSet, limits: LogLimits) {
    let _registered = set.register_writer();
    let mut writer = LogWriter::new(set.clone(), limits);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let nanos = i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX);
        let _ = writer.write(&buf[..n], nanos);
    }
}

/// Tells when a relay has ended: every process holding its pipe closed it, and all it read is in
/// the log.
#[derive(Debug)]
pub struct Relay(mpsc::Receiver<()>);

impl Relay {
    /// Whether the relay ends within `most`.
    pub fn ended_within(&self, most: Duration) -> bool {
        matches!(
            self.0.recv_timeout(most),
            Err(mpsc::RecvTimeoutError::Disconnected) | Ok(())
        )
    }

    /// A relay that has already ended (an outcome with no output of its own).
    pub fn ended() -> Self {
        Self(mpsc::channel().1)
    }
}

/// The standard output and error for a process whose output belongs in `console` (created with
/// its folder), with the relay already reading. Reads `JUBE_LOG_MAX_SIZE`/`JUBE_LOG_MAX_FILES`.
pub fn open(console: &Path) -> Result<(Stdio, Stdio), ProcessError> {
    open_relay(console).map(|(stdout, stderr, _)| (stdout, stderr))
}

/// As [`open`], with the relay's end to wait for.
pub fn open_relay(console: &Path) -> Result<(Stdio, Stdio, Relay), ProcessError> {
    let limits = LogLimits::from_env()?;
    let failed = |source| ProcessError::Log {
        path: console.to_owned(),
        source,
    };
    let dir = console.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    // Opened here, not only by the relay, so a log that cannot be written is this command's error.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(console)
        .map_err(failed)?;
    let (reader, writer) = std::io::pipe().map_err(failed)?;
    let relay = start_relay(reader, console, dir, limits).map_err(failed)?;
    let stderr = writer.try_clone().map_err(failed)?;
    Ok((Stdio::from(writer), Stdio::from(stderr), relay))
}

fn start_relay(reader: PipeReader, console: &Path, dir: &Path, limits: LogLimits) -> std::io::Result<Relay> {
    let set = LogSet::new(console);
    // The sender is dropped when the relay ends, which is what [`Relay`] waits for.
    let (ended, relay_ended) = mpsc::channel::<()>();
    let Some(program) = RELAY_PROGRAM.get() else {
        std::thread::Builder::new()
            .name("log-relay".into())
            .spawn(move || {
                relay(reader, &set, limits);
                drop(ended);
            })?;
        return Ok(Relay(relay_ended));
    };
    let mut cmd = Command::new(program);
    cmd.arg(RELAY_ARG)
        .arg(limits.max_size.to_string())
        .arg(limits.max_files.to_string())
        .arg(console)
        .current_dir(dir)
        .stdin(reader)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    platform::detach(&mut cmd);
    let mut child = cmd.spawn()?;
    // Reaped when it ends, so a long-lived jube (the daemon) keeps no zombies.
    std::thread::Builder::new()
        .name("log-relay-reaper".into())
        .spawn(move || {
            let _ = child.wait();
            drop(ended);
        })?;
    Ok(Relay(relay_ended))
}

/// Waits (a second at most) until `console` stops growing: a script's last lines reach the log
/// through the relay a moment after the script ended, and an error message quotes them.
pub fn settle(console: &Path) {
    let size = || {
        LogSet::new(console)
            .files()
            .iter()
            .filter_map(|p| p.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let mut last = size();
    let mut still = 0;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = size();
        if now == last {
            still += 1;
            if still == 2 {
                return;
            }
        } else {
            still = 0;
            last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_copies_until_the_pipe_ends_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        let console = dir.path().join("logs/console.log");
        let set = LogSet::new(&console);
        let (reader, mut writer) = std::io::pipe().unwrap();
        let copier = {
            let set = set.clone();
            std::thread::spawn(move || {
                relay(
                    reader,
                    &set,
                    LogLimits {
                        max_size: 16,
                        max_files: 3,
                    },
                )
            })
        };
        use std::io::Write;
        for i in 0..10 {
            writeln!(writer, "line {i}").unwrap();
        }
        drop(writer);
        copier.join().unwrap();
        let text: String = set
            .read()
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .collect();
        assert!(text.ends_with("line 8\nline 9\n"), "{text}");
        assert!(set.files().len() <= 3);
    }

    #[test]
    fn only_the_hidden_argument_makes_a_relay() {
        assert_eq!(relay_entry(&["jube".into(), "logs".into()]), None);
        assert_eq!(relay_entry(&["jube".into(), RELAY_ARG.into()]), Some(2));
        assert_eq!(
            relay_entry(&[
                "jube".into(),
                RELAY_ARG.into(),
                "0".into(),
                "5".into(),
                "x".into()
            ]),
            Some(2)
        );
    }
}
