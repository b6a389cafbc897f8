//! exec over SPDY (`v4.channel.k8s.io`), as clients that do not speak the WebSocket protocol
//! (kubectl before 1.30, client-go's SPDY executor) run it: the client opens one stream per
//! channel, named by its `streamType` header (error, stdin, stdout, stderr, resize). The streams
//! are carried as the messages of the WebSocket protocol, so that one exec session serves both:
//! stdin data comes in as `[0, ...]` and its end as the close signal `[255, 0]`, resizes as
//! `[4, ...]`, and `[1|2|3, ...]` go out on the stdout, stderr and error streams, which all end
//! when the session drops its sender.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;

use super::session::{CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT};
use super::spdy::{Stream, StreamWriter, headers};
use super::transport::Channels;

/// How long the client gets to open the streams it asked for (the kubelet's default too).
const STREAMS_WITHIN: Duration = Duration::from_secs(30);

/// The stream types the client opens: the error stream, and one per flag of the request.
pub fn expected(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> Vec<&'static str> {
    let mut types = vec!["error"];
    for (wanted, name) in [
        (stdin, "stdin"),
        (stdout, "stdout"),
        (stderr && !tty, "stderr"),
        (tty, "resize"),
    ] {
        if wanted {
            types.push(name);
        }
    }
    types
}

/// Waits for the streams in `types`, then carries them as channel messages; `None` when the
/// client did not open them in time or went away first.
pub async fn channels(mut streams: mpsc::Receiver<Stream>, types: &[&str]) -> Option<Channels> {
    let mut opened: HashMap<String, Stream> = HashMap::new();
    let all_in = async {
        while opened.len() < types.len() {
            let stream = streams.recv().await?;
            let kind = headers::get(&stream.headers, "streamtype")
                .unwrap_or_default()
                .to_ascii_lowercase();
            if types.contains(&kind.as_str()) {
                opened.insert(kind, stream);
            } else {
                stream.writer.finish().await;
            }
        }
        Some(())
    };
    tokio::time::timeout(STREAMS_WITHIN, all_in).await.ok()??;

    let (in_tx, in_rx) = mpsc::channel::<Bytes>(64);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let error = opened.remove("error")?;
    // The session sees the client go when the connection ends.
    let mut gone = error.reset.clone();
    let watcher = in_tx.clone();
    tokio::spawn(async move {
        let _ = gone.wait_for(|g| *g).await;
        drop(watcher);
    });
    if let Some(stdin) = opened.remove("stdin") {
        tokio::spawn(relay_in(stdin, STDIN, in_tx.clone(), true));
    }
    if let Some(resize) = opened.remove("resize") {
        tokio::spawn(relay_in(resize, RESIZE, in_tx.clone(), false));
    }
    drop(in_tx);
    let writers = [
        Some(error.writer),
        opened.remove("stdout").map(|s| s.writer),
        opened.remove("stderr").map(|s| s.writer),
    ];
    tokio::spawn(relay_out(out_rx, writers));
    Some(Channels {
        inbound: in_rx,
        outbound: out_tx,
    })
}

/// One stream's data from the client as messages on `channel`, and (for stdin) its end as the
/// close signal.
async fn relay_in(mut stream: Stream, channel: u8, to: mpsc::Sender<Bytes>, close_at_end: bool) {
    while let Some(data) = stream.data.recv().await {
        if to.send(message(channel, &data)).await.is_err() {
            return;
        }
    }
    if close_at_end && !*stream.reset.borrow() {
        let _ = to.send(message(CLOSE, &[channel])).await;
    }
}

/// Messages of the session to the streams they name; at the session's end every stream ends.
async fn relay_out(mut messages: mpsc::Receiver<Bytes>, writers: [Option<StreamWriter>; 3]) {
    let [error, stdout, stderr] = writers;
    while let Some(mut message) = messages.recv().await {
        if message.is_empty() {
            continue;
        }
        let channel = message.split_to(1)[0];
        let writer = match channel {
            STDOUT => stdout.as_ref(),
            STDERR => stderr.as_ref(),
            ERROR => error.as_ref(),
            _ => None,
        };
        if let Some(w) = writer {
            w.send(message).await;
        }
    }
    for w in [stdout, stderr, error].into_iter().flatten() {
        w.finish().await;
    }
}

fn message(channel: u8, data: &[u8]) -> Bytes {
    let mut m = BytesMut::with_capacity(data.len() + 1);
    m.put_u8(channel);
    m.extend_from_slice(data);
    m.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streams_to_wait_for_follow_the_request() {
        assert_eq!(expected(false, true, true, false), ["error", "stdout", "stderr"]);
        // A terminal has one output, and a resize stream.
        assert_eq!(
            expected(true, true, true, true),
            ["error", "stdin", "stdout", "resize"]
        );
    }
}
