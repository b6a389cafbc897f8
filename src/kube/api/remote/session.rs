//! One exec session: the command runs with pipes or a terminal, and its ends travel as the
//! channel messages of the remote-command protocol. Every message starts with its channel: 0
//! stdin, 1 stdout, 2 stderr, 3 the outcome (a `Status`, with reason `NonZeroExitCode` and an
//! `ExitCode` cause when the command failed), 4 terminal resizes (`{"Width":W,"Height":H}`),
//! and 255 `[255, channel]` to close one (v5). Once the command has ended and its output is
//! out, the outcome is sent and the sender dropped, which closes the connection.

use std::process::Stdio;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use super::exec::ExecRequest;
use super::transport::Channels;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
pub const CLOSE: u8 = 255;

/// How long output may still come after the command ended (from processes it left behind that
/// hold its stdout) before the outcome is sent.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// The command's input and output ends this side holds.
enum Ends {
    Pipes {
        stdin: Option<ChildStdin>,
        stdout: Option<tokio::process::ChildStdout>,
        stderr: Option<tokio::process::ChildStderr>,
    },
    #[cfg(unix)]
    Terminal(std::sync::Arc<super::pty::Master>),
}

/// What the stdin task is told.
enum Input {
    Data(Bytes),
    /// Only a terminal has a size (and Windows gives exec none).
    #[cfg_attr(not(unix), allow(dead_code))]
    Resize(u16, u16),
}

pub async fn run(
    channels: Channels,
    exec: &ExecRequest,
    cmd: std::process::Command,
    v5: bool,
) -> std::io::Result<()> {
    let Channels {
        mut inbound,
        outbound,
    } = channels;
    // kubectl sends the terminal's size right after connecting: a command started before it
    // came would see 80x24 (`stty size`, a full-screen program's first screen). What comes
    // before it is kept and handled once the command runs.
    let mut early = Vec::new();
    let size = if exec.tty {
        match first_size(&mut inbound, &mut early).await {
            Some(size) => size,
            None => return Ok(()),
        }
    } else {
        DEFAULT_SIZE
    };
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let spawned = spawn(&mut cmd, exec, size);
    drop(cmd);
    let (mut child, ends) = match spawned {
        Ok(spawned) => spawned,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let message = format!(
                "cannot run {}: {e}; name a file in the container's folder (./status.sh) or a program on PATH\n",
                exec.command[0]
            );
            let channel = if exec.stderr { STDERR } else { STDOUT };
            send(&outbound, channel, message.as_bytes()).await;
            send(&outbound, ERROR, outcome(&exec.command, code).as_bytes()).await;
            return Ok(());
        }
    };

    let (input_tx, input_rx) = mpsc::channel::<Input>(64);
    let mut outputs = Vec::new();
    let input_task = match ends {
        Ends::Pipes {
            stdin,
            stdout,
            stderr,
        } => {
            if let Some(out) = stdout {
                outputs.push(tokio::spawn(copy_out(out, STDOUT, outbound.clone())));
            }
            if let Some(err) = stderr {
                outputs.push(tokio::spawn(copy_out(err, STDERR, outbound.clone())));
            }
            tokio::spawn(feed_pipe(stdin, input_rx))
        }
        #[cfg(unix)]
        Ends::Terminal(master) => {
            outputs.push(tokio::spawn(copy_terminal(master.clone(), outbound.clone())));
            tokio::spawn(feed_terminal(master, input_rx))
        }
    };

    let mut input = Some(input_tx);
    for message in early {
        dispatch(&message, &mut input, v5, exec.tty).await;
    }
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            message = inbound.recv() => match message {
                Some(message) => dispatch(&message, &mut input, v5, exec.tty).await,
                None => {
                    // The client went away: the command goes too, with what it started.
                    kill_group(&child);
                    let _ = child.start_kill();
                    input_task.abort();
                    for task in outputs {
                        task.abort();
                    }
                    let _ = child.wait().await;
                    return Ok(());
                }
            },
        }
    };
    drop(input);
    input_task.abort();
    for task in outputs {
        let abort = task.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, task).await.is_err() {
            abort.abort();
        }
    }
    let code = crate::container::platform::exit_code(status);
    send(&outbound, ERROR, outcome(&exec.command, code).as_bytes()).await;
    Ok(())
}

/// The terminal's size (columns, rows) when the client has not said one.
const DEFAULT_SIZE: (u16, u16) = (80, 24);
/// How long a terminal session waits for the client's first size.
const FIRST_SIZE_WAIT: Duration = Duration::from_secs(1);

/// The client's first terminal size, waiting [`FIRST_SIZE_WAIT`] at most (then the default);
/// other messages that come first go to `early`. `None` when the client went away.
async fn first_size(inbound: &mut mpsc::Receiver<Bytes>, early: &mut Vec<Bytes>) -> Option<(u16, u16)> {
    let deadline = tokio::time::Instant::now() + FIRST_SIZE_WAIT;
    loop {
        let message = match tokio::time::timeout_at(deadline, inbound.recv()).await {
            Err(_) => return Some(DEFAULT_SIZE),
            Ok(None) => return None,
            Ok(Some(message)) => message,
        };
        if let Some((&RESIZE, data)) = message.split_first()
            && let Some(size) = sizes(data).into_iter().last()
        {
            return Some(size);
        }
        early.push(message);
    }
}

/// The usable sizes in a resize message: a terminal that knows no size of its own says 0x0.
fn sizes(data: &[u8]) -> Vec<(u16, u16)> {
    serde_json::Deserializer::from_slice(data)
        .into_iter::<TerminalSize>()
        .map_while(Result::ok)
        .filter(|s| s.width > 0 && s.height > 0)
        .map(|s| (s.width, s.height))
        .collect()
}

fn spawn(
    cmd: &mut tokio::process::Command,
    exec: &ExecRequest,
    size: (u16, u16),
) -> std::io::Result<(Child, Ends)> {
    #[cfg(unix)]
    if exec.tty {
        let master = super::pty::attach(cmd, size.0, size.1)?;
        let child = cmd.spawn()?;
        return Ok((child, Ends::Terminal(std::sync::Arc::new(master))));
    }
    // A group of its own, which a client that goes away takes down whole.
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(not(unix))]
    let _ = size; // Windows gives exec no terminal.
    let piped = |wanted: bool| if wanted { Stdio::piped() } else { Stdio::null() };
    cmd.stdin(piped(exec.stdin))
        .stdout(piped(exec.stdout))
        .stderr(piped(exec.stderr));
    let mut child = cmd.spawn()?;
    let ends = Ends::Pipes {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
    };
    Ok((child, ends))
}

/// Kills the command's process group (its session, with a terminal). The child is not reaped
/// yet while it has an id, so the group id is still its own.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let group = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// One message from the client: stdin data, a resize, or (v5) a stream closed.
async fn dispatch(message: &[u8], input: &mut Option<mpsc::Sender<Input>>, v5: bool, tty: bool) {
    let Some((&channel, data)) = message.split_first() else {
        return;
    };
    match channel {
        STDIN if !data.is_empty() => {
            if let Some(tx) = input {
                let _ = tx.send(Input::Data(Bytes::copy_from_slice(data))).await;
            }
        }
        RESIZE if tty => {
            for (width, height) in sizes(data) {
                if let Some(tx) = input {
                    let _ = tx.send(Input::Resize(width, height)).await;
                }
            }
        }
        // Closing stdin ends the command's input, as a pipe's end or Ctrl-D on a terminal.
        CLOSE if v5 && data.first() == Some(&STDIN) => *input = None,
        _ => {}
    }
}

#[derive(serde::Deserialize)]
struct TerminalSize {
    #[serde(rename = "Width")]
    width: u16,
    #[serde(rename = "Height")]
    height: u16,
}

async fn feed_pipe(mut stdin: Option<ChildStdin>, mut input: mpsc::Receiver<Input>) {
    while let Some(item) = input.recv().await {
        if let (Input::Data(data), Some(pipe)) = (item, stdin.as_mut())
            && (pipe.write_all(&data).await.is_err() || pipe.flush().await.is_err())
        {
            stdin = None;
        }
    }
    // Dropping the pipe closes it: the command reads end of input.
}

#[cfg(unix)]
async fn feed_terminal(master: std::sync::Arc<super::pty::Master>, mut input: mpsc::Receiver<Input>) {
    while let Some(item) = input.recv().await {
        match item {
            Input::Data(data) => {
                if master.write_all(&data).await.is_err() {
                    return;
                }
            }
            Input::Resize(cols, rows) => {
                let _ = master.resize(cols, rows);
            }
        }
    }
    // A terminal has no end of input of its own: the end-of-file character (Ctrl-D) says it.
    let _ = master.write_all(&[0x04]).await;
}

async fn copy_out(mut from: impl AsyncRead + Unpin, channel: u8, out: mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = from.read(&mut buf).await
        && n > 0
    {
        if !send(&out, channel, &buf[..n]).await {
            return;
        }
    }
}

#[cfg(unix)]
async fn copy_terminal(master: std::sync::Arc<super::pty::Master>, out: mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = master.read(&mut buf).await
        && n > 0
    {
        if !send(&out, STDOUT, &buf[..n]).await {
            return;
        }
    }
}

/// Sends `data` on `channel`; false once the client is gone.
async fn send(out: &mpsc::Sender<Bytes>, channel: u8, data: &[u8]) -> bool {
    let mut message = BytesMut::with_capacity(data.len() + 1);
    message.put_u8(channel);
    message.extend_from_slice(data);
    out.send(message.freeze()).await.is_ok()
}

/// The `Status` kubectl reads on the error channel: success, or the exit code as the kubelet
/// reports it.
fn outcome(command: &[String], code: i32) -> String {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"}).to_string();
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: u8, data: &[u8]) -> Bytes {
        let mut m = vec![channel];
        m.extend_from_slice(data);
        Bytes::from(m)
    }

    #[tokio::test]
    async fn a_terminal_waits_for_the_clients_first_size_and_keeps_what_came_before() {
        let (tx, mut rx) = mpsc::channel(8);
        tx.send(message(STDIN, b"ls\n")).await.unwrap();
        tx.send(message(RESIZE, br#"{"Width":0,"Height":0}"#))
            .await
            .unwrap();
        tx.send(message(RESIZE, br#"{"Width":123,"Height":45}"#))
            .await
            .unwrap();
        tx.send(message(STDIN, b"later")).await.unwrap();
        let mut early = Vec::new();
        assert_eq!(first_size(&mut rx, &mut early).await, Some((123, 45)));
        assert_eq!(
            early,
            [
                message(STDIN, b"ls\n"),
                message(RESIZE, br#"{"Width":0,"Height":0}"#)
            ]
        );
        // The rest stays for the session.
        assert_eq!(rx.recv().await, Some(message(STDIN, b"later")));
    }

    #[tokio::test]
    async fn without_a_size_the_default_comes_after_the_wait_and_a_gone_client_ends_it() {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let mut early = Vec::new();
        assert_eq!(first_size(&mut rx, &mut early).await, Some(DEFAULT_SIZE));
        drop(tx);
        assert_eq!(first_size(&mut rx, &mut early).await, None);
    }

    #[test]
    fn the_outcome_carries_the_exit_code_as_the_kubelet_does() {
        let failed: serde_json::Value =
            serde_json::from_str(&outcome(&["sh".into(), "-c".into()], 3)).unwrap();
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        let ok: serde_json::Value = serde_json::from_str(&outcome(&[], 0)).unwrap();
        assert_eq!(ok["status"], "Success");
    }
}
